package exec

import (
	"errors"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// accumulator holds one aggregate's state for every group. update adds (or,
// for retractions in ops, removes) the rows of one batch; gids[i] is row
// i's group. Updates are whole-batch typed loops: no boxing per row.
type accumulator interface {
	// resize makes room for groups [0, n).
	resize(n int)
	update(args []arrow.Array, gids []uint32, ops []ChangeKind) error
	// result builds the values of groups sel (nil: all groups).
	result(mem memory.Allocator, sel []uint32) arrow.Array
	// reset clears group g (its rows were all retracted).
	reset(g uint32)
}

var errSumOverflow = errors.New("BIGINT value is out of range in SUM")

// AggregateType is the result type of aggregate fn over args. Choices:
// COUNT and approx_count_distinct give BIGINT; SUM of integers gives BIGINT
// (MySQL gives DECIMAL; we stay in int64 and report overflow as an error),
// of floats DOUBLE, of DECIMAL(p,s) DECIMAL(38,s); AVG of integers and
// floats gives DOUBLE, of DECIMAL(p,s) DECIMAL(38,s+4); MIN and MAX keep the
// argument type (numbers, strings, binaries, temporal types, decimals).
func AggregateType(fn string, distinct bool, args []arrow.DataType) (arrow.DataType, error) {
	switch fn {
	case "count_star":
		return arrow.PrimitiveTypes.Int64, nil
	case "count":
		if len(args) == 0 {
			return nil, fmt.Errorf("aggregate count: needs an argument")
		}
		if distinct {
			for _, t := range args {
				if t.ID() != arrow.NULL && kindOf(t) == kInvalid {
					return nil, fmt.Errorf("aggregate count: cannot take DISTINCT argument of type %s", t)
				}
			}
		}
		return arrow.PrimitiveTypes.Int64, nil
	}
	if len(args) != 1 {
		return nil, fmt.Errorf("aggregate %s: takes 1 argument, got %d", fn, len(args))
	}
	t := args[0]
	k := kindOf(t)
	null := t.ID() == arrow.NULL
	switch fn {
	case "approx_count_distinct":
		if k == kInvalid && !null {
			return nil, fmt.Errorf("aggregate %s: cannot take argument of type %s", fn, t)
		}
		return arrow.PrimitiveTypes.Int64, nil
	case "sum":
		switch {
		case null || k == kInt || k == kUint:
			return arrow.PrimitiveTypes.Int64, nil
		case k == kFloat:
			return arrow.PrimitiveTypes.Float64, nil
		case k == kDecimal:
			return &arrow.Decimal128Type{Precision: 38, Scale: t.(*arrow.Decimal128Type).Scale}, nil
		}
	case "avg":
		switch {
		case null || k == kInt || k == kUint || k == kFloat:
			return arrow.PrimitiveTypes.Float64, nil
		case k == kDecimal:
			return &arrow.Decimal128Type{Precision: 38, Scale: min(t.(*arrow.Decimal128Type).Scale+4, 38)}, nil
		}
	case "min", "max":
		if k != kInvalid || null {
			return t, nil
		}
	default:
		return nil, fmt.Errorf("unknown aggregate function %q", fn)
	}
	return nil, fmt.Errorf("aggregate %s: cannot take argument of type %s", fn, t)
}

// newAccumulator builds the state for one call; counted asks MIN/MAX to
// keep per-group value counts so they can take retractions.
func newAccumulator(fn string, distinct bool, args []arrow.DataType, mem memory.Allocator, counted bool) (accumulator, error) {
	return newAccumulatorRows(fn, distinct, args, mem, counted, nil)
}

// newAccumulatorRows is newAccumulator for an operator that keeps per-group
// row counts (net of retractions) in *rows anyway: COUNT(*) then reads them
// instead of counting again.
func newAccumulatorRows(fn string, distinct bool, args []arrow.DataType, mem memory.Allocator, counted bool, rows *[]int64) (accumulator, error) {
	out, err := AggregateType(fn, distinct, args)
	if err != nil {
		return nil, err
	}
	var acc accumulator
	switch fn {
	case "count_star":
		if rows != nil {
			acc = &rowsAcc{rows: rows}
		} else {
			acc = &countAcc{star: true}
		}
	case "count":
		acc = &countAcc{}
	case "approx_count_distinct":
		acc = &hllAcc{}
	case "sum", "avg":
		avg := fn == "avg"
		switch {
		case args[0].ID() == arrow.NULL:
			acc = &nullAcc{t: out}
		case kindOf(args[0]) == kFloat:
			acc = &sumFloatAcc{avg: avg}
		case kindOf(args[0]) == kDecimal:
			acc = &sumDecAcc{avg: avg, scale: args[0].(*arrow.Decimal128Type).Scale, out: out.(*arrow.Decimal128Type)}
		default:
			acc = &sumIntAcc{avg: avg}
		}
	case "min", "max":
		acc, err = newMinMax(args[0], fn == "max", counted)
		if err != nil {
			return nil, err
		}
	}
	if distinct && fn != "min" && fn != "max" && fn != "approx_count_distinct" {
		acc = &distinctAcc{inner: acc, mem: mem, seen: map[string]int64{}}
	}
	return acc, nil
}

func delta(ops []ChangeKind, i int) int64 {
	if ops != nil && ops[i].IsRetraction() {
		return -1
	}
	return 1
}

func growSlice[T any](s []T, n int) []T {
	if len(s) >= n {
		return s
	}
	if cap(s) >= n {
		return s[:n]
	}
	ns := make([]T, n, max(n, 2*cap(s)))
	copy(ns, s)
	return ns
}

// allValid reports whether every arg is free of NULLs.
func allValid(args []arrow.Array) bool {
	for _, a := range args {
		if a.NullN() > 0 {
			return false
		}
	}
	return true
}

func rowValid(args []arrow.Array, i int) bool {
	for _, a := range args {
		if a.IsNull(i) {
			return false
		}
	}
	return true
}

func selLen(sel []uint32, n int) int {
	if sel == nil {
		return n
	}
	return len(sel)
}

func selAt(sel []uint32, j int) int {
	if sel == nil {
		return j
	}
	return int(sel[j])
}

// countAcc is COUNT(*) (star) or COUNT(x, ...): rows with no NULL argument.
type countAcc struct {
	c    []int64
	star bool
}

func (a *countAcc) resize(n int)   { a.c = growSlice(a.c, n) }
func (a *countAcc) reset(g uint32) { a.c[g] = 0 }

func (a *countAcc) update(args []arrow.Array, gids []uint32, ops []ChangeKind) error {
	c := a.c
	if a.star || allValid(args) {
		if ops == nil {
			for _, g := range gids {
				c[g]++
			}
			return nil
		}
		for i, g := range gids {
			c[g] += delta(ops, i)
		}
		return nil
	}
	for i, g := range gids {
		if rowValid(args, i) {
			c[g] += delta(ops, i)
		}
	}
	return nil
}

func (a *countAcc) result(mem memory.Allocator, sel []uint32) arrow.Array {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	n := selLen(sel, len(a.c))
	b.Reserve(n)
	for j := 0; j < n; j++ {
		b.UnsafeAppend(a.c[selAt(sel, j)])
	}
	return b.NewArray()
}

// rowsAcc is COUNT(*) read from the aggregate's own row counts, which it
// maintains anyway (for changelogs and retractions): one pass fewer.
type rowsAcc struct{ rows *[]int64 }

func (a *rowsAcc) resize(int)   {}
func (a *rowsAcc) reset(uint32) {}
func (a *rowsAcc) update([]arrow.Array, []uint32, []ChangeKind) error {
	return nil
}
func (a *rowsAcc) result(mem memory.Allocator, sel []uint32) arrow.Array {
	rows := *a.rows
	b := array.NewInt64Builder(mem)
	defer b.Release()
	n := selLen(sel, len(rows))
	b.Reserve(n)
	for j := 0; j < n; j++ {
		if g := selAt(sel, j); g < len(rows) {
			b.UnsafeAppend(rows[g])
		} else {
			b.UnsafeAppend(0)
		}
	}
	return b.NewArray()
}

// sumIntAcc is SUM or AVG of integers, summed exactly in int64.
type sumIntAcc struct {
	st      []sumInt
	avg     bool
	scratch []int64
}

type sumInt struct{ s, n int64 }

func (a *sumIntAcc) resize(n int)   { a.st = growSlice(a.st, n) }
func (a *sumIntAcc) reset(g uint32) { a.st[g] = sumInt{} }

func (a *sumIntAcc) update(args []arrow.Array, gids []uint32, ops []ChangeKind) error {
	arg := args[0]
	var vals []int64
	if kindOf(arg.DataType()) == kUint {
		us := uint64sOf(arg, nil)
		vals = growSlice(a.scratch[:0], len(us))
		for i, u := range us {
			if u > math.MaxInt64 && arg.IsValid(i) {
				return errSumOverflow
			}
			vals[i] = int64(u)
		}
		a.scratch = vals
	} else {
		vals = int64sOf(arg, a.scratch)
		if cap(vals) <= cap(a.scratch) {
			a.scratch = vals
		}
	}
	st := a.st
	if ops == nil && arg.NullN() == 0 {
		for i, g := range gids {
			v := vals[i]
			p := &st[g]
			r := p.s + v
			if (p.s^r)&(v^r) < 0 {
				return errSumOverflow
			}
			p.s = r
			p.n++
		}
		return nil
	}
	for i, g := range gids {
		if arg.IsNull(i) {
			continue
		}
		v := vals[i]
		d := delta(ops, i)
		p := &st[g]
		var r int64
		if d > 0 {
			r = p.s + v
			if (p.s^r)&(v^r) < 0 {
				return errSumOverflow
			}
		} else {
			r = p.s - v
			if (p.s^v)&(p.s^r) < 0 {
				return errSumOverflow
			}
		}
		p.s = r
		p.n += d
	}
	return nil
}

func (a *sumIntAcc) result(mem memory.Allocator, sel []uint32) arrow.Array {
	n := selLen(sel, len(a.st))
	if a.avg {
		b := array.NewFloat64Builder(mem)
		defer b.Release()
		b.Reserve(n)
		for j := 0; j < n; j++ {
			p := a.st[selAt(sel, j)]
			if p.n <= 0 {
				b.UnsafeAppendBoolToBitmap(false)
			} else {
				b.UnsafeAppend(float64(p.s) / float64(p.n))
			}
		}
		return b.NewArray()
	}
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.Reserve(n)
	for j := 0; j < n; j++ {
		p := a.st[selAt(sel, j)]
		if p.n <= 0 {
			b.UnsafeAppendBoolToBitmap(false)
		} else {
			b.UnsafeAppend(p.s)
		}
	}
	return b.NewArray()
}

// sumFloatAcc is SUM or AVG of floats.
type sumFloatAcc struct {
	st      []sumFloat
	avg     bool
	scratch []float64
}

type sumFloat struct {
	s float64
	n int64
}

func (a *sumFloatAcc) resize(n int)   { a.st = growSlice(a.st, n) }
func (a *sumFloatAcc) reset(g uint32) { a.st[g] = sumFloat{} }

func (a *sumFloatAcc) update(args []arrow.Array, gids []uint32, ops []ChangeKind) error {
	arg := args[0]
	vals := float64sOf(arg, a.scratch)
	if cap(vals) <= cap(a.scratch) {
		a.scratch = vals
	}
	st := a.st
	nulls := arg.NullN() > 0
	for i, g := range gids {
		if nulls && arg.IsNull(i) {
			continue
		}
		d := delta(ops, i)
		st[g].s += float64(d) * vals[i]
		st[g].n += d
	}
	return nil
}

func (a *sumFloatAcc) result(mem memory.Allocator, sel []uint32) arrow.Array {
	n := selLen(sel, len(a.st))
	b := array.NewFloat64Builder(mem)
	defer b.Release()
	b.Reserve(n)
	for j := 0; j < n; j++ {
		p := a.st[selAt(sel, j)]
		switch {
		case p.n <= 0:
			b.UnsafeAppendBoolToBitmap(false)
		case a.avg:
			b.UnsafeAppend(p.s / float64(p.n))
		default:
			b.UnsafeAppend(p.s)
		}
	}
	return b.NewArray()
}

// sumDecAcc is SUM or AVG of DECIMAL(p,s). Sums beyond 38 digits wrap
// (not checked).
type sumDecAcc struct {
	st    []sumDec
	avg   bool
	scale int32
	out   *arrow.Decimal128Type
}

type sumDec struct {
	s decimal128.Num
	n int64
}

func (a *sumDecAcc) resize(n int)   { a.st = growSlice(a.st, n) }
func (a *sumDecAcc) reset(g uint32) { a.st[g] = sumDec{} }

func (a *sumDecAcc) update(args []arrow.Array, gids []uint32, ops []ChangeKind) error {
	arg := args[0]
	vals := decimalsOf(arg)
	for i, g := range gids {
		if arg.IsNull(i) {
			continue
		}
		p := &a.st[g]
		if delta(ops, i) > 0 {
			p.s = p.s.Add(vals[i])
			p.n++
		} else {
			p.s = p.s.Sub(vals[i])
			p.n--
		}
	}
	return nil
}

func (a *sumDecAcc) result(mem memory.Allocator, sel []uint32) arrow.Array {
	n := selLen(sel, len(a.st))
	b := array.NewDecimal128Builder(mem, a.out)
	defer b.Release()
	b.Reserve(n)
	for j := 0; j < n; j++ {
		p := a.st[selAt(sel, j)]
		switch {
		case p.n <= 0:
			b.AppendNull()
		case a.avg:
			b.Append(divRound(p.s.IncreaseScaleBy(a.out.Scale-a.scale), p.n))
		default:
			b.Append(p.s)
		}
	}
	return b.NewArray()
}

// divRound divides x by n rounding half away from zero.
func divRound(x decimal128.Num, n int64) decimal128.Num {
	d := decimal128.FromI64(n)
	q, r := x.Div(d)
	if r.Abs().Mul(decimal128.FromI64(2)).GreaterEqual(d) {
		if x.Sign() < 0 {
			q = q.Sub(decimal128.FromI64(1))
		} else {
			q = q.Add(decimal128.FromI64(1))
		}
	}
	return q
}

// nullAcc is an aggregate of an all-NULL (NULL-typed) argument: NULL.
type nullAcc struct {
	t arrow.DataType
	n int
}

func (a *nullAcc) resize(n int) { a.n = max(a.n, n) }
func (a *nullAcc) reset(uint32) {}
func (a *nullAcc) update([]arrow.Array, []uint32, []ChangeKind) error {
	return nil
}
func (a *nullAcc) result(mem memory.Allocator, sel []uint32) arrow.Array {
	b := array.NewBuilder(mem, a.t)
	defer b.Release()
	b.AppendNulls(selLen(sel, a.n))
	return b.NewArray()
}

// hllAcc is approx_count_distinct. It cannot take retractions.
type hllAcc struct {
	h []*hll
}

func (a *hllAcc) resize(n int)   { a.h = growSlice(a.h, n) }
func (a *hllAcc) reset(g uint32) { a.h[g] = nil }

func (a *hllAcc) update(args []arrow.Array, gids []uint32, ops []ChangeKind) error {
	arg := args[0]
	if arg.DataType().ID() == arrow.NULL {
		return nil
	}
	for i := range ops {
		if ops[i].IsRetraction() {
			return fmt.Errorf("approx_count_distinct cannot take retractions")
		}
	}
	var hashes []uint64
	n := len(gids)
	hashes = make([]uint64, n)
	switch kindOf(arg.DataType()) {
	case kInt:
		for i, v := range int64sOf(arg, nil) {
			hashes[i] = mix64(uint64(v))
		}
	case kUint:
		for i, v := range uint64sOf(arg, nil) {
			hashes[i] = mix64(v)
		}
	case kFloat:
		for i, v := range float64sOf(arg, nil) {
			hashes[i] = mix64(math.Float64bits(normFloat(v)))
		}
	case kString:
		for i, v := range stringsOf(arg, nil) {
			hashes[i] = hashString(v)
		}
	case kDecimal:
		for i, v := range decimalsOf(arg) {
			hashes[i] = mix64(v.LowBits() ^ mix64(uint64(v.HighBits())))
		}
	}
	nulls := arg.NullN() > 0
	for i, g := range gids {
		if nulls && arg.IsNull(i) {
			continue
		}
		if a.h[g] == nil {
			a.h[g] = &hll{}
		}
		a.h[g].add(hashes[i])
	}
	return nil
}

func (a *hllAcc) result(mem memory.Allocator, sel []uint32) arrow.Array {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	n := selLen(sel, len(a.h))
	for j := 0; j < n; j++ {
		b.Append(a.h[selAt(sel, j)].estimate())
	}
	return b.NewArray()
}

// distinctAcc passes to inner only the first occurrence of each (group,
// value) and only the last retraction of it: a per-group multiset of the
// serialized argument values.
type distinctAcc struct {
	inner accumulator
	mem   memory.Allocator
	seen  map[string]int64
	rows  [][]byte
	i64   []int64
	u64   []uint64
	f64   []float64
	strs  []string
	key   []byte
}

func (a *distinctAcc) resize(n int)   { a.inner.resize(n) }
func (a *distinctAcc) reset(g uint32) { a.inner.reset(g) }
func (a *distinctAcc) result(mem memory.Allocator, sel []uint32) arrow.Array {
	return a.inner.result(mem, sel)
}

func (a *distinctAcc) update(args []arrow.Array, gids []uint32, ops []ChangeKind) error {
	n := len(gids)
	a.rows = encodeRows(args, n, a.rows, &a.i64, &a.u64, &a.f64, &a.strs)
	var sel []int32
	var selOps []ChangeKind
	retracting := false
	for i, g := range gids {
		if !rowValid(args, i) {
			continue
		}
		a.key = append(a.key[:0], byte(g), byte(g>>8), byte(g>>16), byte(g>>24))
		a.key = append(a.key, a.rows[i]...)
		c := a.seen[string(a.key)]
		if delta(ops, i) < 0 {
			if c <= 1 {
				delete(a.seen, string(a.key))
				if c == 1 {
					sel = append(sel, int32(i))
					selOps = append(selOps, Delete)
					retracting = true
				}
			} else {
				a.seen[string(a.key)] = c - 1
			}
			continue
		}
		a.seen[string(a.key)] = c + 1
		if c == 0 {
			sel = append(sel, int32(i))
			selOps = append(selOps, Insert)
		}
	}
	if len(sel) == 0 {
		return nil
	}
	if !retracting {
		selOps = nil
	}
	taken := make([]arrow.Array, len(args))
	defer releaseArrays(taken)
	for j, arg := range args {
		t, err := takeArray(a.mem, arg, sel)
		if err != nil {
			return err
		}
		taken[j] = t
	}
	g2 := make([]uint32, len(sel))
	for j, i := range sel {
		g2[j] = gids[i]
	}
	return a.inner.update(taken, g2, selOps)
}
