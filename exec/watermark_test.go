package exec_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
)

var tsType = arrow.FixedWidthTypes.Timestamp_us

func sec(s float64) arrow.Timestamp { return arrow.Timestamp(s * 1e6) }

func stMem(t testing.TB) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

// describe renders messages as "batch a|b;c|d" / "wm 4s" lines.
func describe(msgs []exec.Message) []string {
	var out []string
	for _, m := range msgs {
		switch m.Kind {
		case exec.MsgWatermark:
			out = append(out, "wm "+time.Duration(m.Watermark*1000).String())
		case exec.MsgBatch:
			s := "batch"
			for i := 0; i < int(m.Batch.Rec.NumRows()); i++ {
				s += " " + m.Batch.Op(i).String() + stRow(m.Batch.Rec, i)
			}
			out = append(out, s)
		}
	}
	return out
}

func TestWatermarkLateRows(t *testing.T) {
	mem := stMem(t)
	s := exectest.Schema("k", arrow.PrimitiveTypes.Int64, "ts", tsType)
	src := exectest.NewSource(s,
		exec.BatchMsg(exectest.Record(mem, s, []any{1, sec(1)}, []any{2, sec(5)}, []any{3, sec(3)}), nil),
		exec.WatermarkMsg(999e6), // upstream watermarks are dropped
		exec.BatchMsg(exectest.Record(mem, s, []any{4, sec(2)}, []any{5, sec(4)}, []any{6, sec(10)}), nil),
		exec.BatchMsg(exectest.Record(mem, s, []any{7, sec(1)}), nil),
	)
	var sunk []int64
	wa, err := exec.NewWatermarkAssigner(src, 1, time.Second, exec.WatermarkOptions{PartitionCol: -1, Mem: mem,
		LateSink: func(rec arrow.RecordBatch, rows []int) {
			for _, r := range rows {
				sunk = append(sunk, int64(r))
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := exectest.CollectMessages(context.Background(), wa)
	defer exectest.ReleaseMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	got := describe(msgs)
	want := []string{
		"batch +I1|1s +I2|5s +I3|3s",
		"wm 4s",
		"batch +I5|4s +I6|10s",
		"wm 9s",
	}
	if err := exectest.Equal(got, want); err != nil {
		t.Fatal(err)
	}
	if wa.LateRows() != 2 {
		t.Fatalf("late rows %d, want 2", wa.LateRows())
	}
	if len(sunk) != 2 || sunk[0] != 0 || sunk[1] != 0 {
		t.Fatalf("late sink got rows %v, want [0 0]", sunk)
	}
}

func TestWatermarkAllowedLateness(t *testing.T) {
	mem := stMem(t)
	s := exectest.Schema("k", arrow.PrimitiveTypes.Int64, "ts", tsType)
	src := exectest.NewSource(s,
		exec.BatchMsg(exectest.Record(mem, s, []any{1, sec(10)}), nil),
		exec.BatchMsg(exectest.Record(mem, s, []any{2, sec(8)}, []any{3, sec(6)}, []any{4, nil}), nil),
	)
	wa, err := exec.NewWatermarkAssigner(src, 1, 0, exec.WatermarkOptions{PartitionCol: -1, AllowedLateness: 3 * time.Second, Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := exectest.CollectMessages(context.Background(), wa)
	defer exectest.ReleaseMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"batch +I1|10s", "wm 10s", "batch +I2|8s"}
	if err := exectest.Equal(describe(msgs), want); err != nil {
		t.Fatal(err)
	}
	if wa.LateRows() != 2 { // 6s is 4s late; NULL time
		t.Fatalf("late rows %d, want 2", wa.LateRows())
	}
}

func TestWatermarkIdlePartitions(t *testing.T) {
	for _, idle := range []time.Duration{0, 5 * time.Second} {
		mem := stMem(t)
		s := exectest.Schema("p", arrow.BinaryTypes.String, "ts", tsType)
		now := time.Unix(0, 0)
		clock := func() time.Time { return now }
		src := &clockSource{Source: exectest.NewSource(s,
			exec.BatchMsg(exectest.Record(mem, s, []any{"a", sec(10)}, []any{"b", sec(2)}), nil),
			exec.BatchMsg(exectest.Record(mem, s, []any{"a", sec(20)}), nil),
			exec.BatchMsg(exectest.Record(mem, s, []any{"b", sec(3)}, []any{"b", sec(30)}), nil),
		), advance: func() { now = now.Add(6 * time.Second) }}
		wa, err := exec.NewWatermarkAssigner(src, 1, 0, exec.WatermarkOptions{PartitionCol: 0, IdleTimeout: idle, Now: clock, Mem: mem})
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
		// Without idleness b holds the watermark at its maximum; with it,
		// b (silent for 6s at the second batch) stops holding it back, and
		// its late row at 3s is dropped when it comes back (while a, silent
		// since, is idle in turn).
		want := []string{"wm 2s", "wm 20s"}
		late := int64(0)
		if idle > 0 {
			want = []string{"wm 2s", "wm 20s", "wm 30s"}
			late = 1
		}
		if err := exectest.Equal(wms, want); err != nil {
			t.Fatalf("idle %s: %v", idle, err)
		}
		if wa.LateRows() != late {
			t.Fatalf("idle %s: late rows %d, want %d", idle, wa.LateRows(), late)
		}
	}
}

// stRow renders row i like exectest.Row but timestamps as seconds since
// the epoch ("1.5s"), which keeps event-time tests readable.
func stRow(rec arrow.RecordBatch, i int) string {
	cells := make([]string, rec.NumCols())
	for c := range cells {
		a := rec.Column(c)
		if ts, ok := a.(*array.Timestamp); ok && a.IsValid(i) {
			cells[c] = strconv.FormatFloat(float64(ts.Value(i))/1e6, 'f', -1, 64) + "s"
			continue
		}
		cells[c] = exectest.Cell(a, i)
	}
	return strings.Join(cells, "|")
}

// clockSource advances a fake clock before handing out each message.
type clockSource struct {
	*exectest.Source
	advance func()
}

func (c *clockSource) Next(ctx context.Context) (exec.Message, error) {
	c.advance()
	return c.Source.Next(ctx)
}

func TestWatermarkSnapshotRestore(t *testing.T) {
	mem := stMem(t)
	s := exectest.Schema("p", arrow.PrimitiveTypes.Int64, "ts", tsType)
	build := func(msgs ...exec.Message) *exec.WatermarkAssigner {
		wa, err := exec.NewWatermarkAssigner(exectest.NewSource(s, msgs...), 1, 0, exec.WatermarkOptions{PartitionCol: 0, Mem: mem})
		if err != nil {
			t.Fatal(err)
		}
		return wa
	}
	a := build(exec.BatchMsg(exectest.Record(mem, s, []any{1, sec(10)}, []any{2, sec(4)}), nil))
	msgs, err := exectest.CollectMessages(context.Background(), a)
	exectest.ReleaseMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	var snap bytes.Buffer
	if err := a.State().Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	// Restored, the assigner remembers both partitions (watermark 4s, held
	// by partition 2) and that 3s is late.
	b := build(exec.BatchMsg(exectest.Record(mem, s, []any{2, sec(3)}, []any{2, sec(12)}), nil))
	if err := b.State().Restore(&snap); err != nil {
		t.Fatal(err)
	}
	if b.State().Entries() != 2 || b.Watermark() != int64(sec(4)) {
		t.Fatalf("restored %d partitions, watermark %d", b.State().Entries(), b.Watermark())
	}
	msgs, err = exectest.CollectMessages(context.Background(), b)
	defer exectest.ReleaseMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	if err := exectest.Equal(describe(msgs), []string{"batch +I2|12s", "wm 10s"}); err != nil {
		t.Fatal(err)
	}
	if b.LateRows() != 1 {
		t.Fatalf("late rows %d, want 1", b.LateRows())
	}
}
