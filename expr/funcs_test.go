package expr

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

type constCase struct {
	e    Expr
	want string
}

// runConst evaluates constant expressions (no folding at NewCall time:
// Compile evaluates them per batch like any other expression).
func runConst(t *testing.T, cases []constCase) {
	t.Helper()
	mem := checked(t)
	for _, tc := range cases {
		got, err := evalConst(t, mem, tc.e)
		if err != nil {
			t.Errorf("%s: %v", tc.e, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s = %q, want %q", tc.e, got, tc.want)
		}
	}
}

func dec(s string, p, sc int32) *Literal {
	n, err := decimal128.FromString(s, p, sc)
	if err != nil {
		panic(err)
	}
	return &Literal{Value: n, T: &arrow.Decimal128Type{Precision: p, Scale: sc}}
}

func TestStringFunctions(t *testing.T) {
	c := func(name string, args ...Expr) Expr { return call(t, name, args...) }
	runConst(t, []constCase{
		{c("concat", Lit("a"), Lit(1), Lit("b")), "a1b"},
		{c("concat", Lit("a"), Null()), "NULL"},
		{c("concat_ws", Lit(","), Lit("a"), Null(), Lit("b")), "a,b"},
		{c("substring", Lit("magnetar"), Lit(3)), "gnetar"},
		{c("substring", Lit("magnetar"), Lit(-3), Lit(2)), "ta"},
		{c("substring", Lit("magnetar"), Lit(0)), ""},
		{c("substr", Lit("héllo"), Lit(2), Lit(3)), "éll"},
		{c("substring", Lit("abc"), Lit(-5)), ""},
		{c("left", Lit("magnetar"), Lit(3)), "mag"},
		{c("right", Lit("magnetar"), Lit(3)), "tar"},
		{c("right", Lit("ab"), Lit(5)), "ab"},
		{c("upper", Lit("abc")), "ABC"},
		{c("lower", Lit("ABC")), "abc"},
		{c("length", Lit("héllo")), "6"},
		{c("char_length", Lit("héllo")), "5"},
		{c("trim", Lit("  a b  ")), "a b"},
		{c("trim", Lit("xxaxx"), Lit("x"), Lit("LEADING")), "axx"},
		{c("ltrim", Lit("  a ")), "a "},
		{c("rtrim", Lit("  a ")), "  a"},
		{c("replace", Lit("a-b-c"), Lit("-"), Lit("+")), "a+b+c"},
		{c("locate", Lit("b"), Lit("abcb")), "2"},
		{c("locate", Lit("b"), Lit("abcb"), Lit(3)), "4"},
		{c("locate", Lit("z"), Lit("abc")), "0"},
		{c("instr", Lit("héllo"), Lit("l")), "3"},
		{c("lpad", Lit("7"), Lit(3), Lit("0")), "007"},
		{c("lpad", Lit("hello"), Lit(2), Lit("0")), "he"},
		{c("rpad", Lit("7"), Lit(4), Lit("ab")), "7aba"},
		{c("substring_index", Lit("a.b.c"), Lit("."), Lit(2)), "a.b"},
		{c("substring_index", Lit("a.b.c"), Lit("."), Lit(-2)), "b.c"},
		{c("substring_index", Lit("a.b.c"), Lit("."), Lit(5)), "a.b.c"},
		{c("reverse", Lit("héllo")), "olléh"},
		{c("repeat", Lit("ab"), Lit(3)), "ababab"},
		{c("repeat", Lit("ab"), Lit(0)), ""},
		{c("length", Null()), "NULL"},
		{c("concat", Lit(1.5), Lit(true)), "1.51"},
	})
}

func TestStringFunctionsColumns(t *testing.T) {
	mem := checked(t)
	rec := testBatch(t, mem, []arrow.DataType{tString, tInt64},
		[]any{"hello", nil, "", "wörld"},
		[]any{int64(2), int64(1), nil, int64(-2)})
	defer rec.Release()
	s, n := col(0, tString), col(1, tInt64)
	got, err := evalStrings(t, mem, call(t, "substring", s, n), rec)
	if err != nil {
		t.Fatal(err)
	}
	if g := strings.Join(got, "|"); g != "ello|NULL|NULL|ld" {
		t.Errorf("got %s", g)
	}
	got, err = evalStrings(t, mem, call(t, "upper", s), rec)
	if err != nil {
		t.Fatal(err)
	}
	if g := strings.Join(got, "|"); g != "HELLO|NULL||WÖRLD" {
		t.Errorf("got %s", g)
	}
}

func TestMathFunctions(t *testing.T) {
	c := func(name string, args ...Expr) Expr { return call(t, name, args...) }
	runConst(t, []constCase{
		{c("abs", Lit(-3)), "3"},
		{c("abs", Lit(-2.5)), "2.5"},
		{c("abs", dec("-1.25", 5, 2)), "1.25"},
		{c("round", Lit(3.14159), Lit(2)), "3.14"},
		{c("round", Lit(2.5)), "2"},
		{c("round", dec("2.5", 3, 1)), "3"},
		{c("round", dec("-2.567", 5, 3), Lit(2)), "-2.57"},
		{c("round", Lit(1234), Lit(-2)), "1200"},
		{c("round", Lit(1250), Lit(-2)), "1300"},
		{c("truncate", Lit(3.789), Lit(1)), "3.7"},
		{c("truncate", dec("3.789", 4, 3), Lit(1)), "3.7"},
		{c("floor", Lit(-1.5)), "-2"},
		{c("floor", dec("-1.5", 3, 1)), "-2"},
		{c("ceil", Lit(1.2)), "2"},
		{c("ceiling", dec("1.2", 3, 1)), "2"},
		{c("ceil", Lit(7)), "7"},
		{c("mod", Lit(7), Lit(3)), "1"},
		{c("mod", Lit(-7), Lit(3)), "-1"},
		{c("mod", Lit(7), Lit(0)), "NULL"},
		{c("power", Lit(2), Lit(10)), "1024"},
		{c("pow", Lit(-1), Lit(0.5)), "NULL"},
		{c("sqrt", Lit(16)), "4"},
		{c("sqrt", Lit(-1)), "NULL"},
		{c("ln", Lit(0)), "NULL"},
		{c("log", Lit(2), Lit(8)), "3"},
		{c("log10", Lit(1000)), "3"},
		{c("log2", Lit(8)), "3"},
		{c("exp", Lit(0)), "1"},
		{c("sign", Lit(-2.5)), "-1"},
		{c("sign", Lit(0)), "0"},
		{c("pi"), "3.141592653589793"},
		{c("greatest", Lit(1), Lit(5), Lit(3)), "5"},
		{c("least", Lit(1), Lit(5.5), Lit(3)), "1"},
		{c("greatest", Lit(1), Null()), "NULL"},
		{c("greatest", Lit("a"), Lit("b")), "b"},
		{c("+", dec("1.25", 5, 2), Lit(1)), "2.25"},
		{c("*", dec("1.25", 5, 2), dec("2.5", 3, 1)), "3.125"},
		{c("/", dec("1.00", 5, 2), Lit(3)), "0.333333"},
		{c("/", dec("1.00", 5, 2), Lit(0)), "NULL"},
		{c("/", Lit(1), Lit(0)), "NULL"},
		{c("%", dec("7.5", 3, 1), Lit(2)), "1.5"},
		{c("-", Lit(uint64(5)), Lit(3)), "2"},
		{c("div", Lit(7.9), Lit(2)), "3"},
		{c("neg", dec("1.5", 3, 1)), "-1.5"},
		{c("+", Lit("1.5"), Lit(1)), "2.5"},
	})
}

func TestArithmeticErrors(t *testing.T) {
	mem := checked(t)
	for _, tc := range []struct {
		e    Expr
		want string
	}{
		{call(t, "-", Lit(uint64(3)), Lit(uint64(5))), "BIGINT UNSIGNED value is out of range in '(3 - 5)'"},
		{call(t, "-", Lit(uint64(3)), Lit(5)), "BIGINT UNSIGNED value is out of range"},
		{call(t, "neg", Lit(int64(-1)<<63)), "BIGINT value is out of range"},
		{call(t, "+", Lit(int64(1)<<62), Lit(int64(1)<<62)), "BIGINT value is out of range in '(4611686018427387904 + 4611686018427387904)'"},
		{call(t, "*", dec("99999999999999999999", 38, 0), dec("99999999999999999999", 38, 0)), "DECIMAL value is out of range"},
	} {
		_, err := evalConst(t, mem, tc.e)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.e, err, tc.want)
		}
	}
	if _, err := NewCall("substring", Lit(true), Lit(1)); err != nil {
		t.Errorf("boolean to substring should convert: %v", err)
	}
	_, err := NewCall("+", &Column{Name: "s", T: arrow.StructOf()}, Lit(1))
	if err == nil || err.Error() != "function +: cannot take argument 1 of type STRUCT<>" {
		t.Errorf("got %v", err)
	}
	_, err = NewCall("substring", Lit("a"))
	if err == nil || !strings.Contains(err.Error(), "function substring: takes 2 to 3 arguments") {
		t.Errorf("got %v", err)
	}
}

func TestRepeatHugeCountIsNull(t *testing.T) {
	mem := checked(t)
	e, err := NewCall("repeat", Lit("ab"), Lit(int64(9223372036854775807)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := evalConst(t, mem, e)
	if err != nil {
		t.Fatalf("want NULL, got error %v", err)
	}
	if got != "NULL" {
		t.Fatalf("want NULL, got %q", got)
	}
}
