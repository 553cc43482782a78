package exec_test

import (
	"context"
	"testing"

	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
)

var winS = exectest.Schema("g", str, "t", i64, "v", i64)

func winInput(any) [][][]any {
	return [][][]any{
		{{"a", 1, 10}, {"b", 1, 5}, {"a", 2, 20}},
		{{"a", 2, 30}, {"a", 4, nil}, {"b", 3, 7}, {"a", 5, 40}},
	}
}

func TestWindowRanking(t *testing.T) {
	mem := newMem(t)
	w := must(exec.NewWindow(values(mem, winS, winInput(mem)...), []expr.Expr{col(winS, "g")},
		[]exec.SortKey{{Expr: col(winS, "t"), NullsFirst: true}}, []exec.WindowCall{
			{Func: "row_number", Name: "rn"},
			{Func: "rank", Name: "rk"},
			{Func: "dense_rank", Name: "dr"},
			{Func: "lag", Args: []expr.Expr{col(winS, "v")}, Name: "lag"},
			{Func: "lead", Args: []expr.Expr{col(winS, "v"), expr.Lit(int64(2)), expr.Lit(int64(-1))}, Name: "lead2"},
		}, mem))
	check(t, run(t, w), []string{
		"a|1|10|1|1|1|NULL|30",
		"a|2|20|2|2|2|10|NULL",
		"a|2|30|3|2|2|20|40",
		"a|4|NULL|4|4|3|30|-1",
		"a|5|40|5|5|4|NULL|-1",
		"b|1|5|1|1|1|NULL|-1",
		"b|3|7|2|2|2|5|-1",
	})
}

func TestWindowAggregatesDefaultFrames(t *testing.T) {
	mem := newMem(t)
	calls := []exec.WindowCall{
		{Func: "sum", Args: []expr.Expr{col(winS, "v")}, Name: "s"},
		{Func: "count", Args: []expr.Expr{col(winS, "v")}, Name: "c"},
		{Func: "count_star", Name: "n"},
		{Func: "avg", Args: []expr.Expr{col(winS, "v")}, Name: "a"},
		{Func: "min", Args: []expr.Expr{col(winS, "v")}, Name: "mn"},
		{Func: "max", Args: []expr.Expr{col(winS, "v")}, Name: "mx"},
	}
	// ORDER BY: running totals with peers (the two t=2 rows share a value).
	w := must(exec.NewWindow(values(mem, winS, winInput(mem)...), []expr.Expr{col(winS, "g")},
		[]exec.SortKey{{Expr: col(winS, "t"), NullsFirst: true}}, calls, mem))
	check(t, run(t, w), []string{
		"a|1|10|10|1|1|10|10|10",
		"a|2|20|60|3|3|20|10|30",
		"a|2|30|60|3|3|20|10|30",
		"a|4|NULL|60|3|4|20|10|30",
		"a|5|40|100|4|5|25|10|40",
		"b|1|5|5|1|1|5|5|5",
		"b|3|7|12|2|2|6|5|7",
	})
	// No ORDER BY: the whole partition.
	w = must(exec.NewWindow(values(mem, winS, winInput(mem)...), []expr.Expr{col(winS, "g")}, nil, calls[:3], mem))
	check(t, runSorted(t, w), []string{
		"a|1|10|100|4|5", "a|2|20|100|4|5", "a|2|30|100|4|5", "a|4|NULL|100|4|5", "a|5|40|100|4|5",
		"b|1|5|12|2|2", "b|3|7|12|2|2",
	})
}

func TestWindowRowsFrames(t *testing.T) {
	mem := newMem(t)
	sliding := exec.Frame{Unit: exec.FrameRows, Start: exec.FrameBound{Kind: exec.Preceding, Offset: 1}, End: exec.FrameBound{Kind: exec.Following, Offset: 1}}
	rest := exec.Frame{Unit: exec.FrameRows, Start: exec.FrameBound{Kind: exec.CurrentRow}, End: exec.FrameBound{Kind: exec.UnboundedFollowing}}
	w := must(exec.NewWindow(values(mem, winS, winInput(mem)...), nil,
		[]exec.SortKey{{Expr: col(winS, "g"), NullsFirst: true}, {Expr: col(winS, "t"), NullsFirst: true}, {Expr: col(winS, "v"), NullsFirst: true}},
		[]exec.WindowCall{
			{Func: "sum", Args: []expr.Expr{col(winS, "v")}, Frame: sliding, Name: "s3"},
			{Func: "max", Args: []expr.Expr{col(winS, "v")}, Frame: sliding, Name: "m3"},
			{Func: "min", Args: []expr.Expr{col(winS, "v")}, Frame: rest, Name: "minrest"},
		}, mem))
	check(t, run(t, w), []string{
		"a|1|10|30|20|5",
		"a|2|20|60|30|5",
		"a|2|30|50|30|5",
		"a|4|NULL|70|40|5",
		"a|5|40|45|40|5",
		"b|1|5|52|40|5",
		"b|3|7|12|7|7",
	})
}

func TestWindowErrors(t *testing.T) {
	mem := newMem(t)
	in := values(mem, winS)
	bad := []exec.WindowCall{
		{Func: "ntile", Name: "x"},
		{Func: "lag", Args: []expr.Expr{col(winS, "v"), col(winS, "t")}, Name: "x"},
		{Func: "sum", Args: []expr.Expr{col(winS, "v")}, Frame: exec.Frame{Unit: exec.FrameRange, Start: exec.FrameBound{Kind: exec.Preceding, Offset: 3}, End: exec.FrameBound{Kind: exec.CurrentRow}}, Name: "x"},
	}
	for _, c := range bad {
		if _, err := exec.NewWindow(in, nil, nil, []exec.WindowCall{c}, mem); err == nil {
			t.Errorf("%s: want error", c.Func)
		}
	}
	// Empty input: no rows, no leaks.
	w := must(exec.NewWindow(in, nil, nil, []exec.WindowCall{{Func: "row_number", Name: "rn"}}, mem))
	recs, err := exectest.Collect(context.Background(), w)
	exectest.Release(recs)
	if err != nil || len(recs) != 0 {
		t.Fatalf("empty input: %d batches, %v", len(recs), err)
	}
}
