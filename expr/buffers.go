package expr

import (
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// fixed is the set of fixed-width Go value types stored in Arrow buffers.
type fixed interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

// values reinterprets the value buffer of a fixed-width array as []T,
// honouring the array offset.
func values[T any](arr arrow.Array) []T {
	d := arr.Data()
	bufs := d.Buffers()
	if len(bufs) < 2 || bufs[1] == nil || arr.Len() == 0 {
		return nil
	}
	b := bufs[1].Bytes()
	var zero T
	size := int(unsafe.Sizeof(zero))
	all := unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/size)
	return all[d.Offset() : d.Offset()+d.Len()]
}

// allocFixed allocates an uninitialised buffer for n values of T.
func allocFixed[T any](mem memory.Allocator, n int) (*memory.Buffer, []T) {
	var zero T
	size := int(unsafe.Sizeof(zero))
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(n * size)
	if n == 0 {
		return buf, nil
	}
	b := buf.Bytes()
	return buf, unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// allocBits allocates a zeroed bitmap of n bits.
func allocBits(mem memory.Allocator, n int) (*memory.Buffer, []byte) {
	buf := memory.NewResizableBuffer(mem)
	nb := int(bitutil.BytesForBits(int64(n)))
	buf.Resize(nb)
	b := buf.Bytes()
	clear(b)
	return buf, b
}

// makeArray wraps buffers into an array and drops the local references.
// validity may be nil (no nulls).
func makeArray(dt arrow.DataType, n int, validity, vals *memory.Buffer, nulls int) arrow.Array {
	if nulls == 0 && validity != nil {
		validity.Release()
		validity = nil
	}
	data := array.NewData(dt, n, []*memory.Buffer{validity, vals}, nil, nulls, 0)
	arr := array.MakeFromData(data)
	data.Release()
	if validity != nil {
		validity.Release()
	}
	if vals != nil {
		vals.Release()
	}
	return arr
}

// validityOf returns the validity bitmap of arr re-based to offset 0 (a
// fresh copy if arr is sliced at a non-zero offset) or nil when arr has no
// nulls. The caller must not modify the result.
func validityOf(arr arrow.Array) (bits []byte, owned *memory.Buffer) {
	if arr.NullN() == 0 {
		return nil, nil
	}
	if arr.DataType().ID() == arrow.NULL {
		return make([]byte, bitutil.BytesForBits(int64(arr.Len()))), nil
	}
	d := arr.Data()
	b := d.Buffers()[0].Bytes()
	if d.Offset() == 0 {
		return b, nil
	}
	out := make([]byte, bitutil.BytesForBits(int64(arr.Len())))
	bitutil.CopyBitmap(b, d.Offset(), arr.Len(), out, 0)
	return out, nil
}

// andValidity computes the validity of a result that is NULL where any of
// arrs is NULL. It returns a nil buffer when no input has nulls.
func andValidity(mem memory.Allocator, n int, arrs ...arrow.Array) (*memory.Buffer, int) {
	var buf *memory.Buffer
	var out []byte
	for _, a := range arrs {
		if a == nil || a.NullN() == 0 {
			continue
		}
		if a.NullN() == a.Len() || a.DataType().ID() == arrow.NULL {
			if buf == nil {
				buf, out = allocBits(mem, n)
			} else {
				clear(out)
			}
			return buf, n
		}
		d := a.Data()
		src := d.Buffers()[0].Bytes()
		if buf == nil {
			buf, out = allocBits(mem, n)
			bitutil.CopyBitmap(src, d.Offset(), n, out, 0)
		} else {
			bitutil.BitmapAnd(out, src, 0, int64(d.Offset()), out, 0, int64(n))
		}
	}
	if buf == nil {
		return nil, 0
	}
	nulls := n - bitutil.CountSetBits(out, 0, n)
	return buf, nulls
}

// isValid reports whether row i of bitmap bits (nil = all valid) is set.
func isValid(bits []byte, i int) bool {
	return bits == nil || bits[i>>3]&(1<<(uint(i)&7)) != 0
}

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// boolArray builds a BOOLEAN array from a values bitmap and a validity.
func boolArray(n int, validity, vals *memory.Buffer, nulls int) arrow.Array {
	return makeArray(tBool, n, validity, vals, nulls)
}

// boolBits returns the values bitmap of a Boolean array re-based to offset 0.
func boolBits(arr arrow.Array) []byte {
	d := arr.Data()
	if len(d.Buffers()) < 2 || d.Buffers()[1] == nil {
		// Empty arrays from builders may have no value buffer.
		return make([]byte, bitutil.BytesForBits(int64(arr.Len())))
	}
	b := d.Buffers()[1].Bytes()
	if d.Offset() == 0 {
		return b
	}
	out := make([]byte, bitutil.BytesForBits(int64(arr.Len())))
	bitutil.CopyBitmap(b, d.Offset(), arr.Len(), out, 0)
	return out
}

// nullArray returns an all-NULL array of type dt.
func nullArray(mem memory.Allocator, dt arrow.DataType, n int) arrow.Array {
	return array.MakeArrayOfNull(mem, dt, n)
}

func unsafeI64(s []uint64) []int64 {
	return unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

func unsafeF64(s []uint64) []float64 {
	return unsafe.Slice((*float64)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}
