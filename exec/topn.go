package exec

import (
	"context"
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

// TopN is ORDER BY ... LIMIT: it keeps only the best offset+limit rows. The
// kept rows live in one small sorted batch; each input batch is appended to
// it, rows that do not beat the current worst kept row are dropped with one
// comparison each, and the survivors are sorted and cut back to
// offset+limit. Input must be append-only (a TopN over retractions needs
// the full input kept; that is the planner's Sort+Limit).
type TopN struct {
	child         Operator
	keys          []SortKey
	evs           []expr.Evaluator
	mem           memory.Allocator
	offset, limit int64
	keep          int
	buf           arrow.RecordBatch // best rows so far, in order
	emitted       bool
	done          bool
}

// NewTopN returns ORDER BY keys LIMIT limit OFFSET offset, keeping only
// offset+limit rows.
func NewTopN(child Operator, keys []SortKey, offset, limit int64, mem memory.Allocator) (Operator, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("topn: no keys")
	}
	if limit < 0 || offset < 0 {
		return nil, fmt.Errorf("topn: need offset >= 0 and limit >= 0 (got %d, %d)", offset, limit)
	}
	if offset+limit > 1<<24 {
		return nil, fmt.Errorf("topn: offset+limit %d too large; use a sort", offset+limit)
	}
	exprs := make([]expr.Expr, len(keys))
	for i, k := range keys {
		exprs[i] = k.Expr
	}
	evs, err := compileAll(exprs, mem)
	if err != nil {
		return nil, fmt.Errorf("topn: %w", err)
	}
	return &TopN{child: child, keys: keys, evs: evs, mem: mem, offset: offset, limit: limit, keep: int(offset + limit)}, nil
}

// Schema implements Operator.
func (t *TopN) Schema() *arrow.Schema { return t.child.Schema() }

// Open implements Operator.
func (t *TopN) Open(ctx context.Context) error { return t.child.Open(ctx) }

// Next implements Operator.
func (t *TopN) Next(ctx context.Context) (Message, error) {
	for !t.done {
		if t.limit == 0 { // nothing to emit, whatever the offset: do not read
			t.done = true
			break
		}
		m, err := t.child.Next(ctx)
		if err != nil {
			return Message{}, err
		}
		switch m.Kind {
		case MsgBatch:
			if !m.Batch.AppendOnly() {
				m.Release()
				return Message{}, fmt.Errorf("topn: retractions in the input are not supported")
			}
			err := t.add(ctx, m.Batch.Rec)
			m.Release()
			if err != nil {
				return Message{}, fmt.Errorf("topn: %w", err)
			}
		case MsgEnd:
			t.done = true
		default:
			return m, nil
		}
	}
	if t.emitted || t.buf == nil || int64(t.buf.NumRows()) <= t.offset {
		return EndMsg, nil
	}
	t.emitted = true
	out := t.buf.NewSlice(t.offset, t.buf.NumRows())
	return BatchMsg(out, nil), nil
}

// add merges one batch into the kept rows.
func (t *TopN) add(ctx context.Context, rec arrow.RecordBatch) error {
	all := []arrow.RecordBatch{rec}
	kept := 0
	if t.buf != nil {
		all = []arrow.RecordBatch{t.buf, rec}
		kept = int(t.buf.NumRows())
	}
	merged, err := concatBatches(t.mem, t.child.Schema(), all)
	if err != nil {
		return err
	}
	defer merged.Release()
	cols, err := evalAll(ctx, t.evs, merged)
	if err != nil {
		return err
	}
	defer releaseArrays(cols)
	c, err := keyComparator(t.keys, cols)
	if err != nil {
		return err
	}
	n := int(merged.NumRows())
	cand := make([]int32, 0, min(n, t.keep+64))
	for i := 0; i < kept; i++ {
		cand = append(cand, int32(i))
	}
	full := kept == t.keep
	worst := int32(kept - 1)
	for i := kept; i < n; i++ {
		if full && c(int32(i), worst) >= 0 {
			continue // not better than the worst kept row (ties keep the earlier row)
		}
		cand = append(cand, int32(i))
	}
	if len(cand) == kept && t.buf != nil {
		return nil // nothing new made it
	}
	slices.SortStableFunc(cand, func(a, b int32) int { return c(a, b) })
	if len(cand) > t.keep {
		cand = cand[:t.keep]
	}
	nb, err := takeRecord(t.mem, merged, cand)
	if err != nil {
		return err
	}
	if t.buf != nil {
		t.buf.Release()
	}
	t.buf = nb
	return nil
}

// Close implements Operator.
func (t *TopN) Close() error {
	if t.buf != nil {
		t.buf.Release()
		t.buf = nil
	}
	return t.child.Close()
}

// Children implements Operator.
func (t *TopN) Children() []Operator { return []Operator{t.child} }

// String implements Operator.
func (t *TopN) String() string {
	return fmt.Sprintf("TopN(%s, offset=%d, limit=%d)", sortKeysString(t.keys), t.offset, t.limit)
}
