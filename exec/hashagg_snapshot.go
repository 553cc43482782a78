package exec

import (
	"cmp"
	"fmt"
	"io"
	"slices"
)

// Checkpointing of the hash aggregate and of the tumbling, hopping and
// cumulating window aggregate. A snapshot holds the operator's whole state:
// group keys, per-group row counts, every accumulator, which groups'
// rows are out (changelog mode), and output already computed but not yet
// pulled by the parent (queued messages, written as Arrow IPC), so a
// checkpoint may be taken between any two calls of Next. Restore replaces
// the state of an operator built from the same plan; call it before the
// first Next.

const (
	hashAggTag   = "hash-aggregate"
	windowAggTag = "window-aggregate"
)

// State returns the hash aggregate's state: one entry per group.
func (h *HashAggregate) State() State { return hashAggState{h} }

type hashAggState struct{ h *HashAggregate }

// Entries is the number of groups (with a state TTL, the live ones).
func (s hashAggState) Entries() int {
	if s.h.g == nil {
		return 0
	}
	if s.h.ttl != nil {
		return s.h.ttl.nlive
	}
	return s.h.g.numGroups()
}

// SizeBytes estimates 16 bytes of hash table and key plus 16 per aggregate
// and group; with a state TTL, groups it forgot keep only their hash table
// slot (24 bytes) until a compaction, and each live group has 9 bytes of
// TTL bookkeeping and a 16-byte queue item.
func (s hashAggState) SizeBytes() int64 {
	per := int64(16 + 8 + 16*len(s.h.aggs))
	if t := s.h.ttl; t != nil && s.h.g != nil {
		dead := int64(s.h.g.numGroups() - t.nlive)
		return int64(t.nlive)*(per+9) + dead*24 + int64(len(t.q))*16
	}
	return int64(s.Entries()) * per
}

// Snapshot implements State.
func (s hashAggState) Snapshot(w io.Writer) error {
	h := s.h
	if h.g == nil {
		return fmt.Errorf("snapshot hash aggregate: operator is closed")
	}
	var e snapEnc
	if err := saveGroups(&e, h.g, h.accs, h.rows); err != nil {
		return fmt.Errorf("snapshot hash aggregate: %w", err)
	}
	e.bool1(h.retracted)
	e.bool1(h.done)
	ng := h.g.numGroups()
	em := make([]bool, ng)
	copy(em, h.emitted)
	e.bools(em)
	if err := e.messages(h.pending); err != nil {
		return fmt.Errorf("snapshot hash aggregate: %w", err)
	}
	if t := h.ttl; t != nil {
		// Last: snapshots without it (taken before a TTL was set) restore.
		e.varint(t.wm)
		e.varint(t.expired)
		touch, live := make([]int64, ng), make([]bool, ng)
		copy(touch, t.touch)
		copy(live, t.live)
		e.int64s(touch)
		e.bools(live)
	}
	if err := writeFrame(w, hashAggTag, e.b); err != nil {
		return fmt.Errorf("snapshot hash aggregate: %w", err)
	}
	return nil
}

// Restore implements State.
func (s hashAggState) Restore(r io.Reader) error {
	h := s.h
	p, err := readFrame(r, hashAggTag)
	if err != nil {
		return fmt.Errorf("restore hash aggregate: %w", err)
	}
	if err := h.reset(); err != nil {
		return err
	}
	d := &snapDec{b: p}
	rows, err := loadGroups(d, h.g, h.accs)
	if err != nil {
		return fmt.Errorf("restore hash aggregate: %w", err)
	}
	h.rows = rows
	h.retracted = d.bool1()
	h.done = d.bool1()
	h.emitted = d.bools()
	if d.err == nil && len(h.emitted) != len(rows) {
		return fmt.Errorf("restore hash aggregate: %w", errSnapshotCorrupt)
	}
	h.mark = make([]bool, len(rows))
	h.touched = h.touched[:0]
	pending, err := d.messages(h.mem)
	if err != nil {
		return fmt.Errorf("restore hash aggregate: %w", err)
	}
	for _, m := range h.pending {
		m.Release()
	}
	h.pending = pending
	if h.ttl == nil && len(d.b) != 0 {
		// Taken with a TTL, restored without: the groups stay for good.
		h.ttl = &aggTTL{wm: minInt64}
		err := h.restoreTTL(d, len(rows))
		h.ttl = nil
		if err != nil {
			return err
		}
	} else if t := h.ttl; t != nil {
		h.ttl = &aggTTL{ttl: t.ttl, wm: minInt64}
		if len(d.b) != 0 {
			if err := h.restoreTTL(d, len(rows)); err != nil {
				return err
			}
		} else {
			// A snapshot taken without a TTL: every group is touched now.
			all := make([]uint32, len(rows))
			for g := range all {
				all[g] = uint32(g)
			}
			h.ttlTouch(all)
		}
	}
	if len(d.b) != 0 {
		return fmt.Errorf("restore hash aggregate: %d bytes left over: %w", len(d.b), errSnapshotCorrupt)
	}
	return nil
}

// restoreTTL reads the TTL section of a snapshot of ng groups.
func (h *HashAggregate) restoreTTL(d *snapDec, ng int) error {
	t := h.ttl
	t.wm, t.expired = d.varint(), d.varint()
	t.touch, t.live = d.int64s(), d.bools()
	if d.err != nil || len(t.touch) != ng || len(t.live) != ng {
		return fmt.Errorf("restore hash aggregate: state TTL: %w", errSnapshotCorrupt)
	}
	for g, l := range t.live {
		if l {
			t.nlive++
			t.q = append(t.q, ttlItem{at: t.touch[g], g: uint32(g)})
		}
	}
	t.q.init()
	return nil
}

// saveGroups writes a grouper, its per-group row counts and accumulators.
func saveGroups(e *snapEnc, g grouper, accs []accumulator, rows []int64) error {
	if err := saveState(e, g); err != nil {
		return err
	}
	ng := g.numGroups()
	r := make([]int64, ng)
	copy(r, rows)
	e.int64s(r)
	e.uvarint(uint64(len(accs)))
	for _, a := range accs {
		if err := saveState(e, a); err != nil {
			return err
		}
	}
	return nil
}

// loadGroups reads what saveGroups wrote into a fresh grouper and fresh
// accumulators, and returns the row counts.
func loadGroups(d *snapDec, g grouper, accs []accumulator) ([]int64, error) {
	if err := loadState(d, g); err != nil {
		return nil, err
	}
	rows := d.int64s()
	if d.err == nil && len(rows) != g.numGroups() {
		return nil, fmt.Errorf("%d row counts for %d groups: %w", len(rows), g.numGroups(), errSnapshotCorrupt)
	}
	if n := d.count(1); d.err == nil && n != len(accs) {
		return nil, fmt.Errorf("snapshot has %d aggregates, operator %d", n, len(accs))
	}
	for _, a := range accs {
		if err := loadState(d, a); err != nil {
			return nil, err
		}
		// Accumulators of groups created after their last update are
		// shorter; make room as consume would.
		a.resize(len(rows))
	}
	return rows, d.err
}

// snapshotPanes writes the state of tumbling, hopping and cumulating
// windows: watermark, late-row count, every live window and queued output.
func (w *WindowAggregate) snapshotPanes(out io.Writer) error {
	var e snapEnc
	e.varint(w.wm)
	e.varint(w.late)
	e.bool1(w.done)
	e.bool1(w.retractable)
	keys := make([]winKey, 0, len(w.panes))
	for k := range w.panes {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b winKey) int {
		if c := cmp.Compare(a.end, b.end); c != 0 {
			return c
		}
		return cmp.Compare(a.start, b.start)
	})
	e.uvarint(uint64(len(keys)))
	for _, k := range keys {
		p := w.panes[k]
		e.varint(k.start)
		e.varint(k.end)
		e.bool1(p.emitted)
		if err := saveGroups(&e, p.g, p.accs, p.rows); err != nil {
			return fmt.Errorf("snapshot window aggregate: %w", err)
		}
	}
	if err := e.messages(w.pending); err != nil {
		return fmt.Errorf("snapshot window aggregate: %w", err)
	}
	if err := writeFrame(out, windowAggTag, e.b); err != nil {
		return fmt.Errorf("snapshot window aggregate: %w", err)
	}
	return nil
}

// restorePanes reads what snapshotPanes wrote.
func (w *WindowAggregate) restorePanes(r io.Reader) error {
	p, err := readFrame(r, windowAggTag)
	if err != nil {
		return fmt.Errorf("restore window aggregate: %w", err)
	}
	d := &snapDec{b: p}
	wm, late, done, retractable := d.varint(), d.varint(), d.bool1(), d.bool1()
	if d.err == nil && retractable != w.retractable {
		return fmt.Errorf("restore window aggregate: snapshot retractable=%v, operator %v", retractable, w.retractable)
	}
	n := d.count(3)
	panes := make(map[winKey]*pane, n)
	for i := 0; i < n && d.err == nil; i++ {
		k := winKey{start: d.varint(), end: d.varint()}
		emitted := d.bool1()
		pn, err := w.newPane(k)
		if err != nil {
			return err
		}
		pn.emitted = emitted
		if pn.rows, err = loadGroups(d, pn.g, pn.accs); err != nil {
			return fmt.Errorf("restore window aggregate: window %s: %w", w.windowString(k), err)
		}
		panes[k] = pn
	}
	if d.err != nil {
		return fmt.Errorf("restore window aggregate: %w", d.err)
	}
	pending, err := d.messages(w.mem)
	if err != nil {
		return fmt.Errorf("restore window aggregate: %w", err)
	}
	if len(d.b) != 0 {
		for _, m := range pending {
			m.Release()
		}
		return fmt.Errorf("restore window aggregate: %d bytes left over: %w", len(d.b), errSnapshotCorrupt)
	}
	for _, m := range w.pending {
		m.Release()
	}
	w.pending = pending
	w.panes = panes
	w.wm, w.late, w.done = wm, late, done
	return nil
}
