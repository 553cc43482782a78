package exec

import (
	"math"
	"testing"
)

// TestUpsertIndexStampWraps: the batch stamp is a uint32 (a long-running
// job folds billions of batches). When it wraps, a key first seen in that
// batch (stamp 0 from add) and a key last touched exactly 2^32 batches
// earlier must still count as untouched by the current batch (they read
// a stale touched index: a panic, or another key's row). At the wrap
// every entry's stamp is cleared.
func TestUpsertIndexStampWraps(t *testing.T) {
	x := newUpsertIndex()
	batch := func(keys ...string) []upsertTouch {
		u := &upsertKeys{keys: keys, kind: make([]rowKind, len(keys))}
		touched, _ := x.fold(u, nil)
		for _, tc := range touched {
			x.set(tc.ent, int32(tc.after), 1)
		}
		return touched
	}
	x.stamp = math.MaxUint32 - 1
	batch("old") // stamp MaxUint32
	for i := 0; i < 3; i++ {
		// The batch after MaxUint32 is the wrap; then two more.
		touched := batch("a", "b", "a")
		if len(touched) != 2 || touched[0].after != 2 || touched[1].after != 1 {
			t.Fatalf("batch %d around the wrap: touched %+v", i, touched)
		}
	}
	// "old" was stamped MaxUint32, just before the wrap.
	touched := batch("b", "old")
	if len(touched) != 2 || touched[1].after != 1 || touched[1].ent != x.pos["old"] {
		t.Fatalf("key stamped before the wrap: touched %+v", touched)
	}
}
