package exec

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// LateRowsOutput is where a LateRowsQueue writes late rows (e.g. a topic).
type LateRowsOutput interface {
	// Write writes a batch of late rows; the batch is released after the
	// call returns.
	Write(ctx context.Context, rec arrow.RecordBatch) error
	// Close flushes what was written and releases the output.
	Close(ctx context.Context) error
	// Name names the output in warnings.
	Name() string
}

// lateQueueBatches bounds the batches of late rows waiting to be written:
// beyond it, Sink waits up to LateRowsQueue.MaxWait for room, then counts
// the rows as lost rather than stall the query.
const lateQueueBatches = 256

// DefaultLateMaxWait is how long Sink waits for room in a full queue.
const DefaultLateMaxWait = 500 * time.Millisecond

// lateCloseTimeout bounds the final flush of the late rows.
const lateCloseTimeout = 30 * time.Second

// LateRowsQueue writes the rows a WatermarkAssigner drops as late to an
// output without holding the pipeline up: Sink (the assigner's LateSink)
// copies the late rows into a batch of the output's schema and queues it;
// a goroutine writes the queue. When the queue is full, or a write fails,
// the rows are counted as lost and logged; the query goes on. Finish
// drains the queue and closes the output.
type LateRowsQueue struct {
	// MaxWait is how long Sink waits for room in a full queue before it
	// counts the rows as lost (DefaultLateMaxWait; set before the first
	// Sink).
	MaxWait time.Duration

	out    LateRowsOutput
	schema *arrow.Schema
	cols   []int // columns of the assigner's input forming a written row
	mem    memory.Allocator

	q       chan arrow.RecordBatch
	done    chan struct{}
	written atomic.Int64
	lost    atomic.Int64
	errMu   sync.Mutex
	err     error
	once    sync.Once
	pending sync.WaitGroup // queued batches not yet written
}

// NewLateRowsQueue starts a queue writing rows of schema (column i taken
// from column cols[i] of the batches given to Sink) to out.
func NewLateRowsQueue(out LateRowsOutput, schema *arrow.Schema, cols []int, mem memory.Allocator) *LateRowsQueue {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	l := &LateRowsQueue{MaxWait: DefaultLateMaxWait, out: out, schema: schema, cols: cols, mem: mem,
		q: make(chan arrow.RecordBatch, lateQueueBatches), done: make(chan struct{})}
	go l.run()
	return l
}

func (l *LateRowsQueue) run() {
	defer close(l.done)
	for rec := range l.q {
		n := rec.NumRows()
		err := l.out.Write(context.Background(), rec)
		rec.Release()
		l.pending.Done()
		if err != nil {
			l.fail(n, err)
			continue
		}
		l.written.Add(n)
	}
}

func (l *LateRowsQueue) fail(n int64, err error) {
	l.lost.Add(n)
	l.errMu.Lock()
	first := l.err == nil
	if first {
		l.err = err
	}
	l.errMu.Unlock()
	if first {
		slog.Warn("late rows could not be written", "output", l.out.Name(), "rows", n, "err", err)
	}
}

// Sink is a WatermarkOptions.LateSink: it queues rows of rec.
func (l *LateRowsQueue) Sink(rec arrow.RecordBatch, rows []int) {
	n := int64(len(rows))
	cols := make([]arrow.Array, len(l.cols))
	for i, c := range l.cols {
		cols[i] = rec.Column(c)
	}
	proj := array.NewRecordBatch(l.schema, cols, rec.NumRows())
	sel := make([]int32, len(rows))
	for i, r := range rows {
		sel[i] = int32(r)
	}
	out, err := takeRecord(l.mem, proj, sel)
	proj.Release()
	if err != nil {
		l.fail(n, err)
		return
	}
	l.pending.Add(1)
	select {
	case l.q <- out:
		return
	default:
	}
	if l.MaxWait > 0 {
		t := time.NewTimer(l.MaxWait)
		defer t.Stop()
		select {
		case l.q <- out:
			return
		case <-t.C:
		}
	}
	l.pending.Done()
	out.Release()
	l.fail(n, fmt.Errorf("%d batches of late rows still waiting after %s", lateQueueBatches, l.MaxWait))
}

// Finish writes what is queued and closes the output; later calls return
// the same error. Rows given to Sink after Finish are lost.
func (l *LateRowsQueue) Finish() error {
	l.once.Do(func() {
		close(l.q)
		<-l.done
		ctx, cancel := context.WithTimeout(context.Background(), lateCloseTimeout)
		defer cancel()
		if err := l.out.Close(ctx); err != nil {
			// Rows handed to the output but not flushed are unaccounted
			// for: the warning says the output failed.
			l.fail(0, err)
		}
	})
	l.errMu.Lock()
	defer l.errMu.Unlock()
	return l.err
}

// Drain waits until every queued batch was handed to the output.
func (l *LateRowsQueue) Drain() { l.pending.Wait() }

// Written is the number of late rows the output took.
func (l *LateRowsQueue) Written() int64 { return l.written.Load() }

// Lost is the number of late rows that could not be written.
func (l *LateRowsQueue) Lost() int64 { return l.lost.Load() }

// Warnings reports the late rows written and lost.
func (l *LateRowsQueue) Warnings() []string {
	var out []string
	if n := l.written.Load(); n > 0 {
		out = append(out, fmt.Sprintf("%d late row(s) written to %s", n, l.out.Name()))
	}
	l.errMu.Lock()
	err := l.err
	l.errMu.Unlock()
	if err != nil {
		out = append(out, fmt.Sprintf("%d late row(s) could not be written to %s: %v", l.lost.Load(), l.out.Name(), err))
	}
	return out
}

// LateRowsTap passes its child's messages through; at End and at Close it
// finishes the queue of late rows of the assigner below it, so the rows
// are written by the time the query's end is seen.
type LateRowsTap struct {
	child Operator
	q     *LateRowsQueue
}

// NewLateRowsTap returns child (normally the assigner whose LateSink is
// q.Sink) with q finished at End and Close.
func NewLateRowsTap(child Operator, q *LateRowsQueue) *LateRowsTap {
	return &LateRowsTap{child: child, q: q}
}

// Schema implements Operator.
func (t *LateRowsTap) Schema() *arrow.Schema { return t.child.Schema() }

// Open implements Operator.
func (t *LateRowsTap) Open(ctx context.Context) error { return t.child.Open(ctx) }

// Next implements Operator.
func (t *LateRowsTap) Next(ctx context.Context) (Message, error) {
	m, err := t.child.Next(ctx)
	if err == nil && m.Kind == MsgEnd {
		t.q.Finish() // failures are in the warnings; the query goes on
	}
	return m, err
}

// Close implements Operator.
func (t *LateRowsTap) Close() error {
	err := t.child.Close()
	t.q.Finish()
	return err
}

// Children implements Operator.
func (t *LateRowsTap) Children() []Operator { return []Operator{t.child} }

// Warnings reports the late rows written and lost.
func (t *LateRowsTap) Warnings() []string { return t.q.Warnings() }

// Queue returns the tap's queue.
func (t *LateRowsTap) Queue() *LateRowsQueue { return t.q }

// String implements Operator.
func (t *LateRowsTap) String() string { return "LateRows(to=" + t.q.out.Name() + ")" }

// State makes the tap checkpointable (jobs refuse operators they do not
// know to be stateless): it keeps nothing, and a snapshot waits until the
// late rows queued so far were handed to the output, so that a checkpoint
// does not pass late rows still in the queue (the output itself is not
// transactional: late rows are written at least once at best).
func (t *LateRowsTap) State() State { return lateTapState{t.q} }

type lateTapState struct{ q *LateRowsQueue }

func (s lateTapState) Entries() int     { return 0 }
func (s lateTapState) SizeBytes() int64 { return 0 }
func (s lateTapState) Snapshot(io.Writer) error {
	s.q.Drain()
	return nil
}
func (s lateTapState) Restore(io.Reader) error { return nil }
