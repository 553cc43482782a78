package expr

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

func TestArithmeticAndComparison(t *testing.T) {
	mem := checked(t)
	rec := testBatch(t, mem, []arrow.DataType{tInt64, tFloat, tInt64},
		[]any{int64(1), int64(200), nil, int64(-5)},
		[]any{0.25, 0.75, 1.0, nil},
		[]any{int64(0), int64(3), int64(2), nil})
	defer rec.Release()
	a, b, c := col(0, tInt64), col(1, tFloat), col(2, tInt64)
	cases := []struct {
		name string
		e    Expr
		want string
	}{
		{"a*2+1", call(t, "+", call(t, "*", a, Lit(2)), Lit(1)), "3 401 NULL -9"},
		{"a+c", call(t, "+", a, c), "1 203 NULL NULL"},
		{"a-c", call(t, "-", a, c), "1 197 NULL NULL"},
		{"10-a", call(t, "-", Lit(10), a), "9 -190 NULL 15"},
		{"a*c", call(t, "*", a, c), "0 600 NULL NULL"},
		{"a/c", call(t, "/", a, c), "NULL 66.66666666666667 NULL NULL"},
		{"a/2", call(t, "/", a, Lit(2)), "0.5 100 NULL -2.5"},
		{"a div c", call(t, "div", a, c), "NULL 66 NULL NULL"},
		{"a % c", call(t, "%", a, c), "NULL 2 NULL NULL"},
		{"-a", call(t, "neg", a), "-1 -200 NULL 5"},
		{"a+b", call(t, "+", a, b), "1.25 200.75 NULL NULL"},
		{"a > 100", call(t, ">", a, Lit(100)), "false true NULL false"},
		{"100 > a", call(t, ">", Lit(100), a), "true false NULL true"},
		{"b < 0.5", call(t, "<", b, Lit(0.5)), "true false false NULL"},
		{"a >= c", call(t, ">=", a, c), "true true NULL NULL"},
		{"a = b", call(t, "=", a, b), "false false NULL NULL"},
		{"a <=> c", call(t, "<=>", a, c), "false false false false"},
		{"c <=> NULL", call(t, "<=>", c, Null()), "false false false true"},
		{"a > 100 and b < 0.5", call(t, "and", call(t, ">", a, Lit(100)), call(t, "<", b, Lit(0.5))), "false false false false"},
		{"a > 100 or b < 0.5", call(t, "or", call(t, ">", a, Lit(100)), call(t, "<", b, Lit(0.5))), "true true NULL NULL"},
		{"not a > 100", call(t, "not", call(t, ">", a, Lit(100))), "true false NULL true"},
		{"a is null", call(t, "is_null", a), "false false true false"},
		{"a is not null", call(t, "is_not_null", a), "true true false true"},
		{"a between 0 and 100", call(t, "between", a, Lit(0), Lit(100)), "true false NULL false"},
		{"a + NULL", call(t, "+", a, Null()), "NULL NULL NULL NULL"},
		{"a = '200'", call(t, "=", a, Lit("200")), "false true NULL false"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := evalStrings(t, mem, tc.e, rec)
			if err != nil {
				t.Fatal(err)
			}
			if s := strings.Join(got, " "); s != tc.want {
				t.Errorf("%s = %s, want %s", tc.e, s, tc.want)
			}
		})
	}
}

func TestOverflowErrors(t *testing.T) {
	mem := checked(t)
	rec := testBatch(t, mem, []arrow.DataType{tInt64}, []any{int64(1), int64(1) << 62, nil})
	defer rec.Release()
	a := col(0, tInt64)
	for _, e := range []Expr{
		call(t, "*", a, Lit(4)),
		call(t, "+", a, Lit(int64(1)<<62)),
		call(t, "*", a, a),
		call(t, "-", Lit(int64(-1)<<63), a),
	} {
		_, err := evalStrings(t, mem, e, rec)
		if err == nil || !strings.Contains(err.Error(), "BIGINT value is out of range in '") {
			t.Errorf("%s: want BIGINT out of range error, got %v", e, err)
		}
	}
	// NULL rows with garbage never overflow: 1<<62 * 1 is fine.
	if _, err := evalStrings(t, mem, call(t, "*", a, Lit(1)), rec); err != nil {
		t.Fatal(err)
	}
}

func TestEmptyBatch(t *testing.T) {
	mem := checked(t)
	rec := testBatch(t, mem, []arrow.DataType{tInt64}, []any{})
	defer rec.Release()
	got, err := evalStrings(t, mem, call(t, ">", call(t, "+", col(0, tInt64), Lit(1)), Lit(3)), rec)
	if err != nil || len(got) != 0 {
		t.Fatalf("got %v, %v", got, err)
	}
}

func TestUnknownFunction(t *testing.T) {
	_, err := NewCall("foo", Lit(1))
	if err == nil || err.Error() != `unknown function "foo"` {
		t.Fatalf("got %v", err)
	}
}

func TestHandBuiltTrees(t *testing.T) {
	mem := checked(t)
	rec := testBatch(t, mem, []arrow.DataType{tInt64}, []any{int64(1), int64(5)})
	defer rec.Release()
	// A Call built by hand (no NewCall), with Go int literals and a date
	// literal given as text: Compile resolves and normalises.
	e := &Call{Name: "GT", Args: []Expr{&Call{Name: "+", Args: []Expr{col(0, tInt64), &Literal{Value: 1, T: tInt64}}}, &Literal{Value: int32(3), T: tInt64}}}
	ev, err := Compile(e, mem)
	if err != nil {
		t.Fatal(err)
	}
	arr, err := ev.Eval(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	if FormatValue(arr, 0) != "false" || FormatValue(arr, 1) != "true" {
		t.Errorf("got %s %s", FormatValue(arr, 0), FormatValue(arr, 1))
	}
	arr.Release()
	d := &Literal{Value: "2024-01-02", T: tDate}
	got, err := evalStrings(t, mem, d, rec)
	if err != nil || strings.Join(got, " ") != "2024-01-02 2024-01-02" {
		t.Fatalf("got %v %v", got, err)
	}
	if _, err := Compile(&Literal{Value: struct{}{}, T: tInt64}, mem); err == nil {
		t.Error("bad literal accepted")
	}
	if _, err := Compile(&Column{Index: 3, Name: "x", T: tInt64}, mem); err != nil {
		t.Fatal(err)
	}
	ev, _ = Compile(&Column{Index: 3, Name: "x", T: tInt64}, mem)
	if _, err := ev.Eval(context.Background(), rec); err == nil {
		t.Error("out-of-range column accepted")
	}
}

func TestUnsignedArithmetic(t *testing.T) {
	mem := checked(t)
	rec := testBatch(t, mem, []arrow.DataType{tUint64, tUint64},
		[]any{uint64(10), uint64(1) << 63, nil},
		[]any{uint64(3), uint64(1) << 63, uint64(1)})
	defer rec.Release()
	a, b := col(0, tUint64), col(1, tUint64)
	for _, tc := range []struct {
		e    Expr
		want string
		err  string
	}{
		{e: call(t, "-", a, Lit(uint64(3))), want: "7 9223372036854775805 NULL"},
		{e: call(t, "div", a, b), want: "3 1 NULL"},
		{e: call(t, "%", a, b), want: "1 0 NULL"},
		{e: call(t, "*", a, Lit(uint64(1))), want: "10 9223372036854775808 NULL"},
		{e: call(t, "+", a, b), err: "BIGINT UNSIGNED value is out of range in '(a + b)'"},
		{e: call(t, "-", b, a), err: "BIGINT UNSIGNED value is out of range in '(b - a)'"},
		{e: call(t, "+", a, Lit(-20)), err: "BIGINT UNSIGNED value is out of range"},
		{e: call(t, "+", a, Lit(1.5)), want: "11.5 9.223372036854776e18 NULL"},
		{e: call(t, "neg", a), want: "-10 -9223372036854775808 NULL"},
		{e: call(t, ">", a, Lit(-1)), want: "true true NULL"},
	} {
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
