package schema

import (
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// recycleMaxBytes and recycleMaxBufs bound what a recycler keeps between batches.
const (
	recycleMaxBytes = 32 << 20
	recycleMaxBufs  = 256
)

// recycler is the allocator of a BatchBuilder's column buffers: buffers of batches that have been
// released come back to it and serve the next batches instead of going back to the parent
// allocator. With Go's allocator that saves zeroing fresh memory and the garbage collections the
// churn triggers (a third of the decode time of small records); every byte still comes from the
// parent, and close hands the kept buffers back, so a checked allocator balances. Recycled
// memory is not zeroed: the BatchBuilder writes every byte it exposes.
type recycler struct {
	parent memory.Allocator
	mu     sync.Mutex
	live   map[*byte][]byte // buffers handed out, as the parent allocated them, by base address
	free   [][]byte         // released buffers, as the parent allocated them
	bytes  int              // total length of free
	closed bool
}

func newRecycler(parent memory.Allocator) *recycler {
	return &recycler{parent: parent, live: map[*byte][]byte{}}
}

// Allocate returns size bytes, from a kept buffer when one fits (not much larger than asked).
func (r *recycler) Allocate(size int) []byte {
	if size <= 0 {
		return r.parent.Allocate(size)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	best := -1
	for i, b := range r.free {
		if len(b) >= size && len(b) <= 2*size+4096 && (best < 0 || len(b) < len(r.free[best])) {
			best = i
		}
	}
	var buf []byte
	if best >= 0 {
		buf = r.free[best]
		last := len(r.free) - 1
		r.free[best], r.free[last] = r.free[last], nil
		r.free = r.free[:last]
		r.bytes -= len(buf)
	} else {
		buf = r.parent.Allocate(size)
	}
	r.live[unsafe.SliceData(buf)] = buf
	return buf[:size:size]
}

// Reallocate moves b into a buffer of size bytes.
func (r *recycler) Reallocate(size int, b []byte) []byte {
	nb := r.Allocate(size)
	copy(nb, b)
	r.Free(b)
	return nb
}

// Free keeps b for the next batches, or returns it to the parent when the recycler is full or
// closed.
func (r *recycler) Free(b []byte) {
	r.mu.Lock()
	orig, ok := r.live[unsafe.SliceData(b)]
	if !ok {
		r.mu.Unlock()
		r.parent.Free(b)
		return
	}
	delete(r.live, unsafe.SliceData(b))
	if r.closed || len(r.free) >= recycleMaxBufs || r.bytes+len(orig) > recycleMaxBytes {
		r.mu.Unlock()
		r.parent.Free(orig)
		return
	}
	r.free = append(r.free, orig)
	r.bytes += len(orig)
	r.mu.Unlock()
}

// close returns the kept buffers to the parent; buffers freed later go straight back too.
func (r *recycler) close() {
	r.mu.Lock()
	free := r.free
	r.free, r.bytes, r.closed = nil, 0, true
	r.mu.Unlock()
	for _, b := range free {
		r.parent.Free(b)
	}
}
