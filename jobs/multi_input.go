package jobs

import "github.com/pingcap/tidb/pkg/parser/ast"

// multiInput reports whether a job's SELECT (or set operation) that is not
// a single-table one may still checkpoint its operators' states: joins,
// UNION ALL and derived tables over several tables. The plan decides in
// the end (checkpointPlan: every two-input operator must align barriers,
// every stateful one must snapshot); a plan it refuses recomputes from the
// start on restart. A wildcard anywhere is refused here: it would also
// take the tracking columns a stateful job's tables show, and so are CTEs.
func multiInput(n ast.ResultSetNode) bool {
	if n == nil {
		return false
	}
	v := &multiInputFinder{ok: true}
	n.Accept(v)
	return v.ok
}

type multiInputFinder struct{ ok bool }

func (v *multiInputFinder) Enter(n ast.Node) (ast.Node, bool) {
	switch x := n.(type) {
	case *ast.SelectField:
		if x.WildCard != nil {
			v.ok = false
			return n, true
		}
	case *ast.WithClause:
		v.ok = false
		return n, true
	case *ast.SetOprStmt:
		if x.With != nil {
			v.ok = false
			return n, true
		}
	}
	return n, false
}

func (v *multiInputFinder) Leave(n ast.Node) (ast.Node, bool) { return n, true }
