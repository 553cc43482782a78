package expr

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// NewCast converts e to t with MySQL CAST semantics. Casting a literal is
// folded immediately; casting to the same type returns e.
//
// Conversions: numbers ⇄ numbers (float → integer rounds half away from
// zero; out-of-range values are an error, as MySQL's strict mode), numbers
// and temporals ⇄ strings, strings → numbers with MySQL's prefix rule
// ('12abc' → 12, '3.7' → 3, 'abc' → 0; MySQL would add a warning, we have no warning
// channel), strings → DATE/TIME/TIMESTAMP (unparseable → NULL), DATE ⇄
// TIMESTAMP, TIMESTAMP → TIME, TIME → TIMESTAMP (on the statement date),
// DATE/TIMESTAMP → numbers as YYYYMMDD[hhmmss], anything → BOOLEAN
// (non-zero; strings also accept 'true'/'false'), NULL → anything.
func NewCast(e Expr, t arrow.DataType) (Expr, error) {
	from := e.Type()
	if arrow.TypeEqual(from, t) {
		return e, nil
	}
	if !castable(from, t) {
		return nil, &Error{Msg: fmt.Sprintf("cannot cast %s to %s", TypeName(from), TypeName(t))}
	}
	if l, ok := e.(*Literal); ok {
		return foldLiteralCast(l, t)
	}
	return &Cast{Arg: e, T: t}, nil
}

func castable(from, to arrow.DataType) bool {
	if isNull(from) || arrow.TypeEqual(from, to) {
		return true
	}
	if d, ok := from.(*arrow.DictionaryType); ok {
		return castable(d.ValueType, to)
	}
	scalarish := func(t arrow.DataType) bool {
		return isNumeric(t) || isBool(t) || isStringy(t) || isBinaryish(t) || isTemporal(t)
	}
	if isStringy(to) || isBinaryish(to) {
		return true // everything has a text form
	}
	return scalarish(from) && scalarish(to)
}

func compileCast(c *Cast, mem memory.Allocator) (Evaluator, error) {
	if !castable(c.Arg.Type(), c.T) {
		return nil, &Error{Msg: fmt.Sprintf("cannot cast %s to %s", TypeName(c.Arg.Type()), TypeName(c.T))}
	}
	arg, err := compile(c.Arg, mem)
	if err != nil {
		return nil, err
	}
	return newCastEval(arg, c.Arg.Type(), c.T, mem)
}

type castEval struct {
	arg  Evaluator
	to   arrow.DataType
	mem  memory.Allocator
	from arrow.DataType
}

func newCastEval(arg Evaluator, from, to arrow.DataType, mem memory.Allocator) (Evaluator, error) {
	if arrow.TypeEqual(from, to) {
		return arg, nil
	}
	return &castEval{arg: arg, from: from, to: to, mem: mem}, nil
}

func (c *castEval) Eval(ctx context.Context, rec arrow.RecordBatch) (arrow.Array, error) {
	in, err := c.arg.Eval(ctx, rec)
	if err != nil {
		return nil, err
	}
	defer in.Release()
	return castArray(ctx, in, c.to, c.mem)
}

// castArray converts a whole array.
func castArray(ctx context.Context, in arrow.Array, to arrow.DataType, mem memory.Allocator) (arrow.Array, error) {
	from := in.DataType()
	if arrow.TypeEqual(from, to) {
		in.Retain()
		return in, nil
	}
	n := in.Len()
	if from.ID() == arrow.NULL || in.NullN() == n {
		return nullArray(mem, to, n), nil
	}
	if d, ok := in.(*array.Dictionary); ok {
		vals, err := dictDecode(d, mem)
		if err != nil {
			return nil, err
		}
		defer vals.Release()
		return castArray(ctx, vals, to, mem)
	}
	switch {
	case isStringy(to):
		return castToString(in, to, mem)
	case isBinaryish(to):
		s, err := castToString(in, tString, mem)
		if err != nil {
			return nil, err
		}
		defer s.Release()
		return stringToBinary(s.(*array.String), to, mem)
	case isBool(to):
		return castToBool(in, mem)
	case isInteger(to) || isFloat(to):
		return castToNumber(in, to, mem)
	case isDecimal(to):
		return castToDecimal(in, to.(*arrow.Decimal128Type), mem)
	case isTemporal(to):
		return castToTemporal(ctx, in, to, mem)
	}
	return nil, &Error{Msg: fmt.Sprintf("cannot cast %s to %s", TypeName(from), TypeName(to))}
}

func dictDecode(d *array.Dictionary, mem memory.Allocator) (arrow.Array, error) {
	b := array.NewBuilder(mem, d.Dictionary().DataType())
	defer b.Release()
	dict := d.Dictionary()
	for i := 0; i < d.Len(); i++ {
		if d.IsNull(i) {
			b.AppendNull()
			continue
		}
		if err := appendValue(b, Scalar(dict, d.GetValueIndex(i))); err != nil {
			return nil, err
		}
	}
	return b.NewArray(), nil
}

// ---- to string ----

func castToString(in arrow.Array, to arrow.DataType, mem memory.Allocator) (arrow.Array, error) {
	n := in.Len()
	b := array.NewBuilder(mem, to)
	defer b.Release()
	b.Reserve(n)
	var appendStr func(string)
	switch sb := b.(type) {
	case *array.StringBuilder:
		appendStr = sb.Append
	case *array.LargeStringBuilder:
		appendStr = sb.Append
	case *array.StringViewBuilder:
		appendStr = sb.Append
	default:
		return nil, &Error{Msg: "cannot cast to " + TypeName(to)}
	}
	var buf []byte
	for i := 0; i < n; i++ {
		if in.IsNull(i) {
			b.AppendNull()
			continue
		}
		switch a := in.(type) {
		case *array.Int64:
			buf = strconv.AppendInt(buf[:0], a.Value(i), 10)
			appendStr(string(buf))
		case *array.Boolean:
			if a.Value(i) {
				appendStr("1")
			} else {
				appendStr("0")
			}
		case *array.Timestamp:
			appendStr(formatTimestamp(int64(Scalar(in, i).(arrow.Timestamp))))
		case *array.Binary:
			appendStr(string(a.Value(i)))
		default:
			appendStr(FormatValue(in, i))
		}
	}
	return b.NewArray(), nil
}

func stringToBinary(s *array.String, to arrow.DataType, mem memory.Allocator) (arrow.Array, error) {
	b := array.NewBuilder(mem, to)
	defer b.Release()
	for i := 0; i < s.Len(); i++ {
		if s.IsNull(i) {
			b.AppendNull()
			continue
		}
		switch bb := b.(type) {
		case *array.BinaryBuilder:
			bb.AppendString(s.Value(i))
		case *array.BinaryViewBuilder:
			bb.AppendString(s.Value(i))
		case *array.FixedSizeBinaryBuilder:
			w := to.(*arrow.FixedSizeBinaryType).ByteWidth
			v := make([]byte, w)
			copy(v, s.Value(i))
			bb.Append(v)
		default:
			return nil, &Error{Msg: "cannot cast to " + TypeName(to)}
		}
	}
	return b.NewArray(), nil
}

// textOf returns row i of a string or binary array as a string.
func textOf(in arrow.Array, i int) (string, bool) {
	switch a := in.(type) {
	case *array.String:
		return a.Value(i), true
	case *array.LargeString:
		return a.Value(i), true
	case *array.StringView:
		return a.Value(i), true
	case *array.Binary:
		return string(a.Value(i)), true
	case *array.LargeBinary:
		return string(a.Value(i)), true
	case *array.BinaryView:
		return string(a.Value(i)), true
	case *array.FixedSizeBinary:
		return string(a.Value(i)), true
	}
	return "", false
}

// ---- to boolean ----

func castToBool(in arrow.Array, mem memory.Allocator) (arrow.Array, error) {
	n := in.Len()
	validity, nulls := andValidity(mem, n, in)
	vbuf, bits := allocBits(mem, n)
	set := func(i int, v bool) {
		if v {
			bits[i>>3] |= 1 << (uint(i) & 7)
		}
	}
	from := in.DataType()
	switch {
	case isInteger(from) || isFloat(from):
		f, err := castToNumber(in, tFloat, mem)
		if err != nil {
			vbuf.Release()
			if validity != nil {
				validity.Release()
			}
			return nil, err
		}
		vals := values[float64](f)
		for i, v := range vals {
			set(i, v != 0)
		}
		f.Release()
	case isDecimal(from):
		a := in.(*array.Decimal128)
		for i := 0; i < n; i++ {
			set(i, a.Value(i).Sign() != 0)
		}
	case isStringy(from) || isBinaryish(from):
		for i := 0; i < n; i++ {
			if in.IsNull(i) {
				continue
			}
			s, _ := textOf(in, i)
			t := strings.TrimSpace(s)
			switch strings.ToLower(t) {
			case "true":
				set(i, true)
				continue
			case "false":
				continue
			}
			f, _ := parseFloatPrefix(t)
			set(i, f != 0)
		}
	case isTemporal(from):
		for i := 0; i < n; i++ {
			set(i, true)
		}
	default:
		vbuf.Release()
		if validity != nil {
			validity.Release()
		}
		return nil, &Error{Msg: fmt.Sprintf("cannot cast %s to BOOLEAN", TypeName(from))}
	}
	return boolArray(n, validity, vbuf, nulls), nil
}

// ---- to integers and floats ----

func castOutOfRange(to arrow.DataType, v string) error {
	return &Error{Msg: fmt.Sprintf("%s value is out of range in cast of %s", TypeName(to), v)}
}

func castToNumber(in arrow.Array, to arrow.DataType, mem memory.Allocator) (arrow.Array, error) {
	from := in.DataType()
	switch {
	case isInteger(from) || isFloat(from):
		return convertNumeric(in, to, mem)
	case isBool(from):
		a := in.(*array.Boolean)
		tmp := array.NewInt64Builder(mem)
		defer tmp.Release()
		tmp.Reserve(a.Len())
		for i := 0; i < a.Len(); i++ {
			if a.IsNull(i) {
				tmp.AppendNull()
			} else if a.Value(i) {
				tmp.UnsafeAppend(1)
			} else {
				tmp.UnsafeAppend(0)
			}
		}
		ints := tmp.NewArray()
		defer ints.Release()
		return convertNumeric(ints, to, mem)
	case isDecimal(from):
		a := in.(*array.Decimal128)
		scale := from.(*arrow.Decimal128Type).Scale
		if isFloat(to) {
			fb := array.NewFloat64Builder(mem)
			defer fb.Release()
			for i := 0; i < a.Len(); i++ {
				if a.IsNull(i) {
					fb.AppendNull()
				} else {
					fb.Append(a.Value(i).ToFloat64(scale))
				}
			}
			fa := fb.NewArray()
			defer fa.Release()
			return convertNumeric(fa, to, mem)
		}
		unsigned := isUnsigned(to)
		ib := array.NewInt64Builder(mem)
		defer ib.Release()
		ub := array.NewUint64Builder(mem)
		defer ub.Release()
		for i := 0; i < a.Len(); i++ {
			if a.IsNull(i) {
				ib.AppendNull()
				ub.AppendNull()
				continue
			}
			v := a.Value(i)
			if scale > 0 {
				v = v.ReduceScaleBy(scale, true)
			}
			if unsigned {
				if v.Sign() < 0 || v.HighBits() != 0 {
					return nil, castOutOfRange(to, a.Value(i).ToString(scale))
				}
				ub.Append(v.LowBits())
			} else {
				if !decFitsInt64(v) {
					return nil, castOutOfRange(to, a.Value(i).ToString(scale))
				}
				ib.Append(int64(v.LowBits()))
			}
		}
		var tmp arrow.Array
		if unsigned {
			tmp = ub.NewArray()
		} else {
			tmp = ib.NewArray()
		}
		defer tmp.Release()
		return convertNumeric(tmp, to, mem)
	case isStringy(from) || isBinaryish(from):
		n := in.Len()
		if isFloat(to) {
			fb := array.NewFloat64Builder(mem)
			defer fb.Release()
			fb.Reserve(n)
			for i := 0; i < n; i++ {
				if in.IsNull(i) {
					fb.AppendNull()
					continue
				}
				s, _ := textOf(in, i)
				f, _ := parseFloatPrefix(s)
				fb.UnsafeAppend(f)
			}
			fa := fb.NewArray()
			defer fa.Release()
			return convertNumeric(fa, to, mem)
		}
		unsigned := isUnsigned(to)
		ib := array.NewInt64Builder(mem)
		defer ib.Release()
		ub := array.NewUint64Builder(mem)
		defer ub.Release()
		for i := 0; i < n; i++ {
			if in.IsNull(i) {
				ib.AppendNull()
				ub.AppendNull()
				continue
			}
			s, _ := textOf(in, i)
			if unsigned {
				u, ok := parseUintPrefix(s)
				if !ok {
					return nil, castOutOfRange(to, strconv.Quote(s))
				}
				ub.Append(u)
			} else {
				v, ok := parseIntPrefix(s)
				if !ok {
					return nil, castOutOfRange(to, strconv.Quote(s))
				}
				ib.Append(v)
			}
		}
		var tmp arrow.Array
		if unsigned {
			tmp = ub.NewArray()
		} else {
			tmp = ib.NewArray()
		}
		defer tmp.Release()
		return convertNumeric(tmp, to, mem)
	case isTemporal(from):
		ib := array.NewInt64Builder(mem)
		defer ib.Release()
		for i := 0; i < in.Len(); i++ {
			if in.IsNull(i) {
				ib.AppendNull()
				continue
			}
			ib.Append(temporalNumber(Scalar(in, i)))
		}
		tmp := ib.NewArray()
		defer tmp.Release()
		return convertNumeric(tmp, to, mem)
	}
	return nil, &Error{Msg: fmt.Sprintf("cannot cast %s to %s", TypeName(from), TypeName(to))}
}

// temporalNumber is MySQL's numeric form of a temporal value:
// YYYYMMDD, hhmmss or YYYYMMDDhhmmss.
func temporalNumber(v any) int64 {
	switch x := v.(type) {
	case arrow.Date32:
		t := x.ToTime()
		return int64(t.Year())*10000 + int64(t.Month())*100 + int64(t.Day())
	case arrow.Time64:
		s := int64(x) / 1_000_000
		return s/3600*10000 + s/60%60*100 + s%60
	case arrow.Timestamp:
		t := x.ToTime(arrow.Microsecond)
		return int64(t.Year())*10000000000 + int64(t.Month())*100000000 + int64(t.Day())*1000000 +
			int64(t.Hour())*10000 + int64(t.Minute())*100 + int64(t.Second())
	}
	return 0
}

func decFitsInt64(v decimal128.Num) bool {
	hi, lo := v.HighBits(), v.LowBits()
	return (hi == 0 && lo <= math.MaxInt64) || (hi == -1 && lo > math.MaxInt64)
}

// convertNumeric converts between integer and float types. Float → integer
// rounds half away from zero; out-of-range values are an error.
func convertNumeric(in arrow.Array, to arrow.DataType, mem memory.Allocator) (arrow.Array, error) {
	if arrow.TypeEqual(in.DataType(), to) {
		in.Retain()
		return in, nil
	}
	switch to.ID() {
	case arrow.INT8:
		return convertTo[int8](in, to, mem, math.MinInt8, math.MaxInt8)
	case arrow.INT16:
		return convertTo[int16](in, to, mem, math.MinInt16, math.MaxInt16)
	case arrow.INT32:
		return convertTo[int32](in, to, mem, math.MinInt32, math.MaxInt32)
	case arrow.INT64:
		return convertTo[int64](in, to, mem, math.MinInt64, math.MaxInt64)
	case arrow.UINT8:
		return convertTo[uint8](in, to, mem, 0, math.MaxUint8)
	case arrow.UINT16:
		return convertTo[uint16](in, to, mem, 0, math.MaxUint16)
	case arrow.UINT32:
		return convertTo[uint32](in, to, mem, 0, math.MaxUint32)
	case arrow.UINT64:
		return convertTo[uint64](in, to, mem, 0, math.MaxUint64)
	case arrow.FLOAT32:
		return convertTo[float32](in, to, mem, -math.MaxFloat32, math.MaxFloat32)
	case arrow.FLOAT64:
		return convertTo[float64](in, to, mem, -math.MaxFloat64, math.MaxFloat64)
	}
	return nil, &Error{Msg: fmt.Sprintf("cannot cast %s to %s", TypeName(in.DataType()), TypeName(to))}
}

func convertTo[D fixed](in arrow.Array, to arrow.DataType, mem memory.Allocator, lo, hi float64) (arrow.Array, error) {
	n := in.Len()
	buf, dst := allocFixed[D](mem, n)
	var err error
	switch in.DataType().ID() {
	case arrow.INT8:
		err = convInts(values[int8](in), dst, in, to)
	case arrow.INT16:
		err = convInts(values[int16](in), dst, in, to)
	case arrow.INT32:
		err = convInts(values[int32](in), dst, in, to)
	case arrow.INT64:
		err = convInts(values[int64](in), dst, in, to)
	case arrow.UINT8:
		err = convInts(values[uint8](in), dst, in, to)
	case arrow.UINT16:
		err = convInts(values[uint16](in), dst, in, to)
	case arrow.UINT32:
		err = convInts(values[uint32](in), dst, in, to)
	case arrow.UINT64:
		err = convInts(values[uint64](in), dst, in, to)
	case arrow.FLOAT32:
		err = convFloats(values[float32](in), dst, in, to, lo, hi)
	case arrow.FLOAT64:
		err = convFloats(values[float64](in), dst, in, to, lo, hi)
	default:
		err = &Error{Msg: fmt.Sprintf("cannot cast %s to %s", TypeName(in.DataType()), TypeName(to))}
	}
	if err != nil {
		buf.Release()
		return nil, err
	}
	validity, nulls := andValidity(mem, n, in)
	return makeArray(to, n, validity, buf, nulls), nil
}

// convInts converts integers (and integers to floats); a value is in
// range when it survives the round trip with its sign.
func convInts[S, D fixed](src []S, dst []D, in arrow.Array, to arrow.DataType) error {
	bad := false
	for i, v := range src {
		d := D(v)
		dst[i] = d
		bad = bad || S(d) != v || (v < 0) != (d < 0)
	}
	if !bad || isFloat(to) {
		return nil
	}
	for i, v := range src {
		d := D(v)
		if (S(d) != v || (v < 0) != (d < 0)) && in.IsValid(i) {
			return castOutOfRange(to, fmt.Sprint(v))
		}
	}
	return nil
}

func convFloats[S ~float32 | ~float64, D fixed](src []S, dst []D, in arrow.Array, to arrow.DataType, lo, hi float64) error {
	if isFloat(to) {
		for i, v := range src {
			dst[i] = D(v)
		}
		return nil
	}
	for i, v := range src {
		f := math.Round(float64(v))
		if !(f >= lo && f <= hi) || (hi == math.MaxInt64 && f >= 9.223372036854775807e18) || (hi == math.MaxUint64 && f >= 1.8446744073709551615e19) {
			if in.IsValid(i) {
				return castOutOfRange(to, formatFloat(float64(v), 64))
			}
			dst[i] = 0
			continue
		}
		dst[i] = D(f)
	}
	return nil
}

// ---- to decimal ----

func decOutOfRange(t *arrow.Decimal128Type, v string) error {
	return &Error{Msg: fmt.Sprintf("%s value is out of range in cast of %s", TypeName(t), v)}
}

func castToDecimal(in arrow.Array, to *arrow.Decimal128Type, mem memory.Allocator) (arrow.Array, error) {
	// Numbers: widen to the canonical BIGINT / BIGINT UNSIGNED / DOUBLE
	// array first so the loop reads typed values.
	from := in.DataType()
	var canon arrow.DataType
	switch {
	case isSigned(from) && from.ID() != arrow.INT64:
		canon = tInt64
	case isUnsigned(from) && from.ID() != arrow.UINT64:
		canon = tUint64
	case from.ID() == arrow.FLOAT32:
		canon = tFloat
	}
	if canon != nil {
		w, err := convertNumeric(in, canon, mem)
		if err != nil {
			return nil, err
		}
		defer w.Release()
		in = w
	}
	n := in.Len()
	b := array.NewDecimal128Builder(mem, to)
	defer b.Release()
	b.Reserve(n)
	from = in.DataType()
	for i := 0; i < n; i++ {
		if in.IsNull(i) {
			b.AppendNull()
			continue
		}
		var v decimal128.Num
		var err error
		switch {
		case isSigned(from) || isBool(from) || isTemporal(from):
			var x int64
			if isBool(from) {
				if in.(*array.Boolean).Value(i) {
					x = 1
				}
			} else if isTemporal(from) {
				x = temporalNumber(Scalar(in, i))
			} else {
				x = in.(*array.Int64).Value(i)
			}
			v = decimal128.FromI64(x).IncreaseScaleBy(to.Scale)
			if !v.FitsInPrecision(to.Precision) {
				err = decOutOfRange(to, strconv.FormatInt(x, 10))
			}
		case isUnsigned(from):
			x := in.(*array.Uint64).Value(i)
			v = decimal128.FromU64(x).IncreaseScaleBy(to.Scale)
			if !v.FitsInPrecision(to.Precision) {
				err = decOutOfRange(to, strconv.FormatUint(x, 10))
			}
		case isFloat(from):
			f := in.(*array.Float64).Value(i)
			v, err = decimal128.FromFloat64(f, to.Precision, to.Scale)
			if err != nil {
				err = decOutOfRange(to, formatFloat(f, 64))
			}
		case isDecimal(from):
			v, err = rescaleDecimal(in.(*array.Decimal128).Value(i), from.(*arrow.Decimal128Type), to)
		case isStringy(from) || isBinaryish(from):
			s, _ := textOf(in, i)
			v, err = parseDecimalPrefix(s, to)
		default:
			err = &Error{Msg: fmt.Sprintf("cannot cast %s to %s", TypeName(from), TypeName(to))}
		}
		if err != nil {
			return nil, err
		}
		b.Append(v)
	}
	return b.NewArray(), nil
}

// rescaleDecimal converts between decimal types, rounding half away from
// zero when the scale shrinks.
func rescaleDecimal(v decimal128.Num, from, to *arrow.Decimal128Type) (decimal128.Num, error) {
	switch {
	case to.Scale > from.Scale:
		v = v.IncreaseScaleBy(to.Scale - from.Scale)
	case to.Scale < from.Scale:
		v = v.ReduceScaleBy(from.Scale-to.Scale, true)
	}
	if !v.FitsInPrecision(to.Precision) {
		return v, decOutOfRange(to, v.ToString(to.Scale))
	}
	return v, nil
}

func parseDecimalPrefix(s string, to *arrow.Decimal128Type) (decimal128.Num, error) {
	p := numericPrefix(s, true)
	if p == "" || p == "-" || p == "+" {
		return decimal128.Num{}, nil
	}
	v, err := decimal128.FromString(p, to.Precision, to.Scale)
	if err != nil {
		return v, decOutOfRange(to, strconv.Quote(s))
	}
	return v, nil
}

// ---- string number parsing (MySQL prefix rule) ----

// numericPrefix returns the longest prefix of s (after leading spaces) that
// reads as a number; frac allows a fraction and exponent.
func numericPrefix(s string, frac bool) string {
	s = strings.TrimLeft(s, " \t\n\r")
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if frac {
		if i < len(s) && s[i] == '.' {
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
				digits++
			}
			i = j
		}
		if digits > 0 && i < len(s) && (s[i] == 'e' || s[i] == 'E') {
			j := i + 1
			if j < len(s) && (s[j] == '+' || s[j] == '-') {
				j++
			}
			k := j
			for k < len(s) && s[k] >= '0' && s[k] <= '9' {
				k++
			}
			if k > j {
				i = k
			}
		}
	}
	if digits == 0 {
		return ""
	}
	return s[:i]
}

func parseFloatPrefix(s string) (float64, bool) {
	p := numericPrefix(s, true)
	if p == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSuffix(p, "."), 64)
	if err != nil {
		return f, false // ±Inf on overflow
	}
	return f, len(p) == len(strings.TrimSpace(s))
}

// parseIntPrefix parses the integer prefix of s like MySQL's string →
// integer conversion ('3.7' → 3, '12abc' → 12, 'abc' → 0). ok is false
// only on overflow.
func parseIntPrefix(s string) (int64, bool) {
	p := numericPrefix(s, false)
	if p == "" {
		return 0, true
	}
	v, err := strconv.ParseInt(p, 10, 64)
	return v, err == nil
}

func parseUintPrefix(s string) (uint64, bool) {
	p := numericPrefix(s, false)
	if p == "" || p == "-0" {
		return 0, true
	}
	if strings.HasPrefix(p, "-") {
		return 0, false
	}
	v, err := strconv.ParseUint(strings.TrimPrefix(p, "+"), 10, 64)
	return v, err == nil
}
