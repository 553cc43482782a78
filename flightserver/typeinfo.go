package flightserver

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql/schema_ref"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// XDBC type codes (Flight SQL's XdbcDataType, the JDBC/ODBC numbers) and
// datetime subcodes of the types Magnetar has.
const (
	xdbcBit           int32 = -7
	xdbcTinyint       int32 = -6
	xdbcBigint        int32 = -5
	xdbcLongvarbinary int32 = -4
	xdbcVarbinary     int32 = -3
	xdbcLongvarchar   int32 = -1
	xdbcChar          int32 = 1
	xdbcDecimal       int32 = 3
	xdbcInteger       int32 = 4
	xdbcSmallint      int32 = 5
	xdbcReal          int32 = 7
	xdbcDouble        int32 = 8
	xdbcDatetime      int32 = 9 // sql_data_type of the three below
	xdbcVarchar       int32 = 12
	xdbcDate          int32 = 91
	xdbcTime          int32 = 92
	xdbcTimestamp     int32 = 93

	xdbcSubcodeDate      int32 = 1
	xdbcSubcodeTime      int32 = 2
	xdbcSubcodeTimestamp int32 = 3

	xdbcNullable   int32 = 1 // columns of every type may be NULL
	xdbcSearchable int32 = 3 // usable in any WHERE comparison, LIKE included
	maxLength      int32 = 1<<31 - 1
)

// typeInfo is one row of GetXdbcTypeInfo; nil pointers are NULLs.
type typeInfo struct {
	name           string
	dataType       int32
	columnSize     *int32
	quote          bool // literals are quoted: '...'
	hexLiteral     bool // literals are X'...'
	createParams   []string
	caseSensitive  bool
	unsigned       *bool
	minScale       *int32
	maxScale       *int32
	sqlDataType    int32
	datetimeSub    *int32
	numPrecRadix   *int32
	fixedPrecScale bool
}

func i32(v int32) *int32 { return &v }
func yes() *bool         { v := true; return &v }
func no() *bool          { v := false; return &v }

func integer(name string, code, digits int32, unsigned *bool) typeInfo {
	return typeInfo{name: name, dataType: code, columnSize: i32(digits), unsigned: unsigned,
		minScale: i32(0), maxScale: i32(0), sqlDataType: code, numPrecRadix: i32(10)}
}

// typeInfos are the SQL types Magnetar's CREATE TABLE and CAST take
// (planner/types.go), ordered by data type as JDBC's getTypeInfo is, the
// usual name of each code first. BOOLEAN is XDBC_BIT: XDBC has no boolean
// code of its own.
var typeInfos = []typeInfo{
	{name: "BOOLEAN", dataType: xdbcBit, columnSize: i32(1), sqlDataType: xdbcBit},
	integer("TINYINT", xdbcTinyint, 3, no()),
	integer("TINYINT UNSIGNED", xdbcTinyint, 3, yes()),
	integer("BIGINT", xdbcBigint, 19, no()),
	integer("BIGINT UNSIGNED", xdbcBigint, 20, yes()),
	{name: "BLOB", dataType: xdbcLongvarbinary, columnSize: i32(maxLength), hexLiteral: true, sqlDataType: xdbcLongvarbinary},
	{name: "VARBINARY", dataType: xdbcVarbinary, columnSize: i32(maxLength), hexLiteral: true, createParams: []string{"length"}, sqlDataType: xdbcVarbinary},
	{name: "TEXT", dataType: xdbcLongvarchar, columnSize: i32(maxLength), quote: true, caseSensitive: true, sqlDataType: xdbcLongvarchar},
	{name: "JSON", dataType: xdbcLongvarchar, columnSize: i32(maxLength), quote: true, caseSensitive: true, sqlDataType: xdbcLongvarchar},
	{name: "CHAR", dataType: xdbcChar, columnSize: i32(maxLength), quote: true, createParams: []string{"length"}, caseSensitive: true, sqlDataType: xdbcChar},
	{name: "DECIMAL", dataType: xdbcDecimal, columnSize: i32(38), createParams: []string{"precision", "scale"}, unsigned: no(),
		minScale: i32(0), maxScale: i32(38), sqlDataType: xdbcDecimal, numPrecRadix: i32(10)},
	integer("INT", xdbcInteger, 10, no()),
	integer("INT UNSIGNED", xdbcInteger, 10, yes()),
	integer("SMALLINT", xdbcSmallint, 5, no()),
	integer("SMALLINT UNSIGNED", xdbcSmallint, 5, yes()),
	{name: "FLOAT", dataType: xdbcReal, columnSize: i32(7), unsigned: no(), sqlDataType: xdbcReal, numPrecRadix: i32(10)},
	{name: "DOUBLE", dataType: xdbcDouble, columnSize: i32(15), unsigned: no(), sqlDataType: xdbcDouble, numPrecRadix: i32(10)},
	{name: "VARCHAR", dataType: xdbcVarchar, columnSize: i32(maxLength), quote: true, createParams: []string{"length"}, caseSensitive: true, sqlDataType: xdbcVarchar},
	{name: "DATE", dataType: xdbcDate, columnSize: i32(10), quote: true, sqlDataType: xdbcDatetime, datetimeSub: i32(xdbcSubcodeDate)},
	{name: "TIME", dataType: xdbcTime, columnSize: i32(15), quote: true, minScale: i32(0), maxScale: i32(6),
		sqlDataType: xdbcDatetime, datetimeSub: i32(xdbcSubcodeTime)},
	{name: "TIMESTAMP", dataType: xdbcTimestamp, columnSize: i32(26), quote: true, createParams: []string{"fractional seconds precision"},
		minScale: i32(0), maxScale: i32(6), sqlDataType: xdbcDatetime, datetimeSub: i32(xdbcSubcodeTimestamp)},
	{name: "DATETIME", dataType: xdbcTimestamp, columnSize: i32(26), quote: true, createParams: []string{"fractional seconds precision"},
		minScale: i32(0), maxScale: i32(6), sqlDataType: xdbcDatetime, datetimeSub: i32(xdbcSubcodeTimestamp)},
}

// GetFlightInfoXdbcTypeInfo implements flightsql.Server.
func (s *Server) GetFlightInfoXdbcTypeInfo(_ context.Context, _ flightsql.GetXdbcTypeInfo, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.metaInfo(desc, schema_ref.XdbcTypeInfo), nil
}

// DoGetXdbcTypeInfo returns the types Magnetar has, or those of one data
// type when the request names it.
func (s *Server) DoGetXdbcTypeInfo(_ context.Context, cmd flightsql.GetXdbcTypeInfo) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	rec := typeInfoBatch(s.mem, cmd.GetDataType())
	return rec.Schema(), oneBatch(rec), nil
}

func typeInfoBatch(mem memory.Allocator, only *int32) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, schema_ref.XdbcTypeInfo)
	defer b.Release()
	str := func(i int) *array.StringBuilder { return b.Field(i).(*array.StringBuilder) }
	i32s := func(i int) *array.Int32Builder { return b.Field(i).(*array.Int32Builder) }
	bools := func(i int) *array.BooleanBuilder { return b.Field(i).(*array.BooleanBuilder) }
	optI32 := func(i int, v *int32) {
		if v == nil {
			i32s(i).AppendNull()
		} else {
			i32s(i).Append(*v)
		}
	}
	optStr := func(i int, v string) {
		if v == "" {
			str(i).AppendNull()
		} else {
			str(i).Append(v)
		}
	}
	for _, t := range typeInfos {
		if only != nil && t.dataType != *only {
			continue
		}
		prefix, suffix := "", ""
		switch {
		case t.quote:
			prefix, suffix = "'", "'"
		case t.hexLiteral:
			prefix, suffix = "X'", "'"
		}
		str(0).Append(t.name)
		i32s(1).Append(t.dataType)
		optI32(2, t.columnSize)
		optStr(3, prefix)
		optStr(4, suffix)
		params := b.Field(5).(*array.ListBuilder)
		params.Append(true)
		for _, p := range t.createParams {
			params.ValueBuilder().(*array.StringBuilder).Append(p)
		}
		i32s(6).Append(xdbcNullable)
		bools(7).Append(t.caseSensitive)
		i32s(8).Append(xdbcSearchable)
		if t.unsigned == nil {
			bools(9).AppendNull()
		} else {
			bools(9).Append(*t.unsigned)
		}
		bools(10).Append(t.fixedPrecScale)
		bools(11).Append(false) // auto_increment: no type generates values
		str(12).Append(t.name)
		optI32(13, t.minScale)
		optI32(14, t.maxScale)
		i32s(15).Append(t.sqlDataType)
		optI32(16, t.datetimeSub)
		optI32(17, t.numPrecRadix)
		i32s(18).AppendNull() // interval_precision: no INTERVAL columns
	}
	return b.NewRecordBatch()
}
