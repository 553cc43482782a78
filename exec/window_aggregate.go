package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

// WindowKind is the kind of a group window.
type WindowKind int8

// Window kinds, as in Flink's window table-valued functions.
const (
	// Tumble: fixed-size, non-overlapping windows [k·Size, (k+1)·Size).
	Tumble WindowKind = iota
	// Hop: windows of Size starting every Slide; a row is in Size/Slide
	// windows.
	Hop
	// Session: per group key, rows closer than Gap to each other form one
	// window [first row, last row + Gap).
	Session
	// Cumulate: windows [k·Size, k·Size + j·Slide) for j = 1..Size/Slide: a
	// result every Slide, accumulating until the window of Size ends.
	Cumulate
)

func (k WindowKind) String() string {
	switch k {
	case Tumble:
		return "tumble"
	case Hop:
		return "hop"
	case Session:
		return "session"
	case Cumulate:
		return "cumulate"
	}
	return fmt.Sprintf("WindowKind(%d)", int8(k))
}

// ParseWindowKind maps a SQL window function name (TUMBLE, HOP, SESSION,
// CUMULATE; any case) to its kind.
func ParseWindowKind(name string) (WindowKind, bool) {
	switch strings.ToLower(name) {
	case "tumble":
		return Tumble, true
	case "hop":
		return Hop, true
	case "session":
		return Session, true
	case "cumulate":
		return Cumulate, true
	}
	return 0, false
}

// ParseWindowInterval reads a window size written as a SQL string argument,
// e.g. TUMBLE(ts, '10 SECONDS'): a number (fractions allowed) and a unit
// (MICROSECOND, MILLISECOND, SECOND, MINUTE, HOUR, DAY, WEEK, singular or
// plural, any case), or a Go duration such as "1m30s".
func ParseWindowInterval(s string) (time.Duration, error) {
	f := strings.Fields(strings.TrimSpace(s))
	if len(f) == 1 {
		d, err := time.ParseDuration(f[0])
		if err != nil {
			return 0, fmt.Errorf("interval %q: want e.g. '10 SECONDS'", s)
		}
		return d, nil
	}
	if len(f) != 2 {
		return 0, fmt.Errorf("interval %q: want e.g. '10 SECONDS'", s)
	}
	n, err := strconv.ParseFloat(f[0], 64)
	if err != nil || n < 0 || math.IsInf(n, 0) {
		return 0, fmt.Errorf("interval %q: %q is not a number of units", s, f[0])
	}
	units := map[string]time.Duration{
		"microsecond": time.Microsecond, "millisecond": time.Millisecond, "second": time.Second,
		"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour, "week": 7 * 24 * time.Hour,
	}
	u, ok := units[strings.TrimSuffix(strings.ToLower(f[1]), "s")]
	if !ok {
		return 0, fmt.Errorf("interval %q: unknown unit %q", s, f[1])
	}
	d := n * float64(u)
	if d > math.MaxInt64 {
		return 0, fmt.Errorf("interval %q is too long", s)
	}
	return time.Duration(d), nil
}

// WindowSpec describes the windows of a WindowAggregate.
type WindowSpec struct {
	Kind WindowKind
	// TimeCol is the event time (TIMESTAMP of any unit, or BIGINT µs).
	TimeCol expr.Expr
	// Size is the window size (Tumble, Hop) or the maximum size (Cumulate).
	Size time.Duration
	// Slide is the hop (Hop) or the step (Cumulate).
	Slide time.Duration
	// Gap is the inactivity gap that closes a session (Session).
	Gap time.Duration
	// AllowedLateness keeps a window's state for this long after it was
	// emitted; rows arriving in that time update it (-U/+U, or -D/+I for
	// sessions). 0 gives append-only output.
	AllowedLateness time.Duration
	// EarlyFire, when positive, also emits the partial results of changed
	// windows every EarlyFire of processing time, as a changelog (see
	// SetEarlyFire).
	EarlyFire time.Duration
}

func (s WindowSpec) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s(%s", s.Kind, s.TimeCol)
	switch s.Kind {
	case Tumble:
		fmt.Fprintf(&b, ", %s", s.Size)
	case Hop:
		fmt.Fprintf(&b, ", size=%s, slide=%s", s.Size, s.Slide)
	case Cumulate:
		fmt.Fprintf(&b, ", size=%s, step=%s", s.Size, s.Slide)
	case Session:
		fmt.Fprintf(&b, ", gap=%s", s.Gap)
	}
	if s.AllowedLateness > 0 {
		fmt.Fprintf(&b, ", lateness=%s", s.AllowedLateness)
	}
	if s.EarlyFire > 0 {
		fmt.Fprintf(&b, ", early_fire=%s", s.EarlyFire)
	}
	b.WriteString(")")
	return b.String()
}

// ErrSnapshotUnsupported is returned by Snapshot for state that cannot be
// checkpointed yet.
var ErrSnapshotUnsupported = errors.New("snapshot of this operator's state is not supported yet")

// WindowAggregate computes aggregates per group key and event-time window.
// A window's rows are emitted (as inserts) once the watermark passes the
// window's end, and its state is dropped then (or after AllowedLateness), so
// state follows the live windows and keys, not the length of the stream. At
// End every remaining window is emitted. Output columns: window_start,
// window_end (TIMESTAMP µs UTC), the groups, the aggregates. Input must be
// append-only. Rows for windows already dropped are late: they are counted
// (LateRows) and ignored.
//
// Tumbling, hopping and cumulative windows keep one hash table and one set
// of accumulators per live window (the hash aggregate's, so every aggregate
// function it has works here); a batch whose rows all fall in one window is
// aggregated without copying. Session windows buffer their rows (see
// window_session.go) because sessions merge.
type WindowAggregate struct {
	child      Operator
	spec       WindowSpec
	groups     []expr.Expr
	aggs       []AggCall
	mem        memory.Allocator
	schema     *arrow.Schema
	timeEv     expr.Evaluator
	groupEvs   []expr.Evaluator
	argEvs     [][]expr.Evaluator
	groupTypes []arrow.DataType
	argTypes   [][]arrow.DataType

	size, slide, lateness int64 // µs

	panes    map[winKey]*pane
	assigned []winRows
	lo, hi   []winKey
	sess     *sessions

	wm          int64
	late        int64
	retractable bool
	pending     []Message
	done        bool
	scratch     []int64
	ef          *earlyFire // window_early_fire.go; nil: off
}

type winKey struct{ start, end int64 }

// pane is the state of one window: its groups and their accumulators.
type pane struct {
	winKey
	g       grouper
	accs    []accumulator
	rows    []int64 // per group, net of retractions
	emitted bool
}

// winRows lists the rows of a batch that fall in one window (sel nil: all).
type winRows struct {
	key winKey
	sel []int32
	all bool
}

// NewWindowAggregate returns a window aggregate over child. groups are the
// group keys (besides the window), named groupNames; aggs are the aggregate
// calls (see AggCall; DISTINCT and every function of the hash aggregate
// work).
func NewWindowAggregate(child Operator, spec WindowSpec, groups []expr.Expr, groupNames []string, aggs []AggCall, mem memory.Allocator) (*WindowAggregate, error) {
	if len(groupNames) != len(groups) {
		return nil, fmt.Errorf("window aggregate: %d group keys but %d names", len(groups), len(groupNames))
	}
	if spec.TimeCol == nil {
		return nil, fmt.Errorf("window aggregate: no time column")
	}
	if err := checkTimeType(spec.TimeCol.Type()); err != nil {
		return nil, fmt.Errorf("window aggregate: %w", err)
	}
	w := &WindowAggregate{child: child, spec: spec, groups: groups, aggs: aggs, mem: mem,
		size: spec.Size.Microseconds(), slide: spec.Slide.Microseconds(),
		lateness: spec.AllowedLateness.Microseconds(), wm: math.MinInt64, panes: map[winKey]*pane{}}
	switch spec.Kind {
	case Tumble:
		if w.size <= 0 {
			return nil, fmt.Errorf("window aggregate: tumbling window size must be positive, got %s", spec.Size)
		}
	case Hop:
		if w.size <= 0 || w.slide <= 0 {
			return nil, fmt.Errorf("window aggregate: hopping window needs a positive size and slide, got %s and %s", spec.Size, spec.Slide)
		}
	case Cumulate:
		if w.size <= 0 || w.slide <= 0 || w.size%w.slide != 0 {
			return nil, fmt.Errorf("window aggregate: cumulating window needs a positive step dividing the size, got size %s, step %s", spec.Size, spec.Slide)
		}
	case Session:
		if spec.Gap <= 0 {
			return nil, fmt.Errorf("window aggregate: session gap must be positive, got %s", spec.Gap)
		}
	default:
		return nil, fmt.Errorf("window aggregate: unknown window kind %d", spec.Kind)
	}
	if spec.AllowedLateness < 0 {
		return nil, fmt.Errorf("window aggregate: negative allowed lateness %s", spec.AllowedLateness)
	}
	var err error
	if w.timeEv, err = compileExpr(spec.TimeCol, mem); err != nil {
		return nil, fmt.Errorf("window aggregate: %w", err)
	}
	if w.groupEvs, err = compileAll(groups, mem); err != nil {
		return nil, fmt.Errorf("window aggregate: %w", err)
	}
	fields := []arrow.Field{
		{Name: "window_start", Type: arrow.FixedWidthTypes.Timestamp_us},
		{Name: "window_end", Type: arrow.FixedWidthTypes.Timestamp_us},
	}
	for i, e := range groups {
		if kindOf(e.Type()) == kInvalid {
			return nil, fmt.Errorf("window aggregate: cannot group by %s of type %s", e, e.Type())
		}
		w.groupTypes = append(w.groupTypes, e.Type())
		fields = append(fields, arrow.Field{Name: groupNames[i], Type: e.Type(), Nullable: true})
	}
	for _, a := range aggs {
		evs, err := compileAll(a.Args, mem)
		if err != nil {
			return nil, fmt.Errorf("window aggregate: %w", err)
		}
		w.argEvs = append(w.argEvs, evs)
		types := make([]arrow.DataType, len(a.Args))
		for i, e := range a.Args {
			types[i] = e.Type()
		}
		w.argTypes = append(w.argTypes, types)
		t, err := AggregateType(a.Func, a.Distinct, types)
		if err != nil {
			return nil, fmt.Errorf("window aggregate: %w", err)
		}
		fields = append(fields, arrow.Field{Name: a.Name, Type: t, Nullable: true})
	}
	w.schema = arrow.NewSchema(fields, nil)
	if spec.Kind == Session {
		if w.sess, err = newSessions(w, spec.Gap.Microseconds()); err != nil {
			return nil, fmt.Errorf("window aggregate: %w", err)
		}
	} else if _, err := w.newPane(winKey{}); err != nil {
		return nil, err // validates the aggregates up front
	}
	if spec.EarlyFire > 0 {
		if err := w.SetEarlyFire(spec.EarlyFire, nil); err != nil {
			return nil, err
		}
	}
	return w, nil
}

func (w *WindowAggregate) newPane(k winKey) (*pane, error) {
	g, err := newGrouper(w.groupTypes)
	if err != nil {
		return nil, fmt.Errorf("window aggregate: %w", err)
	}
	accs, err := w.newAccs()
	if err != nil {
		return nil, fmt.Errorf("window aggregate: %w", err)
	}
	return &pane{winKey: k, g: g, accs: accs}, nil
}

// newAccs builds a fresh set of the hash aggregate's accumulators, one per
// aggregate call (the one place this file depends on their constructor).
func (w *WindowAggregate) newAccs() ([]accumulator, error) {
	accs := make([]accumulator, len(w.aggs))
	for i, a := range w.aggs {
		acc, err := newAccumulator(a.Func, a.Distinct, w.argTypes[i], w.mem, w.retractable)
		if err != nil {
			return nil, err
		}
		accs[i] = acc
	}
	return accs, nil
}

// LateRows is the number of rows ignored because their windows were gone.
func (w *WindowAggregate) LateRows() int64 { return w.late }

// Schema implements Operator.
func (w *WindowAggregate) Schema() *arrow.Schema { return w.schema }

// Open implements Operator.
func (w *WindowAggregate) Open(ctx context.Context) error { return w.child.Open(ctx) }

// Next implements Operator.
func (w *WindowAggregate) Next(ctx context.Context) (Message, error) {
	if w.ef != nil {
		return w.nextEarly(ctx)
	}
	for {
		if len(w.pending) > 0 {
			m := w.pending[0]
			w.pending[0] = Message{}
			w.pending = w.pending[1:]
			return m, nil
		}
		if w.done {
			return EndMsg, nil
		}
		if err := ctx.Err(); err != nil {
			return Message{}, err
		}
		m, err := w.child.Next(ctx)
		if err != nil {
			return Message{}, err
		}
		forward, err := w.step(ctx, m)
		if err != nil {
			return Message{}, err
		}
		if forward {
			return m, nil
		}
	}
}

// step applies one input message: a batch is folded in, a watermark fires
// the windows it closes (and waits in pending), the end fires them all.
// Other messages (barriers) go out as they are: forward is true.
func (w *WindowAggregate) step(ctx context.Context, m Message) (forward bool, err error) {
	switch m.Kind {
	case MsgBatch:
		err = w.consume(ctx, m.Batch)
		m.Release()
	case MsgWatermark:
		if m.Watermark > w.wm {
			w.wm = m.Watermark
			err = w.fire(false)
		}
		w.pending = append(w.pending, m)
	case MsgEnd:
		w.done = true
		err = w.fire(true)
	default:
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("window aggregate: %w", err)
	}
	return false, nil
}

// consume folds one batch into the windows' states.
func (w *WindowAggregate) consume(ctx context.Context, b Batch) error {
	ops := b.Ops
	if b.AppendOnly() {
		ops = nil
	} else if !w.retractable || w.sess != nil {
		return fmt.Errorf("input has retractions: session windows take append-only input, other windows need SetRetractable")
	}
	rec := b.Rec
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	tsArr, err := w.timeEv.Eval(ctx, rec)
	if err != nil {
		return err
	}
	defer tsArr.Release()
	ts, err := eventTimes(tsArr, &w.scratch)
	if err != nil {
		return err
	}
	keys, err := evalAll(ctx, w.groupEvs, rec)
	if err != nil {
		return err
	}
	defer releaseArrays(keys)
	args := make([][]arrow.Array, len(w.argEvs))
	defer func() {
		for _, a := range args {
			releaseArrays(a)
		}
	}()
	for i, evs := range w.argEvs {
		if args[i], err = evalAll(ctx, evs, rec); err != nil {
			return err
		}
	}
	if w.sess != nil {
		return w.sess.consume(tsArr, ts[:n], keys, args)
	}
	w.assign(tsArr, ts[:n])
	for i := range w.assigned {
		wr := &w.assigned[i]
		if err := w.update(wr, keys, args, n, ops); err != nil {
			return err
		}
	}
	// A late row may have opened a window the watermark has already passed.
	return w.fire(false)
}

// windowsOf calls fn with every window containing t, the last (latest
// ending) one first.
func (w *WindowAggregate) windowsOf(t int64, fn func(winKey)) {
	switch w.spec.Kind {
	case Tumble:
		s := floorMul(t, w.size)
		fn(winKey{s, s + w.size})
	case Hop:
		for s := floorMul(t, w.slide); s > t-w.size; s -= w.slide {
			fn(winKey{s, s + w.size})
		}
	case Cumulate:
		base := floorMul(t, w.size)
		for e := base + w.size; e > t; e -= w.slide {
			fn(winKey{base, e})
		}
	}
}

// floorMul rounds t down to a multiple of d.
func floorMul(t, d int64) int64 {
	r := t % d
	if r < 0 {
		r += d
	}
	return t - r
}

// assign fills w.assigned with the windows of the batch's rows, dropping
// (and counting) late rows and rows with a NULL time.
func (w *WindowAggregate) assign(tsArr arrow.Array, ts []int64) {
	for i := range w.assigned {
		w.assigned[i].sel = w.assigned[i].sel[:0]
		w.assigned[i].all = false
	}
	w.assigned = w.assigned[:0]
	n := len(ts)
	// Fast path: no NULLs and the whole batch inside one window range.
	if tsArr.NullN() == 0 {
		lo, hi := ts[0], ts[0]
		for _, t := range ts {
			lo = min(lo, t)
			hi = max(hi, t)
		}
		w.lo, w.hi = w.lo[:0], w.hi[:0]
		late := false
		w.windowsOf(lo, func(k winKey) { w.lo = append(w.lo, k); late = late || w.isLate(k) })
		w.windowsOf(hi, func(k winKey) { w.hi = append(w.hi, k) })
		if slices.Equal(w.lo, w.hi) && len(w.lo) > 0 && !late {
			for _, k := range w.lo {
				w.assigned = append(w.assigned, winRows{key: k, all: true})
			}
			return
		}
	}
	nulls := tsArr.NullN() > 0
	last := 0
	for i, t := range ts {
		if nulls && tsArr.IsNull(i) {
			w.late++
			continue
		}
		first := true
		w.windowsOf(t, func(k winKey) {
			if first {
				first = false
				if w.isLate(k) {
					w.late++
					return
				}
			} else if w.isLate(k) {
				return
			}
			if last >= len(w.assigned) || w.assigned[last].key != k {
				last = -1
				for j := range w.assigned {
					if w.assigned[j].key == k {
						last = j
						break
					}
				}
				if last < 0 {
					last = len(w.assigned)
					if last < cap(w.assigned) {
						w.assigned = w.assigned[:last+1]
						w.assigned[last].key = k
					} else {
						w.assigned = append(w.assigned, winRows{key: k})
					}
				}
			}
			w.assigned[last].sel = append(w.assigned[last].sel, int32(i))
		})
	}
	for i := range w.assigned {
		if len(w.assigned[i].sel) == n {
			w.assigned[i].all = true
		}
	}
}

// isLate reports whether window k's state is gone (or would be at once).
func (w *WindowAggregate) isLate(k winKey) bool {
	return w.wm != math.MinInt64 && k.end+w.lateness <= w.wm
}

// update aggregates the rows wr of the batch (change kinds ops, nil for all
// inserts) into their window.
func (w *WindowAggregate) update(wr *winRows, keys []arrow.Array, args [][]arrow.Array, n int, ops []ChangeKind) error {
	p := w.panes[wr.key]
	if p == nil {
		var err error
		if p, err = w.newPane(wr.key); err != nil {
			return err
		}
		w.panes[wr.key] = p
	}
	if !wr.all {
		n = len(wr.sel)
		var err error
		if keys, err = takeArrays(w.mem, keys, wr.sel); err != nil {
			return err
		}
		defer releaseArrays(keys)
		taken := make([][]arrow.Array, len(args))
		defer func() {
			for _, a := range taken {
				releaseArrays(a)
			}
		}()
		for i, a := range args {
			if taken[i], err = takeArrays(w.mem, a, wr.sel); err != nil {
				return err
			}
		}
		args = taken
		if ops != nil {
			sub := make([]ChangeKind, n)
			for j, i := range wr.sel {
				sub[j] = ops[i]
			}
			ops = sub
		}
	}
	before := p.g.numGroups()
	gids := p.g.lookup(keys, n, nil)
	ng := p.g.numGroups()
	for _, a := range p.accs {
		a.resize(ng)
	}
	p.rows = growSlice(p.rows, ng)
	if w.ef != nil {
		w.ef.markDirty(p, gids)
	}
	var touched []uint32
	if p.emitted || ops != nil {
		seen := map[uint32]bool{}
		for _, g := range gids {
			if !seen[g] {
				seen[g] = true
				touched = append(touched, g)
			}
		}
	}
	// A late update of an emitted window retracts the groups' old rows.
	var old []arrow.Array
	var oldSel []uint32
	if p.emitted {
		for _, g := range touched {
			if int(g) < before && p.rows[g] > 0 {
				oldSel = append(oldSel, g)
			}
		}
		if len(oldSel) > 0 {
			old = w.paneColumns(p, oldSel)
		}
	}
	for i, a := range p.accs {
		if err := a.update(args[i], gids, ops); err != nil {
			releaseArrays(old)
			return err
		}
	}
	if ops == nil {
		for _, g := range gids {
			p.rows[g]++
		}
	} else {
		for i, g := range gids {
			p.rows[g] += delta(ops, i)
		}
	}
	for _, g := range touched {
		if p.rows[g] < 0 {
			releaseArrays(old)
			return fmt.Errorf("retraction of a row that was never added (window %s)", w.windowString(p.winKey))
		}
	}
	if p.emitted {
		w.emitLateChanges(p, touched, old, oldSel)
	}
	for _, g := range touched {
		if p.rows[g] == 0 {
			for _, a := range p.accs {
				a.reset(g)
			}
		}
	}
	return nil
}

// emitLateChanges emits what a late batch changed in an emitted window: the
// old rows of the groups that had rows (old, for oldSel) as -U, or -D when
// the group is now empty, then the new rows as +U, or +I for groups that
// had none.
func (w *WindowAggregate) emitLateChanges(p *pane, touched []uint32, old []arrow.Array, oldSel []uint32) {
	wasLive := map[uint32]bool{}
	var oldOps []ChangeKind
	for _, g := range oldSel {
		wasLive[g] = true
		if p.rows[g] > 0 {
			oldOps = append(oldOps, UpdateBefore)
		} else {
			oldOps = append(oldOps, Delete)
		}
	}
	if len(oldSel) > 0 {
		w.emitColsOps(old, oldOps)
	}
	var newSel []uint32
	var newOps []ChangeKind
	for _, g := range touched {
		if p.rows[g] == 0 {
			continue
		}
		newSel = append(newSel, g)
		if wasLive[g] {
			newOps = append(newOps, UpdateAfter)
		} else {
			newOps = append(newOps, Insert)
		}
	}
	if len(newSel) > 0 {
		w.emitColsOps(w.paneColumns(p, newSel), newOps)
	}
}

func (w *WindowAggregate) windowString(k winKey) string {
	return fmt.Sprintf("[%s, %s)", time.UnixMicro(k.start).UTC().Format(time.RFC3339Nano), time.UnixMicro(k.end).UTC().Format(time.RFC3339Nano))
}

// SetRetractable lets the operator take a changelog input (deletes and
// updates, e.g. from a keep-last deduplication): MIN and MAX then keep
// value counts so they can forget a value, each group counts its rows and
// a group whose rows are all retracted disappears. Session windows take
// append-only input only. Call it before Open.
func (w *WindowAggregate) SetRetractable(on bool) { w.retractable = on }

func takeArrays(mem memory.Allocator, as []arrow.Array, sel []int32) ([]arrow.Array, error) {
	out := make([]arrow.Array, len(as))
	for i, a := range as {
		t, err := takeArray(mem, a, sel)
		if err != nil {
			releaseArrays(out[:i])
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

// paneColumns builds the output columns of groups sel (nil: all) of p.
func (w *WindowAggregate) paneColumns(p *pane, sel []uint32) []arrow.Array {
	n := p.g.numGroups()
	if sel != nil {
		n = len(sel)
	}
	cols := []arrow.Array{constTimestamp(w.mem, p.start, n), constTimestamp(w.mem, p.end, n)}
	cols = append(cols, p.g.keyArrays(w.mem, sel)...)
	for _, a := range p.accs {
		cols = append(cols, a.result(w.mem, sel))
	}
	return cols
}

// emitCols queues a batch of cols (taking ownership) with every row of kind k.
func (w *WindowAggregate) emitCols(cols []arrow.Array, k ChangeKind) {
	var ops []ChangeKind
	if k != Insert {
		ops = make([]ChangeKind, cols[0].Len())
		for i := range ops {
			ops[i] = k
		}
	}
	w.emitColsOps(cols, ops)
}

// emitColsOps queues a batch of cols (taking ownership) with the given
// change kinds (nil: all inserts).
func (w *WindowAggregate) emitColsOps(cols []arrow.Array, ops []ChangeKind) {
	rec := array.NewRecordBatch(w.schema, cols, int64(cols[0].Len()))
	releaseArrays(cols)
	w.pending = append(w.pending, BatchMsg(rec, opsOrNil(ops)))
}

func constTimestamp(mem memory.Allocator, v int64, n int) arrow.Array {
	b := array.NewTimestampBuilder(mem, arrow.FixedWidthTypes.Timestamp_us.(*arrow.TimestampType))
	defer b.Release()
	b.Reserve(n)
	for i := 0; i < n; i++ {
		b.UnsafeAppend(arrow.Timestamp(v))
	}
	return b.NewArray()
}

// fire emits the windows the watermark has passed (all of them at End) in
// order of end, then start, and drops the state of those past their
// lateness.
func (w *WindowAggregate) fire(end bool) error {
	if w.sess != nil {
		return w.sess.fire(end)
	}
	var ready []*pane
	for _, p := range w.panes {
		if !p.emitted && (end || p.end <= w.wm) {
			ready = append(ready, p)
		}
	}
	slices.SortFunc(ready, func(a, b *pane) int {
		if a.end != b.end {
			return cmpInt64(a.end, b.end)
		}
		return cmpInt64(a.start, b.start)
	})
	for _, p := range ready {
		p.emitted = true
		if w.ef != nil {
			if err := w.fireFinal(p); err != nil {
				return err
			}
			continue
		}
		var sel []uint32 // nil: every group (all have rows unless retractable)
		if w.retractable {
			sel = []uint32{}
			for g, r := range p.rows[:p.g.numGroups()] {
				if r > 0 {
					sel = append(sel, uint32(g))
				}
			}
			if len(sel) == 0 {
				continue
			}
		}
		if p.g.numGroups() > 0 {
			w.emitCols(w.paneColumns(p, sel), Insert)
		}
	}
	for k, p := range w.panes {
		if p.emitted && (end || k.end+w.lateness <= w.wm) {
			delete(w.panes, k)
		}
	}
	return nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// State returns the operator's state figures.
func (w *WindowAggregate) State() State { return windowState{w} }

type windowState struct{ w *WindowAggregate }

// Entries is the number of (window, group) entries, plus buffered session
// rows.
func (s windowState) Entries() int {
	if s.w.sess != nil {
		return s.w.sess.entries()
	}
	n := 0
	for _, p := range s.w.panes {
		n += p.g.numGroups()
	}
	return n
}

// SizeBytes estimates 16 bytes of hash table and key per group plus 16 per
// aggregate, or the buffered rows for sessions.
func (s windowState) SizeBytes() int64 {
	if s.w.sess != nil {
		return s.w.sess.sizeBytes()
	}
	n := int64(s.Entries()) * int64(16+16*len(s.w.aggs))
	if s.w.ef != nil {
		n += s.w.ef.table.sizeBytes()
	}
	return n
}

// Snapshot writes the windows' state: session windows' buffered rows, or
// the other windows' groups and accumulators (see hashagg_snapshot.go).
func (s windowState) Snapshot(w io.Writer) error {
	if s.w.sess == nil {
		if err := s.w.snapshotPanes(w); err != nil || s.w.ef == nil {
			return err
		}
		return s.w.ef.snapshot(w)
	}
	if err := s.w.sess.snapshot(w); err != nil || s.w.ef == nil {
		return err
	}
	return s.w.ef.snapshotSessions(s.w.sess, w)
}

// Restore reads what Snapshot wrote; call it before Open.
func (s windowState) Restore(r io.Reader) error {
	if s.w.sess == nil {
		if err := s.w.restorePanes(r); err != nil || s.w.ef == nil {
			return err
		}
		return s.w.ef.restore(r)
	}
	if err := s.w.sess.restore(r); err != nil || s.w.ef == nil {
		return err
	}
	return s.w.ef.restoreSessions(s.w.sess, r)
}

// Close implements Operator.
func (w *WindowAggregate) Close() error {
	for _, m := range w.pending {
		m.Release()
	}
	w.pending = nil
	w.panes = map[winKey]*pane{}
	if w.ef != nil {
		w.ef.close()
	}
	if w.sess != nil {
		w.sess.reset()
	}
	return w.child.Close()
}

// Children implements Operator.
func (w *WindowAggregate) Children() []Operator { return []Operator{w.child} }

// String implements Operator.
func (w *WindowAggregate) String() string {
	gs := make([]string, len(w.groups))
	for i, g := range w.groups {
		gs[i] = g.String()
	}
	as := make([]string, len(w.aggs))
	for i, a := range w.aggs {
		as[i] = a.String()
	}
	return fmt.Sprintf("WindowAggregate(%s, group=[%s], aggs=[%s])", w.spec, strings.Join(gs, ", "), strings.Join(as, ", "))
}
