package planner

import (
	"context"

	"github.com/magnetar-sql/magnetar/expr"
)

// mergeProjections folds a projection into the projection below it
// (substituting the inner expressions) and removes projections that pass
// their input through unchanged, names included.
func mergeProjections(_ context.Context, n Node) (Node, error) {
	return transformUp(n, func(n Node) (Node, error) {
		p, ok := n.(*Project)
		if !ok {
			return n, nil
		}
		if inner, ok := p.Child.(*Project); ok && !anyVolatile(inner.Exprs) {
			exprs := make([]expr.Expr, len(p.Exprs))
			for i, e := range p.Exprs {
				exprs[i] = substitute(e, inner.Exprs)
			}
			p = &Project{Child: inner.Child, Exprs: exprs, Cols: p.Cols}
		}
		if isIdentity(p) {
			return p.Child, nil
		}
		return p, nil
	})
}

func anyVolatile(es []expr.Expr) bool {
	for _, e := range es {
		if volatile(e) {
			return true
		}
	}
	return false
}

func isIdentity(p *Project) bool {
	in := p.Child.Schema()
	if len(in) != len(p.Exprs) {
		return false
	}
	for i, e := range p.Exprs {
		c, ok := e.(*expr.Column)
		if !ok || c.Index != i {
			return false
		}
		// Qualifiers only matter while binding; names are visible.
		if in[i].Name != p.Cols[i].Name {
			return false
		}
	}
	return true
}
