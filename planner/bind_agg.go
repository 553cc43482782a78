package planner

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/pingcap/tidb/pkg/parser/ast"
)

// finder collects aggregate and window calls of an expression, not
// looking into subqueries (they are separate queries) or into calls.
type finder struct {
	aggs []*ast.AggregateFuncExpr
	wins []*ast.WindowFuncExpr
}

func (f *finder) Enter(n ast.Node) (ast.Node, bool) {
	switch x := n.(type) {
	case *ast.SubqueryExpr:
		return n, true
	case *ast.AggregateFuncExpr:
		f.aggs = append(f.aggs, x)
		return n, true
	case *ast.WindowFuncExpr:
		f.wins = append(f.wins, x)
		// Aggregates may appear inside a window call (SUM(SUM(x)) OVER
		// (ORDER BY COUNT(*))): they are computed by the aggregate below.
		inner := &finder{}
		for _, a := range x.Args {
			a.Accept(inner)
		}
		if x.Spec.PartitionBy != nil {
			for _, it := range x.Spec.PartitionBy.Items {
				it.Expr.Accept(inner)
			}
		}
		if x.Spec.OrderBy != nil {
			for _, it := range x.Spec.OrderBy.Items {
				it.Expr.Accept(inner)
			}
		}
		f.aggs = append(f.aggs, inner.aggs...)
		return n, true
	}
	return n, false
}

func (f *finder) Leave(n ast.Node) (ast.Node, bool) { return n, true }

func find(items []selectItem, having ast.ExprNode, order []*ast.ByItem) *finder {
	f := &finder{}
	for _, it := range items {
		if it.ast != nil {
			it.ast.Accept(f)
		}
	}
	if having != nil {
		having.Accept(f)
	}
	for _, o := range order {
		o.Expr.Accept(f)
	}
	return f
}

func hasAggregate(items []selectItem, having ast.ExprNode, order []*ast.ByItem) bool {
	return len(find(items, having, order).aggs) > 0
}

func hasWindow(items []selectItem, order []*ast.ByItem) bool {
	return len(find(items, nil, order).wins) > 0
}

var aggFuncs = map[string]bool{"count": true, "sum": true, "avg": true, "min": true, "max": true, "approx_count_distinct": true}

// aggCall binds an aggregate call's arguments in the aggregate's input scope.
func (b *Binder) aggCall(x *ast.AggregateFuncExpr, pre *scope) (AggCall, error) {
	fn := strings.ToLower(x.F)
	if !aggFuncs[fn] {
		return AggCall{}, b.errAt(x.F, "unsupported: aggregate function %s", strings.ToUpper(fn))
	}
	args := make([]expr.Expr, 0, len(x.Args))
	for _, a := range x.Args {
		e, err := b.bindExpr(a, pre)
		if err != nil {
			return AggCall{}, err
		}
		args = append(args, e)
	}
	call := AggCall{Func: fn, Args: args, Distinct: x.Distinct}
	if fn == "count" && !x.Distinct && len(args) == 1 {
		if l, ok := args[0].(*expr.Literal); ok && l.Value != nil {
			call.Func, call.Args = "count_star", nil
		}
	}
	if fn != "count" && len(args) != 1 {
		return AggCall{}, b.errAt(x.F, "aggregate function %s takes one argument", strings.ToUpper(fn))
	}
	types := make([]arrow.DataType, len(call.Args))
	for i, a := range call.Args {
		types[i] = a.Type()
	}
	t, err := exec.AggregateType(call.Func, call.Distinct, types)
	if err != nil {
		return AggCall{}, b.wrapExprErr(x.F, err)
	}
	call.Type = t
	return call, nil
}

func (b *Binder) aggKey(x *ast.AggregateFuncExpr, pre *scope) (string, error) {
	c, err := b.aggCall(x, pre)
	if err != nil {
		return "", err
	}
	return c.String(), nil
}

// bindAggregate plans GROUP BY and the aggregate calls of the query and
// returns the scope expressions after aggregation bind in.
func (b *Binder) bindAggregate(node Node, sc *scope, gb *ast.GroupByClause, items []selectItem, having ast.ExprNode, order []*ast.ByItem, aliases map[string]ast.ExprNode) (Node, *scope, error) {
	var groups []expr.Expr
	var cols []Col
	groupKeys := map[string]int{}
	addGroup := func(e expr.Expr, name, qual string) {
		if _, ok := groupKeys[e.String()]; ok {
			return
		}
		groupKeys[e.String()] = len(groups)
		groups = append(groups, e)
		cols = append(cols, Col{Name: name, Qualifier: qual, Type: e.Type()})
	}
	var win *exec.WindowSpec
	if gb != nil {
		gsc := sc.with()
		gsc.aliases = aliases
		for _, it := range gb.Items {
			// TUMBLE/HOP/SESSION/CUMULATE(...) make this a window aggregate.
			if spec, ok, err := b.bindWindowGroup(it.Expr, sc); ok || err != nil {
				if err != nil {
					return nil, nil, err
				}
				if win != nil {
					return nil, nil, b.errAt(restore(it.Expr), "only one window per GROUP BY")
				}
				win = spec
				continue
			}
			pos, isPos := it.Expr.(*ast.PositionExpr)
			v, isVal := it.Expr.(ast.ValueExpr)
			if isPos || isVal {
				var n int64
				if isPos {
					n = int64(pos.N)
				} else {
					lit, err := b.literal(v)
					if err != nil {
						return nil, nil, err
					}
					var ok bool
					if n, ok = lit.(*expr.Literal).Value.(int64); !ok {
						continue // GROUP BY 'const' groups everything together
					}
				}
				if n < 1 || int(n) > len(items) {
					return nil, nil, b.errAt(fmt.Sprint(n), "GROUP BY position %d is not in the select list (1..%d)", n, len(items))
				}
				si := items[n-1]
				if si.ast == nil {
					c := sc.cols[si.col]
					addGroup(sc.colExpr(si.col), c.Name, c.Qualifier)
					continue
				}
				if len(find([]selectItem{si}, nil, nil).aggs) > 0 {
					return nil, nil, b.errAt(fmt.Sprint(n), "cannot GROUP BY position %d: it is an aggregate", n)
				}
				e, err := b.bindExpr(si.ast, sc)
				if err != nil {
					return nil, nil, err
				}
				addGroup(e, si.name, "")
				continue
			}
			e, err := b.bindExpr(it.Expr, gsc)
			if err != nil {
				return nil, nil, err
			}
			name, qual := restore(it.Expr), ""
			if c, ok := e.(*expr.Column); ok {
				name, qual = sc.cols[c.Index].Name, sc.cols[c.Index].Qualifier
			}
			addGroup(e, name, qual)
		}
	}
	f := find(items, having, order)
	// Aggregates inside aliases referenced from HAVING are among the items.
	var aggs []AggCall
	aggKeys := map[string]int{}
	for _, x := range f.aggs {
		c, err := b.aggCall(x, sc)
		if err != nil {
			return nil, nil, err
		}
		k := c.String()
		if _, ok := aggKeys[k]; ok {
			continue
		}
		aggKeys[k] = len(groups) + len(aggs)
		aggs = append(aggs, c)
		cols = append(cols, Col{Name: restore(x), Type: c.Type})
	}
	agg := &Aggregate{Child: node, Groups: groups, Aggs: aggs, Cols: cols}
	if win != nil {
		wa := windowAggregate(agg, win, groupKeys, aggKeys)
		return wa, &scope{cols: wa.Schema(), outer: sc.outer, pre: sc, groupKeys: groupKeys, aggKeys: aggKeys}, nil
	}
	return agg, &scope{cols: cols, outer: sc.outer, pre: sc, groupKeys: groupKeys, aggKeys: aggKeys}, nil
}

var windowFuncs = map[string]bool{
	"row_number": true, "rank": true, "dense_rank": true, "lag": true, "lead": true,
	"sum": true, "count": true, "avg": true, "min": true, "max": true,
}

type boundWindow struct {
	partition []expr.Expr
	order     []SortKey
	call      WindowCall
	key       string
	specKey   string
	name      string
}

func (b *Binder) resolveSpec(x *ast.WindowFuncExpr, named []ast.WindowSpec) (ast.WindowSpec, error) {
	spec := x.Spec
	ref := spec.Ref.L
	if ref == "" && spec.OnlyAlias {
		ref = spec.Name.L
	}
	for depth := 0; ref != "" && depth < 8; depth++ {
		var base *ast.WindowSpec
		for i := range named {
			if named[i].Name.L == ref {
				base = &named[i]
			}
		}
		if base == nil {
			return spec, b.errAt(ref, "unknown window %q", ref)
		}
		if spec.PartitionBy == nil {
			spec.PartitionBy = base.PartitionBy
		}
		if spec.OrderBy == nil {
			spec.OrderBy = base.OrderBy
		}
		if spec.Frame == nil {
			spec.Frame = base.Frame
		}
		ref = base.Ref.L
	}
	return spec, nil
}

func (b *Binder) bindWindowCall(x *ast.WindowFuncExpr, sc *scope, named []ast.WindowSpec) (*boundWindow, error) {
	fn := strings.ToLower(x.Name)
	if !windowFuncs[fn] {
		return nil, b.errAt(x.Name, "unsupported: window function %s", strings.ToUpper(fn))
	}
	if x.Distinct || x.IgnoreNull || x.FromLast {
		return nil, b.errAt(x.Name, "unsupported: DISTINCT / IGNORE NULLS / FROM LAST in window functions")
	}
	spec, err := b.resolveSpec(x, named)
	if err != nil {
		return nil, err
	}
	w := &boundWindow{name: restore(x)}
	var parts []string
	if spec.PartitionBy != nil {
		for _, it := range spec.PartitionBy.Items {
			e, err := b.bindExpr(it.Expr, sc)
			if err != nil {
				return nil, err
			}
			w.partition = append(w.partition, e)
			parts = append(parts, e.String())
		}
	}
	var ords []string
	if spec.OrderBy != nil {
		for _, it := range spec.OrderBy.Items {
			e, err := b.bindExpr(it.Expr, sc)
			if err != nil {
				return nil, err
			}
			k := SortKey{Expr: e, Desc: it.Desc, NullsFirst: !it.Desc}
			w.order = append(w.order, k)
			ords = append(ords, k.String())
		}
	}
	args := make([]expr.Expr, 0, len(x.Args))
	for _, a := range x.Args {
		e, err := b.bindExpr(a, sc)
		if err != nil {
			return nil, err
		}
		args = append(args, e)
	}
	if fn == "count" && len(args) == 1 {
		// COUNT(*) (the parser's COUNT(1)) counts rows: any non-NULL
		// constant does, and exec's window count wants an argument.
		if l, ok := args[0].(*expr.Literal); ok && l.Value != nil {
			args = []expr.Expr{expr.Lit(int64(1))}
		}
	}
	var t arrow.DataType
	switch fn {
	case "row_number", "rank", "dense_rank":
		if len(args) != 0 {
			return nil, b.errAt(x.Name, "%s takes no arguments", strings.ToUpper(fn))
		}
		t = arrow.PrimitiveTypes.Int64
	case "count":
		t = arrow.PrimitiveTypes.Int64
	case "lag", "lead":
		if len(args) < 1 || len(args) > 3 {
			return nil, b.errAt(x.Name, "%s takes 1 to 3 arguments", strings.ToUpper(fn))
		}
		if len(args) >= 2 {
			if l, ok := args[1].(*expr.Literal); !ok || l.Type().ID() != arrow.INT64 {
				return nil, b.errAt(x.Name, "the offset of %s must be a non-negative integer constant", strings.ToUpper(fn))
			}
		}
		t = args[0].Type()
		if len(args) == 3 {
			t = CommonType(t, args[2].Type())
			if args[0], err = coerce(args[0], t); err != nil {
				return nil, b.wrapExprErr(x.Name, err)
			}
			if args[2], err = coerce(args[2], t); err != nil {
				return nil, b.wrapExprErr(x.Name, err)
			}
		}
	default:
		if len(args) != 1 {
			return nil, b.errAt(x.Name, "%s takes one argument", strings.ToUpper(fn))
		}
		t, err = exec.AggregateType(fn, false, []arrow.DataType{args[0].Type()})
		if err != nil {
			return nil, b.wrapExprErr(x.Name, err)
		}
	}
	frame, err := b.frame(spec.Frame)
	if err != nil {
		return nil, err
	}
	w.call = WindowCall{Func: fn, Args: args, Frame: frame, Type: t}
	w.specKey = strings.Join(parts, ",") + "|" + strings.Join(ords, ",")
	w.key = fmt.Sprintf("%s(%s)|%s|%v", fn, joinExprs(args), w.specKey, frame)
	return w, nil
}

func (b *Binder) frame(f *ast.FrameClause) (exec.Frame, error) {
	if f == nil {
		return exec.Frame{}, nil
	}
	var out exec.Frame
	switch f.Type {
	case ast.Rows:
		out.Unit = exec.FrameRows
	case ast.Ranges:
		out.Unit = exec.FrameRange
	default:
		return out, b.errAt("groups", "unsupported: GROUPS frames")
	}
	bound := func(fb ast.FrameBound) (exec.FrameBound, error) {
		switch fb.Type {
		case ast.CurrentRow:
			return exec.FrameBound{Kind: exec.CurrentRow}, nil
		case ast.Preceding, ast.Following:
			if fb.UnBounded {
				if fb.Type == ast.Preceding {
					return exec.FrameBound{Kind: exec.UnboundedPreceding}, nil
				}
				return exec.FrameBound{Kind: exec.UnboundedFollowing}, nil
			}
			if f.Type == ast.Ranges {
				return b.rangeOffset(fb) // over_aggregate.go: intervals
			}
			v, ok := fb.Expr.(ast.ValueExpr)
			if !ok || fb.Unit != 0 {
				return exec.FrameBound{}, b.errAt("preceding", "unsupported: frame offsets other than integer constants")
			}
			lit, err := b.literal(v)
			if err != nil {
				return exec.FrameBound{}, err
			}
			n, ok := lit.(*expr.Literal).Value.(int64)
			if !ok || n < 0 {
				return exec.FrameBound{}, b.errAt("preceding", "frame offset must be a non-negative integer")
			}
			k := exec.Preceding
			if fb.Type == ast.Following {
				k = exec.Following
			}
			return exec.FrameBound{Kind: k, Offset: n}, nil
		}
		return exec.FrameBound{}, b.errAt("frame", "unsupported frame bound")
	}
	var err error
	if out.Start, err = bound(f.Extent.Start); err != nil {
		return out, err
	}
	if out.End, err = bound(f.Extent.End); err != nil {
		return out, err
	}
	return out, nil
}

func (b *Binder) windowKey(x *ast.WindowFuncExpr, sc *scope) (string, error) {
	w, err := b.bindWindowCall(x, sc, b.windowSpecs)
	if err != nil {
		return "", err
	}
	return w.key, nil
}

// bindWindows adds one Window node per distinct (partition, order) spec.
func (b *Binder) bindWindows(node Node, sc *scope, items []selectItem, order []*ast.ByItem, named []ast.WindowSpec) (Node, *scope, error) {
	b.windowSpecs = named
	f := find(items, nil, order)
	var specs []string
	groups := map[string][]*boundWindow{}
	seen := map[string]bool{}
	for _, x := range f.wins {
		w, err := b.bindWindowCall(x, sc, named)
		if err != nil {
			return nil, nil, err
		}
		if seen[w.key] {
			continue
		}
		seen[w.key] = true
		if _, ok := groups[w.specKey]; !ok {
			specs = append(specs, w.specKey)
		}
		groups[w.specKey] = append(groups[w.specKey], w)
	}
	out := sc.with()
	out.winKeys = map[string]int{}
	cols := append([]Col(nil), sc.cols...)
	for _, sk := range specs {
		ws := groups[sk]
		win := &Window{Child: node, PartitionBy: ws[0].partition, OrderBy: ws[0].order}
		for _, w := range ws {
			out.winKeys[w.key] = len(cols)
			win.Funcs = append(win.Funcs, w.call)
			cols = append(cols, Col{Name: w.name, Type: w.call.Type})
		}
		win.Cols = append([]Col(nil), cols...)
		node = win
	}
	out.cols = cols
	return node, out, nil
}
