// Package sql parses Magnetar's SQL (the MySQL dialect, read by the TiDB
// parser) into statements that remember where they came from, and reports
// errors with line and column.
package sql

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	// The test driver supplies literal value types; without it parser.New panics.
	// It is part of the parser module and pulls in nothing of TiDB proper.
	_ "github.com/pingcap/tidb/pkg/parser/test_driver"
)

// Statement is one parsed statement and its source text.
type Statement struct {
	Node ast.StmtNode
	// Text is the statement's own text, trimmed.
	Text string
	// Line and Column (1-based) locate Text in the script it came from.
	Line, Column int
}

// Error is a syntax or semantic error located in the SQL text.
type Error struct {
	Msg string
	// Line and Column are 1-based; 0 when unknown.
	Line, Column int
	// Near is the text at the error, if known.
	Near string
	// Hint is an optional suggestion ("did you mean ...").
	Hint string
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d column %d: ", e.Line, e.Column)
	}
	b.WriteString(e.Msg)
	if e.Near != "" {
		fmt.Fprintf(&b, " near %q", e.Near)
	}
	if e.Hint != "" {
		b.WriteString(" (" + e.Hint + ")")
	}
	return b.String()
}

// A Parser holds scratch state, so they are pooled, one per goroutine at a time.
var pool = sync.Pool{New: func() any { return parser.New() }}

var sessionCallRE = regexp.MustCompile(`(?i)\bsession\s*\(`)

var posRE = regexp.MustCompile(`line (\d+) column (\d+) near "((?s).*?)"\s*$`)

// Parse parses a script of one or more ';'-separated statements.
func Parse(text string) ([]Statement, error) {
	p := pool.Get().(*parser.Parser)
	defer pool.Put(p)
	nodes, _, err := p.Parse(text, "", "")
	if err != nil && sessionCallRE.MatchString(text) {
		// SESSION is a keyword to the TiDB parser, so the session window
		// SESSION(ts, '30 SECONDS') needs quoting; do it for the user.
		quoted := sessionCallRE.ReplaceAllString(text, "`SESSION`(")
		if n2, _, err2 := p.Parse(quoted, "", ""); err2 == nil {
			nodes, err, text = n2, nil, quoted
		}
	}
	if err != nil {
		return nil, syntaxError(text, err)
	}
	out := make([]Statement, 0, len(nodes))
	off := 0
	for _, n := range nodes {
		st := strings.TrimSpace(n.Text())
		st = strings.TrimSpace(strings.TrimSuffix(st, ";"))
		idx := strings.Index(text[off:], st)
		pos := off
		if idx >= 0 {
			pos = off + idx
			off = pos + len(st)
		}
		line, col := LineCol(text, pos)
		out = append(out, Statement{Node: n, Text: st, Line: line, Column: col})
	}
	return out, nil
}

// syntaxError turns the parser's message into an *Error. The parser points
// at the end of the offending token; we move the column to its start so a
// caret lands under it.
func syntaxError(text string, err error) error {
	msg := err.Error()
	m := posRE.FindStringSubmatch(msg)
	if m == nil {
		return &Error{Msg: "syntax error: " + msg}
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	near := m[3]
	tok := near
	if i := strings.IndexAny(tok, " \t\r\n"); i >= 0 {
		tok = tok[:i]
	}
	// The parser's column is the end of the first token of near, counted
	// from 1 on the first line but one further on later lines (it counts
	// the newline); normalise to the token's first column.
	end := col
	if line > 1 {
		end = col - 1
	}
	if near == "" {
		return &Error{Msg: "syntax error: unexpected end of statement", Line: line, Column: end + 1}
	}
	start := end - len(tok) + 1
	if start < 1 {
		start = 1
	}
	if len(near) > 40 {
		near = near[:40] + "…"
	}
	return &Error{Msg: "syntax error", Line: line, Column: start, Near: near}
}

// LineCol converts a byte offset in text to a 1-based line and column.
func LineCol(text string, off int) (line, col int) {
	if off > len(text) {
		off = len(text)
	}
	line = 1 + strings.Count(text[:off], "\n")
	col = off - strings.LastIndex(text[:off], "\n")
	return line, col
}

// Locate finds the first whole-word occurrence of ident in a statement's text
// (case-insensitively, ignoring quoted strings only roughly) and returns its
// line and column relative to the statement, for errors the AST cannot place
// because TiDB's expression nodes carry no positions.
func Locate(text, ident string) (line, col int, ok bool) {
	if ident == "" {
		return 0, 0, false
	}
	lt, li := strings.ToLower(text), strings.ToLower(ident)
	from := 0
	for {
		i := strings.Index(lt[from:], li)
		if i < 0 {
			return 0, 0, false
		}
		i += from
		end := i + len(li)
		if (i == 0 || !isIdentByte(lt[i-1])) && (end >= len(lt) || !isIdentByte(lt[end])) {
			l, c := LineCol(text, i)
			return l, c, true
		}
		from = i + 1
	}
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Errorf builds an *Error located at ident's first occurrence in stmt (if
// found), shifted by the statement's own position in its script.
func Errorf(stmt *Statement, ident string, format string, args ...any) *Error {
	e := &Error{Msg: fmt.Sprintf(format, args...)}
	if stmt != nil {
		if l, c, ok := Locate(stmt.Text, ident); ok {
			e.Line = stmt.Line + l - 1
			if l == 1 {
				e.Column = stmt.Column + c - 1
			} else {
				e.Column = c
			}
		}
	}
	return e
}
