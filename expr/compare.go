package expr

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

//go:generate sh gen_cmp.sh

type ordered interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64 | ~string
}

type cmpOp int

const (
	opEQ cmpOp = iota
	opNE
	opLT
	opLE
	opGT
	opGE
)

var cmpOps = map[string]cmpOp{"=": opEQ, "<>": opNE, "<": opLT, "<=": opLE, ">": opGT, ">=": opGE, "<=>": opEQ}

// flip gives the operator with swapped operands (c < a ≡ a > c).
func (op cmpOp) flip() cmpOp {
	switch op {
	case opLT:
		return opGT
	case opLE:
		return opGE
	case opGT:
		return opLT
	case opGE:
		return opLE
	}
	return op
}

func (op cmpOp) test(c int) bool {
	switch op {
	case opEQ:
		return c == 0
	case opNE:
		return c != 0
	case opLT:
		return c < 0
	case opLE:
		return c <= 0
	case opGT:
		return c > 0
	}
	return c >= 0
}

func init() {
	for _, op := range []string{"=", "<>", "<", "<=", ">", ">=", "<=>"} {
		desc := "Comparison; NULL if either side is NULL."
		if op == "<=>" {
			desc = "NULL-safe equality: TRUE when both sides are NULL, never NULL."
		}
		register(op, FunctionDoc{Signature: "a " + op + " b", Description: desc, Example: "SELECT 1 " + op + " 2"},
			resolveCompare, compileCompare)
	}
	alias("!=", "<>")
	alias("eq", "=")
	alias("ne", "<>")
	alias("lt", "<")
	alias("le", "<=")
	alias("gt", ">")
	alias("ge", ">=")
	alias("nulleq", "<=>")
	register("between", FunctionDoc{Signature: "x BETWEEN lo AND hi", Description: "lo <= x AND x <= hi.", Example: "SELECT 5 BETWEEN 1 AND 10"},
		resolveBetween, compileBetween)
	register("not_between", FunctionDoc{Signature: "x NOT BETWEEN lo AND hi", Description: "NOT (x BETWEEN lo AND hi).", Example: "SELECT 5 NOT BETWEEN 1 AND 10"},
		resolveBetween, compileBetween)
}

// commonCompareType picks the type both sides of a comparison convert to,
// following MySQL: numbers compare numerically (exactly for integer and
// decimal pairs, as DOUBLE when a float or a string is involved), strings
// compare as strings (binary collation: byte order, case-sensitive),
// temporals compare as temporals and a string opposite a temporal is
// parsed as that temporal.
func commonCompareType(fn string, a, b arrow.DataType) (arrow.DataType, error) {
	switch {
	case isNull(a) && isNull(b):
		return tInt64, nil
	case isNull(a):
		return canonicalCompare(b), nil
	case isNull(b):
		return canonicalCompare(a), nil
	case arrow.TypeEqual(a, b) && !isDecimal(a):
		return canonicalCompare(a), nil
	}
	switch {
	case isStringy(a) && isStringy(b):
		return tString, nil
	case (isStringy(a) || isBinaryish(a)) && (isStringy(b) || isBinaryish(b)):
		return tBinary, nil
	case isBool(a) && isBool(b):
		return tBool, nil
	case isTemporal(a) && isTemporal(b):
		if a.ID() == arrow.DATE32 && b.ID() == arrow.DATE32 {
			return tDate, nil
		}
		if a.ID() == arrow.TIME64 && b.ID() == arrow.TIME64 {
			return tTime, nil
		}
		return tTS, nil
	case isTemporal(a) && (isStringy(b) || isBinaryish(b)):
		return canonicalCompare(a), nil
	case isTemporal(b) && (isStringy(a) || isBinaryish(a)):
		return canonicalCompare(b), nil
	case isTemporal(a) || isTemporal(b) || isNested(a) || isNested(b):
		return nil, errorf(fn, "cannot compare %s with %s", TypeName(a), TypeName(b))
	}
	// Numbers, booleans and strings-vs-numbers.
	if isBool(a) {
		a = tInt64
	}
	if isBool(b) {
		b = tInt64
	}
	return commonNumericType(a, b), nil
}

// commonNumericType for two numeric-ish types (strings count as DOUBLE).
func commonNumericType(a, b arrow.DataType) arrow.DataType {
	switch {
	case !isNumeric(a) || !isNumeric(b) || isFloat(a) || isFloat(b):
		return tFloat
	case isDecimal(a) || isDecimal(b):
		return commonDecimal(asDecimal(a), asDecimal(b))
	case isSigned(a) && isSigned(b):
		return tInt64
	case isUnsigned(a) && isUnsigned(b):
		return tUint64
	}
	return &arrow.Decimal128Type{Precision: 20, Scale: 0}
}

func asDecimal(t arrow.DataType) *arrow.Decimal128Type {
	if d, ok := t.(*arrow.Decimal128Type); ok {
		return d
	}
	return decimalOfInt(t)
}

func commonDecimal(a, b *arrow.Decimal128Type) *arrow.Decimal128Type {
	scale := max(a.Scale, b.Scale)
	intDigits := max(a.Precision-a.Scale, b.Precision-b.Scale)
	return &arrow.Decimal128Type{Precision: min(38, intDigits+scale), Scale: scale}
}

// canonicalCompare maps a type to the one the comparison kernels handle.
func canonicalCompare(t arrow.DataType) arrow.DataType {
	switch {
	case isSigned(t):
		return tInt64
	case isUnsigned(t):
		return tUint64
	case isFloat(t):
		return tFloat
	case isStringy(t):
		return tString
	case isBinaryish(t):
		return tBinary
	case t.ID() == arrow.DATE32 || t.ID() == arrow.DATE64:
		return tDate
	case t.ID() == arrow.TIME32 || t.ID() == arrow.TIME64:
		return tTime
	case t.ID() == arrow.TIMESTAMP:
		return tTS
	}
	return t
}

func resolveCompare(name string, args []Expr) ([]Expr, arrow.DataType, error) {
	if err := arity(name, args, 2, 2); err != nil {
		return nil, nil, err
	}
	a, b := args[0], args[1]
	// Fast path: an integer column against an integer literal that fits its
	// type compares natively, without widening the column.
	if la, ok := b.(*Literal); ok && narrowIntLiteral(a.Type(), la) {
		nb, err := foldLiteralCast(la, a.Type())
		if err == nil {
			return []Expr{a, nb}, tBool, nil
		}
	}
	if la, ok := a.(*Literal); ok && narrowIntLiteral(b.Type(), la) {
		na, err := foldLiteralCast(la, b.Type())
		if err == nil {
			return []Expr{na, b}, tBool, nil
		}
	}
	if arrow.TypeEqual(a.Type(), b.Type()) && compareNative(a.Type()) {
		return args, tBool, nil
	}
	// A DECIMAL column against a number literal that its type holds
	// exactly compares in the column's type (no per-batch column cast).
	if l, ok := b.(*Literal); ok && isDecimal(a.Type()) {
		if nb, ok := exactDecimalLiteral(l, a.Type().(*arrow.Decimal128Type)); ok {
			return []Expr{a, nb}, tBool, nil
		}
	}
	if l, ok := a.(*Literal); ok && isDecimal(b.Type()) {
		if na, ok := exactDecimalLiteral(l, b.Type().(*arrow.Decimal128Type)); ok {
			return []Expr{na, b}, tBool, nil
		}
	}
	t, err := commonCompareType(name, a.Type(), b.Type())
	if err != nil {
		return nil, nil, err
	}
	t = dateVsDatetime(t, a, b)
	ca, err := coerceCompare(name, a, t)
	if err != nil {
		return nil, nil, err
	}
	cb, err := coerceCompare(name, b, t)
	if err != nil {
		return nil, nil, err
	}
	return []Expr{ca, cb}, tBool, nil
}

func coerceCompare(fn string, e Expr, t arrow.DataType) (Expr, error) {
	c, err := NewCast(e, t)
	if err != nil {
		return nil, errorf(fn, "%v", err)
	}
	return c, nil
}

// compareNative: types whose same-type comparison has a kernel.
func compareNative(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT32, arrow.FLOAT64, arrow.STRING, arrow.BINARY, arrow.BOOL, arrow.DATE32, arrow.TIME64, arrow.DECIMAL128:
		return true
	case arrow.TIMESTAMP:
		return t.(*arrow.TimestampType).Unit == arrow.Microsecond
	}
	return false
}

// narrowIntLiteral: lit is an integer literal representable in integer
// type t (so comparing in t is exact).
func narrowIntLiteral(t arrow.DataType, lit *Literal) bool {
	if !isInteger(t) || t.ID() == arrow.INT64 || t.ID() == arrow.UINT64 && lit.T.ID() == arrow.UINT64 {
		return false
	}
	var lo, hi float64
	switch t.ID() {
	case arrow.INT8:
		lo, hi = math.MinInt8, math.MaxInt8
	case arrow.INT16:
		lo, hi = math.MinInt16, math.MaxInt16
	case arrow.INT32:
		lo, hi = math.MinInt32, math.MaxInt32
	case arrow.UINT8:
		lo, hi = 0, math.MaxUint8
	case arrow.UINT16:
		lo, hi = 0, math.MaxUint16
	case arrow.UINT32:
		lo, hi = 0, math.MaxUint32
	case arrow.UINT64:
		lo, hi = 0, math.MaxUint64
	}
	switch v := lit.Value.(type) {
	case int64:
		return float64(v) >= lo && float64(v) <= hi
	case uint64:
		return float64(v) <= hi
	}
	return false
}

// cmpEval compares two same-typed operands.
type cmpEval struct {
	op       cmpOp
	nullSafe bool
	a, b     Evaluator
	mem      memory.Allocator
}

func compileCompare(c *Call, args []Evaluator, mem memory.Allocator) (Evaluator, error) {
	return &cmpEval{op: cmpOps[c.Name], nullSafe: c.Name == "<=>", a: args[0], b: args[1], mem: mem}, nil
}

func (e *cmpEval) Eval(ctx context.Context, rec arrow.RecordBatch) (arrow.Array, error) {
	n := int(rec.NumRows())
	// Column-vs-constant: compare against the Go value, no materialising.
	if lit, ok := constOf(e.b); ok && !e.nullSafe {
		if lit.Value == nil {
			return nullArray(e.mem, tBool, n), nil
		}
		a, err := e.a.Eval(ctx, rec)
		if err != nil {
			return nil, err
		}
		defer a.Release()
		return compareScalar(e.mem, e.op, a, lit.Value)
	}
	if lit, ok := constOf(e.a); ok && !e.nullSafe {
		if lit.Value == nil {
			return nullArray(e.mem, tBool, n), nil
		}
		b, err := e.b.Eval(ctx, rec)
		if err != nil {
			return nil, err
		}
		defer b.Release()
		return compareScalar(e.mem, e.op.flip(), b, lit.Value)
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
	res, err := compareArrays(e.mem, e.op, a, b)
	if err != nil || !e.nullSafe {
		return res, err
	}
	defer res.Release()
	return nullSafeFix(e.mem, res, a, b), nil
}

// nullSafeFix turns an = result into <=>: both NULL → TRUE, one NULL →
// FALSE, never NULL.
func nullSafeFix(mem memory.Allocator, eq, a, b arrow.Array) arrow.Array {
	n := eq.Len()
	buf, out := allocBits(mem, n)
	vals := boolBits(eq)
	for i := 0; i < n; i++ {
		an, bn := a.IsNull(i), b.IsNull(i)
		var v bool
		switch {
		case an && bn:
			v = true
		case an || bn:
			v = false
		default:
			v = bitutil.BitIsSet(vals, i)
		}
		if v {
			bitutil.SetBit(out, i)
		}
	}
	return boolArray(n, nil, buf, 0)
}

func cmpKernelVS[T ordered](op cmpOp, a []T, c T, out []byte) {
	switch op {
	case opEQ:
		eqVS(a, c, out)
	case opNE:
		neVS(a, c, out)
	case opLT:
		ltVS(a, c, out)
	case opLE:
		leVS(a, c, out)
	case opGT:
		gtVS(a, c, out)
	case opGE:
		geVS(a, c, out)
	}
}

func cmpKernelVV[T ordered](op cmpOp, a, b []T, out []byte) {
	switch op {
	case opEQ:
		eqVV(a, b, out)
	case opNE:
		neVV(a, b, out)
	case opLT:
		ltVV(a, b, out)
	case opLE:
		leVV(a, b, out)
	case opGT:
		gtVV(a, b, out)
	case opGE:
		geVV(a, b, out)
	}
}

// compareScalar compares every value of a with the Go constant c (already
// of a's type, per resolveCompare).
func compareScalar(mem memory.Allocator, op cmpOp, a arrow.Array, c any) (arrow.Array, error) {
	n := a.Len()
	validity, nulls := andValidity(mem, n, a)
	vbuf, out := allocBits(mem, n)
	ok := true
	switch a.DataType().ID() {
	case arrow.INT64:
		cmpKernelVS(op, values[int64](a), c.(int64), out)
	case arrow.FLOAT64:
		cmpKernelVS(op, values[float64](a), c.(float64), out)
	case arrow.INT32:
		cmpKernelVS(op, values[int32](a), int32(c.(int64)), out)
	case arrow.INT16:
		cmpKernelVS(op, values[int16](a), int16(c.(int64)), out)
	case arrow.INT8:
		cmpKernelVS(op, values[int8](a), int8(c.(int64)), out)
	case arrow.UINT64:
		cmpKernelVS(op, values[uint64](a), c.(uint64), out)
	case arrow.UINT32:
		cmpKernelVS(op, values[uint32](a), uint32(c.(uint64)), out)
	case arrow.UINT16:
		cmpKernelVS(op, values[uint16](a), uint16(c.(uint64)), out)
	case arrow.UINT8:
		cmpKernelVS(op, values[uint8](a), uint8(c.(uint64)), out)
	case arrow.FLOAT32:
		cmpKernelVS(op, values[float32](a), float32(c.(float64)), out)
	case arrow.DATE32:
		cmpKernelVS(op, values[int32](a), int32(c.(arrow.Date32)), out)
	case arrow.TIME64:
		cmpKernelVS(op, values[int64](a), int64(c.(arrow.Time64)), out)
	case arrow.TIMESTAMP:
		cmpKernelVS(op, values[int64](a), int64(c.(arrow.Timestamp)), out)
	case arrow.STRING:
		s := a.(*array.String)
		cv := c.(string)
		if (op == opEQ || op == opNE) && n > 0 {
			// Equality: compare lengths from the offsets first.
			offs := s.ValueOffsets()
			data := s.ValueBytes()
			base := offs[0]
			want := op == opEQ
			for i := 0; i < n; i++ {
				lo, hi := offs[i]-base, offs[i+1]-base
				eq := int(hi-lo) == len(cv) && string(data[lo:hi]) == cv
				if eq == want {
					out[i>>3] |= 1 << (uint(i) & 7)
				}
			}
			break
		}
		for i := 0; i < n; i++ {
			if op.test(strings.Compare(s.Value(i), cv)) {
				bitutil.SetBit(out, i)
			}
		}
	case arrow.BINARY:
		s := a.(*array.Binary)
		var cv string
		switch x := c.(type) {
		case []byte:
			cv = string(x)
		case string:
			cv = x
		}
		cb := []byte(cv)
		for i := 0; i < n; i++ {
			if op.test(bytes.Compare(s.Value(i), cb)) {
				bitutil.SetBit(out, i)
			}
		}
	case arrow.BOOL:
		bits := boolBits(a)
		cv := c.(bool)
		for i := 0; i < n; i++ {
			if op.test(cmpBool(bitutil.BitIsSet(bits, i), cv)) {
				bitutil.SetBit(out, i)
			}
		}
	case arrow.DECIMAL128:
		d := a.(*array.Decimal128)
		cv := c.(decimal128.Num)
		for i := 0; i < n; i++ {
			if op.test(d.Value(i).Cmp(cv)) {
				bitutil.SetBit(out, i)
			}
		}
	default:
		ok = false
	}
	if !ok {
		vbuf.Release()
		if validity != nil {
			validity.Release()
		}
		return nil, &Error{Msg: fmt.Sprintf("cannot compare values of type %s", TypeName(a.DataType()))}
	}
	return boolArray(n, validity, vbuf, nulls), nil
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// compareArrays compares two same-typed arrays element-wise.
func compareArrays(mem memory.Allocator, op cmpOp, a, b arrow.Array) (arrow.Array, error) {
	n := a.Len()
	validity, nulls := andValidity(mem, n, a, b)
	vbuf, out := allocBits(mem, n)
	ok := true
	switch a.DataType().ID() {
	case arrow.INT64, arrow.TIME64, arrow.TIMESTAMP:
		cmpKernelVV(op, values[int64](a), values[int64](b), out)
	case arrow.FLOAT64:
		cmpKernelVV(op, values[float64](a), values[float64](b), out)
	case arrow.INT32, arrow.DATE32:
		cmpKernelVV(op, values[int32](a), values[int32](b), out)
	case arrow.INT16:
		cmpKernelVV(op, values[int16](a), values[int16](b), out)
	case arrow.INT8:
		cmpKernelVV(op, values[int8](a), values[int8](b), out)
	case arrow.UINT64:
		cmpKernelVV(op, values[uint64](a), values[uint64](b), out)
	case arrow.UINT32:
		cmpKernelVV(op, values[uint32](a), values[uint32](b), out)
	case arrow.UINT16:
		cmpKernelVV(op, values[uint16](a), values[uint16](b), out)
	case arrow.UINT8:
		cmpKernelVV(op, values[uint8](a), values[uint8](b), out)
	case arrow.FLOAT32:
		cmpKernelVV(op, values[float32](a), values[float32](b), out)
	case arrow.STRING:
		sa, sb := a.(*array.String), b.(*array.String)
		for i := 0; i < n; i++ {
			if op.test(strings.Compare(sa.Value(i), sb.Value(i))) {
				bitutil.SetBit(out, i)
			}
		}
	case arrow.BINARY:
		sa, sb := a.(*array.Binary), b.(*array.Binary)
		for i := 0; i < n; i++ {
			if op.test(bytes.Compare(sa.Value(i), sb.Value(i))) {
				bitutil.SetBit(out, i)
			}
		}
	case arrow.BOOL:
		ba, bb := boolBits(a), boolBits(b)
		for i := 0; i < n; i++ {
			if op.test(cmpBool(bitutil.BitIsSet(ba, i), bitutil.BitIsSet(bb, i))) {
				bitutil.SetBit(out, i)
			}
		}
	case arrow.DECIMAL128:
		da, db := a.(*array.Decimal128), b.(*array.Decimal128)
		for i := 0; i < n; i++ {
			if op.test(da.Value(i).Cmp(db.Value(i))) {
				bitutil.SetBit(out, i)
			}
		}
	default:
		ok = false
	}
	if !ok {
		vbuf.Release()
		if validity != nil {
			validity.Release()
		}
		return nil, &Error{Msg: fmt.Sprintf("cannot compare values of type %s", TypeName(a.DataType()))}
	}
	return boolArray(n, validity, vbuf, nulls), nil
}

// ---- BETWEEN ----

func resolveBetween(name string, args []Expr) ([]Expr, arrow.DataType, error) {
	if err := arity(name, args, 3, 3); err != nil {
		return nil, nil, err
	}
	x, lo, hi := args[0], args[1], args[2]
	t, err := commonCompareType(name, x.Type(), lo.Type())
	if err != nil {
		return nil, nil, err
	}
	t, err = commonCompareType(name, t, hi.Type())
	if err != nil {
		return nil, nil, err
	}
	t = dateVsDatetime(t, args...)
	out := make([]Expr, 3)
	for i, a := range args {
		if out[i], err = coerceCompare(name, a, t); err != nil {
			return nil, nil, err
		}
	}
	return out, tBool, nil
}

// compileBetween evaluates x once and combines two comparisons.
func compileBetween(c *Call, args []Evaluator, mem memory.Allocator) (Evaluator, error) {
	return &betweenEval{x: args[0], lo: args[1], hi: args[2], not: c.Name == "not_between", mem: mem}, nil
}

type betweenEval struct {
	x, lo, hi Evaluator
	not       bool
	mem       memory.Allocator
}

// side compares x against one bound (constant fast path included).
func (e *betweenEval) side(ctx context.Context, rec arrow.RecordBatch, x arrow.Array, bound Evaluator, op cmpOp) (arrow.Array, error) {
	if lit, ok := constOf(bound); ok {
		if lit.Value == nil {
			return nullArray(e.mem, tBool, x.Len()), nil
		}
		return compareScalar(e.mem, op, x, lit.Value)
	}
	b, err := bound.Eval(ctx, rec)
	if err != nil {
		return nil, err
	}
	defer b.Release()
	return compareArrays(e.mem, op, x, b)
}

func (e *betweenEval) Eval(ctx context.Context, rec arrow.RecordBatch) (arrow.Array, error) {
	x, err := e.x.Eval(ctx, rec)
	if err != nil {
		return nil, err
	}
	defer x.Release()
	ge, err := e.side(ctx, rec, x, e.lo, opGE)
	if err != nil {
		return nil, err
	}
	defer ge.Release()
	le, err := e.side(ctx, rec, x, e.hi, opLE)
	if err != nil {
		return nil, err
	}
	defer le.Release()
	res := and3(e.mem, ge, le)
	if !e.not {
		return res, nil
	}
	defer res.Release()
	return not3(e.mem, res), nil
}

// dateVsDatetime widens a DATE comparison to TIMESTAMP when a string
// operand carries a time of day ('2024-01-02 10:00'), as MySQL compares
// DATE with a DATETIME string as DATETIME. Non-literal strings widen too.
func dateVsDatetime(t arrow.DataType, args ...Expr) arrow.DataType {
	if t.ID() != arrow.DATE32 {
		return t
	}
	for _, a := range args {
		if !isStringy(a.Type()) && !isBinaryish(a.Type()) {
			continue
		}
		l, ok := a.(*Literal)
		if !ok {
			return tTS
		}
		if s, ok := l.Value.(string); ok {
			if us, ok := parseTimestamp(s); ok && us%usPerDay != 0 {
				return tTS
			}
		}
	}
	return t
}

// exactDecimalLiteral converts an integer or decimal literal to t when the
// value is represented exactly (no rounding, within precision).
func exactDecimalLiteral(l *Literal, t *arrow.Decimal128Type) (*Literal, bool) {
	if l.Value == nil || !(isInteger(l.T) || isDecimal(l.T)) {
		return nil, false
	}
	if d, ok := l.T.(*arrow.Decimal128Type); ok && d.Scale > t.Scale {
		// Would need rounding unless the extra digits are zero; keep it simple.
		v := l.Value.(decimal128.Num)
		_, rem := v.Div(decimal128.FromU64(1).IncreaseScaleBy(d.Scale - t.Scale))
		if rem.Sign() != 0 {
			return nil, false
		}
	}
	c, err := foldLiteralCast(l, t)
	if err != nil {
		return nil, false
	}
	return c, true
}
