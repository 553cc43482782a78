package expr

import (
	"context"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// evalBoth evaluates e with and without fusion and requires equal results.
func evalBoth(t *testing.T, e Expr, rec arrow.RecordBatch) ([]string, error) {
	t.Helper()
	mem := checked(t)
	fuseEnabled = false
	plain, perr := evalStrings(t, mem, e, rec)
	fuseEnabled = true
	fused, ferr := evalStrings(t, mem, e, rec)
	if (perr == nil) != (ferr == nil) || (perr != nil && perr.Error() != ferr.Error()) {
		t.Fatalf("%s: unfused error %v, fused error %v", e, perr, ferr)
	}
	for i := range plain {
		if plain[i] != fused[i] {
			t.Fatalf("%s: row %d: unfused %s, fused %s", e, i, plain[i], fused[i])
		}
	}
	return fused, ferr
}

func TestFusionMatchesOperators(t *testing.T) {
	mem := checked(t)
	rng := rand.New(rand.NewSource(1))
	const n = 3000 // spans several chunks, not a multiple of 1024
	ints, floats := make([]any, n), make([]any, n)
	for i := range ints {
		if rng.Intn(10) == 0 {
			ints[i] = nil
		} else {
			ints[i] = rng.Int63n(2000) - 1000
		}
		if rng.Intn(10) == 0 {
			floats[i] = nil
		} else {
			floats[i] = rng.Float64()*100 - 50
		}
	}
	rec := testBatch(t, mem, []arrow.DataType{tInt64, tFloat}, ints, floats)
	defer rec.Release()
	a, b := col(0, tInt64), col(1, tFloat)
	exprs := []Expr{
		call(t, "+", call(t, "*", a, Lit(2)), Lit(1)),
		call(t, "-", Lit(7), call(t, "*", a, a)),
		call(t, "neg", call(t, "-", a, Lit(int64(math.MinInt64)+5000))),
		call(t, "+", call(t, "*", b, Lit(2.5)), a),
		call(t, "/", call(t, "-", b, a), Lit(4)),
		call(t, "*", call(t, "+", a, call(t, "abs", a)), Lit(3)),
		call(t, "-", call(t, "neg", b), call(t, "*", a, Lit(0.5))),
	}
	for _, e := range exprs {
		if _, err := evalBoth(t, e, rec); err != nil {
			t.Fatalf("%s: %v", e, err)
		}
		// Sliced input (non-zero offsets) too.
		sl := rec.NewSlice(5, 2500)
		if _, err := evalBoth(t, e, sl); err != nil {
			t.Fatalf("%s sliced: %v", e, err)
		}
		sl.Release()
	}
}

func TestFusionOverflowNamesSubexpression(t *testing.T) {
	mem := checked(t)
	rec := testBatch(t, mem, []arrow.DataType{tInt64}, []any{int64(1), nil, int64(1) << 61})
	defer rec.Release()
	a := col(0, tInt64)
	e := call(t, "+", call(t, "*", a, Lit(8)), Lit(1))
	_, err := evalBoth(t, e, rec)
	if err == nil || err.Error() != "BIGINT value is out of range in '(a * 8)'" {
		t.Fatalf("got %v", err)
	}
	// NULL rows never overflow, whatever garbage sits under them.
	b := array.NewInt64Builder(mem)
	b.AppendValues([]int64{1, math.MaxInt64, 3}, []bool{true, false, true})
	arr := b.NewArray()
	b.Release()
	r2 := recordOf(nil, arr)
	arr.Release()
	defer r2.Release()
	got, err := evalBoth(t, call(t, "+", call(t, "*", &Column{Index: 0, Name: "p", T: tInt64}, Lit(8)), Lit(1)), r2)
	if err != nil || strings.Join(got, ",") != "9,NULL,25" {
		t.Fatalf("got %v %v", got, err)
	}
}

func TestPoolAllocatorReuse(t *testing.T) {
	p := NewPoolAllocator()
	b := p.Allocate(100)
	if len(b) != 100 || cap(b) != 128 {
		t.Fatalf("len %d cap %d", len(b), cap(b))
	}
	for i := range b {
		b[i] = 0xff
	}
	p.Free(b)
	c := p.Allocate(120)
	for i, v := range c {
		if v != 0 {
			t.Fatalf("byte %d not zeroed", i)
		}
	}
	c = p.Reallocate(1000, c)
	if len(c) != 1000 {
		t.Fatalf("reallocate len %d", len(c))
	}
	big := p.Allocate(1 << 27)
	if len(big) != 1<<27 {
		t.Fatal("large allocation")
	}
	p.Free(big)
	// Evaluation through the pool gives the same results.
	rec := testBatch(t, p, []arrow.DataType{tInt64}, []any{int64(1), nil, int64(3)})
	defer rec.Release()
	ev, err := Compile(call(t, "+", call(t, "*", col(0, tInt64), Lit(2)), Lit(1)), p)
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 3; round++ {
		arr, err := ev.Eval(context.Background(), rec)
		if err != nil {
			t.Fatal(err)
		}
		if FormatValue(arr, 0) != "3" || FormatValue(arr, 1) != "NULL" || FormatValue(arr, 2) != "7" {
			t.Fatalf("round %d: %s %s %s", round, FormatValue(arr, 0), FormatValue(arr, 1), FormatValue(arr, 2))
		}
		arr.Release()
	}
}

func TestDoubleOverflow(t *testing.T) {
	mem := checked(t)
	rec := testBatch(t, mem, []arrow.DataType{tFloat}, []any{1.0, nil, 1e300})
	defer rec.Release()
	b := col(0, tFloat)
	for _, tc := range []struct {
		e    Expr
		want string
	}{
		{call(t, "*", b, Lit(1e10)), "DOUBLE value is out of range in '(a * 1e+10)'"},
		{call(t, "+", call(t, "*", b, b), Lit(1.0)), "DOUBLE value is out of range in '(a * a)'"},
		{call(t, "-", Lit(0.0), call(t, "*", call(t, "*", b, Lit(1e10)), Lit(2.0))), "DOUBLE value is out of range in '(a * 1e+10)'"},
	} {
		_, err := evalBoth(t, tc.e, rec)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: got %v, want %s", tc.e, err, tc.want)
		}
	}
	got, err := evalBoth(t, call(t, "/", b, Lit(0)), rec)
	if err != nil || strings.Join(got, " ") != "NULL NULL NULL" {
		t.Errorf("division by zero: %v %v", got, err)
	}
}

func TestFusionWithNullLiteral(t *testing.T) {
	mem := checked(t)
	rec := testBatch(t, mem, []arrow.DataType{tInt64}, []any{int64(1), nil})
	defer rec.Release()
	a := col(0, tInt64)
	nullInt := &Literal{Value: nil, T: tInt64}
	for _, e := range []Expr{
		call(t, "+", call(t, "*", a, nullInt), Lit(1)),
		call(t, "+", call(t, "*", a, Lit(2)), &Call{Name: "+", Args: []Expr{a, nullInt}, T: tInt64}),
	} {
		got, err := evalBoth(t, e, rec)
		if err != nil || strings.Join(got, " ") != "NULL NULL" {
			t.Errorf("%s: %v %v", e, got, err)
		}
	}
}

func TestFusionOverflowWithOtherOperandNull(t *testing.T) {
	mem := checked(t)
	// (a * 8) overflows on row 0 although c is NULL there: like MySQL (and
	// the unfused operators) this is an error.
	rec := testBatch(t, mem, []arrow.DataType{tInt64, tInt64}, []any{int64(1) << 61, int64(1)}, []any{nil, int64(2)})
	defer rec.Release()
	e := call(t, "+", call(t, "*", col(0, tInt64), Lit(8)), col(1, tInt64))
	if _, err := evalBoth(t, e, rec); err == nil || err.Error() != "BIGINT value is out of range in '(a * 8)'" {
		t.Fatalf("got %v", err)
	}
}

// TestFusionRandomTrees compares fused and unfused evaluation of random
// arithmetic trees over data with NULLs and extreme values.
func TestFusionRandomTrees(t *testing.T) {
	mem := checked(t)
	rng := rand.New(rand.NewSource(7))
	const n = 1500
	cols := make([][]any, 3)
	for c := range cols {
		cols[c] = make([]any, n)
		for i := range cols[c] {
			switch r := rng.Intn(20); {
			case r == 0:
				cols[c][i] = nil
			case r == 1 && c < 2:
				cols[c][i] = int64(math.MaxInt64 - rng.Intn(3))
			case c < 2:
				cols[c][i] = rng.Int63n(1<<20) - 1<<19
			default:
				cols[c][i] = rng.Float64()*1e6 - 5e5
			}
		}
	}
	rec := testBatch(t, mem, []arrow.DataType{tInt64, tInt64, tFloat}, cols...)
	defer rec.Release()
	leaves := []func() Expr{
		func() Expr { return col(0, tInt64) },
		func() Expr { return col(1, tInt64) },
		func() Expr { return col(2, tFloat) },
		func() Expr { return Lit(rng.Int63n(100) - 50) },
		func() Expr { return Lit(int64(1) << rng.Intn(45)) },
		func() Expr { return Lit(rng.Float64() * 10) },
	}
	var gen func(depth int) Expr
	gen = func(depth int) Expr {
		if depth == 0 || rng.Intn(4) == 0 {
			return leaves[rng.Intn(len(leaves))]()
		}
		if rng.Intn(8) == 0 {
			return call(t, "neg", gen(depth-1))
		}
		ops := []string{"+", "-", "*"}
		return call(t, ops[rng.Intn(len(ops))], gen(depth-1), gen(depth-1))
	}
	errs := 0
	for k := 0; k < 500; k++ {
		e := gen(4)
		if _, err := evalBoth(t, e, rec); err != nil {
			errs++
		}
	}
	t.Logf("%d of 500 trees overflowed", errs)
}
