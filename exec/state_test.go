package exec_test

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
)

func TestMapStateTTLAndSnapshot(t *testing.T) {
	s := exec.NewMapState[string, int64]()
	s.Size = func(k string, _ int64) int { return len(k) }
	s.Put("a", 1)
	s.Put("b", 2)
	s.Put("c", 3)
	s.SetExpiry("a", 10)
	s.SetExpiry("b", 20)
	s.SetExpiry("b", 5) // re-timed: the item at 20 goes stale
	s.SetExpiry("nope", 1)
	if s.Entries() != 3 || s.SizeBytes() <= 0 {
		t.Fatalf("entries %d size %d", s.Entries(), s.SizeBytes())
	}
	var gone []string
	if n := s.Expire(9, func(k string, _ int64) { gone = append(gone, k) }); n != 1 || len(gone) != 1 || gone[0] != "b" {
		t.Fatalf("expire(9) removed %d: %v, want [b]", n, gone)
	}
	var buf bytes.Buffer
	if err := s.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	r := exec.NewMapState[string, int64]()
	if err := r.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	if v, ok := r.Get("c"); !ok || v != 3 || r.Entries() != 2 {
		t.Fatalf("restored c=%d,%v entries %d", v, ok, r.Entries())
	}
	// The expiry survives the round trip; c never expires.
	if n := r.Expire(100, nil); n != 1 {
		t.Fatalf("restored state expired %d entries, want 1", n)
	}
	if _, ok := r.Get("a"); ok {
		t.Fatal("a should have expired")
	}
	r.Delete("c")
	if r.Entries() != 0 || r.SizeBytes() != 0 {
		t.Fatalf("after delete: entries %d size %d", r.Entries(), r.SizeBytes())
	}
}

// TestSnapshotRestoreContinues runs dedup and Top-N over a stream, and again
// with a snapshot taken halfway and restored into a fresh operator that
// takes the second half: the changelogs must be the same.
func TestSnapshotRestoreContinues(t *testing.T) {
	s := exectest.Schema("k", arrow.PrimitiveTypes.Int64, "v", arrow.BinaryTypes.String, "n", arrow.PrimitiveTypes.Float64, "ts", tsType)
	first := [][]any{{1, "a", 1.5, sec(5)}, {2, "b", nil, sec(1)}, {1, "c", 2.5, sec(7)}}
	second := [][]any{{1, "d", 0.5, sec(3)}, {2, "e", 9.0, sec(2)}, {3, "f", 1.0, sec(1)}, {1, "g", 7.0, sec(9)}}
	builders := map[string]func(exec.Operator, memory.Allocator) (exec.Operator, error){
		"dedup": func(in exec.Operator, mem memory.Allocator) (exec.Operator, error) {
			return exec.NewDeduplicate(in, []expr.Expr{colOf(s, "k")}, colOf(s, "ts"), true, mem)
		},
		"topn": func(in exec.Operator, mem memory.Allocator) (exec.Operator, error) {
			return exec.NewStreamingTopN(in, []expr.Expr{colOf(s, "k")}, []exec.SortKey{{Expr: colOf(s, "n"), Desc: true}}, 1, mem)
		},
	}
	for name, build := range builders {
		t.Run(name, func(t *testing.T) {
			mem := stMem(t)
			ctx := context.Background()
			changes := func(op exec.Operator, open bool) []string {
				if open {
					if err := op.Open(ctx); err != nil {
						t.Fatal(err)
					}
				}
				var out []string
				for {
					m, err := op.Next(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if m.Kind == exec.MsgEnd {
						return out
					}
					out = append(out, describe([]exec.Message{m})...)
					m.Release()
				}
			}
			whole, err := build(exectest.NewSource(s, exec.BatchMsg(exectest.Record(mem, s, first...), nil),
				exec.BatchMsg(exectest.Record(mem, s, second...), nil)), mem)
			if err != nil {
				t.Fatal(err)
			}
			want := changes(whole, true)
			whole.Close()

			a, _ := build(exectest.NewSource(s, exec.BatchMsg(exectest.Record(mem, s, first...), nil)), mem)
			got := changes(a, true)
			var snap bytes.Buffer
			if err := a.(exec.Stateful).State().Snapshot(&snap); err != nil {
				t.Fatal(err)
			}
			a.Close()
			b, _ := build(exectest.NewSource(s, exec.BatchMsg(exectest.Record(mem, s, second...), nil)), mem)
			if err := b.(exec.Stateful).State().Restore(&snap); err != nil {
				t.Fatal(err)
			}
			got = append(got, changes(b, true)...)
			if n := b.(exec.Stateful).State().Entries(); n != 3 {
				t.Errorf("state has %d entries, want 3 (one per key)", n)
			}
			b.Close()
			if err := exectest.Equal(got, want); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// pausingSource plays its messages, then blocks (instead of ending) until
// its context is cancelled: a stream paused for a checkpoint.
type pausingSource struct{ *exectest.Source }

func (p pausingSource) Next(ctx context.Context) (exec.Message, error) {
	m, err := p.Source.Next(ctx)
	if err != nil || m.Kind != exec.MsgEnd {
		return m, err
	}
	<-ctx.Done()
	return exec.Message{}, ctx.Err()
}

// runUntilWatermark pulls op until it returns a watermark, collecting rows.
func runUntilWatermark(t *testing.T, ctx context.Context, op exec.Operator) []string {
	t.Helper()
	var rows []string
	for {
		m, err := op.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind == exec.MsgWatermark {
			return rows
		}
		if m.Kind == exec.MsgEnd {
			t.Fatal("end before the watermark")
		}
		for i := 0; m.Kind == exec.MsgBatch && i < int(m.Batch.Rec.NumRows()); i++ {
			rows = append(rows, m.Batch.Op(i).String()+stRow(m.Batch.Rec, i))
		}
		m.Release()
	}
}

func runToEnd(t *testing.T, ctx context.Context, op exec.Operator) []string {
	t.Helper()
	var rows []string
	for {
		m, err := op.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind == exec.MsgEnd {
			return rows
		}
		for i := 0; m.Kind == exec.MsgBatch && i < int(m.Batch.Rec.NumRows()); i++ {
			rows = append(rows, m.Batch.Op(i).String()+stRow(m.Batch.Rec, i))
		}
		m.Release()
	}
}

func TestSessionWindowSnapshotRestore(t *testing.T) {
	mem := stMem(t)
	ctx := context.Background()
	s := exectest.Schema("k", arrow.PrimitiveTypes.Int64, "v", arrow.PrimitiveTypes.Int64, "ts", tsType)
	first := func() []exec.Message {
		return []exec.Message{exec.BatchMsg(exectest.Record(mem, s, []any{1, 1, sec(1)}, []any{1, 2, sec(2)}, []any{2, 5, sec(3)}), nil),
			exec.WatermarkMsg(int64(sec(4)))}
	}
	second := func() []exec.Message {
		return []exec.Message{exec.BatchMsg(exectest.Record(mem, s, []any{1, 3, sec(4.5)}, []any{2, 7, sec(20)}), nil),
			exec.WatermarkMsg(int64(sec(30)))}
	}
	build := func(src exec.Operator) *exec.WindowAggregate {
		w, err := exec.NewWindowAggregate(src, exec.WindowSpec{Kind: exec.Session, Gap: 3 * time.Second, TimeCol: colOf(s, "ts")},
			[]expr.Expr{colOf(s, "k")}, []string{"k"}, []exec.AggCall{{Func: "sum", Args: []expr.Expr{colOf(s, "v")}, Name: "s"}}, mem)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	whole := build(exectest.NewSource(s, append(first(), second()...)...))
	if err := whole.Open(ctx); err != nil {
		t.Fatal(err)
	}
	want := runToEnd(t, ctx, whole)
	whole.Close()

	a := build(pausingSource{exectest.NewSource(s, first()...)})
	if err := a.Open(ctx); err != nil {
		t.Fatal(err)
	}
	got := runUntilWatermark(t, ctx, a)
	var snap bytes.Buffer
	if err := a.State().Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	a.Close()
	b := build(exectest.NewSource(s, second()...))
	if err := b.State().Restore(&snap); err != nil {
		t.Fatal(err)
	}
	if err := b.Open(ctx); err != nil {
		t.Fatal(err)
	}
	got = append(got, runToEnd(t, ctx, b)...)
	b.Close()
	if err := exectest.Equal(got, want); err != nil {
		t.Fatal(err)
	}
	if err := exectest.Equal(want, []string{"+I3s|6s|2|5", "+I1s|7.5s|1|6", "+I20s|23s|2|7"}); err != nil {
		t.Fatal(err)
	}
}

func TestIntervalJoinSnapshotRestore(t *testing.T) {
	mem := stMem(t)
	ctx := context.Background()
	s := exectest.Schema("k", arrow.PrimitiveTypes.Int64, "ts", tsType)
	batch := func(rows ...[]any) exec.Message { return exec.BatchMsg(exectest.Record(mem, s, rows...), nil) }
	wm := func(sec float64) exec.Message { return exec.WatermarkMsg(int64(sec * 1e6)) }
	leftFirst := func() []exec.Message { return []exec.Message{batch([]any{1, sec(1)}), wm(1)} }
	rightFirst := func() []exec.Message { return []exec.Message{batch([]any{1, sec(2)}), wm(2)} }
	leftSecond := func() []exec.Message { return []exec.Message{batch([]any{2, sec(5)}), wm(10)} }
	rightSecond := func() []exec.Message { return []exec.Message{batch([]any{1, sec(3)}, []any{2, sec(6)}), wm(10)} }
	build := func(l, r exec.Operator) *exec.IntervalJoin {
		j, err := exec.NewIntervalJoin(l, r, []expr.Expr{colOf(s, "k")}, []expr.Expr{colOf(s, "k")},
			colOf(s, "ts"), colOf(s, "ts"), 0, 10*time.Second, nil, mem)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	whole := build(exectest.NewSource(s, append(leftFirst(), leftSecond()...)...), exectest.NewSource(s, append(rightFirst(), rightSecond()...)...))
	if err := whole.Open(ctx); err != nil {
		t.Fatal(err)
	}
	want := runToEnd(t, ctx, whole)
	whole.Close()
	slices.Sort(want)

	a := build(pausingSource{exectest.NewSource(s, leftFirst()...)}, pausingSource{exectest.NewSource(s, rightFirst()...)})
	if err := a.Open(ctx); err != nil {
		t.Fatal(err)
	}
	got := runUntilWatermark(t, ctx, a)
	if n := a.State().Entries(); n != 2 {
		t.Fatalf("state has %d rows at the checkpoint, want 2", n)
	}
	var snap bytes.Buffer
	if err := a.State().Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	a.Close()
	b := build(exectest.NewSource(s, leftSecond()...), exectest.NewSource(s, rightSecond()...))
	if err := b.State().Restore(&snap); err != nil {
		t.Fatal(err)
	}
	if err := b.Open(ctx); err != nil {
		t.Fatal(err)
	}
	got = append(got, runToEnd(t, ctx, b)...)
	b.Close()
	slices.Sort(got)
	if err := exectest.Equal(got, want); err != nil {
		t.Fatal(err)
	}
	if err := exectest.Equal(want, []string{"+I1|1s|1|2s", "+I1|1s|1|3s", "+I2|5s|2|6s"}); err != nil {
		t.Fatal(err)
	}
}
