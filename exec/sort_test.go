package exec_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
)

var sortS = exectest.Schema("a", i64, "b", str, "f", f64)

func sortInput(any) [][][]any {
	return [][][]any{
		{{3, "x", 1.5}, {1, "y", nil}, {nil, "z", -2.0}},
		{{2, "x", 0.0}, {1, "a", 7.0}, {-5, nil, 3.0}},
	}
}

func TestSortSingleKeys(t *testing.T) {
	in := sortInput(nil)
	cases := []struct {
		key  exec.SortKey
		want []string
	}{
		{exec.SortKey{Expr: col(sortS, "a"), NullsFirst: true}, []string{"NULL|z|-2", "-5|NULL|3", "1|y|NULL", "1|a|7", "2|x|0", "3|x|1.5"}},
		{exec.SortKey{Expr: col(sortS, "a"), Desc: true}, []string{"3|x|1.5", "2|x|0", "1|y|NULL", "1|a|7", "-5|NULL|3", "NULL|z|-2"}},
		{exec.SortKey{Expr: col(sortS, "f"), NullsFirst: false}, []string{"NULL|z|-2", "2|x|0", "3|x|1.5", "-5|NULL|3", "1|a|7", "1|y|NULL"}},
		{exec.SortKey{Expr: col(sortS, "b"), Desc: true, NullsFirst: true}, []string{"-5|NULL|3", "NULL|z|-2", "1|y|NULL", "3|x|1.5", "2|x|0", "1|a|7"}},
	}
	for _, c := range cases {
		t.Run(c.key.String(), func(t *testing.T) {
			mem := newMem(t)
			s := must(exec.NewSort(values(mem, sortS, in...), []exec.SortKey{c.key}, mem))
			check(t, run(t, s), c.want)
		})
	}
}

func TestSortMultiKeyStable(t *testing.T) {
	mem := newMem(t)
	s := must(exec.NewSort(values(mem, sortS, sortInput(nil)...), []exec.SortKey{
		{Expr: col(sortS, "b"), NullsFirst: false},
		{Expr: col(sortS, "a"), Desc: true},
	}, mem))
	check(t, run(t, s), []string{"1|a|7", "3|x|1.5", "2|x|0", "1|y|NULL", "NULL|z|-2", "-5|NULL|3"})
}

func TestSortRandomAgainstReference(t *testing.T) {
	mem := newMem(t)
	r := rand.New(rand.NewPCG(7, 7))
	var batches [][][]any
	var ref []int64
	for b := 0; b < 5; b++ {
		var rows [][]any
		for i := 0; i < 3000; i++ {
			v := r.Int64N(1<<40) - 1<<39
			rows = append(rows, []any{v, "s", 0.0})
			ref = append(ref, v)
		}
		batches = append(batches, rows)
	}
	sort.Slice(ref, func(i, j int) bool { return ref[i] > ref[j] })
	s := must(exec.NewSort(values(mem, sortS, batches...), []exec.SortKey{{Expr: col(sortS, "a"), Desc: true}}, mem))
	got := run(t, s)
	for i, v := range ref {
		if want := fmt.Sprintf("%d|s|0", v); got[i] != want {
			t.Fatalf("row %d: %s, want %s", i, got[i], want)
		}
	}
}

func TestSortKeepsOpsAndForwardsControl(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("a", i64)
	src := exectest.NewSource(s,
		exec.BatchMsg(exectest.Record(mem, s, []any{3}, []any{1}), nil),
		exec.WatermarkMsg(9),
		exec.BatchMsg(exectest.Record(mem, s, []any{2}), []exec.ChangeKind{exec.Delete}),
	)
	msgs, err := exectest.CollectMessages(context.Background(), must(exec.NewSort(src, []exec.SortKey{{Expr: col(s, "a")}}, mem)))
	defer exectest.ReleaseMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	if msgs[0].Kind != exec.MsgWatermark {
		t.Fatalf("watermark should pass before the sorted output")
	}
	check(t, exectest.Changelog(msgs), []string{"+I 1", "-D 2", "+I 3"})
}

func TestTopN(t *testing.T) {
	mem := newMem(t)
	r := rand.New(rand.NewPCG(1, 9))
	var batches [][][]any
	var all []int64
	for b := 0; b < 4; b++ {
		var rows [][]any
		for i := 0; i < 500; i++ {
			v := r.Int64N(1000)
			all = append(all, v)
			rows = append(rows, []any{v, fmt.Sprint(v), float64(i)})
		}
		batches = append(batches, rows)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	top := must(exec.NewTopN(values(mem, sortS, batches...), []exec.SortKey{{Expr: col(sortS, "a"), NullsFirst: true}}, 5, 10, mem))
	got := run(t, top)
	if len(got) != 10 {
		t.Fatalf("%d rows", len(got))
	}
	for i, row := range got {
		var v int64
		fmt.Sscanf(row, "%d|", &v)
		if v != all[5+i] {
			t.Fatalf("row %d = %s, want a=%d", i, row, all[5+i])
		}
	}
	// Fewer rows than the limit, and LIMIT 0.
	check(t, run(t, must(exec.NewTopN(values(mem, sortS, sortInput(nil)...), []exec.SortKey{{Expr: col(sortS, "a"), Desc: true}}, 0, 100, mem))),
		[]string{"3|x|1.5", "2|x|0", "1|y|NULL", "1|a|7", "-5|NULL|3", "NULL|z|-2"})
	check(t, run(t, must(exec.NewTopN(values(mem, sortS, sortInput(nil)...), []exec.SortKey{{Expr: col(sortS, "a")}}, 0, 0, mem))), nil)
}
