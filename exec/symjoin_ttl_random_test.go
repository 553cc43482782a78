package exec_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
)

// TestSymmetricJoinTTLRandomFolds: random changelogs on both inputs with
// watermarks moving at different speeds and a short state TTL, every join
// type: expiry is silent, so the output may keep rows of expired state,
// but it never retracts a row it did not emit (the changelog folds).
func TestSymmetricJoinTTLRandomFolds(t *testing.T) {
	mem := stMem(t)
	ctx := context.Background()
	s := exectest.Schema("k", i64, "ts", tsType)
	types := []exec.JoinType{exec.InnerJoin, exec.LeftJoin, exec.RightJoin, exec.FullJoin, exec.SemiJoin, exec.AntiJoin}
	side := func(r *rand.Rand) []exec.Message {
		type row struct{ k, ts int64 }
		var live []row
		var out []exec.Message
		wm := int64(0)
		for b := 0; b < 30; b++ {
			if r.IntN(3) == 0 {
				wm += int64(r.IntN(8)) * 1e6
				out = append(out, exec.WatermarkMsg(wm))
				continue
			}
			var rows [][]any
			var ops []exec.ChangeKind
			for m := 1 + r.IntN(3); m > 0; m-- {
				if len(live) > 0 && r.IntN(3) == 0 {
					i := r.IntN(len(live))
					rows, ops = append(rows, []any{live[i].k, live[i].ts}), append(ops, exec.Delete)
					live = append(live[:i], live[i+1:]...)
					continue
				}
				x := row{int64(r.IntN(4)), int64(b)}
				live = append(live, x)
				rows, ops = append(rows, []any{x.k, x.ts}), append(ops, exec.Insert)
			}
			out = append(out, exec.BatchMsg(exectest.Record(mem, s, rows...), ops))
		}
		return out
	}
	for seed := uint64(0); seed < 60; seed++ {
		for _, typ := range types {
			r := rand.New(rand.NewPCG(seed, 11))
			l := append([]exec.Message{exec.WatermarkMsg(0)}, side(r)...)
			rr := append([]exec.Message{exec.WatermarkMsg(0)}, side(r)...)
			j := must(exec.NewHashJoin(exectest.NewSource(s, l...), exectest.NewSource(s, rr...),
				[]expr.Expr{colOf(s, "k")}, []expr.Expr{colOf(s, "k")}, typ, nil, mem)).(*exec.HashJoin)
			j.SetStateTTL(5e9)
			msgs, err := exectest.CollectMessages(ctx, j)
			log := exectest.Changelog(msgs)
			_, ferr := exectest.Fold(msgs)
			exectest.ReleaseMessages(msgs)
			if err != nil {
				t.Fatalf("seed %d, %s join: %v", seed, typ, err)
			}
			if ferr != nil {
				t.Fatalf("seed %d, %s join: %v\n%s", seed, typ, ferr, fmt.Sprint(log))
			}
		}
	}
}
