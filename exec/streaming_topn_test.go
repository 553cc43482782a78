package exec_test

import (
	"context"
	"testing"

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
