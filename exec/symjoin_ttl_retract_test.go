package exec_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
)

// TestSymmetricJoinTTLRetractionMatchesItsInsertion: with a state TTL a
// pair of rows matches when their touches are within the TTL. A right row
// touched at 1 s does not match a left row touched at 100 s (10 s TTL);
// when the right input, its watermark now at 95 s, retracts that row, the
// retraction must not match the left row either: it would retract a joined
// row the join never emitted.
func TestSymmetricJoinTTLRetractionMatchesItsInsertion(t *testing.T) {
	mem := stMem(t)
	ctx := context.Background()
	want := map[exec.JoinType][]string{
		exec.InnerJoin: nil,
		exec.LeftJoin:  {"1|1970-01-01T00:01:40Z|NULL|NULL"},
		exec.RightJoin: nil,
		exec.FullJoin:  {"1|1970-01-01T00:01:40Z|NULL|NULL"},
		exec.SemiJoin:  nil,
		exec.AntiJoin:  {"1|1970-01-01T00:01:40Z"},
	}
	// An integer key and a string key (the two indexes of the join state).
	for _, keyType := range []arrow.DataType{i64, str} {
		s := exectest.Schema("k", keyType, "ts", tsType)
		barrier := exec.Message{Kind: exec.MsgBarrier, Barrier: 1}
		row := func(op exec.ChangeKind, k int64, ts float64) exec.Message {
			var kv any = k
			if keyType == str {
				kv = fmt.Sprint(k)
			}
			return exec.BatchMsg(exectest.Record(mem, s, []any{kv, sec(ts)}), []exec.ChangeKind{op})
		}
		for _, typ := range []exec.JoinType{exec.InnerJoin, exec.LeftJoin, exec.RightJoin, exec.FullJoin, exec.SemiJoin, exec.AntiJoin} {
			// The right input waits at its barrier until the left's rows are in.
			l := []exec.Message{exec.WatermarkMsg(int64(sec(1))), exec.WatermarkMsg(int64(sec(100))), row(exec.Insert, 1, 100), barrier}
			r := []exec.Message{exec.WatermarkMsg(int64(sec(1))), barrier, row(exec.Insert, 1, 1),
				exec.WatermarkMsg(int64(sec(95))), row(exec.Delete, 1, 1)}
			j := must(exec.NewHashJoin(exectest.NewSource(s, l...), exectest.NewSource(s, r...),
				[]expr.Expr{colOf(s, "k")}, []expr.Expr{colOf(s, "k")}, typ, nil, mem)).(*exec.HashJoin)
			j.SetStateTTL(10e9)
			msgs, err := exectest.CollectMessages(ctx, j)
			log := exectest.Changelog(msgs)
			folded, ferr := exectest.Fold(msgs)
			exectest.ReleaseMessages(msgs)
			if err != nil {
				t.Fatalf("%s join: %v", typ, err)
			}
			if ferr != nil {
				t.Errorf("%s join, %s key: %v\n%q", typ, keyType, ferr, log)
				continue
			}
			if err := exectest.Equal(folded, want[typ]); err != nil {
				t.Errorf("%s join, %s key: %v\n%q", typ, keyType, err, log)
			}
		}
	}
}
