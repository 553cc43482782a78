package exec_test

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
)

// TestUnionAndIntervalJoinOpenDoNotPull: like the hash and lookup joins,
// UNION ALL and the interval join pull no input before their first Next.
// A job restores the states of the opened tree before it pulls it; an
// input pulled meanwhile (an aggregate below) would run Next concurrently
// with its Restore (a data race the race detector showed in the jobs
// restore test when Open started the prefetchers).
func TestUnionAndIntervalJoinOpenDoNotPull(t *testing.T) {
	mem := stMem(t)
	ctx := context.Background()
	s := exectest.Schema("k", arrow.PrimitiveTypes.Int64, "ts", tsType)
	src := func() *pullCounter {
		return &pullCounter{Source: exectest.NewSource(s, exec.BatchMsg(exectest.Record(mem, s, []any{1, sec(1)}), nil))}
	}
	a, b := src(), src()
	u := exec.NewUnion([]exec.Operator{a, b})
	if err := u.Open(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // room for an eager goroutine to pull
	if n := a.pulls.Load() + b.pulls.Load(); n != 0 {
		t.Errorf("union: inputs pulled %d times before Next", n)
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}

	l, r := src(), src()
	j, err := exec.NewIntervalJoin(l, r, []expr.Expr{colOf(s, "k")}, []expr.Expr{colOf(s, "k")},
		colOf(s, "ts"), colOf(s, "ts"), -time.Second, time.Second, nil, mem)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Open(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if n := l.pulls.Load() + r.pulls.Load(); n != 0 {
		t.Errorf("interval join: inputs pulled %d times before Next", n)
	}
	// Pulled once Next runs: the join still works.
	rows := 0
	for {
		m, err := j.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind == exec.MsgEnd {
			break
		}
		if m.Kind == exec.MsgBatch {
			rows += int(m.Batch.Rec.NumRows())
		}
		m.Release()
	}
	if rows != 1 {
		t.Errorf("interval join after Open: %d rows, want 1", rows)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
}
