package shell

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/magnetar-sql/magnetar/sql"
)

// errorWindowWidth is how much of a long source line an error shows: a
// window around the caret, so the caret line stays on one terminal line.
const errorWindowWidth = 100

// errorWindow cuts src to about width cells around byte column col
// (1-based), marking cut ends with …, and returns the window and the
// caret's byte column in it. Lines that fit are returned as they are.
func errorWindow(src string, col, width int) (string, int) {
	if displayWidth(src) <= width {
		return src, col
	}
	pos := min(max(col-1, 0), len(src))
	for pos > 0 && pos < len(src) && !utf8.RuneStart(src[pos]) {
		pos--
	}
	cells := func(r rune) int {
		if r == '\t' {
			return 8 // at most; the window only needs to stay short
		}
		return runeWidth(r)
	}
	// Up to 60% of the window before the caret, the rest after; what the
	// line's end leaves unused goes before.
	start, end, used := pos, pos, 0
	for start > 0 {
		r, size := utf8.DecodeLastRuneInString(src[:start])
		if used+cells(r) > width*3/5 {
			break
		}
		used += cells(r)
		start -= size
	}
	for end < len(src) {
		r, size := utf8.DecodeRuneInString(src[end:])
		if used+cells(r) > width {
			break
		}
		used += cells(r)
		end += size
	}
	for start > 0 {
		r, size := utf8.DecodeLastRuneInString(src[:start])
		if used+cells(r) > width {
			break
		}
		used += cells(r)
		start -= size
	}
	prefix, suffix := "", ""
	if start > 0 {
		prefix = "…"
	}
	if end < len(src) {
		suffix = "…"
	}
	return prefix + src[start:end] + suffix, pos - start + len(prefix) + 1
}

var unknownTableRE = regexp.MustCompile(`^unknown table "([^"]+)"$`)

// tableHint suggests a table for an "unknown table" error that came
// without a hint: the closest name in the table's database, if close
// enough to be a typo.
func (s *Shell) tableHint(se *sql.Error) string {
	m := unknownTableRE.FindStringSubmatch(se.Msg)
	if m == nil || s.cfg.Catalog == nil {
		return ""
	}
	db, name := s.sess.Database(), m[1]
	if i := strings.LastIndex(name, "."); i > 0 {
		db, name = name[:i], name[i+1:]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	tables, err := s.cfg.Catalog.Tables(ctx, db)
	if err != nil {
		return ""
	}
	if best := closest(name, tables); best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	return ""
}

// closest returns the candidate nearest to name by edit distance (case
// ignored), if it is within a third of name's length (1 to 3 edits).
func closest(name string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(name), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	limit := min(max(utf8.RuneCountInString(name)/3, 1), 3)
	if bestD > limit {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
