package exec

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

// HashJoin is an equi-join with an optional residual condition. It reads
// the right (build) side to End into one hash table, then streams the left
// (probe) side, so it suits bounded build sides: an unbounded right input
// never gets past the build phase. (The symmetric variant for two unbounded
// inputs, keeping both sides and emitting matches as rows arrive from either
// side, comes with the streaming work.)
//
// Left rows carry their change kinds to the rows they produce, so a
// changelog on the probe side joins correctly against the (static) build
// side; retractions on the build side are an error. Watermarks and
// barriers of the probe side are forwarded in place; those of the build
// side are absorbed (the build side ends before any output, and End is the
// final watermark).
type HashJoin struct {
	left, right         Operator
	leftKeys, rightKeys []expr.Expr
	residualExpr        expr.Expr
	lkEvs, rkEvs        []expr.Evaluator
	core                joinCore
	table               joinTable

	built   bool
	done    bool
	pending []Message
	lsel    []int32
	rsel    []int32
}

// NewHashJoin joins left and right on leftKeys[i] = rightKeys[i] (NULL never
// matches) and then residual (nil: none), evaluated on the concatenated row.
// The hash table is built on the right side.
func NewHashJoin(left, right Operator, leftKeys, rightKeys []expr.Expr, typ JoinType, residual expr.Expr, mem memory.Allocator) (Operator, error) {
	if len(leftKeys) != len(rightKeys) || len(leftKeys) == 0 {
		return nil, fmt.Errorf("hash join: need the same positive number of keys on both sides (%d, %d)", len(leftKeys), len(rightKeys))
	}
	for i := range leftKeys {
		lk, rk := kindOf(leftKeys[i].Type()), kindOf(rightKeys[i].Type())
		if lk == kInvalid || lk != rk {
			return nil, fmt.Errorf("hash join: cannot join %s (%s) with %s (%s)", leftKeys[i], leftKeys[i].Type(), rightKeys[i], rightKeys[i].Type())
		}
	}
	j := &HashJoin{left: left, right: right, leftKeys: leftKeys, rightKeys: rightKeys, residualExpr: residual}
	var err error
	if j.lkEvs, err = compileAll(leftKeys, mem); err != nil {
		return nil, fmt.Errorf("hash join: %w", err)
	}
	if j.rkEvs, err = compileAll(rightKeys, mem); err != nil {
		return nil, fmt.Errorf("hash join: %w", err)
	}
	j.core = joinCore{typ: typ, mem: mem}
	j.core.schema, j.core.pairs = joinSchemas(left.Schema(), right.Schema(), typ)
	if residual != nil {
		if j.core.residual, err = compileExpr(residual, mem); err != nil {
			return nil, fmt.Errorf("hash join: %w", err)
		}
	}
	return j, nil
}

// Schema implements Operator.
func (j *HashJoin) Schema() *arrow.Schema { return j.core.schema }

// Open implements Operator.
func (j *HashJoin) Open(ctx context.Context) error {
	if err := j.left.Open(ctx); err != nil {
		return fmt.Errorf("hash join: %w", err)
	}
	if err := j.right.Open(ctx); err != nil {
		return fmt.Errorf("hash join: %w", err)
	}
	return nil
}

// buildSide drains the right input and builds the hash table.
func (j *HashJoin) buildSide(ctx context.Context) error {
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
			return fmt.Errorf("retractions on the build (right) side are not supported")
		}
		recs = append(recs, m.Batch.Rec)
	}
	rec, err := concatBatches(j.core.mem, j.right.Schema(), recs)
	if err != nil {
		return err
	}
	j.core.setBuild(rec)
	keys, err := evalAll(ctx, j.rkEvs, rec)
	if err != nil {
		return err
	}
	j.table = newJoinTable(keys, int(rec.NumRows()))
	releaseArrays(keys)
	return nil
}

// Next implements Operator.
func (j *HashJoin) Next(ctx context.Context) (Message, error) {
	if !j.built {
		if err := j.buildSide(ctx); err != nil {
			return Message{}, fmt.Errorf("hash join: %w", err)
		}
		j.built = true
		if j.core.build.NumRows() == 0 && (j.core.typ == InnerJoin || j.core.typ == SemiJoin || j.core.typ == RightJoin) {
			j.done = true // nothing can match: don't read the probe side
		}
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
		m, err := j.left.Next(ctx)
		if err != nil {
			return Message{}, err
		}
		switch m.Kind {
		case MsgBatch:
			msgs, err := j.probe(ctx, m.Batch)
			m.Release()
			if err != nil {
				return Message{}, fmt.Errorf("hash join: %w", err)
			}
			j.pending = append(j.pending, msgs...)
		case MsgEnd:
			j.done = true
			msgs, err := j.core.finish(j.left.Schema())
			j.pending = append(j.pending, msgs...)
			if err != nil {
				return Message{}, fmt.Errorf("hash join: %w", err)
			}
		default:
			return m, nil
		}
	}
}

func (j *HashJoin) probe(ctx context.Context, b Batch) ([]Message, error) {
	keys, err := evalAll(ctx, j.lkEvs, b.Rec)
	if err != nil {
		return nil, err
	}
	n := int(b.Rec.NumRows())
	j.lsel, j.rsel = j.table.probe(keys, n, j.lsel[:0], j.rsel[:0])
	releaseArrays(keys)
	return j.core.process(ctx, b, 0, n, j.lsel, j.rsel)
}

// Close implements Operator.
func (j *HashJoin) Close() error {
	for _, m := range j.pending {
		m.Release()
	}
	j.pending = nil
	j.core.release()
	j.table = nil
	err := j.left.Close()
	if err2 := j.right.Close(); err == nil {
		err = err2
	}
	return err
}

// Children implements Operator.
func (j *HashJoin) Children() []Operator { return []Operator{j.left, j.right} }

// String implements Operator.
func (j *HashJoin) String() string {
	on := make([]string, len(j.leftKeys))
	for i := range j.leftKeys {
		on[i] = j.leftKeys[i].String() + " = " + j.rightKeys[i].String()
	}
	s := fmt.Sprintf("HashJoin(%s, on=[%s]", j.core.typ, strings.Join(on, ", "))
	if j.residualExpr != nil {
		s += ", residual=" + j.residualExpr.String()
	}
	return s + ")"
}
