package expr

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

func TestControlFlow(t *testing.T) {
	mem := checked(t)
	rec := testBatch(t, mem, []arrow.DataType{tInt64, tString, tFloat},
		[]any{int64(1), int64(5), nil, int64(10)},
		[]any{"x", nil, "z", "w"},
		[]any{nil, 2.5, nil, 4.0})
	defer rec.Release()
	a, s, f := col(0, tInt64), col(1, tString), col(2, tFloat)
	cse, err := NewCase([]When{
		{Cond: call(t, "<", a, Lit(3)), Then: Lit("small")},
		{Cond: call(t, "<", a, Lit(8)), Then: Lit("medium")},
	}, Lit("large"))
	if err != nil {
		t.Fatal(err)
	}
	cseNoElse, err := NewCase([]When{{Cond: call(t, ">", a, Lit(3)), Then: a}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mixed, err := NewCase([]When{{Cond: call(t, ">", a, Lit(3)), Then: a}}, f)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		e    Expr
		want string
	}{
		{"case", cse, "small medium large large"},
		{"case no else", cseNoElse, "NULL 5 NULL 10"},
		{"case int/double", mixed, "NULL 5 NULL 10"},
		{"if", call(t, "if", call(t, "is_null", s), Lit("none"), s), "x none z w"},
		{"if numeric cond", call(t, "if", a, Lit(1), Lit(0)), "1 1 0 1"},
		{"ifnull", call(t, "ifnull", f, Lit(0)), "0 2.5 0 4"},
		{"coalesce", call(t, "coalesce", Null(), f, a), "1 2.5 NULL 4"},
		{"coalesce strings", call(t, "coalesce", s, Lit("-")), "x - z w"},
		{"nullif", call(t, "nullif", a, Lit(5)), "1 NULL NULL 10"},
		{"in", &InList{Arg: a, List: []Expr{Lit(1), Lit(10)}}, "true false NULL true"},
		{"not in", &InList{Arg: a, List: []Expr{Lit(1), Lit(10)}, Not: true}, "false true NULL false"},
		{"in with null", &InList{Arg: a, List: []Expr{Lit(1), Null()}}, "true NULL NULL NULL"},
		{"not in with null", &InList{Arg: a, List: []Expr{Lit(1), Null()}, Not: true}, "false NULL NULL NULL"},
		{"in strings", &InList{Arg: s, List: []Expr{Lit("x"), Lit("w")}}, "true NULL false true"},
		{"in columns", &InList{Arg: a, List: []Expr{f, Lit(1)}}, "true false NULL false"},
		{"in mixed types", &InList{Arg: a, List: []Expr{Lit("5"), Lit(2.0)}}, "false true NULL false"},
		{"is true", call(t, "is_true", call(t, ">", a, Lit(3))), "false true false true"},
		{"is not false", call(t, "is_not_false", call(t, ">", a, Lit(3))), "false true true true"},
		{"xor", call(t, "xor", call(t, ">", a, Lit(3)), Lit(true)), "true false NULL false"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := evalStrings(t, mem, tc.e, rec)
			if err != nil {
				t.Fatal(err)
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("%s = %s, want %s", tc.e, g, tc.want)
			}
		})
	}
}

func TestFieldAccess(t *testing.T) {
	mem := checked(t)
	st := arrow.StructOf(arrow.Field{Name: "id", Type: tInt64, Nullable: true}, arrow.Field{Name: "name", Type: tString, Nullable: true})
	rec := testBatch(t, mem, []arrow.DataType{tInt64}, []any{int64(1), int64(2)})
	defer rec.Release()
	// Build a struct column by hand: {1,"a"}, NULL.
	b := newStructBuilder(mem, st)
	defer b.Release()
	b.Append(true)
	b.FieldBuilder(0).(interface{ Append(int64) }).Append(1)
	b.FieldBuilder(1).(interface{ Append(string) }).Append("a")
	b.AppendNull()
	sa := b.NewArray()
	defer sa.Release()
	rec2 := recordOf(rec.Schema(), sa)
	defer rec2.Release()
	fe, err := NewField(&Column{Index: 0, Name: "p", T: st}, "NAME")
	if err != nil {
		t.Fatal(err)
	}
	got, err := evalStrings(t, mem, fe, rec2)
	if err != nil {
		t.Fatal(err)
	}
	if g := strings.Join(got, " "); g != "a NULL" {
		t.Errorf("got %s", g)
	}
	if _, err := NewField(&Column{Index: 0, Name: "p", T: st}, "nope"); err == nil {
		t.Error("missing field accepted")
	}
}

func TestElementAt(t *testing.T) {
	mem := checked(t)
	lt := arrow.ListOf(tString)
	lb := array.NewListBuilder(mem, tString)
	vb := lb.ValueBuilder().(*array.StringBuilder)
	lb.Append(true)
	vb.Append("a")
	vb.Append("b")
	lb.AppendNull()
	lb.Append(true)
	la := lb.NewArray()
	lb.Release()
	defer la.Release()
	rec := recordOf(nil, la)
	defer rec.Release()
	c := &Column{Index: 0, Name: "p", T: lt}
	for _, tc := range []struct {
		e    Expr
		want string
	}{
		{call(t, "element_at", c, Lit(1)), "a NULL NULL"},
		{call(t, "element_at", c, Lit(-1)), "b NULL NULL"},
		{call(t, "element_at", c, Lit(3)), "NULL NULL NULL"},
		{call(t, "cardinality", c), "2 NULL 0"},
	} {
		got, err := evalStrings(t, mem, tc.e, rec)
		if err != nil {
			t.Fatal(err)
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("%s = %s, want %s", tc.e, g, tc.want)
		}
	}
	mt := arrow.MapOf(tString, tInt64)
	mb := array.NewMapBuilder(mem, tString, tInt64, false)
	mb.Append(true)
	mb.KeyBuilder().(*array.StringBuilder).Append("x")
	mb.ItemBuilder().(*array.Int64Builder).Append(7)
	mb.Append(true)
	ma := mb.NewArray()
	mb.Release()
	defer ma.Release()
	rec2 := recordOf(nil, ma)
	defer rec2.Release()
	got, err := evalStrings(t, mem, call(t, "element_at", &Column{Index: 0, Name: "p", T: mt}, Lit("x")), rec2)
	if err != nil || strings.Join(got, " ") != "7 NULL" {
		t.Fatalf("map: %v %v", got, err)
	}
}

func TestCaseErrorsOnlyFromTakenRows(t *testing.T) {
	mem := checked(t)
	rec := testBatch(t, mem, []arrow.DataType{tInt64}, []any{int64(2), int64(1) << 62, nil})
	defer rec.Release()
	a := col(0, tInt64)
	e := call(t, "if", call(t, "<", a, Lit(1000)), call(t, "*", a, Lit(1000)), Lit(-1))
	got, err := evalStrings(t, mem, e, rec)
	if err != nil || strings.Join(got, " ") != "2000 -1 -1" {
		t.Fatalf("got %v %v", got, err)
	}
	// A taken row that overflows still fails.
	e = call(t, "if", call(t, ">", a, Lit(1000)), call(t, "*", a, Lit(1000)), Lit(-1))
	if _, err := evalStrings(t, mem, e, rec); err == nil || !strings.Contains(err.Error(), "BIGINT value is out of range") {
		t.Fatalf("got %v", err)
	}
}

func TestFieldOnSlicedStruct(t *testing.T) {
	mem := checked(t)
	st := arrow.StructOf(arrow.Field{Name: "id", Type: tInt64, Nullable: true})
	b := array.NewStructBuilder(mem, st)
	defer b.Release()
	for _, v := range []int64{1, 2, 3} {
		b.Append(true)
		b.FieldBuilder(0).(*array.Int64Builder).Append(v)
	}
	b.AppendNull()
	b.FieldBuilder(0).(*array.Int64Builder).Append(0)
	full := b.NewArray()
	defer full.Release()
	sl := array.NewSlice(full, 1, 4)
	defer sl.Release()
	rec := recordOf(nil, sl)
	defer rec.Release()
	f, err := NewField(&Column{Index: 0, Name: "p", T: st}, "id")
	if err != nil {
		t.Fatal(err)
	}
	got, err := evalStrings(t, mem, f, rec)
	if err != nil || strings.Join(got, " ") != "2 3 NULL" {
		t.Fatalf("got %v %v", got, err)
	}
	got, err = evalStrings(t, mem, call(t, "+", f, Lit(1)), rec)
	if err != nil || strings.Join(got, " ") != "3 4 NULL" {
		t.Fatalf("got %v %v", got, err)
	}
}
