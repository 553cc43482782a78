package exec

import (
	"math/bits"

	"github.com/apache/arrow-go/v18/arrow"
)

// joinTable finds the build rows whose keys equal a probe row's keys. NULL
// keys never match.
type joinTable interface {
	// probe appends a (probe row, build row) pair per match.
	probe(keys []arrow.Array, n int, lsel, rsel []int32) ([]int32, []int32)
}

func newJoinTable(keys []arrow.Array, n int) joinTable {
	if len(keys) == 1 && kindOf(keys[0].DataType()) == kInt {
		return newIntJoinTable(keys[0], n)
	}
	return newBytesJoinTable(keys, n)
}

// intJoinTable is the fast path for one integer-like key. Keys in a dense
// range (at most about twice as many values as rows) index an array
// directly ("perfect hashing", as DuckDB does); others go to an
// open-addressing table. Duplicate keys chain through next; when every key
// is unique (the usual primary-key build side) the chain is never read.
type intJoinTable struct {
	// direct path
	direct []int32 // row+1 of the chain head for key min+i; 0: none
	minKey int64
	// hashed path
	slots []jslot
	shift uint

	next    []int32
	unique  bool
	scratch []int64
}

type jslot struct {
	key int64
	row int32 // chain head row + 1; 0 marks an empty slot
}

func newIntJoinTable(key arrow.Array, n int) *intJoinTable {
	t := &intJoinTable{next: make([]int32, n), unique: true}
	vals := int64sOf(key, nil)
	nulls := key.NullN() > 0
	lo, hi := int64(1<<63-1), int64(-1<<63)
	valid := 0
	for i, k := range vals[:n] {
		if nulls && key.IsNull(i) {
			continue
		}
		valid++
		lo, hi = min(lo, k), max(hi, k)
	}
	if valid > 0 && hi-lo >= 0 && uint64(hi-lo) < uint64(2*valid+1024) {
		t.minKey = lo
		t.direct = make([]int32, hi-lo+1)
		for i, k := range vals[:n] {
			if nulls && key.IsNull(i) {
				continue
			}
			h := &t.direct[k-lo]
			if *h != 0 {
				t.unique = false
			}
			t.next[i] = *h - 1
			*h = int32(i) + 1
		}
		return t
	}
	size := 1 << 4
	for size < 2*valid {
		size <<= 1
	}
	t.slots = make([]jslot, size)
	t.shift = uint(64 - bits.TrailingZeros(uint(size)))
	mask := uint64(size - 1)
	for i, k := range vals[:n] {
		if nulls && key.IsNull(i) {
			continue
		}
		idx := (uint64(k) * fib64) >> t.shift
		for {
			s := &t.slots[idx]
			if s.row == 0 {
				s.key, s.row = k, int32(i)+1
				t.next[i] = -1
				break
			}
			if s.key == k {
				t.unique = false
				t.next[i] = s.row - 1
				s.row = int32(i) + 1
				break
			}
			idx = (idx + 1) & mask
		}
	}
	return t
}

func (t *intJoinTable) probe(keys []arrow.Array, n int, lsel, rsel []int32) ([]int32, []int32) {
	key := keys[0]
	vals := int64sOf(key, t.scratch)
	if cap(vals) <= cap(t.scratch) {
		t.scratch = vals
	}
	nulls := key.NullN() > 0
	if t.direct != nil {
		direct, lo := t.direct, t.minKey
		size := uint64(len(direct))
		if t.unique && !nulls {
			// One match at most per row: write pairs without append.
			m := len(lsel)
			lsel, rsel = growSlice(lsel, m+n), growSlice(rsel, m+n)
			for i, k := range vals[:n] {
				off := uint64(k - lo)
				if off >= size {
					continue
				}
				r := direct[off] - 1
				if r < 0 {
					continue
				}
				lsel[m], rsel[m] = int32(i), r
				m++
			}
			return lsel[:m], rsel[:m]
		}
		for i, k := range vals[:n] {
			off := uint64(k - lo)
			if off >= size || (nulls && key.IsNull(i)) {
				continue
			}
			r := direct[off] - 1
			if r < 0 {
				continue
			}
			lsel = append(lsel, int32(i))
			rsel = append(rsel, r)
			if !t.unique {
				for r = t.next[r]; r >= 0; r = t.next[r] {
					lsel = append(lsel, int32(i))
					rsel = append(rsel, r)
				}
			}
		}
		return lsel, rsel
	}
	if t.slots == nil {
		return lsel, rsel
	}
	slots, shift := t.slots, t.shift
	mask := uint64(len(slots) - 1)
	for i, k := range vals[:n] {
		if nulls && key.IsNull(i) {
			continue
		}
		idx := (uint64(k) * fib64) >> shift
		for {
			s := &slots[idx&mask]
			if s.row == 0 {
				break
			}
			if s.key == k {
				r := s.row - 1
				lsel = append(lsel, int32(i))
				rsel = append(rsel, r)
				if !t.unique {
					for r = t.next[r]; r >= 0; r = t.next[r] {
						lsel = append(lsel, int32(i))
						rsel = append(rsel, r)
					}
				}
				break
			}
			idx++
		}
	}
	return lsel, rsel
}

// bytesJoinTable is the general path: serialized keys in a Go map.
type bytesJoinTable struct {
	m    map[string]int32 // chain head row
	next []int32
	rows [][]byte
	i64  []int64
	u64  []uint64
	f64  []float64
	strs []string
}

func newBytesJoinTable(keys []arrow.Array, n int) *bytesJoinTable {
	t := &bytesJoinTable{m: make(map[string]int32, n), next: make([]int32, n)}
	t.rows = encodeRows(keys, n, t.rows, &t.i64, &t.u64, &t.f64, &t.strs)
	for i, r := range t.rows {
		if !rowValid(keys, i) {
			continue
		}
		if h, ok := t.m[string(r)]; ok {
			t.next[i] = h
		} else {
			t.next[i] = -1
		}
		t.m[string(r)] = int32(i)
	}
	t.rows = nil
	return t
}

func (t *bytesJoinTable) probe(keys []arrow.Array, n int, lsel, rsel []int32) ([]int32, []int32) {
	t.rows = encodeRows(keys, n, t.rows, &t.i64, &t.u64, &t.f64, &t.strs)
	for i, r := range t.rows {
		h, ok := t.m[string(r)]
		if !ok || !rowValid(keys, i) {
			continue
		}
		for ; h >= 0; h = t.next[h] {
			lsel = append(lsel, int32(i))
			rsel = append(rsel, h)
		}
	}
	return lsel, rsel
}
