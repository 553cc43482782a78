package expr

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// Scalar returns the Go value of row i of arr, nil for NULL. The value set
// matches Literal.Value: bool, int64 (all signed ints), uint64 (all unsigned
// ints), float64 (FLOAT and DOUBLE), string, []byte, decimal128.Num,
// arrow.Date32, arrow.Time64 (µs), arrow.Timestamp (µs); structs give
// map[string]any, lists []any, maps map[string]any keyed by FormatValue of
// the key. Dictionary arrays give the dictionary value.
func Scalar(arr arrow.Array, i int) any {
	if arr.IsNull(i) || arr.DataType().ID() == arrow.NULL {
		return nil
	}
	switch a := arr.(type) {
	case *array.Boolean:
		return a.Value(i)
	case *array.Int8:
		return int64(a.Value(i))
	case *array.Int16:
		return int64(a.Value(i))
	case *array.Int32:
		return int64(a.Value(i))
	case *array.Int64:
		return a.Value(i)
	case *array.Uint8:
		return uint64(a.Value(i))
	case *array.Uint16:
		return uint64(a.Value(i))
	case *array.Uint32:
		return uint64(a.Value(i))
	case *array.Uint64:
		return a.Value(i)
	case *array.Float16:
		return float64(a.Value(i).Float32())
	case *array.Float32:
		return float64(a.Value(i))
	case *array.Float64:
		return a.Value(i)
	case *array.Decimal128:
		return a.Value(i)
	case *array.String:
		return a.Value(i)
	case *array.LargeString:
		return a.Value(i)
	case *array.StringView:
		return a.Value(i)
	case *array.Binary:
		return append([]byte(nil), a.Value(i)...)
	case *array.LargeBinary:
		return append([]byte(nil), a.Value(i)...)
	case *array.BinaryView:
		return append([]byte(nil), a.Value(i)...)
	case *array.FixedSizeBinary:
		return append([]byte(nil), a.Value(i)...)
	case *array.Date32:
		return a.Value(i)
	case *array.Date64:
		return arrow.Date32FromTime(a.Value(i).ToTime())
	case *array.Time64:
		u := a.DataType().(*arrow.Time64Type).Unit
		return arrow.Time64(toMicros(int64(a.Value(i)), u))
	case *array.Time32:
		u := a.DataType().(*arrow.Time32Type).Unit
		return arrow.Time64(toMicros(int64(a.Value(i)), u))
	case *array.Timestamp:
		u := a.DataType().(*arrow.TimestampType).Unit
		return arrow.Timestamp(toMicros(int64(a.Value(i)), u))
	case *array.Duration:
		return int64(a.Value(i))
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		m := make(map[string]any, st.NumFields())
		for f := 0; f < st.NumFields(); f++ {
			m[st.Field(f).Name] = Scalar(a.Field(f), i)
		}
		return m
	case *array.Map:
		start, end := a.ValueOffsets(i)
		keys, items := a.Keys(), a.Items()
		m := make(map[string]any, end-start)
		for j := int(start); j < int(end); j++ {
			m[FormatValue(keys, j)] = Scalar(items, j)
		}
		return m
	case array.ListLike:
		start, end := a.ValueOffsets(i)
		vals := a.ListValues()
		out := make([]any, 0, end-start)
		for j := int(start); j < int(end); j++ {
			out = append(out, Scalar(vals, j))
		}
		return out
	case *array.Dictionary:
		return Scalar(a.Dictionary(), a.GetValueIndex(i))
	}
	return arr.ValueStr(i)
}

func toMicros(v int64, u arrow.TimeUnit) int64 {
	switch u {
	case arrow.Second:
		return v * 1_000_000
	case arrow.Millisecond:
		return v * 1_000
	case arrow.Nanosecond:
		return floorDiv(v, 1_000)
	}
	return v
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// FormatValue renders row i of arr as MySQL shows it: NULL, integers,
// DOUBLE as the shortest round-tripping decimal (exponent form outside
// [1e-6, 1e15)), DECIMAL with its scale, BOOLEAN as true/false, DATE
// 2006-01-02, TIME 15:04:05[.ffffff], TIMESTAMP 2006-01-02 15:04:05 plus
// the fraction digits of the unit (ms: 3, µs: 6) — a µs timestamp whose
// fraction is zero is shown without it (Arrow does not carry MySQL's fsp),
// strings and JSON text as is, binary as text when valid UTF-8 else 0x-hex,
// structs/maps as {k: v}, lists as [a, b].
func FormatValue(arr arrow.Array, i int) string {
	if arr.IsNull(i) || arr.DataType().ID() == arrow.NULL {
		return "NULL"
	}
	switch a := arr.(type) {
	case *array.Boolean:
		if a.Value(i) {
			return "true"
		}
		return "false"
	case *array.Float32:
		return formatFloat(float64(a.Value(i)), 32)
	case *array.Float64:
		return formatFloat(a.Value(i), 64)
	case *array.Decimal128:
		return a.Value(i).ToString(a.DataType().(*arrow.Decimal128Type).Scale)
	case *array.Date32:
		return formatDate(int64(a.Value(i)))
	case *array.Time64, *array.Time32:
		return formatTime(int64(Scalar(arr, i).(arrow.Time64)))
	case *array.Timestamp:
		u := a.DataType().(*arrow.TimestampType).Unit
		return formatTimestampUnit(int64(a.Value(i)), u)
	case *array.Binary, *array.LargeBinary, *array.BinaryView, *array.FixedSizeBinary:
		b := Scalar(arr, i).([]byte)
		if utf8.Valid(b) {
			return string(b)
		}
		return "0x" + strings.ToUpper(hex.EncodeToString(b))
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		parts := make([]string, st.NumFields())
		for f := 0; f < st.NumFields(); f++ {
			parts[f] = st.Field(f).Name + ": " + FormatValue(a.Field(f), i)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case *array.Map:
		start, end := a.ValueOffsets(i)
		parts := make([]string, 0, end-start)
		for j := int(start); j < int(end); j++ {
			parts = append(parts, FormatValue(a.Keys(), j)+": "+FormatValue(a.Items(), j))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case array.ListLike:
		start, end := a.ValueOffsets(i)
		parts := make([]string, 0, end-start)
		for j := int(start); j < int(end); j++ {
			parts = append(parts, FormatValue(a.ListValues(), j))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case *array.Dictionary:
		return FormatValue(a.Dictionary(), a.GetValueIndex(i))
	}
	switch v := Scalar(arr, i).(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	default:
		return fmt.Sprint(v)
	}
}

// formatFloat renders like MySQL: shortest repr, plain notation for
// moderate magnitudes, "1e20" / "1e-7" style otherwise.
func formatFloat(v float64, bits int) string {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return strconv.FormatFloat(v, 'g', -1, bits)
	}
	av := math.Abs(v)
	if av == 0 || (av >= 1e-6 && av < 1e15) {
		return strconv.FormatFloat(v, 'f', -1, bits)
	}
	s := strconv.FormatFloat(v, 'e', -1, bits)
	s = strings.Replace(s, "e+", "e", 1)
	// MySQL prints 1e-07 as 1e-7.
	if k := strings.Index(s, "e-0"); k >= 0 {
		s = s[:k+2] + s[k+3:]
	} else if k := strings.Index(s, "e0"); k >= 0 {
		s = s[:k+1] + s[k+2:]
	}
	return s
}

func formatDate(days int64) string {
	return time.Unix(days*86400, 0).UTC().Format("2006-01-02")
}

func formatTime(us int64) string {
	neg := us < 0
	if neg {
		us = -us
	}
	h := us / 3_600_000_000
	m := us / 60_000_000 % 60
	s := us / 1_000_000 % 60
	f := us % 1_000_000
	out := fmt.Sprintf("%02d:%02d:%02d", h, m, s)
	if f != 0 {
		out += fmt.Sprintf(".%06d", f)
	}
	if neg {
		out = "-" + out
	}
	return out
}

func formatTimestampUnit(v int64, u arrow.TimeUnit) string {
	var t time.Time
	switch u {
	case arrow.Second:
		return time.Unix(v, 0).UTC().Format("2006-01-02 15:04:05")
	case arrow.Millisecond:
		return time.UnixMilli(v).UTC().Format("2006-01-02 15:04:05.000")
	case arrow.Nanosecond:
		return time.Unix(0, v).UTC().Format("2006-01-02 15:04:05.000000000")
	}
	t = time.UnixMicro(v).UTC()
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02 15:04:05")
	}
	return t.Format("2006-01-02 15:04:05.000000")
}

func formatTimestamp(us int64) string { return formatTimestampUnit(us, arrow.Microsecond) }

// appendValue appends a Literal-style Go value to a builder of the
// matching type.
func appendValue(b array.Builder, v any) error {
	if v == nil {
		b.AppendNull()
		return nil
	}
	switch bb := b.(type) {
	case *array.BooleanBuilder:
		if x, ok := v.(bool); ok {
			bb.Append(x)
			return nil
		}
	case *array.Int8Builder:
		if x, ok := v.(int64); ok {
			bb.Append(int8(x))
			return nil
		}
	case *array.Int16Builder:
		if x, ok := v.(int64); ok {
			bb.Append(int16(x))
			return nil
		}
	case *array.Int32Builder:
		if x, ok := v.(int64); ok {
			bb.Append(int32(x))
			return nil
		}
	case *array.Int64Builder:
		if x, ok := v.(int64); ok {
			bb.Append(x)
			return nil
		}
	case *array.Uint8Builder:
		if x, ok := v.(uint64); ok {
			bb.Append(uint8(x))
			return nil
		}
	case *array.Uint16Builder:
		if x, ok := v.(uint64); ok {
			bb.Append(uint16(x))
			return nil
		}
	case *array.Uint32Builder:
		if x, ok := v.(uint64); ok {
			bb.Append(uint32(x))
			return nil
		}
	case *array.Uint64Builder:
		if x, ok := v.(uint64); ok {
			bb.Append(x)
			return nil
		}
	case *array.Float32Builder:
		if x, ok := v.(float64); ok {
			bb.Append(float32(x))
			return nil
		}
	case *array.Float64Builder:
		if x, ok := v.(float64); ok {
			bb.Append(x)
			return nil
		}
	case *array.Decimal128Builder:
		if x, ok := v.(decimal128.Num); ok {
			bb.Append(x)
			return nil
		}
	case *array.StringBuilder:
		if x, ok := v.(string); ok {
			bb.Append(x)
			return nil
		}
	case *array.LargeStringBuilder:
		if x, ok := v.(string); ok {
			bb.Append(x)
			return nil
		}
	case *array.BinaryBuilder:
		switch x := v.(type) {
		case []byte:
			bb.Append(x)
			return nil
		case string:
			bb.AppendString(x)
			return nil
		}
	case *array.Date32Builder:
		if x, ok := v.(arrow.Date32); ok {
			bb.Append(x)
			return nil
		}
	case *array.Time64Builder:
		if x, ok := v.(arrow.Time64); ok {
			bb.Append(x)
			return nil
		}
	case *array.TimestampBuilder:
		if x, ok := v.(arrow.Timestamp); ok {
			u := bb.Type().(*arrow.TimestampType).Unit
			bb.Append(arrow.Timestamp(fromMicros(int64(x), u)))
			return nil
		}
	case *array.NullBuilder:
		bb.AppendNull()
		return nil
	}
	return &Error{Msg: fmt.Sprintf("literal %v (%T) does not match type %s", v, v, TypeName(b.Type()))}
}

func fromMicros(v int64, u arrow.TimeUnit) int64 {
	switch u {
	case arrow.Second:
		return floorDiv(v, 1_000_000)
	case arrow.Millisecond:
		return floorDiv(v, 1_000)
	case arrow.Nanosecond:
		return v * 1_000
	}
	return v
}

// literalSQL renders decimal, temporal and binary literals as SQL text
// (5.00, DATE '2024-01-02', TIMESTAMP '2024-01-02 03:04:05', X'FF').
func literalSQL(l *Literal) (string, bool) {
	switch v := l.Value.(type) {
	case decimal128.Num:
		if d, ok := l.T.(*arrow.Decimal128Type); ok {
			return v.ToString(d.Scale), true
		}
	case arrow.Date32:
		return "DATE '" + formatDate(int64(v)) + "'", true
	case arrow.Time64:
		return "TIME '" + formatTime(int64(v)) + "'", true
	case arrow.Timestamp:
		return "TIMESTAMP '" + formatTimestamp(int64(v)) + "'", true
	case []byte:
		return "X'" + strings.ToUpper(hex.EncodeToString(v)) + "'", true
	}
	return "", false
}
