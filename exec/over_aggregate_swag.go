package exec

import (
	"cmp"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ovPart is a partial aggregate of some rows of a frame: a count of
// non-NULL values, and their sum (I: integers, F: floats, DLo/DHi:
// decimals) or extreme (Has, with I, F, S or DLo/DHi). Ovf marks an
// integer sum out of range. Fields are exported for gob (checkpoints).
type ovPart struct {
	N, I     int64
	F        float64
	DLo      uint64
	DHi      int64
	S        string
	Has, Ovf bool
}

func (p ovPart) dec() decimal128.Num { return decimal128.New(p.DHi, p.DLo) }

// ovOps combines partials of one call.
type ovOps struct {
	fn   string
	kind vkind
}

// combine is the partial of a's rows then b's (associative).
func (o ovOps) combine(a, b ovPart) ovPart {
	switch o.fn {
	case "count", "count_star":
		return ovPart{N: a.N + b.N}
	case "min", "max":
		if !b.Has {
			return a
		}
		if !a.Has {
			return b
		}
		c := o.compare(a, b)
		if (o.fn == "min" && c <= 0) || (o.fn == "max" && c >= 0) {
			return a
		}
		return b
	}
	out := ovPart{N: a.N + b.N, Ovf: a.Ovf || b.Ovf}
	switch o.kind {
	case kInt, kUint:
		s := a.I + b.I
		if (a.I^s)&(b.I^s) < 0 {
			out.Ovf = true
		}
		out.I = s
	case kFloat:
		out.F = a.F + b.F
	case kDecimal:
		d := a.dec().Add(b.dec())
		out.DLo, out.DHi = d.LowBits(), d.HighBits()
	}
	return out
}

// compare orders two values (both present) as Window's MIN/MAX does.
func (o ovOps) compare(a, b ovPart) int {
	switch o.kind {
	case kInt:
		return cmp.Compare(a.I, b.I)
	case kUint:
		return cmp.Compare(uint64(a.I), uint64(b.I))
	case kFloat:
		return cmp.Compare(a.F, b.F)
	case kString:
		return cmp.Compare(a.S, b.S)
	case kDecimal:
		return a.dec().Cmp(b.dec())
	}
	return 0
}

// swag is a sliding-window aggregate over a queue of partials (the two
// stacks algorithm): push at the back, pop at the front, query the
// aggregate of the whole queue, each O(1) amortized, with no inverse
// needed (MIN and MAX have none; float sums would drift). Unbounded keeps
// only the running aggregate (frames from UNBOUNDED PRECEDING never pop).
type swag struct {
	ops       ovOps
	unbounded bool
	acc       ovPart // unbounded: everything pushed
	// front holds suffix aggregates of the older elements: front[len-1]
	// covers all of them, oldest first; back holds the newer elements as
	// pushed, backAgg their aggregate.
	front, back     []ovPart
	frontTs, backTs []int64
	backAgg         ovPart
}

func (w *swag) size() int { return len(w.front) + len(w.back) }

func (w *swag) push(v ovPart, ts int64) {
	o := w.ops
	if w.unbounded {
		w.acc = o.combine(w.acc, v)
		return
	}
	w.back = append(w.back, v)
	w.backTs = append(w.backTs, ts)
	w.backAgg = o.combine(w.backAgg, v)
}

// oldestTs is the time of the oldest element (size > 0).
func (w *swag) oldestTs() int64 {
	if n := len(w.frontTs); n > 0 {
		return w.frontTs[n-1]
	}
	return w.backTs[0]
}

// pop removes the oldest element (size > 0).
func (w *swag) pop() {
	if len(w.front) == 0 {
		w.flip()
	}
	n := len(w.front) - 1
	w.front[n] = ovPart{}
	w.front, w.frontTs = w.front[:n], w.frontTs[:n]
}

// flip moves the back elements to the front as suffix aggregates.
func (w *swag) flip() {
	agg := ovPart{}
	first := true
	for j := len(w.back) - 1; j >= 0; j-- {
		if first {
			agg, first = w.back[j], false
		} else {
			agg = w.ops.combine(w.back[j], agg)
		}
		w.front = append(w.front, agg)
		w.frontTs = append(w.frontTs, w.backTs[j])
	}
	clear(w.back)
	w.back, w.backTs, w.backAgg = w.back[:0], w.backTs[:0], ovPart{}
}

func (w *swag) query() ovPart {
	o := w.ops
	if w.unbounded {
		return w.acc
	}
	if n := len(w.front); n > 0 {
		return o.combine(w.front[n-1], w.backAgg)
	}
	return w.backAgg
}

// ovBuild makes the result column of a call from its frames' partials.
func ovBuild(mem memory.Allocator, o ovOps, out, argType arrow.DataType, vals []ovPart) (arrow.Array, error) {
	n := len(vals)
	switch o.fn {
	case "count", "count_star":
		c := make([]int64, n)
		for i, v := range vals {
			c[i] = v.N
		}
		return int64Array(mem, c, nil), nil
	}
	if argType == nil {
		return array.MakeArrayOfNull(mem, out, n), nil
	}
	b := array.NewBuilder(mem, out)
	defer b.Release()
	b.Reserve(n)
	for _, v := range vals {
		if v.N == 0 || (o.fn != "sum" && o.fn != "avg" && !v.Has) {
			b.AppendNull()
			continue
		}
		switch o.fn {
		case "sum":
			switch o.kind {
			case kInt, kUint:
				if v.Ovf {
					return nil, errSumOverflow
				}
				b.(*array.Int64Builder).Append(v.I)
			case kFloat:
				b.(*array.Float64Builder).Append(v.F)
			case kDecimal:
				b.(*array.Decimal128Builder).Append(v.dec())
			}
		case "avg":
			switch o.kind {
			case kInt, kUint:
				if v.Ovf {
					return nil, errSumOverflow
				}
				b.(*array.Float64Builder).Append(float64(v.I) / float64(v.N))
			case kFloat:
				b.(*array.Float64Builder).Append(v.F / float64(v.N))
			case kDecimal:
				dt := out.(*arrow.Decimal128Type)
				in := argType.(*arrow.Decimal128Type)
				b.(*array.Decimal128Builder).Append(divRound(v.dec().IncreaseScaleBy(dt.Scale-in.Scale), v.N))
			}
		default: // min, max: the argument's type
			switch o.kind {
			case kInt:
				appendInt(b, v.I)
			case kUint:
				appendUint(b, uint64(v.I))
			case kFloat:
				if fb, ok := b.(*array.Float32Builder); ok {
					fb.Append(float32(v.F))
				} else {
					b.(*array.Float64Builder).Append(v.F)
				}
			case kString:
				switch bb := b.(type) {
				case *array.StringBuilder:
					bb.Append(v.S)
				case *array.LargeStringBuilder:
					bb.Append(v.S)
				case *array.BinaryBuilder:
					bb.AppendString(v.S)
				}
			case kDecimal:
				b.(*array.Decimal128Builder).Append(v.dec())
			default:
				return nil, fmt.Errorf("cannot take argument of type %s", argType)
			}
		}
	}
	return b.NewArray(), nil
}
