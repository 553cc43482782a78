package exec

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
)

// Union is UNION ALL of its children. Children are drained concurrently (one
// Prefetcher each) so an unbounded child cannot starve the others. Batches
// keep their Ops. Watermarks are combined: the union emits the minimum of the
// children's latest watermarks whenever it advances. Barriers are aligned: a
// barrier is forwarded once every live child has delivered it (children
// that delivered a barrier are not read until the others catch up).
type Union struct {
	children []Operator
	schema   *arrow.Schema
	pf       []*Prefetcher
	ended    []bool
	wm       []int64
	lastWM   int64
	barrier  []bool
	pending  uint64
	nBarrier int
	live     int
	openCtx  context.Context // Open's, until the first Next starts the prefetchers
}

// NewUnion returns the UNION ALL of children, which must share a schema (the
// first child's schema is used).
func NewUnion(children []Operator) Operator {
	var s *arrow.Schema
	if len(children) > 0 {
		s = children[0].Schema()
	}
	return &Union{children: children, schema: s}
}

// Schema implements Operator.
func (u *Union) Schema() *arrow.Schema { return u.schema }

// Open implements Operator.
func (u *Union) Open(ctx context.Context) error {
	for _, c := range u.children {
		if err := c.Open(ctx); err != nil {
			return fmt.Errorf("union: %w", err)
		}
	}
	n := len(u.children)
	u.pf = make([]*Prefetcher, n)
	u.ended = make([]bool, n)
	u.barrier = make([]bool, n)
	u.wm = make([]int64, n)
	u.lastWM = minInt64
	for i := range u.children {
		u.wm[i] = minInt64
	}
	// The children are pulled from the first Next on, not now: a job
	// restores the states of the opened tree (an aggregate below the
	// union) before pulling it, and a child pulled meanwhile would race
	// with its Restore.
	u.openCtx = ctx
	u.live = n
	return nil
}

const minInt64 = -1 << 63

// Next implements Operator.
func (u *Union) Next(ctx context.Context) (Message, error) {
	if u.openCtx != nil {
		for i, c := range u.children {
			u.pf[i] = Prefetch(u.openCtx, c)
		}
		u.openCtx = nil
	}
	for {
		if u.live == 0 {
			return EndMsg, nil
		}
		if u.nBarrier > 0 && u.nBarrier == u.live {
			for i := range u.barrier {
				u.barrier[i] = false
			}
			u.nBarrier = 0
			return Message{Kind: MsgBarrier, Barrier: u.pending}, nil
		}
		i, f, err := u.recv(ctx)
		if err != nil {
			return Message{}, err
		}
		if f.Err != nil {
			return Message{}, f.Err
		}
		m := f.Msg
		switch m.Kind {
		case MsgBatch:
			return m, nil
		case MsgEnd:
			u.ended[i] = true
			u.live--
			if u.barrier[i] {
				u.barrier[i] = false
				u.nBarrier--
			}
			u.wm[i] = 1<<63 - 1
			if wm, ok := u.advance(); ok && u.live > 0 {
				return WatermarkMsg(wm), nil
			}
		case MsgWatermark:
			u.wm[i] = max(u.wm[i], m.Watermark)
			if wm, ok := u.advance(); ok {
				return WatermarkMsg(wm), nil
			}
		case MsgBarrier:
			u.barrier[i] = true
			u.pending = m.Barrier
			u.nBarrier++
		}
	}
}

// advance recomputes the combined watermark; ok when it moved forward.
func (u *Union) advance() (int64, bool) {
	low := int64(1<<63 - 1)
	for i, w := range u.wm {
		if !u.ended[i] {
			low = min(low, w)
		}
	}
	if low > u.lastWM && low != 1<<63-1 && low != minInt64 {
		u.lastWM = low
		return low, true
	}
	return 0, false
}

// recv waits for the next result from any child that is neither ended nor
// blocked at a barrier.
func (u *Union) recv(ctx context.Context) (int, Fetched, error) {
	// Fast path: poll children round-robin without blocking.
	for i, p := range u.pf {
		if u.ended[i] || u.barrier[i] {
			continue
		}
		select {
		case f, ok := <-p.C():
			if !ok {
				return i, Fetched{Msg: EndMsg}, nil
			}
			return i, f, nil
		default:
		}
	}
	// Slow path: block on all eligible children and ctx.
	cases := make([]selectCase, 0, len(u.pf))
	for i, p := range u.pf {
		if !u.ended[i] && !u.barrier[i] {
			cases = append(cases, selectCase{i, p.C()})
		}
	}
	return selectFetched(ctx, cases)
}

// Close implements Operator.
func (u *Union) Close() error {
	for _, p := range u.pf {
		p.Stop()
	}
	u.pf = nil
	var first error
	for _, c := range u.children {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Children implements Operator.
func (u *Union) Children() []Operator { return u.children }

// String implements Operator.
func (u *Union) String() string { return fmt.Sprintf("UnionAll(inputs=%d)", len(u.children)) }
