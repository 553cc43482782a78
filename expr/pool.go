package expr

import (
	"math/bits"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// PoolAllocator is a memory.Allocator that recycles buffers by power-of-two
// size class. Arrow frees a buffer when its last reference is released, so
// a streaming pipeline that allocates the same batch-sized buffers over and
// over reuses them instead of producing garbage: on an 8K-row projection
// this removes most GC work (see BenchmarkProjectArithPooled). Buffers are
// at least 64-byte aligned (Go's size classes for powers of two ≥ 64 are
// naturally aligned). Safe for concurrent use.
type PoolAllocator struct {
	classes [poolClasses]sync.Pool
}

const (
	poolMinShift = 6  // 64 B
	poolMaxShift = 26 // 64 MiB; larger buffers are not pooled
	poolClasses  = poolMaxShift - poolMinShift + 1
)

// NewPoolAllocator returns an empty pool.
func NewPoolAllocator() *PoolAllocator { return &PoolAllocator{} }

var _ memory.Allocator = (*PoolAllocator)(nil)

func poolClass(size int) (int, bool) {
	if size <= 1<<poolMinShift {
		return 0, true
	}
	shift := bits.Len(uint(size - 1))
	if shift > poolMaxShift {
		return 0, false
	}
	return shift - poolMinShift, true
}

// Allocate implements memory.Allocator.
func (p *PoolAllocator) Allocate(size int) []byte {
	c, ok := poolClass(size)
	if !ok {
		return alignedBytes(size)
	}
	if b, ok := p.classes[c].Get().(*[]byte); ok {
		buf := (*b)[:size]
		clear(buf) // Arrow expects zeroed memory (e.g. for bitmaps)
		return buf
	}
	return make([]byte, size, 1<<(c+poolMinShift))
}

// Reallocate implements memory.Allocator.
func (p *PoolAllocator) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		old := len(b)
		b = b[:size]
		if size > old {
			clear(b[old:])
		}
		return b
	}
	nb := p.Allocate(size)
	copy(nb, b)
	p.Free(b)
	return nb
}

// Free implements memory.Allocator.
func (p *PoolAllocator) Free(b []byte) {
	c, ok := poolClass(cap(b))
	if !ok || cap(b) != 1<<(c+poolMinShift) {
		return // not one of ours (or not a class size): leave it to the GC
	}
	b = b[:cap(b)]
	p.classes[c].Put(&b)
}

// alignedBytes allocates an unpooled 64-byte-aligned buffer.
func alignedBytes(size int) []byte {
	// Large Go allocations are page-aligned.
	return make([]byte, size)
}
