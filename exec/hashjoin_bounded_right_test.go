package exec_test

import (
	"context"
	"testing"

	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
)

// TestOuterJoinBoundedRightStreamLeft: a RIGHT or FULL join of a stream
// (left, never ending) with a bounded right input (a VALUES list) that ends
// first emits the right rows without a match while the stream runs, as the
// bounded query's answer has them, when symmetric from the start (what
// the planner asks of such a join in a continuous query): built then
// probed, it would emit them only at the end of the left input, which
// never comes.
func TestOuterJoinBoundedRightStreamLeft(t *testing.T) {
	mem := newMem(t)
	for _, typ := range []exec.JoinType{exec.RightJoin, exec.FullJoin} {
		left := &chanSource{schema: joinL, in: make(chan exec.Message)}
		right := exectest.NewSource(joinR, exec.BatchMsg(exectest.Record(mem, joinR, []any{1, 10}, []any{2, 20}), nil))
		j := must(exec.NewHashJoin(left, right, []expr.Expr{col(joinL, "lk")}, []expr.Expr{col(joinR, "rk")}, typ, nil, mem)).(*exec.HashJoin)
		j.SetStreamingInputs()
		ctx, cancel := context.WithCancel(context.Background())
		if err := j.Open(ctx); err != nil {
			t.Fatal(err)
		}
		go func() {
			left.in <- exec.BatchMsg(exectest.Record(mem, joinL, []any{1, "a"}), nil)
			left.in <- exec.WatermarkMsg(5)
		}()
		var got []exec.Message
		for {
			m, err := j.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if m.Kind == exec.MsgWatermark && m.Watermark == 5 {
				break
			}
			if m.Kind == exec.MsgEnd {
				t.Fatalf("%s join ended before its left input", typ)
			}
			got = append(got, m)
		}
		log := exectest.Changelog(got)
		folded, err := exectest.Fold(got)
		exectest.ReleaseMessages(got)
		if err != nil {
			t.Fatalf("%s join: %v\n%q", typ, err, log)
		}
		if err := exectest.Equal(folded, []string{"1|a|1|10", "NULL|NULL|2|20"}); err != nil {
			t.Errorf("%s join, before the left input ends: %v\n%q", typ, err, log)
		}
		close(left.in)
		for {
			m, err := j.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			m.Release()
			if m.Kind == exec.MsgEnd {
				break
			}
		}
		j.Close()
		cancel()
	}
}
