package expr

import (
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Bit operators follow MySQL: operands are read as 64-bit integers
// (negative values as two's complement, DOUBLE and strings rounded) and the
// result is BIGINT UNSIGNED. Shifts by 64 or more give 0.

func init() {
	for _, op := range []string{"&", "|", "^", "<<", ">>"} {
		register(op, FunctionDoc{Signature: "a " + op + " b", Description: "Bitwise operator on 64-bit integers (BIGINT UNSIGNED result).", Example: "SELECT 6 " + op + " 3"},
			resolveBits, rowCompiler(bitFn, false))
	}
	register("~", FunctionDoc{Signature: "~a", Description: "Bitwise inversion (BIGINT UNSIGNED).", Example: "SELECT ~0"},
		resolveBits, rowCompiler(bitFn, false))
	alias("bitand", "&")
	alias("bitor", "|")
	alias("bitxor", "^")
	alias("leftshift", "<<")
	alias("rightshift", ">>")
	alias("bitneg", "~")
}

func resolveBits(name string, args []Expr) ([]Expr, arrow.DataType, error) {
	n := 2
	if name == "~" {
		n = 1
	}
	if err := arity(name, args, n, n); err != nil {
		return nil, nil, err
	}
	out := make([]Expr, len(args))
	for i, a := range args {
		t := a.Type()
		var want arrow.DataType
		switch {
		case isUnsigned(t):
			want = tUint64
		case isSigned(t) || isBool(t) || isNull(t):
			want = tInt64
		case isFloat(t) || isDecimal(t) || isStringy(t) || isBinaryish(t):
			want = tFloat
		default:
			return nil, nil, argTypeError(name, i, t)
		}
		c, err := coerceArg(name, i, a, want)
		if err != nil {
			return nil, nil, err
		}
		out[i] = c
	}
	return out, tUint64, nil
}

// bits64 reads argument k as raw 64 bits.
func bits64(a *rowArgs, k, i int) uint64 {
	switch x := a.arrs[k].(type) {
	case *array.Int64:
		return uint64(x.Value(i))
	case *array.Uint64:
		return x.Value(i)
	case *array.Float64:
		f := math.Round(x.Value(i))
		if f < 0 {
			return uint64(int64(math.Max(f, math.MinInt64)))
		}
		if f >= 1.8446744073709551615e19 {
			return math.MaxUint64
		}
		return uint64(f)
	}
	return 0
}

func bitFn(b array.Builder, a *rowArgs, i int) error {
	ub := b.(*array.Uint64Builder)
	x := bits64(a, 0, i)
	if len(a.arrs) == 1 {
		ub.Append(^x)
		return nil
	}
	y := bits64(a, 1, i)
	var r uint64
	switch {
	case a.op == "&":
		r = x & y
	case a.op == "|":
		r = x | y
	case a.op == "^":
		r = x ^ y
	case a.op == "<<" && y < 64:
		r = x << y
	case a.op == ">>" && y < 64:
		r = x >> y
	}
	ub.Append(r)
	return nil
}
