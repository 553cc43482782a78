package planner

import (
	"context"
	"fmt"

	"github.com/magnetar-sql/magnetar/expr"
)

// Rule is one optimizer rewrite of a whole plan.
type Rule struct {
	Name  string
	Apply func(ctx context.Context, n Node) (Node, error)
}

// Rules is the ordered rule list Optimize applies. Order matters: folding
// first makes constant predicates visible to pushdown; pushdown before
// pruning so pruning sees where filters ended up; limits last, once the
// plan shape is final.
var Rules = []Rule{
	{Name: "fold_constants", Apply: foldConstants},
	{Name: "push_down_predicates", Apply: pushDownPredicates},
	{Name: "fold_constants", Apply: foldConstants},
	{Name: "interval_joins", Apply: intervalJoins},
	{Name: "streaming_ranks", Apply: streamingRanks},
	{Name: "prune_columns", Apply: pruneColumns},
	{Name: "push_down_limit", Apply: pushDownLimit},
	{Name: "merge_projections", Apply: mergeProjections},
	{Name: "window_early_fire", Apply: windowEarlyFire}, // window_early_fire.go
	{Name: "continuous_over", Apply: continuousOver},    // over_aggregate.go
	{Name: "assign_watermarks", Apply: assignWatermarks},
}

// Optimize applies Rules in order.
func Optimize(ctx context.Context, n Node) (Node, error) {
	for _, r := range Rules {
		out, err := r.Apply(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("optimizer rule %s: %w", r.Name, err)
		}
		n = out
	}
	return n, nil
}

// transformUp rebuilds the plan bottom-up, applying f to every node after
// its children.
func transformUp(n Node, f func(Node) (Node, error)) (Node, error) {
	ch := n.Children()
	if len(ch) > 0 {
		out := make([]Node, len(ch))
		for i, c := range ch {
			nc, err := transformUp(c, f)
			if err != nil {
				return nil, err
			}
			out[i] = nc
		}
		n = n.WithChildren(out)
	}
	return f(n)
}

// mapExprs applies f to every expression a node holds, returning a copy.
func mapExprs(n Node, f func(expr.Expr) expr.Expr) Node {
	all := func(es []expr.Expr) []expr.Expr {
		if es == nil {
			return nil
		}
		out := make([]expr.Expr, len(es))
		for i, e := range es {
			out[i] = f(e)
		}
		return out
	}
	keys := func(ks []SortKey) []SortKey {
		out := make([]SortKey, len(ks))
		for i, k := range ks {
			out[i] = k
			out[i].Expr = f(k.Expr)
		}
		return out
	}
	switch x := n.(type) {
	case *Filter:
		return &Filter{Child: x.Child, Pred: f(x.Pred)}
	case *Project:
		return &Project{Child: x.Child, Exprs: all(x.Exprs), Cols: x.Cols}
	case *Aggregate:
		c := *x
		c.Groups = all(x.Groups)
		c.Aggs = make([]AggCall, len(x.Aggs))
		for i, a := range x.Aggs {
			c.Aggs[i] = a
			c.Aggs[i].Args = all(a.Args)
		}
		return &c
	case *Join:
		c := *x
		c.LeftKeys, c.RightKeys = all(x.LeftKeys), all(x.RightKeys)
		if x.Residual != nil {
			c.Residual = f(x.Residual)
		}
		return &c
	case *Sort:
		c := *x
		c.Keys = keys(x.Keys)
		return &c
	case *Window:
		c := *x
		c.PartitionBy = all(x.PartitionBy)
		c.OrderBy = keys(x.OrderBy)
		c.Funcs = make([]WindowCall, len(x.Funcs))
		for i, w := range x.Funcs {
			c.Funcs[i] = w
			c.Funcs[i].Args = all(w.Args)
		}
		return &c
	case *Values:
		rows := make([][]expr.Expr, len(x.Rows))
		for i, r := range x.Rows {
			rows[i] = all(r)
		}
		return &Values{Rows: rows, Cols: x.Cols}
	}
	return n
}
