package planner

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/expr"
)

// foldConstants evaluates constant sub-expressions once (expr.Fold) and
// drops filters that are constantly TRUE. Expressions whose evaluation
// fails (e.g. an overflow) are left alone so the error surfaces, with the
// row context, when the query runs.
func foldConstants(ctx context.Context, n Node) (Node, error) {
	return transformUp(n, func(n Node) (Node, error) {
		n = mapExprs(n, func(e expr.Expr) expr.Expr { return foldExpr(ctx, e) })
		if f, ok := n.(*Filter); ok {
			if l, ok := f.Pred.(*expr.Literal); ok && l.T.ID() == arrow.BOOL && l.Value == true {
				return f.Child, nil
			}
		}
		return n, nil
	})
}

func foldExpr(ctx context.Context, e expr.Expr) expr.Expr {
	if _, ok := e.(*expr.Literal); ok {
		return e
	}
	if _, ok := e.(*expr.Column); ok {
		return e
	}
	if expr.IsConstant(e) {
		if f, err := expr.Fold(ctx, e, nil); err == nil {
			return f
		}
		return e
	}
	ch := e.Children()
	out := make([]expr.Expr, len(ch))
	changed := false
	for i, c := range ch {
		out[i] = foldExpr(ctx, c)
		if out[i] != c {
			changed = true
		}
	}
	if !changed {
		return e
	}
	return e.WithChildren(out)
}
