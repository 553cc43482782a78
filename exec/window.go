package exec

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

// FrameUnit is ROWS or RANGE.
type FrameUnit int8

// Frame units. FrameDefault (the zero value) is the SQL default: RANGE
// BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW (peers included) with ORDER BY,
// the whole partition without.
const (
	FrameDefault FrameUnit = iota
	FrameRows
	FrameRange
)

// BoundKind is the kind of one frame bound.
type BoundKind int8

// Frame bound kinds.
const (
	UnboundedPreceding BoundKind = iota
	Preceding
	CurrentRow
	Following
	UnboundedFollowing
)

// FrameBound is one end of a frame; Offset is used by Preceding/Following.
type FrameBound struct {
	Kind   BoundKind
	Offset int64
}

// Frame is a window frame. The zero value is the default frame.
type Frame struct {
	Unit       FrameUnit
	Start, End FrameBound
}

func (b FrameBound) String() string {
	switch b.Kind {
	case UnboundedPreceding:
		return "UNBOUNDED PRECEDING"
	case Preceding:
		return fmt.Sprintf("%d PRECEDING", b.Offset)
	case CurrentRow:
		return "CURRENT ROW"
	case Following:
		return fmt.Sprintf("%d FOLLOWING", b.Offset)
	}
	return "UNBOUNDED FOLLOWING"
}

func (f Frame) String() string {
	switch f.Unit {
	case FrameRows:
		return "ROWS BETWEEN " + f.Start.String() + " AND " + f.End.String()
	case FrameRange:
		return "RANGE BETWEEN " + f.Start.String() + " AND " + f.End.String()
	}
	return ""
}

// WindowCall is one window function: row_number, rank, dense_rank, lag,
// lead (Args: value, optional offset literal, optional default), sum, count,
// count_star, avg, min, max. Name is the output column.
type WindowCall struct {
	Func  string
	Args  []expr.Expr
	Frame Frame
	Name  string
}

// Window evaluates window functions over bounded input. At End it sorts the
// rows by (partition keys, order keys), finds partitions and peer groups,
// turns every row's frame into a range of sorted positions, and computes
// each function over whole arrays: ranks by position, LAG/LEAD by gather,
// SUM/COUNT/AVG by prefix sums (any frame in O(1) a row), MIN/MAX by a
// running extreme when the frame starts at the partition start and a scan
// of the frame otherwise. RANGE frames take UNBOUNDED and CURRENT ROW
// bounds (offsets need ROWS). Rows come out in partition/order sequence.
// Watermarks and barriers are forwarded as they arrive.
type Window struct {
	child    Operator
	parts    []expr.Expr
	order    []SortKey
	funcs    []WindowCall
	mem      memory.Allocator
	schema   *arrow.Schema
	partEvs  []expr.Evaluator
	orderEvs []expr.Evaluator
	argEvs   [][]expr.Evaluator
	lagOff   []int64

	batches []arrow.RecordBatch
	rec     arrow.RecordBatch
	idx     []int32
	results []arrow.Array
	pos     int
	done    bool
}

var windowFuncs = map[string]bool{"row_number": true, "rank": true, "dense_rank": true, "lag": true, "lead": true,
	"sum": true, "count": true, "count_star": true, "avg": true, "min": true, "max": true}

// NewWindow evaluates funcs over partitions of child's (bounded) input,
// ordered by orderBy. Output: the input columns then one per WindowCall.
func NewWindow(child Operator, partitionBy []expr.Expr, orderBy []SortKey, funcs []WindowCall, mem memory.Allocator) (Operator, error) {
	w := &Window{child: child, parts: partitionBy, order: orderBy, funcs: funcs, mem: mem}
	var err error
	if w.partEvs, err = compileAll(partitionBy, mem); err != nil {
		return nil, fmt.Errorf("window: %w", err)
	}
	oexprs := make([]expr.Expr, len(orderBy))
	for i, k := range orderBy {
		oexprs[i] = k.Expr
	}
	if w.orderEvs, err = compileAll(oexprs, mem); err != nil {
		return nil, fmt.Errorf("window: %w", err)
	}
	fields := append([]arrow.Field(nil), child.Schema().Fields()...)
	for _, f := range funcs {
		if !windowFuncs[f.Func] {
			return nil, fmt.Errorf("window: unknown window function %q", f.Func)
		}
		t, off, err := windowType(f)
		if err != nil {
			return nil, fmt.Errorf("window: %w", err)
		}
		if err := checkFrame(f.Frame); err != nil {
			return nil, fmt.Errorf("window: %s: %w", f.Func, err)
		}
		evs, err := compileAll(f.Args, mem)
		if err != nil {
			return nil, fmt.Errorf("window: %w", err)
		}
		w.argEvs = append(w.argEvs, evs)
		w.lagOff = append(w.lagOff, off)
		fields = append(fields, arrow.Field{Name: f.Name, Type: t, Nullable: true})
	}
	w.schema = arrow.NewSchema(fields, nil)
	return w, nil
}

// windowType resolves a call's result type (and LAG/LEAD's offset).
func windowType(f WindowCall) (arrow.DataType, int64, error) {
	switch f.Func {
	case "row_number", "rank", "dense_rank":
		if len(f.Args) != 0 {
			return nil, 0, fmt.Errorf("%s takes no arguments", f.Func)
		}
		return arrow.PrimitiveTypes.Int64, 0, nil
	case "lag", "lead":
		if len(f.Args) < 1 || len(f.Args) > 3 {
			return nil, 0, fmt.Errorf("%s takes 1 to 3 arguments", f.Func)
		}
		off := int64(1)
		if len(f.Args) >= 2 {
			lit, ok := f.Args[1].(*expr.Literal)
			if !ok {
				return nil, 0, fmt.Errorf("%s: the offset must be a constant", f.Func)
			}
			v, ok := lit.Value.(int64)
			if !ok || v < 0 {
				return nil, 0, fmt.Errorf("%s: the offset must be a non-negative integer", f.Func)
			}
			off = v
		}
		t := f.Args[0].Type()
		if kindOf(t) == kInvalid {
			return nil, 0, fmt.Errorf("%s: cannot take argument of type %s", f.Func, t)
		}
		if len(f.Args) == 3 {
			dt := f.Args[2].Type()
			if dt.ID() != arrow.NULL && kindOf(dt) != kindOf(t) {
				return nil, 0, fmt.Errorf("%s: default of type %s does not match %s", f.Func, dt, t)
			}
		}
		return t, off, nil
	}
	types := make([]arrow.DataType, len(f.Args))
	for i, a := range f.Args {
		types[i] = a.Type()
	}
	t, err := AggregateType(f.Func, false, types)
	return t, 0, err
}

func checkFrame(f Frame) error {
	if f.Unit == FrameRange {
		for _, b := range []FrameBound{f.Start, f.End} {
			if b.Kind == Preceding || b.Kind == Following {
				return fmt.Errorf("RANGE frames with offsets are not supported; use ROWS")
			}
		}
	}
	if f.Unit != FrameDefault && (f.Start.Kind == UnboundedFollowing || f.End.Kind == UnboundedPreceding) {
		return fmt.Errorf("invalid frame %s", f)
	}
	return nil
}

// Schema implements Operator.
func (w *Window) Schema() *arrow.Schema { return w.schema }

// Open implements Operator.
func (w *Window) Open(ctx context.Context) error { return w.child.Open(ctx) }

// Next implements Operator.
func (w *Window) Next(ctx context.Context) (Message, error) {
	for !w.done {
		m, err := w.child.Next(ctx)
		if err != nil {
			return Message{}, err
		}
		switch m.Kind {
		case MsgBatch:
			if !m.Batch.AppendOnly() {
				m.Release()
				return Message{}, fmt.Errorf("window: retractions in the input are not supported")
			}
			w.batches = append(w.batches, m.Batch.Rec)
		case MsgEnd:
			w.done = true
			if err := w.compute(ctx); err != nil {
				return Message{}, fmt.Errorf("window: %w", err)
			}
		default:
			return m, nil
		}
	}
	if w.rec == nil || w.pos >= len(w.idx) {
		return EndMsg, nil
	}
	end := min(len(w.idx), w.pos+outputChunk)
	in, err := takeRecord(w.mem, w.rec, w.idx[w.pos:end])
	if err != nil {
		return Message{}, fmt.Errorf("window: %w", err)
	}
	cols := make([]arrow.Array, 0, w.schema.NumFields())
	for i := 0; i < int(in.NumCols()); i++ {
		c := in.Column(i)
		c.Retain()
		cols = append(cols, c)
	}
	in.Release()
	for _, r := range w.results {
		cols = append(cols, array.NewSlice(r, int64(w.pos), int64(end)))
	}
	out := array.NewRecordBatch(w.schema, cols, int64(end-w.pos))
	releaseArrays(cols)
	w.pos = end
	return BatchMsg(out, nil), nil
}

// compute sorts the buffered input and evaluates every function.
func (w *Window) compute(ctx context.Context) error {
	rec, err := concatBatches(w.mem, w.child.Schema(), w.batches)
	for _, b := range w.batches {
		b.Release()
	}
	w.batches = nil
	if err != nil {
		return err
	}
	w.rec = rec
	n := int(rec.NumRows())
	partCols, err := evalAll(ctx, w.partEvs, rec)
	if err != nil {
		return err
	}
	defer releaseArrays(partCols)
	orderCols, err := evalAll(ctx, w.orderEvs, rec)
	if err != nil {
		return err
	}
	defer releaseArrays(orderCols)
	keys := make([]SortKey, 0, len(w.parts)+len(w.order))
	for _, p := range w.parts {
		keys = append(keys, SortKey{Expr: p, NullsFirst: true})
	}
	keys = append(keys, w.order...)
	cols := append(append([]arrow.Array(nil), partCols...), orderCols...)
	if len(keys) == 0 {
		w.idx = make([]int32, n)
		for i := range w.idx {
			w.idx[i] = int32(i)
		}
	} else if w.idx, _, err = sortIndices(keys, cols, n); err != nil {
		return err
	}
	// Partition and peer-group boundaries over sorted positions.
	partStart := make([]int32, n) // first position of the row's partition
	partEnd := make([]int32, n)   // one past its last position
	peerStart := make([]int32, n)
	peerEnd := make([]int32, n)
	samePart, err := sameFunc(keys[:len(w.parts)], partCols)
	if err != nil {
		return err
	}
	samePeer, err := sameFunc(w.order, orderCols)
	if err != nil {
		return err
	}
	for p := 0; p < n; p++ {
		if p > 0 && samePart(w.idx[p-1], w.idx[p]) {
			partStart[p] = partStart[p-1]
			if samePeer(w.idx[p-1], w.idx[p]) {
				peerStart[p] = peerStart[p-1]
			} else {
				peerStart[p] = int32(p)
			}
		} else {
			partStart[p], peerStart[p] = int32(p), int32(p)
		}
	}
	for p := n - 1; p >= 0; p-- {
		if p < n-1 && partStart[p+1] == partStart[p] {
			partEnd[p] = partEnd[p+1]
			if peerStart[p+1] == peerStart[p] {
				peerEnd[p] = peerEnd[p+1]
			} else {
				peerEnd[p] = int32(p + 1)
			}
		} else {
			partEnd[p], peerEnd[p] = int32(p+1), int32(p+1)
		}
	}
	b := &wfBounds{partStart: partStart, partEnd: partEnd, peerStart: peerStart, peerEnd: peerEnd, ordered: len(w.order) > 0}
	for i, f := range w.funcs {
		args, err := evalAll(ctx, w.argEvs[i], rec)
		if err != nil {
			return err
		}
		res, err := w.evalFunc(f, w.lagOff[i], args, b, w.schema.Field(rec.Schema().NumFields()+i).Type)
		releaseArrays(args)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Func, err)
		}
		w.results = append(w.results, res)
	}
	return nil
}

// sameFunc reports whether two rows are equal on all keys (NULLs equal).
func sameFunc(keys []SortKey, cols []arrow.Array) (func(a, b int32) bool, error) {
	if len(keys) == 0 {
		return func(int32, int32) bool { return true }, nil
	}
	c, err := keyComparator(keys, cols)
	if err != nil {
		return nil, err
	}
	return func(a, b int32) bool { return c(a, b) == 0 }, nil
}

// wfBounds holds, per sorted position, its partition and peer group.
type wfBounds struct {
	partStart, partEnd, peerStart, peerEnd []int32
	ordered                                bool
}

// frame returns the frame of position p as [lo, hi).
func (b *wfBounds) frame(f Frame, p int) (int, int) {
	ps, pe := int(b.partStart[p]), int(b.partEnd[p])
	if f.Unit == FrameDefault {
		if !b.ordered {
			return ps, pe
		}
		return ps, int(b.peerEnd[p])
	}
	lo, hi := ps, pe
	switch f.Start.Kind {
	case Preceding:
		lo = p - int(f.Start.Offset)
	case CurrentRow:
		lo = p
		if f.Unit == FrameRange {
			lo = int(b.peerStart[p])
		}
	case Following:
		lo = p + int(f.Start.Offset)
	}
	switch f.End.Kind {
	case Preceding:
		hi = p - int(f.End.Offset) + 1
	case CurrentRow:
		hi = p + 1
		if f.Unit == FrameRange {
			hi = int(b.peerEnd[p])
		}
	case Following:
		hi = p + int(f.End.Offset) + 1
	}
	lo, hi = max(lo, ps), min(hi, pe)
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// evalFunc computes one function for every sorted position.
func (w *Window) evalFunc(f WindowCall, off int64, args []arrow.Array, b *wfBounds, t arrow.DataType) (arrow.Array, error) {
	n := len(w.idx)
	switch f.Func {
	case "row_number", "rank", "dense_rank":
		out := make([]int64, n)
		dense := int64(0)
		for p := 0; p < n; p++ {
			switch f.Func {
			case "row_number":
				out[p] = int64(p-int(b.partStart[p])) + 1
			case "rank":
				out[p] = int64(b.peerStart[p]-b.partStart[p]) + 1
			case "dense_rank":
				if p == int(b.partStart[p]) {
					dense = 1
				} else if b.peerStart[p] == int32(p) {
					dense++
				}
				out[p] = dense
			}
		}
		return int64Array(w.mem, out, nil), nil
	case "lag", "lead":
		return w.lagLead(f.Func == "lead", off, args, b, t)
	case "min", "max":
		return w.minMax(f, args[0], b)
	}
	return w.sumCount(f, args, b, t)
}

func int64Array(mem memory.Allocator, vals []int64, valid []bool) arrow.Array {
	bld := array.NewInt64Builder(mem)
	defer bld.Release()
	bld.AppendValues(vals, valid)
	return bld.NewArray()
}

func (w *Window) lagLead(lead bool, off int64, args []arrow.Array, b *wfBounds, t arrow.DataType) (arrow.Array, error) {
	n := len(w.idx)
	store, err := newColStore(t)
	if err != nil {
		return nil, err
	}
	for p := 0; p < n; p++ {
		src := p - int(off)
		if lead {
			src = p + int(off)
		}
		switch {
		case src >= int(b.partStart[p]) && src < int(b.partEnd[p]):
			store.appendFrom(args[0], int(w.idx[src]))
		case len(args) == 3 && args[2].DataType().ID() != arrow.NULL:
			store.appendFrom(args[2], int(w.idx[p]))
		default:
			store.appendNull()
		}
	}
	return store.build(w.mem, nil), nil
}

// minMax finds, per position, the row holding the frame's extreme and
// gathers the values.
func (w *Window) minMax(f WindowCall, arg arrow.Array, b *wfBounds) (arrow.Array, error) {
	if arg.DataType().ID() == arrow.NULL {
		return array.MakeArrayOfNull(w.mem, arg.DataType(), len(w.idx)), nil
	}
	c, err := columnComparator(arg, f.Func == "max", false)
	if err != nil {
		return nil, err
	}
	n := len(w.idx)
	sel := make([]int32, n)
	better := func(r, cur int32) bool { return cur < 0 || c(r, cur) < 0 }
	nulls := arg.NullN() > 0
	best := int32(-1)
	runLo, runHi := -1, -1 // running frame [runLo, runHi) for best
	for p := 0; p < n; p++ {
		lo, hi := b.frame(f.Frame, p)
		if lo != runLo || hi < runHi {
			best, runLo, runHi = -1, lo, lo
		}
		for ; runHi < hi; runHi++ {
			r := w.idx[runHi]
			if nulls && arg.IsNull(int(r)) {
				continue
			}
			if better(r, best) {
				best = r
			}
		}
		sel[p] = best
	}
	return takeArray(w.mem, arg, sel)
}

// sumCount computes COUNT/SUM/AVG over frames with prefix sums.
func (w *Window) sumCount(f WindowCall, args []arrow.Array, b *wfBounds, t arrow.DataType) (arrow.Array, error) {
	n := len(w.idx)
	cnt := make([]int64, n+1)
	var arg arrow.Array
	if f.Func != "count_star" {
		arg = args[0]
	}
	for p := 0; p < n; p++ {
		c := int64(1)
		if arg != nil {
			for _, a := range args {
				if a.IsNull(int(w.idx[p])) {
					c = 0
				}
			}
		}
		cnt[p+1] = cnt[p] + c
	}
	frameCount := func(p int) (int, int, int64) {
		lo, hi := b.frame(f.Frame, p)
		return lo, hi, cnt[hi] - cnt[lo]
	}
	if f.Func == "count" || f.Func == "count_star" {
		out := make([]int64, n)
		for p := range out {
			_, _, out[p] = frameCount(p)
		}
		return int64Array(w.mem, out, nil), nil
	}
	if arg.DataType().ID() == arrow.NULL {
		return array.MakeArrayOfNull(w.mem, t, n), nil
	}
	avg := f.Func == "avg"
	switch kindOf(arg.DataType()) {
	case kInt, kUint:
		var vals []int64
		if kindOf(arg.DataType()) == kUint {
			for _, u := range uint64sOf(arg, nil) {
				vals = append(vals, int64(u))
			}
		} else {
			vals = int64sOf(arg, nil)
		}
		pre := make([]int64, n+1)
		for p := 0; p < n; p++ {
			v := int64(0)
			if arg.IsValid(int(w.idx[p])) {
				v = vals[w.idx[p]]
			}
			s := pre[p] + v
			if (pre[p]^s)&(v^s) < 0 {
				return nil, errSumOverflow
			}
			pre[p+1] = s
		}
		if avg {
			out, valid := make([]float64, n), make([]bool, n)
			for p := range out {
				lo, hi, c := frameCount(p)
				if c > 0 {
					out[p], valid[p] = float64(pre[hi]-pre[lo])/float64(c), true
				}
			}
			bld := array.NewFloat64Builder(w.mem)
			defer bld.Release()
			bld.AppendValues(out, valid)
			return bld.NewArray(), nil
		}
		out, valid := make([]int64, n), make([]bool, n)
		for p := range out {
			lo, hi, c := frameCount(p)
			out[p], valid[p] = pre[hi]-pre[lo], c > 0
		}
		return int64Array(w.mem, out, valid), nil
	case kFloat:
		vals := float64sOf(arg, nil)
		pre := make([]float64, n+1)
		for p := 0; p < n; p++ {
			v := 0.0
			if arg.IsValid(int(w.idx[p])) {
				v = vals[w.idx[p]]
			}
			pre[p+1] = pre[p] + v
		}
		out, valid := make([]float64, n), make([]bool, n)
		for p := range out {
			lo, hi, c := frameCount(p)
			if c > 0 {
				out[p], valid[p] = pre[hi]-pre[lo], true
				if avg {
					out[p] /= float64(c)
				}
			}
		}
		bld := array.NewFloat64Builder(w.mem)
		defer bld.Release()
		bld.AppendValues(out, valid)
		return bld.NewArray(), nil
	case kDecimal:
		vals := decimalsOf(arg)
		pre := make([]decimal128.Num, n+1)
		for p := 0; p < n; p++ {
			v := decimal128.Num{}
			if arg.IsValid(int(w.idx[p])) {
				v = vals[w.idx[p]]
			}
			pre[p+1] = pre[p].Add(v)
		}
		dt := t.(*arrow.Decimal128Type)
		inScale := arg.DataType().(*arrow.Decimal128Type).Scale
		bld := array.NewDecimal128Builder(w.mem, dt)
		defer bld.Release()
		for p := 0; p < n; p++ {
			lo, hi, c := frameCount(p)
			switch {
			case c == 0:
				bld.AppendNull()
			case avg:
				bld.Append(divRound(pre[hi].Sub(pre[lo]).IncreaseScaleBy(dt.Scale-inScale), c))
			default:
				bld.Append(pre[hi].Sub(pre[lo]))
			}
		}
		return bld.NewArray(), nil
	}
	return nil, fmt.Errorf("cannot take argument of type %s", arg.DataType())
}

// Close implements Operator.
func (w *Window) Close() error {
	for _, b := range w.batches {
		b.Release()
	}
	w.batches = nil
	if w.rec != nil {
		w.rec.Release()
		w.rec = nil
	}
	releaseArrays(w.results)
	w.results = nil
	return w.child.Close()
}

// Children implements Operator.
func (w *Window) Children() []Operator { return []Operator{w.child} }

// String implements Operator.
func (w *Window) String() string {
	var parts []string
	for _, p := range w.parts {
		parts = append(parts, p.String())
	}
	fs := make([]string, len(w.funcs))
	for i, f := range w.funcs {
		args := make([]string, len(f.Args))
		for j, a := range f.Args {
			args[j] = a.String()
		}
		fs[i] = f.Func + "(" + strings.Join(args, ", ") + ")"
		if s := f.Frame.String(); s != "" {
			fs[i] += " " + s
		}
	}
	return fmt.Sprintf("Window(partition=[%s], order=[%s], funcs=[%s])", strings.Join(parts, ", "), sortKeysString(w.order), strings.Join(fs, ", "))
}
