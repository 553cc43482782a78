package exec

import (
	"context"
	"fmt"
	"math/bits"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/magnetar-sql/magnetar/expr"
)

// symSide is one input of a symmetric hash join: every batch seen so far
// and a hash index from key to the rows holding it. The index is free of
// Go pointers (chains of int32 entry ids), so a large join state costs the
// garbage collector nothing to scan: one integer key uses map[int64]int32,
// other keys a map from the serialized key to the chain head.
type symSide struct {
	keyEvs  []expr.Evaluator
	intKey  bool
	batches []arrow.RecordBatch
	heads   *i64Index
	sheads  map[string]int32
	refs    []symRef       // entry id -> row
	next    []int32        // entry id -> previous entry with the same key, or -1
	gone    map[int32]bool // retracted entries

	// State TTL (symjoin_ttl.go): touch[b] is the side's watermark when
	// batch b arrived (minInt64 until the side's first watermark), first[b]
	// its first entry id. Batches before bbase and entries before base have
	// expired; compact renumbers both from 0.
	ttl   int64
	touch []int64
	first []int32
	bbase int
	base  int32

	// Outer, semi and anti joins (symjoin_outer.go): cnt[e] is the number
	// of rows of the other side entry e currently joins with; rowEntry[i]
	// is the entry the last add stored (or removed) for its row i, or
	// entryNone / entrySkipped.
	// matchE[k] is the other side's entry of the last add's match k, kept
	// only when the other side is counted.
	counted  bool
	cnt      []int32
	rowEntry []int32
	matchE   []int32

	rows    [][]byte
	i64     []int64
	u64     []uint64
	f64     []float64
	strs    []string
	wm      int64
	ended   bool
	barrier bool
}

type symRef struct{ batch, row int32 }

func newSymSide(evs []expr.Evaluator, keyTypes []arrow.DataType) *symSide {
	s := &symSide{keyEvs: evs, wm: minInt64}
	if len(keyTypes) == 1 && kindOf(keyTypes[0]) == kInt {
		s.intKey = true
		s.heads = newI64Index()
	} else {
		s.sheads = map[string]int32{}
	}
	return s
}

func (s *symSide) release() {
	for _, b := range s.batches {
		if b != nil { // nil: expired
			b.Release()
		}
	}
	s.batches = nil
	s.heads, s.sheads = nil, nil
}

// symMatch is a match of row `row` of the arriving batch with a stored row.
type symMatch struct {
	row int32
	ref symRef
}

// rowEntry values of rows that have no entry.
const (
	entryNone    = -1 // a NULL key: never stored, never matches
	entrySkipped = -2 // a retraction whose row expired (state TTL): ignored
)

// add probes other with the rows of b (arriving on s) and returns the
// matches. Inserted rows are stored in s; a retracted row removes one live
// stored row with equal values (an error when there is none).
func (s *symSide) add(ctx context.Context, b Batch, other *symSide) ([]symMatch, error) {
	rec := b.Rec
	keys, err := evalAll(ctx, s.keyEvs, rec)
	if err != nil {
		return nil, err
	}
	defer releaseArrays(keys)
	n := int(rec.NumRows())
	bi := int32(len(s.batches))
	rec.Retain()
	s.batches = append(s.batches, rec)
	s.touch = append(s.touch, s.wm)
	s.first = append(s.first, int32(len(s.refs)))
	var out []symMatch
	s.matchE = s.matchE[:0]
	if s.counted {
		s.rowEntry = growSlice(s.rowEntry[:0], n)
		for i := range s.rowEntry {
			s.rowEntry[i] = entryNone
		}
	}
	// probe matches row i with the chain at head as of touch wm: the
	// side's watermark for an inserted row, the touch of the stored row a
	// retraction removes (so the retraction meets the rows its insertion
	// met, not those its side's later watermark would).
	probe := func(i int, head int32, wm int64) {
		for e := head; e >= other.base; e = other.next[e] {
			if other.ttl > 0 && wm != minInt64 {
				if t := other.touch[other.refs[e].batch]; t != minInt64 {
					if satSub(t, -other.ttl) < wm {
						break // entries further down the chain are older still
					}
					if satSub(t, other.ttl) > wm {
						continue // touched more than the TTL after this row
					}
				}
			}
			if !other.dead(e) {
				out = append(out, symMatch{int32(i), other.refs[e]})
				if other.counted {
					s.matchE = append(s.matchE, e)
				}
			}
		}
	}
	var full [][]byte // full-row encodings of b, for retractions
	if b.Ops != nil {
		full = encodeFullRows(rec.Columns(), n, nil, new([]int64), new([]uint64), new([]float64), new([]string))
	}
	if s.intKey {
		key := keys[0]
		vals := int64sOf(key, s.i64)
		if cap(vals) <= cap(s.i64) {
			s.i64 = vals
		}
		nulls := key.NullN() > 0
		for i, k := range vals[:n] {
			if nulls && key.IsNull(i) {
				continue
			}
			if b.Ops != nil && b.Ops[i].IsRetraction() {
				e, err := s.retractRow(i, s.heads.get(k), full[i])
				if err != nil {
					return nil, err
				}
				if e >= 0 {
					probe(i, other.heads.get(k), s.touchOf(e))
				}
				continue
			}
			probe(i, other.heads.get(k), s.wm)
			slot := s.heads.slot(k)
			*slot = s.push(bi, i, *slot)
			s.noteEntry(i, *slot)
		}
		return out, nil
	}
	s.rows = encodeRows(keys, n, s.rows, &s.i64, &s.u64, &s.f64, &s.strs)
	for i, r := range s.rows {
		if !rowValid(keys, i) {
			continue
		}
		h, ok := s.sheads[string(r)]
		if !ok {
			h = -1
		}
		wm := s.wm
		if b.Ops != nil && b.Ops[i].IsRetraction() {
			e, err := s.retractRow(i, h, full[i])
			if err != nil {
				return nil, err
			}
			if e < 0 {
				continue
			}
			wm = s.touchOf(e)
		}
		if oh, ok := other.sheads[string(r)]; ok {
			probe(i, oh, wm)
		}
		if b.Ops != nil && b.Ops[i].IsRetraction() {
			continue
		}
		e := s.push(bi, i, h)
		s.sheads[string(r)] = e
		s.noteEntry(i, e)
	}
	return out, nil
}

func (s *symSide) dead(e int32) bool { return s.gone != nil && s.gone[e] }

// errRetractAbsent: a retraction found no stored row to remove.
var errRetractAbsent = fmt.Errorf("retraction of a row that was never added")

// retractRow removes the stored row that row i of a batch retracts (full:
// the row's encoding) from the chain at head and notes its entry. It
// returns the entry, or -1 when the row expired under the state TTL (the
// retraction is skipped, forgotten like the row); a row never added is
// errRetractAbsent.
func (s *symSide) retractRow(i int, head int32, full []byte) (int32, error) {
	e := s.retract(head, full)
	if e < 0 {
		if s.ttl > 0 {
			s.noteEntry(i, entrySkipped)
			return -1, nil
		}
		return -1, errRetractAbsent
	}
	s.noteEntry(i, e)
	return e, nil
}

// touchOf is the touch of stored entry e (minInt64: before the side's
// first watermark).
func (s *symSide) touchOf(e int32) int64 { return s.touch[s.refs[e].batch] }

// noteEntry records row i's entry for the outer join (symjoin_outer.go).
func (s *symSide) noteEntry(i int, e int32) {
	if s.counted {
		s.rowEntry[i] = e
	}
}

// retract marks dead the first live entry of the chain at head whose row
// encodes to row and returns it, or -1 when there is none.
func (s *symSide) retract(head int32, row []byte) int32 {
	for e := head; e >= s.base; e = s.next[e] {
		if s.dead(e) {
			continue
		}
		ref := s.refs[e]
		rec := s.batches[ref.batch]
		cols := make([]arrow.Array, rec.NumCols())
		for c := range cols {
			cols[c] = array.NewSlice(rec.Column(c), int64(ref.row), int64(ref.row)+1)
		}
		enc := encodeFullRows(cols, 1, nil, new([]int64), new([]uint64), new([]float64), new([]string))
		releaseArrays(cols)
		if string(enc[0]) == string(row) {
			if s.gone == nil {
				s.gone = map[int32]bool{}
			}
			s.gone[e] = true
			return e
		}
	}
	return -1
}

// push records row (batch, row) as a new entry chained to prev.
func (s *symSide) push(batch int32, row int, prev int32) int32 {
	e := int32(len(s.refs))
	s.refs = append(s.refs, symRef{batch, int32(row)})
	s.next = append(s.next, prev)
	if s.counted {
		s.cnt = append(s.cnt, 0)
	}
	return e
}

// i64Index maps int64 keys to an int32 (a chain head; -1 when absent):
// open addressing with linear probing and Fibonacci hashing, as in
// int64Grouper, without Go pointers.
type i64Index struct {
	slots []i64IndexSlot
	shift uint
	used  int
}

type i64IndexSlot struct {
	key  int64
	val  int32
	used bool
}

func newI64Index() *i64Index {
	x := &i64Index{}
	x.resize(1 << 10)
	return x
}

func (x *i64Index) resize(n int) {
	old := x.slots
	x.slots = make([]i64IndexSlot, n)
	x.shift = uint(64 - bits.TrailingZeros(uint(n)))
	for _, s := range old {
		if s.used {
			*x.find(s.key) = s
		}
	}
}

// find returns the slot holding key or the empty slot where it belongs.
func (x *i64Index) find(key int64) *i64IndexSlot {
	mask := uint64(len(x.slots) - 1)
	for idx := (uint64(key) * fib64) >> x.shift; ; idx = (idx + 1) & mask {
		s := &x.slots[idx]
		if !s.used || s.key == key {
			return s
		}
	}
}

// get returns the value of key, or -1.
func (x *i64Index) get(key int64) int32 {
	if s := x.find(key); s.used {
		return s.val
	}
	return -1
}

// slot returns a pointer to key's value, inserting -1 if absent. The
// pointer is valid until the next call.
func (x *i64Index) slot(key int64) *int32 {
	if (x.used+1)*2 > len(x.slots) {
		x.resize(len(x.slots) * 2)
	}
	s := x.find(key)
	if !s.used {
		s.used, s.key, s.val = true, key, -1
		x.used++
	}
	return &s.val
}
