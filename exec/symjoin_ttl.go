package exec

import (
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// State time-to-live of the symmetric hash join (regular streaming joins).
//
// The clock is the watermark: a stored row's last touch is its own input's
// watermark when it arrived (rows that came before that input's first
// watermark count as touched by it). A row is dropped from the join state
// once the other input's watermark passes its touch + TTL: from then on
// rows arriving on the other side cannot match it, and a row arriving on
// the other side whose input watermark is already past that point does not
// match it either, even if it is still stored; nor does a stored row
// touched more than the TTL after the arriving row's touch. So a pair
// matches exactly when the touches of its two rows are within the TTL of
// each other, whatever the interleaving of the two inputs (given both
// inputs have had a watermark: a row arriving before its input's first
// watermark matches every stored row that has not expired). Expiry is silent (no
// retractions, like Flink's table.exec.state.ttl); a retraction whose row
// has expired is dropped. End of one input does not expire the other's
// rows (its retractions still need them). Outer, semi and anti joins expire
// the same way and emit nothing either: an expired preserved row leaves its
// output (joined or NULL-padded) downstream, and a row whose matches expired
// keeps its match count, so its NULL-padded row does not come back (as in
// Flink).

// SetStateTTL makes the join (in symmetric mode) forget stored rows as
// described above; 0 keeps them for the whole run.
func (j *HashJoin) SetStateTTL(ttl time.Duration) { j.ttl = max(0, ttl.Microseconds()) }

// StateTTL returns the state time-to-live (0: none).
func (j *HashJoin) StateTTL() time.Duration { return time.Duration(j.ttl) * time.Microsecond }

// symWatermark moves side's watermark to wm: rows the side stored before
// its first watermark are touched by it, and the other side's rows whose
// touch + TTL wm passed expire.
func (j *HashJoin) symWatermark(side int, wm int64) {
	s, o := j.sides[side], j.sides[1-side]
	if wm <= s.wm {
		return
	}
	if s.wm == minInt64 && s.ttl > 0 {
		for b := s.bbase; b < len(s.touch); b++ {
			if s.touch[b] == minInt64 {
				s.touch[b] = wm
			}
		}
	}
	s.wm = wm
	if o.ttl > 0 {
		o.expire(wm)
	}
}

// expire drops the batches (and their entries) whose touch + TTL the other
// side's watermark wm passed, then compacts when the expired entries
// outnumber the live ones.
func (s *symSide) expire(wm int64) {
	for s.bbase < len(s.batches) {
		t := s.touch[s.bbase]
		if t == minInt64 || satSub(t, -s.ttl) >= wm {
			break
		}
		s.batches[s.bbase].Release()
		s.batches[s.bbase] = nil
		s.bbase++
	}
	if s.bbase < len(s.first) {
		s.base = s.first[s.bbase]
	} else {
		s.base = int32(len(s.refs))
	}
	if live := int32(len(s.refs)) - s.base; s.base >= 256 && s.base >= live {
		s.compact()
	}
}

// compact renumbers the live batches and entries from 0, dropping the
// expired ones from the arrays and the index.
func (s *symSide) compact() {
	base, bb := s.base, int32(s.bbase)
	s.batches = append([]arrow.RecordBatch(nil), s.batches[bb:]...)
	s.touch = append([]int64(nil), s.touch[bb:]...)
	first := make([]int32, len(s.first)-int(bb))
	for i, f := range s.first[bb:] {
		first[i] = f - base
	}
	s.first = first
	refs := make([]symRef, len(s.refs)-int(base))
	next := make([]int32, len(refs))
	for i := range refs {
		r := s.refs[int(base)+i]
		refs[i] = symRef{batch: r.batch - bb, row: r.row}
		n := s.next[int(base)+i]
		if n >= base {
			next[i] = n - base
		} else {
			next[i] = -1
		}
	}
	s.refs, s.next = refs, next
	if s.counted {
		s.cnt = append([]int32(nil), s.cnt[base:]...)
	}
	if s.gone != nil {
		gone := map[int32]bool{}
		for e := range s.gone {
			if e >= base {
				gone[e-base] = true
			}
		}
		s.gone = gone
	}
	if s.intKey {
		old := s.heads
		// Sized for the live keys up front: inserting in the old table's
		// slot order into a table that grows from small would pile the
		// keys into its first slots (long linear-probing runs).
		live := 0
		for _, sl := range old.slots {
			if sl.used && sl.val >= base {
				live++
			}
		}
		size := 1 << 10
		for size < 4*live {
			size <<= 1
		}
		s.heads = &i64Index{}
		s.heads.resize(size)
		for _, sl := range old.slots {
			if sl.used && sl.val >= base {
				*s.heads.slot(sl.key) = sl.val - base
			}
		}
	} else {
		heads := make(map[string]int32, len(s.sheads)/2)
		for k, h := range s.sheads {
			if h >= base {
				heads[k] = h - base
			}
		}
		s.sheads = heads
	}
	s.base, s.bbase = 0, 0
}

// liveEntries is the number of stored rows neither expired nor retracted.
func (s *symSide) liveEntries() int {
	n := len(s.refs) - int(s.base)
	for e := range s.gone {
		if e >= s.base {
			n--
		}
	}
	return n
}

// sizeBytes estimates the side's memory: the stored batches' buffers, 12
// bytes per entry, the index and the retracted set.
func (s *symSide) sizeBytes() int64 {
	var n int64
	for _, b := range s.batches[s.bbase:] {
		for _, c := range b.Columns() {
			for _, buf := range c.Data().Buffers() {
				if buf != nil {
					n += int64(buf.Len())
				}
			}
		}
	}
	n += int64(len(s.refs))*12 + int64(len(s.cnt))*4 + int64(len(s.touch))*12 + int64(len(s.gone))*16
	if s.intKey {
		n += int64(len(s.heads.slots)) * 16
	} else {
		for k := range s.sheads {
			n += int64(len(k)) + 16 + mapEntryOverhead
		}
	}
	return n
}

// State returns the join's state: the rows stored by the symmetric mode
// (the bounded mode's build side is not counted). Snapshot and Restore
// (symjoin_snapshot.go) cover the symmetric mode only.
func (j *HashJoin) State() State { return joinState{j} }

type joinState struct{ j *HashJoin }

func (s joinState) Entries() int {
	n := 0
	for _, sd := range s.j.sides {
		if sd != nil {
			n += sd.liveEntries()
		}
	}
	return n
}

func (s joinState) SizeBytes() int64 {
	var n int64
	for _, sd := range s.j.sides {
		if sd != nil {
			n += sd.sizeBytes()
		}
	}
	return n
}
