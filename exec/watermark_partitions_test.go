package exec_test

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
)

// A partition whose reader starts after another partition was read in full
// (as bounded scans do) must not find the watermark already past its rows.
func TestWatermarkWaitsForKnownPartitions(t *testing.T) {
	for _, tc := range []struct {
		partitions int
		late       int64
	}{{0, 2}, {2, 0}} {
		mem := stMem(t)
		s := exectest.Schema("p", arrow.PrimitiveTypes.Int32, "ts", tsType)
		src := exectest.NewSource(s,
			exec.BatchMsg(exectest.Record(mem, s, []any{0, sec(10)}, []any{0, sec(20)}), nil),
			exec.BatchMsg(exectest.Record(mem, s, []any{1, sec(1)}, []any{1, sec(2)}), nil),
		)
		wa, err := exec.NewWatermarkAssigner(src, 1, 0, exec.WatermarkOptions{PartitionCol: 0, Partitions: tc.partitions, Mem: mem})
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := exectest.CollectMessages(context.Background(), wa)
		rows := 0
		for _, m := range msgs {
			if m.Kind == exec.MsgBatch {
				rows += int(m.Batch.Rec.NumRows())
			}
		}
		exectest.ReleaseMessages(msgs)
		if err != nil {
			t.Fatal(err)
		}
		if wa.LateRows() != tc.late || rows != 4-int(tc.late) {
			t.Fatalf("partitions=%d: late %d rows %d, want late %d", tc.partitions, wa.LateRows(), rows, tc.late)
		}
	}
}

// A partition that never has rows holds the watermark back only for the
// idle timeout.
func TestWatermarkMissingPartitionGoesIdle(t *testing.T) {
	mem := stMem(t)
	s := exectest.Schema("p", arrow.PrimitiveTypes.Int32, "ts", tsType)
	now := time.Unix(0, 0)
	src := &clockSource{Source: exectest.NewSource(s,
		exec.BatchMsg(exectest.Record(mem, s, []any{0, sec(10)}), nil),
		exec.BatchMsg(exectest.Record(mem, s, []any{0, sec(20)}), nil),
	), advance: func() { now = now.Add(3 * time.Second) }}
	wa, err := exec.NewWatermarkAssigner(src, 1, 0, exec.WatermarkOptions{PartitionCol: 0, Partitions: 2,
		IdleTimeout: 2 * time.Second, Now: func() time.Time { return now }, Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := exectest.CollectMessages(context.Background(), wa)
	var wms []string
	for _, l := range describe(msgs) {
		if l[:2] == "wm" {
			wms = append(wms, l)
		}
	}
	exectest.ReleaseMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	if err := exectest.Equal(wms, []string{"wm 20s"}); err != nil {
		t.Fatal(err)
	}
}
