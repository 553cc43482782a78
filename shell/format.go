package shell

import (
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// formatValue renders one non-NULL cell as text. It is a variable so the
// shell can switch to expr.FormatValue once that exists, keeping one place
// to change; callers check IsNull themselves.
var formatValue func(arr arrow.Array, i int) string

// typeName gives the SQL name of an Arrow type for table headers. Like
// formatValue it is the one place to swap in expr.TypeName.
var typeName func(t arrow.DataType) string

func init() {
	formatValue = defaultFormatValue
	typeName = defaultTypeName
}

// tsLayout is how timestamps are shown: MySQL's DATETIME text. The fraction
// is appended separately, trimmed of trailing zeros.
const tsLayout = "2006-01-02 15:04:05"

func defaultFormatValue(arr arrow.Array, i int) string {
	switch a := arr.(type) {
	case *array.Boolean:
		if a.Value(i) {
			return "true"
		}
		return "false"
	case *array.Int8:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Int16:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Int32:
		return strconv.FormatInt(int64(a.Value(i)), 10)
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10)
	case *array.Uint8:
		return strconv.FormatUint(uint64(a.Value(i)), 10)
	case *array.Uint16:
		return strconv.FormatUint(uint64(a.Value(i)), 10)
	case *array.Uint32:
		return strconv.FormatUint(uint64(a.Value(i)), 10)
	case *array.Uint64:
		return strconv.FormatUint(a.Value(i), 10)
	case *array.Float32:
		return formatFloat(float64(a.Value(i)), 32)
	case *array.Float64:
		return formatFloat(a.Value(i), 64)
	case *array.Decimal128:
		return a.Value(i).ToString(a.DataType().(*arrow.Decimal128Type).Scale)
	case *array.Decimal256:
		return a.Value(i).ToString(a.DataType().(*arrow.Decimal256Type).Scale)
	case *array.String:
		return a.Value(i)
	case *array.LargeString:
		return a.Value(i)
	case *array.StringView:
		return a.Value(i)
	case *array.Binary:
		return "0x" + hex.EncodeToString(a.Value(i))
	case *array.LargeBinary:
		return "0x" + hex.EncodeToString(a.Value(i))
	case *array.Date32:
		return a.Value(i).ToTime().Format(time.DateOnly)
	case *array.Date64:
		return a.Value(i).ToTime().Format(time.DateOnly)
	case *array.Time32:
		unit := a.DataType().(*arrow.Time32Type).Unit
		return formatClock(a.Value(i).ToTime(unit))
	case *array.Time64:
		unit := a.DataType().(*arrow.Time64Type).Unit
		return formatClock(a.Value(i).ToTime(unit))
	case *array.Timestamp:
		return formatTimestamp(a, i)
	case *array.Struct:
		return formatStruct(a, i)
	case *array.Map:
		return formatMap(a, i)
	case *array.List:
		return formatList(a, i)
	case *array.LargeList:
		return formatList(a, i)
	case *array.Dictionary:
		d := a.Dictionary()
		j := a.GetValueIndex(i)
		if d.IsNull(j) {
			return "NULL"
		}
		return defaultFormatValue(d, j)
	}
	return arr.ValueStr(i)
}

// formatFloat prints floats like MySQL: plain notation for ordinary
// magnitudes, exponent notation only for very large or small ones, and the
// shortest text that reads back to the same value.
func formatFloat(v float64, bits int) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	}
	if abs := math.Abs(v); abs == 0 || (abs >= 1e-5 && abs < 1e15) {
		return strconv.FormatFloat(v, 'f', -1, bits)
	}
	return strconv.FormatFloat(v, 'g', -1, bits)
}

// appendFraction appends ".ffffff" for the nanoseconds of t, trimmed of
// trailing zeros, nothing when they are zero.
func appendFraction(b []byte, t time.Time) []byte {
	ns := t.Nanosecond()
	if ns == 0 {
		return b
	}
	frac := strconv.Itoa(ns + 1e9)[1:] // 9 digits with leading zeros
	frac = strings.TrimRight(frac, "0")
	b = append(b, '.')
	return append(b, frac...)
}

func formatClock(t time.Time) string {
	b := t.AppendFormat(nil, time.TimeOnly)
	return string(appendFraction(b, t))
}

func formatTimestamp(a *array.Timestamp, i int) string {
	tt := a.DataType().(*arrow.TimestampType)
	t := a.Value(i).ToTime(tt.Unit)
	if tt.TimeZone != "" && tt.TimeZone != "UTC" {
		if loc, err := tt.GetZone(); err == nil && loc != nil {
			t = t.In(loc)
		}
	}
	b := t.AppendFormat(make([]byte, 0, 32), tsLayout)
	return string(appendFraction(b, t))
}

// nestedValue formats a cell inside a struct, list or map: NULL stays NULL
// and strings are quoted so the structure stays readable.
func nestedValue(arr arrow.Array, i int) string {
	if arr.IsNull(i) {
		return "NULL"
	}
	switch arr.DataType().ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW:
		return strconv.Quote(formatValue(arr, i))
	}
	return formatValue(arr, i)
}

func formatStruct(a *array.Struct, i int) string {
	st := a.DataType().(*arrow.StructType)
	var b strings.Builder
	b.WriteByte('{')
	for f := 0; f < a.NumField(); f++ {
		if f > 0 {
			b.WriteString(", ")
		}
		b.WriteString(st.Field(f).Name)
		b.WriteString(": ")
		b.WriteString(nestedValue(a.Field(f), i))
	}
	b.WriteByte('}')
	return b.String()
}

// listLike covers List and LargeList.
type listLike interface {
	arrow.Array
	ListValues() arrow.Array
	ValueOffsets(i int) (start, end int64)
}

func formatList(a listLike, i int) string {
	vals := a.ListValues()
	start, end := a.ValueOffsets(i)
	var b strings.Builder
	b.WriteByte('[')
	for j := start; j < end; j++ {
		if j > start {
			b.WriteString(", ")
		}
		b.WriteString(nestedValue(vals, int(j)))
	}
	b.WriteByte(']')
	return b.String()
}

func formatMap(a *array.Map, i int) string {
	keys, items := a.Keys(), a.Items()
	start, end := a.ValueOffsets(i)
	var b strings.Builder
	b.WriteByte('{')
	for j := start; j < end; j++ {
		if j > start {
			b.WriteString(", ")
		}
		b.WriteString(nestedValue(keys, int(j)))
		b.WriteString(": ")
		b.WriteString(nestedValue(items, int(j)))
	}
	b.WriteByte('}')
	return b.String()
}

// defaultTypeName maps the project's Arrow types back to SQL names (see the
// mapping in package expr).
func defaultTypeName(t arrow.DataType) string {
	switch t := t.(type) {
	case *arrow.NullType:
		return "NULL"
	case *arrow.BooleanType:
		return "BOOLEAN"
	case *arrow.Int8Type:
		return "TINYINT"
	case *arrow.Int16Type:
		return "SMALLINT"
	case *arrow.Int32Type:
		return "INT"
	case *arrow.Int64Type:
		return "BIGINT"
	case *arrow.Uint8Type:
		return "TINYINT UNSIGNED"
	case *arrow.Uint16Type:
		return "SMALLINT UNSIGNED"
	case *arrow.Uint32Type:
		return "INT UNSIGNED"
	case *arrow.Uint64Type:
		return "BIGINT UNSIGNED"
	case *arrow.Float32Type:
		return "FLOAT"
	case *arrow.Float64Type:
		return "DOUBLE"
	case *arrow.Decimal128Type:
		return "DECIMAL(" + strconv.Itoa(int(t.Precision)) + "," + strconv.Itoa(int(t.Scale)) + ")"
	case *arrow.Decimal256Type:
		return "DECIMAL(" + strconv.Itoa(int(t.Precision)) + "," + strconv.Itoa(int(t.Scale)) + ")"
	case *arrow.StringType, *arrow.LargeStringType, *arrow.StringViewType:
		return "VARCHAR"
	case *arrow.BinaryType, *arrow.LargeBinaryType:
		return "VARBINARY"
	case *arrow.Date32Type, *arrow.Date64Type:
		return "DATE"
	case *arrow.Time32Type, *arrow.Time64Type:
		return "TIME"
	case *arrow.TimestampType:
		return "TIMESTAMP"
	case *arrow.StructType:
		return "STRUCT"
	case *arrow.ListType, *arrow.LargeListType:
		return "ARRAY"
	case *arrow.MapType:
		return "MAP"
	case *arrow.DictionaryType:
		return defaultTypeName(t.ValueType)
	}
	return strings.ToUpper(t.String())
}

// fieldTypeName names a field's type, honouring the JSON marker the project
// keeps in field metadata (JSON columns are strings in Arrow).
func fieldTypeName(f arrow.Field) string {
	if isJSONField(f) {
		return "JSON"
	}
	return typeName(f.Type)
}

func isJSONField(f arrow.Field) bool {
	v, ok := f.Metadata.GetValue("magnetar.type")
	return ok && strings.EqualFold(v, "json")
}

// isNumeric reports whether a type's values are right-aligned in tables.
func isNumeric(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64,
		arrow.DECIMAL128, arrow.DECIMAL256:
		return true
	}
	return false
}
