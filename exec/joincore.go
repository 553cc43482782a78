package exec

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

// joinChunk bounds the rows of one join output batch.
const joinChunk = 1 << 16

// joinCore turns candidate (left row, build row) pairs into join output; it
// is shared by the hash join (candidates: equal keys) and the nested loop
// join (candidates: every pair). The build side is one record batch.
type joinCore struct {
	typ      JoinType
	mem      memory.Allocator
	schema   *arrow.Schema // output
	pairs    *arrow.Schema // left fields then right fields
	residual expr.Evaluator
	build    arrow.RecordBatch
	matched  []bool // build rows matched so far (right and full joins)
	// sameKey maps a right column to the left column it equals on every
	// matched row (plain column equi-keys of identical, non-float type).
	sameKey map[int]int
}

// equalKeyColumns finds right columns that are copies of left columns on
// matched rows: key pairs that are plain columns of the same type (floats
// excluded: -0 = 0 but the bits differ).
func equalKeyColumns(leftKeys, rightKeys []expr.Expr) map[int]int {
	m := map[int]int{}
	for k := range leftKeys {
		lc, ok1 := leftKeys[k].(*expr.Column)
		rc, ok2 := rightKeys[k].(*expr.Column)
		if ok1 && ok2 && arrow.TypeEqual(lc.T, rc.T) && kindOf(lc.T) != kFloat && kindOf(lc.T) != kInvalid {
			m[rc.Index] = lc.Index
		}
	}
	return m
}

func joinSchemas(left, right *arrow.Schema, typ JoinType) (out, pairs *arrow.Schema) {
	fields := make([]arrow.Field, 0, left.NumFields()+right.NumFields())
	for _, f := range left.Fields() {
		if typ == RightJoin || typ == FullJoin {
			f.Nullable = true
		}
		fields = append(fields, f)
	}
	for _, f := range right.Fields() {
		if typ == LeftJoin || typ == FullJoin {
			f.Nullable = true
		}
		fields = append(fields, f)
	}
	pairs = arrow.NewSchema(fields, nil)
	if typ == SemiJoin || typ == AntiJoin {
		return left, pairs
	}
	return pairs, pairs
}

// setBuild installs the build side (ownership passes to the core).
func (c *joinCore) setBuild(rec arrow.RecordBatch) {
	c.build = rec
	if c.typ == RightJoin || c.typ == FullJoin {
		c.matched = make([]bool, rec.NumRows())
	}
}

func (c *joinCore) release() {
	if c.build != nil {
		c.build.Release()
		c.build = nil
	}
}

// combine gathers the pair rows (negative index: NULLs) into one batch of
// schema s (left columns, then right columns if s has them).
func (c *joinCore) combine(s *arrow.Schema, left arrow.RecordBatch, lsel, rsel []int32) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, 0, s.NumFields())
	fail := func(err error) (arrow.RecordBatch, error) {
		releaseArrays(cols)
		return nil, err
	}
	nl := int(left.NumCols())
	ident := isIdentity(lsel, int(left.NumRows()))
	for i := 0; i < nl; i++ {
		if ident {
			// Every left row once, in order (the common inner join on a
			// key): share the column instead of copying it.
			a := left.Column(i)
			a.Retain()
			cols = append(cols, a)
			continue
		}
		a, err := takeArray(c.mem, left.Column(i), lsel)
		if err != nil {
			return fail(err)
		}
		cols = append(cols, a)
	}
	if s.NumFields() > nl {
		allMatched := len(rsel) > 0 && c.typ != LeftJoin && c.typ != FullJoin
		for i := 0; i < int(c.build.NumCols()); i++ {
			if li, ok := c.sameKey[i]; ok && allMatched {
				// An equi-join key: on matched rows the right value equals
				// the left one, which is already in the output.
				a := cols[li]
				a.Retain()
				cols = append(cols, a)
				continue
			}
			a, err := takeArray(c.mem, c.build.Column(i), rsel)
			if err != nil {
				return fail(err)
			}
			cols = append(cols, a)
		}
	}
	rec := array.NewRecordBatch(s, cols, int64(len(lsel)))
	releaseArrays(cols)
	return rec, nil
}

// isIdentity reports whether sel is exactly 0, 1, ..., n-1.
func isIdentity(sel []int32, n int) bool {
	if len(sel) != n {
		return false
	}
	for i, v := range sel {
		if int(v) != i {
			return false
		}
	}
	return true
}

// process joins rows [lo, hi) of the left batch b given every candidate
// pair among them (lsel[k], rsel[k]) and returns the output messages.
func (c *joinCore) process(ctx context.Context, b Batch, lo, hi int, lsel, rsel []int32) ([]Message, error) {
	left := b.Rec
	// Apply the residual condition to the candidates.
	if c.residual != nil && len(lsel) > 0 {
		var err error
		if lsel, rsel, err = c.filterPairs(ctx, left, lsel, rsel); err != nil {
			return nil, err
		}
	}
	var outL, outR []int32
	switch c.typ {
	case InnerJoin:
		outL, outR = lsel, rsel
	case RightJoin:
		outL, outR = lsel, rsel
		for _, r := range rsel {
			c.matched[r] = true
		}
	case LeftJoin, FullJoin, SemiJoin, AntiJoin:
		hit := make([]bool, hi-lo)
		for _, l := range lsel {
			hit[int(l)-lo] = true
		}
		if c.typ == FullJoin {
			for _, r := range rsel {
				c.matched[r] = true
			}
		}
		switch c.typ {
		case LeftJoin, FullJoin:
			outL, outR = lsel, rsel
			for i, h := range hit {
				if !h {
					outL = append(outL, int32(lo+i))
					outR = append(outR, -1)
				}
			}
		case SemiJoin, AntiJoin:
			want := c.typ == SemiJoin
			for i, h := range hit {
				if h == want {
					outL = append(outL, int32(lo+i))
				}
			}
		}
	}
	return c.emit(left, b.Ops, outL, outR)
}

// emit materializes output pairs in chunks, carrying the left rows' ops.
func (c *joinCore) emit(left arrow.RecordBatch, ops []ChangeKind, outL, outR []int32) ([]Message, error) {
	var msgs []Message
	for start := 0; start < len(outL); start += joinChunk {
		end := min(len(outL), start+joinChunk)
		var rs []int32
		if outR != nil {
			rs = outR[start:end]
		}
		rec, err := c.combine(c.schema, left, outL[start:end], rs)
		if err != nil {
			for _, m := range msgs {
				m.Release()
			}
			return nil, err
		}
		var outOps []ChangeKind
		if ops != nil {
			outOps = make([]ChangeKind, end-start)
			for j, l := range outL[start:end] {
				outOps[j] = ops[l]
			}
		}
		msgs = append(msgs, BatchMsg(rec, outOps))
	}
	return msgs, nil
}

// filterPairs keeps the candidate pairs for which the residual is TRUE.
func (c *joinCore) filterPairs(ctx context.Context, left arrow.RecordBatch, lsel, rsel []int32) ([]int32, []int32, error) {
	rec, err := c.combine(c.pairs, left, lsel, rsel)
	if err != nil {
		return nil, nil, err
	}
	defer rec.Release()
	res, err := c.residual.Eval(ctx, rec)
	if err != nil {
		return nil, nil, fmt.Errorf("join condition: %w", err)
	}
	defer res.Release()
	mask, ok := res.(*array.Boolean)
	if !ok {
		if res.DataType().ID() == arrow.NULL {
			return lsel[:0], rsel[:0], nil
		}
		return nil, nil, fmt.Errorf("join condition is %s, not BOOLEAN", res.DataType())
	}
	k := 0
	for j := range lsel {
		if mask.IsValid(j) && mask.Value(j) {
			lsel[k], rsel[k] = lsel[j], rsel[j]
			k++
		}
	}
	return lsel[:k], rsel[:k], nil
}

// finish emits, for a right or full join, the build rows that never matched.
func (c *joinCore) finish(leftSchema *arrow.Schema) ([]Message, error) {
	if (c.typ != RightJoin && c.typ != FullJoin) || c.build == nil {
		return nil, nil
	}
	var rs []int32
	for r, m := range c.matched {
		if !m {
			rs = append(rs, int32(r))
		}
	}
	var msgs []Message
	for start := 0; start < len(rs); start += joinChunk {
		end := min(len(rs), start+joinChunk)
		n := end - start
		cols := make([]arrow.Array, 0, c.schema.NumFields())
		for _, f := range leftSchema.Fields() {
			cols = append(cols, array.MakeArrayOfNull(c.mem, f.Type, n))
		}
		for i := 0; i < int(c.build.NumCols()); i++ {
			a, err := takeArray(c.mem, c.build.Column(i), rs[start:end])
			if err != nil {
				releaseArrays(cols)
				return msgs, err
			}
			cols = append(cols, a)
		}
		rec := array.NewRecordBatch(c.schema, cols, int64(n))
		releaseArrays(cols)
		msgs = append(msgs, BatchMsg(rec, nil))
	}
	return msgs, nil
}

// concatBatches concatenates batches of schema s into one (ownership of
// the inputs stays with the caller).
func concatBatches(mem memory.Allocator, s *arrow.Schema, recs []arrow.RecordBatch) (arrow.RecordBatch, error) {
	if len(recs) == 1 {
		recs[0].Retain()
		return recs[0], nil
	}
	var n int64
	for _, r := range recs {
		n += r.NumRows()
	}
	cols := make([]arrow.Array, s.NumFields())
	for i := range cols {
		if len(recs) == 0 {
			cols[i] = array.MakeArrayOfNull(mem, s.Field(i).Type, 0)
			continue
		}
		parts := make([]arrow.Array, len(recs))
		for j, r := range recs {
			parts[j] = r.Column(i)
		}
		a, err := array.Concatenate(parts, mem)
		if err != nil {
			releaseArrays(cols)
			return nil, err
		}
		cols[i] = a
	}
	rec := array.NewRecordBatch(s, cols, n)
	releaseArrays(cols)
	return rec, nil
}
