package exec

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// takeRecord gathers rows sel of rec into a new batch. A negative index
// yields a row of NULLs (outer joins).
func takeRecord(mem memory.Allocator, rec arrow.RecordBatch, sel []int32) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, rec.NumCols())
	for i := range cols {
		a, err := takeArray(mem, rec.Column(i), sel)
		if err != nil {
			releaseArrays(cols[:i])
			return nil, err
		}
		cols[i] = a
	}
	out := array.NewRecordBatch(rec.Schema(), cols, int64(len(sel)))
	releaseArrays(cols)
	return out, nil
}

// takeArray gathers arr[sel[i]]; negative indices give NULL.
func takeArray(mem memory.Allocator, arr arrow.Array, sel []int32) (arrow.Array, error) {
	if a := takeFast(mem, arr, sel); a != nil {
		return a, nil
	}
	b := array.NewInt32Builder(mem)
	defer b.Release()
	b.Reserve(len(sel))
	for _, i := range sel {
		if i < 0 {
			b.AppendNull()
		} else {
			b.UnsafeAppend(i)
		}
	}
	idx := b.NewArray()
	defer idx.Release()
	ctx := compute.WithAllocator(context.Background(), mem)
	out, err := compute.TakeArray(ctx, arr, idx)
	if err != nil {
		return nil, fmt.Errorf("take %s: %w", arr.DataType(), err)
	}
	return out, nil
}
