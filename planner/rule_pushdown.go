package planner

import (
	"context"

	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
)

// pushDownPredicates moves filter conjuncts as close to the scans as they
// can go: through projections (substituting the projected expressions),
// into join inputs (and inner-join conditions, where equalities become
// hash keys), below aggregates when they only test group keys, into each
// union input, and finally offers them to the table (catalog.FilterPushdown),
// keeping a Filter for every conjunct the table does not apply exactly.
func pushDownPredicates(_ context.Context, n Node) (Node, error) {
	return pushFilter(n, nil)
}

func wrapFilter(n Node, preds []expr.Expr) Node {
	if len(preds) == 0 {
		return n
	}
	return &Filter{Child: n, Pred: andAll(preds)}
}

// substitute replaces column i by exprs[i].
func substitute(e expr.Expr, exprs []expr.Expr) expr.Expr {
	if c, ok := e.(*expr.Column); ok {
		return exprs[c.Index]
	}
	ch := e.Children()
	if len(ch) == 0 {
		return e
	}
	out := make([]expr.Expr, len(ch))
	for i, c := range ch {
		out[i] = substitute(c, exprs)
	}
	return e.WithChildren(out)
}

func volatile(e expr.Expr) bool {
	v := false
	walkExpr(e, func(x expr.Expr) {
		if c, ok := x.(*expr.Call); ok {
			switch c.Name {
			case "rand", "uuid", "now", "sysdate", "curdate", "curtime", "unix_timestamp":
				v = true
			}
		}
	})
	return v
}

// pushFilter returns a plan equivalent to Filter(n, preds) with all
// filters inside n pushed down as well.
func pushFilter(n Node, preds []expr.Expr) (Node, error) {
	switch x := n.(type) {
	case *Filter:
		return pushFilter(x.Child, append(append([]expr.Expr(nil), preds...), conjuncts(x.Pred)...))
	case *Project:
		var down, keep []expr.Expr
		for _, p := range preds {
			sub := substitute(p, x.Exprs)
			if volatile(sub) {
				keep = append(keep, p)
			} else {
				down = append(down, sub)
			}
		}
		child, err := pushFilter(x.Child, down)
		if err != nil {
			return nil, err
		}
		return wrapFilter(&Project{Child: child, Exprs: x.Exprs, Cols: x.Cols}, keep), nil
	case *Join:
		return pushJoin(x, preds)
	case *LookupJoin:
		return pushLookupJoin(x, preds)
	case *Aggregate:
		G := len(x.Groups)
		var down, keep []expr.Expr
		for _, p := range preds {
			if lo, hi := columnRange(p); lo >= 0 && hi < G {
				down = append(down, substitute(p, x.Groups))
			} else {
				keep = append(keep, p)
			}
		}
		child, err := pushFilter(x.Child, down)
		if err != nil {
			return nil, err
		}
		return wrapFilter(x.WithChildren([]Node{child}), keep), nil
	case *Sort:
		if x.Limit < 0 {
			child, err := pushFilter(x.Child, preds)
			if err != nil {
				return nil, err
			}
			return x.WithChildren([]Node{child}), nil
		}
	case *Union:
		ins := make([]Node, len(x.Inputs))
		for i, in := range x.Inputs {
			c, err := pushFilter(in, preds)
			if err != nil {
				return nil, err
			}
			ins[i] = c
		}
		return &Union{Inputs: ins, Cols: x.Cols}, nil
	case *Scan:
		return pushScan(x, preds), nil
	}
	// Limit, Window, Values: filters stay above; recurse below.
	ch := n.Children()
	if len(ch) > 0 {
		out := make([]Node, len(ch))
		for i, c := range ch {
			nc, err := pushFilter(c, nil)
			if err != nil {
				return nil, err
			}
			out[i] = nc
		}
		n = n.WithChildren(out)
	}
	return wrapFilter(n, preds), nil
}

func pushScan(s *Scan, preds []expr.Expr) Node {
	fp, ok := s.Table.(catalog.FilterPushdown)
	if !ok || len(preds) == 0 {
		return wrapFilter(s, preds)
	}
	var keep []expr.Expr
	ns := *s
	ns.Filters = append([]expr.Expr(nil), s.Filters...)
	for _, p := range preds {
		if volatile(p) {
			keep = append(keep, p)
			continue
		}
		tp := remapExpr(p, func(i int) int { return s.Columns[i] })
		switch fp.SupportsFilter(tp) {
		case catalog.Exact:
			ns.Filters = append(ns.Filters, tp)
		case catalog.Inexact:
			ns.Filters = append(ns.Filters, tp)
			keep = append(keep, p)
		default:
			keep = append(keep, p)
		}
	}
	return wrapFilter(&ns, keep)
}

func pushJoin(j *Join, preds []expr.Expr) (Node, error) {
	L := len(j.Left.Schema())
	var lp, rp, cond, keep, residual []expr.Expr
	side := func(p expr.Expr) (left, right bool) {
		lo, hi := columnRange(p)
		if lo < 0 {
			return false, false
		}
		return hi < L, lo >= L
	}
	for _, p := range preds {
		l, r := side(p)
		switch j.Type {
		case exec.InnerJoin:
			switch {
			case l:
				lp = append(lp, p)
			case r:
				rp = append(rp, shift(p, -L))
			case volatile(p):
				keep = append(keep, p)
			default:
				cond = append(cond, p)
			}
		case exec.LeftJoin, exec.SemiJoin, exec.AntiJoin:
			if l {
				lp = append(lp, p)
			} else {
				keep = append(keep, p)
			}
		case exec.RightJoin:
			if r {
				rp = append(rp, shift(p, -L))
			} else {
				keep = append(keep, p)
			}
		default:
			keep = append(keep, p)
		}
	}
	for _, c := range conjuncts(j.Residual) {
		l, r := side(c)
		switch {
		case l && (j.Type == exec.InnerJoin || j.Type == exec.SemiJoin || j.Type == exec.RightJoin):
			lp = append(lp, c)
		case r && j.Type != exec.RightJoin:
			rp = append(rp, shift(c, -L))
		default:
			residual = append(residual, c)
		}
	}
	left, err := pushFilter(j.Left, lp)
	if err != nil {
		return nil, err
	}
	right, err := pushFilter(j.Right, rp)
	if err != nil {
		return nil, err
	}
	extra := append(residual, cond...)
	nj, err := makeJoin(left, right, j.Type, andAll(extra))
	if err != nil {
		return nil, err
	}
	out := nj.(*Join)
	out.LeftKeys = append(append([]expr.Expr(nil), j.LeftKeys...), out.LeftKeys...)
	out.RightKeys = append(append([]expr.Expr(nil), j.RightKeys...), out.RightKeys...)
	for i := range out.cols {
		if i < len(j.cols) {
			out.cols[i].Hidden = j.cols[i].Hidden
		}
	}
	return wrapFilter(out, keep), nil
}
