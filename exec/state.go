package exec

import (
	"cmp"
	"container/heap"
	"encoding/gob"
	"fmt"
	"io"
	"math"
	"strings"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// State is what a stateful operator reports about, and saves of, the state
// it keeps between messages: figures for metrics and EXPLAIN ANALYZE, and a
// byte stream for checkpoints.
type State interface {
	// Entries is the number of live entries (keys, groups, buffered rows).
	Entries() int
	// SizeBytes estimates the memory the state holds.
	SizeBytes() int64
	// Snapshot writes the state to w.
	Snapshot(w io.Writer) error
	// Restore replaces the state with one written by Snapshot.
	Restore(r io.Reader) error
}

// Stateful is implemented by operators that keep state.
type Stateful interface {
	State() State
}

// KeyedState is keyed operator state with time-to-live: each entry may carry
// an expiry time (event time in µs, or any clock the operator chooses) and
// Expire removes the entries whose time has come. Implementations are not
// safe for concurrent use: an operator owns its state.
type KeyedState[K comparable, V any] interface {
	State
	// Get returns the value of k.
	Get(k K) (V, bool)
	// Put sets the value of k, keeping its expiry if it has one.
	Put(k K, v V)
	// Delete removes k.
	Delete(k K)
	// SetExpiry makes k expire once Expire is called with a time ≥ at.
	SetExpiry(k K, at int64)
	// Expire removes every entry whose expiry is ≤ now, calling fn (if not
	// nil) with each before it goes, and returns how many went.
	Expire(now int64, fn func(K, V)) int
	// Range calls fn for every entry until fn returns false. fn must not
	// modify the state.
	Range(fn func(K, V) bool)
}

// noExpiry marks an entry that never expires.
const noExpiry = math.MaxInt64

// MapState is the in-memory KeyedState: a Go map plus a min-heap of expiry
// times (with lazy deletion: a heap item is ignored unless it still matches
// its entry's expiry). Snapshots use encoding/gob, so K and V must be
// gob-encodable (exported fields).
type MapState[K comparable, V any] struct {
	m     map[K]mapEntry[V]
	exp   expiryHeap[K]
	bytes int64
	// Size, when set, gives the variable size of an entry (e.g. the length
	// of a string key) on top of the fixed per-entry estimate.
	Size func(K, V) int
}

type mapEntry[V any] struct {
	v   V
	exp int64
}

// mapEntryOverhead approximates a Go map slot's bookkeeping per entry.
const mapEntryOverhead = 16

// NewMapState returns an empty MapState.
func NewMapState[K comparable, V any]() *MapState[K, V] {
	return &MapState[K, V]{m: map[K]mapEntry[V]{}}
}

func (s *MapState[K, V]) entrySize(k K, v V) int64 {
	var e mapEntry[V]
	n := int64(unsafe.Sizeof(k)) + int64(unsafe.Sizeof(e)) + mapEntryOverhead
	if s.Size != nil {
		n += int64(s.Size(k, v))
	}
	return n
}

// Get implements KeyedState.
func (s *MapState[K, V]) Get(k K) (V, bool) {
	e, ok := s.m[k]
	return e.v, ok
}

// Put implements KeyedState.
func (s *MapState[K, V]) Put(k K, v V) {
	e, ok := s.m[k]
	if ok {
		s.bytes -= s.entrySize(k, e.v)
	} else {
		e.exp = noExpiry
	}
	e.v = v
	s.m[k] = e
	s.bytes += s.entrySize(k, v)
}

// Delete implements KeyedState.
func (s *MapState[K, V]) Delete(k K) {
	if e, ok := s.m[k]; ok {
		s.bytes -= s.entrySize(k, e.v)
		delete(s.m, k)
	}
}

// SetExpiry implements KeyedState. A key that is not present is ignored.
func (s *MapState[K, V]) SetExpiry(k K, at int64) {
	e, ok := s.m[k]
	if !ok || e.exp == at {
		return
	}
	e.exp = at
	s.m[k] = e
	if at != noExpiry {
		heap.Push(&s.exp, expiryItem[K]{at: at, k: k})
	}
}

// Expiry returns k's expiry time (math.MaxInt64 when it has none) and
// whether k is present.
func (s *MapState[K, V]) Expiry(k K) (int64, bool) {
	e, ok := s.m[k]
	return e.exp, ok
}

// Expire implements KeyedState.
func (s *MapState[K, V]) Expire(now int64, fn func(K, V)) int {
	n := 0
	for len(s.exp) > 0 && s.exp[0].at <= now {
		it := heap.Pop(&s.exp).(expiryItem[K])
		e, ok := s.m[it.k]
		if !ok || e.exp != it.at {
			continue // stale: deleted or re-timed since
		}
		if fn != nil {
			fn(it.k, e.v)
		}
		s.Delete(it.k)
		n++
	}
	return n
}

// Range implements KeyedState.
func (s *MapState[K, V]) Range(fn func(K, V) bool) {
	for k, e := range s.m {
		if !fn(k, e.v) {
			return
		}
	}
}

// Entries implements State.
func (s *MapState[K, V]) Entries() int { return len(s.m) }

// SizeBytes implements State. Expiry heap items count too.
func (s *MapState[K, V]) SizeBytes() int64 {
	var it expiryItem[K]
	return s.bytes + int64(len(s.exp))*int64(unsafe.Sizeof(it))
}

// snapEntry is one entry as written to a snapshot.
type snapEntry[K comparable, V any] struct {
	K   K
	V   V
	Exp int64
}

// Snapshot implements State.
func (s *MapState[K, V]) Snapshot(w io.Writer) error {
	es := make([]snapEntry[K, V], 0, len(s.m))
	for k, e := range s.m {
		es = append(es, snapEntry[K, V]{K: k, V: e.v, Exp: e.exp})
	}
	if err := gob.NewEncoder(w).Encode(es); err != nil {
		return fmt.Errorf("snapshot keyed state: %w", err)
	}
	return nil
}

// Restore implements State.
func (s *MapState[K, V]) Restore(r io.Reader) error {
	var es []snapEntry[K, V]
	if err := gob.NewDecoder(r).Decode(&es); err != nil {
		return fmt.Errorf("restore keyed state: %w", err)
	}
	s.m = make(map[K]mapEntry[V], len(es))
	s.exp = s.exp[:0]
	s.bytes = 0
	for _, e := range es {
		s.Put(e.K, e.V)
		s.SetExpiry(e.K, e.Exp)
	}
	return nil
}

type expiryItem[K any] struct {
	at int64
	k  K
}

type expiryHeap[K any] []expiryItem[K]

func (h expiryHeap[K]) Len() int           { return len(h) }
func (h expiryHeap[K]) Less(i, j int) bool { return h[i].at < h[j].at }
func (h expiryHeap[K]) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap[K]) Push(x any)        { *h = append(*h, x.(expiryItem[K])) }
func (h *expiryHeap[K]) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// rowTable keeps rows copied out of Arrow batches in typed Go slices, one
// per column, addressed by slot; freed slots are reused. Operators that must
// re-emit a row later (dedup's retractions, Top-N, interval join buffers)
// keep it here rather than retaining whole batches, so memory follows the
// live rows, not the batches they came in. Columns must be of a kind the
// hash tables know (numbers, strings, binaries, temporal types, decimals).
type rowTable struct {
	cols     []*tableCol
	free     []int32
	slots    int32
	live     int
	strBytes int64
	scratch  []int64
	sscratch []string
}

type tableCol struct {
	dt    arrow.DataType
	kind  vkind
	i64   []int64
	u64   []uint64
	f64   []float64
	str   []string
	dec   []decimal128.Num
	valid []bool
}

func newRowTable(types []arrow.DataType) (*rowTable, error) {
	t := &rowTable{}
	for _, dt := range types {
		k := kindOf(dt)
		if k == kInvalid {
			return nil, fmt.Errorf("cannot keep values of type %s in operator state", dt)
		}
		t.cols = append(t.cols, &tableCol{dt: dt, kind: k})
	}
	return t, nil
}

// rowSlotBytes estimates the fixed bytes of one row per column.
const rowSlotBytes = 9

// sizeBytes estimates the memory held by the table.
func (t *rowTable) sizeBytes() int64 {
	return int64(t.slots)*int64(len(t.cols))*rowSlotBytes + t.strBytes + int64(len(t.free))*4
}

// alloc returns a free slot, growing the columns when none is free.
func (t *rowTable) alloc() int32 {
	t.live++
	if n := len(t.free); n > 0 {
		s := t.free[n-1]
		t.free = t.free[:n-1]
		return s
	}
	s := t.slots
	t.slots++
	for _, c := range t.cols {
		c.valid = append(c.valid, false)
		switch c.kind {
		case kInt:
			c.i64 = append(c.i64, 0)
		case kUint:
			c.u64 = append(c.u64, 0)
		case kFloat:
			c.f64 = append(c.f64, 0)
		case kString:
			c.str = append(c.str, "")
		case kDecimal:
			c.dec = append(c.dec, decimal128.Num{})
		}
	}
	return s
}

// remove frees slot s.
func (t *rowTable) remove(s int32) {
	for _, c := range t.cols {
		if c.kind == kString {
			t.strBytes -= int64(len(c.str[s]))
			c.str[s] = ""
		}
		c.valid[s] = false
	}
	t.free = append(t.free, s)
	t.live--
}

// addRows copies rows sel of cols (one array per table column; sel nil means
// every row) into new slots, appending them to out.
func (t *rowTable) addRows(cols []arrow.Array, sel []int32, out []int32) []int32 {
	n := len(sel)
	if sel == nil {
		n = cols[0].Len()
	}
	base := len(out)
	for j := 0; j < n; j++ {
		out = append(out, t.alloc())
	}
	slots := out[base:]
	row := func(j int) int {
		if sel == nil {
			return j
		}
		return int(sel[j])
	}
	for ci, c := range t.cols {
		a := cols[ci]
		nulls := a.NullN() > 0
		for j, s := range slots {
			c.valid[s] = !nulls || a.IsValid(row(j))
		}
		switch c.kind {
		case kInt:
			vals := int64sOf(a, t.scratch)
			if cap(vals) <= cap(t.scratch) {
				t.scratch = vals
			}
			for j, s := range slots {
				c.i64[s] = vals[row(j)]
			}
		case kUint:
			vals := uint64sOf(a, nil)
			for j, s := range slots {
				c.u64[s] = vals[row(j)]
			}
		case kFloat:
			vals := float64sOf(a, nil)
			for j, s := range slots {
				c.f64[s] = vals[row(j)]
			}
		case kString:
			vals := stringsOf(a, t.sscratch)
			for j, s := range slots {
				if c.valid[s] {
					v := strings.Clone(vals[row(j)])
					c.str[s] = v
					t.strBytes += int64(len(v))
				}
			}
			clear(vals)
			t.sscratch = vals
		case kDecimal:
			vals := decimalsOf(a)
			for j, s := range slots {
				c.dec[s] = vals[row(j)]
			}
		}
	}
	return out
}

// addRow copies row i of cols into a new slot (one value at a time: for
// the occasional row; addRows is the batch path).
func (t *rowTable) addRow(cols []arrow.Array, i int) int32 {
	s := t.alloc()
	for ci, c := range t.cols {
		a := cols[ci]
		c.valid[s] = a.IsValid(i)
		if !c.valid[s] {
			continue
		}
		switch c.kind {
		case kInt:
			c.i64[s] = int64At(a, i)
		case kUint:
			c.u64[s] = uint64At(a, i)
		case kFloat:
			c.f64[s] = float64At(a, i)
		case kString:
			v := strings.Clone(stringAt(a, i))
			c.str[s] = v
			t.strBytes += int64(len(v))
		case kDecimal:
			c.dec[s] = a.(*array.Decimal128).Value(i)
		}
	}
	return s
}

// compareValue orders value i of a (of the column's type) against slot s
// of column c, NULLs below every value like compare.
func (c *tableCol) compareValue(a arrow.Array, i int, s int32) int {
	va, vs := a.IsValid(i), c.valid[s]
	switch {
	case !va && !vs:
		return 0
	case !va:
		return -1
	case !vs:
		return 1
	}
	switch c.kind {
	case kInt:
		return cmp.Compare(int64At(a, i), c.i64[s])
	case kUint:
		return cmp.Compare(uint64At(a, i), c.u64[s])
	case kFloat:
		return cmp.Compare(float64At(a, i), c.f64[s])
	case kString:
		return strings.Compare(stringAt(a, i), c.str[s])
	case kDecimal:
		return a.(*array.Decimal128).Value(i).Cmp(c.dec[s])
	}
	return 0
}

// build returns one array per column holding the rows at slots, in order.
func (t *rowTable) build(mem memory.Allocator, slots []int32) []arrow.Array {
	out := make([]arrow.Array, len(t.cols))
	for i, c := range t.cols {
		out[i] = c.build(mem, slots)
	}
	return out
}

func (c *tableCol) build(mem memory.Allocator, slots []int32) arrow.Array {
	n := len(slots)
	if c.kind == kInt && (c.dt.ID() == arrow.INT64 || c.dt.ID() == arrow.TIMESTAMP) {
		// Fixed-width fast path: fill the buffers directly.
		var valid *memory.Buffer
		nulls := 0
		for _, s := range slots {
			if !c.valid[s] {
				nulls++
			}
		}
		if nulls > 0 {
			valid = memory.NewResizableBuffer(mem)
			valid.Resize(int(bitutil.BytesForBits(int64(n))))
			bs := valid.Bytes()
			clear(bs)
			for j, s := range slots {
				if c.valid[s] {
					bitutil.SetBit(bs, j)
				}
			}
		}
		data := memory.NewResizableBuffer(mem)
		data.Resize(n * 8)
		vals := arrow.Int64Traits.CastFromBytes(data.Bytes())[:n]
		for j, s := range slots {
			vals[j] = c.i64[s]
		}
		d := array.NewData(c.dt, n, []*memory.Buffer{valid, data}, nil, nulls, 0)
		if valid != nil {
			valid.Release()
		}
		data.Release()
		a := array.MakeFromData(d)
		d.Release()
		return a
	}
	b := array.NewBuilder(mem, c.dt)
	defer b.Release()
	b.Reserve(n)
	if sb, ok := b.(*array.StringBuilder); ok {
		total := 0
		for _, s := range slots {
			total += len(c.str[s])
		}
		sb.ReserveData(total)
	}
	// tableCol has colStore's layout: share its typed append.
	cs := (*colStore)(c)
	for _, s := range slots {
		if !c.valid[s] {
			b.AppendNull()
			continue
		}
		cs.appendTo(b, int(s))
	}
	return b.NewArray()
}

// compare orders slots a and b of column c: NULLs compare below every value
// (the caller applies direction and NULL placement).
func (c *tableCol) compare(a, b int32) int {
	va, vb := c.valid[a], c.valid[b]
	switch {
	case !va && !vb:
		return 0
	case !va:
		return -1
	case !vb:
		return 1
	}
	switch c.kind {
	case kInt:
		return cmp.Compare(c.i64[a], c.i64[b])
	case kUint:
		return cmp.Compare(c.u64[a], c.u64[b])
	case kFloat:
		return cmp.Compare(c.f64[a], c.f64[b])
	case kString:
		return strings.Compare(c.str[a], c.str[b])
	case kDecimal:
		return c.dec[a].Cmp(c.dec[b])
	}
	return 0
}

// tableSnapshot is the gob form of a rowTable (types come from the plan).
type tableSnapshot struct {
	Slots int32
	Free  []int32
	Cols  []colSnapshot
}

type colSnapshot struct {
	I64   []int64
	U64   []uint64
	F64   []float64
	Str   []string
	Dec   [][2]uint64
	Valid []bool
}

func (t *rowTable) snapshot() tableSnapshot {
	s := tableSnapshot{Slots: t.slots, Free: t.free}
	for _, c := range t.cols {
		cs := colSnapshot{I64: c.i64, U64: c.u64, F64: c.f64, Str: c.str, Valid: c.valid}
		for _, d := range c.dec {
			cs.Dec = append(cs.Dec, [2]uint64{d.LowBits(), uint64(d.HighBits())})
		}
		s.Cols = append(s.Cols, cs)
	}
	return s
}

func (t *rowTable) restore(s tableSnapshot) error {
	if len(s.Cols) != len(t.cols) {
		return fmt.Errorf("restore rows: snapshot has %d columns, operator %d", len(s.Cols), len(t.cols))
	}
	t.slots, t.free, t.strBytes = s.Slots, s.Free, 0
	t.live = int(s.Slots) - len(s.Free)
	for i, c := range t.cols {
		cs := s.Cols[i]
		if len(cs.Valid) != int(s.Slots) {
			return fmt.Errorf("restore rows: column %d has %d slots, want %d", i, len(cs.Valid), s.Slots)
		}
		c.i64, c.u64, c.f64, c.str, c.valid = cs.I64, cs.U64, cs.F64, cs.Str, cs.Valid
		c.dec = c.dec[:0]
		for _, d := range cs.Dec {
			c.dec = append(c.dec, decimal128.New(int64(d[1]), d[0]))
		}
		for _, v := range c.str {
			t.strBytes += int64(len(v))
		}
	}
	return nil
}
