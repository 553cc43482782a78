package exec

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// Snapshots of the grouping hash tables and the aggregate accumulators.
// Each state is written with a tag byte first, so a restore into an
// operator built for another query fails instead of misreading. The hash
// tables themselves are not written: they are rebuilt from the group keys.

// State tags.
const (
	tagConstGrouper byte = iota + 1
	tagInt64Grouper
	tagBytesGrouper
	tagCount
	tagRows
	tagSumInt
	tagSumFloat
	tagSumDec
	tagNull
	tagHLL
	tagDistinct
	tagMinMax
)

// snapshotter is implemented by every grouper and accumulator.
type snapshotter interface {
	save(e *snapEnc)
	// load replaces the state with a saved one (of the same query).
	load(d *snapDec) error
}

func saveState(e *snapEnc, x any) error {
	s, ok := x.(snapshotter)
	if !ok {
		return fmt.Errorf("%T: %w", x, ErrSnapshotUnsupported)
	}
	s.save(e)
	return nil
}

func loadState(d *snapDec, x any) error {
	s, ok := x.(snapshotter)
	if !ok {
		return fmt.Errorf("%T: %w", x, ErrSnapshotUnsupported)
	}
	if err := s.load(d); err != nil {
		return err
	}
	return d.err
}

// --- column stores and groupers

func (c *colStore) save(e *snapEnc) {
	e.byte1(byte(c.kind))
	e.bools(c.valid)
	switch c.kind {
	case kInt:
		for _, v := range c.i64 {
			e.varint(v)
		}
	case kUint:
		for _, v := range c.u64 {
			e.uvarint(v)
		}
	case kFloat:
		for _, v := range c.f64 {
			e.f64(v)
		}
	case kString:
		for _, v := range c.str {
			e.str(v)
		}
	case kDecimal:
		for _, v := range c.dec {
			e.dec(v)
		}
	}
}

func (c *colStore) load(d *snapDec) error {
	if k := vkind(d.byte1()); d.err == nil && k != c.kind {
		return fmt.Errorf("snapshot: key column of kind %d, operator has %d", k, c.kind)
	}
	c.valid = d.bools()
	n := len(c.valid)
	c.i64, c.u64, c.f64, c.str, c.dec = nil, nil, nil, nil, nil
	switch c.kind {
	case kInt:
		c.i64 = make([]int64, n)
		for i := range c.i64 {
			c.i64[i] = d.varint()
		}
	case kUint:
		c.u64 = make([]uint64, n)
		for i := range c.u64 {
			c.u64[i] = d.uvarint()
		}
	case kFloat:
		c.f64 = make([]float64, n)
		for i := range c.f64 {
			c.f64[i] = d.f64()
		}
	case kString:
		c.str = make([]string, n)
		for i := range c.str {
			c.str[i] = d.str()
		}
	case kDecimal:
		c.dec = make([]decimal128.Num, n)
		for i := range c.dec {
			c.dec[i] = d.dec()
		}
	}
	return d.err
}

func (constGrouper) save(e *snapEnc) { e.byte1(tagConstGrouper) }
func (constGrouper) load(d *snapDec) error {
	return d.expect(tagConstGrouper, "group-less aggregate")
}

func (g *int64Grouper) save(e *snapEnc) {
	e.byte1(tagInt64Grouper)
	g.store.save(e)
}

// load restores the keys and rebuilds the open-addressing table from them
// (group ids are the keys' positions in the store).
func (g *int64Grouper) load(d *snapDec) error {
	if err := d.expect(tagInt64Grouper, "integer-key grouping"); err != nil {
		return err
	}
	if err := g.store.load(d); err != nil {
		return err
	}
	n := 1 << 10
	for n < 2*g.store.len() {
		n *= 2
	}
	g.slots, g.used, g.nullGid = nil, 0, -1
	g.resize(n)
	mask := uint64(len(g.slots) - 1)
	for id, ok := range g.store.valid {
		if !ok {
			if g.nullGid >= 0 {
				return fmt.Errorf("snapshot: two NULL groups: %w", errSnapshotCorrupt)
			}
			g.nullGid = int64(id)
			continue
		}
		k := g.store.i64[id]
		idx := (uint64(k) * fib64) >> g.shift
		for g.slots[idx].gid != 0 {
			if g.slots[idx].key == k {
				return fmt.Errorf("snapshot: duplicate group key %d: %w", k, errSnapshotCorrupt)
			}
			idx = (idx + 1) & mask
		}
		g.slots[idx] = i64slot{key: k, gid: uint32(id) + 1}
		g.used++
	}
	return nil
}

func (g *bytesGrouper) save(e *snapEnc) {
	e.byte1(tagBytesGrouper)
	e.uvarint(uint64(len(g.stores)))
	for _, s := range g.stores {
		s.save(e)
	}
	e.uvarint(uint64(len(g.m)))
	for k, id := range g.m {
		e.str(k)
		e.uvarint(uint64(id))
	}
}

func (g *bytesGrouper) load(d *snapDec) error {
	if err := d.expect(tagBytesGrouper, "multi-column grouping"); err != nil {
		return err
	}
	if n := d.count(1); d.err == nil && n != len(g.stores) {
		return fmt.Errorf("snapshot: %d key columns, operator has %d", n, len(g.stores))
	}
	for _, s := range g.stores {
		if err := s.load(d); err != nil {
			return err
		}
	}
	ng := g.stores[0].len()
	for _, s := range g.stores[1:] {
		if s.len() != ng {
			return errSnapshotCorrupt
		}
	}
	n := d.count(2)
	g.m = make(map[string]uint32, n)
	for i := 0; i < n && d.err == nil; i++ {
		k := d.str()
		id := d.uvarint()
		if id >= uint64(ng) {
			return errSnapshotCorrupt
		}
		g.m[k] = uint32(id)
	}
	if d.err == nil && len(g.m) != ng {
		return fmt.Errorf("snapshot: %d keys for %d groups: %w", len(g.m), ng, errSnapshotCorrupt)
	}
	return d.err
}

// --- accumulators

func (a *countAcc) save(e *snapEnc) {
	e.byte1(tagCount)
	e.bool1(a.star)
	e.int64s(a.c)
}

func (a *countAcc) load(d *snapDec) error {
	if err := d.expect(tagCount, "count"); err != nil {
		return err
	}
	if star := d.bool1(); star != a.star {
		return fmt.Errorf("snapshot: count(*) and count(x) differ")
	}
	a.c = d.int64s()
	return d.err
}

// rowsAcc reads the operator's row counts, which the operator saves.
func (a *rowsAcc) save(e *snapEnc) { e.byte1(tagRows) }
func (a *rowsAcc) load(d *snapDec) error {
	return d.expect(tagRows, "count(*)")
}

func (a *sumIntAcc) save(e *snapEnc) {
	e.byte1(tagSumInt)
	e.bool1(a.avg)
	e.uvarint(uint64(len(a.st)))
	for _, p := range a.st {
		e.varint(p.s)
		e.varint(p.n)
	}
}

func (a *sumIntAcc) load(d *snapDec) error {
	if err := d.expect(tagSumInt, "integer sum"); err != nil {
		return err
	}
	if avg := d.bool1(); avg != a.avg {
		return fmt.Errorf("snapshot: sum and avg differ")
	}
	a.st = make([]sumInt, d.count(2))
	for i := range a.st {
		a.st[i] = sumInt{s: d.varint(), n: d.varint()}
	}
	return d.err
}

func (a *sumFloatAcc) save(e *snapEnc) {
	e.byte1(tagSumFloat)
	e.bool1(a.avg)
	e.uvarint(uint64(len(a.st)))
	for _, p := range a.st {
		e.f64(p.s)
		e.varint(p.n)
	}
}

func (a *sumFloatAcc) load(d *snapDec) error {
	if err := d.expect(tagSumFloat, "floating-point sum"); err != nil {
		return err
	}
	if avg := d.bool1(); avg != a.avg {
		return fmt.Errorf("snapshot: sum and avg differ")
	}
	a.st = make([]sumFloat, d.count(9))
	for i := range a.st {
		a.st[i] = sumFloat{s: d.f64(), n: d.varint()}
	}
	return d.err
}

func (a *sumDecAcc) save(e *snapEnc) {
	e.byte1(tagSumDec)
	e.bool1(a.avg)
	e.varint(int64(a.scale))
	e.uvarint(uint64(len(a.st)))
	for _, p := range a.st {
		e.dec(p.s)
		e.varint(p.n)
	}
}

func (a *sumDecAcc) load(d *snapDec) error {
	if err := d.expect(tagSumDec, "decimal sum"); err != nil {
		return err
	}
	avg, scale := d.bool1(), d.varint()
	if d.err == nil && (avg != a.avg || scale != int64(a.scale)) {
		return fmt.Errorf("snapshot: decimal sum of another kind or scale")
	}
	a.st = make([]sumDec, d.count(17))
	for i := range a.st {
		a.st[i] = sumDec{s: d.dec(), n: d.varint()}
	}
	return d.err
}

func (a *nullAcc) save(e *snapEnc) {
	e.byte1(tagNull)
	e.uvarint(uint64(a.n))
}

func (a *nullAcc) load(d *snapDec) error {
	if err := d.expect(tagNull, "NULL aggregate"); err != nil {
		return err
	}
	a.n = int(d.uvarint())
	return d.err
}

// hll sketches: 0 none, 1 exact (sparse) list of hashes, 2 registers.
func (a *hllAcc) save(e *snapEnc) {
	e.byte1(tagHLL)
	e.uvarint(uint64(len(a.h)))
	for _, h := range a.h {
		switch {
		case h == nil:
			e.byte1(0)
		case h.regs == nil:
			e.byte1(1)
			e.uvarint(uint64(len(h.sparse)))
			for _, x := range h.sparse {
				e.b = append(e.b, byte(x), byte(x>>8), byte(x>>16), byte(x>>24), byte(x>>32), byte(x>>40), byte(x>>48), byte(x>>56))
			}
		default:
			e.byte1(2)
			e.b = append(e.b, h.regs...)
		}
	}
}

func (a *hllAcc) load(d *snapDec) error {
	if err := d.expect(tagHLL, "approx_count_distinct"); err != nil {
		return err
	}
	a.h = make([]*hll, d.count(1))
	for i := range a.h {
		switch d.byte1() {
		case 0:
		case 1:
			n := d.count(8)
			if n > hllSparseMax {
				return errSnapshotCorrupt
			}
			h := &hll{sparse: make([]uint64, n)}
			for j := range h.sparse {
				p := d.take(8)
				if p == nil {
					return d.err
				}
				h.sparse[j] = uint64(p[0]) | uint64(p[1])<<8 | uint64(p[2])<<16 | uint64(p[3])<<24 |
					uint64(p[4])<<32 | uint64(p[5])<<40 | uint64(p[6])<<48 | uint64(p[7])<<56
			}
			a.h[i] = h
		case 2:
			p := d.take(hllM)
			if p == nil {
				return d.err
			}
			a.h[i] = &hll{regs: append([]uint8(nil), p...)}
		default:
			return errSnapshotCorrupt
		}
	}
	return d.err
}

func (a *distinctAcc) save(e *snapEnc) {
	e.byte1(tagDistinct)
	a.inner.(snapshotter).save(e)
	e.uvarint(uint64(len(a.seen)))
	for k, c := range a.seen {
		e.str(k)
		e.varint(c)
	}
}

func (a *distinctAcc) load(d *snapDec) error {
	if err := d.expect(tagDistinct, "DISTINCT aggregate"); err != nil {
		return err
	}
	if err := loadState(d, a.inner); err != nil {
		return err
	}
	n := d.count(2)
	a.seen = make(map[string]int64, n)
	for i := 0; i < n && d.err == nil; i++ {
		k := d.str()
		a.seen[k] = d.varint()
	}
	return d.err
}

// putVal and getVal encode the value types of MIN/MAX.
func putVal[T comparable](e *snapEnc, v T) {
	switch x := any(v).(type) {
	case int64:
		e.varint(x)
	case uint64:
		e.uvarint(x)
	case float64:
		e.f64(x)
	case string:
		e.str(x)
	case decimal128.Num:
		e.dec(x)
	default:
		panic(fmt.Sprintf("min/max snapshot: value type %T", v))
	}
}

func getVal[T comparable](d *snapDec) T {
	var z T
	var v any
	switch any(z).(type) {
	case int64:
		v = d.varint()
	case uint64:
		v = d.uvarint()
	case float64:
		v = d.f64()
	case string:
		v = d.str()
	case decimal128.Num:
		v = d.dec()
	default:
		panic(fmt.Sprintf("min/max snapshot: value type %T", z))
	}
	return v.(T)
}

func (a *minmaxAcc[T]) save(e *snapEnc) {
	e.byte1(tagMinMax)
	e.bool1(a.isMax)
	e.bool1(a.counted)
	e.uvarint(uint64(len(a.vals)))
	for g, v := range a.vals {
		e.bool1(a.has[g])
		if a.has[g] {
			putVal(e, v)
		}
	}
	if !a.counted {
		return
	}
	for g := range a.vals {
		var m map[T]int64
		if g < len(a.counts) {
			m = a.counts[g]
		}
		e.uvarint(uint64(len(m)))
		for v, c := range m {
			putVal(e, v)
			e.varint(c)
		}
	}
}

func (a *minmaxAcc[T]) load(d *snapDec) error {
	if err := d.expect(tagMinMax, "min/max"); err != nil {
		return err
	}
	isMax, counted := d.bool1(), d.bool1()
	if d.err == nil && (isMax != a.isMax || counted != a.counted) {
		return fmt.Errorf("snapshot: min/max of another kind (max %v, counted %v; operator max %v, counted %v)", isMax, counted, a.isMax, a.counted)
	}
	n := d.count(1)
	var zero T
	a.vals, a.has, a.counts = make([]T, n), make([]bool, n), nil
	for g := 0; g < n && d.err == nil; g++ {
		if a.has[g] = d.bool1(); a.has[g] {
			a.vals[g] = getVal[T](d)
		} else {
			a.vals[g] = zero
		}
	}
	if !a.counted {
		return d.err
	}
	a.counts = make([]map[T]int64, n)
	for g := 0; g < n && d.err == nil; g++ {
		c := d.count(2)
		if c == 0 {
			continue
		}
		m := make(map[T]int64, c)
		for i := 0; i < c && d.err == nil; i++ {
			v := getVal[T](d)
			m[v] = d.varint()
		}
		a.counts[g] = m
	}
	return d.err
}
