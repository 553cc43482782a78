package exec

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// minmaxAcc is MIN or MAX over one value kind. Without retractions it
// keeps one value per group. In counted mode (changelog aggregation) it also
// keeps, per group, a count per distinct value, so that retracting the
// current extreme can find the next one (a scan of the group's distinct
// values, paid only when the extreme itself is retracted).
type minmaxAcc[T comparable] struct {
	dt      arrow.DataType
	isMax   bool
	vals    []T
	has     []bool
	counted bool
	counts  []map[T]int64
	less    func(a, b T) bool
	view    func(a arrow.Array) []T
	clone   func(T) T
	app     func(b array.Builder, v T)
}

func newMinMax(dt arrow.DataType, isMax, counted bool) (accumulator, error) {
	switch kindOf(dt) {
	case kInt:
		var scratch []int64
		return &minmaxAcc[int64]{dt: dt, isMax: isMax, counted: counted,
			less:  func(a, b int64) bool { return a < b },
			view:  func(a arrow.Array) []int64 { scratch = int64sOf(a, scratch); return scratch },
			clone: func(v int64) int64 { return v },
			app:   appendInt}, nil
	case kUint:
		return &minmaxAcc[uint64]{dt: dt, isMax: isMax, counted: counted,
			less:  func(a, b uint64) bool { return a < b },
			view:  func(a arrow.Array) []uint64 { return uint64sOf(a, nil) },
			clone: func(v uint64) uint64 { return v },
			app:   appendUint}, nil
	case kFloat:
		return &minmaxAcc[float64]{dt: dt, isMax: isMax, counted: counted,
			less:  func(a, b float64) bool { return a < b },
			view:  func(a arrow.Array) []float64 { return float64sOf(a, nil) },
			clone: func(v float64) float64 { return v },
			app: func(b array.Builder, v float64) {
				if fb, ok := b.(*array.Float32Builder); ok {
					fb.Append(float32(v))
					return
				}
				b.(*array.Float64Builder).Append(v)
			}}, nil
	case kString:
		var scratch []string
		return &minmaxAcc[string]{dt: dt, isMax: isMax, counted: counted,
			less:  func(a, b string) bool { return a < b },
			view:  func(a arrow.Array) []string { scratch = stringsOf(a, scratch); return scratch },
			clone: strings.Clone,
			app: func(b array.Builder, v string) {
				switch bb := b.(type) {
				case *array.StringBuilder:
					bb.Append(v)
				case *array.LargeStringBuilder:
					bb.Append(v)
				case *array.BinaryBuilder:
					bb.AppendString(v)
				}
			}}, nil
	case kDecimal:
		return &minmaxAcc[decimal128.Num]{dt: dt, isMax: isMax, counted: counted,
			less:  func(a, b decimal128.Num) bool { return a.Less(b) },
			view:  decimalsOf,
			clone: func(v decimal128.Num) decimal128.Num { return v },
			app:   func(b array.Builder, v decimal128.Num) { b.(*array.Decimal128Builder).Append(v) }}, nil
	}
	if dt.ID() == arrow.NULL {
		return &nullAcc{t: dt}, nil
	}
	return nil, fmt.Errorf("min/max: cannot take argument of type %s", dt)
}

func (a *minmaxAcc[T]) resize(n int) {
	a.vals = growSlice(a.vals, n)
	a.has = growSlice(a.has, n)
	if a.counted {
		a.counts = growSlice(a.counts, n)
	}
}

func (a *minmaxAcc[T]) reset(g uint32) {
	var zero T
	a.vals[g], a.has[g] = zero, false
	if a.counted {
		a.counts[g] = nil
	}
}

func (a *minmaxAcc[T]) better(v, cur T) bool {
	if a.isMax {
		return a.less(cur, v)
	}
	return a.less(v, cur)
}

func (a *minmaxAcc[T]) update(args []arrow.Array, gids []uint32, ops []ChangeKind) error {
	arg := args[0]
	vals := a.view(arg)
	nulls := arg.NullN() > 0
	for i, g := range gids {
		if nulls && arg.IsNull(i) {
			continue
		}
		v := vals[i]
		if a.counted {
			m := a.counts[g]
			if m == nil {
				m = map[T]int64{}
				a.counts[g] = m
			}
			if delta(ops, i) < 0 {
				c := m[v] - 1
				if c > 0 {
					m[v] = c
					continue
				}
				delete(m, v)
				if a.has[g] && a.vals[g] == v {
					a.recompute(g)
				}
				continue
			}
			if c, ok := m[v]; ok {
				m[v] = c + 1
			} else {
				m[a.clone(v)] = 1
			}
		} else if delta(ops, i) < 0 {
			return fmt.Errorf("MIN/MAX cannot take retractions when aggregating to a final result; use changelog mode")
		}
		if !a.has[g] || a.better(v, a.vals[g]) {
			a.vals[g], a.has[g] = a.clone(v), true
		}
	}
	return nil
}

// recompute finds group g's extreme among its remaining values.
func (a *minmaxAcc[T]) recompute(g uint32) {
	a.has[g] = false
	for v := range a.counts[g] {
		if !a.has[g] || a.better(v, a.vals[g]) {
			a.vals[g], a.has[g] = v, true
		}
	}
}

func (a *minmaxAcc[T]) result(mem memory.Allocator, sel []uint32) arrow.Array {
	b := array.NewBuilder(mem, a.dt)
	defer b.Release()
	n := selLen(sel, len(a.vals))
	b.Reserve(n)
	for j := 0; j < n; j++ {
		g := selAt(sel, j)
		if !a.has[g] {
			b.AppendNull()
		} else {
			a.app(b, a.vals[g])
		}
	}
	return b.NewArray()
}
