package planner

import (
	"fmt"
	"strings"

	"github.com/magnetar-sql/magnetar/sql"
)

// The TiDB AST has no positions for expressions, so errors locate the
// offending identifier in the statement text. To point at the right
// occurrence, the binder remembers where the clause it is binding starts
// (from) and searches from there first.

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// find returns the offset of the first whole-word, case-insensitive
// occurrence of ident in the statement text at or after from.
func (b *Binder) find(ident string, from int) (int, bool) {
	if b.Stmt == nil || ident == "" {
		return 0, false
	}
	text := b.Stmt.Text
	if from < 0 || from > len(text) {
		from = 0
	}
	if b.lower == "" || len(b.lower) != len(text) {
		b.lower = strings.ToLower(text)
	}
	lt, li := b.lower, strings.ToLower(ident)
	if len(lt) != len(text) {
		// Lower-casing changed byte lengths (rare Unicode): offsets
		// would not map back, so search the original text.
		lt = text
	}
	for {
		i := strings.Index(lt[from:], li)
		if i < 0 {
			return 0, false
		}
		i += from
		end := i + len(li)
		startOK := i == 0 || !isWordByte(lt[i-1]) || !isWordByte(li[0])
		endOK := end >= len(lt) || !isWordByte(lt[end]) || !isWordByte(li[len(li)-1])
		if startOK && endOK {
			return i, true
		}
		from = i + 1
	}
}

// errAt builds an error located at ident (searched from the current
// clause, then from the start of the statement).
func (b *Binder) errAt(ident string, format string, args ...any) error {
	e := &sql.Error{Msg: fmt.Sprintf(format, args...)}
	off, ok := b.find(ident, b.from)
	if !ok {
		off, ok = b.find(ident, 0)
	}
	if ok {
		b.place(e, off)
	}
	return e
}

// errAtText locates an error at a verbatim piece of the statement (e.g.
// a subquery's text).
func (b *Binder) errAtText(text string, format string, args ...any) error {
	e := &sql.Error{Msg: fmt.Sprintf(format, args...)}
	if b.Stmt != nil && text != "" {
		if i := strings.Index(b.Stmt.Text, text); i >= 0 {
			// Point at the opening parenthesis when there is one.
			if j := strings.LastIndexByte(b.Stmt.Text[:i], '('); j >= 0 && strings.TrimSpace(b.Stmt.Text[j+1:i]) == "" {
				i = j
			}
			b.place(e, i)
		}
	}
	return e
}

func (b *Binder) place(e *sql.Error, off int) {
	l, c := sql.LineCol(b.Stmt.Text, off)
	e.Line = b.Stmt.Line + l - 1
	if l == 1 {
		e.Column = b.Stmt.Column + c - 1
	} else {
		e.Column = c
	}
}

// clause moves the search start to a clause keyword of the current
// SELECT (which starts at selStart).
func (b *Binder) clause(selStart int, kw string) {
	if off, ok := b.find(kw, selStart); ok {
		b.from = off
	} else {
		b.from = selStart
	}
}
