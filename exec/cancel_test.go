package exec_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
)

// TestCancellation: operators blocked on an input that has no data return
// ctx.Err() once the context is cancelled, and Close releases everything.
func TestCancellation(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("a", i64)
	ops := map[string]func() exec.Operator{
		"union": func() exec.Operator {
			return exec.NewUnion([]exec.Operator{endless{exectest.NewSource(s)}, endless{exectest.NewSource(s)}})
		},
		"hashjoin": func() exec.Operator {
			return must(exec.NewHashJoin(endless{exectest.NewSource(joinL)}, endless{exectest.NewSource(joinR)},
				[]expr.Expr{col(joinL, "lk")}, []expr.Expr{col(joinR, "rk")}, exec.InnerJoin, nil, mem))
		},
		"sort": func() exec.Operator {
			return must(exec.NewSort(endless{exectest.NewSource(s, exec.BatchMsg(exectest.Record(mem, s, []any{1}), nil))},
				[]exec.SortKey{{Expr: col(s, "a")}}, mem))
		},
	}
	for name, mk := range ops {
		t.Run(name, func(t *testing.T) {
			op := mk()
			ctx, cancel := context.WithCancel(context.Background())
			if err := op.Open(ctx); err != nil {
				t.Fatal(err)
			}
			go func() {
				time.Sleep(20 * time.Millisecond)
				cancel()
			}()
			_, err := op.Next(ctx)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("want context.Canceled, got %v", err)
			}
			if err := op.Close(); err != nil {
				t.Fatal(err)
			}
			op.Close() // safe twice
		})
	}
}

func TestExectestFold(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("a", i64, "b", str)
	r1 := exectest.Record(mem, s, []any{1, "x"}, []any{2, nil})
	r2 := exectest.Record(mem, s, []any{1, "x"}, []any{3, "z"})
	msgs := []exec.Message{exec.BatchMsg(r1, nil), exec.BatchMsg(r2, []exec.ChangeKind{exec.UpdateBefore, exec.UpdateAfter})}
	defer exectest.ReleaseMessages(msgs)
	got, err := exectest.Fold(msgs)
	if err != nil {
		t.Fatal(err)
	}
	check(t, got, []string{"2|NULL", "3|z"})
	check(t, exectest.Changelog(msgs), []string{"+I 1|x", "+I 2|NULL", "-U 1|x", "+U 3|z"})
	bad := exectest.Record(mem, s, []any{9, "q"})
	defer bad.Release()
	if _, err := exectest.Fold([]exec.Message{exec.BatchMsg(bad, []exec.ChangeKind{exec.Delete})}); err == nil {
		t.Fatal("want an error retracting an absent row")
	}
}
