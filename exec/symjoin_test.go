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

// endless emits its scripted messages and then blocks until cancelled, like
// an unbounded source with no more data for now.
type endless struct{ *exectest.Source }

func (e endless) Next(ctx context.Context) (exec.Message, error) {
	m, err := e.Source.Next(ctx)
	if err != nil || m.Kind != exec.MsgEnd {
		return m, err
	}
	<-ctx.Done()
	return exec.Message{}, ctx.Err()
}

func TestHashJoinSymmetricWithUnboundedBuildSide(t *testing.T) {
	mem := newMem(t)
	batch := func(s *arrow.Schema, rows ...[]any) exec.Message {
		return exec.BatchMsg(exectest.Record(mem, s, rows...), nil)
	}
	right := endless{exectest.NewSource(joinR,
		exec.WatermarkMsg(5),
		batch(joinR, []any{1, 10}, []any{2, 20}),
		batch(joinR, []any{1, 11}),
	)}
	left := endless{exectest.NewSource(joinL,
		batch(joinL, []any{1, "a"}, []any{3, "c"}),
		exec.WatermarkMsg(7),
		batch(joinL, []any{2, "b"}, []any{1, "a2"}),
	)}
	res := must(expr.NewCall("<>", pairCol(1, "rv", i64), expr.Lit(int64(11))))
	j := must(exec.NewHashJoin(left, right, []expr.Expr{col(joinL, "lk")}, []expr.Expr{col(joinR, "rk")}, exec.InnerJoin, res, mem))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := j.Open(ctx); err != nil {
		t.Fatal(err)
	}
	var got []exec.Message
	rows := 0
	sawWM := false
	for rows < 3 {
		m, err := j.Next(ctx)
		if err != nil {
			t.Fatalf("after %d rows: %v", rows, err)
		}
		if m.Kind == exec.MsgWatermark {
			sawWM = m.Watermark == 5
		}
		if m.Kind == exec.MsgBatch {
			rows += int(m.Batch.Rec.NumRows())
			got = append(got, m)
		}
	}
	j.Close()
	defer exectest.ReleaseMessages(got)
	final, err := exectest.Fold(got)
	if err != nil {
		t.Fatal(err)
	}
	check(t, final, sortStrings([]string{"1|a|1|10", "2|b|2|20", "1|a2|1|10"}))
	if !sawWM {
		t.Error("expected the combined watermark min(7, 5) = 5")
	}
}

func TestHashJoinSymmetricMatchesBounded(t *testing.T) {
	// Watermarks on both (finite) inputs force symmetric mode; the result
	// must equal the bounded join's.
	mem := newMem(t)
	mk := func(wm bool) []string {
		var lm, rm []exec.Message
		if wm {
			lm = append(lm, exec.WatermarkMsg(1))
			rm = append(rm, exec.WatermarkMsg(1))
		}
		for b := 0; b < 4; b++ {
			var lrows, rrows [][]any
			for i := 0; i < 50; i++ {
				lrows = append(lrows, []any{(b*50 + i) % 37, "x"})
				rrows = append(rrows, []any{(b*50 + i) % 41, b*50 + i})
			}
			lm = append(lm, exec.BatchMsg(exectest.Record(mem, joinL, lrows...), nil))
			rm = append(rm, exec.BatchMsg(exectest.Record(mem, joinR, rrows...), nil))
		}
		j := must(exec.NewHashJoin(exectest.NewSource(joinL, lm...), exectest.NewSource(joinR, rm...),
			[]expr.Expr{col(joinL, "lk")}, []expr.Expr{col(joinR, "rk")}, exec.InnerJoin, nil, mem))
		return runSorted(t, j)
	}
	bounded, sym := mk(false), mk(true)
	if len(bounded) == 0 {
		t.Fatal("no matches")
	}
	check(t, sym, bounded)
}

func TestHashJoinSymmetricRetractions(t *testing.T) {
	for _, general := range []bool{false, true} {
		mem := newMem(t)
		ops := func(k ...exec.ChangeKind) []exec.ChangeKind { return k }
		right := exectest.NewSource(joinR,
			exec.WatermarkMsg(1), // streaming build side: symmetric mode
			exec.BatchMsg(exectest.Record(mem, joinR, []any{1, 10}, []any{1, 11}), nil),
		)
		left := exectest.NewSource(joinL,
			exec.BatchMsg(exectest.Record(mem, joinL, []any{1, "a"}, []any{1, "b"}), nil),
			// Update a -> c: both joined rows of a are retracted, c joins.
			exec.BatchMsg(exectest.Record(mem, joinL, []any{1, "a"}, []any{1, "c"}), ops(exec.UpdateBefore, exec.UpdateAfter)),
		)
		lk, rk := []expr.Expr{col(joinL, "lk")}, []expr.Expr{col(joinR, "rk")}
		if general {
			lk, rk = append(lk, col(joinL, "lk")), append(rk, col(joinR, "rk"))
		}
		j := must(exec.NewHashJoin(left, right, lk, rk, exec.InnerJoin, nil, mem))
		msgs, err := exectest.CollectMessages(context.Background(), j)
		if err != nil {
			t.Fatal(err)
		}
		final, err := exectest.Fold(msgs)
		exectest.ReleaseMessages(msgs)
		if err != nil {
			t.Fatal(err)
		}
		check(t, final, sortStrings([]string{"1|b|1|10", "1|b|1|11", "1|c|1|10", "1|c|1|11"}))

		// Retracting a row that was never added is an error.
		right = exectest.NewSource(joinR, exec.WatermarkMsg(1),
			exec.BatchMsg(exectest.Record(mem, joinR, []any{2, 20}), ops(exec.Delete)))
		j = must(exec.NewHashJoin(exectest.NewSource(joinL), right, lk, rk, exec.InnerJoin, nil, mem))
		msgs, err = exectest.CollectMessages(context.Background(), j)
		exectest.ReleaseMessages(msgs)
		if err == nil {
			t.Fatal("want an error for a retraction of an absent row")
		}
	}
}
