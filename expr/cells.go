package expr

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// appendCell appends row i of src to b (same type) — the generic path for
// row-selecting operators (CASE, COALESCE, field access fallbacks).
func appendCell(b array.Builder, src arrow.Array, i int) {
	if src.IsNull(i) || src.DataType().ID() == arrow.NULL {
		b.AppendNull()
		return
	}
	switch bb := b.(type) {
	case *array.Int64Builder:
		bb.Append(src.(*array.Int64).Value(i))
	case *array.Float64Builder:
		bb.Append(src.(*array.Float64).Value(i))
	case *array.StringBuilder:
		bb.Append(src.(*array.String).Value(i))
	case *array.BooleanBuilder:
		bb.Append(src.(*array.Boolean).Value(i))
	case *array.BinaryBuilder:
		bb.Append(src.(*array.Binary).Value(i))
	case *array.Decimal128Builder:
		bb.Append(src.(*array.Decimal128).Value(i))
	case *array.TimestampBuilder:
		bb.Append(src.(*array.Timestamp).Value(i))
	case *array.Date32Builder:
		bb.Append(src.(*array.Date32).Value(i))
	case *array.Time64Builder:
		bb.Append(src.(*array.Time64).Value(i))
	case *array.Int32Builder:
		bb.Append(src.(*array.Int32).Value(i))
	case *array.Uint64Builder:
		bb.Append(src.(*array.Uint64).Value(i))
	case *array.StructBuilder:
		s := src.(*array.Struct)
		bb.Append(true)
		for f := 0; f < s.NumField(); f++ {
			appendCell(bb.FieldBuilder(f), s.Field(f), i)
		}
	case *array.ListBuilder:
		l := src.(*array.List)
		start, end := l.ValueOffsets(i)
		bb.Append(true)
		vb := bb.ValueBuilder()
		for j := start; j < end; j++ {
			appendCell(vb, l.ListValues(), int(j))
		}
	case *array.MapBuilder:
		m := src.(*array.Map)
		start, end := m.ValueOffsets(i)
		bb.Append(true)
		for j := start; j < end; j++ {
			appendCell(bb.KeyBuilder(), m.Keys(), int(j))
			appendCell(bb.ItemBuilder(), m.Items(), int(j))
		}
	default:
		if err := appendValue(b, Scalar(src, i)); err != nil {
			b.AppendNull()
		}
	}
}

// pickRows builds an array of type t whose row i is row i of
// srcs[choice[i]], or NULL when choice[i] < 0.
func pickRows(mem memory.Allocator, t arrow.DataType, n int, choice []int32, srcs []arrow.Array) arrow.Array {
	switch t.ID() {
	case arrow.INT64, arrow.TIMESTAMP, arrow.TIME64:
		return pickFixed[int64](mem, t, n, choice, srcs)
	case arrow.FLOAT64:
		return pickFixed[float64](mem, t, n, choice, srcs)
	case arrow.INT32, arrow.DATE32:
		return pickFixed[int32](mem, t, n, choice, srcs)
	case arrow.NULL:
		return nullArray(mem, t, n)
	}
	b := array.NewBuilder(mem, t)
	defer b.Release()
	b.Reserve(n)
	for i := 0; i < n; i++ {
		if choice[i] < 0 {
			b.AppendNull()
			continue
		}
		appendCell(b, srcs[choice[i]], i)
	}
	return b.NewArray()
}

func pickFixed[T fixed](mem memory.Allocator, t arrow.DataType, n int, choice []int32, srcs []arrow.Array) arrow.Array {
	vals := make([][]T, len(srcs))
	for k, s := range srcs {
		if s.DataType().ID() != arrow.NULL {
			vals[k] = values[T](s)
		}
	}
	buf, r := allocFixed[T](mem, n)
	vbuf, valid := allocBits(mem, n)
	nulls := 0
	for i := 0; i < n; i++ {
		k := choice[i]
		if k < 0 || srcs[k].IsNull(i) {
			r[i] = 0
			nulls++
			continue
		}
		r[i] = vals[k][i]
		valid[i>>3] |= 1 << (uint(i) & 7)
	}
	return makeArray(t, n, vbuf, buf, nulls)
}

// takeRows builds a record batch of the given rows of rec (arrow's take
// kernel: every column type is supported).
func takeRows(ctx context.Context, mem memory.Allocator, rec arrow.RecordBatch, rows []int) (arrow.RecordBatch, error) {
	ib := array.NewInt32Builder(mem)
	for _, r := range rows {
		ib.Append(int32(r))
	}
	idx := ib.NewArray()
	ib.Release()
	defer idx.Release()
	ctx = compute.WithAllocator(ctx, mem)
	cols := make([]arrow.Array, rec.NumCols())
	for c := range cols {
		out, err := compute.TakeArray(ctx, rec.Column(c), idx)
		if err != nil {
			releaseAll(cols)
			return nil, &Error{Msg: "selecting rows: " + err.Error()}
		}
		cols[c] = out
	}
	out := array.NewRecordBatch(rec.Schema(), cols, int64(len(rows)))
	releaseAll(cols)
	return out, nil
}

// evalOnRows evaluates ev only on the given rows of rec and returns an
// array of rec's length with those rows filled and NULL elsewhere. CASE
// uses it to retry a branch whose whole-batch evaluation failed (e.g. an
// overflow on rows the branch does not take).
func evalOnRows(ctx context.Context, ev Evaluator, rec arrow.RecordBatch, rows []int, t arrow.DataType, mem memory.Allocator) (arrow.Array, error) {
	sub, err := takeRows(ctx, mem, rec, rows)
	if err != nil {
		return nil, err
	}
	defer sub.Release()
	vals, err := ev.Eval(ctx, sub)
	if err != nil {
		return nil, err
	}
	defer vals.Release()
	n := int(rec.NumRows())
	b := array.NewBuilder(mem, t)
	defer b.Release()
	b.Reserve(n)
	k := 0
	for i := 0; i < n; i++ {
		if k < len(rows) && rows[k] == i {
			appendCell(b, vals, k)
			k++
		} else {
			b.AppendNull()
		}
	}
	return b.NewArray(), nil
}
