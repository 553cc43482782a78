package exec

import (
	"context"
	"encoding/gob"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// WatermarkOptions tune a WatermarkAssigner. The zero value is NOT "no
// partitions": set PartitionCol to -1 for a single, unpartitioned stream.
type WatermarkOptions struct {
	// PartitionCol is the column whose values name the partitions (e.g. a
	// source partition or key) that each keep their own maximum event time;
	// -1 tracks one maximum for the whole stream.
	PartitionCol int
	// IdleTimeout: a partition that had no rows for this long (processing
	// time) stops holding the watermark back until it has rows again.
	// 0 means partitions never go idle.
	IdleTimeout time.Duration
	// Partitions is how many partitions the source has (0: unknown). Until
	// that many have had rows, the missing ones hold the watermark back
	// (for at most IdleTimeout after the first row, when one is set):
	// otherwise a partition whose reader starts late would find the
	// watermark already past its rows and lose them as late.
	Partitions int
	// AllowedLateness: rows whose event time is below the current watermark
	// by more than this are late and dropped; rows less late pass through
	// (a window aggregate with the same lateness updates its result).
	AllowedLateness time.Duration
	// LateSink, if set, receives each batch's late rows (row indices into
	// rec) before they are dropped. rec is only valid during the call.
	LateSink func(rec arrow.RecordBatch, rows []int)
	// KeepLate passes every row through, late or with a NULL event time
	// (neither counted nor given to LateSink): the assigner only makes
	// watermarks. The planner sets it where watermarks serve as the clock
	// of a state time-to-live, below operators that must not lose rows.
	KeepLate bool
	// SplitEvery (with KeepLate): a batch whose rows would move the
	// watermark more than this past the last one emitted is cut there, the
	// watermark emitted between the parts (watermark_split.go). 0: never.
	SplitEvery time.Duration
	// Now is the processing-time clock (time.Now when nil); tests set it.
	Now func() time.Time
	// Mem allocates the filtered batches when late rows are dropped
	// (memory.DefaultAllocator when nil).
	Mem memory.Allocator
}

// WatermarkAssigner derives watermarks from event times: per partition the
// maximum event time seen minus delay, combined as the minimum over the
// partitions that are not idle. After each batch that moves it forward it
// emits a MsgWatermark. Watermarks never go backwards. Watermarks arriving
// from the child are dropped (this operator is where they are made);
// barriers pass through; End passes through and acts as the final
// watermark. Rows with a NULL event time are dropped and counted as late.
type WatermarkAssigner struct {
	// firstRow is when the first partition was seen (processing time),
	// the start of the wait for partitions that have not had rows yet.
	firstRow time.Time
	child    Operator
	timeCol  int
	delay    int64
	opts     WatermarkOptions
	mem      memory.Allocator

	wm      int64 // last emitted watermark; math.MinInt64 before the first
	parts   map[string]*wmPartition
	single  wmPartition
	late    int64
	pending *Message
	rest    Batch // rest of a cut batch, consumed before the next input
	scratch []int64
	keys    [][]byte
	i64     []int64
	u64     []uint64
	f64     []float64
	strs    []string
	done    bool
}

type wmPartition struct {
	max      int64
	seen     bool
	lastSeen time.Time
}

// NewWatermarkAssigner returns an assigner over child's column timeCol
// (TIMESTAMP of any unit, or BIGINT µs since the epoch).
func NewWatermarkAssigner(child Operator, timeCol int, delay time.Duration, opts WatermarkOptions) (*WatermarkAssigner, error) {
	s := child.Schema()
	if timeCol < 0 || timeCol >= s.NumFields() {
		return nil, fmt.Errorf("watermark: time column #%d out of range", timeCol)
	}
	if err := checkTimeType(s.Field(timeCol).Type); err != nil {
		return nil, fmt.Errorf("watermark: %w", err)
	}
	if opts.PartitionCol >= s.NumFields() {
		return nil, fmt.Errorf("watermark: partition column #%d out of range", opts.PartitionCol)
	}
	if opts.PartitionCol >= 0 && kindOf(s.Field(opts.PartitionCol).Type) == kInvalid {
		return nil, fmt.Errorf("watermark: cannot partition by column of type %s", s.Field(opts.PartitionCol).Type)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	mem := opts.Mem
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	return &WatermarkAssigner{child: child, timeCol: timeCol, delay: delay.Microseconds(), opts: opts, mem: mem,
		wm: math.MinInt64, parts: map[string]*wmPartition{}}, nil
}

// LateRows is the number of rows dropped as late so far.
func (w *WatermarkAssigner) LateRows() int64 { return w.late }

// Watermark is the last watermark emitted (math.MinInt64 before the first).
func (w *WatermarkAssigner) Watermark() int64 { return w.wm }

// Schema implements Operator.
func (w *WatermarkAssigner) Schema() *arrow.Schema { return w.child.Schema() }

// Open implements Operator.
func (w *WatermarkAssigner) Open(ctx context.Context) error { return w.child.Open(ctx) }

// Next implements Operator.
func (w *WatermarkAssigner) Next(ctx context.Context) (Message, error) {
	if w.pending != nil {
		m := *w.pending
		w.pending = nil
		return m, nil
	}
	if w.done {
		return EndMsg, nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return Message{}, err
		}
		var m Message
		if w.rest.Rec != nil {
			m, w.rest = Message{Kind: MsgBatch, Batch: w.rest}, Batch{}
		} else {
			var err error
			if m, err = w.child.Next(ctx); err != nil {
				return Message{}, err
			}
		}
		switch m.Kind {
		case MsgWatermark:
			continue
		case MsgEnd:
			w.done = true
			return m, nil
		case MsgBarrier:
			return m, nil
		}
		if i := w.splitAt(m.Batch.Rec); i >= 0 {
			n := int(m.Batch.Rec.NumRows())
			head, rest := sliceBatch(m.Batch, 0, i+1), sliceBatch(m.Batch, i+1, n)
			m.Release()
			m.Batch, w.rest = head, rest
		}
		out, err := w.consume(m.Batch)
		if err != nil {
			m.Release()
			return Message{}, fmt.Errorf("watermark: %w", err)
		}
		if out.Rec != m.Batch.Rec {
			m.Release()
		}
		if wm, ok := w.advance(); ok {
			if out.Rec == nil {
				return WatermarkMsg(wm), nil
			}
			wmMsg := WatermarkMsg(wm)
			w.pending = &wmMsg
		}
		if out.Rec != nil {
			return Message{Kind: MsgBatch, Batch: out}, nil
		}
	}
}

// consume drops the late rows of b and updates the partitions' maxima; it
// returns the batch to forward (b itself when nothing was dropped, a zero
// Batch when nothing is left).
func (w *WatermarkAssigner) consume(b Batch) (Batch, error) {
	rec := b.Rec
	n := int(rec.NumRows())
	tsArr := rec.Column(w.timeCol)
	ts, err := eventTimes(tsArr, &w.scratch)
	if err != nil {
		return Batch{}, err
	}
	threshold := int64(math.MinInt64)
	if w.wm != math.MinInt64 {
		threshold = w.wm - w.opts.AllowedLateness.Microseconds()
	}
	nulls := tsArr.NullN() > 0
	var late []int
	for i, t := range ts[:n] {
		if w.opts.KeepLate {
			break
		}
		if t < threshold || (nulls && tsArr.IsNull(i)) {
			late = append(late, i)
		}
	}
	now := w.opts.Now()
	var keys [][]byte
	if w.opts.PartitionCol >= 0 {
		pc := rec.Column(w.opts.PartitionCol)
		w.keys = encodeRows([]arrow.Array{pc}, n, w.keys, &w.i64, &w.u64, &w.f64, &w.strs)
		keys = w.keys
	}
	li := 0
	for i, t := range ts[:n] {
		if li < len(late) && late[li] == i {
			li++
			continue
		}
		if w.opts.KeepLate && nulls && tsArr.IsNull(i) {
			continue // kept, but a NULL time moves no watermark
		}
		p := &w.single
		if keys != nil {
			if p = w.parts[string(keys[i])]; p == nil {
				p = &wmPartition{}
				w.parts[string(keys[i])] = p
			}
		}
		if !p.seen || t > p.max {
			p.max, p.seen = t, true
		}
		p.lastSeen = now
	}
	if len(late) == 0 {
		return b, nil
	}
	w.late += int64(len(late))
	if w.opts.LateSink != nil {
		w.opts.LateSink(rec, late)
	}
	if len(late) == n {
		return Batch{}, nil
	}
	sel := make([]int32, 0, n-len(late))
	li = 0
	for i := 0; i < n; i++ {
		if li < len(late) && late[li] == i {
			li++
			continue
		}
		sel = append(sel, int32(i))
	}
	out, err := takeRecord(w.mem, rec, sel)
	if err != nil {
		return Batch{}, err
	}
	var ops []ChangeKind
	if b.Ops != nil {
		ops = make([]ChangeKind, len(sel))
		for j, i := range sel {
			ops[j] = b.Ops[i]
		}
	}
	return Batch{Rec: out, Ops: ops}, nil
}

// advance computes the watermark and reports whether it moved forward.
func (w *WatermarkAssigner) advance() (int64, bool) {
	now := w.opts.Now()
	idle := func(p *wmPartition) bool {
		return w.opts.IdleTimeout > 0 && now.Sub(p.lastSeen) >= w.opts.IdleTimeout
	}
	wm := int64(math.MaxInt64)
	active := false
	if w.opts.PartitionCol < 0 {
		if w.single.seen {
			wm, active = w.single.max, true
		}
	} else {
		if missing := w.opts.Partitions - len(w.parts); missing > 0 {
			if w.firstRow.IsZero() {
				w.firstRow = now
			}
			if w.opts.IdleTimeout == 0 || now.Sub(w.firstRow) < w.opts.IdleTimeout {
				return 0, false
			}
		}
		for _, p := range w.parts {
			if idle(p) {
				continue
			}
			wm = min(wm, p.max)
			active = true
		}
	}
	if !active {
		return 0, false
	}
	wm = satSub(wm, w.delay)
	if wm <= w.wm {
		return 0, false
	}
	w.wm = wm
	return wm, true
}

// satSub is a - b clamped to the int64 range.
func satSub(a, b int64) int64 {
	r := a - b
	if b > 0 && r > a {
		return math.MinInt64
	}
	if b < 0 && r < a {
		return math.MaxInt64
	}
	return r
}

// State returns the assigner's state: one entry per partition.
func (w *WatermarkAssigner) State() State { return wmState{w} }

type wmState struct{ w *WatermarkAssigner }

// wmSnapshot is the gob form of the assigner's state. Processing times are
// not saved: after a restore every partition counts as just seen.
type wmSnapshot struct {
	Wm, Late  int64
	Keys      []string
	Max       []int64
	Single    int64
	SingleSet bool
}

func (s wmState) Entries() int {
	if s.w.opts.PartitionCol < 0 {
		return 1
	}
	return len(s.w.parts)
}

func (s wmState) SizeBytes() int64 {
	n := int64(64)
	for k := range s.w.parts {
		n += int64(len(k)) + 64
	}
	return n
}

func (s wmState) Snapshot(out io.Writer) error {
	w := s.w
	snap := wmSnapshot{Wm: w.wm, Late: w.late, Single: w.single.max, SingleSet: w.single.seen}
	for k, p := range w.parts {
		snap.Keys, snap.Max = append(snap.Keys, k), append(snap.Max, p.max)
	}
	if err := gob.NewEncoder(out).Encode(snap); err != nil {
		return fmt.Errorf("snapshot watermark assigner: %w", err)
	}
	return nil
}

func (s wmState) Restore(in io.Reader) error {
	var snap wmSnapshot
	if err := gob.NewDecoder(in).Decode(&snap); err != nil {
		return fmt.Errorf("restore watermark assigner: %w", err)
	}
	if len(snap.Keys) != len(snap.Max) {
		return fmt.Errorf("restore watermark assigner: %d partitions but %d maxima", len(snap.Keys), len(snap.Max))
	}
	w := s.w
	now := w.opts.Now()
	w.wm, w.late = snap.Wm, snap.Late
	w.single = wmPartition{max: snap.Single, seen: snap.SingleSet, lastSeen: now}
	w.parts = make(map[string]*wmPartition, len(snap.Keys))
	for i, k := range snap.Keys {
		w.parts[k] = &wmPartition{max: snap.Max[i], seen: true, lastSeen: now}
	}
	return nil
}

// Close implements Operator.
func (w *WatermarkAssigner) Close() error {
	if w.rest.Rec != nil {
		w.rest.Rec.Release()
		w.rest = Batch{}
	}
	return w.child.Close()
}

// Children implements Operator.
func (w *WatermarkAssigner) Children() []Operator { return []Operator{w.child} }

// String implements Operator.
func (w *WatermarkAssigner) String() string {
	s := fmt.Sprintf("WatermarkAssigner(time=#%d, delay=%s", w.timeCol, time.Duration(w.delay)*time.Microsecond)
	if w.opts.PartitionCol >= 0 {
		s += fmt.Sprintf(", partition=#%d", w.opts.PartitionCol)
	}
	if w.opts.IdleTimeout > 0 {
		s += fmt.Sprintf(", idle=%s", w.opts.IdleTimeout)
	}
	if w.opts.AllowedLateness > 0 {
		s += fmt.Sprintf(", lateness=%s", w.opts.AllowedLateness)
	}
	if w.opts.KeepLate {
		s += ", keep_late"
	}
	if w.opts.SplitEvery > 0 {
		s += fmt.Sprintf(", split_every=%s", w.opts.SplitEvery)
	}
	if w.opts.LateSink != nil {
		s += ", late_sink"
	}
	return s + ")"
}

// checkTimeType accepts the types event times may have.
func checkTimeType(dt arrow.DataType) error {
	switch dt.ID() {
	case arrow.TIMESTAMP, arrow.INT64:
		return nil
	}
	return fmt.Errorf("event time must be TIMESTAMP or BIGINT µs, not %s", dt)
}

// eventTimes returns a's values as µs since the epoch (NULLs read as 0;
// callers check validity). *scratch holds conversions and is reused.
func eventTimes(a arrow.Array, scratch *[]int64) ([]int64, error) {
	if err := checkTimeType(a.DataType()); err != nil {
		return nil, err
	}
	vals := int64sOf(a, nil)
	mul, div := int64(1), int64(1)
	if tt, ok := a.DataType().(*arrow.TimestampType); ok {
		switch tt.Unit {
		case arrow.Second:
			mul = 1_000_000
		case arrow.Millisecond:
			mul = 1000
		case arrow.Nanosecond:
			div = 1000
		}
	}
	if mul == 1 && div == 1 {
		return vals, nil
	}
	if cap(*scratch) < len(vals) {
		*scratch = make([]int64, len(vals))
	}
	out := (*scratch)[:len(vals)]
	for i, v := range vals {
		out[i] = v * mul / div
	}
	return out, nil
}
