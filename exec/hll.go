package exec

import "math"

// hll is a small HyperLogLog sketch for approx_count_distinct. It starts
// exact (a short list of distinct 64-bit hashes), which keeps many small
// groups cheap, and switches to 2^hllP one-byte registers (≈1.6% standard
// error) once the list is full.
type hll struct {
	sparse []uint64
	regs   []uint8
}

const (
	hllP         = 12
	hllM         = 1 << hllP
	hllSparseMax = 64
)

func (h *hll) add(x uint64) {
	if h.regs == nil {
		for _, v := range h.sparse {
			if v == x {
				return
			}
		}
		if len(h.sparse) < hllSparseMax {
			h.sparse = append(h.sparse, x)
			return
		}
		h.regs = make([]uint8, hllM)
		for _, v := range h.sparse {
			h.addDense(v)
		}
		h.sparse = nil
	}
	h.addDense(x)
}

func (h *hll) addDense(x uint64) {
	idx := x >> (64 - hllP)
	w := x<<hllP | 1<<(hllP-1) // guard bit bounds the rank
	rank := uint8(leadingZeros64(w)) + 1
	if rank > h.regs[idx] {
		h.regs[idx] = rank
	}
}

func leadingZeros64(x uint64) int {
	n := 0
	for x&(1<<63) == 0 {
		n++
		x <<= 1
	}
	return n
}

// estimate returns the distinct count: exact while sparse, else the HLL
// estimate with linear counting for small cardinalities.
func (h *hll) estimate() int64 {
	if h == nil {
		return 0
	}
	if h.regs == nil {
		return int64(len(h.sparse))
	}
	sum := 0.0
	zeros := 0
	for _, r := range h.regs {
		sum += 1 / float64(uint64(1)<<r)
		if r == 0 {
			zeros++
		}
	}
	m := float64(hllM)
	alpha := 0.7213 / (1 + 1.079/m)
	est := alpha * m * m / sum
	if est <= 2.5*m && zeros > 0 {
		est = m * math.Log(m/float64(zeros))
	}
	return int64(est + 0.5)
}

// mix64 is the murmur3 finalizer: a cheap, well-distributed 64-bit mix.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// hashString is FNV-1a followed by mix64.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return mix64(h)
}
