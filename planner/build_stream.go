package planner

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
)

// buildStream builds the streaming nodes (window aggregates, watermarks,
// interval joins, deduplication, streaming Top-N); ok is false for other
// node types.
func (bl *Builder) buildStream(n Node, kids []exec.Operator, mem memory.Allocator) (op exec.Operator, ok bool, err error) {
	if op, ok, err := bl.buildUpsert(n, kids, mem); ok { // upsert.go
		return op, true, err
	}
	switch x := n.(type) {
	case *WindowAggregate:
		G := len(x.Groups)
		aggs := make([]exec.AggCall, len(x.Aggs))
		for i, a := range x.Aggs {
			aggs[i] = exec.AggCall{Func: a.Func, Args: a.Args, Distinct: a.Distinct, Name: x.Cols[2+G+i].Name}
		}
		groups, gnames := x.Groups, names(x.Cols[2:2+G])
		if x.Spec.Kind == exec.Session && G == 0 {
			// exec's sessions need a key: one constant key, projected away.
			groups, gnames = []expr.Expr{expr.Lit(int64(0))}, []string{"__session_key"}
		}
		w, err := exec.NewWindowAggregate(kids[0], x.Spec, groups, gnames, aggs, mem)
		if err != nil {
			return nil, true, err
		}
		if changelog(x.Child, bl.Mode) {
			if x.Spec.Kind == exec.Session {
				return nil, true, fmt.Errorf("unsupported: session windows over a changelog (an aggregate, join or deduplication with updates below the window)")
			}
			w.SetRetractable(true)
		}
		if len(groups) == G {
			return w, true, nil
		}
		exprs := make([]expr.Expr, 0, len(x.Cols))
		for i, c := range x.Cols {
			src := i
			if i >= 2 {
				src = i + 1
			}
			exprs = append(exprs, &expr.Column{Index: src, Name: c.Name, T: c.Type})
		}
		p, err := exec.NewProject(w, exprs, names(x.Cols), mem)
		if err != nil {
			w.Close()
		}
		return p, true, err
	case *Watermark:
		op, err := buildWatermark(x, kids[0], mem)
		return op, true, err
	case *StateTTL:
		op, err := buildStateTTL(x, kids[0])
		return op, true, err
	case *IntervalJoin:
		if changelog(x.Left, bl.Mode) || changelog(x.Right, bl.Mode) {
			return nil, true, fmt.Errorf("unsupported: interval join over a changelog input")
		}
		j, err := exec.NewIntervalJoin(kids[0], kids[1], x.LeftKeys, x.RightKeys, x.LeftTime, x.RightTime, x.Lower, x.Upper, x.Residual, mem)
		return j, true, err
	case *Deduplicate:
		if changelog(x.Child, bl.Mode) {
			return nil, true, fmt.Errorf("unsupported: deduplication (ROW_NUMBER() = 1) over a changelog input")
		}
		d, err := exec.NewDeduplicate(kids[0], x.Keys, x.Order, x.KeepLast, mem)
		return d, true, err
	case *StreamTopN:
		if x.RankCol {
			return nil, true, fmt.Errorf("unsupported in continuous mode: selecting the row number of a Top-N query (ROW_NUMBER() ... <= %d); select the other columns only", x.N)
		}
		t, err := exec.NewStreamingTopN(kids[0], x.Partition, x.Order, int(x.N), mem)
		if err != nil {
			return nil, true, err
		}
		if err := t.SetOffset(int(x.Offset)); err != nil {
			return nil, true, err
		}
		if changelog(x.Child, bl.Mode) {
			t.SetRetractable(true)
		}
		return t, true, nil
	}
	return nil, false, nil
}

// buildWatermark builds a watermark assigner over child's column
// x.Time, first appending that column when it is computed, and dropping
// the columns the output does not keep.
func buildWatermark(x *Watermark, child exec.Operator, mem memory.Allocator) (exec.Operator, error) {
	in := x.Child.Schema()
	op := child
	timeCol := -1
	if c, ok := x.Time.(*expr.Column); ok {
		timeCol = c.Index
	} else {
		exprs := make([]expr.Expr, 0, len(in)+1)
		nm := make([]string, 0, len(in)+1)
		for i, c := range in {
			exprs = append(exprs, &expr.Column{Index: i, Name: c.Name, T: c.Type})
			nm = append(nm, c.Name)
		}
		exprs = append(exprs, x.Time)
		nm = append(nm, "__watermark_time")
		p, err := exec.NewProject(op, exprs, nm, mem)
		if err != nil {
			return nil, err
		}
		op, timeCol = p, len(in)
	}
	opts := exec.WatermarkOptions{
		PartitionCol: x.PartitionCol, Partitions: x.Partitions, IdleTimeout: x.Idle, AllowedLateness: x.Lateness, Mem: mem,
		KeepLate: x.KeepLate, SplitEvery: x.ClockSplit,
	}
	lq, err := lateQueue(x, mem)
	if err != nil {
		op.Close()
		return nil, err
	}
	if lq != nil {
		opts.LateSink = lq.Sink
	}
	var wa exec.Operator
	if wa, err = exec.NewWatermarkAssigner(op, timeCol, x.Delay, opts); err != nil {
		op.Close()
		if lq != nil {
			lq.Finish()
		}
		return nil, err
	}
	if lq != nil {
		wa = exec.NewLateRowsTap(wa, lq)
	}
	if x.Keep == len(op.Schema().Fields()) {
		return wa, nil
	}
	exprs := make([]expr.Expr, x.Keep)
	nm := make([]string, x.Keep)
	for i := 0; i < x.Keep; i++ {
		exprs[i] = &expr.Column{Index: i, Name: in[i].Name, T: in[i].Type}
		nm[i] = in[i].Name
	}
	p, err := exec.NewProject(wa, exprs, nm, mem)
	if err != nil {
		wa.Close()
		return nil, err
	}
	return p, nil
}

// changelog reports whether n's output may hold retractions or updates
// when run in mode, so the operator above must take a changelog.
func changelog(n Node, mode catalog.Mode) bool {
	switch x := n.(type) {
	case *Aggregate:
		if mode == catalog.Unbounded {
			return true
		}
		return changelog(x.Child, mode)
	case *WindowAggregate:
		return x.Spec.AllowedLateness > 0 || x.Spec.EarlyFire > 0 || changelog(x.Child, mode)
	case *Deduplicate:
		return true
	case *UpsertMaterialize: // upsert.go: only a continuous read emits updates
		return mode == catalog.Unbounded
	case *StreamTopN:
		return true
	case *Join:
		if mode == catalog.Unbounded && x.Type != exec.InnerJoin {
			return true
		}
	case *Sort, *Window:
		// Blocking: a bounded run emits final rows.
		if mode == catalog.Bounded {
			return false
		}
	}
	for _, c := range n.Children() {
		if changelog(c, mode) {
			return true
		}
	}
	return false
}

// EmitsUpdates reports whether plan n, run in mode, emits updates or
// retractions (not only inserts): what a sink must be able to upsert.
func EmitsUpdates(n Node, mode catalog.Mode) bool { return changelog(n, mode) }
