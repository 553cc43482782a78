package planner

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/pingcap/tidb/pkg/parser/ast"
)

// Continuous queries compute aggregate window functions ordered by event
// time as Flink's OVER aggregations:
//
//	SELECT auction, price, SUM(price) OVER (PARTITION BY auction ORDER BY ts
//	    ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM bid
//	... OVER (PARTITION BY auction ORDER BY ts
//	    RANGE BETWEEN INTERVAL '10' SECOND PRECEDING AND CURRENT ROW)
//
// The Window node the binder made becomes an OverAggregate with a
// watermark on its time column; rows come out when the watermark passes
// their time. Other window functions (but the ROW_NUMBER filters that
// streamingRanks turned into deduplication or Top-N) are refused.

// OverAggregate is a Window of aggregates over frames ending at the current
// row, ordered by the event-time column Time, in a continuous query: each
// row is emitted once with its aggregates when the watermark (less
// Lateness) passes its time. Output: the input columns then one per call.
type OverAggregate struct {
	Child       Node
	PartitionBy []expr.Expr
	Time        expr.Expr
	Funcs       []WindowCall
	Cols        []Col
	Lateness    time.Duration
}

// Schema implements Node.
func (o *OverAggregate) Schema() []Col { return o.Cols }

// Children implements Node.
func (o *OverAggregate) Children() []Node { return []Node{o.Child} }

// WithChildren implements Node.
func (o *OverAggregate) WithChildren(c []Node) Node {
	n := *o
	n.Child = c[0]
	n.Cols = append(append([]Col(nil), c[0].Schema()...), o.Cols[len(o.Cols)-len(o.Funcs):]...)
	return &n
}

func (o *OverAggregate) String() string {
	fs := make([]string, len(o.Funcs))
	for i, f := range o.Funcs {
		fs[i] = f.Func + "(" + joinExprs(f.Args) + ") " + overFrameText(f.Frame)
	}
	s := fmt.Sprintf("OverAggregate partition=[%s] order=[%s] funcs=[%s]", joinExprs(o.PartitionBy), o.Time, strings.Join(fs, ", "))
	if o.Lateness > 0 {
		s += fmt.Sprintf(" lateness=%s", o.Lateness)
	}
	return s
}

// overFrameText shows a frame with RANGE offsets as durations.
func overFrameText(f exec.Frame) string {
	switch {
	case f.Unit == exec.FrameDefault:
		return "RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
	case f.Unit == exec.FrameRange && f.Start.Kind == exec.Preceding:
		return fmt.Sprintf("RANGE BETWEEN %s PRECEDING AND CURRENT ROW", time.Duration(f.Start.Offset)*time.Microsecond)
	}
	return f.String()
}

// overUsage says what a continuous query supports, for errors.
const overUsage = "continuous queries support aggregates (COUNT, SUM, AVG, MIN, MAX) OVER (PARTITION BY ... ORDER BY <event-time column> " +
	"ROWS BETWEEN n PRECEDING AND CURRENT ROW, RANGE BETWEEN INTERVAL 'n' SECOND PRECEDING AND CURRENT ROW or from UNBOUNDED PRECEDING), " +
	"and ROW_NUMBER() only as deduplication or Top-N (WHERE rn <= n)"

// continuousWindowError explains why window w cannot run in a continuous
// query (nil when it can, as an OverAggregate).
func continuousWindowError(w *Window) error {
	for _, f := range w.Funcs {
		switch f.Func {
		case "count", "count_star", "sum", "avg", "min", "max":
		default:
			return fmt.Errorf("unsupported: window function %s in a continuous query: %s; or SET %s = 'bounded'", strings.ToUpper(f.Func), overUsage, "magnetar.mode")
		}
	}
	if len(w.OrderBy) != 1 || w.OrderBy[0].Desc || !isTimeType(w.OrderBy[0].Expr.Type()) {
		keys := make([]string, len(w.OrderBy))
		for i, k := range w.OrderBy {
			keys[i] = k.String()
		}
		return fmt.Errorf("unsupported: OVER (ORDER BY %s) in a continuous query: an OVER aggregation is ordered by one event-time column (a TIMESTAMP, ascending); %s", strings.Join(keys, ", "), overUsage)
	}
	for _, f := range w.Funcs {
		if err := exec.CheckOverFrame(f.Func, f.Frame); err != nil {
			return fmt.Errorf("unsupported: %s in a continuous query (frames reaching past the current row would wait for rows to come); %s", strings.TrimPrefix(err.Error(), "frame "), overUsage)
		}
	}
	return nil
}

// continuousOver turns the Windows of a continuous query into
// OverAggregates, each over a watermark on its time column, or refuses
// them; in bounded queries, those with a RANGE interval frame, which
// Window lacks. It runs after streamingRanks (which took the ROW_NUMBER
// filters) and before assignWatermarks.
func continuousOver(ctx context.Context, n Node) (Node, error) {
	sess := sessionFrom(ctx)
	p := &wmPlacer{sess: sess}
	return transformUp(n, func(n Node) (Node, error) {
		w, ok := n.(*Window)
		if !ok {
			return n, nil
		}
		if sess.mode != catalog.Unbounded {
			// Window has no RANGE offsets: a bounded query with one runs
			// the OVER operator too, which emits everything at the end.
			if !hasRangeOffset(w) || continuousWindowError(w) != nil {
				return n, nil
			}
			return &OverAggregate{Child: w.Child, PartitionBy: w.PartitionBy, Time: w.OrderBy[0].Expr, Funcs: w.Funcs,
				Cols: append([]Col(nil), w.Cols...)}, nil
		}
		if err := continuousWindowError(w); err != nil {
			return nil, err
		}
		t := w.OrderBy[0].Expr
		if below, ok := w.Child.(*OverAggregate); ok && sameColumn(below.Time, t) {
			// The OVER aggregation below emits rows in time order before
			// forwarding the watermarks of the same column.
			return &OverAggregate{Child: below, PartitionBy: w.PartitionBy, Time: t, Funcs: w.Funcs,
				Cols: append([]Col(nil), w.Cols...), Lateness: below.Lateness}, nil
		}
		child, late, err := p.place(w.Child, t)
		if err != nil {
			return nil, err
		}
		return &OverAggregate{Child: child, PartitionBy: w.PartitionBy, Time: t, Funcs: w.Funcs,
			Cols: append([]Col(nil), w.Cols...), Lateness: late}, nil
	})
}

func sameColumn(a, b expr.Expr) bool {
	ca, ok1 := a.(*expr.Column)
	cb, ok2 := b.(*expr.Column)
	return ok1 && ok2 && ca.Index == cb.Index
}

func hasRangeOffset(w *Window) bool {
	for _, f := range w.Funcs {
		if f.Frame.Unit == exec.FrameRange && (f.Frame.Start.Kind == exec.Preceding || f.Frame.Start.Kind == exec.Following) {
			return true
		}
	}
	return false
}

// buildOver builds an OverAggregate; its input must be append-only.
func (bl *Builder) buildOver(x *OverAggregate, child exec.Operator, mem memory.Allocator) (exec.Operator, error) {
	if changelog(x.Child, bl.Mode) {
		return nil, fmt.Errorf("unsupported: an OVER aggregation over an updating input (an aggregate, outer join, deduplication or upsert table below it); OVER aggregations take append-only streams")
	}
	inW := len(x.Child.Schema())
	calls := make([]exec.WindowCall, len(x.Funcs))
	for i, f := range x.Funcs {
		calls[i] = exec.WindowCall{Func: f.Func, Args: f.Args, Frame: f.Frame, Name: x.Cols[inW+i].Name}
	}
	return exec.NewOverAggregate(child, x.PartitionBy, x.Time, calls, x.Lateness.Microseconds(), mem)
}

// rangeOffset binds the offset of a RANGE frame bound: an interval
// (INTERVAL '10' SECOND PRECEDING), kept in µs, the unit of time columns.
func (b *Binder) rangeOffset(fb ast.FrameBound) (exec.FrameBound, error) {
	usage := "RANGE offsets are intervals: RANGE BETWEEN INTERVAL '10' SECOND PRECEDING AND CURRENT ROW (ROWS takes a number of rows)"
	v, ok := fb.Expr.(ast.ValueExpr)
	if !ok || fb.Unit == ast.TimeUnitInvalid {
		return exec.FrameBound{}, b.errAt("range", "unsupported: %s", usage)
	}
	lit, err := b.literal(v)
	if err != nil {
		return exec.FrameBound{}, err
	}
	n := lit.(*expr.Literal)
	if s, isStr := n.Value.(string); isStr {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return exec.FrameBound{}, b.errAt("range", "unsupported: interval %q: %s", s, usage)
		}
		n = &expr.Literal{Value: f, T: arrow.PrimitiveTypes.Float64}
	}
	us, ok := intervalLiteral(n, &expr.Literal{Value: fb.Unit.String(), T: arrow.BinaryTypes.String})
	if !ok || us < 0 {
		return exec.FrameBound{}, b.errAt("range", "unsupported: interval %s %s: %s", restore(fb.Expr), fb.Unit, usage)
	}
	k := exec.Preceding
	if fb.Type == ast.Following {
		k = exec.Following
	}
	return exec.FrameBound{Kind: k, Offset: us}, nil
}
