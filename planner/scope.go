package planner

import (
	"fmt"
	"strings"

	"github.com/magnetar-sql/magnetar/expr"
	"github.com/pingcap/tidb/pkg/parser/ast"
)

// scope is what names resolve against while binding: the output columns of
// the plan built so far, plus what aggregation and window planning mapped.
type scope struct {
	cols []Col
	// outer is the enclosing query's scope for subqueries.
	outer *scope
	// corr, when set, allows references to outer columns; they bind to
	// Column{Index: len(cols) + outer index} and are recorded.
	corr *correlation

	// After aggregation: pre is the scope of the aggregate's input;
	// expressions equal (by their bound text) to a group key or aggregate
	// map to the aggregate's output columns.
	pre       *scope
	groupKeys map[string]int
	aggKeys   map[string]int
	// winKeys maps window function calls to the Window output columns.
	winKeys map[string]int
	// aliases are select-list aliases visible to GROUP BY / HAVING when
	// the FROM columns do not resolve a name.
	aliases map[string]ast.ExprNode
}

type correlation struct{ used bool }

func (s *scope) with() *scope {
	n := *s
	return &n
}

// errUnknownColumn is returned by lookup when nothing matches.
type lookupErr struct {
	msg, ident, hint string
}

func (e *lookupErr) Error() string { return e.msg }

// lookup resolves a column reference in this scope (not outer ones).
func (s *scope) lookup(cn *ast.ColumnName) (int, *lookupErr) {
	qual := cn.Table.L
	name := cn.Name.L
	found := -1
	for i, c := range s.cols {
		if !strings.EqualFold(c.Name, name) {
			continue
		}
		if qual != "" {
			if !strings.EqualFold(c.Qualifier, qual) {
				continue
			}
		} else if c.Hidden {
			continue
		}
		if found >= 0 {
			return -1, &lookupErr{msg: fmt.Sprintf("ambiguous column %q", cn.Name.O), ident: cn.Name.O}
		}
		found = i
	}
	if found < 0 {
		return -1, nil
	}
	return found, nil
}

// hasQualifier reports whether any column carries the qualifier.
func (s *scope) hasQualifier(q string) bool {
	for _, c := range s.cols {
		if strings.EqualFold(c.Qualifier, q) {
			return true
		}
	}
	return false
}

// suggest finds the closest column name for a "did you mean" hint.
func (s *scope) suggest(name string) string {
	best, bestD := "", 1<<30
	seen := map[string]bool{}
	for sc := s; sc != nil; sc = sc.outer {
		for _, c := range sc.cols {
			if seen[c.Name] {
				continue
			}
			seen[c.Name] = true
			d := editDistance(strings.ToLower(name), strings.ToLower(c.Name))
			if d < bestD {
				best, bestD = c.Name, d
			}
		}
	}
	limit := len(name) / 3
	if limit < 1 {
		limit = 1
	}
	if limit > 3 {
		limit = 3
	}
	if bestD <= limit {
		return best
	}
	return ""
}

// editDistance is the optimal-string-alignment distance between a and b:
// Levenshtein plus adjacent transpositions ("nmae" is one edit from
// "name"), the usual typo model.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// colExpr is a column reference to output column i of the scope.
func (s *scope) colExpr(i int) *expr.Column {
	c := s.cols[i]
	return &expr.Column{Index: i, Name: c.Name, T: c.Type}
}
