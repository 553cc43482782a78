package exec

import (
	"context"
	"sync"
)

// Fetched is one result of a prefetched child: a message or an error.
type Fetched struct {
	Msg Message
	Err error
}

// Prefetcher drains one child operator on its own goroutine into a channel of
// capacity 1, so that a two-input operator can select on both inputs and
// neither starves the other. At most one batch per input is in flight.
type Prefetcher struct {
	child  Operator
	ch     chan Fetched
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Prefetch starts pulling child (already opened) on a goroutine. The goroutine
// stops after it delivers MsgEnd or an error, or when Stop is called or ctx
// is cancelled. Read results from C.
func Prefetch(ctx context.Context, child Operator) *Prefetcher {
	ctx, cancel := context.WithCancel(ctx)
	p := &Prefetcher{child: child, ch: make(chan Fetched, 1), cancel: cancel}
	p.wg.Add(1)
	go p.run(ctx)
	return p
}

func (p *Prefetcher) run(ctx context.Context) {
	defer p.wg.Done()
	defer close(p.ch)
	for {
		m, err := p.child.Next(ctx)
		select {
		case p.ch <- Fetched{Msg: m, Err: err}:
		case <-ctx.Done():
			m.Release()
			return
		}
		if err != nil || m.Kind == MsgEnd {
			return
		}
	}
}

// C is the channel of results; it is closed after MsgEnd, an error or Stop.
func (p *Prefetcher) C() <-chan Fetched { return p.ch }

// Stop cancels the goroutine, waits for it and releases any undelivered
// batch. It does not close the child. Safe to call more than once.
func (p *Prefetcher) Stop() {
	if p == nil {
		return
	}
	p.cancel()
	// Drain so the goroutine can finish its send, then release what it sent.
	for f := range p.ch {
		f.Msg.Release()
	}
	p.wg.Wait()
}
