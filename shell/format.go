package shell

import (
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/expr"
)

// formatValue renders one non-NULL cell as text and typeName names an
// Arrow type in SQL. Both come from package expr so that the shell, the
// server and error messages agree; they are variables so a renderer can be
// tested or adjusted in one place.
var (
	formatValue = expr.FormatValue
	typeName    = expr.TypeName
)

// listLike covers List and LargeList.
type listLike interface {
	arrow.Array
	ListValues() arrow.Array
	ValueOffsets(i int) (start, end int64)
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

// isNull reports whether cell i is NULL. Arrays of Arrow's Null type (the
// type of a bare NULL literal) carry no validity bitmap, so IsNull is false
// for them although every value is NULL.
func isNull(arr arrow.Array, i int) bool {
	return arr.DataType().ID() == arrow.NULL || arr.IsNull(i)
}
