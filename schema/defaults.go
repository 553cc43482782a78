package schema

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// filler appends a constant (a default or null) to a builder.
type filler func(b array.Builder)

func appendNull(b array.Builder) { b.AppendNull() }

// defaultFiller returns what to append for a target field the writer does not have: the field's
// "avro.default" metadata when it is a scalar we understand, else null.
func defaultFiller(f arrow.Field) (filler, error) {
	i := f.Metadata.FindKey(MetaAvroDefault)
	if i < 0 {
		return appendNull, nil
	}
	raw := f.Metadata.Values()[i]
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return nil, fmt.Errorf("field %s: bad %s %q: %w", f.Name, MetaAvroDefault, raw, err)
	}
	if v == nil {
		return appendNull, nil
	}
	bad := func() (filler, error) {
		return nil, fmt.Errorf("field %s: default %s does not fit type %s", f.Name, raw, f.Type)
	}
	switch x := v.(type) {
	case bool:
		if f.Type.ID() != arrow.BOOL {
			return bad()
		}
		return func(b array.Builder) { b.(*array.BooleanBuilder).Append(x) }, nil
	case string:
		switch f.Type.ID() {
		case arrow.STRING:
			return func(b array.Builder) { b.(*array.StringBuilder).Append(x) }, nil
		case arrow.BINARY:
			bs := []byte(x)
			return func(b array.Builder) { b.(*array.BinaryBuilder).Append(bs) }, nil
		}
		return bad()
	case float64:
		switch f.Type.ID() {
		case arrow.FLOAT32:
			return func(b array.Builder) { b.(*array.Float32Builder).Append(float32(x)) }, nil
		case arrow.FLOAT64:
			return func(b array.Builder) { b.(*array.Float64Builder).Append(x) }, nil
		}
		if x != math.Trunc(x) {
			return bad()
		}
		lo, hi, ok := intRange(f.Type)
		if !ok || x < float64(lo) || x > float64(hi) {
			return bad()
		}
		app := int64Appender(f.Type)
		n := uint64(int64(x))
		return func(b array.Builder) { app(b, n) }, nil
	}
	return bad()
}

// intRange returns the range of values an integer-like Arrow type holds as int64.
func intRange(dt arrow.DataType) (lo, hi int64, ok bool) {
	switch dt.ID() {
	case arrow.INT8:
		return math.MinInt8, math.MaxInt8, true
	case arrow.INT16:
		return math.MinInt16, math.MaxInt16, true
	case arrow.INT32, arrow.DATE32, arrow.TIME32:
		return math.MinInt32, math.MaxInt32, true
	case arrow.INT64, arrow.TIMESTAMP, arrow.DATE64, arrow.TIME64, arrow.DURATION:
		return math.MinInt64, math.MaxInt64, true
	case arrow.UINT8:
		return 0, math.MaxUint8, true
	case arrow.UINT16:
		return 0, math.MaxUint16, true
	case arrow.UINT32:
		return 0, math.MaxUint32, true
	case arrow.UINT64:
		// uint64 travels as the bits of an Avro long.
		return math.MinInt64, math.MaxInt64, true
	}
	return 0, 0, false
}

// int64Appender appends an integer held in a uint64 (two's complement bits) to an integer-like
// builder; nil when dt is not integer-like.
func int64Appender(dt arrow.DataType) func(b array.Builder, v uint64) {
	switch dt.ID() {
	case arrow.INT8:
		return func(b array.Builder, v uint64) { b.(*array.Int8Builder).Append(int8(v)) }
	case arrow.INT16:
		return func(b array.Builder, v uint64) { b.(*array.Int16Builder).Append(int16(v)) }
	case arrow.INT32:
		return func(b array.Builder, v uint64) { b.(*array.Int32Builder).Append(int32(v)) }
	case arrow.INT64:
		return func(b array.Builder, v uint64) { b.(*array.Int64Builder).Append(int64(v)) }
	case arrow.UINT8:
		return func(b array.Builder, v uint64) { b.(*array.Uint8Builder).Append(uint8(v)) }
	case arrow.UINT16:
		return func(b array.Builder, v uint64) { b.(*array.Uint16Builder).Append(uint16(v)) }
	case arrow.UINT32:
		return func(b array.Builder, v uint64) { b.(*array.Uint32Builder).Append(uint32(v)) }
	case arrow.UINT64:
		return func(b array.Builder, v uint64) { b.(*array.Uint64Builder).Append(v) }
	case arrow.TIMESTAMP:
		return func(b array.Builder, v uint64) { b.(*array.TimestampBuilder).Append(arrow.Timestamp(v)) }
	case arrow.DATE32:
		return func(b array.Builder, v uint64) { b.(*array.Date32Builder).Append(arrow.Date32(v)) }
	case arrow.DATE64:
		return func(b array.Builder, v uint64) { b.(*array.Date64Builder).Append(arrow.Date64(v)) }
	case arrow.TIME32:
		return func(b array.Builder, v uint64) { b.(*array.Time32Builder).Append(arrow.Time32(v)) }
	case arrow.TIME64:
		return func(b array.Builder, v uint64) { b.(*array.Time64Builder).Append(arrow.Time64(v)) }
	case arrow.DURATION:
		return func(b array.Builder, v uint64) { b.(*array.DurationBuilder).Append(arrow.Duration(v)) }
	}
	return nil
}
