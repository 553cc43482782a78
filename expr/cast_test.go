package expr

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

func cast(t *testing.T, e Expr, to arrow.DataType) Expr {
	t.Helper()
	c, err := NewCast(e, to)
	if err != nil {
		t.Fatalf("NewCast(%s, %s): %v", e, TypeName(to), err)
	}
	return c
}

func TestCasts(t *testing.T) {
	d := func(p, s int32) arrow.DataType { return &arrow.Decimal128Type{Precision: p, Scale: s} }
	mem := checked(t)
	// Column casts (literal casts fold at NewCast time; test both).
	rec := testBatch(t, mem, []arrow.DataType{tString, tFloat, tInt64, tTS},
		[]any{"12abc", " 3.7", "abc", nil},
		[]any{2.5, -2.5, 1e300, nil},
		[]any{int64(300), int64(-1), int64(0), nil},
		[]any{arrow.Timestamp(1704164645123456), arrow.Timestamp(0), nil, arrow.Timestamp(-1)})
	defer rec.Release()
	s, f, i, ts := col(0, tString), col(1, tFloat), col(2, tInt64), col(3, tTS)
	cases := []struct {
		e    Expr
		want string
		err  string
	}{
		{e: cast(t, s, tInt64), want: "12 3 0 NULL"},
		{e: cast(t, s, tFloat), want: "12 3.7 0 NULL"},
		{e: cast(t, s, d(5, 2)), want: "12.00 3.70 0.00 NULL"},
		{e: cast(t, s, tBool), want: "true true false NULL"},
		{e: cast(t, i, tString), want: "300 -1 0 NULL"},
		{e: cast(t, i, tBool), want: "true true false NULL"},
		{e: cast(t, i, d(6, 1)), want: "300.0 -1.0 0.0 NULL"},
		{e: cast(t, i, arrow.PrimitiveTypes.Int8), err: "TINYINT value is out of range in cast of 300"},
		{e: cast(t, i, tUint64), err: "BIGINT UNSIGNED value is out of range in cast of -1"},
		{e: cast(t, f, tInt64), err: "BIGINT value is out of range in cast of 1e300"},
		{e: cast(t, f, tString), want: "2.5 -2.5 1e300 NULL"},
		{e: cast(t, f, arrow.PrimitiveTypes.Float32), want: "2.5 -2.5 +Inf NULL"},
		{e: cast(t, ts, tString), want: "2024-01-02 03:04:05.123456 1970-01-01 00:00:00 NULL 1969-12-31 23:59:59.999999"},
		{e: cast(t, ts, tDate), want: "2024-01-02 1970-01-01 NULL 1969-12-31"},
		{e: cast(t, ts, tTime), want: "03:04:05.123456 00:00:00 NULL 23:59:59.999999"},
		{e: cast(t, ts, tInt64), want: "20240102030405 19700101000000 NULL 19691231235959"},
		{e: cast(t, ts, &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}), want: "2024-01-02 03:04:05.123 1970-01-01 00:00:00.000 NULL 1969-12-31 23:59:59.999"},
	}
	for _, tc := range cases {
		got, err := evalStrings(t, mem, tc.e, rec)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.e, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.e, err)
			continue
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("%s = %s, want %s", tc.e, g, tc.want)
		}
	}
}

func TestLiteralCastsFold(t *testing.T) {
	for _, tc := range []struct {
		from Expr
		to   arrow.DataType
		want any
	}{
		{Lit("2024-01-02"), tDate, arrow.Date32(19724)},
		{Lit("2024-01-02 03:04:05"), tTS, arrow.Timestamp(1704164645000000)},
		{Lit("2024-01-02T03:04:05.5Z"), tTS, arrow.Timestamp(1704164645500000)},
		{Lit("2024-01-02 03:04:05+01:00"), tTS, arrow.Timestamp(1704161045000000)},
		{Lit("20240102"), tDate, arrow.Date32(19724)},
		{Lit("2024-02-30"), tDate, nil},
		{Lit("12:34:56.5"), tTime, arrow.Time64(45296500000)},
		{Lit("1.5"), tInt64, int64(1)},
		{Lit("-7e3"), tInt64, int64(-7)},
		{Lit(-1.5), tInt64, int64(-2)},
		{Lit(1), tFloat, 1.0},
		{Lit(true), tInt64, int64(1)},
		{Lit("true"), tBool, true},
		{Lit("0"), tBool, false},
		{Null(), tInt64, nil},
		{Lit("1.235"), &arrow.Decimal128Type{Precision: 5, Scale: 2}, decimal128.FromI64(124)},
	} {
		got, err := NewCast(tc.from, tc.to)
		if err != nil {
			t.Errorf("cast %s to %s: %v", tc.from, TypeName(tc.to), err)
			continue
		}
		l, ok := got.(*Literal)
		if !ok {
			t.Errorf("cast %s to %s not folded: %s", tc.from, TypeName(tc.to), got)
			continue
		}
		if l.Value != tc.want || !arrow.TypeEqual(l.T, tc.to) {
			t.Errorf("cast %s to %s = %#v (%s), want %#v", tc.from, TypeName(tc.to), l.Value, TypeName(l.T), tc.want)
		}
	}
	if _, err := NewCast(&Column{Name: "s", T: arrow.StructOf()}, tInt64); err == nil || err.Error() != "cannot cast STRUCT<> to BIGINT" {
		t.Errorf("got %v", err)
	}
}

func TestComparisonTyping(t *testing.T) {
	c := func(name string, args ...Expr) Expr { return call(t, name, args...) }
	d := &Literal{Value: arrow.Date32(19724), T: tDate}
	runConst(t, []constCase{
		{c("=", Lit(1), Lit(1.0)), "true"},
		{c("<", Lit(uint64(1)<<63), Lit(-1)), "false"},
		{c(">", Lit(uint64(1)<<63), Lit(1)), "true"},
		{c("=", Lit("abc"), Lit("abc")), "true"},
		{c("<", Lit("B"), Lit("a")), "true"}, // binary collation
		{c("=", Lit("10"), Lit(10)), "true"},
		{c("=", Lit("1e1"), Lit(10)), "true"},
		{c("<", Lit("9"), Lit("10")), "false"}, // strings compare as strings
		{c("=", d, Lit("2024-01-02")), "true"},
		{c("<", d, Lit("2024-01-02 00:00:01")), "true"},
		{c("=", d, Lit(arrow.Timestamp(1704153600000000))), "true"},
		{c("=", Lit(true), Lit(1)), "true"},
		{c("<>", Lit(false), Lit(true)), "true"},
		{c("<=>", Null(), Null()), "true"},
		{c("<=>", Lit(1), Null()), "false"},
		{c("=", Lit(1), Null()), "NULL"},
		{c("=", dec("1.50", 5, 2), dec("1.5", 3, 1)), "true"},
		{c(">", dec("1.50", 5, 2), Lit(1)), "true"},
		{c("<", dec("1.50", 5, 2), Lit(1.6)), "true"},
		{c("between", Lit(5), Lit(1), Lit(10)), "true"},
		{c("not_between", Lit(5), Lit(1), Lit(10)), "false"},
		{c("between", Lit("b"), Lit("a"), Lit("c")), "true"},
		{c("and", Lit(1), Null()), "NULL"},
		{c("and", Lit(0), Null()), "false"},
		{c("or", Lit(1), Null()), "true"},
		{c("or", Lit(0), Null()), "NULL"},
		{c("xor", Lit(1), Lit(0)), "true"},
		{c("not", Null()), "NULL"},
		{c("is_true", Null()), "false"},
		{c("is_not_true", Null()), "true"},
		{c("is_null", Null()), "true"},
	})
	if _, err := NewCall("=", Lit(arrow.Date32(1)), Lit(1)); err == nil || !strings.Contains(err.Error(), "cannot compare DATE with BIGINT") {
		t.Errorf("got %v", err)
	}
}

func TestNarrowColumnCompare(t *testing.T) {
	mem := checked(t)
	i32 := arrow.PrimitiveTypes.Int32
	u8 := arrow.PrimitiveTypes.Uint8
	rec := testBatch(t, mem, []arrow.DataType{i32, u8, arrow.PrimitiveTypes.Float32},
		[]any{int64(5), int64(-7), nil},
		[]any{uint64(200), uint64(3), uint64(9)},
		[]any{1.5, nil, -2.0})
	defer rec.Release()
	a, b, f := col(0, i32), col(1, u8), col(2, arrow.PrimitiveTypes.Float32)
	for _, tc := range []struct {
		e    Expr
		want string
	}{
		{call(t, ">", a, Lit(0)), "true false NULL"},
		{call(t, ">", a, Lit(int64(1)<<40)), "false false NULL"}, // literal beyond INT widens
		{call(t, "<", b, Lit(10)), "false true true"},
		{call(t, "<", b, Lit(-1)), "false false false"},
		{call(t, "=", a, b), "false false NULL"},
		{call(t, ">", f, Lit(0)), "true NULL false"},
		{call(t, "+", a, b), "205 -4 NULL"}, // narrow unsigned counts as signed
		{call(t, "*", f, Lit(2)), "3 NULL -4"},
	} {
		got, err := evalStrings(t, mem, tc.e, rec)
		if err != nil {
			t.Fatalf("%s: %v", tc.e, err)
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("%s = %s, want %s", tc.e, g, tc.want)
		}
	}
}

func TestSlicedInputs(t *testing.T) {
	mem := checked(t)
	ints := make([]any, 40)
	strs := make([]any, 40)
	for i := range ints {
		if i%7 == 3 {
			continue
		}
		ints[i] = int64(i)
		strs[i] = string(rune('a' + i%26))
	}
	rec := testBatch(t, mem, []arrow.DataType{tInt64, tString}, ints, strs)
	defer rec.Release()
	sl := rec.NewSlice(3, 37) // offset 3: not byte aligned
	defer sl.Release()
	a, s := col(0, tInt64), col(1, tString)
	pred := call(t, "or", call(t, ">", a, Lit(30)), call(t, "like", s, Lit("c%")))
	got, err := evalStrings(t, mem, pred, sl)
	if err != nil {
		t.Fatal(err)
	}
	for k, g := range got {
		row := k + 3
		var want string
		switch {
		case ints[row] == nil:
			want = "NULL"
		case row > 30 || strs[row] == "c":
			want = "true"
		default:
			want = "false"
		}
		if row%7 == 3 && row > 30 {
			want = "NULL"
		}
		if g != want {
			t.Errorf("row %d: got %s want %s", row, g, want)
		}
	}
	got, err = evalStrings(t, mem, call(t, "is_null", a), sl)
	if err != nil {
		t.Fatal(err)
	}
	for k, g := range got {
		if want := (k+3)%7 == 3; (g == "true") != want {
			t.Errorf("is_null row %d = %s", k+3, g)
		}
	}
	got, err = evalStrings(t, mem, call(t, "not", call(t, "<", a, Lit(10))), sl)
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != "NULL" || got[1] != "false" || got[10] != "true" {
		t.Errorf("not: %v", got[:11])
	}
}

func TestFoldAndIsConstant(t *testing.T) {
	mem := checked(t)
	ctx := context.Background()
	e := call(t, "+", call(t, "*", Lit(6), Lit(7)), Lit(0.5))
	if !IsConstant(e) {
		t.Fatal("constant not recognised")
	}
	f, err := Fold(ctx, e, mem)
	if err != nil {
		t.Fatal(err)
	}
	if l := f.(*Literal); l.Value != 42.5 || l.T.ID() != arrow.FLOAT64 {
		t.Errorf("folded to %#v", l)
	}
	f, err = Fold(ctx, call(t, "concat", Lit("a"), Lit(1)), mem)
	if err != nil || f.(*Literal).Value != "a1" {
		t.Errorf("folded concat: %v %v", f, err)
	}
	f, err = Fold(ctx, call(t, "+", Lit(1), Null()), mem)
	if err != nil || f.(*Literal).Value != nil || f.Type().ID() != arrow.INT64 {
		t.Errorf("folded NULL: %#v %v", f, err)
	}
	if _, err := Fold(ctx, call(t, "*", Lit(int64(1)<<62), Lit(4)), mem); err == nil || !strings.Contains(err.Error(), "BIGINT value is out of range") {
		t.Errorf("overflow folding: %v", err)
	}
	if IsConstant(call(t, "+", col(0, tInt64), Lit(1))) {
		t.Error("column treated as constant")
	}
	if _, err := Fold(ctx, col(0, tInt64), mem); err == nil {
		t.Error("folded a column")
	}
}

func TestTypeNameAndFormat(t *testing.T) {
	for _, tc := range []struct {
		t    arrow.DataType
		want string
	}{
		{tInt64, "BIGINT"}, {arrow.PrimitiveTypes.Int32, "INT"}, {tUint64, "BIGINT UNSIGNED"}, {tFloat, "DOUBLE"},
		{arrow.PrimitiveTypes.Float32, "FLOAT"}, {&arrow.Decimal128Type{Precision: 10, Scale: 2}, "DECIMAL(10,2)"},
		{tString, "VARCHAR"}, {tBinary, "VARBINARY"}, {tDate, "DATE"}, {tTime, "TIME(6)"}, {tTS, "TIMESTAMP(6)"},
		{tBool, "BOOLEAN"}, {tNull, "NULL"}, {arrow.ListOf(tInt64), "ARRAY<BIGINT>"},
		{arrow.StructOf(arrow.Field{Name: "a", Type: tString}), "STRUCT<a VARCHAR>"},
		{arrow.MapOf(tString, tInt64), "MAP<VARCHAR, BIGINT>"},
	} {
		if got := TypeName(tc.t); got != tc.want {
			t.Errorf("TypeName(%s) = %s, want %s", tc.t, got, tc.want)
		}
	}
	c := func(name string, args ...Expr) Expr { return call(t, name, args...) }
	runConst(t, []constCase{
		{Lit(0.1), "0.1"},
		{Lit(1e20), "1e20"},
		{Lit(1e-7), "1e-7"},
		{Lit(123456789012.0), "123456789012"},
		{Lit(true), "true"},
		{Lit(arrow.Timestamp(1704164645000000)), "2024-01-02 03:04:05"},
		{dec("-0.05", 4, 2), "-0.05"},
		{Lit([]byte{0xff, 0x00}), "0xFF00"},
		{Null(), "NULL"},
		{c("/", Lit(1), Lit(3)), "0.3333333333333333"},
	})
}

func TestScalarValues(t *testing.T) {
	mem := checked(t)
	rec := testBatch(t, mem, []arrow.DataType{arrow.PrimitiveTypes.Int16, arrow.PrimitiveTypes.Uint32, tString, tDate},
		[]any{int64(-3), nil}, []any{uint64(7), nil}, []any{"x", nil}, []any{arrow.Date32(1), nil})
	defer rec.Release()
	want := []any{int64(-3), uint64(7), "x", arrow.Date32(1)}
	for k := range want {
		if got := Scalar(rec.Column(k), 0); got != want[k] {
			t.Errorf("column %d: %#v", k, got)
		}
		if got := Scalar(rec.Column(k), 1); got != nil {
			t.Errorf("column %d NULL: %#v", k, got)
		}
	}
}

func TestFunctionsDocumented(t *testing.T) {
	docs := Functions()
	seen := map[string]bool{}
	for _, d := range docs {
		if d.Name == "" || d.Signature == "" || d.Description == "" || d.Example == "" {
			t.Errorf("incomplete doc: %+v", d)
		}
		seen[d.Name] = true
	}
	for _, n := range []string{"concat", "substring", "substr", "date_add", "json_extract", "like", "+", "coalesce", "now", "sha2", "extract", "timestampdiff"} {
		if !seen[n] {
			t.Errorf("%s missing from Functions()", n)
		}
	}
}

func TestDictionaryAndMismatchedColumns(t *testing.T) {
	mem := checked(t)
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: tString}
	db := array.NewDictionaryBuilder(mem, dt).(*array.BinaryDictionaryBuilder)
	defer db.Release()
	for _, v := range []string{"red", "blue", "red"} {
		if err := db.AppendString(v); err != nil {
			t.Fatal(err)
		}
	}
	db.AppendNull()
	arr := db.NewArray()
	defer arr.Release()
	rec := recordOf(nil, arr)
	defer rec.Release()
	c := &Column{Index: 0, Name: "p", T: dt}
	got, err := evalStrings(t, mem, call(t, "=", c, Lit("red")), rec)
	if err != nil || strings.Join(got, " ") != "true false true NULL" {
		t.Fatalf("dictionary compare: %v %v", got, err)
	}
	got, err = evalStrings(t, mem, call(t, "upper", c), rec)
	if err != nil || strings.Join(got, " ") != "RED BLUE RED NULL" {
		t.Fatalf("dictionary upper: %v %v", got, err)
	}
	// A millisecond timestamp column bound as TIMESTAMP(6).
	msType := &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
	tb := array.NewTimestampBuilder(mem, msType)
	tb.Append(1500)
	ms := tb.NewArray()
	tb.Release()
	defer ms.Release()
	rec2 := recordOf(nil, ms)
	defer rec2.Release()
	got, err = evalStrings(t, mem, call(t, "second", &Column{Index: 0, Name: "p", T: tTS}), rec2)
	if err != nil || strings.Join(got, " ") != "1" {
		t.Fatalf("ms timestamp: %v %v", got, err)
	}
}
