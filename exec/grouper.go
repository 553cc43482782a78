package exec

import (
	"encoding/binary"
	"math"
	"math/bits"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// grouper maps rows to dense group ids (0, 1, 2, ... in order of first
// appearance) and remembers each group's key values. Arrow exports no
// group-by kernels, so these hash tables are ours.
type grouper interface {
	// lookup fills gids[i] with the group of row i of keys (n rows),
	// creating groups as needed, and returns gids.
	lookup(keys []arrow.Array, n int, gids []uint32) []uint32
	// numGroups is the number of groups created so far.
	numGroups() int
	// keyArrays builds the key columns of the groups in sel (nil: all).
	keyArrays(mem memory.Allocator, sel []uint32) []arrow.Array
}

func newGrouper(types []arrow.DataType) (grouper, error) {
	if len(types) == 0 {
		return &constGrouper{}, nil
	}
	stores := make([]*colStore, len(types))
	for i, t := range types {
		s, err := newColStore(t)
		if err != nil {
			return nil, err
		}
		stores[i] = s
	}
	if len(types) == 1 && stores[0].kind == kInt {
		return newInt64Grouper(stores[0]), nil
	}
	return &bytesGrouper{stores: stores, m: map[string]uint32{}}, nil
}

// constGrouper puts every row in group 0 (aggregates without GROUP BY); the
// group exists from the start so an empty input still yields one row.
type constGrouper struct{}

func (constGrouper) lookup(_ []arrow.Array, n int, gids []uint32) []uint32 {
	gids = growU32(gids, n)
	clear(gids)
	return gids
}
func (constGrouper) numGroups() int                                     { return 1 }
func (constGrouper) keyArrays(memory.Allocator, []uint32) []arrow.Array { return nil }

func growU32(s []uint32, n int) []uint32 {
	if cap(s) < n {
		return make([]uint32, n, n+n/4)
	}
	return s[:n]
}

// int64Grouper is the fast path for one integer-like key (BIGINT, INT,
// DATE, TIMESTAMP, ...): open addressing with linear probing over int64
// keys, Fibonacci hashing, load factor at most 1/2. NULL is its own group.
type int64Grouper struct {
	slots   []i64slot
	shift   uint
	used    int
	store   *colStore
	nullGid int64
	scratch []int64
}

type i64slot struct {
	key int64
	gid uint32 // group id + 1; 0 marks an empty slot
}

const fib64 = 0x9E3779B97F4A7C15

func newInt64Grouper(store *colStore) *int64Grouper {
	g := &int64Grouper{store: store, nullGid: -1}
	g.resize(1 << 10)
	return g
}

func (g *int64Grouper) resize(n int) {
	old := g.slots
	g.slots = make([]i64slot, n)
	g.shift = uint(64 - bits.TrailingZeros(uint(n)))
	mask := uint64(n - 1)
	for _, s := range old {
		if s.gid == 0 {
			continue
		}
		idx := (uint64(s.key) * fib64) >> g.shift
		for g.slots[idx].gid != 0 {
			idx = (idx + 1) & mask
		}
		g.slots[idx] = s
	}
}

func (g *int64Grouper) numGroups() int { return g.store.len() }

func (g *int64Grouper) lookup(keys []arrow.Array, n int, gids []uint32) []uint32 {
	gids = growU32(gids, n)
	key := keys[0]
	for (g.used+n)*2 > len(g.slots) {
		g.resize(len(g.slots) * 2)
	}
	vals := int64sOf(key, g.scratch)
	if cap(vals) <= cap(g.scratch) {
		g.scratch = vals
	}
	slots := g.slots
	shift := g.shift
	mask := uint64(len(slots) - 1)
	hasNulls := key.NullN() > 0
	if !hasNulls {
		for i, k := range vals[:n] {
			idx := (uint64(k) * fib64) >> shift
			if s := &slots[idx]; s.key == k && s.gid != 0 {
				gids[i] = s.gid - 1
				continue
			}
			gids[i] = g.probe(k, idx, mask)
		}
		return gids
	}
	for i, k := range vals[:n] {
		if key.IsNull(i) {
			if g.nullGid < 0 {
				g.nullGid = int64(g.store.len())
				g.store.appendNull()
			}
			gids[i] = uint32(g.nullGid)
			continue
		}
		gids[i] = g.probe(k, (uint64(k)*fib64)>>shift, mask)
	}
	return gids
}

// probe finds or inserts k starting at slot idx.
func (g *int64Grouper) probe(k int64, idx, mask uint64) uint32 {
	slots := g.slots
	for {
		s := &slots[idx]
		if s.gid == 0 {
			id := uint32(g.store.len())
			g.store.i64 = append(g.store.i64, k)
			g.store.valid = append(g.store.valid, true)
			s.key, s.gid = k, id+1
			g.used++
			return id
		}
		if s.key == k {
			return s.gid - 1
		}
		idx = (idx + 1) & mask
	}
}

func (g *int64Grouper) keyArrays(mem memory.Allocator, sel []uint32) []arrow.Array {
	return []arrow.Array{g.store.build(mem, sel)}
}

// bytesGrouper is the general path: each row's keys are serialized into a
// byte string (null flag + fixed-width value or length-prefixed bytes per
// column) and looked up in a Go map.
type bytesGrouper struct {
	stores  []*colStore
	m       map[string]uint32
	rows    [][]byte
	i64     []int64
	u64     []uint64
	f64     []float64
	strs    []string
	scratch []byte
}

func (g *bytesGrouper) numGroups() int { return g.stores[0].len() }

func (g *bytesGrouper) lookup(keys []arrow.Array, n int, gids []uint32) []uint32 {
	gids = growU32(gids, n)
	g.rows = encodeRows(keys, n, g.rows, &g.i64, &g.u64, &g.f64, &g.strs)
	for i, r := range g.rows {
		id, ok := g.m[string(r)]
		if !ok {
			id = uint32(g.stores[0].len())
			g.m[string(r)] = id
			for c, s := range g.stores {
				s.appendFrom(keys[c], i)
			}
		}
		gids[i] = id
	}
	return gids
}

func (g *bytesGrouper) keyArrays(mem memory.Allocator, sel []uint32) []arrow.Array {
	out := make([]arrow.Array, len(g.stores))
	for i, s := range g.stores {
		out[i] = s.build(mem, sel)
	}
	return out
}

// encodeRows serializes n rows of cols into rows (reusing its buffers):
// per column a null flag byte and, when not NULL, the value (8 bytes for
// numbers, 16 for decimals, uvarint length + bytes for strings).
func encodeRows(cols []arrow.Array, n int, rows [][]byte, i64 *[]int64, u64 *[]uint64, f64 *[]float64, strs *[]string) [][]byte {
	if cap(rows) < n {
		rows = append(rows[:cap(rows)], make([][]byte, n-cap(rows))...)
	}
	rows = rows[:n]
	for i := range rows {
		rows[i] = rows[i][:0]
	}
	for _, a := range cols {
		nulls := a.NullN() > 0
		switch kindOf(a.DataType()) {
		case kInt:
			vals := int64sOf(a, *i64)
			if cap(vals) <= cap(*i64) {
				*i64 = vals
			}
			for i := 0; i < n; i++ {
				if nulls && a.IsNull(i) {
					rows[i] = append(rows[i], 0)
					continue
				}
				rows[i] = binary.LittleEndian.AppendUint64(append(rows[i], 1), uint64(vals[i]))
			}
		case kUint:
			vals := uint64sOf(a, *u64)
			for i := 0; i < n; i++ {
				if nulls && a.IsNull(i) {
					rows[i] = append(rows[i], 0)
					continue
				}
				rows[i] = binary.LittleEndian.AppendUint64(append(rows[i], 1), vals[i])
			}
		case kFloat:
			vals := float64sOf(a, *f64)
			for i := 0; i < n; i++ {
				if nulls && a.IsNull(i) {
					rows[i] = append(rows[i], 0)
					continue
				}
				rows[i] = binary.LittleEndian.AppendUint64(append(rows[i], 1), math.Float64bits(normFloat(vals[i])))
			}
		case kString:
			vals := stringsOf(a, *strs)
			*strs = vals
			for i := 0; i < n; i++ {
				if nulls && a.IsNull(i) {
					rows[i] = append(rows[i], 0)
					continue
				}
				rows[i] = binary.AppendUvarint(append(rows[i], 1), uint64(len(vals[i])))
				rows[i] = append(rows[i], vals[i]...)
			}
			clear(vals)
		case kDecimal:
			vals := decimalsOf(a)
			for i := 0; i < n; i++ {
				if nulls && a.IsNull(i) {
					rows[i] = append(rows[i], 0)
					continue
				}
				r := binary.LittleEndian.AppendUint64(append(rows[i], 1), vals[i].LowBits())
				rows[i] = binary.LittleEndian.AppendUint64(r, uint64(vals[i].HighBits()))
			}
		}
	}
	return rows
}
