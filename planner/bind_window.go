package planner

import (
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/pingcap/tidb/pkg/parser/ast"
)

// Group windows are written as GROUP BY keys with string durations, since
// the MySQL grammar takes neither INTERVAL arguments nor table-valued
// functions:
//
//	GROUP BY TUMBLE(ts, '10 SECONDS'), k
//	GROUP BY HOP(ts, '5 SECONDS', '10 SECONDS')        -- slide, size
//	GROUP BY `SESSION`(ts, '30 SECONDS')               -- gap (SESSION is a keyword:
//	GROUP BY SESSION_WINDOW(ts, '30 SECONDS')          -- quote it or use this name)
//	GROUP BY CUMULATE(ts, '10 SECONDS', '1 MINUTE')    -- step, size
//
// The query then has the columns window_start and window_end besides the
// group keys and aggregates.

// windowGroupKey prefixes the groupKeys entries that make window_start and
// window_end resolve after a window aggregation.
const windowGroupKey = "\x00window:"

// windowCallKind recognizes a window call in GROUP BY.
func windowCallKind(e ast.ExprNode) (*ast.FuncCallExpr, exec.WindowKind, bool) {
	fc, ok := e.(*ast.FuncCallExpr)
	if !ok {
		return nil, 0, false
	}
	name := fc.FnName.L
	if name == "session_window" {
		name = "session"
	}
	k, ok := exec.ParseWindowKind(name)
	return fc, k, ok
}

// bindWindowGroup binds a window call of GROUP BY (ok false when e is not
// one) into a window spec whose time column is over sc.
func (b *Binder) bindWindowGroup(e ast.ExprNode, sc *scope) (spec *exec.WindowSpec, ok bool, err error) {
	fc, kind, ok := windowCallKind(e)
	if !ok {
		return nil, false, nil
	}
	ident := fc.FnName.O
	fn := strings.ToUpper(fc.FnName.O)
	want, usage := 2, fn+"(time, 'size')"
	switch kind {
	case exec.Hop:
		want, usage = 3, fn+"(time, 'slide', 'size')"
	case exec.Cumulate:
		want, usage = 3, fn+"(time, 'step', 'size')"
	case exec.Session:
		usage = fn + "(time, 'gap')"
	}
	if len(fc.Args) != want {
		return nil, true, b.errAt(ident, "%s takes %d arguments: %s", fn, want, usage)
	}
	t, err := b.bindExpr(fc.Args[0], sc)
	if err != nil {
		return nil, true, err
	}
	switch t.Type().ID() {
	case arrow.TIMESTAMP, arrow.INT64:
	default:
		return nil, true, b.errAt(ident, "%s: the time argument must be a TIMESTAMP (or BIGINT microseconds), not %s", fn, expr.TypeName(t.Type()))
	}
	durs := make([]time.Duration, 0, 2)
	for _, a := range fc.Args[1:] {
		v, isVal := a.(ast.ValueExpr)
		if !isVal {
			return nil, true, b.errAt(ident, "%s: durations are string constants such as '10 SECONDS': %s", fn, usage)
		}
		lit, err := b.literal(v)
		if err != nil {
			return nil, true, err
		}
		s, isStr := lit.(*expr.Literal).Value.(string)
		if !isStr {
			return nil, true, b.errAt(ident, "%s: durations are string constants such as '10 SECONDS': %s", fn, usage)
		}
		d, err := exec.ParseWindowInterval(s)
		if err != nil {
			return nil, true, b.errAt(ident, "%s: %s", fn, err.Error())
		}
		if d <= 0 {
			return nil, true, b.errAt(ident, "%s: durations must be positive, got %q", fn, s)
		}
		durs = append(durs, d)
	}
	spec = &exec.WindowSpec{Kind: kind, TimeCol: t}
	switch kind {
	case exec.Tumble:
		spec.Size = durs[0]
	case exec.Session:
		spec.Gap = durs[0]
	case exec.Hop:
		spec.Slide, spec.Size = durs[0], durs[1]
		if spec.Slide > spec.Size {
			return nil, true, b.errAt(ident, "%s: the slide (%s) must not exceed the size (%s)", fn, spec.Slide, spec.Size)
		}
	case exec.Cumulate:
		spec.Slide, spec.Size = durs[0], durs[1]
		if spec.Size%spec.Slide != 0 {
			return nil, true, b.errAt(ident, "%s: the step (%s) must divide the size (%s)", fn, spec.Slide, spec.Size)
		}
	}
	return spec, true, nil
}

// windowAggregate turns the aggregate the binder built into a window
// aggregate: window_start and window_end come first, so every group and
// aggregate column moves two places right.
func windowAggregate(agg *Aggregate, spec *exec.WindowSpec, groupKeys, aggKeys map[string]int) Node {
	cols := []Col{
		{Name: "window_start", Type: arrow.FixedWidthTypes.Timestamp_us},
		{Name: "window_end", Type: arrow.FixedWidthTypes.Timestamp_us},
	}
	cols = append(cols, agg.Cols...)
	for k, v := range groupKeys {
		groupKeys[k] = v + 2
	}
	for k, v := range aggKeys {
		aggKeys[k] = v + 2
	}
	groupKeys[windowGroupKey+"window_start"] = 0
	groupKeys[windowGroupKey+"window_end"] = 1
	return &WindowAggregate{Child: agg.Child, Spec: *spec, Groups: agg.Groups, Aggs: agg.Aggs, Cols: cols}
}

// windowColumn resolves window_start / window_end after a window
// aggregation (-1 when cn is neither or there is no window).
func windowColumn(cn *ast.ColumnName, sc *scope) int {
	if cn.Table.L != "" || sc.groupKeys == nil {
		return -1
	}
	if i, ok := sc.groupKeys[windowGroupKey+cn.Name.L]; ok {
		return i
	}
	return -1
}
