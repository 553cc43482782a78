package exec

import (
	"context"
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

// Sort is a blocking ORDER BY over bounded input: it buffers every batch,
// and at End sorts row indices with typed comparators (a radix sort for a
// single numeric key) and emits the rows in order, gathering one output
// chunk per Next. Change kinds travel with their rows. Watermarks and
// barriers are forwarded as they arrive (nothing can be emitted before End).
type Sort struct {
	child   Operator
	keys    []SortKey
	evs     []expr.Evaluator
	mem     memory.Allocator
	batches []arrow.RecordBatch
	ops     []ChangeKind
	hasOps  bool
	nrows   int

	sorted arrow.RecordBatch
	order  []int32
	// keyCol >= 0: output column keyCol is decoded from sortedKeys.
	keyCol     int
	sortedKeys []radixKV
	pos        int
	done       bool
}

// NewSort returns an operator that buffers its whole input and emits it in
// key order at End.
func NewSort(child Operator, keys []SortKey, mem memory.Allocator) (Operator, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("sort: no keys")
	}
	exprs := make([]expr.Expr, len(keys))
	for i, k := range keys {
		if kindOf(k.Expr.Type()) == kInvalid && k.Expr.Type().ID() != arrow.NULL {
			return nil, fmt.Errorf("sort: cannot order by %s of type %s", k.Expr, k.Expr.Type())
		}
		exprs[i] = k.Expr
	}
	evs, err := compileAll(exprs, mem)
	if err != nil {
		return nil, fmt.Errorf("sort: %w", err)
	}
	return &Sort{child: child, keys: keys, evs: evs, mem: mem, keyCol: -1}, nil
}

// Schema implements Operator.
func (s *Sort) Schema() *arrow.Schema { return s.child.Schema() }

// Open implements Operator.
func (s *Sort) Open(ctx context.Context) error { return s.child.Open(ctx) }

// Next implements Operator.
func (s *Sort) Next(ctx context.Context) (Message, error) {
	for s.sorted == nil && !s.done {
		m, err := s.child.Next(ctx)
		if err != nil {
			return Message{}, err
		}
		switch m.Kind {
		case MsgBatch:
			s.batches = append(s.batches, m.Batch.Rec)
			n := int(m.Batch.Rec.NumRows())
			if m.Batch.Ops != nil && !m.Batch.AppendOnly() {
				if !s.hasOps {
					s.ops = make([]ChangeKind, s.nrows, s.nrows+n)
					s.hasOps = true
				}
				s.ops = append(s.ops, m.Batch.Ops...)
			} else if s.hasOps {
				s.ops = append(s.ops, make([]ChangeKind, n)...)
			}
			s.nrows += n
		case MsgEnd:
			if err := s.sort(ctx); err != nil {
				return Message{}, fmt.Errorf("sort: %w", err)
			}
			s.done = true
		default:
			return m, nil
		}
	}
	if s.sorted == nil || s.pos >= len(s.order) {
		return EndMsg, nil
	}
	end := min(len(s.order), s.pos+outputChunk)
	sel := s.order[s.pos:end]
	cols := make([]arrow.Array, s.sorted.NumCols())
	for i := range cols {
		if i == s.keyCol {
			cols[i] = s.sortedKeyArray(s.pos, end)
			continue
		}
		a, err := takeArray(s.mem, s.sorted.Column(i), sel)
		if err != nil {
			releaseArrays(cols)
			return Message{}, fmt.Errorf("sort: %w", err)
		}
		cols[i] = a
	}
	rec := array.NewRecordBatch(s.sorted.Schema(), cols, int64(len(sel)))
	releaseArrays(cols)
	var ops []ChangeKind
	if s.hasOps {
		ops = make([]ChangeKind, len(sel))
		for j, i := range sel {
			ops[j] = s.ops[i]
		}
	}
	s.pos = end
	return BatchMsg(rec, ops), nil
}

// sort concatenates the input and orders its row indices.
func (s *Sort) sort(ctx context.Context) error {
	rec, err := concatBatches(s.mem, s.child.Schema(), s.batches)
	for _, b := range s.batches {
		b.Release()
	}
	s.batches = nil
	if err != nil {
		return err
	}
	s.sorted = rec
	cols, err := evalAll(ctx, s.evs, rec)
	if err != nil {
		return err
	}
	defer releaseArrays(cols)
	var sortedKeys []radixKV
	s.order, sortedKeys, err = sortIndices(s.keys, cols, int(rec.NumRows()))
	// A BIGINT sort key that is a plain column without NULLs comes out of
	// the radix sort already in order: decode it instead of gathering it.
	if c, ok := s.keys[0].Expr.(*expr.Column); ok && sortedKeys != nil && cols[0].NullN() == 0 && cols[0].DataType().ID() == arrow.INT64 {
		s.keyCol = c.Index
		s.sortedKeys = sortedKeys
	}
	return err
}

// sortedKeyArray decodes the sorted radix keys of rows [start, end).
func (s *Sort) sortedKeyArray(start, end int) arrow.Array {
	b := array.NewInt64Builder(s.mem)
	defer b.Release()
	out := make([]int64, end-start)
	desc := s.keys[0].Desc
	for j, e := range s.sortedKeys[start:end] {
		k := e.k
		if desc {
			k = ^k
		}
		out[j] = int64(k ^ (1 << 63))
	}
	b.AppendValues(out, nil)
	return b.NewArray()
}

// sortIndices returns the row order of n rows by keys (cols: one array per
// key). For a single numeric key it radix-sorts and also returns the sorted
// radix keys of the non-NULL rows (in the order of rest).
func sortIndices(keys []SortKey, cols []arrow.Array, n int) ([]int32, []radixKV, error) {
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	if n < 2 {
		return idx, nil, nil
	}
	if len(keys) == 1 {
		rest := nullPartition(cols[0], idx, keys[0].NullsFirst)
		if kv, ok := radixKVs(cols[0], keys[0].Desc, rest); ok {
			radixSort(kv, rest)
			return idx, kv, nil
		}
	}
	c, err := keyComparator(keys, cols)
	if err != nil {
		return nil, nil, err
	}
	slices.SortStableFunc(idx, func(a, b int32) int { return c(a, b) })
	return idx, nil, nil
}

// Close implements Operator.
func (s *Sort) Close() error {
	for _, b := range s.batches {
		b.Release()
	}
	s.batches = nil
	if s.sorted != nil {
		s.sorted.Release()
		s.sorted = nil
	}
	return s.child.Close()
}

// Children implements Operator.
func (s *Sort) Children() []Operator { return []Operator{s.child} }

// String implements Operator.
func (s *Sort) String() string { return "Sort(" + sortKeysString(s.keys) + ")" }
