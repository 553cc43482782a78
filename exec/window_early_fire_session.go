package exec

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"io"
)

// Early fire of session windows. A session's partial row is kept on the
// session (session.early). When sessions merge, the partial rows of those
// merged away are retracted (-D) at once and the surviving session is
// re-emitted at the next tick (-U/+U of its own partial row, or +I).

// markSession notes a session as changed since the last early fire.
func (ef *earlyFire) markSession(x *session) {
	if !x.dirty {
		x.dirty = true
		ef.sdirty = append(ef.sdirty, x)
	}
}

// retractSession queues the retraction of x's partial row, if any.
func (ef *earlyFire) retractSession(x *session) {
	if x.early != nil {
		ef.sretract = append(ef.sretract, x.early.slot)
		x.early = nil
	}
}

// flushSessionRetractions emits the queued retractions as -D rows.
func (ef *earlyFire) flushSessionRetractions(w *WindowAggregate) {
	if len(ef.sretract) == 0 {
		return
	}
	ops := make([]ChangeKind, len(ef.sretract))
	for i := range ops {
		ops[i] = Delete
	}
	w.emitColsOps(ef.table.build(w.mem, ef.sretract), ops)
	for _, sl := range ef.sretract {
		ef.table.remove(sl)
	}
	ef.sretract = ef.sretract[:0]
}

// emitReady emits sessions the watermark has passed: inserts, or with
// early fire the change from their partial rows.
func (s *sessions) emitReady(ready []*session) error {
	if s.w.ef == nil {
		return s.emit(ready, Insert)
	}
	s.w.ef.flushSessionRetractions(s.w)
	return s.emitSessionDiff(ready, true)
}

// fireEarly emits the partial rows of the sessions changed since the last
// fire and not yet emitted.
func (s *sessions) fireEarly() error {
	ef := s.w.ef
	ef.flushSessionRetractions(s.w)
	var live []*session
	for _, x := range ef.sdirty {
		x.dirty = false
		if !x.dead && !x.emitted {
			live = append(live, x)
		}
	}
	clear(ef.sdirty)
	ef.sdirty = ef.sdirty[:0]
	sortSessions(live)
	return s.emitSessionDiff(live, false)
}

// emitSessionDiff queues the rows of sessions ss that differ from their
// partial rows: -U of the old rows, then +U (or +I where there was none).
// Unless final, the new rows become the sessions' partial rows; final
// frees them.
func (s *sessions) emitSessionDiff(ss []*session, final bool) error {
	if len(ss) == 0 {
		return nil
	}
	w, ef := s.w, s.w.ef
	cols, err := s.columns(ss)
	if err != nil {
		return err
	}
	ef.enc = encodeFullRows(cols, len(ss), ef.enc, &ef.i64, &ef.u64, &ef.f64, &ef.strs)
	var oldSlots, keep []int32
	var oldOps, newOps []ChangeKind
	for i, x := range ss {
		if x.early != nil && x.early.enc == string(ef.enc[i]) {
			continue
		}
		keep = append(keep, int32(i))
		if x.early != nil {
			oldSlots = append(oldSlots, x.early.slot)
			oldOps = append(oldOps, UpdateBefore)
			newOps = append(newOps, UpdateAfter)
		} else {
			newOps = append(newOps, Insert)
		}
	}
	if len(oldSlots) > 0 {
		w.emitColsOps(ef.table.build(w.mem, oldSlots), oldOps)
	}
	out := cols
	if len(keep) > 0 && len(keep) < len(ss) {
		out, err = takeArrays(w.mem, cols, keep)
		releaseArrays(cols)
		if err != nil {
			return fmt.Errorf("early fire: %w", err)
		}
	}
	for j, i := range keep {
		x := ss[i]
		if x.early != nil {
			ef.table.remove(x.early.slot)
			x.early = nil
		}
		if !final {
			x.early = &earlyRow{slot: ef.table.addRow(out, j), enc: string(ef.enc[i])}
		}
	}
	if final {
		for _, x := range ss {
			if x.early != nil {
				ef.table.remove(x.early.slot)
				x.early = nil
			}
		}
	}
	if len(keep) == 0 {
		releaseArrays(cols)
		return nil
	}
	w.emitColsOps(out, newOps)
	return nil
}

// earlySessSnapshot is the gob form of session windows' early-fire state:
// sessions are named by key and position among the key's sessions.
type earlySessSnapshot struct {
	Table     tableSnapshot
	Keys      []string
	Idx       []int
	Slots     []int32
	Enc       []string
	DirtyKeys []string
	DirtyIdx  []int
	Retract   []int32
}

func (ef *earlyFire) snapshotSessions(s *sessions, out io.Writer) error {
	snap := earlySessSnapshot{Table: ef.table.snapshot(), Retract: ef.sretract}
	for k, sk := range s.keys {
		for i, x := range sk.sessions {
			if x.early != nil {
				snap.Keys, snap.Idx = append(snap.Keys, k), append(snap.Idx, i)
				snap.Slots, snap.Enc = append(snap.Slots, x.early.slot), append(snap.Enc, x.early.enc)
			}
			if x.dirty {
				snap.DirtyKeys, snap.DirtyIdx = append(snap.DirtyKeys, k), append(snap.DirtyIdx, i)
			}
		}
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(snap); err != nil {
		return fmt.Errorf("snapshot session early fire: %w", err)
	}
	if err := writeFrame(out, earlyFireTag, buf.Bytes()); err != nil {
		return fmt.Errorf("snapshot session early fire: %w", err)
	}
	return nil
}

// restoreSessions reads what snapshotSessions wrote, after the sessions
// were restored.
func (ef *earlyFire) restoreSessions(s *sessions, r io.Reader) error {
	b, err := readFrame(r, earlyFireTag)
	if err != nil {
		return fmt.Errorf("restore session early fire: %w", err)
	}
	var snap earlySessSnapshot
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&snap); err != nil {
		return fmt.Errorf("restore session early fire: %w", err)
	}
	if err := ef.table.restore(snap.Table); err != nil {
		return fmt.Errorf("restore session early fire: %w", err)
	}
	find := func(k string, i int) (*session, error) {
		sk := s.keys[k]
		if sk == nil || i < 0 || i >= len(sk.sessions) || len(snap.Idx) != len(snap.Keys) {
			return nil, fmt.Errorf("restore session early fire: %w", errSnapshotCorrupt)
		}
		return sk.sessions[i], nil
	}
	if len(snap.Slots) != len(snap.Keys) || len(snap.Enc) != len(snap.Keys) || len(snap.DirtyIdx) != len(snap.DirtyKeys) {
		return fmt.Errorf("restore session early fire: %w", errSnapshotCorrupt)
	}
	for i, k := range snap.Keys {
		x, err := find(k, snap.Idx[i])
		if err != nil {
			return err
		}
		x.early = &earlyRow{slot: snap.Slots[i], enc: snap.Enc[i]}
	}
	ef.sdirty = ef.sdirty[:0]
	for i, k := range snap.DirtyKeys {
		x, err := find(k, snap.DirtyIdx[i])
		if err != nil {
			return err
		}
		x.dirty = false
		ef.markSession(x)
	}
	ef.sretract = snap.Retract
	return nil
}
