package expr

import (
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// Canonical types used by the evaluators.
var (
	tBool   = arrow.FixedWidthTypes.Boolean
	tInt64  = arrow.PrimitiveTypes.Int64
	tUint64 = arrow.PrimitiveTypes.Uint64
	tFloat  = arrow.PrimitiveTypes.Float64
	tString = arrow.BinaryTypes.String
	tBinary = arrow.BinaryTypes.Binary
	tDate   = arrow.FixedWidthTypes.Date32
	tTime   = arrow.FixedWidthTypes.Time64us
	tTS     = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	tNull   = arrow.Null
)

// TimestampType is the project's TIMESTAMP/DATETIME type: Timestamp(µs, UTC).
var TimestampType arrow.DataType = tTS

// TypeName returns the SQL name of an Arrow type, as used by DESCRIBE, shell
// headers and error messages.
func TypeName(t arrow.DataType) string {
	if t == nil {
		return "NULL"
	}
	switch tt := t.(type) {
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
	case *arrow.Float16Type, *arrow.Float32Type:
		return "FLOAT"
	case *arrow.Float64Type:
		return "DOUBLE"
	case *arrow.Decimal128Type:
		return fmt.Sprintf("DECIMAL(%d,%d)", tt.Precision, tt.Scale)
	case *arrow.Decimal256Type:
		return fmt.Sprintf("DECIMAL(%d,%d)", tt.Precision, tt.Scale)
	case *arrow.StringType, *arrow.LargeStringType, *arrow.StringViewType:
		return "VARCHAR"
	case *arrow.BinaryType, *arrow.LargeBinaryType, *arrow.BinaryViewType:
		return "VARBINARY"
	case *arrow.FixedSizeBinaryType:
		return fmt.Sprintf("BINARY(%d)", tt.ByteWidth)
	case *arrow.Date32Type, *arrow.Date64Type:
		return "DATE"
	case *arrow.Time32Type:
		return fmt.Sprintf("TIME(%d)", unitFsp(tt.Unit))
	case *arrow.Time64Type:
		return fmt.Sprintf("TIME(%d)", unitFsp(tt.Unit))
	case *arrow.TimestampType:
		return fmt.Sprintf("TIMESTAMP(%d)", unitFsp(tt.Unit))
	case *arrow.DurationType:
		return "INTERVAL"
	case *arrow.StructType:
		parts := make([]string, tt.NumFields())
		for i, f := range tt.Fields() {
			parts[i] = f.Name + " " + TypeName(f.Type)
		}
		return "STRUCT<" + strings.Join(parts, ", ") + ">"
	case *arrow.MapType:
		return "MAP<" + TypeName(tt.KeyType()) + ", " + TypeName(tt.ItemType()) + ">"
	case *arrow.ListType:
		return "ARRAY<" + TypeName(tt.Elem()) + ">"
	case *arrow.LargeListType:
		return "ARRAY<" + TypeName(tt.Elem()) + ">"
	case *arrow.FixedSizeListType:
		return "ARRAY<" + TypeName(tt.Elem()) + ">"
	case *arrow.DictionaryType:
		return TypeName(tt.ValueType)
	}
	return strings.ToUpper(t.String())
}

func unitFsp(u arrow.TimeUnit) int {
	switch u {
	case arrow.Second:
		return 0
	case arrow.Millisecond:
		return 3
	case arrow.Microsecond:
		return 6
	}
	return 9
}

func isNull(t arrow.DataType) bool { return t == nil || t.ID() == arrow.NULL }

func isSigned(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64:
		return true
	}
	return false
}

func isUnsigned(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return true
	}
	return false
}

func isInteger(t arrow.DataType) bool { return isSigned(t) || isUnsigned(t) }

func isFloat(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64:
		return true
	}
	return false
}

func isDecimal(t arrow.DataType) bool { return t.ID() == arrow.DECIMAL128 }

// isNumeric: integers, floats, decimals (booleans count as numbers in
// MySQL arithmetic but are handled separately).
func isNumeric(t arrow.DataType) bool { return isInteger(t) || isFloat(t) || isDecimal(t) }

func isStringy(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW:
		return true
	}
	return false
}

func isBinaryish(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.BINARY, arrow.LARGE_BINARY, arrow.BINARY_VIEW, arrow.FIXED_SIZE_BINARY:
		return true
	}
	return false
}

func isTemporal(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.DATE32, arrow.DATE64, arrow.TIME32, arrow.TIME64, arrow.TIMESTAMP:
		return true
	}
	return false
}

func isBool(t arrow.DataType) bool { return t.ID() == arrow.BOOL }

// decimalOf returns the DECIMAL(p,s) type exactly holding integer type t.
func decimalOfInt(t arrow.DataType) *arrow.Decimal128Type {
	switch t.ID() {
	case arrow.INT8, arrow.UINT8, arrow.BOOL:
		return &arrow.Decimal128Type{Precision: 3}
	case arrow.INT16, arrow.UINT16:
		return &arrow.Decimal128Type{Precision: 5}
	case arrow.INT32, arrow.UINT32:
		return &arrow.Decimal128Type{Precision: 10}
	case arrow.INT64:
		return &arrow.Decimal128Type{Precision: 19}
	}
	return &arrow.Decimal128Type{Precision: 20}
}

// Lit builds a literal, inferring its type from the Go value: nil → NULL,
// bool, any Go int → BIGINT, any uint → BIGINT UNSIGNED, floats → DOUBLE,
// string → VARCHAR, []byte → VARBINARY, time.Time → TIMESTAMP(6),
// arrow.Date32 → DATE, arrow.Time64 → TIME (µs), arrow.Timestamp →
// TIMESTAMP (µs), decimal128.Num → DECIMAL(38,0). Unsupported values
// become VARCHAR of their fmt representation.
func Lit(v any) *Literal {
	switch x := v.(type) {
	case nil:
		return Null()
	case bool:
		return &Literal{Value: x, T: tBool}
	case int:
		return &Literal{Value: int64(x), T: tInt64}
	case int8:
		return &Literal{Value: int64(x), T: tInt64}
	case int16:
		return &Literal{Value: int64(x), T: tInt64}
	case int32:
		return &Literal{Value: int64(x), T: tInt64}
	case int64:
		return &Literal{Value: x, T: tInt64}
	case uint:
		return &Literal{Value: uint64(x), T: tUint64}
	case uint8:
		return &Literal{Value: uint64(x), T: tUint64}
	case uint16:
		return &Literal{Value: uint64(x), T: tUint64}
	case uint32:
		return &Literal{Value: uint64(x), T: tUint64}
	case uint64:
		return &Literal{Value: x, T: tUint64}
	case float32:
		return &Literal{Value: float64(x), T: tFloat}
	case float64:
		return &Literal{Value: x, T: tFloat}
	case string:
		return &Literal{Value: x, T: tString}
	case []byte:
		return &Literal{Value: x, T: tBinary}
	case time.Time:
		return &Literal{Value: arrow.Timestamp(x.UnixMicro()), T: tTS}
	case arrow.Date32:
		return &Literal{Value: x, T: tDate}
	case arrow.Time64:
		return &Literal{Value: x, T: tTime}
	case arrow.Timestamp:
		return &Literal{Value: x, T: tTS}
	case decimal128.Num:
		return &Literal{Value: x, T: &arrow.Decimal128Type{Precision: 38, Scale: 0}}
	}
	return &Literal{Value: fmt.Sprint(v), T: tString}
}

// Null returns the NULL literal (type arrow.Null until coerced).
func Null() *Literal { return &Literal{Value: nil, T: tNull} }
