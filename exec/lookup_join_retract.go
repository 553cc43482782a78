package exec

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
)

// Lookup joins over a changelog left input.
//
// A lookup join answers each left row with the table's current row. When
// the left input retracts rows (-U, -D: an aggregate's or an upsert
// table's changelog), joining the retraction with the table's current row
// would not cancel the row emitted for the insertion when the table
// changed in between (Flink's non-deterministic update problem). With
// SetRetractable the join materializes what it emitted instead (Flink's
// TRY_RESOLVE): per live left row, keyed by the values of all its columns
// and kept with multiplicity (one item per live copy, oldest first), the
// table row it was joined with, lkPad (emitted padded with NULLs by a left
// join) or lkNone (nothing emitted: an inner join's miss, or a match that
// failed the residual). +I and +U rows are looked up as in the
// append-only join and remembered; a -U or -D row takes the oldest item of
// its row and emits exactly the row that item stands for (same table
// values, same padding, nothing for lkNone), whatever the table holds now.
// So every emitted row is cancelled by the retraction of its own left row,
// and the folded output is, for each live left row, that row joined with
// the table as it was when the row was inserted.
//
// Items refer to table slots rather than copying the rows: a slot the
// table replaces or deletes while items refer to it is retired (out of the
// index, still holding its values) and freed when its last item goes.
// Left rows are told apart by all their columns, lists and structs
// included (encodeFullRows); identical left rows are interchangeable.
//
// A retraction without an item (its row was never inserted, or its items
// expired under the state TTL) emits nothing and is counted. With a state
// TTL (SetStateTTL) the clock is the left input's watermark: a left row's
// items are forgotten silently once the watermark passes the last
// insertion of the row + TTL (rows inserted before the first watermark
// count as inserted at it), like Flink's table.exec.state.ttl.

const (
	lkPad  int32 = -1 // emitted with NULLs for the table's columns
	lkNone int32 = -2 // nothing emitted
)

// lkItems is a left row's items, oldest first: First, then More (most
// rows have one copy, which then needs no slice).
type lkItems struct {
	First int32
	More  []int32
}

func (l lkItems) each(fn func(int32)) {
	fn(l.First)
	for _, s := range l.More {
		fn(s)
	}
}

// lookupMat is the materialized output of a changelog left input.
type lookupMat struct {
	// rows maps a left row's encoding to an item per live copy.
	rows    *MapState[string, lkItems]
	refs    map[int32]int32 // table slot → items referring to it
	retired map[int32]bool  // slots the table no longer holds
	free    []int32         // retired slots to free once the output is built
	ttl     int64           // µs; 0 keeps items for the whole run
	wm      int64           // last left watermark; minInt64 before the first
	orphans int64           // retractions without an item

	enc  [][]byte
	i64  []int64
	u64  []uint64
	f64  []float64
	strs []string
}

func newLookupMat() *lookupMat {
	m := &lookupMat{rows: NewMapState[string, lkItems](), refs: map[int32]int32{}, retired: map[int32]bool{}, wm: minInt64}
	m.rows.Size = func(k string, v lkItems) int { return len(k) + 4*cap(v.More) }
	return m
}

// SetRetractable makes the join take a changelog left input (see above):
// it then keeps, per live left row, what it emitted for it, so that a
// retraction cancels exactly that. The planner calls it when the left
// input is not append-only. Call it before Open.
func (j *LookupJoin) SetRetractable(on bool) {
	switch {
	case on && j.mat == nil:
		j.mat = newLookupMat()
	case !on:
		j.mat = nil
	}
}

// Retractable reports whether SetRetractable is on.
func (j *LookupJoin) Retractable() bool { return j.mat != nil }

// SetStateTTL makes a retractable join forget a left row's emitted rows
// once the left watermark passes its last insertion + ttl (0: never). An
// append-only join keeps no per-row state and ignores it.
func (j *LookupJoin) SetStateTTL(ttl time.Duration) {
	if j.mat != nil {
		j.mat.ttl = max(0, ttl.Microseconds())
	}
}

// OrphanRetractions returns how many left retractions found nothing to
// cancel (never inserted, or expired) and were dropped.
func (j *LookupJoin) OrphanRetractions() int64 {
	if j.mat == nil {
		return 0
	}
	return j.mat.orphans
}

// probeRetract joins a batch of a changelog left input with the table.
func (j *LookupJoin) probeRetract(ctx context.Context, b Batch) (Batch, error) {
	rec, n := b.Rec, int(b.Rec.NumRows())
	match, err := j.lookupRows(ctx, b, true)
	if err != nil {
		return Batch{}, err
	}
	if j.resEv != nil {
		if err := j.residualPads(ctx, b, match); err != nil {
			return Batch{}, err
		}
	}
	// In row order, so a retraction in the same batch as its insertion
	// finds it.
	m := j.mat
	m.enc = encodeFullRows(rec.Columns(), n, m.enc, &m.i64, &m.u64, &m.f64, &m.strs)
	before := m.orphans
	for i := 0; i < n; i++ {
		if b.Op(i).IsRetraction() {
			match[i] = m.pop(m.enc[i])
			continue
		}
		if match[i] == lkPad && j.typ == InnerJoin {
			match[i] = lkNone
		}
		m.push(m.enc[i], match[i])
	}
	if before == 0 && m.orphans > 0 {
		slog.Warn("lookup join: a retraction of the stream found no row emitted for it (never inserted, or expired by the state TTL); dropped", "join", j.String())
	}
	out, err := j.assemble(b, match, true)
	m.flush(j.table) // after assemble read the retired slots' values
	return out, err
}

// residualPads tests the residual on the rows the lookup matched and sets
// those failing it to lkPad.
func (j *LookupJoin) residualPads(ctx context.Context, b Batch, match []int32) error {
	cand, err := j.assemble(b, match, true)
	if err != nil || cand.Rec == nil {
		return err
	}
	defer cand.Rec.Release()
	res, err := j.resEv.Eval(ctx, cand.Rec)
	if err != nil {
		return err
	}
	defer res.Release()
	mask, _ := res.(*array.Boolean)
	for r, s := range match { // cand holds every row of b, in order
		if s >= 0 && (mask == nil || !mask.IsValid(r) || !mask.Value(r)) {
			match[r] = lkPad
		}
	}
	return nil
}

// push remembers item s for a new copy of the left row k.
func (m *lookupMat) push(k []byte, s int32) {
	ks := string(k)
	if l, ok := m.rows.Get(ks); ok {
		l.More = append(l.More, s)
		m.rows.Put(ks, l)
	} else {
		m.rows.Put(ks, lkItems{First: s})
	}
	if s >= 0 {
		m.refs[s]++
	}
	if m.ttl > 0 && m.wm != minInt64 {
		m.rows.SetExpiry(ks, satSub(m.wm, -m.ttl))
	}
}

// pop takes the oldest item of the left row k (lkNone when it has none).
func (m *lookupMat) pop(k []byte) int32 {
	ks := string(k)
	l, ok := m.rows.Get(ks)
	if !ok {
		m.orphans++
		return lkNone
	}
	s := l.First
	if len(l.More) == 0 {
		m.rows.Delete(ks)
	} else {
		l.First, l.More = l.More[0], l.More[1:]
		if len(l.More) == 0 {
			l.More = nil
		}
		m.rows.Put(ks, l)
	}
	if s >= 0 {
		m.unref(s)
	}
	return s
}

func (m *lookupMat) unref(s int32) {
	if m.refs[s]--; m.refs[s] > 0 {
		return
	}
	delete(m.refs, s)
	if m.retired[s] {
		delete(m.retired, s)
		m.free = append(m.free, s)
	}
}

// retire reports whether items refer to slot s, which the table is
// dropping; if so the slot stays until the last of them goes.
func (m *lookupMat) retire(s int32) bool {
	if m.refs[s] == 0 {
		return false
	}
	m.retired[s] = true
	return true
}

// flush frees the retired slots no item refers to any more.
func (m *lookupMat) flush(t *rowTable) {
	for _, s := range m.free {
		t.remove(s)
	}
	m.free = m.free[:0]
}

// watermark advances the TTL clock to the left watermark wm and forgets
// the rows whose time has come.
func (m *lookupMat) watermark(t *rowTable, wm int64) {
	if wm <= m.wm {
		return
	}
	first := m.wm == minInt64
	m.wm = wm
	if m.ttl <= 0 {
		return
	}
	if first {
		// Rows inserted before the first watermark count as inserted at it.
		var untimed []string
		m.rows.Range(func(k string, _ lkItems) bool {
			if at, _ := m.rows.Expiry(k); at == noExpiry {
				untimed = append(untimed, k)
			}
			return true
		})
		for _, k := range untimed {
			m.rows.SetExpiry(k, satSub(wm, -m.ttl))
		}
	}
	m.rows.Expire(satSub(wm, 1), func(_ string, l lkItems) {
		l.each(func(s int32) {
			if s >= 0 {
				m.unref(s)
			}
		})
	})
	m.flush(t)
}

func (m *lookupMat) sizeBytes() int64 {
	return m.rows.SizeBytes() + int64(len(m.refs))*(8+mapEntryOverhead) + int64(len(m.retired))*(5+mapEntryOverhead)
}

// lookupMatSnapshot is the gob form of a lookupMat; the refs and the
// retired slots are derived from the rows and the table's keys.
type lookupMatSnapshot struct {
	Rows    []byte // MapState snapshot
	Wm      int64
	Orphans int64
}

func (m *lookupMat) snapshot(w io.Writer) error {
	var rows bytes.Buffer
	if err := m.rows.Snapshot(&rows); err != nil {
		return err
	}
	return gob.NewEncoder(w).Encode(lookupMatSnapshot{Rows: rows.Bytes(), Wm: m.wm, Orphans: m.orphans})
}

// restore replaces the state with a snapshot's (empty: the snapshot of an
// append-only join, which remembered nothing); keys and t must already be
// restored: slots referred to that no key holds are retired ones.
func (m *lookupMat) restore(data []byte, keys *upsertIndex, t *rowTable) error {
	ttl := m.ttl
	*m = *newLookupMat()
	m.ttl = ttl
	if len(data) == 0 {
		return nil
	}
	var snap lookupMatSnapshot
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&snap); err != nil {
		return fmt.Errorf("emitted rows: %w", err)
	}
	if err := m.rows.Restore(bytes.NewReader(snap.Rows)); err != nil {
		return fmt.Errorf("emitted rows: %w", err)
	}
	m.wm, m.orphans = snap.Wm, snap.Orphans
	cur := map[int32]bool{}
	keys.each(func(s int32, _ int64) { cur[s] = true })
	var bad error
	m.rows.Range(func(_ string, l lkItems) bool {
		l.each(func(s int32) {
			switch {
			case s >= t.slots || s < lkNone:
				bad = fmt.Errorf("emitted rows: slot %d out of range (%d slots)", s, t.slots)
			case s >= 0:
				m.refs[s]++
				if !cur[s] {
					m.retired[s] = true
				}
			}
		})
		return bad == nil
	})
	return bad
}

// StateTTL returns the state time-to-live (0: none, or append-only).
func (j *LookupJoin) StateTTL() time.Duration {
	if j.mat == nil {
		return 0
	}
	return time.Duration(j.mat.ttl) * time.Microsecond
}
