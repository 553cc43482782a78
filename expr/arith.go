package expr

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"regexp"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func init() {
	docs := map[string]FunctionDoc{
		"+":   {Signature: "a + b", Description: "Addition. Integer overflow is an error; any DOUBLE operand gives DOUBLE, DECIMAL stays DECIMAL.", Example: "SELECT 1 + 2"},
		"-":   {Signature: "a - b", Description: "Subtraction.", Example: "SELECT 5 - 7"},
		"*":   {Signature: "a * b", Description: "Multiplication.", Example: "SELECT 6 * 7"},
		"/":   {Signature: "a / b", Description: "Division: DOUBLE for integer/double operands, DECIMAL (scale + 4) for decimals; division by zero is NULL.", Example: "SELECT 7 / 2"},
		"div": {Signature: "a DIV b", Description: "Integer division (truncates); by zero is NULL.", Example: "SELECT 7 DIV 2"},
		"%":   {Signature: "a % b", Description: "Modulo with the sign of a; by zero is NULL.", Example: "SELECT 7 % 3"},
		"neg": {Signature: "-a", Description: "Unary minus.", Example: "SELECT -(3)"},
	}
	for name, doc := range docs {
		register(name, doc, resolveArith, compileArith)
	}
	alias("mod", "%")
	alias("plus", "+")
	alias("minus", "-")
	alias("mul", "*")
	alias("intdiv", "div")
	alias("unaryminus", "neg")
}

// numericize maps an operand type onto the arithmetic domain: booleans
// count as BIGINT, strings as DOUBLE (MySQL converts them implicitly).
func numericize(fn string, i int, t arrow.DataType) (arrow.DataType, error) {
	switch {
	case isUnsigned(t) && t.ID() != arrow.UINT64:
		// Narrow unsigned values fit BIGINT: only BIGINT UNSIGNED operands
		// make MySQL's unsigned arithmetic (negative results are errors).
		return tInt64, nil
	case isNull(t), isNumeric(t):
		return t, nil
	case isBool(t):
		return tInt64, nil
	case isStringy(t) || isBinaryish(t):
		return tFloat, nil
	}
	return nil, argTypeError(fn, i, t)
}

// arithTypes returns the operand types and result type of a binary
// arithmetic operator following MySQL's rules.
func arithTypes(fn string, a, b arrow.DataType) (ta, tb, res arrow.DataType) {
	if isNull(a) && isNull(b) {
		a, b = tInt64, tInt64
	} else if isNull(a) {
		a = b
	} else if isNull(b) {
		b = a
	}
	anyFloat := isFloat(a) || isFloat(b)
	anyDec := isDecimal(a) || isDecimal(b)
	switch fn {
	case "/":
		switch {
		case anyFloat || !anyDec:
			return tFloat, tFloat, tFloat
		}
		da, db := asDecimal(a), asDecimal(b)
		scale := min(da.Scale+4, 30)
		prec := min(38, da.Precision-da.Scale+db.Scale+scale)
		return da, db, &arrow.Decimal128Type{Precision: prec, Scale: scale}
	case "div":
		switch {
		case anyFloat || anyDec:
			return tFloat, tFloat, tInt64
		case isUnsigned(a) && isUnsigned(b):
			return tUint64, tUint64, tUint64
		}
		return tInt64, tInt64, tInt64
	}
	switch {
	case anyFloat:
		return tFloat, tFloat, tFloat
	case anyDec:
		da, db := asDecimal(a), asDecimal(b)
		switch fn {
		case "*":
			return da, db, &arrow.Decimal128Type{Precision: min(38, da.Precision+db.Precision), Scale: min(da.Scale+db.Scale, 30)}
		case "%":
			c := commonDecimal(da, db)
			return c, c, c
		}
		c := commonDecimal(da, db)
		r := &arrow.Decimal128Type{Precision: min(38, c.Precision+1), Scale: c.Scale}
		return r, r, r
	case isSigned(a) && isSigned(b):
		return tInt64, tInt64, tInt64
	case isUnsigned(a) && isUnsigned(b):
		return tUint64, tUint64, tUint64
	}
	// Mixed signed/unsigned: exact in DECIMAL(20,0), result BIGINT UNSIGNED
	// like MySQL (negative results are out of range).
	d := &arrow.Decimal128Type{Precision: 21, Scale: 0}
	return d, d, tUint64
}

func resolveArith(name string, args []Expr) ([]Expr, arrow.DataType, error) {
	if name == "neg" {
		if err := arity(name, args, 1, 1); err != nil {
			return nil, nil, err
		}
		t, err := numericize(name, 0, args[0].Type())
		if err != nil {
			return nil, nil, err
		}
		switch {
		case isNull(t) || isSigned(t):
			t = tInt64
		case isUnsigned(t):
			t = &arrow.Decimal128Type{Precision: 20}
		case isFloat(t):
			t = tFloat
		}
		a, err := coerceArg(name, 0, args[0], t)
		if err != nil {
			return nil, nil, err
		}
		return []Expr{a}, t, nil
	}
	if err := arity(name, args, 2, 2); err != nil {
		return nil, nil, err
	}
	ta, err := numericize(name, 0, args[0].Type())
	if err != nil {
		return nil, nil, err
	}
	tb, err := numericize(name, 1, args[1].Type())
	if err != nil {
		return nil, nil, err
	}
	ta, tb, res := arithTypes(name, ta, tb)
	a, err := coerceArg(name, 0, args[0], ta)
	if err != nil {
		return nil, nil, err
	}
	b, err := coerceArg(name, 1, args[1], tb)
	if err != nil {
		return nil, nil, err
	}
	return []Expr{a, b}, res, nil
}

var colSuffix = regexp.MustCompile(`#\d+`)

// displayExpr renders an expression for error messages (no column indexes).
func displayExpr(e Expr) string { return colSuffix.ReplaceAllString(e.String(), "") }

type arithEval struct {
	op   string
	a, b Evaluator
	ta   arrow.DataType
	tb   arrow.DataType
	t    arrow.DataType
	text string
	mem  memory.Allocator
}

func compileArith(c *Call, args []Evaluator, mem memory.Allocator) (Evaluator, error) {
	e := &arithEval{op: c.Name, a: args[0], ta: c.Args[0].Type(), t: c.T, text: displayExpr(c), mem: mem}
	if len(args) > 1 {
		e.b = args[1]
		e.tb = c.Args[1].Type()
	}
	return e, nil
}

func (e *arithEval) overflow() error {
	name := "BIGINT"
	switch {
	case e.t.ID() == arrow.UINT64:
		name = "BIGINT UNSIGNED"
	case isDecimal(e.t):
		name = "DECIMAL"
	case isFloat(e.t):
		name = "DOUBLE"
	}
	return &Error{Msg: fmt.Sprintf("%s value is out of range in '%s'", name, e.text)}
}

func (e *arithEval) Eval(ctx context.Context, rec arrow.RecordBatch) (arrow.Array, error) {
	n := int(rec.NumRows())
	if e.op == "neg" {
		a, err := e.a.Eval(ctx, rec)
		if err != nil {
			return nil, err
		}
		defer a.Release()
		return e.neg(a)
	}
	// Constant fast paths for the hot BIGINT/DOUBLE operators.
	if lit, ok := constOf(e.b); ok {
		if lit.Value == nil {
			return nullArray(e.mem, e.t, n), nil
		}
		if res, handled, err := e.evalConst(ctx, rec, e.a, lit.Value, false); handled {
			return res, err
		}
	} else if lit, ok := constOf(e.a); ok {
		if lit.Value == nil {
			return nullArray(e.mem, e.t, n), nil
		}
		if res, handled, err := e.evalConst(ctx, rec, e.b, lit.Value, true); handled {
			return res, err
		}
	}
	a, err := e.a.Eval(ctx, rec)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	b, err := e.b.Eval(ctx, rec)
	if err != nil {
		return nil, err
	}
	defer b.Release()
	return e.arrays(a, b)
}

// evalConst handles column-op-constant for int64 and float64 + - * /.
// swapped means the constant is the left operand.
func (e *arithEval) evalConst(ctx context.Context, rec arrow.RecordBatch, other Evaluator, c any, swapped bool) (arrow.Array, bool, error) {
	switch {
	case e.t.ID() == arrow.INT64 && e.ta.ID() == arrow.INT64 && (e.op == "+" || e.op == "-" || e.op == "*"):
	case e.t.ID() == arrow.FLOAT64 && e.ta.ID() == arrow.FLOAT64 && (e.op == "+" || e.op == "-" || e.op == "*" || e.op == "/"):
	default:
		return nil, false, nil
	}
	x, err := other.Eval(ctx, rec)
	if err != nil {
		return nil, true, err
	}
	defer x.Release()
	n := x.Len()
	if e.t.ID() == arrow.INT64 {
		cv := c.(int64)
		xs := values[int64](x)
		buf, r := allocFixed[int64](e.mem, n)
		var bad bool
		switch {
		case e.op == "+":
			bad = addI64S(xs, cv, r)
		case e.op == "-" && !swapped:
			if cv == math.MinInt64 {
				// x - MinInt64 overflows exactly when x >= 0.
				for i, v := range xs {
					r[i] = v - cv
					bad = bad || v >= 0
				}
			} else {
				bad = addI64S(xs, -cv, r)
			}
		case e.op == "-":
			bad = subI64SV(cv, xs, r)
		default:
			bad = mulI64S(xs, cv, r)
		}
		if bad && anyValidOverflow(x, nil, func(i int) bool { return intOpOverflows(e.op, xs[i], cv, swapped) }) {
			buf.Release()
			return nil, true, e.overflow()
		}
		validity, nulls := andValidity(e.mem, n, x)
		return makeArray(tInt64, n, validity, buf, nulls), true, nil
	}
	cv := c.(float64)
	xs := values[float64](x)
	buf, r := allocFixed[float64](e.mem, n)
	switch {
	case e.op == "+":
		for i, v := range xs {
			r[i] = v + cv
		}
	case e.op == "-" && !swapped:
		for i, v := range xs {
			r[i] = v - cv
		}
	case e.op == "-":
		for i, v := range xs {
			r[i] = cv - v
		}
	case e.op == "*":
		for i, v := range xs {
			r[i] = v * cv
		}
	case e.op == "/" && !swapped:
		if cv == 0 {
			buf.Release()
			return nullArray(e.mem, tFloat, n), true, nil
		}
		for i, v := range xs {
			r[i] = v / cv
		}
	default: // c / x
		buf.Release()
		return nil, false, nil
	}
	validity, nulls := andValidity(e.mem, n, x)
	if !finiteValid(r, validity) {
		buf.Release()
		if validity != nil {
			validity.Release()
		}
		return nil, true, e.overflow()
	}
	return makeArray(tFloat, n, validity, buf, nulls), true, nil
}

// intOpOverflows re-checks one row exactly (slow path after a flag).
func intOpOverflows(op string, x, c int64, swapped bool) bool {
	a, b := big.NewInt(x), big.NewInt(c)
	if swapped {
		a, b = b, a
	}
	r := new(big.Int)
	switch op {
	case "+":
		r.Add(a, b)
	case "-":
		r.Sub(a, b)
	default:
		r.Mul(a, b)
	}
	return !r.IsInt64()
}

// anyValidOverflow reports whether some non-NULL row really overflows.
func anyValidOverflow(a, b arrow.Array, bad func(i int) bool) bool {
	for i := 0; i < a.Len(); i++ {
		if a.IsNull(i) || (b != nil && b.IsNull(i)) {
			continue
		}
		if bad(i) {
			return true
		}
	}
	return false
}

func addI64S(a []int64, c int64, r []int64) bool {
	r = r[:len(a)]
	var ovf int64
	for i, v := range a {
		s := v + c
		r[i] = s
		ovf |= (v ^ s) & (c ^ s)
	}
	return ovf < 0
}

func subI64SV(c int64, a []int64, r []int64) bool {
	r = r[:len(a)]
	var ovf int64
	for i, v := range a {
		s := c - v
		r[i] = s
		ovf |= (c ^ v) & (c ^ s)
	}
	return ovf < 0
}

func mulI64S(a []int64, c int64, r []int64) bool {
	r = r[:len(a)]
	switch {
	case c == 0:
		clear(r)
		return false
	case c == 1:
		copy(r, a)
		return false
	}
	// v*c fits iff lo <= v <= hi.
	lo, hi := int64(math.MinInt64)/c, int64(math.MaxInt64)/c
	if c < 0 {
		lo, hi = int64(math.MaxInt64)/c, int64(math.MinInt64)/c
		if c == -1 {
			lo, hi = -math.MaxInt64, math.MaxInt64
		}
	}
	// Branch-free range test: v in [lo, hi] ⇔ uint64(v-lo) <= uint64(hi-lo).
	span := uint64(hi - lo)
	var bad uint64
	for i, v := range a {
		r[i] = v * c
		bad |= b2u64(uint64(v-lo) > span)
	}
	return bad != 0
}

func b2u64(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func addI64(a, b, r []int64) bool {
	b, r = b[:len(a)], r[:len(a)]
	var ovf int64
	for i, v := range a {
		s := v + b[i]
		r[i] = s
		ovf |= (v ^ s) & (b[i] ^ s)
	}
	return ovf < 0
}

func subI64(a, b, r []int64) bool {
	b, r = b[:len(a)], r[:len(a)]
	var ovf int64
	for i, v := range a {
		s := v - b[i]
		r[i] = s
		ovf |= (v ^ b[i]) & (v ^ s)
	}
	return ovf < 0
}

func mulI64(a, b, r []int64) bool {
	b, r = b[:len(a)], r[:len(a)]
	bad := false
	for i, v := range a {
		w := b[i]
		hi, lo := bits.Mul64(uint64(v), uint64(w))
		// Signed high word of the 128-bit product.
		shi := int64(hi) - (v>>63)&w - (w>>63)&v
		r[i] = int64(lo)
		bad = bad || shi != int64(lo)>>63
	}
	return bad
}

// arrays computes a op b on two materialised arrays of the operand types.
func (e *arithEval) arrays(a, b arrow.Array) (arrow.Array, error) {
	n := a.Len()
	validity, nulls := andValidity(e.mem, n, a, b)
	fail := func(err error) (arrow.Array, error) {
		if validity != nil {
			validity.Release()
		}
		return nil, err
	}
	switch {
	case isDecimal(e.ta):
		if validity != nil {
			validity.Release()
		}
		return e.decimal(a, b)
	case e.ta.ID() == arrow.INT64:
		xs, ys := values[int64](a), values[int64](b)
		buf, r := allocFixed[int64](e.mem, n)
		switch e.op {
		case "+", "-", "*":
			var bad bool
			switch e.op {
			case "+":
				bad = addI64(xs, ys, r)
			case "-":
				bad = subI64(xs, ys, r)
			default:
				bad = mulI64(xs, ys, r)
			}
			if bad && anyValidOverflow(a, b, func(i int) bool { return intOpOverflows(e.op, xs[i], ys[i], false) }) {
				buf.Release()
				return fail(e.overflow())
			}
			return makeArray(e.t, n, validity, buf, nulls), nil
		case "%", "div":
			validity, nulls = zeroDivisorNulls(e.mem, validity, b, func(i int) bool { return ys[i] == 0 })
			for i, x := range xs {
				y := ys[i]
				if y == 0 {
					r[i] = 0
					continue
				}
				if e.op == "%" {
					r[i] = x % y
				} else {
					if x == math.MinInt64 && y == -1 && b.IsValid(i) && a.IsValid(i) {
						buf.Release()
						return fail(e.overflow())
					}
					r[i] = x / y
				}
			}
			return makeArray(e.t, n, validity, buf, nulls), nil
		}
	case e.ta.ID() == arrow.UINT64:
		xs, ys := values[uint64](a), values[uint64](b)
		buf, r := allocFixed[uint64](e.mem, n)
		bad := false
		switch e.op {
		case "+":
			for i, x := range xs {
				s, c := bits.Add64(x, ys[i], 0)
				r[i] = s
				bad = bad || (c != 0 && a.IsValid(i) && b.IsValid(i))
			}
		case "-":
			for i, x := range xs {
				s, c := bits.Sub64(x, ys[i], 0)
				r[i] = s
				bad = bad || (c != 0 && a.IsValid(i) && b.IsValid(i))
			}
		case "*":
			for i, x := range xs {
				hi, lo := bits.Mul64(x, ys[i])
				r[i] = lo
				bad = bad || (hi != 0 && a.IsValid(i) && b.IsValid(i))
			}
		case "%", "div":
			validity, nulls = zeroDivisorNulls(e.mem, validity, b, func(i int) bool { return ys[i] == 0 })
			for i, x := range xs {
				switch {
				case ys[i] == 0:
					r[i] = 0
				case e.op == "%":
					r[i] = x % ys[i]
				default:
					r[i] = x / ys[i]
				}
			}
		}
		if bad {
			buf.Release()
			return fail(e.overflow())
		}
		return makeArray(e.t, n, validity, buf, nulls), nil
	case e.ta.ID() == arrow.FLOAT64:
		xs, ys := values[float64](a), values[float64](b)
		if e.op == "div" {
			validity, nulls = zeroDivisorNulls(e.mem, validity, b, func(i int) bool { return ys[i] == 0 })
			buf, r := allocFixed[int64](e.mem, n)
			for i, x := range xs {
				if ys[i] == 0 {
					r[i] = 0
					continue
				}
				q := math.Trunc(x / ys[i])
				if (q < -9.223372036854775808e18 || q >= 9.223372036854775807e18) && a.IsValid(i) && b.IsValid(i) {
					buf.Release()
					return fail(e.overflow())
				}
				r[i] = int64(q)
			}
			return makeArray(tInt64, n, validity, buf, nulls), nil
		}
		buf, r := allocFixed[float64](e.mem, n)
		switch e.op {
		case "+":
			for i, x := range xs {
				r[i] = x + ys[i]
			}
		case "-":
			for i, x := range xs {
				r[i] = x - ys[i]
			}
		case "*":
			for i, x := range xs {
				r[i] = x * ys[i]
			}
		case "/", "%":
			validity, nulls = zeroDivisorNulls(e.mem, validity, b, func(i int) bool { return ys[i] == 0 })
			for i, x := range xs {
				switch {
				case ys[i] == 0:
					r[i] = 0
				case e.op == "/":
					r[i] = x / ys[i]
				default:
					r[i] = math.Mod(x, ys[i])
				}
			}
		}
		if !finiteValid(r, validity) {
			buf.Release()
			if validity != nil {
				validity.Release()
			}
			return nil, e.overflow()
		}
		return makeArray(tFloat, n, validity, buf, nulls), nil
	}
	return fail(&Error{Func: e.op, Msg: "cannot compute on " + TypeName(e.ta)})
}

// zeroDivisorNulls adds NULLs where the divisor is zero (MySQL's default
// for division and modulo by zero).
func zeroDivisorNulls(mem memory.Allocator, validity *memory.Buffer, b arrow.Array, zero func(i int) bool) (*memory.Buffer, int) {
	n := b.Len()
	var bits []byte
	for i := 0; i < n; i++ {
		if !zero(i) {
			continue
		}
		if validity == nil {
			validity, bits = allocBits(mem, n)
			bitutil.SetBitsTo(bits, 0, int64(n), true)
		} else if bits == nil {
			bits = validity.Bytes()
		}
		bitutil.ClearBit(bits, i)
	}
	if validity == nil {
		return nil, 0
	}
	return validity, n - bitutil.CountSetBits(validity.Bytes(), 0, n)
}

// decimal computes DECIMAL arithmetic row by row (exact; division and wide
// products go through big.Int).
func (e *arithEval) decimal(a, b arrow.Array) (arrow.Array, error) {
	da, db := a.(*array.Decimal128), b.(*array.Decimal128)
	sa := e.ta.(*arrow.Decimal128Type).Scale
	sb := e.tb.(*arrow.Decimal128Type).Scale
	var rt *arrow.Decimal128Type
	unsignedOut := e.t.ID() == arrow.UINT64
	if unsignedOut {
		rt = &arrow.Decimal128Type{Precision: 38, Scale: 0}
	} else {
		rt = e.t.(*arrow.Decimal128Type)
	}
	n := a.Len()
	pa := e.ta.(*arrow.Decimal128Type).Precision
	pb := e.tb.(*arrow.Decimal128Type).Precision
	fastMul := pa+pb <= 38 && sa+sb == rt.Scale
	bld := array.NewDecimal128Builder(e.mem, rt)
	defer bld.Release()
	bld.Reserve(n)
	for i := 0; i < n; i++ {
		if a.IsNull(i) || b.IsNull(i) {
			bld.AppendNull()
			continue
		}
		x, y := da.Value(i), db.Value(i)
		var r decimal128.Num
		switch e.op {
		case "+":
			r = x.Add(y)
		case "-":
			r = x.Sub(y)
		case "*":
			if fastMul {
				// Both operands fit 38 digits together: exact in 128 bits.
				r = x.Mul(y)
				break
			}
			p := new(big.Int).Mul(x.BigInt(), y.BigInt())
			if drop := sa + sb - rt.Scale; drop > 0 {
				p = roundBigDiv(p, pow10Big(drop))
			}
			if p.BitLen() > 126 {
				return nil, e.overflow()
			}
			r = decimal128.FromBigInt(p)
		case "/":
			if y.Sign() == 0 {
				bld.AppendNull()
				continue
			}
			// x/10^sa ÷ y/10^sb at scale rt.Scale: x·10^(rt.Scale−sa+sb) / y.
			num := x.BigInt()
			shift := rt.Scale - sa + sb
			if shift >= 0 {
				num.Mul(num, pow10Big(shift))
			}
			den := y.BigInt()
			if shift < 0 {
				den.Mul(den, pow10Big(-shift))
			}
			q := roundBigDiv(num, den)
			if q.BitLen() > 126 {
				return nil, e.overflow()
			}
			r = decimal128.FromBigInt(q)
		case "%":
			if y.Sign() == 0 {
				bld.AppendNull()
				continue
			}
			_, r = x.Div(y)
		case "div":
			if y.Sign() == 0 {
				bld.AppendNull()
				continue
			}
			r, _ = x.Div(y)
		}
		if !r.FitsInPrecision(rt.Precision) {
			return nil, e.overflow()
		}
		bld.Append(r)
	}
	res := bld.NewArray()
	if !unsignedOut {
		return res, nil
	}
	defer res.Release()
	out, err := castToNumber(res, tUint64, e.mem)
	if err != nil {
		return nil, e.overflow()
	}
	return out, nil
}

func pow10Big(k int32) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(k)), nil)
}

// roundBigDiv divides rounding half away from zero.
func roundBigDiv(num, den *big.Int) *big.Int {
	q, m := new(big.Int).QuoRem(num, den, new(big.Int))
	m.Abs(m).Mul(m, big.NewInt(2))
	if m.Cmp(new(big.Int).Abs(den)) >= 0 {
		if (num.Sign() < 0) != (den.Sign() < 0) {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}

func (e *arithEval) neg(a arrow.Array) (arrow.Array, error) {
	n := a.Len()
	validity, nulls := andValidity(e.mem, n, a)
	switch e.t.ID() {
	case arrow.INT64:
		xs := values[int64](a)
		buf, r := allocFixed[int64](e.mem, n)
		bad := false
		for i, x := range xs {
			r[i] = -x
			bad = bad || x == math.MinInt64
		}
		if bad && anyValidOverflow(a, nil, func(i int) bool { return xs[i] == math.MinInt64 }) {
			buf.Release()
			if validity != nil {
				validity.Release()
			}
			return nil, e.overflow()
		}
		return makeArray(tInt64, n, validity, buf, nulls), nil
	case arrow.FLOAT64:
		xs := values[float64](a)
		buf, r := allocFixed[float64](e.mem, n)
		for i, x := range xs {
			r[i] = -x
		}
		if !finiteValid(r, validity) {
			buf.Release()
			if validity != nil {
				validity.Release()
			}
			return nil, e.overflow()
		}
		return makeArray(tFloat, n, validity, buf, nulls), nil
	case arrow.DECIMAL128:
		if validity != nil {
			validity.Release()
		}
		d := a.(*array.Decimal128)
		bld := array.NewDecimal128Builder(e.mem, e.t.(*arrow.Decimal128Type))
		defer bld.Release()
		for i := 0; i < n; i++ {
			if d.IsNull(i) {
				bld.AppendNull()
			} else {
				bld.Append(d.Value(i).Negate())
			}
		}
		return bld.NewArray(), nil
	}
	if validity != nil {
		validity.Release()
	}
	return nil, &Error{Func: "neg", Msg: "cannot negate " + TypeName(e.t)}
}

// finiteValid reports whether every non-NULL value is finite: MySQL
// rejects DOUBLE overflow ("DOUBLE value is out of range") rather than
// returning infinities. v-v is NaN exactly for ±Inf and NaN.
func finiteValid(r []float64, validity *memory.Buffer) bool {
	// Branch-free scan: a value is non-finite when its exponent is all
	// ones, and then exponent + 1 carries into bit 63.
	const expMask = uint64(0x7ff) << 52
	var acc uint64
	for _, v := range r {
		acc |= math.Float64bits(v)&expMask + 1<<52
	}
	if acc>>63 == 0 {
		return true
	}
	var bits []byte
	if validity != nil {
		bits = validity.Bytes()
	}
	for i, v := range r {
		if v-v != 0 && isValid(bits, i) {
			return false
		}
	}
	return true
}
