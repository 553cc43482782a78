package exec_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
)

// fakeLateOut records the rows written to it; gate, when set, holds each
// Write until it is closed; fail makes writes of rows with k = fail fail.
type fakeLateOut struct {
	mu     sync.Mutex
	rows   []string
	gate   chan struct{}
	fail   int64
	closed bool
}

func (o *fakeLateOut) Name() string { return "fake" }

func (o *fakeLateOut) Write(_ context.Context, rec arrow.RecordBatch) error {
	if o.gate != nil {
		<-o.gate
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	rows := make([]string, rec.NumRows())
	for i := range rows {
		rows[i] = exectest.Row(rec, i)
		if o.fail != 0 && strings.HasPrefix(rows[i], "7|") {
			return errors.New("broker says no")
		}
	}
	o.rows = append(o.rows, rows...)
	return nil
}

func (o *fakeLateOut) Close(context.Context) error { o.closed = true; return nil }

// Late rows of the assigner reach the output whole (every column the
// queue was told of, in the output's order), asynchronously; a failing
// write is counted, and the query goes on.
func TestLateRowsQueue(t *testing.T) {
	mem := stMem(t)
	s := exectest.Schema("ts", tsType, "k", arrow.PrimitiveTypes.Int64, "note", str)
	out := exectest.Schema("k", arrow.PrimitiveTypes.Int64, "note", str, "ts", tsType)
	src := exectest.NewSource(s,
		exec.BatchMsg(exectest.Record(mem, s, []any{sec(5), 1, "a"}, []any{sec(1), 2, "late"}), nil),
		exec.BatchMsg(exectest.Record(mem, s, []any{sec(2), 3, "late too"}), nil),
		exec.BatchMsg(exectest.Record(mem, s, []any{sec(9), 4, "b"}, []any{sec(3), 7, "lost"}), nil),
	)
	o := &fakeLateOut{fail: 7}
	q := exec.NewLateRowsQueue(o, out, []int{1, 2, 0}, mem)
	wa, err := exec.NewWatermarkAssigner(src, 0, 0, exec.WatermarkOptions{PartitionCol: -1, Mem: mem, LateSink: q.Sink})
	if err != nil {
		t.Fatal(err)
	}
	tap := exec.NewLateRowsTap(wa, q)
	msgs, err := exectest.CollectMessages(context.Background(), tap)
	exectest.ReleaseMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	// End finished the queue: everything is written before the caller
	// sees End.
	if !o.closed {
		t.Fatal("output not closed at End")
	}
	// Row 2 (1s) came in the batch that set the watermark to 5s: not late;
	// 3 and 7 came after it.
	if err := exectest.Equal(o.rows, []string{"3|late too|1970-01-01T00:00:02Z"}); err != nil {
		t.Error(err)
	}
	if q.Written() != 1 || q.Lost() != 1 || wa.LateRows() != 2 {
		t.Errorf("written %d, lost %d of %d late; want 1, 1 of 2", q.Written(), q.Lost(), wa.LateRows())
	}
	w := tap.Warnings()
	if len(w) != 2 || w[0] != "1 late row(s) written to fake" || w[1] != "1 late row(s) could not be written to fake: broker says no" {
		t.Errorf("warnings %q", w)
	}
	if err := tap.Close(); err != nil {
		t.Fatal(err)
	}
}

// A stalled output does not stall the query: once the queue is full,
// late rows are counted as lost instead of waiting (beyond MaxWait).
func TestLateRowsQueueFull(t *testing.T) {
	mem := stMem(t)
	s := exectest.Schema("ts", tsType)
	o := &fakeLateOut{gate: make(chan struct{})}
	q := exec.NewLateRowsQueue(o, s, []int{0}, mem)
	q.MaxWait = 0 // count as lost at once (the default waits a little for room)
	rec := exectest.Record(mem, s, []any{sec(1)})
	defer rec.Release()
	done := make(chan struct{})
	go func() {
		for i := 0; i < 300; i++ {
			q.Sink(rec, []int{0})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("Sink blocked on a stalled output")
	}
	close(o.gate)
	q.Finish()
	// One batch may be inside the stalled Write, 256 in the queue.
	if q.Written()+q.Lost() != 300 || q.Lost() < 300-257 {
		t.Errorf("written %d, lost %d of 300", q.Written(), q.Lost())
	}
}
