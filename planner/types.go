package planner

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/pingcap/tidb/pkg/parser/charset"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	"github.com/pingcap/tidb/pkg/parser/types"
)

// JSONMetadata marks a String field holding JSON text.
var JSONMetadata = arrow.NewMetadata([]string{"magnetar.type"}, []string{"json"})

// ArrowType maps a TiDB column or CAST type to the project's Arrow type
// (see the expr package documentation). The metadata is non-empty for JSON.
func ArrowType(ft *types.FieldType) (arrow.DataType, arrow.Metadata, error) {
	unsigned := mysql.HasUnsignedFlag(ft.GetFlag())
	binary := ft.GetCharset() == charset.CharsetBin
	switch ft.GetType() {
	case mysql.TypeTiny:
		if ft.GetFlen() == 1 && !unsigned {
			// BOOL / BOOLEAN are TINYINT(1) to the parser.
			return arrow.FixedWidthTypes.Boolean, arrow.Metadata{}, nil
		}
		if unsigned {
			return arrow.PrimitiveTypes.Uint8, arrow.Metadata{}, nil
		}
		return arrow.PrimitiveTypes.Int8, arrow.Metadata{}, nil
	case mysql.TypeShort, mysql.TypeYear:
		if unsigned {
			return arrow.PrimitiveTypes.Uint16, arrow.Metadata{}, nil
		}
		return arrow.PrimitiveTypes.Int16, arrow.Metadata{}, nil
	case mysql.TypeInt24, mysql.TypeLong:
		if unsigned {
			return arrow.PrimitiveTypes.Uint32, arrow.Metadata{}, nil
		}
		return arrow.PrimitiveTypes.Int32, arrow.Metadata{}, nil
	case mysql.TypeLonglong:
		if unsigned {
			return arrow.PrimitiveTypes.Uint64, arrow.Metadata{}, nil
		}
		return arrow.PrimitiveTypes.Int64, arrow.Metadata{}, nil
	case mysql.TypeBit:
		return arrow.PrimitiveTypes.Uint64, arrow.Metadata{}, nil
	case mysql.TypeFloat:
		return arrow.PrimitiveTypes.Float32, arrow.Metadata{}, nil
	case mysql.TypeDouble:
		return arrow.PrimitiveTypes.Float64, arrow.Metadata{}, nil
	case mysql.TypeNewDecimal:
		p, s := ft.GetFlen(), ft.GetDecimal()
		if p <= 0 {
			p = 10
		}
		if s < 0 {
			s = 0
		}
		if p > 38 {
			return nil, arrow.Metadata{}, fmt.Errorf("DECIMAL precision %d exceeds the maximum of 38", p)
		}
		if s > p {
			return nil, arrow.Metadata{}, fmt.Errorf("DECIMAL scale %d exceeds precision %d", s, p)
		}
		return &arrow.Decimal128Type{Precision: int32(p), Scale: int32(s)}, arrow.Metadata{}, nil
	case mysql.TypeVarchar, mysql.TypeString, mysql.TypeVarString,
		mysql.TypeTinyBlob, mysql.TypeBlob, mysql.TypeMediumBlob, mysql.TypeLongBlob:
		if binary {
			return arrow.BinaryTypes.Binary, arrow.Metadata{}, nil
		}
		return arrow.BinaryTypes.String, arrow.Metadata{}, nil
	case mysql.TypeEnum, mysql.TypeSet:
		return arrow.BinaryTypes.String, arrow.Metadata{}, nil
	case mysql.TypeDate, mysql.TypeNewDate:
		return arrow.FixedWidthTypes.Date32, arrow.Metadata{}, nil
	case mysql.TypeDuration:
		return arrow.FixedWidthTypes.Time64us, arrow.Metadata{}, nil
	case mysql.TypeDatetime, mysql.TypeTimestamp:
		return expr.TimestampType, arrow.Metadata{}, nil
	case mysql.TypeJSON:
		return arrow.BinaryTypes.String, JSONMetadata, nil
	}
	return nil, arrow.Metadata{}, fmt.Errorf("unsupported: column type %s", types.TypeToStr(ft.GetType(), ft.GetCharset()))
}

func isInt(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
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

func isFloat(t arrow.DataType) bool {
	return t.ID() == arrow.FLOAT32 || t.ID() == arrow.FLOAT64
}

func isTemporal(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.DATE32, arrow.TIMESTAMP, arrow.TIME64:
		return true
	}
	return false
}

// intDigits is the number of decimal digits an integer type needs.
func intDigits(t arrow.DataType) int32 {
	switch t.ID() {
	case arrow.INT8, arrow.UINT8:
		return 3
	case arrow.INT16, arrow.UINT16:
		return 5
	case arrow.INT32, arrow.UINT32:
		return 10
	case arrow.UINT64:
		return 20
	}
	return 19
}

// CommonType is the type both a and b are converted to when they meet in
// one column (UNION, CASE branches, VALUES rows, IN lists, join keys),
// following MySQL's result-type rules in simplified form.
func CommonType(a, b arrow.DataType) arrow.DataType {
	switch {
	case a == nil || a.ID() == arrow.NULL:
		return b
	case b == nil || b.ID() == arrow.NULL:
		return a
	case arrow.TypeEqual(a, b):
		return a
	}
	ab, bb := a.ID() == arrow.BOOL, b.ID() == arrow.BOOL
	if ab {
		a = arrow.PrimitiveTypes.Int64
	}
	if bb {
		b = arrow.PrimitiveTypes.Int64
	}
	ad, bd := a.ID() == arrow.DECIMAL128, b.ID() == arrow.DECIMAL128
	switch {
	case isInt(a) && isInt(b):
		if isUnsigned(a) && isUnsigned(b) {
			return arrow.PrimitiveTypes.Uint64
		}
		return arrow.PrimitiveTypes.Int64
	case (isFloat(a) || isInt(a) || ad) && (isFloat(b) || isInt(b) || bd):
		if isFloat(a) || isFloat(b) {
			return arrow.PrimitiveTypes.Float64
		}
		return commonDecimal(a, b)
	case isTemporal(a) && isTemporal(b):
		if a.ID() == arrow.TIME64 || b.ID() == arrow.TIME64 {
			return arrow.BinaryTypes.String
		}
		return expr.TimestampType
	case a.ID() == arrow.BINARY || b.ID() == arrow.BINARY:
		return arrow.BinaryTypes.Binary
	}
	return arrow.BinaryTypes.String
}

func commonDecimal(a, b arrow.DataType) arrow.DataType {
	dec := func(t arrow.DataType) (int32, int32) {
		if d, ok := t.(*arrow.Decimal128Type); ok {
			return d.Precision, d.Scale
		}
		return intDigits(t), 0
	}
	pa, sa := dec(a)
	pb, sb := dec(b)
	s := max(sa, sb)
	p := max(pa-sa, pb-sb) + s
	if p > 38 {
		p = 38
	}
	return &arrow.Decimal128Type{Precision: p, Scale: s}
}

// coerce casts e to t unless it already has that type.
func coerce(e expr.Expr, t arrow.DataType) (expr.Expr, error) {
	if arrow.TypeEqual(e.Type(), t) {
		return e, nil
	}
	if l, ok := e.(*expr.Literal); ok && l.Value == nil {
		return &expr.Literal{T: t}, nil
	}
	return expr.NewCast(e, t)
}
