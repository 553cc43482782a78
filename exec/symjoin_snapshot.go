package exec

import (
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Snapshots of the symmetric hash join, for job checkpoints.
//
// A snapshot holds, per side, the stored rows that are neither expired nor
// retracted, batch by batch with each batch's touch time (the state TTL's
// clock), the side's watermark and flags, and the join's queued output.
// Restore stores the rows again through the normal path (rebuilding the
// index, without probing), so a restored join is in symmetric mode from
// its first Next: a job's restarted join never goes through the build
// phase again. A join that has not started (no Next yet) snapshots as
// empty; the bounded mode (the build side ended) cannot be snapshotted.
// Outer, semi and anti joins (symSnapOuter) also write each preserved
// side's match counts, one per stored row in the same order; restore sets
// them on the re-stored rows.

const symJoinTag = "symjoin"

// Snapshot modes.
const (
	symSnapFresh = 0 // Next never called
	symSnapSym   = 1 // symmetric mode
	symSnapOuter = 2 // symmetric mode with match counts (outer, semi, anti)
)

func (s joinState) Snapshot(w io.Writer) error {
	j := s.j
	var e snapEnc
	switch {
	case !j.built:
		e.byte1(symSnapFresh)
	case j.sym:
		if j.core.typ == InnerJoin {
			e.byte1(symSnapSym)
		} else {
			e.byte1(symSnapOuter)
		}
		e.varint(j.lastWM)
		e.uvarint(j.barrierID)
		e.bool1(j.done)
		if err := e.messages(j.pending); err != nil {
			return fmt.Errorf("snapshot hash join: %w", err)
		}
		for _, sd := range j.sides {
			if err := sd.snapshot(&e, j.core.mem); err != nil {
				return fmt.Errorf("snapshot hash join: %w", err)
			}
		}
	default:
		return fmt.Errorf("hash join in bounded mode: %w", ErrSnapshotUnsupported)
	}
	return writeFrame(w, symJoinTag, e.b)
}

// snapshot writes the side's live rows per batch, their touch times, its
// watermark and flags.
func (s *symSide) snapshot(e *snapEnc, mem memory.Allocator) error {
	var batches []Message
	var touch, counts []int64
	defer func() {
		for _, m := range batches {
			m.Release()
		}
	}()
	for b := s.bbase; b < len(s.batches); b++ {
		end := int32(len(s.refs))
		if b+1 < len(s.first) {
			end = s.first[b+1]
		}
		var sel []int32
		for en := max(s.first[b], s.base); en < end; en++ {
			if !s.dead(en) {
				sel = append(sel, s.refs[en].row)
				if s.counted {
					counts = append(counts, int64(s.cnt[en]))
				}
			}
		}
		if len(sel) == 0 {
			continue
		}
		rec, err := takeRecord(mem, s.batches[b], sel)
		if err != nil {
			return err
		}
		batches = append(batches, BatchMsg(rec, nil))
		touch = append(touch, s.touch[b])
	}
	if err := e.messages(batches); err != nil {
		return err
	}
	e.int64s(touch)
	if s.counted {
		e.int64s(counts)
	}
	e.varint(s.wm)
	e.bool1(s.ended)
	e.bool1(s.barrier)
	return nil
}

func (s joinState) Restore(r io.Reader) error {
	j := s.j
	p, err := readFrame(r, symJoinTag)
	if err != nil {
		return fmt.Errorf("restore hash join: %w", err)
	}
	d := &snapDec{b: p}
	mode := d.byte1()
	switch mode {
	case symSnapFresh:
		return d.err
	case symSnapSym, symSnapOuter:
		if (mode == symSnapOuter) != (j.core.typ != InnerJoin) {
			return fmt.Errorf("restore hash join: a snapshot of another join type: %w", errSnapshotCorrupt)
		}
	default:
		return fmt.Errorf("restore hash join: %w", errSnapshotCorrupt)
	}
	lastWM, barrierID, done := d.varint(), d.uvarint(), d.bool1()
	pending, err := d.messages(j.core.mem)
	if err != nil {
		return fmt.Errorf("restore hash join: %w", err)
	}
	lt, rt := make([]arrow.DataType, len(j.leftKeys)), make([]arrow.DataType, len(j.rightKeys))
	for i := range j.leftKeys {
		lt[i], rt[i] = j.leftKeys[i].Type(), j.rightKeys[i].Type()
	}
	sides := [2]*symSide{newSymSide(j.lkEvs, lt), newSymSide(j.rkEvs, rt)}
	fail := func(err error) error {
		for _, m := range pending {
			m.Release()
		}
		for _, sd := range sides {
			sd.release()
		}
		return fmt.Errorf("restore hash join: %w", err)
	}
	types := [2][]arrow.DataType{lt, rt}
	for i, sd := range sides {
		sd.ttl = j.ttl
		sd.counted = preserved(j.core.typ, i)
		// Rows are stored again without matching: probe an empty side.
		empty := newSymSide(sides[1-i].keyEvs, types[1-i])
		if err := sd.restore(d, j.core.mem, empty); err != nil {
			return fail(err)
		}
	}
	if d.err != nil || len(d.b) != 0 {
		return fail(errSnapshotCorrupt)
	}
	for _, sd := range j.sides {
		if sd != nil {
			sd.release()
		}
	}
	for _, m := range j.pending {
		m.Release()
	}
	j.sides, j.pending = sides, pending
	j.built, j.sym, j.done = true, true, done
	j.lastWM, j.barrierID = lastWM, barrierID
	return nil
}

// restore reads what snapshot wrote and stores the rows.
func (s *symSide) restore(d *snapDec, mem memory.Allocator, empty *symSide) error {
	batches, err := d.messages(mem)
	if err != nil {
		return err
	}
	defer func() {
		for _, m := range batches {
			m.Release()
		}
	}()
	touch := d.int64s()
	var counts []int64
	if s.counted {
		counts = d.int64s()
	}
	if d.err != nil || len(touch) != len(batches) {
		return errSnapshotCorrupt
	}
	for i, m := range batches {
		if m.Kind != MsgBatch {
			return errSnapshotCorrupt
		}
		s.wm = touch[i] // add records the side's watermark as the touch
		first := len(s.refs)
		if _, err := s.add(context.Background(), Batch{Rec: m.Batch.Rec}, empty); err != nil {
			return err
		}
		if s.counted {
			// Every snapshotted row was stored (their keys are not NULL),
			// in order: the entries from first on are this batch's rows.
			for e := first; e < len(s.refs); e++ {
				if len(counts) == 0 {
					return errSnapshotCorrupt
				}
				s.cnt[e], counts = int32(counts[0]), counts[1:]
			}
		}
	}
	if len(counts) != 0 {
		return errSnapshotCorrupt
	}
	s.wm, s.ended, s.barrier = d.varint(), d.bool1(), d.bool1()
	return d.err
}

// leftAtBarrier reports whether the left input's last message buffered
// during the build phase is a barrier: the left input is then not read
// until the mode is decided, so a switch to symmetric mode replays no left
// row after a barrier the right input has not delivered yet (barriers stay
// aligned, which a job's checkpoint of the join needs).
func (j *HashJoin) leftAtBarrier() bool {
	n := len(j.buffered)
	return n > 0 && j.buffered[n-1].Kind == MsgBarrier
}

// Streams reports whether the join can run over two unbounded inputs: every
// join type goes symmetric (aligning barriers) when its build side streams,
// unless SetBoundedInputs kept an outer, semi or anti join bounded.
func (j *HashJoin) Streams() bool { return j.mayStream() }
