package exec

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

// NestedLoopJoin joins every left row with every buffered right row,
// keeping the pairs for which cond is TRUE (cross join without cond). It
// buffers the right side to End first, like HashJoin, and evaluates cond
// vectorized over chunks of about 64K candidate pairs.
type NestedLoopJoin struct {
	left, right Operator
	cond        expr.Expr
	core        joinCore
	built, done bool
	pending     []Message
}

// NewNestedLoopJoin joins every left row with every right row for which cond
// is TRUE (nil cond: cross join). The right side is buffered.
func NewNestedLoopJoin(left, right Operator, typ JoinType, cond expr.Expr, mem memory.Allocator) (Operator, error) {
	j := &NestedLoopJoin{left: left, right: right, cond: cond, core: joinCore{typ: typ, mem: mem}}
	j.core.schema, j.core.pairs = joinSchemas(left.Schema(), right.Schema(), typ)
	if cond != nil {
		ev, err := compileExpr(cond, mem)
		if err != nil {
			return nil, fmt.Errorf("nested loop join: %w", err)
		}
		j.core.residual = ev
	}
	return j, nil
}

// Schema implements Operator.
func (j *NestedLoopJoin) Schema() *arrow.Schema { return j.core.schema }

// Open implements Operator.
func (j *NestedLoopJoin) Open(ctx context.Context) error {
	if err := j.left.Open(ctx); err != nil {
		return fmt.Errorf("nested loop join: %w", err)
	}
	if err := j.right.Open(ctx); err != nil {
		return fmt.Errorf("nested loop join: %w", err)
	}
	return nil
}

func (j *NestedLoopJoin) buildSide(ctx context.Context) error {
	var recs []arrow.RecordBatch
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	for {
		m, err := j.right.Next(ctx)
		if err != nil {
			return err
		}
		if m.Kind == MsgEnd {
			break
		}
		if m.Kind != MsgBatch {
			continue
		}
		if !m.Batch.AppendOnly() {
			m.Release()
			return fmt.Errorf("retractions on the right side are not supported")
		}
		recs = append(recs, m.Batch.Rec)
	}
	rec, err := concatBatches(j.core.mem, j.right.Schema(), recs)
	if err != nil {
		return err
	}
	j.core.setBuild(rec)
	return nil
}

// Next implements Operator.
func (j *NestedLoopJoin) Next(ctx context.Context) (Message, error) {
	if !j.built {
		if err := j.buildSide(ctx); err != nil {
			return Message{}, fmt.Errorf("nested loop join: %w", err)
		}
		j.built = true
	}
	for {
		if len(j.pending) > 0 {
			m := j.pending[0]
			j.pending[0] = Message{}
			j.pending = j.pending[1:]
			return m, nil
		}
		if j.done {
			return EndMsg, nil
		}
		if err := ctx.Err(); err != nil {
			return Message{}, err
		}
		m, err := j.left.Next(ctx)
		if err != nil {
			return Message{}, err
		}
		switch m.Kind {
		case MsgBatch:
			err := j.probe(ctx, m.Batch)
			m.Release()
			if err != nil {
				return Message{}, fmt.Errorf("nested loop join: %w", err)
			}
		case MsgEnd:
			j.done = true
			msgs, err := j.core.finish(j.left.Schema())
			j.pending = append(j.pending, msgs...)
			if err != nil {
				return Message{}, fmt.Errorf("nested loop join: %w", err)
			}
		default:
			return m, nil
		}
	}
}

// probe joins one left batch, in chunks of whole left rows.
func (j *NestedLoopJoin) probe(ctx context.Context, b Batch) error {
	n := int(b.Rec.NumRows())
	r := int(j.core.build.NumRows())
	step := max(1, joinChunk/max(r, 1))
	var lsel, rsel []int32
	for lo := 0; lo < n; lo += step {
		hi := min(n, lo+step)
		lsel, rsel = lsel[:0], rsel[:0]
		for i := lo; i < hi; i++ {
			for k := 0; k < r; k++ {
				lsel = append(lsel, int32(i))
				rsel = append(rsel, int32(k))
			}
		}
		msgs, err := j.core.process(ctx, b, lo, hi, lsel, rsel)
		j.pending = append(j.pending, msgs...)
		if err != nil {
			return err
		}
	}
	return nil
}

// Close implements Operator.
func (j *NestedLoopJoin) Close() error {
	for _, m := range j.pending {
		m.Release()
	}
	j.pending = nil
	j.core.release()
	err := j.left.Close()
	if err2 := j.right.Close(); err == nil {
		err = err2
	}
	return err
}

// Children implements Operator.
func (j *NestedLoopJoin) Children() []Operator { return []Operator{j.left, j.right} }

// String implements Operator.
func (j *NestedLoopJoin) String() string {
	if j.cond == nil {
		return fmt.Sprintf("NestedLoopJoin(%s)", j.core.typ)
	}
	return fmt.Sprintf("NestedLoopJoin(%s, on=%s)", j.core.typ, j.cond)
}
