package exec

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

// Filter keeps the rows for which the predicate is TRUE (not FALSE, not
// NULL). Change kinds travel with their rows.
type Filter struct {
	child Operator
	pred  expr.Expr
	ev    expr.Evaluator
	mem   memory.Allocator
}

// NewFilter returns a filter on child; pred must be BOOLEAN.
func NewFilter(child Operator, pred expr.Expr, mem memory.Allocator) (Operator, error) {
	if pred.Type().ID() != arrow.BOOL && pred.Type().ID() != arrow.NULL {
		return nil, fmt.Errorf("filter: predicate %s is %s, not BOOLEAN", pred, pred.Type())
	}
	ev, err := compileExpr(pred, mem)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	return &Filter{child: child, pred: pred, ev: ev, mem: mem}, nil
}

// Schema implements Operator.
func (f *Filter) Schema() *arrow.Schema { return f.child.Schema() }

// Open implements Operator.
func (f *Filter) Open(ctx context.Context) error { return f.child.Open(ctx) }

// Next implements Operator.
func (f *Filter) Next(ctx context.Context) (Message, error) {
	for {
		m, err := f.child.Next(ctx)
		if err != nil || m.Kind != MsgBatch {
			return m, err
		}
		out, ops, err := f.apply(ctx, m.Batch)
		m.Release()
		if err != nil {
			return Message{}, fmt.Errorf("filter: %w", err)
		}
		if out == nil {
			continue
		}
		return BatchMsg(out, ops), nil
	}
}

// apply returns the kept rows of b (nil when none), with their Ops.
func (f *Filter) apply(ctx context.Context, b Batch) (arrow.RecordBatch, []ChangeKind, error) {
	res, err := f.ev.Eval(ctx, b.Rec)
	if err != nil {
		return nil, nil, err
	}
	defer res.Release()
	n := int(b.Rec.NumRows())
	if res.DataType().ID() == arrow.NULL {
		return nil, nil, nil
	}
	mask := res.(*array.Boolean)
	sel := make([]int32, 0, n)
	if mask.NullN() == 0 {
		for i := 0; i < n; i++ {
			if mask.Value(i) {
				sel = append(sel, int32(i))
			}
		}
	} else {
		for i := 0; i < n; i++ {
			if mask.IsValid(i) && mask.Value(i) {
				sel = append(sel, int32(i))
			}
		}
	}
	if len(sel) == 0 {
		return nil, nil, nil
	}
	var ops []ChangeKind
	if b.Ops != nil {
		ops = make([]ChangeKind, len(sel))
		for j, i := range sel {
			ops[j] = b.Ops[i]
		}
	}
	if len(sel) == n {
		b.Rec.Retain()
		return b.Rec, ops, nil
	}
	out, err := takeRecord(f.mem, b.Rec, sel)
	return out, ops, err
}

// Close implements Operator.
func (f *Filter) Close() error { return f.child.Close() }

// Children implements Operator.
func (f *Filter) Children() []Operator { return []Operator{f.child} }

// String implements Operator.
func (f *Filter) String() string { return fmt.Sprintf("Filter(%s)", f.pred) }
