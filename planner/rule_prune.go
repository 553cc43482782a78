package planner

import (
	"context"
	"sort"

	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
)

// pruneColumns removes columns nobody above uses: scans read only the
// columns the query needs, projections and aggregates drop unused outputs.
func pruneColumns(_ context.Context, n Node) (Node, error) {
	req := map[int]bool{}
	for i := range n.Schema() {
		req[i] = true
	}
	out, _ := prune(n, req)
	return out, nil
}

func addCols(req map[int]bool, es ...expr.Expr) {
	for _, e := range es {
		if e == nil {
			continue
		}
		walkExpr(e, func(x expr.Expr) {
			if c, ok := x.(*expr.Column); ok {
				req[c.Index] = true
			}
		})
	}
}

func sortedKeys(req map[int]bool) []int {
	out := make([]int, 0, len(req))
	for k := range req {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

func identity(n int) []int {
	m := make([]int, n)
	for i := range m {
		m[i] = i
	}
	return m
}

func mapper(m []int) func(int) int { return func(i int) int { return m[i] } }

// prune returns n restricted to (a superset of) the required output
// columns and the mapping old output index → new index (-1: removed).
func prune(n Node, req map[int]bool) (Node, []int) {
	switch x := n.(type) {
	case *Scan:
		keep := sortedKeys(req)
		if len(keep) == 0 {
			keep = []int{0}
		}
		if len(keep) == len(x.Columns) {
			return x, identity(len(x.Columns))
		}
		m := make([]int, len(x.Columns))
		for i := range m {
			m[i] = -1
		}
		cols := make([]int, len(keep))
		for i, k := range keep {
			cols[i] = x.Columns[k]
			m[k] = i
		}
		return x.WithColumns(cols), m
	case *Filter:
		need := copyReq(req)
		addCols(need, x.Pred)
		child, m := prune(x.Child, need)
		return &Filter{Child: child, Pred: remapExpr(x.Pred, mapper(m))}, m
	case *Project:
		keep := sortedKeys(req)
		if len(keep) == 0 {
			keep = []int{0}
		}
		need := map[int]bool{}
		for _, k := range keep {
			addCols(need, x.Exprs[k])
		}
		child, cm := prune(x.Child, need)
		m := make([]int, len(x.Exprs))
		for i := range m {
			m[i] = -1
		}
		exprs := make([]expr.Expr, len(keep))
		cols := make([]Col, len(keep))
		for i, k := range keep {
			exprs[i] = remapExpr(x.Exprs[k], mapper(cm))
			cols[i] = x.Cols[k]
			m[k] = i
		}
		return &Project{Child: child, Exprs: exprs, Cols: cols}, m
	case *Aggregate:
		G := len(x.Groups)
		var aggs []AggCall
		m := make([]int, len(x.Cols))
		for i := range m {
			m[i] = -1
		}
		cols := append([]Col(nil), x.Cols[:G]...)
		for i := 0; i < G; i++ {
			m[i] = i
		}
		for i, a := range x.Aggs {
			if req[G+i] || (G == 0 && len(aggs) == 0 && i == len(x.Aggs)-1) {
				m[G+i] = G + len(aggs)
				aggs = append(aggs, a)
				cols = append(cols, x.Cols[G+i])
			}
		}
		need := map[int]bool{}
		addCols(need, x.Groups...)
		for _, a := range aggs {
			addCols(need, a.Args...)
		}
		child, cm := prune(x.Child, need)
		na := &Aggregate{Child: child, Cols: cols}
		for _, g := range x.Groups {
			na.Groups = append(na.Groups, remapExpr(g, mapper(cm)))
		}
		for _, a := range aggs {
			a2 := a
			a2.Args = nil
			for _, e := range a.Args {
				a2.Args = append(a2.Args, remapExpr(e, mapper(cm)))
			}
			na.Aggs = append(na.Aggs, a2)
		}
		return na, m
	case *Join:
		L := len(x.Left.Schema())
		lreq, rreq := joinReq(L, req, x.Residual)
		addCols(lreq, x.LeftKeys...)
		addCols(rreq, x.RightKeys...)
		left, right, lm, rm, comb := pruneJoinInputs(L, x.Left, x.Right, lreq, rreq)
		nj := &Join{Left: left, Right: right, Type: x.Type}
		for _, k := range x.LeftKeys {
			nj.LeftKeys = append(nj.LeftKeys, remapExpr(k, mapper(lm)))
		}
		for _, k := range x.RightKeys {
			nj.RightKeys = append(nj.RightKeys, remapExpr(k, mapper(rm)))
		}
		if x.Residual != nil {
			nj.Residual = remapExpr(x.Residual, comb)
		}
		nj.cols = joinCols(left.Schema(), right.Schema(), x.Type)
		return nj, joinOutputMap(x.cols, nj.cols, comb)
	case *Sort:
		need := copyReq(req)
		for _, k := range x.Keys {
			addCols(need, k.Expr)
		}
		child, m := prune(x.Child, need)
		ns := *x
		ns.Child = child
		ns.Keys = make([]SortKey, len(x.Keys))
		for i, k := range x.Keys {
			ns.Keys[i] = k
			ns.Keys[i].Expr = remapExpr(k.Expr, mapper(m))
		}
		return &ns, m
	case *Limit:
		child, m := prune(x.Child, req)
		return &Limit{Child: child, Offset: x.Offset, Count: x.Count}, m
	case *Window:
		inW := len(x.Child.Schema())
		need := map[int]bool{}
		for i := range req {
			if i < inW {
				need[i] = true
			}
		}
		addCols(need, x.PartitionBy...)
		for _, k := range x.OrderBy {
			addCols(need, k.Expr)
		}
		for _, f := range x.Funcs {
			addCols(need, f.Args...)
		}
		child, cm := prune(x.Child, need)
		nw := mapExprs(x, func(e expr.Expr) expr.Expr { return remapExpr(e, mapper(cm)) }).(*Window)
		nw.Child = child
		newIn := len(child.Schema())
		nw.Cols = append(append([]Col(nil), child.Schema()...), x.Cols[inW:]...)
		m := make([]int, len(x.Cols))
		for i := range m {
			if i < inW {
				m[i] = cm[i]
			} else {
				m[i] = newIn + i - inW
			}
		}
		return nw, m
	case *Union:
		ins := make([]Node, len(x.Inputs))
		for i, in := range x.Inputs {
			all := map[int]bool{}
			for k := range in.Schema() {
				all[k] = true
			}
			ins[i], _ = prune(in, all)
		}
		return &Union{Inputs: ins, Cols: x.Cols}, identity(len(x.Cols))
	}
	if p, ok := n.(pruner); ok {
		return p.pruneCols(req)
	}
	// Values and anything else: keep as is, but prune below.
	ch := n.Children()
	if len(ch) > 0 {
		out := make([]Node, len(ch))
		for i, c := range ch {
			all := map[int]bool{}
			for k := range c.Schema() {
				all[k] = true
			}
			out[i], _ = prune(c, all)
		}
		n = n.WithChildren(out)
	}
	return n, identity(len(n.Schema()))
}

func copyReq(req map[int]bool) map[int]bool {
	out := make(map[int]bool, len(req))
	for k, v := range req {
		out[k] = v
	}
	return out
}

var _ = exec.InnerJoin

// joinReq splits the columns required of a two-input join's output (req)
// and those its residual reads into the columns each input must keep.
func joinReq(L int, req map[int]bool, residual expr.Expr) (lreq, rreq map[int]bool) {
	lreq, rreq = map[int]bool{}, map[int]bool{}
	split := func(src map[int]bool) {
		for i := range src {
			if i < L {
				lreq[i] = true
			} else {
				rreq[i-L] = true
			}
		}
	}
	split(req)
	if residual != nil {
		both := map[int]bool{}
		addCols(both, residual)
		split(both)
	}
	return lreq, rreq
}

// pruneJoinInputs prunes both inputs of a join whose left input had L
// columns, and returns comb, which maps a column of the join's old output
// (left then right) to the new one (-1: pruned).
func pruneJoinInputs(L int, left, right Node, lreq, rreq map[int]bool) (nl, nr Node, lm, rm []int, comb func(int) int) {
	nl, lm = prune(left, lreq)
	nr, rm = prune(right, rreq)
	newL := len(nl.Schema())
	comb = func(i int) int {
		if i < L {
			return lm[i]
		}
		if rm[i-L] < 0 {
			return -1
		}
		return newL + rm[i-L]
	}
	return nl, nr, lm, rm, comb
}

// joinOutputMap maps the join's old output columns (oldCols) to the pruned
// join's (newCols, which keep each surviving column's Hidden flag).
func joinOutputMap(oldCols, newCols []Col, comb func(int) int) []int {
	m := make([]int, len(oldCols))
	for i := range m {
		m[i] = comb(i)
		if m[i] >= 0 {
			newCols[m[i]].Hidden = oldCols[i].Hidden
		}
	}
	return m
}
