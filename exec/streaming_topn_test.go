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

func TestStreamingTopNChangelog(t *testing.T) {
	mem := stMem(t)
	s := exectest.Schema("c", arrow.BinaryTypes.String, "n", arrow.PrimitiveTypes.Int64)
	src := exectest.NewSource(s,
		exec.BatchMsg(exectest.Record(mem, s, []any{"a", 5}, []any{"b", 3}, []any{"c", 7}), nil),
		exec.BatchMsg(exectest.Record(mem, s, []any{"a", 5}, []any{"a", 9}), []exec.ChangeKind{exec.UpdateBefore, exec.UpdateAfter}),
		exec.BatchMsg(exectest.Record(mem, s, []any{"c", 7}), []exec.ChangeKind{exec.Delete}),
	)
	tn, err := exec.NewStreamingTopN(src, nil, []exec.SortKey{{Expr: colOf(s, "n"), Desc: true}}, 2, mem)
	if err != nil {
		t.Fatal(err)
	}
	tn.SetRetractable(true)
	msgs, err := exectest.CollectMessages(context.Background(), tn)
	defer exectest.ReleaseMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"+I a|5", "+I b|3", "-D b|3", "+I c|7", // b pushed out by c
		"-D a|5", "+I b|3", "-D b|3", "+I a|9", // a's update: out, b in, then a back
		"-D c|7", "+I b|3",
	}
	if err := exectest.Equal(exectest.Changelog(msgs), want); err != nil {
		t.Fatal(err)
	}
	if n := tn.State().Entries(); n != 2 {
		t.Fatalf("state keeps %d rows, want 2 (a, b)", n)
	}
	// Without SetRetractable a retraction is an error.
	src2 := exectest.NewSource(s, exec.BatchMsg(exectest.Record(mem, s, []any{"a", 5}), []exec.ChangeKind{exec.Delete}))
	tn2, err := exec.NewStreamingTopN(src2, []expr.Expr{colOf(s, "c")}, []exec.SortKey{{Expr: colOf(s, "n")}}, 1, mem)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exectest.Collect(context.Background(), tn2); err == nil {
		t.Fatal("want an error for a retraction in append-only mode")
	}
}

// TestWindowTopNStateStaysFlat: Top-N per window over a long stream keeps
// only the live windows' rows when partitions expire at the window end.
func TestWindowTopNStateStaysFlat(t *testing.T) {
	const batches, rows, keys = 300, 50, 10
	mem := stMem(t)
	s := exectest.Schema("k", arrow.PrimitiveTypes.Int64, "v", arrow.PrimitiveTypes.Int64, "ts", tsType)
	wa, err := exec.NewWatermarkAssigner(longStream(mem, s, batches, rows, keys), 2, 500*time.Millisecond,
		exec.WatermarkOptions{PartitionCol: -1, Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	agg, err := exec.NewWindowAggregate(wa, exec.WindowSpec{Kind: exec.Tumble, Size: 10 * time.Second, TimeCol: colOf(s, "ts")},
		[]expr.Expr{colOf(s, "k")}, []string{"k"}, []exec.AggCall{{Func: "sum", Args: []expr.Expr{colOf(s, "v")}, Name: "total"}}, mem)
	if err != nil {
		t.Fatal(err)
	}
	as := agg.Schema()
	tn, err := exec.NewStreamingTopN(agg, []expr.Expr{colOf(as, "window_start")}, []exec.SortKey{{Expr: colOf(as, "total"), Desc: true}}, 2, mem)
	if err != nil {
		t.Fatal(err)
	}
	if err := tn.SetPartitionExpiry(colOf(as, "window_end")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := tn.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer tn.Close()
	maxEntries := 0
	var msgs []exec.Message
	for {
		m, err := tn.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind == exec.MsgEnd {
			break
		}
		maxEntries = max(maxEntries, tn.State().Entries())
		msgs = append(msgs, m)
	}
	got, err := foldRows(msgs)
	exectest.ReleaseMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2*batches/10 {
		t.Fatalf("got %d rows, want 2 per window", len(got))
	}
	if maxEntries > 2 {
		t.Fatalf("state grew to %d rows, want at most 2 (one window's top 2)", maxEntries)
	}
}
