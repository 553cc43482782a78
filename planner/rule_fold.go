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
	if changed {
		e = e.WithChildren(out)
	}
	return simplifyLogic(e)
}

func isBoolLit(e expr.Expr, v bool) bool {
	l, ok := e.(*expr.Literal)
	return ok && l.T.ID() == arrow.BOOL && l.Value == v
}

// simplifyLogic drops TRUE from AND and FALSE from OR (x AND TRUE is x,
// x OR FALSE is x, NULLs included), and short-cuts AND FALSE / OR TRUE.
func simplifyLogic(e expr.Expr) expr.Expr {
	c, ok := e.(*expr.Call)
	if !ok || len(c.Args) != 2 || c.T.ID() != arrow.BOOL {
		return e
	}
	a, b := c.Args[0], c.Args[1]
	switch c.Name {
	case "and":
		switch {
		case isBoolLit(a, true):
			return b
		case isBoolLit(b, true):
			return a
		case isBoolLit(a, false) || isBoolLit(b, false):
			return &expr.Literal{Value: false, T: arrow.FixedWidthTypes.Boolean}
		}
	case "or":
		switch {
		case isBoolLit(a, false):
			return b
		case isBoolLit(b, false):
			return a
		case isBoolLit(a, true) || isBoolLit(b, true):
			return &expr.Literal{Value: true, T: arrow.FixedWidthTypes.Boolean}
		}
	}
	return e
}
