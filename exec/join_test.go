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

var (
	joinL = exectest.Schema("lk", i64, "lv", str)
	joinR = exectest.Schema("rk", i64, "rv", i64)
)

// pairsRight references right column i in the concatenated (left, right) row.
func pairCol(i int, name string, t arrow.DataType) *expr.Column {
	return &expr.Column{Index: joinL.NumFields() + i, Name: name, T: t}
}

func TestHashJoinTypes(t *testing.T) {
	cases := []struct {
		typ      exec.JoinType
		residual bool
		want     []string
	}{
		{exec.InnerJoin, false, []string{"1|a|1|10", "1|a|1|11", "2|b|2|20", "2|b2|2|20"}},
		{exec.LeftJoin, false, []string{"1|a|1|10", "1|a|1|11", "2|b|2|20", "2|b2|2|20", "3|c|NULL|NULL", "NULL|n|NULL|NULL"}},
		{exec.RightJoin, false, []string{"1|a|1|10", "1|a|1|11", "2|b|2|20", "2|b2|2|20", "NULL|NULL|4|40", "NULL|NULL|NULL|50"}},
		{exec.SemiJoin, false, []string{"1|a", "2|b", "2|b2"}},
		{exec.AntiJoin, false, []string{"3|c", "NULL|n"}},
		// residual rv > 10
		{exec.InnerJoin, true, []string{"1|a|1|11", "2|b|2|20", "2|b2|2|20"}},
		{exec.LeftJoin, true, []string{"1|a|1|11", "2|b|2|20", "2|b2|2|20", "3|c|NULL|NULL", "NULL|n|NULL|NULL"}},
		{exec.RightJoin, true, []string{"1|a|1|11", "2|b|2|20", "2|b2|2|20", "NULL|NULL|1|10", "NULL|NULL|4|40", "NULL|NULL|NULL|50"}},
		{exec.SemiJoin, true, []string{"1|a", "2|b", "2|b2"}},
		{exec.AntiJoin, true, []string{"3|c", "NULL|n"}},
	}
	for _, c := range cases {
		for _, general := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/residual=%v/general=%v", c.typ, c.residual, general), func(t *testing.T) {
				mem := newMem(t)
				left := values(mem, joinL, [][]any{{1, "a"}, {2, "b"}, {3, "c"}}, [][]any{{nil, "n"}, {2, "b2"}})
				right := values(mem, joinR, [][]any{{1, 10}, {2, 20}, {4, 40}}, [][]any{{1, 11}, {nil, 50}})
				lk := []expr.Expr{col(joinL, "lk")}
				rk := []expr.Expr{col(joinR, "rk")}
				if general {
					// Two keys force the serialized-key table: (k, k).
					lk = append(lk, col(joinL, "lk"))
					rk = append(rk, col(joinR, "rk"))
				}
				var res expr.Expr
				if c.residual {
					res = must(expr.NewCall(">", pairCol(1, "rv", i64), expr.Lit(int64(10))))
				}
				j := must(exec.NewHashJoin(left, right, lk, rk, c.typ, res, mem))
				check(t, runSorted(t, j), sortStrings(append([]string(nil), c.want...)))
			})
		}
	}
}

func TestHashJoinSparseKeysAndDuplicates(t *testing.T) {
	mem := newMem(t)
	var lrows, rrows [][]any
	for i := 0; i < 3000; i++ {
		lrows = append(lrows, []any{int64(i) * 1_000_003, fmt.Sprint(i)})
	}
	for i := 0; i < 1000; i++ {
		rrows = append(rrows, []any{int64(i*3) * 1_000_003, i}, []any{int64(i*3) * 1_000_003, -i})
	}
	j := must(exec.NewHashJoin(values(mem, joinL, lrows), values(mem, joinR, rrows),
		[]expr.Expr{col(joinL, "lk")}, []expr.Expr{col(joinR, "rk")}, exec.InnerJoin, nil, mem))
	got := run(t, j)
	if len(got) != 2000 {
		t.Fatalf("%d rows, want 2000", len(got))
	}
}

func TestHashJoinCarriesOpsAndControl(t *testing.T) {
	mem := newMem(t)
	left := exectest.NewSource(joinL,
		exec.BatchMsg(exectest.Record(mem, joinL, []any{1, "a"}, []any{1, "a"}), []exec.ChangeKind{exec.Insert, exec.Delete}),
		exec.WatermarkMsg(42),
	)
	right := values(mem, joinR, [][]any{{1, 10}})
	j := must(exec.NewHashJoin(left, right, []expr.Expr{col(joinL, "lk")}, []expr.Expr{col(joinR, "rk")}, exec.InnerJoin, nil, mem))
	msgs, err := exectest.CollectMessages(context.Background(), j)
	defer exectest.ReleaseMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	check(t, exectest.Changelog(msgs), []string{"+I 1|a|1|10", "-D 1|a|1|10"})
	if last := msgs[len(msgs)-1]; last.Kind != exec.MsgWatermark || last.Watermark != 42 {
		t.Fatalf("watermark not forwarded: %+v", last)
	}
}

func TestHashJoinEmptyBuildSkipsProbe(t *testing.T) {
	mem := newMem(t)
	left := exectest.NewSource(joinL, exec.BatchMsg(exectest.Record(mem, joinL, []any{1, "a"}), nil))
	j := must(exec.NewHashJoin(left, values(mem, joinR), []expr.Expr{col(joinL, "lk")}, []expr.Expr{col(joinR, "rk")}, exec.InnerJoin, nil, mem))
	check(t, run(t, j), nil)
	anti := must(exec.NewHashJoin(values(mem, joinL, [][]any{{1, "a"}}), values(mem, joinR), []expr.Expr{col(joinL, "lk")}, []expr.Expr{col(joinR, "rk")}, exec.AntiJoin, nil, mem))
	check(t, run(t, anti), []string{"1|a"})
}

func TestHashJoinRejectsMismatchedKeys(t *testing.T) {
	mem := newMem(t)
	_, err := exec.NewHashJoin(values(mem, joinL), values(mem, joinR), []expr.Expr{col(joinL, "lv")}, []expr.Expr{col(joinR, "rk")}, exec.InnerJoin, nil, mem)
	if err == nil {
		t.Fatal("want an error joining VARCHAR with BIGINT")
	}
}

func TestNestedLoopJoin(t *testing.T) {
	mem := newMem(t)
	mk := func() (exec.Operator, exec.Operator) {
		return values(mem, joinL, [][]any{{1, "a"}, {5, "b"}}, [][]any{{9, "c"}}),
			values(mem, joinR, [][]any{{2, 10}, {6, 20}})
	}
	l, r := mk()
	cross := must(exec.NewNestedLoopJoin(l, r, exec.InnerJoin, nil, mem))
	check(t, runSorted(t, cross), []string{"1|a|2|10", "1|a|6|20", "5|b|2|10", "5|b|6|20", "9|c|2|10", "9|c|6|20"})
	// lk < rk
	less := must(expr.NewCall("<", col(joinL, "lk"), pairCol(0, "rk", i64)))
	l, r = mk()
	check(t, runSorted(t, must(exec.NewNestedLoopJoin(l, r, exec.LeftJoin, less, mem))),
		[]string{"1|a|2|10", "1|a|6|20", "5|b|6|20", "9|c|NULL|NULL"})
	l, r = mk()
	check(t, runSorted(t, must(exec.NewNestedLoopJoin(l, r, exec.AntiJoin, less, mem))), []string{"9|c"})
	l, r = mk()
	check(t, runSorted(t, must(exec.NewNestedLoopJoin(l, r, exec.SemiJoin, less, mem))), []string{"1|a", "5|b"})
	bigger := must(expr.NewCall(">", col(joinL, "lk"), expr.Lit(int64(100))))
	l, r = mk()
	check(t, runSorted(t, must(exec.NewNestedLoopJoin(l, r, exec.RightJoin, bigger, mem))), []string{"NULL|NULL|2|10", "NULL|NULL|6|20"})
}
