package exec

import (
	"container/heap"
	"encoding/gob"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// sessions is the state of session windows. Sessions merge when a row
// bridges them, and the hash aggregate's accumulators cannot merge, so each
// session keeps its rows (group keys and aggregate arguments, copied into a
// rowTable) and is aggregated when it is emitted. A row at t opens the
// window [t, t+gap); windows that overlap (strictly: a gap of exactly gap
// closes a session) merge into one.
type sessions struct {
	w     *WindowAggregate
	gap   int64
	table *rowTable
	keys  map[string]*sessKey
	nkeys int // columns of the table that are group keys

	enc   [][]byte
	i64   []int64
	u64   []uint64
	f64   []float64
	strs  []string
	slots []int32
	// retract lists copies of emitted sessions as they were before this
	// batch changed them; their rows are retracted after the batch.
	retract []*session
	// changed lists the sessions (possibly twice, or since merged away)
	// whose new rows follow the retractions.
	changed []*session
	// due orders the live sessions by when the watermark next acts on
	// them, so firing costs the sessions due, not all keys.
	due dueHeap
}

type sessKey struct {
	sessions []*session // sorted by start, disjoint
}

type session struct {
	start, end int64 // end = last row time + gap
	rows       []int32
	emitted    bool
	// changed marks an emitted session modified in the current batch.
	changed bool
	key     string
	sk      *sessKey
	dead    bool // merged into another or dropped
	// early is the partial row last emitted by early fire (nil: none);
	// dirty marks a change since the last early fire
	// (window_early_fire_session.go).
	early *earlyRow
	dirty bool
}

// due is when the watermark next acts on the session: at its end it is
// emitted, lateness later its state goes.
func (x *session) due(lateness int64) int64 {
	if x.emitted {
		return x.end + lateness
	}
	return x.end
}

type dueItem struct {
	at int64
	s  *session
}

type dueHeap []dueItem

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueItem)) }
func (h *dueHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// schedule queues x at its due time. A session has one item in the queue;
// due times only grow, and fire re-queues an item that comes up early.
func (s *sessions) schedule(x *session) {
	heap.Push(&s.due, dueItem{at: x.due(s.w.lateness), s: x})
}

func newSessions(w *WindowAggregate, gap int64) (*sessions, error) {
	types := slices.Clone(w.groupTypes)
	for _, ts := range w.argTypes {
		types = append(types, ts...)
	}
	t, err := newRowTable(types)
	if err != nil {
		return nil, err
	}
	return &sessions{w: w, gap: gap, table: t, keys: map[string]*sessKey{}, nkeys: len(w.groupTypes)}, nil
}

func (s *sessions) reset() {
	s.table, _ = newRowTable(s.table.types())
	s.keys = map[string]*sessKey{}
	s.retract = nil
	s.due = nil
}

func (t *rowTable) types() []arrow.DataType {
	out := make([]arrow.DataType, len(t.cols))
	for i, c := range t.cols {
		out[i] = c.dt
	}
	return out
}

func (s *sessions) entries() int     { return s.table.live }
func (s *sessions) sizeBytes() int64 { return s.table.sizeBytes() + int64(len(s.keys))*48 }

// consume adds a batch's rows to their keys' sessions.
func (s *sessions) consume(tsArr arrow.Array, ts []int64, keys []arrow.Array, args [][]arrow.Array) error {
	w := s.w
	n := len(ts)
	cols := slices.Clone(keys)
	for _, a := range args {
		cols = append(cols, a...)
	}
	s.slots = s.table.addRows(cols, nil, s.slots[:0])
	if len(keys) > 0 {
		s.enc = encodeRows(keys, n, s.enc, &s.i64, &s.u64, &s.f64, &s.strs)
	}
	nulls := tsArr.NullN() > 0
	for i, t := range ts {
		slot := s.slots[i]
		if nulls && tsArr.IsNull(i) {
			w.late++
			s.table.remove(slot)
			continue
		}
		var k string
		if len(keys) > 0 {
			k = string(s.enc[i])
		}
		sk := s.keys[k]
		if sk == nil {
			sk = &sessKey{}
			s.keys[k] = sk
		}
		if !s.add(k, sk, t, slot) {
			w.late++
			s.table.remove(slot)
			if len(sk.sessions) == 0 {
				delete(s.keys, k)
			}
		}
	}
	if w.ef != nil {
		w.ef.flushSessionRetractions(w)
	}
	if err := s.emitRetractions(); err != nil {
		return err
	}
	// Late rows may have made sessions the watermark has already passed.
	return s.fire(false)
}

// add puts a row at time t into sk's sessions, merging those it bridges; it
// reports false for a late row (its window and everything it touches is
// gone).
func (s *sessions) add(key string, sk *sessKey, t int64, slot int32) bool {
	start, end := t, t+s.gap
	lo, hi := -1, -1 // range of overlapping sessions
	for i, ss := range sk.sessions {
		if ss.start < end && start < ss.end {
			if lo < 0 {
				lo = i
			}
			hi = i
		}
	}
	if lo < 0 {
		if s.w.wm != math.MinInt64 && end+s.w.lateness <= s.w.wm {
			return false
		}
		ns := &session{start: start, end: end, rows: []int32{slot}, key: key, sk: sk}
		if s.w.ef != nil {
			s.w.ef.markSession(ns)
		}
		at, _ := slices.BinarySearchFunc(sk.sessions, start, func(x *session, t int64) int { return cmpInt64(x.start, t) })
		sk.sessions = slices.Insert(sk.sessions, at, ns)
		s.schedule(ns)
		return true
	}
	merged := sk.sessions[lo]
	s.noteChange(merged)
	merged.start = min(merged.start, start)
	merged.end = max(merged.end, end)
	merged.rows = append(merged.rows, slot)
	for _, other := range sk.sessions[lo+1 : hi+1] {
		s.noteChange(other)
		merged.start = min(merged.start, other.start)
		merged.end = max(merged.end, other.end)
		merged.rows = append(merged.rows, other.rows...)
		merged.emitted = merged.emitted || other.emitted
		merged.changed = merged.changed || other.changed
		other.dead = true
		if s.w.ef != nil {
			s.w.ef.retractSession(other)
		}
	}
	if s.w.ef != nil {
		if merged.emitted {
			s.w.ef.retractSession(merged) // its final row replaces the partial one
		} else {
			s.w.ef.markSession(merged)
		}
	}
	sk.sessions = slices.Delete(sk.sessions, lo+1, hi+1)
	if merged.changed {
		s.changed = append(s.changed, merged)
	}
	// merged's due time only grew: its queued item is re-queued when it
	// comes up (one heap operation per firing, not per row).
	return true
}

// noteChange remembers an emitted session's pre-change copy once per batch.
func (s *sessions) noteChange(ss *session) {
	if ss.emitted && !ss.changed {
		ss.changed = true
		old := *ss
		old.rows = slices.Clone(ss.rows)
		s.retract = append(s.retract, &old)
	}
}

// emitRetractions retracts the old rows of emitted sessions changed by the
// batch and emits their new rows.
func (s *sessions) emitRetractions() error {
	if len(s.retract) == 0 {
		return nil
	}
	if err := s.emit(s.retract, Delete); err != nil {
		return err
	}
	s.retract = s.retract[:0]
	var changed []*session
	for _, ss := range s.changed {
		if ss.changed && !ss.dead {
			ss.changed = false
			changed = append(changed, ss)
		}
	}
	clear(s.changed)
	s.changed = s.changed[:0]
	slices.SortFunc(changed, func(a, b *session) int { return cmpInt64(a.end, b.end) })
	return s.emit(changed, Insert)
}

// fire emits the sessions the watermark has passed (all at End) and frees
// those past their lateness.
func (s *sessions) fire(end bool) error {
	if end {
		return s.fireAll()
	}
	w := s.w
	var ready, gone []*session
	for len(s.due) > 0 && s.due[0].at <= w.wm {
		it := heap.Pop(&s.due).(dueItem)
		x := it.s
		if x.dead {
			continue
		}
		if d := x.due(w.lateness); it.at < d {
			// Extended or emitted since it was queued (due times only grow).
			heap.Push(&s.due, dueItem{at: d, s: x})
			continue
		}
		if !x.emitted {
			x.emitted = true
			ready = append(ready, x)
			s.schedule(x) // its lateness deadline, possibly already here
			continue
		}
		gone = append(gone, x)
	}
	sortSessions(ready)
	if err := s.emitReady(ready); err != nil {
		return err
	}
	for _, x := range gone {
		s.drop(x)
	}
	return nil
}

// fireAll emits every session not yet emitted and drops all state (End).
func (s *sessions) fireAll() error {
	var ready []*session
	for _, sk := range s.keys {
		for _, x := range sk.sessions {
			if !x.emitted {
				x.emitted = true
				ready = append(ready, x)
			}
		}
	}
	sortSessions(ready)
	if err := s.emitReady(ready); err != nil {
		return err
	}
	for _, sk := range s.keys {
		for _, x := range sk.sessions {
			for _, r := range x.rows {
				s.table.remove(r)
			}
		}
	}
	s.keys = map[string]*sessKey{}
	s.due = nil
	return nil
}

func sortSessions(ss []*session) {
	slices.SortFunc(ss, func(a, b *session) int {
		if a.end != b.end {
			return cmpInt64(a.end, b.end)
		}
		return cmpInt64(a.start, b.start)
	})
}

// drop frees a session's rows and removes it from its key.
func (s *sessions) drop(x *session) {
	for _, r := range x.rows {
		s.table.remove(r)
	}
	x.dead = true
	sk := x.sk
	if i := slices.Index(sk.sessions, x); i >= 0 {
		sk.sessions = slices.Delete(sk.sessions, i, i+1)
	}
	if len(sk.sessions) == 0 && s.keys[x.key] == sk {
		delete(s.keys, x.key)
	}
}

// emit aggregates sessions (one output row each) and queues them as rows of
// kind k.
func (s *sessions) emit(ss []*session, k ChangeKind) error {
	if len(ss) == 0 {
		return nil
	}
	cols, err := s.columns(ss)
	if err != nil {
		return err
	}
	s.w.emitCols(cols, k)
	return nil
}

// columns aggregates sessions ss into output columns, one row each.
func (s *sessions) columns(ss []*session) ([]arrow.Array, error) {
	w := s.w
	var slots, firsts []int32
	var gids []uint32
	for i, x := range ss {
		firsts = append(firsts, x.rows[0])
		for _, r := range x.rows {
			slots = append(slots, r)
			gids = append(gids, uint32(i))
		}
	}
	starts := array.NewTimestampBuilder(w.mem, arrow.FixedWidthTypes.Timestamp_us.(*arrow.TimestampType))
	ends := array.NewTimestampBuilder(w.mem, arrow.FixedWidthTypes.Timestamp_us.(*arrow.TimestampType))
	for _, x := range ss {
		starts.Append(arrow.Timestamp(x.start))
		ends.Append(arrow.Timestamp(x.end))
	}
	cols := []arrow.Array{starts.NewArray(), ends.NewArray()}
	starts.Release()
	ends.Release()
	keyCols := s.table.build(w.mem, firsts)
	cols = append(cols, keyCols[:s.nkeys]...)
	releaseArrays(keyCols[s.nkeys:])
	rows := s.table.build(w.mem, slots)
	defer releaseArrays(rows)
	accs, err := w.newAccs()
	if err != nil {
		releaseArrays(cols)
		return nil, err
	}
	off := s.nkeys
	for i, acc := range accs {
		acc.resize(len(ss))
		nargs := len(w.argTypes[i])
		if err := acc.update(rows[off:off+nargs], gids, nil); err != nil {
			releaseArrays(cols)
			return nil, err
		}
		off += nargs
		cols = append(cols, acc.result(w.mem, nil))
	}
	return cols, nil
}

// sessionsSnapshot is the gob form of the session windows' state.
type sessionsSnapshot struct {
	Table    tableSnapshot
	Keys     []string
	Sessions [][]sessionSnapshot
	Wm, Late int64
}

type sessionSnapshot struct {
	Start, End int64
	Rows       []int32
	Emitted    bool
}

func (s *sessions) snapshot(w io.Writer) error {
	snap := sessionsSnapshot{Table: s.table.snapshot(), Wm: s.w.wm, Late: s.w.late}
	for k, sk := range s.keys {
		var ss []sessionSnapshot
		for _, x := range sk.sessions {
			ss = append(ss, sessionSnapshot{Start: x.start, End: x.end, Rows: x.rows, Emitted: x.emitted})
		}
		snap.Keys, snap.Sessions = append(snap.Keys, k), append(snap.Sessions, ss)
	}
	if err := gob.NewEncoder(w).Encode(snap); err != nil {
		return fmt.Errorf("snapshot session windows: %w", err)
	}
	return nil
}

func (s *sessions) restore(r io.Reader) error {
	var snap sessionsSnapshot
	if err := gob.NewDecoder(r).Decode(&snap); err != nil {
		return fmt.Errorf("restore session windows: %w", err)
	}
	if err := s.table.restore(snap.Table); err != nil {
		return fmt.Errorf("restore session windows: %w", err)
	}
	s.w.wm, s.w.late = snap.Wm, snap.Late
	s.keys = make(map[string]*sessKey, len(snap.Keys))
	s.due = nil
	for i, k := range snap.Keys {
		sk := &sessKey{}
		for _, x := range snap.Sessions[i] {
			ns := &session{start: x.Start, end: x.End, rows: x.Rows, emitted: x.Emitted, key: k, sk: sk}
			sk.sessions = append(sk.sessions, ns)
			s.schedule(ns)
		}
		s.keys[k] = sk
	}
	return nil
}
