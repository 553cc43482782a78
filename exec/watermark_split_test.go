package exec_test

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
)

// A clock assigner cuts a batch where its rows move the watermark
// SplitEvery past the last one, emitting the watermark between the parts.
func TestWatermarkSplitEvery(t *testing.T) {
	for _, keepLate := range []bool{true, false} {
		mem := stMem(t)
		s := exectest.Schema("ts", tsType)
		src := exectest.NewSource(s,
			exec.BatchMsg(exectest.Record(mem, s, []any{sec(1)}), nil),
			exec.BatchMsg(exectest.Record(mem, s, []any{sec(5)}, []any{sec(12)}, []any{sec(13)}, []any{sec(30)}, []any{sec(31)}), nil),
		)
		wa, err := exec.NewWatermarkAssigner(src, 0, 0, exec.WatermarkOptions{PartitionCol: -1, Mem: mem, KeepLate: keepLate, SplitEvery: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := exectest.CollectMessages(context.Background(), wa)
		if err != nil {
			t.Fatal(err)
		}
		got := describe(msgs)
		exectest.ReleaseMessages(msgs)
		want := []string{"batch +I1s", "wm 1s", "batch +I5s +I12s", "wm 12s", "batch +I13s +I30s", "wm 30s", "batch +I31s", "wm 31s"}
		if !keepLate { // only clocks split
			want = []string{"batch +I1s", "wm 1s", "batch +I5s +I12s +I13s +I30s +I31s", "wm 31s"}
		}
		if err := exectest.Equal(got, want); err != nil {
			t.Errorf("keepLate=%v: %v", keepLate, err)
		}
	}
}

// With partitions, the watermark is their minimum: the cut comes where the
// last partition below the mark reaches it.
func TestWatermarkSplitEveryPartitions(t *testing.T) {
	mem := stMem(t)
	s := exectest.Schema("p", arrow.PrimitiveTypes.Int64, "ts", tsType)
	src := exectest.NewSource(s,
		exec.BatchMsg(exectest.Record(mem, s, []any{0, sec(1)}, []any{1, sec(1)}), nil),
		exec.BatchMsg(exectest.Record(mem, s, []any{0, sec(20)}, []any{0, sec(25)}, []any{1, sec(15)}, []any{1, sec(30)}, []any{0, sec(31)}), nil),
	)
	wa, err := exec.NewWatermarkAssigner(src, 1, 0, exec.WatermarkOptions{PartitionCol: 0, Partitions: 2, Mem: mem, KeepLate: true, SplitEvery: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := exectest.CollectMessages(context.Background(), wa)
	if err != nil {
		t.Fatal(err)
	}
	got := describe(msgs)
	exectest.ReleaseMessages(msgs)
	want := []string{
		"batch +I0|1s +I1|1s", "wm 1s",
		"batch +I0|20s +I0|25s +I1|15s", "wm 15s", // p1 reaches 11 s at its third row
		"batch +I1|30s", "wm 25s", // then p1 passes 25 s at once; p0 is at 25 s
		"batch +I0|31s", "wm 30s",
	}
	if err := exectest.Equal(got, want); err != nil {
		t.Error(err)
	}
}
