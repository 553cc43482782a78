package exec

import (
	"encoding/gob"
	"fmt"
	"io"
	"math"
)

// State returns the OVER aggregation's state: buffered rows and each
// partition's frames.
func (o *OverAggregate) State() State { return overState{o} }

type overState struct{ o *OverAggregate }

// overSnapshot is the gob form of an OverAggregate's state.
type overSnapshot struct {
	Fired, Late int64
	Seq         uint64
	Rows        tableSnapshot
	Pending     []overPendingSnap
	Parts       []overPartSnap
}

type overPendingSnap struct {
	Ts   int64
	Seq  uint64
	Slot int32
	Key  string
}

type overPartSnap struct {
	Key    string
	LastTs int64
	Wins   []swagSnap
}

type swagSnap struct {
	Acc, BackAgg    ovPart
	Front, Back     []ovPart
	FrontTs, BackTs []int64
}

// Entries implements State: buffered rows plus rows kept for frames.
func (s overState) Entries() int {
	n := s.o.pending.len()
	for _, p := range s.o.byKey {
		for _, w := range p.wins {
			n += w.size()
		}
	}
	return n
}

// SizeBytes implements State.
func (s overState) SizeBytes() int64 {
	o := s.o
	n := o.rows.sizeBytes() + int64(o.pending.len())*32
	for k, p := range o.byKey {
		n += int64(len(k)) + 64
		for _, w := range p.wins {
			n += int64(w.size())*72 + 128
		}
	}
	return n
}

// Snapshot implements State.
func (s overState) Snapshot(out io.Writer) error {
	o := s.o
	snap := overSnapshot{Fired: o.fired, Late: o.late.Load(), Seq: o.seq, Rows: o.rows.snapshot()}
	for _, p := range o.pending.h {
		snap.Pending = append(snap.Pending, overPendingSnap{Ts: p.ts, Seq: p.seq, Slot: p.slot, Key: p.part.key})
	}
	for k, p := range o.byKey {
		ps := overPartSnap{Key: k, LastTs: p.lastTs}
		for _, w := range p.wins {
			ps.Wins = append(ps.Wins, swagSnap{Acc: w.acc, BackAgg: w.backAgg, Front: w.front, Back: w.back, FrontTs: w.frontTs, BackTs: w.backTs})
		}
		snap.Parts = append(snap.Parts, ps)
	}
	if err := gob.NewEncoder(out).Encode(snap); err != nil {
		return fmt.Errorf("snapshot over aggregate: %w", err)
	}
	return nil
}

// Restore implements State.
func (s overState) Restore(in io.Reader) error {
	o := s.o
	var snap overSnapshot
	if err := gob.NewDecoder(in).Decode(&snap); err != nil {
		return fmt.Errorf("restore over aggregate: %w", err)
	}
	if err := o.rows.restore(snap.Rows); err != nil {
		return fmt.Errorf("restore over aggregate: %w", err)
	}
	o.fired, o.seq = snap.Fired, snap.Seq
	o.late.Store(snap.Late)
	o.byKey = make(map[string]*overPart, len(snap.Parts))
	o.expiry = overExpiry{}
	for _, ps := range snap.Parts {
		if len(ps.Wins) != len(o.funcs) {
			return fmt.Errorf("restore over aggregate: a partition has %d frames, the operator %d calls", len(ps.Wins), len(o.funcs))
		}
		p := o.newPart(ps.Key)
		p.lastTs = ps.LastTs
		for c, ws := range ps.Wins {
			w := p.wins[c]
			if len(ws.Front) != len(ws.FrontTs) || len(ws.Back) != len(ws.BackTs) {
				return fmt.Errorf("restore over aggregate: frame of %d+%d values but %d+%d times", len(ws.Front), len(ws.Back), len(ws.FrontTs), len(ws.BackTs))
			}
			w.acc, w.backAgg, w.front, w.back, w.frontTs, w.backTs = ws.Acc, ws.BackAgg, ws.Front, ws.Back, ws.FrontTs, ws.BackTs
		}
		o.byKey[ps.Key] = p
		if o.maxRange >= 0 && p.lastTs != math.MinInt64 {
			o.expiry.push(overExpiryItem{at: satAdd(p.lastTs, o.maxRange), key: p.key})
		}
	}
	o.pending = overHeap{}
	for _, ps := range snap.Pending {
		p := o.byKey[ps.Key]
		if p == nil {
			p = o.newPart(ps.Key)
			o.byKey[ps.Key] = p
		}
		if ps.Slot < 0 || ps.Slot >= o.rows.slots {
			return fmt.Errorf("restore over aggregate: row slot %d out of range", ps.Slot)
		}
		p.pending++
		o.pending.push(overPending{ts: ps.Ts, seq: ps.Seq, slot: ps.Slot, part: p})
	}
	return nil
}
