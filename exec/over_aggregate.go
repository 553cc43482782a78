package exec

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

// OverAggregate is the streaming form of aggregate window functions ordered
// by event time, as Flink's OVER aggregations: COUNT, SUM, AVG, MIN, MAX
// OVER (PARTITION BY ... ORDER BY time ROWS n PRECEDING | RANGE d PRECEDING
// | UNBOUNDED PRECEDING, up to CURRENT ROW). Rows are buffered until the
// watermark (less the allowed lateness) passes their time, then emitted
// append-only in event-time order (ties by arrival), each with its
// aggregates over its frame: what Window computes for the same rows. RANGE
// frames include the current row's peers (same time), which have all
// arrived once the watermark is past that time. Rows arriving behind what
// has been emitted are late: dropped and counted (LateRows). Per partition
// the state is the frame's rows (ROWS: the last n; RANGE: those within d of
// the newest; UNBOUNDED: one running aggregate), kept in two-stack sliding
// aggregates so that any frame costs O(1) a row; a partition whose RANGE
// frames are all past the watermark is dropped.
type OverAggregate struct {
	child    Operator
	parts    []expr.Expr
	timeExpr expr.Expr
	funcs    []WindowCall
	lateness int64
	mem      memory.Allocator
	schema   *arrow.Schema
	partEvs  []expr.Evaluator
	timeEv   expr.Evaluator
	argEvs   []expr.Evaluator // per call; nil for count_star and NULL-typed arguments
	kinds    []vkind          // per call, the argument's value kind
	outTypes []arrow.DataType
	inTypes  []arrow.DataType
	nIn      int
	argCol   []int // per call: its argument's column in rows, -1 none
	maxRange int64 // RANGE offset kept by every call, -1 when a partition never expires

	rows    *rowTable // buffered input rows, then one column per argument
	byKey   map[string]*overPart
	pending overHeap
	expiry  overExpiry
	seq     uint64
	fired   int64 // rows before this time have been emitted
	late    atomic.Int64

	keys    [][]byte
	i64     []int64
	u64     []uint64
	f64     []float64
	strs    []string
	tsBuf   []int64
	sel     []int32
	out     []Message
	done    bool
	scratch []overPending
}

// overPart is one partition: its sliding aggregates, one per call.
type overPart struct {
	key     string
	wins    []*swag
	lastTs  int64
	pending int     // buffered rows not yet emitted
	batch   []int32 // positions of this flush's rows (scratch)
}

// overPending is a buffered row.
type overPending struct {
	ts   int64
	seq  uint64
	slot int32
	part *overPart
}

// NewOverAggregate evaluates funcs (count_star, count, sum, avg, min, max,
// each with a frame ending at CURRENT ROW) over child partitioned by
// partitionBy and ordered by timeExpr (a TIMESTAMP or BIGINT µs), emitting
// rows once the watermark less lateness passes their time. Output: the
// input columns then one per call.
func NewOverAggregate(child Operator, partitionBy []expr.Expr, timeExpr expr.Expr, funcs []WindowCall, lateness int64, mem memory.Allocator) (*OverAggregate, error) {
	o := &OverAggregate{child: child, parts: partitionBy, timeExpr: timeExpr, funcs: funcs, lateness: lateness, mem: mem,
		byKey: map[string]*overPart{}, fired: math.MinInt64}
	if err := checkTimeType(timeExpr.Type()); err != nil {
		return nil, fmt.Errorf("over aggregate: %w", err)
	}
	if lateness < 0 {
		return nil, fmt.Errorf("over aggregate: negative lateness")
	}
	var err error
	if o.partEvs, err = compileAll(partitionBy, mem); err != nil {
		return nil, fmt.Errorf("over aggregate: %w", err)
	}
	for _, p := range partitionBy {
		if kindOf(p.Type()) == kInvalid {
			return nil, fmt.Errorf("over aggregate: cannot partition by %s of type %s", p, p.Type())
		}
	}
	if o.timeEv, err = compileExpr(timeExpr, mem); err != nil {
		return nil, fmt.Errorf("over aggregate: %w", err)
	}
	o.inTypes = schemaTypes(child.Schema())
	o.nIn = len(o.inTypes)
	types := append([]arrow.DataType(nil), o.inTypes...)
	fields := append([]arrow.Field(nil), child.Schema().Fields()...)
	o.maxRange = 0
	for _, f := range funcs {
		if err := CheckOverFrame(f.Func, f.Frame); err != nil {
			return nil, fmt.Errorf("over aggregate: %w", err)
		}
		t, _, err := windowType(f)
		if err != nil {
			return nil, fmt.Errorf("over aggregate: %w", err)
		}
		if f.Func != "count_star" && len(f.Args) != 1 {
			return nil, fmt.Errorf("over aggregate: %s takes one argument", f.Func)
		}
		var ev expr.Evaluator
		col, kind := -1, kInvalid
		if f.Func != "count_star" && f.Args[0].Type().ID() != arrow.NULL {
			if ev, err = compileExpr(f.Args[0], mem); err != nil {
				return nil, fmt.Errorf("over aggregate: %w", err)
			}
			col, kind = len(types), kindOf(f.Args[0].Type())
			types = append(types, f.Args[0].Type())
		}
		o.argEvs = append(o.argEvs, ev)
		o.argCol = append(o.argCol, col)
		o.kinds = append(o.kinds, kind)
		o.outTypes = append(o.outTypes, t)
		fields = append(fields, arrow.Field{Name: f.Name, Type: t, Nullable: true})
		switch {
		case f.Frame.Unit == FrameRange && f.Frame.Start.Kind == Preceding && o.maxRange >= 0:
			o.maxRange = max(o.maxRange, f.Frame.Start.Offset)
		case f.Frame.Unit == FrameRange && f.Frame.Start.Kind == CurrentRow && o.maxRange >= 0:
		default:
			o.maxRange = -1
		}
	}
	if o.rows, err = newRowTable(types); err != nil {
		return nil, fmt.Errorf("over aggregate: %w", err)
	}
	o.schema = arrow.NewSchema(fields, nil)
	return o, nil
}

// CheckOverFrame reports whether a streaming OVER aggregation can compute
// fn over frame f: an aggregate whose frame starts UNBOUNDED PRECEDING, n
// PRECEDING or at CURRENT ROW and ends at CURRENT ROW (the default frame
// is RANGE UNBOUNDED PRECEDING to CURRENT ROW).
func CheckOverFrame(fn string, f Frame) error {
	switch fn {
	case "count_star", "count", "sum", "avg", "min", "max":
	default:
		return fmt.Errorf("%s is not an aggregate (COUNT, SUM, AVG, MIN, MAX)", strings.ToUpper(fn))
	}
	if f.Unit == FrameDefault {
		return nil
	}
	switch f.Start.Kind {
	case UnboundedPreceding, Preceding, CurrentRow:
	default:
		return fmt.Errorf("frame %s starts after the current row", f)
	}
	if f.End.Kind != CurrentRow {
		return fmt.Errorf("frame %s must end at CURRENT ROW", f)
	}
	if f.Start.Kind == Preceding && f.Start.Offset < 0 {
		return fmt.Errorf("frame %s has a negative offset", f)
	}
	return nil
}

// LateRows is the number of rows dropped because rows after them had been
// emitted.
func (o *OverAggregate) LateRows() int64 { return o.late.Load() }

// Warnings reports the late rows the operator dropped.
func (o *OverAggregate) Warnings() []string {
	if n := o.late.Load(); n > 0 {
		return []string{fmt.Sprintf("%d late row(s) ignored by OVER aggregations: rows after their time had been emitted", n)}
	}
	return nil
}

// Schema implements Operator.
func (o *OverAggregate) Schema() *arrow.Schema { return o.schema }

// Open implements Operator.
func (o *OverAggregate) Open(ctx context.Context) error { return o.child.Open(ctx) }

// Next implements Operator.
func (o *OverAggregate) Next(ctx context.Context) (Message, error) {
	for {
		if len(o.out) > 0 {
			m := o.out[0]
			o.out[0] = Message{}
			o.out = o.out[1:]
			return m, nil
		}
		if o.done {
			return EndMsg, nil
		}
		if err := ctx.Err(); err != nil {
			return Message{}, err
		}
		m, err := o.child.Next(ctx)
		if err != nil {
			return Message{}, err
		}
		switch m.Kind {
		case MsgBatch:
			if !m.Batch.AppendOnly() {
				m.Release()
				return Message{}, fmt.Errorf("over aggregate: retractions in the input are not supported")
			}
			err := o.consume(ctx, m.Batch.Rec)
			m.Release()
			if err != nil {
				return Message{}, fmt.Errorf("over aggregate: %w", err)
			}
		case MsgWatermark:
			if err := o.fire(satSub(m.Watermark, o.lateness)); err != nil {
				return Message{}, fmt.Errorf("over aggregate: %w", err)
			}
			o.out = append(o.out, m)
		case MsgEnd:
			if err := o.fire(math.MaxInt64); err != nil {
				return Message{}, fmt.Errorf("over aggregate: %w", err)
			}
			o.done = true
		default:
			return m, nil
		}
	}
}

// consume buffers the rows of rec, dropping late ones.
func (o *OverAggregate) consume(ctx context.Context, rec arrow.RecordBatch) error {
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	tcol, err := o.timeEv.Eval(ctx, rec)
	if err != nil {
		return err
	}
	defer tcol.Release()
	ts, err := eventTimes(tcol, &o.tsBuf)
	if err != nil {
		return err
	}
	o.sel = o.sel[:0]
	nulls := tcol.NullN() > 0
	var late int64
	for i := 0; i < n; i++ {
		if (nulls && tcol.IsNull(i)) || ts[i] < o.fired {
			late++
			continue
		}
		o.sel = append(o.sel, int32(i))
	}
	if late > 0 {
		o.late.Add(late)
	}
	if len(o.sel) == 0 {
		return nil
	}
	partCols, err := evalAll(ctx, o.partEvs, rec)
	if err != nil {
		return err
	}
	defer releaseArrays(partCols)
	cols := make([]arrow.Array, 0, len(o.rows.cols))
	for i := 0; i < o.nIn; i++ {
		cols = append(cols, rec.Column(i))
	}
	var owned []arrow.Array
	defer func() { releaseArrays(owned) }()
	for c, ev := range o.argEvs {
		if o.argCol[c] < 0 {
			continue
		}
		a, err := ev.Eval(ctx, rec)
		if err != nil {
			return err
		}
		owned = append(owned, a)
		cols = append(cols, a)
	}
	var keys [][]byte
	if len(partCols) > 0 {
		o.keys = encodeRows(partCols, n, o.keys, &o.i64, &o.u64, &o.f64, &o.strs)
		keys = o.keys
	}
	slots := o.rows.addRows(cols, o.sel, make([]int32, 0, len(o.sel)))
	for j, i := range o.sel {
		var k []byte
		if keys != nil {
			k = keys[i]
		}
		p := o.byKey[string(k)] // no allocation for the lookup
		if p == nil {
			p = o.newPart(string(k))
			o.byKey[p.key] = p
		}
		p.pending++
		o.seq++
		o.pending.push(overPending{ts: ts[i], seq: o.seq, slot: slots[j], part: p})
	}
	return nil
}

func (o *OverAggregate) newPart(key string) *overPart {
	p := &overPart{key: key, wins: make([]*swag, len(o.funcs)), lastTs: math.MinInt64}
	for c, f := range o.funcs {
		p.wins[c] = &swag{ops: ovOps{fn: f.Func, kind: o.kinds[c]}, unbounded: f.Frame.Unit == FrameDefault || f.Frame.Start.Kind == UnboundedPreceding}
	}
	return p
}

// fire emits, in time order, every buffered row before time f.
func (o *OverAggregate) fire(f int64) error {
	if f <= o.fired {
		return nil
	}
	o.fired = f
	rows := o.scratch[:0]
	for o.pending.len() > 0 && o.pending.min().ts < f {
		rows = append(rows, o.pending.pop())
	}
	o.scratch = rows[:0]
	if len(rows) > 0 {
		if err := o.emit(rows); err != nil {
			return err
		}
	}
	o.expire(f)
	return nil
}

// emit computes the aggregates of rows (sorted by time, then arrival) and
// queues them as batches.
func (o *OverAggregate) emit(rows []overPending) error {
	var touched []*overPart
	for k, r := range rows {
		p := r.part
		if len(p.batch) == 0 {
			touched = append(touched, p)
		}
		p.batch = append(p.batch, int32(k))
	}
	res := make([][]ovPart, len(o.funcs))
	for c := range res {
		res[c] = make([]ovPart, len(rows))
	}
	for _, p := range touched {
		b := p.batch
		for g0 := 0; g0 < len(b); {
			ts := rows[b[g0]].ts
			g1 := g0 + 1
			for g1 < len(b) && rows[b[g1]].ts == ts {
				g1++
			}
			for c, f := range o.funcs {
				w := p.wins[c]
				rowsFrame := f.Frame.Unit == FrameRows
				for _, k := range b[g0:g1] {
					w.push(o.leaf(c, rows[k].slot), ts)
					if rowsFrame {
						if !w.unbounded {
							keep := 1
							if f.Frame.Start.Kind == Preceding {
								keep += int(f.Frame.Start.Offset)
							}
							for w.size() > keep {
								w.pop()
							}
						}
						res[c][k] = w.query()
					}
				}
				if !rowsFrame {
					if !w.unbounded {
						lo := ts
						if f.Frame.Start.Kind == Preceding {
							lo = satSub(ts, f.Frame.Start.Offset)
						}
						for w.size() > 0 && w.oldestTs() < lo {
							w.pop()
						}
					}
					v := w.query()
					for _, k := range b[g0:g1] {
						res[c][k] = v
					}
				}
			}
			g0 = g1
		}
		p.lastTs = rows[b[len(b)-1]].ts
		p.pending -= len(b)
		p.batch = p.batch[:0]
		if o.maxRange >= 0 {
			o.expiry.push(overExpiryItem{at: satAdd(p.lastTs, o.maxRange), key: p.key})
		}
	}
	for lo := 0; lo < len(rows); lo += outputChunk {
		hi := min(len(rows), lo+outputChunk)
		rec, err := o.build(rows[lo:hi], res, lo)
		if err != nil {
			return err
		}
		o.out = append(o.out, BatchMsg(rec, nil))
	}
	for _, r := range rows {
		o.rows.remove(r.slot)
	}
	return nil
}

// build makes the output batch of rows, whose results start at res[.][off].
func (o *OverAggregate) build(rows []overPending, res [][]ovPart, off int) (arrow.RecordBatch, error) {
	slots := make([]int32, len(rows))
	for i, r := range rows {
		slots[i] = r.slot
	}
	cols := make([]arrow.Array, 0, o.schema.NumFields())
	for i := 0; i < o.nIn; i++ {
		cols = append(cols, o.rows.cols[i].build(o.mem, slots))
	}
	for c, f := range o.funcs {
		a, err := ovBuild(o.mem, ovOps{fn: f.Func, kind: o.kinds[c]}, o.outTypes[c], o.argType(c), res[c][off:off+len(rows)])
		if err != nil {
			releaseArrays(cols)
			return nil, fmt.Errorf("%s: %w", f.Func, err)
		}
		cols = append(cols, a)
	}
	rec := array.NewRecordBatch(o.schema, cols, int64(len(rows)))
	releaseArrays(cols)
	return rec, nil
}

func (o *OverAggregate) argType(c int) arrow.DataType {
	if o.argCol[c] < 0 {
		return nil
	}
	return o.rows.cols[o.argCol[c]].dt
}

// leaf is call c's partial aggregate of the row in slot s.
func (o *OverAggregate) leaf(c int, s int32) ovPart {
	if o.funcs[c].Func == "count_star" {
		return ovPart{N: 1}
	}
	col := o.argCol[c]
	if col < 0 {
		return ovPart{}
	}
	tc := o.rows.cols[col]
	if !tc.valid[s] {
		return ovPart{}
	}
	v := ovPart{N: 1, Has: true}
	switch tc.kind {
	case kInt:
		v.I = tc.i64[s]
	case kUint:
		v.I = int64(tc.u64[s])
	case kFloat:
		v.F = tc.f64[s]
	case kString:
		v.S = tc.str[s]
	case kDecimal:
		v.DLo, v.DHi = tc.dec[s].LowBits(), tc.dec[s].HighBits()
	}
	return v
}

// expire drops the partitions whose RANGE frames no future row reaches:
// every later row is at or after f.
func (o *OverAggregate) expire(f int64) {
	for o.expiry.len() > 0 && o.expiry.min().at < f {
		it := o.expiry.pop()
		p := o.byKey[it.key]
		if p != nil && p.pending == 0 && satAdd(p.lastTs, o.maxRange) < f {
			delete(o.byKey, it.key)
		}
	}
}

func satAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// Close implements Operator.
func (o *OverAggregate) Close() error {
	for _, m := range o.out {
		m.Release()
	}
	o.out = nil
	return o.child.Close()
}

// Children implements Operator.
func (o *OverAggregate) Children() []Operator { return []Operator{o.child} }

// String implements Operator.
func (o *OverAggregate) String() string {
	parts := make([]string, len(o.parts))
	for i, p := range o.parts {
		parts[i] = p.String()
	}
	fs := make([]string, len(o.funcs))
	for i, f := range o.funcs {
		args := make([]string, len(f.Args))
		for j, a := range f.Args {
			args[j] = a.String()
		}
		fs[i] = f.Func + "(" + strings.Join(args, ", ") + ")"
		if s := overFrameString(f.Frame); s != "" {
			fs[i] += " " + s
		}
	}
	s := fmt.Sprintf("OverAggregate(partition=[%s], order=[%s], funcs=[%s]", strings.Join(parts, ", "), o.timeExpr, strings.Join(fs, ", "))
	if o.lateness > 0 {
		s += fmt.Sprintf(", lateness=%dus", o.lateness)
	}
	return s + ")"
}

// overFrameString shows RANGE offsets as durations.
func overFrameString(f Frame) string {
	if f.Unit == FrameRange && f.Start.Kind == Preceding {
		return fmt.Sprintf("RANGE BETWEEN %s PRECEDING AND CURRENT ROW", durationString(f.Start.Offset))
	}
	return f.String()
}

func durationString(us int64) string {
	return (time.Duration(us) * time.Microsecond).String()
}

// overHeap is a min-heap of buffered rows by (time, arrival).
type overHeap struct{ h []overPending }

func (h *overHeap) len() int         { return len(h.h) }
func (h *overHeap) min() overPending { return h.h[0] }
func (h *overHeap) less(i, j int) bool {
	a, b := &h.h[i], &h.h[j]
	return a.ts < b.ts || (a.ts == b.ts && a.seq < b.seq)
}

func (h *overHeap) push(p overPending) {
	h.h = append(h.h, p)
	i := len(h.h) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			break
		}
		h.h[i], h.h[parent] = h.h[parent], h.h[i]
		i = parent
	}
}

func (h *overHeap) pop() overPending {
	top := h.h[0]
	last := len(h.h) - 1
	h.h[0] = h.h[last]
	h.h[last] = overPending{}
	h.h = h.h[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && h.less(l, m) {
			m = l
		}
		if r < last && h.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		h.h[i], h.h[m] = h.h[m], h.h[i]
		i = m
	}
	return top
}

// overExpiry is a lazy min-heap of partition expiry times.
type overExpiryItem struct {
	at  int64
	key string
}

type overExpiry struct{ h []overExpiryItem }

func (h *overExpiry) len() int            { return len(h.h) }
func (h *overExpiry) min() overExpiryItem { return h.h[0] }
func (h *overExpiry) push(it overExpiryItem) {
	h.h = append(h.h, it)
	i := len(h.h) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if h.h[i].at >= h.h[parent].at {
			break
		}
		h.h[i], h.h[parent] = h.h[parent], h.h[i]
		i = parent
	}
}

func (h *overExpiry) pop() overExpiryItem {
	top := h.h[0]
	last := len(h.h) - 1
	h.h[0] = h.h[last]
	h.h = h.h[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && h.h[l].at < h.h[m].at {
			m = l
		}
		if r < last && h.h[r].at < h.h[m].at {
			m = r
		}
		if m == i {
			break
		}
		h.h[i], h.h[m] = h.h[m], h.h[i]
		i = m
	}
	return top
}
