package expr

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// TestSweepNoInternalErrors calls every registered function with every
// combination (up to three arguments) of column types over rows that hold
// ordinary values, NULLs and edge values, plus empty batches. Whatever the
// function accepts must evaluate without panicking ("internal error") and
// return one value per row; NULL-only inputs must give NULL where the
// function propagates NULL.
func TestSweepNoInternalErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("sweep")
	}
	mem := checked(t)
	dec := &arrow.Decimal128Type{Precision: 10, Scale: 2}
	types := []arrow.DataType{tInt64, tFloat, tString, tDate, tTS, tBool, dec, tUint64}
	cols := [][]any{
		{int64(3), nil, int64(-1) << 63, int64(0)},
		{2.5, nil, -1e308, 0.0},
		{"2024-01-02 03:04:05", nil, "", `{"a": [1]}`},
		{arrow.Date32(19724), nil, arrow.Date32(-1), arrow.Date32(0)},
		{arrow.Timestamp(1704164645123456), nil, arrow.Timestamp(-1), arrow.Timestamp(0)},
		{true, nil, false, true},
		{decimal128.FromI64(12345), nil, decimal128.FromI64(-99999999), decimal128.FromI64(0)},
		{uint64(7), nil, uint64(1) << 63, uint64(0)},
	}
	rec := testBatch(t, mem, types, cols...)
	defer rec.Release()
	empty := rec.NewSlice(0, 0)
	defer empty.Release()
	colExprs := make([]Expr, len(types))
	for i, dt := range types {
		colExprs[i] = col(i, dt)
	}
	ctx := context.Background()
	var argLists [][]Expr
	argLists = append(argLists, nil)
	for _, a := range colExprs {
		argLists = append(argLists, []Expr{a})
		for _, b := range colExprs {
			argLists = append(argLists, []Expr{a, b})
			for _, c := range colExprs {
				argLists = append(argLists, []Expr{a, b, c})
			}
		}
	}
	// Constants exercise the column-vs-constant fast paths.
	consts := []Expr{Lit(2), Lit(int64(-1) << 63), Lit(0.0), Lit("2024-01-02"), Null()}
	all := append(append([]Expr(nil), colExprs...), consts...)
	for _, a := range all {
		for _, b := range all {
			argLists = append(argLists, []Expr{a, b})
			for _, c := range consts {
				argLists = append(argLists, []Expr{a, b, c})
			}
		}
	}
	checkedCalls := 0
	for name := range registry {
		for _, args := range argLists {
			e, err := NewCall(name, args...)
			if err != nil {
				continue
			}
			ev, err := Compile(e, mem)
			if err != nil {
				continue
			}
			checkedCalls++
			for _, r := range []arrow.RecordBatch{rec, empty} {
				arr, err := ev.Eval(ctx, r)
				if err != nil {
					if strings.Contains(err.Error(), "internal error") {
						t.Errorf("%s: %v", e, err)
					}
					continue
				}
				if arr.Len() != int(r.NumRows()) {
					t.Errorf("%s: %d values for %d rows", e, arr.Len(), r.NumRows())
				}
				if !arrow.TypeEqual(arr.DataType(), e.Type()) {
					t.Errorf("%s: produced %s, declared %s", e, TypeName(arr.DataType()), TypeName(e.Type()))
				}
				arr.Release()
			}
		}
	}
	if checkedCalls < 1000 {
		t.Errorf("only %d calls resolved", checkedCalls)
	}
	t.Logf("%d calls evaluated", checkedCalls)
}

// TestNullPropagation: every function given only NULL arguments returns
// NULL, except the documented NULL-aware ones.
func TestNullPropagation(t *testing.T) {
	mem := checked(t)
	nullAware := map[string]bool{
		"is_null": true, "is_not_null": true, "is_true": true, "is_false": true, "is_not_true": true, "is_not_false": true,
		"<=>": true, "concat_ws": false, "json_array": true, "json_object": true, "now": true, "utc_timestamp": true,
		"curdate": true, "curtime": true, "unix_timestamp": true, "pi": true, "rand": true, "uuid": true, "field": true,
	}
	for name := range registry {
		for n := 0; n <= 3; n++ {
			args := make([]Expr, n)
			for i := range args {
				args[i] = Null()
			}
			e, err := NewCall(name, args...)
			if err != nil {
				continue
			}
			got, err := evalConst(t, mem, e)
			if err != nil {
				if strings.Contains(err.Error(), "internal error") {
					t.Errorf("%s: %v", e, err)
				}
				continue
			}
			if !nullAware[name] && got != "NULL" {
				t.Errorf("%s = %s, want NULL", e, got)
			}
		}
	}
}

// TestCastMatrix casts every sweep column to every scalar type.
func TestCastMatrix(t *testing.T) {
	mem := checked(t)
	dec := &arrow.Decimal128Type{Precision: 10, Scale: 2}
	types := []arrow.DataType{tInt64, tFloat, tString, tDate, tTS, tBool, dec, tUint64, tTime, tBinary}
	cols := [][]any{
		{int64(3), nil, int64(-1) << 63, int64(20240102)},
		{2.5, nil, -1e308, 0.0},
		{"2024-01-02 03:04:05", nil, "", "12:30:00"},
		{arrow.Date32(19724), nil, arrow.Date32(-1), arrow.Date32(0)},
		{arrow.Timestamp(1704164645123456), nil, arrow.Timestamp(-1), arrow.Timestamp(0)},
		{true, nil, false, true},
		{decimal128.FromI64(12345), nil, decimal128.FromI64(-99999999), decimal128.FromI64(0)},
		{uint64(7), nil, uint64(1) << 63, uint64(0)},
		{arrow.Time64(3600_000_000), nil, arrow.Time64(0), arrow.Time64(86399_999_999)},
		{[]byte("ab"), nil, []byte{0xff}, []byte("3")},
	}
	rec := testBatch(t, mem, types, cols...)
	defer rec.Release()
	targets := append(append([]arrow.DataType(nil), types...),
		arrow.PrimitiveTypes.Int8, arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Uint16, arrow.PrimitiveTypes.Float32,
		&arrow.Decimal128Type{Precision: 38, Scale: 10}, &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"})
	for i, from := range types {
		for _, to := range targets {
			c, err := NewCast(col(i, from), to)
			if err != nil {
				continue
			}
			ev, err := Compile(c, mem)
			if err != nil {
				t.Errorf("%s: %v", c, err)
				continue
			}
			arr, err := ev.Eval(context.Background(), rec)
			if err != nil {
				if strings.Contains(err.Error(), "internal error") {
					t.Errorf("%s: %v", c, err)
				}
				continue
			}
			if arr.Len() != 4 || !arrow.TypeEqual(arr.DataType(), to) || !arr.IsNull(1) {
				t.Errorf("%s: len %d type %s null %v", c, arr.Len(), TypeName(arr.DataType()), arr.IsNull(1))
			}
			arr.Release()
		}
	}
}
