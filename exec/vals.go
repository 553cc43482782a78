package exec

import (
	"fmt"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// vkind groups Arrow types by the Go type operators compute with: all
// signed integers, booleans and temporal types as int64, unsigned as
// uint64, floats as float64, strings and binaries as string, decimals as
// decimal128.Num. Hash tables, aggregates, sorts and windows work per kind
// and convert back to the column's Arrow type when they build output.
type vkind uint8

const (
	kInvalid vkind = iota
	kInt
	kUint
	kFloat
	kString
	kDecimal
)

func kindOf(dt arrow.DataType) vkind {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.BOOL,
		arrow.DATE32, arrow.DATE64, arrow.TIME32, arrow.TIME64, arrow.TIMESTAMP, arrow.DURATION:
		return kInt
	case arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return kUint
	case arrow.FLOAT32, arrow.FLOAT64:
		return kFloat
	case arrow.STRING, arrow.BINARY, arrow.LARGE_STRING, arrow.LARGE_BINARY:
		return kString
	case arrow.DECIMAL128:
		return kDecimal
	}
	return kInvalid
}

// int64sOf returns the values of a kInt array as int64s: the array's own
// buffer for Int64/Timestamp/..., else a converted copy in scratch.
func int64sOf(a arrow.Array, scratch []int64) []int64 {
	switch x := a.(type) {
	case *array.Int64:
		return x.Int64Values()
	case *array.Timestamp:
		return arrow.Int64Traits.CastFromBytes(arrow.TimestampTraits.CastToBytes(x.TimestampValues()))
	case *array.Duration:
		return arrow.Int64Traits.CastFromBytes(arrow.DurationTraits.CastToBytes(x.DurationValues()))
	case *array.Time64:
		return arrow.Int64Traits.CastFromBytes(arrow.Time64Traits.CastToBytes(x.Time64Values()))
	case *array.Date64:
		return arrow.Int64Traits.CastFromBytes(arrow.Date64Traits.CastToBytes(x.Date64Values()))
	}
	n := a.Len()
	if cap(scratch) < n {
		scratch = make([]int64, n)
	}
	out := scratch[:n]
	switch x := a.(type) {
	case *array.Int32:
		for i, v := range x.Int32Values() {
			out[i] = int64(v)
		}
	case *array.Int16:
		for i, v := range x.Int16Values() {
			out[i] = int64(v)
		}
	case *array.Int8:
		for i, v := range x.Int8Values() {
			out[i] = int64(v)
		}
	case *array.Date32:
		for i, v := range x.Date32Values() {
			out[i] = int64(v)
		}
	case *array.Time32:
		for i, v := range x.Time32Values() {
			out[i] = int64(v)
		}
	case *array.Boolean:
		for i := range out {
			if x.Value(i) {
				out[i] = 1
			} else {
				out[i] = 0
			}
		}
	default:
		panic(fmt.Sprintf("int64sOf: %s", a.DataType()))
	}
	return out
}

func uint64sOf(a arrow.Array, scratch []uint64) []uint64 {
	if x, ok := a.(*array.Uint64); ok {
		return x.Uint64Values()
	}
	n := a.Len()
	if cap(scratch) < n {
		scratch = make([]uint64, n)
	}
	out := scratch[:n]
	switch x := a.(type) {
	case *array.Uint32:
		for i, v := range x.Uint32Values() {
			out[i] = uint64(v)
		}
	case *array.Uint16:
		for i, v := range x.Uint16Values() {
			out[i] = uint64(v)
		}
	case *array.Uint8:
		for i, v := range x.Uint8Values() {
			out[i] = uint64(v)
		}
	default:
		panic(fmt.Sprintf("uint64sOf: %s", a.DataType()))
	}
	return out
}

func float64sOf(a arrow.Array, scratch []float64) []float64 {
	if x, ok := a.(*array.Float64); ok {
		return x.Float64Values()
	}
	n := a.Len()
	if cap(scratch) < n {
		scratch = make([]float64, n)
	}
	out := scratch[:n]
	switch x := a.(type) {
	case *array.Float32:
		for i, v := range x.Float32Values() {
			out[i] = float64(v)
		}
	default:
		panic(fmt.Sprintf("float64sOf: %s", a.DataType()))
	}
	return out
}

// stringsOf returns zero-copy string views of a string/binary array; the
// views are only valid while the array is alive (clone before keeping).
func stringsOf(a arrow.Array, scratch []string) []string {
	n := a.Len()
	if cap(scratch) < n {
		scratch = make([]string, n)
	}
	out := scratch[:n]
	switch x := a.(type) {
	case *array.String:
		for i := range out {
			out[i] = x.Value(i)
		}
	case *array.LargeString:
		for i := range out {
			out[i] = x.Value(i)
		}
	case *array.Binary:
		for i := range out {
			out[i] = unsafeString(x.Value(i))
		}
	case *array.LargeBinary:
		for i := range out {
			out[i] = unsafeString(x.Value(i))
		}
	default:
		panic(fmt.Sprintf("stringsOf: %s", a.DataType()))
	}
	return out
}

func decimalsOf(a arrow.Array) []decimal128.Num {
	return a.(*array.Decimal128).Values()
}

// normFloat maps -0 to 0 and every NaN to one NaN so equal SQL values hash
// and compare equal.
func normFloat(f float64) float64 {
	if f == 0 {
		return 0
	}
	if f != f {
		return math.NaN()
	}
	return f
}

// colStore keeps a growing column of values of one Arrow type in Go slices,
// with random access, and builds Arrow arrays of any subset. Group keys and
// MIN/MAX states live in colStores.
type colStore struct {
	dt    arrow.DataType
	kind  vkind
	i64   []int64
	u64   []uint64
	f64   []float64
	str   []string
	dec   []decimal128.Num
	valid []bool
}

func newColStore(dt arrow.DataType) (*colStore, error) {
	k := kindOf(dt)
	if k == kInvalid {
		return nil, fmt.Errorf("type %s is not supported here", dt)
	}
	return &colStore{dt: dt, kind: k}, nil
}

func (c *colStore) len() int { return len(c.valid) }

// appendNull appends a NULL.
func (c *colStore) appendNull() {
	c.valid = append(c.valid, false)
	switch c.kind {
	case kInt:
		c.i64 = append(c.i64, 0)
	case kUint:
		c.u64 = append(c.u64, 0)
	case kFloat:
		c.f64 = append(c.f64, 0)
	case kString:
		c.str = append(c.str, "")
	case kDecimal:
		c.dec = append(c.dec, decimal128.Num{})
	}
}

// appendFrom appends a[i] (cloning strings).
func (c *colStore) appendFrom(a arrow.Array, i int) {
	if a.IsNull(i) {
		c.appendNull()
		return
	}
	c.valid = append(c.valid, true)
	switch c.kind {
	case kInt:
		c.i64 = append(c.i64, int64At(a, i))
	case kUint:
		c.u64 = append(c.u64, uint64At(a, i))
	case kFloat:
		c.f64 = append(c.f64, float64At(a, i))
	case kString:
		c.str = append(c.str, strings.Clone(stringAt(a, i)))
	case kDecimal:
		c.dec = append(c.dec, a.(*array.Decimal128).Value(i))
	}
}

func int64At(a arrow.Array, i int) int64 {
	switch x := a.(type) {
	case *array.Int64:
		return x.Value(i)
	case *array.Int32:
		return int64(x.Value(i))
	case *array.Int16:
		return int64(x.Value(i))
	case *array.Int8:
		return int64(x.Value(i))
	case *array.Timestamp:
		return int64(x.Value(i))
	case *array.Date32:
		return int64(x.Value(i))
	case *array.Date64:
		return int64(x.Value(i))
	case *array.Time32:
		return int64(x.Value(i))
	case *array.Time64:
		return int64(x.Value(i))
	case *array.Duration:
		return int64(x.Value(i))
	case *array.Boolean:
		if x.Value(i) {
			return 1
		}
		return 0
	}
	panic(fmt.Sprintf("int64At: %s", a.DataType()))
}

func uint64At(a arrow.Array, i int) uint64 {
	switch x := a.(type) {
	case *array.Uint64:
		return x.Value(i)
	case *array.Uint32:
		return uint64(x.Value(i))
	case *array.Uint16:
		return uint64(x.Value(i))
	case *array.Uint8:
		return uint64(x.Value(i))
	}
	panic(fmt.Sprintf("uint64At: %s", a.DataType()))
}

func float64At(a arrow.Array, i int) float64 {
	switch x := a.(type) {
	case *array.Float64:
		return x.Value(i)
	case *array.Float32:
		return float64(x.Value(i))
	}
	panic(fmt.Sprintf("float64At: %s", a.DataType()))
}

func stringAt(a arrow.Array, i int) string {
	switch x := a.(type) {
	case *array.String:
		return x.Value(i)
	case *array.LargeString:
		return x.Value(i)
	case *array.Binary:
		return unsafeString(x.Value(i))
	case *array.LargeBinary:
		return unsafeString(x.Value(i))
	}
	panic(fmt.Sprintf("stringAt: %s", a.DataType()))
}

// build returns the values at sel (all values when sel is nil) as an array
// of the store's type.
func (c *colStore) build(mem memory.Allocator, sel []uint32) arrow.Array {
	n := len(c.valid)
	if sel != nil {
		n = len(sel)
	}
	if c.dt.ID() == arrow.INT64 {
		// Fast path for the most common key type: gather, then one append.
		vals, valid := make([]int64, n), make([]bool, n)
		for j := range vals {
			i := j
			if sel != nil {
				i = int(sel[j])
			}
			vals[j], valid[j] = c.i64[i], c.valid[i]
		}
		b := array.NewInt64Builder(mem)
		defer b.Release()
		b.AppendValues(vals, valid)
		return b.NewArray()
	}
	b := array.NewBuilder(mem, c.dt)
	defer b.Release()
	b.Reserve(n)
	for j := 0; j < n; j++ {
		i := j
		if sel != nil {
			i = int(sel[j])
		}
		if !c.valid[i] {
			b.AppendNull()
			continue
		}
		c.appendTo(b, i)
	}
	return b.NewArray()
}

// appendTo appends value i (valid) to a builder of the store's type.
func (c *colStore) appendTo(b array.Builder, i int) {
	switch c.kind {
	case kInt:
		appendInt(b, c.i64[i])
	case kUint:
		appendUint(b, c.u64[i])
	case kFloat:
		switch bb := b.(type) {
		case *array.Float64Builder:
			bb.Append(c.f64[i])
		case *array.Float32Builder:
			bb.Append(float32(c.f64[i]))
		}
	case kString:
		switch bb := b.(type) {
		case *array.StringBuilder:
			bb.Append(c.str[i])
		case *array.LargeStringBuilder:
			bb.Append(c.str[i])
		case *array.BinaryBuilder:
			bb.AppendString(c.str[i])
		}
	case kDecimal:
		b.(*array.Decimal128Builder).Append(c.dec[i])
	}
}

func appendInt(b array.Builder, v int64) {
	switch bb := b.(type) {
	case *array.Int64Builder:
		bb.Append(v)
	case *array.Int32Builder:
		bb.Append(int32(v))
	case *array.Int16Builder:
		bb.Append(int16(v))
	case *array.Int8Builder:
		bb.Append(int8(v))
	case *array.TimestampBuilder:
		bb.Append(arrow.Timestamp(v))
	case *array.Date32Builder:
		bb.Append(arrow.Date32(v))
	case *array.Date64Builder:
		bb.Append(arrow.Date64(v))
	case *array.Time32Builder:
		bb.Append(arrow.Time32(v))
	case *array.Time64Builder:
		bb.Append(arrow.Time64(v))
	case *array.DurationBuilder:
		bb.Append(arrow.Duration(v))
	case *array.BooleanBuilder:
		bb.Append(v != 0)
	default:
		panic(fmt.Sprintf("appendInt: %T", b))
	}
}

func appendUint(b array.Builder, v uint64) {
	switch bb := b.(type) {
	case *array.Uint64Builder:
		bb.Append(v)
	case *array.Uint32Builder:
		bb.Append(uint32(v))
	case *array.Uint16Builder:
		bb.Append(uint16(v))
	case *array.Uint8Builder:
		bb.Append(uint8(v))
	default:
		panic(fmt.Sprintf("appendUint: %T", b))
	}
}
