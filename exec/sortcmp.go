package exec

import (
	"cmp"
	"fmt"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/expr"
)

// SortKey is one ORDER BY item. NullsFirst is explicit; the MySQL default
// (NULLs first for ASC, last for DESC) is NullsFirst == !Desc, which the
// planner fills in.
type SortKey struct {
	Expr       expr.Expr
	Desc       bool
	NullsFirst bool
}

func (k SortKey) String() string {
	s := k.Expr.String()
	if k.Desc {
		s += " DESC"
	}
	if k.NullsFirst != !k.Desc {
		if k.NullsFirst {
			s += " NULLS FIRST"
		} else {
			s += " NULLS LAST"
		}
	}
	return s
}

func sortKeysString(keys []SortKey) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k.String()
	}
	return strings.Join(parts, ", ")
}

// rowCmp compares two rows (indices into the same arrays) by sort keys.
type rowCmp func(i, j int32) int

// keyComparator builds one typed comparator per key over cols (one array
// per key, all of the same length) and chains them.
func keyComparator(keys []SortKey, cols []arrow.Array) (rowCmp, error) {
	cmps := make([]rowCmp, len(keys))
	for k, key := range keys {
		c, err := columnComparator(cols[k], key.Desc, key.NullsFirst)
		if err != nil {
			return nil, fmt.Errorf("sort by %s: %w", key.Expr, err)
		}
		cmps[k] = c
	}
	if len(cmps) == 1 {
		return cmps[0], nil
	}
	return func(i, j int32) int {
		for _, c := range cmps {
			if r := c(i, j); r != 0 {
				return r
			}
		}
		return 0
	}, nil
}

func columnComparator(a arrow.Array, desc, nullsFirst bool) (rowCmp, error) {
	var base rowCmp
	switch kindOf(a.DataType()) {
	case kInt:
		base = valueCmp(int64sOf(a, nil), desc)
	case kUint:
		base = valueCmp(uint64sOf(a, nil), desc)
	case kFloat:
		base = valueCmp(float64sOf(a, nil), desc)
	case kString:
		base = valueCmp(stringsOf(a, nil), desc)
	case kDecimal:
		v := decimalsOf(a)
		base = func(i, j int32) int {
			c := v[i].Cmp(v[j])
			if desc {
				return -c
			}
			return c
		}
	default:
		if a.DataType().ID() == arrow.NULL {
			return func(int32, int32) int { return 0 }, nil
		}
		return nil, fmt.Errorf("cannot order values of type %s", a.DataType())
	}
	if a.NullN() == 0 {
		return base, nil
	}
	nullSide := 1
	if nullsFirst {
		nullSide = -1
	}
	return func(i, j int32) int {
		ni, nj := a.IsNull(int(i)), a.IsNull(int(j))
		switch {
		case ni && nj:
			return 0
		case ni:
			return nullSide
		case nj:
			return -nullSide
		}
		return base(i, j)
	}, nil
}

func valueCmp[T cmp.Ordered](v []T, desc bool) rowCmp {
	if desc {
		return func(i, j int32) int { return cmp.Compare(v[j], v[i]) }
	}
	return func(i, j int32) int { return cmp.Compare(v[i], v[j]) }
}

// radixKV is a radix sort element: an order-preserving key and its row.
type radixKV struct {
	k uint64
	i int32
}

// radixKVs maps the rows idx of a single integer/float key to uint64s whose
// unsigned order is the requested order, paired with the row index, ready
// for msdSort. ok is false for other types.
func radixKVs(a arrow.Array, desc bool, idx []int32) (kv []radixKV, ok bool) {
	kv = make([]radixKV, len(idx))
	var flip uint64
	if desc {
		flip = ^uint64(0)
	}
	switch kindOf(a.DataType()) {
	case kInt:
		v := int64sOf(a, nil)
		for j, i := range idx {
			kv[j] = radixKV{(uint64(v[i]) ^ (1 << 63)) ^ flip, i}
		}
	case kUint:
		v := uint64sOf(a, nil)
		for j, i := range idx {
			kv[j] = radixKV{v[i] ^ flip, i}
		}
	case kFloat:
		v := float64sOf(a, nil)
		for j, i := range idx {
			b := math.Float64bits(normFloat(v[i]))
			if b>>63 == 1 {
				b = ^b
			} else {
				b |= 1 << 63
			}
			kv[j] = radixKV{b ^ flip, i}
		}
	default:
		return nil, false
	}
	return kv, true
}

// radixSort sorts kv by key, stably, and writes the row order into idx.
// MSD passes split the input on its highest varying byte until buckets fit
// in cache (radixCacheRows); each bucket is then sorted LSD, 8 bits per
// pass, skipping bytes that are the same throughout the bucket.
func radixSort(kv []radixKV, idx []int32) {
	msdSort(kv, make([]radixKV, len(kv)), 7)
	for j := range idx {
		idx[j] = kv[j].i
	}
}

// radixCacheRows is the bucket size (16 bytes a row) below which LSD
// passes run in L2.
const radixCacheRows = 1 << 15

// msdSort sorts a (result in a) by bytes 0..top, tmp being scratch.
func msdSort(a, tmp []radixKV, top int) {
	if len(a) <= radixCacheRows {
		lsdSort(a, tmp, top+1)
		return
	}
	var or, and uint64 = 0, ^uint64(0)
	for _, e := range a {
		or |= e.k
		and &= e.k
	}
	diff := or ^ and
	for top >= 0 && diff>>(8*top)&0xff == 0 {
		top--
	}
	if top < 0 {
		return // all keys equal
	}
	shift := uint(8 * top)
	var counts [256]int
	for _, e := range a {
		counts[byte(e.k>>shift)]++
	}
	var offs, starts [256]int
	sum := 0
	for d := 0; d < 256; d++ {
		offs[d], starts[d] = sum, sum
		sum += counts[d]
	}
	for _, e := range a {
		d := byte(e.k >> shift)
		tmp[offs[d]] = e
		offs[d]++
	}
	for d := 0; d < 256; d++ {
		lo, hi := starts[d], starts[d]+counts[d]
		if hi-lo > 1 && top > 0 {
			msdSort(tmp[lo:hi], a[lo:hi], top-1)
		}
	}
	copy(a, tmp)
}

// lsdSort sorts a by the bytes below byte position top (exclusive), using
// tmp (same length) as scratch; the result ends in a.
func lsdSort(a, tmp []radixKV, top int) {
	if len(a) <= 32 {
		// insertion sort (stable)
		for i := 1; i < len(a); i++ {
			e := a[i]
			j := i
			for j > 0 && a[j-1].k > e.k {
				a[j] = a[j-1]
				j--
			}
			a[j] = e
		}
		return
	}
	var or, and uint64 = 0, ^uint64(0)
	for _, e := range a {
		or |= e.k
		and &= e.k
	}
	diff := or ^ and
	src, dst := a, tmp
	for b := 0; b < top; b++ {
		shift := uint(8 * b)
		if diff>>shift&0xff == 0 {
			continue
		}
		var counts [256]int
		for _, e := range src {
			counts[byte(e.k>>shift)]++
		}
		sum := 0
		for d := 0; d < 256; d++ {
			c := counts[d]
			counts[d] = sum
			sum += c
		}
		for _, e := range src {
			d := byte(e.k >> shift)
			dst[counts[d]] = e
			counts[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &a[0] {
		copy(a, src)
	}
}

// nullPartition moves the NULL rows of a (among idx) to the front or back,
// returning the non-NULL part (to sort) and the full slice.
func nullPartition(a arrow.Array, idx []int32, nullsFirst bool) (rest []int32) {
	if a.NullN() == 0 {
		return idx
	}
	vals := make([]int32, 0, len(idx))
	nulls := make([]int32, 0, a.NullN())
	for _, i := range idx {
		if a.IsNull(int(i)) {
			nulls = append(nulls, i)
		} else {
			vals = append(vals, i)
		}
	}
	if nullsFirst {
		copy(idx, nulls)
		copy(idx[len(nulls):], vals)
		return idx[len(nulls):]
	}
	copy(idx, vals)
	copy(idx[len(vals):], nulls)
	return idx[:len(vals)]
}
