package expr

import (
	"context"
	"math"

	"github.com/apache/arrow-go/v18/arrow/bitutil"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

func init() {
	f1 := func(name, desc, example string, f func(float64) (float64, bool)) {
		registerRow(name, FunctionDoc{Signature: upper(name) + "(x)", Description: desc, Example: example},
			1, 1, tFloat, []arrow.DataType{tFloat}, func(b array.Builder, a *rowArgs, i int) error {
				v, ok := f(a.f64(0, i))
				if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
					b.AppendNull()
				} else {
					appendF64(b, v)
				}
				return nil
			})
	}
	f1("sqrt", "Square root; NULL for negative x.", "SELECT SQRT(2)", func(x float64) (float64, bool) { return math.Sqrt(x), x >= 0 })
	f1("ln", "Natural logarithm; NULL for x <= 0.", "SELECT LN(10)", func(x float64) (float64, bool) { return math.Log(x), x > 0 })
	f1("log10", "Base-10 logarithm; NULL for x <= 0.", "SELECT LOG10(1000)", func(x float64) (float64, bool) { return math.Log10(x), x > 0 })
	f1("log2", "Base-2 logarithm; NULL for x <= 0.", "SELECT LOG2(8)", func(x float64) (float64, bool) { return math.Log2(x), x > 0 })
	f1("exp", "e raised to x.", "SELECT EXP(1)", func(x float64) (float64, bool) { return math.Exp(x), true })
	f1("sin", "Sine (radians).", "SELECT SIN(PI()/2)", func(x float64) (float64, bool) { return math.Sin(x), true })
	f1("cos", "Cosine (radians).", "SELECT COS(0)", func(x float64) (float64, bool) { return math.Cos(x), true })
	f1("tan", "Tangent (radians).", "SELECT TAN(0)", func(x float64) (float64, bool) { return math.Tan(x), true })
	f1("asin", "Arc sine; NULL outside [-1, 1].", "SELECT ASIN(1)", func(x float64) (float64, bool) { return math.Asin(x), x >= -1 && x <= 1 })
	f1("acos", "Arc cosine; NULL outside [-1, 1].", "SELECT ACOS(1)", func(x float64) (float64, bool) { return math.Acos(x), x >= -1 && x <= 1 })
	f1("cot", "Cotangent.", "SELECT COT(1)", func(x float64) (float64, bool) { return 1 / math.Tan(x), x != 0 })
	f1("degrees", "Radians to degrees.", "SELECT DEGREES(PI())", func(x float64) (float64, bool) { return x * 180 / math.Pi, true })
	f1("radians", "Degrees to radians.", "SELECT RADIANS(180)", func(x float64) (float64, bool) { return x * math.Pi / 180, true })
	registerRow("atan", FunctionDoc{Signature: "ATAN(y[, x])", Description: "Arc tangent (of y/x with two arguments).", Example: "SELECT ATAN(1)"},
		1, 2, tFloat, []arrow.DataType{tFloat, tFloat}, func(b array.Builder, a *rowArgs, i int) error {
			if len(a.arrs) == 2 {
				appendF64(b, math.Atan2(a.f64(0, i), a.f64(1, i)))
			} else {
				appendF64(b, math.Atan(a.f64(0, i)))
			}
			return nil
		})
	registerRow("atan2", FunctionDoc{Signature: "ATAN2(y, x)", Description: "Arc tangent of y/x.", Example: "SELECT ATAN2(1, 1)"},
		2, 2, tFloat, []arrow.DataType{tFloat, tFloat}, func(b array.Builder, a *rowArgs, i int) error {
			appendF64(b, math.Atan2(a.f64(0, i), a.f64(1, i)))
			return nil
		})
	registerRow("log", FunctionDoc{Signature: "LOG(x) | LOG(b, x)", Description: "Natural logarithm, or base-b logarithm; NULL for invalid input.", Example: "SELECT LOG(2, 8)"},
		1, 2, tFloat, []arrow.DataType{tFloat, tFloat}, func(b array.Builder, a *rowArgs, i int) error {
			if len(a.arrs) == 1 {
				x := a.f64(0, i)
				if x <= 0 {
					b.AppendNull()
				} else {
					appendF64(b, math.Log(x))
				}
				return nil
			}
			base, x := a.f64(0, i), a.f64(1, i)
			if x <= 0 || base <= 0 || base == 1 {
				b.AppendNull()
				return nil
			}
			appendF64(b, math.Log(x)/math.Log(base))
			return nil
		})
	registerRow("power", FunctionDoc{Signature: "POWER(x, y)", Description: "x raised to y; NULL when undefined.", Example: "SELECT POWER(2, 10)"},
		2, 2, tFloat, []arrow.DataType{tFloat, tFloat}, func(b array.Builder, a *rowArgs, i int) error {
			v := math.Pow(a.f64(0, i), a.f64(1, i))
			if math.IsNaN(v) || math.IsInf(v, 0) {
				b.AppendNull()
			} else {
				appendF64(b, v)
			}
			return nil
		})
	alias("pow", "power")
	register("pi", FunctionDoc{Signature: "PI()", Description: "π.", Example: "SELECT PI()"},
		fixedArgs(0, 0, tFloat, tFloat), func(c *Call, args []Evaluator, mem memAlloc) (Evaluator, error) {
			return &constEval{lit: Lit(math.Pi), mem: mem}, nil
		})
	register("abs", FunctionDoc{Signature: "ABS(x)", Description: "Absolute value (same type as x; BIGINT overflow is an error).", Example: "SELECT ABS(-3)"},
		resolveSameNumeric(1, 1), rowCompiler(absFn, false))
	register("sign", FunctionDoc{Signature: "SIGN(x)", Description: "-1, 0 or 1.", Example: "SELECT SIGN(-2.5)"},
		resolveNumericTo(tInt64), rowCompiler(func(b array.Builder, a *rowArgs, i int) error {
			appendI64(b, int64(numSign(a.arrs[0], i)))
			return nil
		}, false))
	register("floor", FunctionDoc{Signature: "FLOOR(x)", Description: "Largest integer not greater than x (BIGINT for integers and decimals' integer result, DOUBLE for doubles).", Example: "SELECT FLOOR(-1.5)"},
		resolveRounding, rowCompiler(roundingFn(math.Floor), false))
	register("ceil", FunctionDoc{Signature: "CEIL(x)", Description: "Smallest integer not less than x.", Example: "SELECT CEIL(1.2)"},
		resolveRounding, rowCompiler(roundingFn(math.Ceil), false))
	alias("ceiling", "ceil")
	register("round", FunctionDoc{Signature: "ROUND(x[, d])", Description: "x rounded to d decimals (default 0); half away from zero for exact numbers, half to even for doubles; d may be negative.", Example: "SELECT ROUND(3.14159, 2)"},
		resolveRound, rowCompiler(roundFn(false), false))
	register("truncate", FunctionDoc{Signature: "TRUNCATE(x, d)", Description: "x truncated to d decimals.", Example: "SELECT TRUNCATE(3.789, 1)"},
		resolveRound, rowCompiler(roundFn(true), false))
	register("greatest", FunctionDoc{Signature: "GREATEST(a, b, ...)", Description: "Largest argument; NULL if any is NULL.", Example: "SELECT GREATEST(1, 5, 3)"},
		resolveExtreme, compileExtreme)
	register("least", FunctionDoc{Signature: "LEAST(a, b, ...)", Description: "Smallest argument; NULL if any is NULL.", Example: "SELECT LEAST(1, 5, 3)"},
		resolveExtreme, compileExtreme)
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

// numericArg canonicalises a numeric argument type: BIGINT, BIGINT
// UNSIGNED, DOUBLE or the decimal itself; strings and booleans as numbers.
func numericArg(fn string, i int, e Expr) (Expr, error) {
	t := e.Type()
	var want arrow.DataType
	switch {
	case isNull(t) || isSigned(t) || isBool(t):
		want = tInt64
	case isUnsigned(t):
		want = tUint64
	case isFloat(t) || isStringy(t) || isBinaryish(t):
		want = tFloat
	case isDecimal(t):
		want = t
	default:
		return nil, argTypeError(fn, i, t)
	}
	return coerceArg(fn, i, e, want)
}

func resolveSameNumeric(min, max int) resolveFunc {
	return func(name string, args []Expr) ([]Expr, arrow.DataType, error) {
		if err := arity(name, args, min, max); err != nil {
			return nil, nil, err
		}
		a, err := numericArg(name, 0, args[0])
		if err != nil {
			return nil, nil, err
		}
		return []Expr{a}, a.Type(), nil
	}
}

func resolveNumericTo(t arrow.DataType) resolveFunc {
	return func(name string, args []Expr) ([]Expr, arrow.DataType, error) {
		if err := arity(name, args, 1, 1); err != nil {
			return nil, nil, err
		}
		a, err := numericArg(name, 0, args[0])
		if err != nil {
			return nil, nil, err
		}
		return []Expr{a}, t, nil
	}
}

func absFn(b array.Builder, a *rowArgs, i int) error {
	switch x := a.arrs[0].(type) {
	case *array.Int64:
		v := x.Value(i)
		if v == math.MinInt64 {
			return &Error{Msg: "BIGINT value is out of range in 'abs'"}
		}
		if v < 0 {
			v = -v
		}
		appendI64(b, v)
	case *array.Uint64:
		b.(*array.Uint64Builder).Append(x.Value(i))
	case *array.Float64:
		appendF64(b, math.Abs(x.Value(i)))
	case *array.Decimal128:
		b.(*array.Decimal128Builder).Append(x.Value(i).Abs())
	}
	return nil
}

func numSign(arr arrow.Array, i int) int {
	switch x := arr.(type) {
	case *array.Int64:
		v := x.Value(i)
		switch {
		case v > 0:
			return 1
		case v < 0:
			return -1
		}
	case *array.Uint64:
		if x.Value(i) > 0 {
			return 1
		}
	case *array.Float64:
		v := x.Value(i)
		switch {
		case v > 0:
			return 1
		case v < 0:
			return -1
		}
	case *array.Decimal128:
		return x.Value(i).Sign()
	}
	return 0
}

// resolveRounding: FLOOR/CEIL keep integers, give DOUBLE for doubles and
// DECIMAL(p-s+1, 0) for decimals.
func resolveRounding(name string, args []Expr) ([]Expr, arrow.DataType, error) {
	if err := arity(name, args, 1, 1); err != nil {
		return nil, nil, err
	}
	a, err := numericArg(name, 0, args[0])
	if err != nil {
		return nil, nil, err
	}
	t := a.Type()
	if d, ok := t.(*arrow.Decimal128Type); ok {
		t = &arrow.Decimal128Type{Precision: min(38, d.Precision-d.Scale+1), Scale: 0}
	}
	return []Expr{a}, t, nil
}

func roundingFn(f func(float64) float64) rowFn {
	return func(b array.Builder, a *rowArgs, i int) error {
		switch x := a.arrs[0].(type) {
		case *array.Int64:
			appendI64(b, x.Value(i))
		case *array.Uint64:
			b.(*array.Uint64Builder).Append(x.Value(i))
		case *array.Float64:
			appendF64(b, f(x.Value(i)))
		case *array.Decimal128:
			scale := x.DataType().(*arrow.Decimal128Type).Scale
			v := x.Value(i)
			q, r := v.Div(decimal128.FromU64(1).IncreaseScaleBy(scale))
			// Div truncates toward zero; adjust for floor/ceil.
			if r.Sign() != 0 {
				if f(-0.5) == -1 && v.Sign() < 0 { // floor
					q = q.Sub(decimal128.FromU64(1))
				} else if f(0.5) == 1 && v.Sign() > 0 { // ceil
					q = q.Add(decimal128.FromU64(1))
				}
			}
			b.(*array.Decimal128Builder).Append(q)
		}
		return nil
	}
}

// resolveRound: ROUND/TRUNCATE(x[, d]); decimals get scale d when d is a
// literal (bounded by the input scale), else keep their type.
func resolveRound(name string, args []Expr) ([]Expr, arrow.DataType, error) {
	min := 1
	if name == "truncate" {
		min = 2
	}
	if err := arity(name, args, min, 2); err != nil {
		return nil, nil, err
	}
	a, err := numericArg(name, 0, args[0])
	if err != nil {
		return nil, nil, err
	}
	out := []Expr{a}
	t := a.Type()
	if len(args) == 2 {
		d, err := coerceArg(name, 1, args[1], tInt64)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, d)
		if dt, ok := t.(*arrow.Decimal128Type); ok {
			if l, ok := d.(*Literal); ok && l.Value != nil {
				s := int32(max(0, min2(int(l.Value.(int64)), int(dt.Scale))))
				t = &arrow.Decimal128Type{Precision: min2i32(38, dt.Precision-dt.Scale+s+1), Scale: s}
			}
		}
	} else if dt, ok := t.(*arrow.Decimal128Type); ok {
		t = &arrow.Decimal128Type{Precision: min2i32(38, dt.Precision-dt.Scale+1), Scale: 0}
	}
	return out, t, nil
}

func min2i32(a, b int32) int32 {
	if a < b {
		return a
	}
	return b
}

var pow10f = func() [40]float64 {
	var p [40]float64
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

func roundFn(trunc bool) rowFn {
	return func(b array.Builder, a *rowArgs, i int) error {
		d := int64(0)
		if len(a.arrs) > 1 {
			d = a.i64(1, i)
		}
		switch x := a.arrs[0].(type) {
		case *array.Int64:
			v := x.Value(i)
			if d >= 0 {
				appendI64(b, v)
				return nil
			}
			if d < -18 {
				appendI64(b, 0)
				return nil
			}
			p := int64(pow10f[-d])
			q, r := v/p, v%p
			if !trunc && 2*abs64(r) >= p {
				if v < 0 {
					q--
				} else {
					q++
				}
			}
			appendI64(b, q*p)
		case *array.Uint64:
			v := x.Value(i)
			if d >= 0 {
				b.(*array.Uint64Builder).Append(v)
				return nil
			}
			if d < -19 {
				b.(*array.Uint64Builder).Append(0)
				return nil
			}
			p := uint64(pow10f[-d])
			q, r := v/p, v%p
			if !trunc && 2*r >= p {
				q++
			}
			b.(*array.Uint64Builder).Append(q * p)
		case *array.Float64:
			v := x.Value(i)
			var p float64
			if d > 30 || d < -30 {
				appendF64(b, v)
				return nil
			}
			if d >= 0 {
				p = pow10f[d]
			} else {
				p = 1 / pow10f[-d]
			}
			switch {
			case trunc:
				appendF64(b, math.Trunc(v*p)/p)
			default:
				appendF64(b, math.RoundToEven(v*p)/p)
			}
		case *array.Decimal128:
			in := x.DataType().(*arrow.Decimal128Type)
			out := b.Type().(*arrow.Decimal128Type)
			v := x.Value(i)
			k := int32(max(int64(in.Scale)-38, min(d, int64(in.Scale))))
			cur := in.Scale
			if k < in.Scale {
				v = v.ReduceScaleBy(in.Scale-k, !trunc)
				cur = k
			}
			if out.Scale > cur {
				v = v.IncreaseScaleBy(out.Scale - cur)
			} else if out.Scale < cur {
				v = v.ReduceScaleBy(cur-out.Scale, !trunc)
			}
			b.(*array.Decimal128Builder).Append(v)
		}
		return nil
	}
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func resolveExtreme(name string, args []Expr) ([]Expr, arrow.DataType, error) {
	if err := arity(name, args, 2, -1); err != nil {
		return nil, nil, err
	}
	t := args[0].Type()
	var err error
	for _, a := range args[1:] {
		if t, err = commonCompareType(name, t, a.Type()); err != nil {
			return nil, nil, err
		}
	}
	out := make([]Expr, len(args))
	for i, a := range args {
		if out[i], err = coerceCompare(name, a, t); err != nil {
			return nil, nil, err
		}
	}
	return out, t, nil
}

// compileExtreme folds GREATEST/LEAST as repeated IF(a >= b, a, b).
func compileExtreme(c *Call, args []Evaluator, mem memAlloc) (Evaluator, error) {
	op := opGE
	if c.Name == "least" {
		op = opLE
	}
	return &extremeEval{op: op, args: args, t: c.T, mem: mem}, nil
}

type extremeEval struct {
	op   cmpOp
	args []Evaluator
	t    arrow.DataType
	mem  memAlloc
}

func (e *extremeEval) Eval(ctx context.Context, rec arrow.RecordBatch) (arrow.Array, error) {
	arrs, err := evalAll(ctx, rec, e.args)
	if err != nil {
		return nil, err
	}
	defer releaseAll(arrs)
	acc := arrs[0]
	acc.Retain()
	n := acc.Len()
	choice := make([]int32, n)
	for _, next := range arrs[1:] {
		cmp, err := compareArrays(e.mem, e.op, acc, next)
		if err != nil {
			acc.Release()
			return nil, err
		}
		vals, valid := bitsAndValidity(cmp)
		for i := range choice {
			switch {
			case !isValid(valid, i):
				choice[i] = -1
			case bitutil.BitIsSet(vals, i):
				choice[i] = 0
			default:
				choice[i] = 1
			}
		}
		cmp.Release()
		picked := pickRows(e.mem, e.t, n, choice, []arrow.Array{acc, next})
		acc.Release()
		acc = picked
	}
	return acc, nil
}
