package exec_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
)

func TestHashAggregateInt64Key(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("k", i64, "v", i64, "f", f64, "s", str)
	in := values(mem, s,
		[][]any{{1, 10, 1.5, "b"}, {2, 20, 2.0, "a"}, {1, nil, 0.5, "c"}, {nil, 5, nil, nil}},
		[][]any{{2, 1, -1.0, "z"}, {3, nil, nil, nil}, {1, 10, 1.0, "a"}, {nil, 7, 3.0, "q"}},
	)
	agg := must(exec.NewHashAggregate(in, []expr.Expr{col(s, "k")}, []string{"k"}, []exec.AggCall{
		{Func: "count_star", Name: "n"},
		{Func: "count", Args: []expr.Expr{col(s, "v")}, Name: "cv"},
		{Func: "sum", Args: []expr.Expr{col(s, "v")}, Name: "sv"},
		{Func: "avg", Args: []expr.Expr{col(s, "v")}, Name: "av"},
		{Func: "min", Args: []expr.Expr{col(s, "s")}, Name: "mins"},
		{Func: "max", Args: []expr.Expr{col(s, "f")}, Name: "maxf"},
		{Func: "count", Args: []expr.Expr{col(s, "v")}, Distinct: true, Name: "dv"},
		{Func: "sum", Args: []expr.Expr{col(s, "f")}, Name: "sf"},
	}, mem, exec.AggOptions{}))
	check(t, runSorted(t, agg), []string{
		"1|3|2|20|10|a|1.5|1|3",
		"2|2|2|21|10.5|a|2|2|1",
		"3|1|0|NULL|NULL|NULL|NULL|0|NULL",
		"NULL|2|2|12|6|q|3|2|3",
	})
}

func TestHashAggregateMultiKeyAndTypes(t *testing.T) {
	mem := newMem(t)
	dec := &arrow.Decimal128Type{Precision: 10, Scale: 2}
	ts := arrow.FixedWidthTypes.Timestamp_us
	s := exectest.Schema("a", str, "b", i64, "d", dec, "t", ts)
	in := values(mem, s, [][]any{
		{"x", 1, decimal128.FromI64(150), 1000},
		{"x", 1, decimal128.FromI64(251), 3000},
		{"x", 2, nil, 2000},
		{nil, 1, decimal128.FromI64(-100), nil},
		{"x", 1, decimal128.FromI64(100), 2000},
	})
	agg := must(exec.NewHashAggregate(in, []expr.Expr{col(s, "a"), col(s, "b")}, []string{"a", "b"}, []exec.AggCall{
		{Func: "sum", Args: []expr.Expr{col(s, "d")}, Name: "sd"},
		{Func: "avg", Args: []expr.Expr{col(s, "d")}, Name: "ad"},
		{Func: "min", Args: []expr.Expr{col(s, "d")}, Name: "mind"},
		{Func: "max", Args: []expr.Expr{col(s, "t")}, Name: "maxt"},
		{Func: "min", Args: []expr.Expr{col(s, "t")}, Name: "mint"},
	}, mem, exec.AggOptions{}))
	if got := agg.Schema().Field(3).Type.(*arrow.Decimal128Type); got.Scale != 6 {
		t.Fatalf("avg decimal scale %d", got.Scale)
	}
	check(t, runSorted(t, agg), []string{
		"NULL|1|-1|-1|-1|NULL|NULL",
		"x|1|5.01|1.67|1|1970-01-01T00:00:00.003Z|1970-01-01T00:00:00.001Z",
		"x|2|NULL|NULL|NULL|1970-01-01T00:00:00.002Z|1970-01-01T00:00:00.002Z",
	})
}

func TestHashAggregateNoGroups(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("v", i64)
	calls := []exec.AggCall{
		{Func: "count_star", Name: "n"},
		{Func: "sum", Args: []expr.Expr{col(s, "v")}, Name: "s"},
		{Func: "max", Args: []expr.Expr{col(s, "v")}, Name: "m"},
	}
	empty := must(exec.NewHashAggregate(values(mem, s), nil, nil, calls, mem, exec.AggOptions{}))
	check(t, run(t, empty), []string{"0|NULL|NULL"})
	full := must(exec.NewHashAggregate(values(mem, s, [][]any{{3}, {4}}, [][]any{{nil}}), nil, nil, calls, mem, exec.AggOptions{}))
	check(t, run(t, full), []string{"3|7|4"})
	// Grouped aggregate over empty input: no rows.
	g := must(exec.NewHashAggregate(values(mem, s), []expr.Expr{col(s, "v")}, []string{"v"}, calls, mem, exec.AggOptions{}))
	check(t, run(t, g), nil)
}

func TestHashAggregateSumOverflow(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("v", i64)
	agg := must(exec.NewHashAggregate(values(mem, s, [][]any{{int64(1) << 62}, {int64(1) << 62}}), nil, nil,
		[]exec.AggCall{{Func: "sum", Args: []expr.Expr{col(s, "v")}, Name: "s"}}, mem, exec.AggOptions{}))
	recs, err := exectest.Collect(context.Background(), agg)
	exectest.Release(recs)
	if err == nil {
		t.Fatal("want overflow error")
	}
}

func TestHashAggregateManyGroups(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("k", i64, "v", i64)
	// 3 batches × 5000 rows over 7000 keys: the table grows several times.
	var batches [][][]any
	want := map[int64][2]int64{}
	for b := 0; b < 3; b++ {
		var rows [][]any
		for i := 0; i < 5000; i++ {
			k := int64((b*5000 + i) * 7 % 7000)
			v := int64(b*5000 + i)
			rows = append(rows, []any{k, v})
			w := want[k]
			want[k] = [2]int64{w[0] + 1, w[1] + v}
		}
		batches = append(batches, rows)
	}
	agg := must(exec.NewHashAggregate(values(mem, s, batches...), []expr.Expr{col(s, "k")}, []string{"k"}, []exec.AggCall{
		{Func: "count_star", Name: "n"}, {Func: "sum", Args: []expr.Expr{col(s, "v")}, Name: "s"},
	}, mem, exec.AggOptions{}))
	got := runSorted(t, agg)
	var exp []string
	for k, w := range want {
		exp = append(exp, fmt.Sprintf("%d|%d|%d", k, w[0], w[1]))
	}
	check(t, got, sortStrings(exp))
}

func TestHashAggregateApproxCountDistinct(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("k", i64, "v", i64)
	var rows [][]any
	for i := 0; i < 20000; i++ {
		rows = append(rows, []any{i % 2, i % 10000}, []any{5, i % 30})
	}
	agg := must(exec.NewHashAggregate(values(mem, s, rows), []expr.Expr{col(s, "k")}, []string{"k"}, []exec.AggCall{
		{Func: "approx_count_distinct", Args: []expr.Expr{col(s, "v")}, Name: "d"},
	}, mem, exec.AggOptions{}))
	recs, err := exectest.Collect(context.Background(), agg)
	defer exectest.Release(recs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range exectest.SortedRows(recs) {
		var k, d int64
		fmt.Sscanf(r, "%d|%d", &k, &d)
		want := int64(5000)
		if k == 5 {
			want = 30 // exact while small
			if d != want {
				t.Fatalf("group 5: %d distinct, want exactly 30", d)
			}
			continue
		}
		if d < want*95/100 || d > want*105/100 {
			t.Fatalf("group %d: estimate %d, want ≈%d", k, d, want)
		}
	}
}

func TestHashAggregateRetractionsOnEnd(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("k", str, "v", i64)
	src := exectest.NewSource(s,
		exec.BatchMsg(exectest.Record(mem, s, []any{"a", 1}, []any{"a", 2}, []any{"b", 3}), nil),
		exec.BatchMsg(exectest.Record(mem, s, []any{"a", 1}, []any{"b", 3}), []exec.ChangeKind{exec.UpdateBefore, exec.Delete}),
	)
	agg := must(exec.NewHashAggregate(src, []expr.Expr{col(s, "k")}, []string{"k"}, []exec.AggCall{
		{Func: "count_star", Name: "n"}, {Func: "sum", Args: []expr.Expr{col(s, "v")}, Name: "s"},
	}, mem, exec.AggOptions{}))
	check(t, runSorted(t, agg), []string{"a|1|2"})
}

func TestHashAggregateChangelog(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("k", i64, "v", i64)
	ins := func(rows ...[]any) exec.Message { return exec.BatchMsg(exectest.Record(mem, s, rows...), nil) }
	src := exectest.NewSource(s,
		ins([]any{1, 5}, []any{2, 7}),
		exec.WatermarkMsg(100),
		ins([]any{1, 3}),
		exec.BatchMsg(exectest.Record(mem, s, []any{2, 7}, []any{1, 3}), []exec.ChangeKind{exec.Delete, exec.UpdateBefore}),
		ins([]any{2, 9}),
	)
	agg := must(exec.NewHashAggregate(src, []expr.Expr{col(s, "k")}, []string{"k"}, []exec.AggCall{
		{Func: "count_star", Name: "n"},
		{Func: "sum", Args: []expr.Expr{col(s, "v")}, Name: "s"},
		{Func: "min", Args: []expr.Expr{col(s, "v")}, Name: "mn"},
		{Func: "count", Args: []expr.Expr{col(s, "v")}, Distinct: true, Name: "d"},
	}, mem, exec.AggOptions{Emit: exec.EmitChangelog}))
	msgs, err := exectest.CollectMessages(context.Background(), agg)
	defer exectest.ReleaseMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	check(t, exectest.Changelog(msgs), []string{
		"+I 1|1|5|5|1", "+I 2|1|7|7|1",
		"-U 1|1|5|5|1", "+U 1|2|8|3|2",
		"-D 2|1|7|7|1", "-U 1|2|8|3|2", "+U 1|1|5|5|1",
		"+I 2|1|9|9|1",
	})
	if msgs[1].Kind != exec.MsgWatermark {
		t.Fatalf("watermark not forwarded in place: %v", msgs[1].Kind)
	}
	final, err := exectest.Fold(msgs)
	if err != nil {
		t.Fatal(err)
	}
	check(t, final, []string{"1|1|5|5|1", "2|1|9|9|1"})
}

func TestHashAggregateChangelogMinMaxRetractExtreme(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("v", str)
	src := exectest.NewSource(s,
		exec.BatchMsg(exectest.Record(mem, s, []any{"m"}, []any{"a"}, []any{"z"}, []any{"a"}), nil),
		exec.BatchMsg(exectest.Record(mem, s, []any{"a"}, []any{"z"}), []exec.ChangeKind{exec.Delete, exec.Delete}),
		exec.BatchMsg(exectest.Record(mem, s, []any{"a"}), []exec.ChangeKind{exec.Delete}),
	)
	agg := must(exec.NewHashAggregate(src, nil, nil, []exec.AggCall{
		{Func: "min", Args: []expr.Expr{col(s, "v")}, Name: "mn"},
		{Func: "max", Args: []expr.Expr{col(s, "v")}, Name: "mx"},
	}, mem, exec.AggOptions{Emit: exec.EmitChangelog}))
	msgs, err := exectest.CollectMessages(context.Background(), agg)
	defer exectest.ReleaseMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	check(t, exectest.Changelog(msgs), []string{"+I a|z", "-U a|z", "+U a|m", "-U a|m", "+U m|m"})
}

func TestAggregateType(t *testing.T) {
	cases := []struct {
		fn   string
		arg  arrow.DataType
		want string
	}{
		{"sum", arrow.PrimitiveTypes.Int32, "int64"},
		{"sum", f64, "float64"},
		{"avg", i64, "float64"},
		{"avg", &arrow.Decimal128Type{Precision: 10, Scale: 2}, "decimal(38, 6)"},
		{"min", str, "utf8"},
		{"count", str, "int64"},
	}
	for _, c := range cases {
		got, err := exec.AggregateType(c.fn, false, []arrow.DataType{c.arg})
		if err != nil || got.String() != c.want {
			t.Errorf("%s(%s) = %v, %v; want %s", c.fn, c.arg, got, err, c.want)
		}
	}
	if _, err := exec.AggregateType("sum", false, []arrow.DataType{str}); err == nil {
		t.Error("sum(VARCHAR) should be an error")
	}
	if _, err := exec.AggregateType("median", false, []arrow.DataType{i64}); err == nil {
		t.Error("unknown aggregate should be an error")
	}
}
