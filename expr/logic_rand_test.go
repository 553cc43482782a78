package expr

import (
	"math/rand"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

// tri is a three-valued boolean for the reference evaluator: 0 false,
// 1 true, 2 NULL.
type tri uint8

// TestPredicatesAgainstReference evaluates random predicates (comparisons
// against columns and constants, AND/OR/NOT/XOR, IS NULL, BETWEEN, IN)
// vectorised and with a row-at-a-time reference, on a sliced batch.
func TestPredicatesAgainstReference(t *testing.T) {
	mem := checked(t)
	rng := rand.New(rand.NewSource(3))
	const n = 300
	ints := make([]any, n)
	ints2 := make([]any, n)
	flts := make([]any, n)
	strs := make([]any, n)
	for i := 0; i < n; i++ {
		if rng.Intn(6) > 0 {
			ints[i] = rng.Int63n(20) - 10
		}
		if rng.Intn(6) > 0 {
			ints2[i] = rng.Int63n(20) - 10
		}
		if rng.Intn(6) > 0 {
			flts[i] = float64(rng.Intn(40)-20) / 2
		}
		if rng.Intn(6) > 0 {
			strs[i] = string(rune('a' + rng.Intn(5)))
		}
	}
	full := testBatch(t, mem, []arrow.DataType{tInt64, tInt64, tFloat, tString}, ints, ints2, flts, strs)
	defer full.Release()
	const off = 13
	rec := full.NewSlice(off, n)
	defer rec.Release()
	data := [][]any{ints, ints2, flts, strs}
	types := []arrow.DataType{tInt64, tInt64, tFloat, tString}

	num := func(v any) (float64, bool) {
		switch x := v.(type) {
		case int64:
			return float64(x), true
		case float64:
			return x, true
		}
		return 0, false
	}
	cmpRef := func(op string, a, b any) tri {
		if a == nil || b == nil {
			return 2
		}
		var c int
		if sa, ok := a.(string); ok {
			c = strings.Compare(sa, b.(string))
		} else {
			x, _ := num(a)
			y, _ := num(b)
			switch {
			case x < y:
				c = -1
			case x > y:
				c = 1
			}
		}
		var r bool
		switch op {
		case "=":
			r = c == 0
		case "<>":
			r = c != 0
		case "<":
			r = c < 0
		case "<=":
			r = c <= 0
		case ">":
			r = c > 0
		default:
			r = c >= 0
		}
		if r {
			return 1
		}
		return 0
	}
	type pred struct {
		e   Expr
		ref func(i int) tri
	}
	operand := func(numeric bool) (Expr, func(i int) any) {
		if !numeric {
			if rng.Intn(3) == 0 {
				v := string(rune('a' + rng.Intn(5)))
				return Lit(v), func(int) any { return v }
			}
			return col(3, tString), func(i int) any { return data[3][i] }
		}
		switch rng.Intn(4) {
		case 0:
			v := rng.Int63n(20) - 10
			return Lit(v), func(int) any { return v }
		case 1:
			v := float64(rng.Intn(40)-20) / 2
			return Lit(v), func(int) any { return v }
		}
		k := rng.Intn(3)
		return col(k, types[k]), func(i int) any { return data[k][i] }
	}
	var gen func(depth int) pred
	gen = func(depth int) pred {
		if depth == 0 || rng.Intn(3) == 0 {
			numeric := rng.Intn(4) > 0
			a, ra := operand(numeric)
			switch rng.Intn(6) {
			case 0:
				b, rb := operand(numeric)
				c, rc := operand(numeric)
				return pred{call(t, "between", a, b, c), func(i int) tri {
					x, y := cmpRef(">=", ra(i), rb(i)), cmpRef("<=", ra(i), rc(i))
					return and3ref(x, y)
				}}
			case 1:
				return pred{call(t, "is_null", a), func(i int) tri {
					if ra(i) == nil {
						return 1
					}
					return 0
				}}
			case 2:
				b, rb := operand(numeric)
				c, rc := operand(numeric)
				return pred{&InList{Arg: a, List: []Expr{b, c}}, func(i int) tri {
					return or3ref(cmpRef("=", ra(i), rb(i)), cmpRef("=", ra(i), rc(i)))
				}}
			}
			ops := []string{"=", "<>", "<", "<=", ">", ">="}
			op := ops[rng.Intn(len(ops))]
			b, rb := operand(numeric)
			return pred{call(t, op, a, b), func(i int) tri { return cmpRef(op, ra(i), rb(i)) }}
		}
		x, y := gen(depth-1), gen(depth-1)
		switch rng.Intn(4) {
		case 0:
			return pred{call(t, "and", x.e, y.e), func(i int) tri { return and3ref(x.ref(i), y.ref(i)) }}
		case 1:
			return pred{call(t, "or", x.e, y.e), func(i int) tri { return or3ref(x.ref(i), y.ref(i)) }}
		case 2:
			return pred{call(t, "xor", x.e, y.e), func(i int) tri {
				a, b := x.ref(i), y.ref(i)
				if a == 2 || b == 2 {
					return 2
				}
				return a ^ b
			}}
		}
		return pred{call(t, "not", x.e), func(i int) tri {
			switch a := x.ref(i); a {
			case 2:
				return 2
			default:
				return 1 - a
			}
		}}
	}
	names := map[tri]string{0: "false", 1: "true", 2: "NULL"}
	for k := 0; k < 300; k++ {
		p := gen(3)
		got, err := evalStrings(t, mem, p.e, rec)
		if err != nil {
			t.Fatalf("%s: %v", p.e, err)
		}
		for r, g := range got {
			if want := names[p.ref(r+off)]; g != want {
				t.Fatalf("%s row %d: got %s, want %s", p.e, r+off, g, want)
			}
		}
	}
}

func and3ref(a, b tri) tri {
	switch {
	case a == 0 || b == 0:
		return 0
	case a == 2 || b == 2:
		return 2
	}
	return 1
}

func or3ref(a, b tri) tri {
	switch {
	case a == 1 || b == 1:
		return 1
	case a == 2 || b == 2:
		return 2
	}
	return 0
}
