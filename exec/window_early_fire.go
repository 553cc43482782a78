package exec

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// EarlyFireClock makes the processing-time ticks of early firing; tests
// inject a fake one to decide when a tick happens.
type EarlyFireClock interface {
	// NewTicker returns a channel that ticks every d and a function that
	// stops it.
	NewTicker(d time.Duration) (c <-chan time.Time, stop func())
}

// WallClock is the EarlyFireClock of real runs: a time.Ticker.
type WallClock struct{}

// NewTicker implements EarlyFireClock.
func (WallClock) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// earlyFire is the state of a window aggregate that emits partial results
// (Flink's table.exec.emit.early-fire): every tick of processing time, the
// current result of every (window, group) changed since the last tick, as
// +I the first time and -U/+U later; at the window's end a -U/+U to the
// final value only if it differs (+I if never emitted). What was last
// emitted per (window, group) is kept (and snapshotted) so that the
// retractions are exact, also after a restore.
//
// Processing time is driven by a select: with early fire on, the operator
// drains its input on a goroutine (gatedInput) and waits on the input and
// the ticker together, so it emits while the input is idle too.
type earlyFire struct {
	every time.Duration
	clock EarlyFireClock
	// table holds the last emitted row (all output columns) per (window,
	// group).
	table *rowTable
	panes map[winKey]*paneEarly
	// Session windows (window_early_fire_session.go): sessions changed
	// since the last fire, and slots of partial rows to retract.
	sdirty   []*session
	sretract []int32

	in   *gatedInput
	held bool // in waits after a barrier until the next pull
	tick <-chan time.Time
	stop func()

	enc  [][]byte
	i64  []int64
	u64  []uint64
	f64  []float64
	strs []string
}

// paneEarly is the early-fire state of one window not yet finally emitted.
type paneEarly struct {
	dirty   []uint32 // groups changed since the last fire
	isDirty []bool   // by group id
	emitted map[uint32]earlyRow
}

// earlyRow is the last partial row emitted for a group: its slot in the
// table and its encoding (to tell whether it changed).
type earlyRow struct {
	slot int32
	enc  string
}

// SetEarlyFire makes the operator emit the partial results of the windows
// that changed every interval of processing time (0: off, the default),
// ticked by clock (nil: the wall clock). The output becomes a changelog.
// Call it before Open.
func (w *WindowAggregate) SetEarlyFire(every time.Duration, clock EarlyFireClock) error {
	if every <= 0 {
		w.ef = nil
		return nil
	}
	types := make([]arrow.DataType, len(w.schema.Fields()))
	for i, f := range w.schema.Fields() {
		types[i] = f.Type
	}
	t, err := newRowTable(types)
	if err != nil {
		return fmt.Errorf("window aggregate: early fire: %w", err)
	}
	if clock == nil {
		clock = WallClock{}
	}
	w.ef = &earlyFire{every: every, clock: clock, table: t, panes: map[winKey]*paneEarly{}}
	return nil
}

// markDirty notes the groups gids of window p as changed.
func (ef *earlyFire) markDirty(p *pane, gids []uint32) {
	if p.emitted {
		return // late changes of an emitted window are emitted at once
	}
	pe := ef.panes[p.winKey]
	if pe == nil {
		pe = &paneEarly{emitted: map[uint32]earlyRow{}}
		ef.panes[p.winKey] = pe
	}
	for _, g := range gids {
		if int(g) >= len(pe.isDirty) {
			pe.isDirty = append(pe.isDirty, make([]bool, int(g)+1-len(pe.isDirty))...)
		}
		if !pe.isDirty[g] {
			pe.isDirty[g] = true
			pe.dirty = append(pe.dirty, g)
		}
	}
}

// nextEarly is Next with early fire on: it selects on the input and the
// ticker.
func (w *WindowAggregate) nextEarly(ctx context.Context) (Message, error) {
	ef := w.ef
	if ef.held {
		// Pulled again after a barrier: the checkpoint (if any) is taken.
		ef.held = false
		ef.in.resume <- struct{}{}
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
		if ef.in == nil {
			ef.in = startGatedInput(ctx, w.child)
			ef.tick, ef.stop = ef.clock.NewTicker(ef.every)
		}
		var m Message
		select {
		case f, ok := <-ef.in.ch:
			if !ok {
				m = EndMsg
			} else if f.Err != nil {
				return Message{}, f.Err
			} else {
				m = f.Msg
			}
		case <-ef.tick:
			if err := w.fireEarly(); err != nil {
				return Message{}, fmt.Errorf("window aggregate: %w", err)
			}
			continue
		case <-ctx.Done():
			return Message{}, ctx.Err()
		}
		forward, err := w.step(ctx, m)
		if err != nil {
			return Message{}, err
		}
		if forward {
			ef.held = m.Kind == MsgBarrier
			return m, nil
		}
	}
}

// gatedInput drains an operator on a goroutine into a one-slot channel,
// as Prefetcher, but stops after a checkpoint barrier until it is resumed:
// a job snapshots the operators below while this one is between pulls
// after the barrier, and they must not have read past it (nor be running).
type gatedInput struct {
	ch     chan Fetched
	resume chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startGatedInput(ctx context.Context, child Operator) *gatedInput {
	ctx, cancel := context.WithCancel(ctx)
	g := &gatedInput{ch: make(chan Fetched, 1), resume: make(chan struct{}, 1), cancel: cancel}
	g.wg.Add(1)
	go g.run(ctx, child)
	return g
}

func (g *gatedInput) run(ctx context.Context, child Operator) {
	defer g.wg.Done()
	defer close(g.ch)
	for {
		m, err := child.Next(ctx)
		select {
		case g.ch <- Fetched{Msg: m, Err: err}:
		case <-ctx.Done():
			m.Release()
			return
		}
		if err != nil || m.Kind == MsgEnd {
			return
		}
		if m.Kind == MsgBarrier {
			select {
			case <-g.resume:
			case <-ctx.Done():
				return
			}
		}
	}
}

// stop cancels the goroutine, waits for it and releases what it read but
// was not taken. It does not close the child.
func (g *gatedInput) stop() {
	if g == nil {
		return
	}
	g.cancel()
	for f := range g.ch {
		f.Msg.Release()
	}
	g.wg.Wait()
}

// fireEarly emits the partial results of the changed groups of every
// window not yet emitted, in order of window end, then start.
func (w *WindowAggregate) fireEarly() error {
	if w.sess != nil {
		return w.sess.fireEarly()
	}
	ef := w.ef
	var keys []winKey
	for k, pe := range ef.panes {
		if len(pe.dirty) > 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b winKey) int {
		if a.end != b.end {
			return cmpInt64(a.end, b.end)
		}
		return cmpInt64(a.start, b.start)
	})
	for _, k := range keys {
		pe := ef.panes[k]
		p := w.panes[k]
		dirty := pe.dirty
		for _, g := range dirty {
			pe.isDirty[g] = false
		}
		pe.dirty = pe.dirty[:0]
		if p == nil || p.emitted {
			continue
		}
		slices.Sort(dirty)
		var live, gone []uint32
		for _, g := range dirty {
			if p.rows[g] > 0 {
				live = append(live, g)
			} else {
				gone = append(gone, g)
			}
		}
		if err := w.emitDiff(p, pe, live, gone, false); err != nil {
			return err
		}
	}
	return nil
}

// fireFinal emits window p at its end: +I for groups never emitted, -U/+U
// for those whose last partial row differs from the final one, -D for
// groups emitted early whose rows were all retracted since.
func (w *WindowAggregate) fireFinal(p *pane) error {
	pe := w.ef.panes[p.winKey]
	if pe == nil {
		pe = &paneEarly{}
	}
	var live, gone []uint32
	for g, r := range p.rows[:p.g.numGroups()] {
		if r > 0 {
			live = append(live, uint32(g))
		} else if _, ok := pe.emitted[uint32(g)]; ok {
			gone = append(gone, uint32(g))
		}
	}
	err := w.emitDiff(p, pe, live, gone, true)
	for _, r := range pe.emitted {
		w.ef.table.remove(r.slot)
	}
	delete(w.ef.panes, p.winKey)
	return err
}

// emitDiff queues the changes of groups live (with rows) and gone (without)
// of p against what was last emitted for them: first the retractions of
// the old rows, then the new rows. Unless final, it records the new rows as
// the last emitted.
func (w *WindowAggregate) emitDiff(p *pane, pe *paneEarly, live, gone []uint32, final bool) error {
	ef := w.ef
	var oldSlots []int32
	var oldOps, newOps []ChangeKind
	var keep []int32
	var cols []arrow.Array
	if len(live) > 0 {
		cols = w.paneColumns(p, live)
		ef.enc = encodeFullRows(cols, len(live), ef.enc, &ef.i64, &ef.u64, &ef.f64, &ef.strs)
		for i, g := range live {
			prev, ok := pe.emitted[g]
			if ok && prev.enc == string(ef.enc[i]) {
				continue
			}
			keep = append(keep, int32(i))
			if ok {
				oldSlots = append(oldSlots, prev.slot)
				oldOps = append(oldOps, UpdateBefore)
				newOps = append(newOps, UpdateAfter)
			} else {
				newOps = append(newOps, Insert)
			}
		}
	}
	for _, g := range gone {
		if prev, ok := pe.emitted[g]; ok {
			oldSlots = append(oldSlots, prev.slot)
			oldOps = append(oldOps, Delete)
		}
	}
	if len(oldSlots) > 0 {
		w.emitColsOps(ef.table.build(w.mem, oldSlots), oldOps)
	}
	if !final {
		for _, g := range gone {
			if prev, ok := pe.emitted[g]; ok {
				ef.table.remove(prev.slot)
				delete(pe.emitted, g)
			}
		}
	}
	if len(keep) == 0 {
		releaseArrays(cols)
		return nil
	}
	out := cols
	if len(keep) < len(live) {
		var err error
		out, err = takeArrays(w.mem, cols, keep)
		releaseArrays(cols)
		if err != nil {
			return fmt.Errorf("early fire: %w", err)
		}
	}
	if !final {
		for j, i := range keep {
			g := live[i]
			if prev, ok := pe.emitted[g]; ok {
				ef.table.remove(prev.slot)
			}
			pe.emitted[g] = earlyRow{slot: ef.table.addRow(out, j), enc: string(ef.enc[i])}
		}
	}
	w.emitColsOps(out, newOps)
	return nil
}

// close stops the input's goroutine and the ticker.
func (ef *earlyFire) close() {
	ef.in.stop()
	ef.in, ef.held = nil, false
	if ef.stop != nil {
		ef.stop()
		ef.stop = nil
	}
}

const earlyFireTag = "window-early-fire"

// earlySnapshot is the gob form of the early-fire state.
type earlySnapshot struct {
	Table tableSnapshot
	Panes []earlyPaneSnapshot
}

type earlyPaneSnapshot struct {
	Start, End int64
	Dirty      []uint32
	Gids       []uint32
	Slots      []int32
	Enc        []string
}

// snapshot writes the last emitted rows and the changed groups, after the
// windows' own frame.
func (ef *earlyFire) snapshot(out io.Writer) error {
	snap := earlySnapshot{Table: ef.table.snapshot()}
	for k, pe := range ef.panes {
		ps := earlyPaneSnapshot{Start: k.start, End: k.end, Dirty: pe.dirty}
		for g, r := range pe.emitted {
			ps.Gids, ps.Slots, ps.Enc = append(ps.Gids, g), append(ps.Slots, r.slot), append(ps.Enc, r.enc)
		}
		snap.Panes = append(snap.Panes, ps)
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(snap); err != nil {
		return fmt.Errorf("snapshot window early fire: %w", err)
	}
	if err := writeFrame(out, earlyFireTag, buf.Bytes()); err != nil {
		return fmt.Errorf("snapshot window early fire: %w", err)
	}
	return nil
}

// restore reads what snapshot wrote.
func (ef *earlyFire) restore(r io.Reader) error {
	b, err := readFrame(r, earlyFireTag)
	if err != nil {
		return fmt.Errorf("restore window early fire: %w", err)
	}
	var snap earlySnapshot
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&snap); err != nil {
		return fmt.Errorf("restore window early fire: %w", err)
	}
	if err := ef.table.restore(snap.Table); err != nil {
		return fmt.Errorf("restore window early fire: %w", err)
	}
	ef.panes = make(map[winKey]*paneEarly, len(snap.Panes))
	for _, ps := range snap.Panes {
		if len(ps.Slots) != len(ps.Gids) || len(ps.Enc) != len(ps.Gids) {
			return fmt.Errorf("restore window early fire: %w", errSnapshotCorrupt)
		}
		pe := &paneEarly{emitted: make(map[uint32]earlyRow, len(ps.Gids))}
		for i, g := range ps.Gids {
			pe.emitted[g] = earlyRow{slot: ps.Slots[i], enc: ps.Enc[i]}
		}
		for _, g := range ps.Dirty {
			if int(g) >= len(pe.isDirty) {
				pe.isDirty = append(pe.isDirty, make([]bool, int(g)+1-len(pe.isDirty))...)
			}
			if !pe.isDirty[g] {
				pe.isDirty[g] = true
				pe.dirty = append(pe.dirty, g)
			}
		}
		ef.panes[winKey{start: ps.Start, end: ps.End}] = pe
	}
	return nil
}
