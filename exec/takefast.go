package exec

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// takeFast is a typed gather for the common column types; nil means "not
// handled here" and the caller falls back to the compute Take kernel.
func takeFast(mem memory.Allocator, arr arrow.Array, sel []int32) arrow.Array {
	switch a := arr.(type) {
	case *array.Int64:
		return takeFixed(mem, arr, a.Int64Values(), sel, 8)
	case *array.Float64:
		return takeFixed(mem, arr, a.Float64Values(), sel, 8)
	case *array.Int32:
		return takeFixed(mem, arr, a.Int32Values(), sel, 4)
	case *array.Timestamp:
		return takeFixed(mem, arr, a.TimestampValues(), sel, 8)
	case *array.Date32:
		return takeFixed(mem, arr, a.Date32Values(), sel, 4)
	case *array.String:
		return takeString(mem, a, sel)
	}
	return nil
}

// takeNulls builds the validity bitmap of the result (nil when no NULLs).
func takeNulls(mem memory.Allocator, arr arrow.Array, sel []int32) (*memory.Buffer, int) {
	hasNeg := false
	for _, i := range sel {
		if i < 0 {
			hasNeg = true
			break
		}
	}
	if arr.NullN() == 0 && !hasNeg {
		return nil, 0
	}
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(int(bitutil.BytesForBits(int64(len(sel)))))
	bits := buf.Bytes()
	for i := range bits {
		bits[i] = 0
	}
	nulls := 0
	for j, i := range sel {
		if i >= 0 && arr.IsValid(int(i)) {
			bitutil.SetBit(bits, j)
		} else {
			nulls++
		}
	}
	return buf, nulls
}

func takeFixed[T arrow.FixedWidthType](mem memory.Allocator, arr arrow.Array, vals []T, sel []int32, width int) arrow.Array {
	n := len(sel)
	valid, nulls := takeNulls(mem, arr, sel)
	data := memory.NewResizableBuffer(mem)
	data.Resize(n * width)
	out := arrow.GetData[T](data.Bytes())[:n]
	var zero T
	for j, i := range sel {
		if i >= 0 {
			out[j] = vals[i]
		} else {
			out[j] = zero
		}
	}
	d := array.NewData(arr.DataType(), n, []*memory.Buffer{valid, data}, nil, nulls, 0)
	if valid != nil {
		valid.Release()
	}
	data.Release()
	res := array.MakeFromData(d)
	d.Release()
	return res
}

func takeString(mem memory.Allocator, a *array.String, sel []int32) arrow.Array {
	n := len(sel)
	valid, nulls := takeNulls(mem, a, sel)
	offs := memory.NewResizableBuffer(mem)
	offs.Resize((n + 1) * 4)
	o := arrow.Int32Traits.CastFromBytes(offs.Bytes())
	total := 0
	for j, i := range sel {
		o[j] = int32(total)
		if i >= 0 {
			total += a.ValueLen(int(i))
		}
	}
	o[n] = int32(total)
	data := memory.NewResizableBuffer(mem)
	data.Resize(total)
	bs := data.Bytes()
	ao := a.ValueOffsets()
	raw := a.ValueBytes()
	base := ao[0]
	for j, i := range sel {
		if i >= 0 {
			copy(bs[o[j]:o[j+1]], raw[ao[i]-base:ao[i+1]-base])
		}
	}
	d := array.NewData(a.DataType(), n, []*memory.Buffer{valid, offs, data}, nil, nulls, 0)
	if valid != nil {
		valid.Release()
	}
	offs.Release()
	data.Release()
	res := array.MakeFromData(d)
	d.Release()
	return res
}
