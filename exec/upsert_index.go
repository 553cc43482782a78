package exec

import (
	"encoding/gob"
	"fmt"
	"io"
	"unsafe"
)

// upsertIndex maps the upsert keys of a table (UpsertMaterialize,
// LookupJoin) to their rows' slots. Entries live in a slice addressed by
// index, so folding a batch costs one map lookup per row: the entry
// remembers (by a batch stamp) whether and where the batch touched it
// already.
type upsertIndex struct {
	pos      map[string]int32
	ents     []upsertIdxEnt
	free     []int32
	stamp    uint32
	strBytes int64
}

type upsertIdxEnt struct {
	key   string
	slot  int32 // row slot; -1 while a key first seen in this batch has none
	seq   int64 // sequence number of the write that put the row there
	stamp uint32
	touch int32 // index in the batch's touched list when stamp is current
}

// upsertTouch is an entry changed by the current batch: its slot before
// the batch (-1: absent) and the row of the batch it ends with (-1:
// deleted).
type upsertTouch struct {
	ent    int32
	before int32
	after  int
}

func newUpsertIndex() *upsertIndex { return &upsertIndex{pos: map[string]int32{}} }

// fold computes the net change per key of a batch of upsert rows: within
// a batch the last row of a key wins. It reports whether a bootstrap
// marker was seen. Keys seen for the first time get an entry (slot -1);
// the caller settles every touched entry with set or drop.
func (x *upsertIndex) fold(u *upsertKeys, touched []upsertTouch) ([]upsertTouch, bool) {
	touched = touched[:0]
	x.stamp++
	if x.stamp == 0 {
		// Wrapped (2^32 batches): stamps of earlier batches could equal
		// the coming ones, and new entries carry 0. Clear them all.
		for i := range x.ents {
			x.ents[i].stamp = 0
		}
		x.stamp = 1
	}
	marker := false
	for i, k := range u.kind {
		switch k {
		case rowMarker:
			marker = true
			continue
		case rowNoKey:
			continue
		}
		key := u.keys[i]
		e, ok := x.pos[key]
		if !ok {
			if k == rowTombstone {
				continue // an absent key, not touched by this batch either
			}
			e = x.add(key)
		}
		ent := &x.ents[e]
		if ent.stamp != x.stamp {
			ent.stamp, ent.touch = x.stamp, int32(len(touched))
			touched = append(touched, upsertTouch{ent: e, before: ent.slot, after: -1})
		}
		if k == rowTombstone {
			touched[ent.touch].after = -1
		} else {
			touched[ent.touch].after = i
		}
	}
	return touched, marker
}

func (x *upsertIndex) add(key string) int32 {
	var e int32
	if n := len(x.free); n > 0 {
		e = x.free[n-1]
		x.free = x.free[:n-1]
	} else {
		e = int32(len(x.ents))
		x.ents = append(x.ents, upsertIdxEnt{})
	}
	x.ents[e] = upsertIdxEnt{key: key, slot: -1}
	x.pos[key] = e
	x.strBytes += int64(len(key))
	return e
}

// set gives entry e its new row.
func (x *upsertIndex) set(e, slot int32, seq int64) {
	x.ents[e].slot, x.ents[e].seq = slot, seq
}

// drop removes entry e (its key is deleted, or was never kept).
func (x *upsertIndex) drop(e int32) {
	ent := &x.ents[e]
	delete(x.pos, ent.key)
	x.strBytes -= int64(len(ent.key))
	*ent = upsertIdxEnt{slot: -1}
	x.free = append(x.free, e)
}

// each calls fn with the slot and sequence number of every live row.
func (x *upsertIndex) each(fn func(slot int32, seq int64)) {
	for _, e := range x.pos {
		if s := x.ents[e].slot; s >= 0 {
			fn(s, x.ents[e].seq)
		}
	}
}

func (x *upsertIndex) entries() int { return len(x.pos) }

func (x *upsertIndex) sizeBytes() int64 {
	var ent upsertIdxEnt
	perKey := int64(unsafe.Sizeof("")) + 4 + mapEntryOverhead
	return int64(len(x.pos))*perKey + int64(cap(x.ents))*int64(unsafe.Sizeof(ent)) + int64(cap(x.free))*4 + x.strBytes
}

// upsertKeySnap is one key as written to a snapshot.
type upsertKeySnap struct {
	K    string
	Slot int32
	Seq  int64
}

func (x *upsertIndex) snapshot(w io.Writer) error {
	out := make([]upsertKeySnap, 0, len(x.pos))
	for k, e := range x.pos {
		out = append(out, upsertKeySnap{K: k, Slot: x.ents[e].slot, Seq: x.ents[e].seq})
	}
	if err := gob.NewEncoder(w).Encode(out); err != nil {
		return fmt.Errorf("snapshot upsert keys: %w", err)
	}
	return nil
}

func (x *upsertIndex) restore(r io.Reader) error {
	var in []upsertKeySnap
	if err := gob.NewDecoder(r).Decode(&in); err != nil {
		return fmt.Errorf("restore upsert keys: %w", err)
	}
	*x = upsertIndex{pos: make(map[string]int32, len(in))}
	for _, k := range in {
		x.set(x.add(k.K), k.Slot, k.Seq)
	}
	return nil
}
