package exec

import (
	"container/heap"
	"context"
	"encoding/gob"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

// IntervalJoin is an event-time inner join whose condition bounds the time
// distance of the rows: left.key = right.key AND right.ts BETWEEN
// left.ts + lower AND left.ts + upper (plus an optional residual). Both
// inputs are buffered by key; a buffered row is dropped once the watermark
// (the minimum of both inputs' watermarks) shows that no row can arrive on
// the other side to match it, so state follows the interval, not the
// stream. Output (left columns, then right columns) is append-only. The
// output watermark is the input watermark minus the largest distance the
// interval allows (max(0, upper, -lower)), since a match found later can
// carry a time that far behind it. Checkpoint barriers are aligned: after
// a barrier on one input that input is not read until the barrier comes on
// the other, then it is passed on once. Inputs must be append-only; NULL
// keys and times never match.
type IntervalJoin struct {
	sides        [2]*ijSide
	lower, upper int64
	residual     expr.Expr
	resEv        expr.Evaluator
	mem          memory.Allocator
	schema       *arrow.Schema

	pf      [2]*Prefetcher
	openCtx context.Context // Open's, until the first Next starts pf
	outWm   int64
	pending []Message
	done    bool
}

// ijSide is one input and its buffered rows.
type ijSide struct {
	op      Operator
	keys    []expr.Expr
	keyEvs  []expr.Evaluator
	time    expr.Expr
	timeEv  expr.Evaluator
	table   *rowTable
	buckets map[string]*ijBucket
	expiry  bucketHeap
	wm      int64
	ended   bool
	off     int64 // a row at ts expires once the watermark passes ts+off
	// atBarrier: the side delivered barrier and is not read until the
	// other side delivers it too.
	atBarrier bool
	barrier   uint64

	enc     [][]byte
	i64     []int64
	u64     []uint64
	f64     []float64
	strs    []string
	tsBuf   []int64
	slots   []int32
	keep    []int32
	keepExp []int64
}

// ijBucket holds the buffered rows of one key; exp[i] is the expiry time of
// row slots[i] (it goes once the watermark is past it).
type ijBucket struct {
	key    string
	slots  []int32
	ts     []int64
	minExp int64
	dead   bool
}

// NewIntervalJoin joins left and right on leftKeys = rightKeys (pairwise)
// and right.rightTime BETWEEN left.leftTime + lower AND left.leftTime +
// upper. residual (nil for none) is evaluated on the joined row.
func NewIntervalJoin(left, right Operator, leftKeys, rightKeys []expr.Expr, leftTime, rightTime expr.Expr, lower, upper time.Duration, residual expr.Expr, mem memory.Allocator) (*IntervalJoin, error) {
	if len(leftKeys) != len(rightKeys) || len(leftKeys) == 0 {
		return nil, fmt.Errorf("interval join: need matching, non-empty key lists (got %d and %d)", len(leftKeys), len(rightKeys))
	}
	if lower > upper {
		return nil, fmt.Errorf("interval join: lower bound %s above upper bound %s", lower, upper)
	}
	j := &IntervalJoin{lower: lower.Microseconds(), upper: upper.Microseconds(), residual: residual, mem: mem, outWm: math.MinInt64}
	var fields []arrow.Field
	for i, in := range []struct {
		op   Operator
		keys []expr.Expr
		time expr.Expr
	}{{left, leftKeys, leftTime}, {right, rightKeys, rightTime}} {
		s := &ijSide{op: in.op, keys: in.keys, time: in.time, buckets: map[string]*ijBucket{}, wm: math.MinInt64}
		if err := checkTimeType(in.time.Type()); err != nil {
			return nil, fmt.Errorf("interval join: %w", err)
		}
		var err error
		if s.keyEvs, err = compileAll(in.keys, mem); err != nil {
			return nil, fmt.Errorf("interval join: %w", err)
		}
		if s.timeEv, err = compileExpr(in.time, mem); err != nil {
			return nil, fmt.Errorf("interval join: %w", err)
		}
		sch := in.op.Schema()
		types := make([]arrow.DataType, sch.NumFields())
		for c, f := range sch.Fields() {
			types[c] = f.Type
			f.Nullable = true
			fields = append(fields, f)
		}
		if s.table, err = newRowTable(types); err != nil {
			return nil, fmt.Errorf("interval join: %w", err)
		}
		for _, k := range in.keys {
			if kindOf(k.Type()) == kInvalid {
				return nil, fmt.Errorf("interval join: cannot join on %s of type %s", k, k.Type())
			}
		}
		j.sides[i] = s
	}
	j.sides[0].off, j.sides[1].off = j.upper, -j.lower
	for i := range leftKeys {
		if kindOf(leftKeys[i].Type()) != kindOf(rightKeys[i].Type()) {
			return nil, fmt.Errorf("interval join: key %s (%s) and %s (%s) are not comparable; cast one", leftKeys[i], leftKeys[i].Type(), rightKeys[i], rightKeys[i].Type())
		}
	}
	j.schema = arrow.NewSchema(fields, nil)
	if residual != nil {
		var err error
		if j.resEv, err = compileExpr(residual, mem); err != nil {
			return nil, fmt.Errorf("interval join: %w", err)
		}
	}
	return j, nil
}

// Schema implements Operator.
func (j *IntervalJoin) Schema() *arrow.Schema { return j.schema }

// Open implements Operator: it opens both inputs and starts pulling them.
func (j *IntervalJoin) Open(ctx context.Context) error {
	for _, s := range j.sides {
		if err := s.op.Open(ctx); err != nil {
			return err
		}
	}
	// The inputs are pulled from the first Next on, not now (see Union.Open).
	j.openCtx = ctx
	return nil
}

// Next implements Operator.
func (j *IntervalJoin) Next(ctx context.Context) (Message, error) {
	if j.openCtx != nil {
		for i, s := range j.sides {
			j.pf[i] = Prefetch(j.openCtx, s.op)
		}
		j.openCtx = nil
	}
	for {
		if len(j.pending) > 0 {
			m := j.pending[0]
			j.pending[0] = Message{}
			j.pending = j.pending[1:]
			return m, nil
		}
		if j.done {
			return EndMsg, nil
		}
		var cases []selectCase
		for i, s := range j.sides {
			if !s.ended && !s.atBarrier {
				cases = append(cases, selectCase{idx: i, ch: j.pf[i].C()})
			}
		}
		i, f, err := selectFetched(ctx, cases)
		if err != nil {
			return Message{}, err
		}
		if f.Err != nil {
			return Message{}, f.Err
		}
		m := f.Msg
		s := j.sides[i]
		switch m.Kind {
		case MsgBatch:
			out, err := j.consume(ctx, i, m.Batch)
			m.Release()
			if err != nil {
				return Message{}, fmt.Errorf("interval join: %w", err)
			}
			if out != nil {
				return BatchMsg(out, nil), nil
			}
		case MsgWatermark:
			if m.Watermark > s.wm {
				s.wm = m.Watermark
				j.advance()
			}
		case MsgEnd:
			s.ended = true
			s.wm = math.MaxInt64
			j.advance()
			if j.sides[0].ended && j.sides[1].ended {
				j.done = true
			}
			if o := j.sides[1-i]; o.atBarrier {
				// The other side waits at a barrier this side will never
				// bring: the barrier is complete.
				o.atBarrier = false
				j.pending = append(j.pending, Message{Kind: MsgBarrier, Barrier: o.barrier})
			}
		case MsgBarrier:
			// Align: stop reading this side until the other side brings
			// the same barrier (or has ended), then pass it on once.
			s.atBarrier, s.barrier = true, m.Barrier
			o := j.sides[1-i]
			if o.ended || (o.atBarrier && o.barrier == m.Barrier) {
				j.sides[0].atBarrier, j.sides[1].atBarrier = false, false
				return m, nil
			}
			if o.atBarrier {
				return Message{}, fmt.Errorf("interval join: barriers %d and %d crossed", o.barrier, m.Barrier)
			}
		}
	}
}

// watermark is the combined input watermark.
func (j *IntervalJoin) watermark() int64 { return min(j.sides[0].wm, j.sides[1].wm) }

// advance expires the rows no future row can match and queues the output
// watermark when it moves.
func (j *IntervalJoin) advance() {
	w := j.watermark()
	if w == math.MinInt64 {
		return
	}
	for _, s := range j.sides {
		s.expire(w)
	}
	if w == math.MaxInt64 {
		return // End follows
	}
	out := satSub(w, max(0, j.upper, -j.lower))
	if out > j.outWm {
		j.outWm = out
		j.pending = append(j.pending, WatermarkMsg(out))
	}
}

// expire drops the buffered rows whose expiry is below w.
func (s *ijSide) expire(w int64) {
	for len(s.expiry) > 0 && s.expiry[0].exp < w {
		it := heap.Pop(&s.expiry).(bucketItem)
		b := it.b
		if b.dead || it.exp != b.minExp {
			continue // stale
		}
		slots, ts := b.slots[:0], b.ts[:0]
		minExp := int64(math.MaxInt64)
		for k, slot := range b.slots {
			e := s.expOf(b.ts[k])
			if e < w {
				s.table.remove(slot)
				continue
			}
			slots, ts = append(slots, slot), append(ts, b.ts[k])
			minExp = min(minExp, e)
		}
		b.slots, b.ts, b.minExp = slots, ts, minExp
		if len(slots) == 0 {
			b.dead = true
			delete(s.buckets, b.key)
			continue
		}
		heap.Push(&s.expiry, bucketItem{exp: minExp, b: b})
	}
}

// expOf is the expiry time of a row of this side at ts: set by the join
// (left rows live until ts+upper, right rows until ts-lower).
func (s *ijSide) expOf(ts int64) int64 { return ts + s.off }

// consume probes the other side with a batch of side i, buffers the batch's
// rows and returns the joined rows (nil when none).
func (j *IntervalJoin) consume(ctx context.Context, i int, b Batch) (arrow.RecordBatch, error) {
	if !b.AppendOnly() {
		return nil, fmt.Errorf("input must be append-only (got a retraction)")
	}
	s, o := j.sides[i], j.sides[1-i]
	rec := b.Rec
	n := int(rec.NumRows())
	keys, err := evalAll(ctx, s.keyEvs, rec)
	if err != nil {
		return nil, err
	}
	defer releaseArrays(keys)
	tsArr, err := s.timeEv.Eval(ctx, rec)
	if err != nil {
		return nil, err
	}
	defer tsArr.Release()
	ts, err := eventTimes(tsArr, &s.tsBuf)
	if err != nil {
		return nil, err
	}
	s.enc = encodeRows(keys, n, s.enc, &s.i64, &s.u64, &s.f64, &s.strs)
	// Matching window of an incoming row at t on the other side's times:
	// left row l matches right r in [l+lower, l+upper]; right row r matches
	// left l in [r-upper, r-lower].
	lo, hi := j.lower, j.upper
	if i == 1 {
		lo, hi = -j.upper, -j.lower
	}
	w := j.watermark()
	var selIn []int32
	var selOther []int32
	s.keep, s.keepExp = s.keep[:0], s.keepExp[:0]
	nullable := tsArr.NullN() > 0 || anyNulls(keys)
	for r := 0; r < n; r++ {
		if nullable && (tsArr.IsNull(r) || rowHasNull(keys, r)) {
			continue
		}
		t := ts[r]
		if bk := o.buckets[string(s.enc[r])]; bk != nil {
			from, to := t+lo, t+hi
			for k, ot := range bk.ts {
				if ot >= from && ot <= to {
					selIn = append(selIn, int32(r))
					selOther = append(selOther, bk.slots[k])
				}
			}
		}
		if s.expOf(t) >= w {
			s.keep = append(s.keep, int32(r))
		}
	}
	if len(s.keep) > 0 {
		cols := make([]arrow.Array, rec.NumCols())
		for c := range cols {
			cols[c] = rec.Column(c)
		}
		s.slots = s.table.addRows(cols, s.keep, s.slots[:0])
		for k, r := range s.keep {
			s.buffer(s.enc[r], ts[r], s.slots[k])
		}
	}
	if len(selIn) == 0 {
		return nil, nil
	}
	inCols, err := takeArrays(j.mem, recColumns(rec), selIn)
	if err != nil {
		return nil, err
	}
	otherCols := o.table.build(j.mem, selOther)
	var cols []arrow.Array
	if i == 0 {
		cols = append(inCols, otherCols...)
	} else {
		cols = append(otherCols, inCols...)
	}
	out := array.NewRecordBatch(j.schema, cols, int64(len(selIn)))
	releaseArrays(cols)
	if j.resEv == nil {
		return out, nil
	}
	return j.applyResidual(ctx, out)
}

// buffer adds a row to its key's bucket.
func (s *ijSide) buffer(key []byte, ts int64, slot int32) {
	b := s.buckets[string(key)] // no allocation for the lookup
	if b == nil {
		b = &ijBucket{key: string(key), minExp: math.MaxInt64}
		s.buckets[b.key] = b
	}
	b.slots = append(b.slots, slot)
	b.ts = append(b.ts, ts)
	if e := s.expOf(ts); e < b.minExp {
		b.minExp = e
		heap.Push(&s.expiry, bucketItem{exp: e, b: b})
	}
}

func recColumns(rec arrow.RecordBatch) []arrow.Array {
	cols := make([]arrow.Array, rec.NumCols())
	for c := range cols {
		cols[c] = rec.Column(c)
	}
	return cols
}

func anyNulls(as []arrow.Array) bool {
	for _, a := range as {
		if a.NullN() > 0 {
			return true
		}
	}
	return false
}

func rowHasNull(as []arrow.Array, r int) bool {
	for _, a := range as {
		if a.IsNull(r) {
			return true
		}
	}
	return false
}

// applyResidual keeps the joined rows for which the residual is TRUE.
func (j *IntervalJoin) applyResidual(ctx context.Context, rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	defer rec.Release()
	res, err := j.resEv.Eval(ctx, rec)
	if err != nil {
		return nil, err
	}
	defer res.Release()
	mask, ok := res.(*array.Boolean)
	if !ok {
		return nil, nil // NULL-typed residual: nothing is TRUE
	}
	var sel []int32
	for r := 0; r < mask.Len(); r++ {
		if mask.IsValid(r) && mask.Value(r) {
			sel = append(sel, int32(r))
		}
	}
	if len(sel) == 0 {
		return nil, nil
	}
	if len(sel) == mask.Len() {
		rec.Retain()
		return rec, nil
	}
	return takeRecord(j.mem, rec, sel)
}

// State returns the buffered rows of both sides.
func (j *IntervalJoin) State() State { return ijState{j} }

type ijState struct{ j *IntervalJoin }

func (s ijState) Entries() int { return s.j.sides[0].table.live + s.j.sides[1].table.live }
func (s ijState) SizeBytes() int64 {
	var n int64
	for _, sd := range s.j.sides {
		n += sd.table.sizeBytes() + int64(len(sd.buckets))*64 + int64(len(sd.expiry))*16 + int64(sd.table.live)*12
	}
	return n
}

// ijSnapshot is the gob form of the join's state.
type ijSnapshot struct {
	Sides [2]ijSideSnapshot
	OutWm int64
}

type ijSideSnapshot struct {
	Table tableSnapshot
	Keys  []string
	Slots [][]int32
	TS    [][]int64
	Wm    int64
}

// Snapshot writes both sides' buffered rows and watermarks.
func (s ijState) Snapshot(w io.Writer) error {
	snap := ijSnapshot{OutWm: s.j.outWm}
	for i, sd := range s.j.sides {
		ss := ijSideSnapshot{Table: sd.table.snapshot(), Wm: sd.wm}
		for k, b := range sd.buckets {
			ss.Keys, ss.Slots, ss.TS = append(ss.Keys, k), append(ss.Slots, b.slots), append(ss.TS, b.ts)
		}
		snap.Sides[i] = ss
	}
	if err := gob.NewEncoder(w).Encode(snap); err != nil {
		return fmt.Errorf("snapshot interval join: %w", err)
	}
	return nil
}

// Restore replaces the join's state with a snapshot's; call it after
// NewIntervalJoin and before Open.
func (s ijState) Restore(r io.Reader) error {
	var snap ijSnapshot
	if err := gob.NewDecoder(r).Decode(&snap); err != nil {
		return fmt.Errorf("restore interval join: %w", err)
	}
	s.j.outWm = snap.OutWm
	for i, sd := range s.j.sides {
		ss := snap.Sides[i]
		if err := sd.table.restore(ss.Table); err != nil {
			return fmt.Errorf("restore interval join: %w", err)
		}
		sd.wm = ss.Wm
		sd.buckets = make(map[string]*ijBucket, len(ss.Keys))
		sd.expiry = sd.expiry[:0]
		for k, key := range ss.Keys {
			if len(ss.Slots[k]) != len(ss.TS[k]) {
				return fmt.Errorf("restore interval join: bucket with %d rows and %d times", len(ss.Slots[k]), len(ss.TS[k]))
			}
			b := &ijBucket{key: key, slots: ss.Slots[k], ts: ss.TS[k], minExp: math.MaxInt64}
			for _, t := range b.ts {
				b.minExp = min(b.minExp, sd.expOf(t))
			}
			sd.buckets[key] = b
			heap.Push(&sd.expiry, bucketItem{exp: b.minExp, b: b})
		}
	}
	return nil
}

// Close implements Operator.
func (j *IntervalJoin) Close() error {
	for i := range j.pf {
		j.pf[i].Stop()
		j.pf[i] = nil
	}
	for _, m := range j.pending {
		m.Release()
	}
	j.pending = nil
	var first error
	for _, s := range j.sides {
		s.buckets = map[string]*ijBucket{}
		s.expiry = nil
		if err := s.op.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Children implements Operator.
func (j *IntervalJoin) Children() []Operator { return []Operator{j.sides[0].op, j.sides[1].op} }

// String implements Operator.
func (j *IntervalJoin) String() string {
	conds := make([]string, len(j.sides[0].keys))
	for i := range conds {
		conds[i] = j.sides[0].keys[i].String() + " = " + j.sides[1].keys[i].String()
	}
	s := fmt.Sprintf("IntervalJoin(%s, %s BETWEEN %s + %s AND %s + %s", strings.Join(conds, " AND "), j.sides[1].time,
		j.sides[0].time, time.Duration(j.lower)*time.Microsecond, j.sides[0].time, time.Duration(j.upper)*time.Microsecond)
	if j.residual != nil {
		s += ", residual=" + j.residual.String()
	}
	return s + ")"
}

type bucketItem struct {
	exp int64
	b   *ijBucket
}

type bucketHeap []bucketItem

func (h bucketHeap) Len() int           { return len(h) }
func (h bucketHeap) Less(i, k int) bool { return h[i].exp < h[k].exp }
func (h bucketHeap) Swap(i, k int)      { h[i], h[k] = h[k], h[i] }
func (h *bucketHeap) Push(x any)        { *h = append(*h, x.(bucketItem)) }
func (h *bucketHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
