package exec_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
)

var overS = exectest.Schema("id", i64, "g", str, "t", arrow.FixedWidthTypes.Timestamp_us, "v", i64, "f", f64,
	"d", &arrow.Decimal128Type{Precision: 10, Scale: 2})

// overRow is one generated input row.
type overRow struct {
	id   int64
	g    any // string or nil
	t    any // arrow.Timestamp or nil
	v    any // int64 or nil
	f    float64
	late bool // behind the watermark when it arrives
}

func (r overRow) cells() []any {
	var d any
	if v, ok := r.v.(int64); ok {
		d = decimal128.FromI64(v*37 + 1) // cents
	}
	return []any{r.id, r.g, r.t, r.v, r.f, d}
}

// overStream generates n rows whose times wander forward with jitter up to
// delay seconds (ties common), a few of them late or with a NULL time, cut
// into batches of bs rows, each batch followed by the watermark max time -
// delay. It returns the messages and the rows in arrival order.
func overStream(mem memory.Allocator, seed int64, n, bs int, delay int64) ([]exec.Message, []overRow) {
	rng := rand.New(rand.NewSource(seed))
	var rows []overRow
	var msgs []exec.Message
	wm, maxT := int64(-1<<62), int64(-1<<62)
	base := int64(100)
	for i := 0; i < n; i += bs {
		var batch [][]any
		for j := i; j < min(n, i+bs); j++ {
			base += int64(rng.Intn(2))
			sec := base - int64(rng.Intn(int(delay)+1))
			r := overRow{id: int64(j), f: float64(rng.Intn(41)-20) / 2}
			if rng.Intn(5) > 0 {
				r.g = string(rune('a' + rng.Intn(4)))
			}
			if rng.Intn(8) > 0 {
				r.v = int64(rng.Intn(100) - 30)
			}
			switch k := rng.Intn(40); {
			case k == 0:
				r.t = nil
				r.late = true
			case k == 1 && wm > -1<<62:
				sec = wm/1e6 - 1 - int64(rng.Intn(3))
				fallthrough
			default:
				us := sec * 1e6
				r.t = arrow.Timestamp(us)
				r.late = us < wm
				if !r.late && us > maxT {
					maxT = us
				}
			}
			rows = append(rows, r)
			batch = append(batch, r.cells())
		}
		msgs = append(msgs, exec.BatchMsg(exectest.Record(mem, overS, batch...), nil))
		if w := maxT - delay*1e6; w > wm {
			wm = w
			msgs = append(msgs, exec.WatermarkMsg(wm))
		}
	}
	return msgs, rows
}

func overFrames() map[string]exec.Frame {
	rows := func(n int64) exec.Frame {
		return exec.Frame{Unit: exec.FrameRows, Start: exec.FrameBound{Kind: exec.Preceding, Offset: n}, End: exec.FrameBound{Kind: exec.CurrentRow}}
	}
	return map[string]exec.Frame{
		"rows0":     rows(0),
		"rows1":     rows(1),
		"rows3":     rows(3),
		"rowsUnb":   {Unit: exec.FrameRows, Start: exec.FrameBound{Kind: exec.UnboundedPreceding}, End: exec.FrameBound{Kind: exec.CurrentRow}},
		"rangeUnb":  {},
		"rangeCurr": {Unit: exec.FrameRange, Start: exec.FrameBound{Kind: exec.CurrentRow}, End: exec.FrameBound{Kind: exec.CurrentRow}},
	}
}

// overCalls are every aggregate over frame f.
func overCalls(f exec.Frame) []exec.WindowCall {
	v, fl := col(overS, "v"), col(overS, "f")
	return []exec.WindowCall{
		{Func: "sum", Args: []expr.Expr{v}, Frame: f, Name: "sum_v"},
		{Func: "count", Args: []expr.Expr{v}, Frame: f, Name: "count_v"},
		{Func: "count_star", Frame: f, Name: "n"},
		{Func: "avg", Args: []expr.Expr{v}, Frame: f, Name: "avg_v"},
		{Func: "min", Args: []expr.Expr{v}, Frame: f, Name: "min_v"},
		{Func: "max", Args: []expr.Expr{fl}, Frame: f, Name: "max_f"},
		{Func: "sum", Args: []expr.Expr{fl}, Frame: f, Name: "sum_f"},
		{Func: "min", Args: []expr.Expr{col(overS, "g")}, Frame: f, Name: "min_g"},
		{Func: "sum", Args: []expr.Expr{col(overS, "d")}, Frame: f, Name: "sum_d"},
		{Func: "avg", Args: []expr.Expr{col(overS, "d")}, Frame: f, Name: "avg_d"},
		{Func: "max", Args: []expr.Expr{col(overS, "d")}, Frame: f, Name: "max_d"},
	}
}

func releaseMsgs(msgs []exec.Message) {
	for _, m := range msgs {
		m.Release()
	}
}

// runOver runs an OverAggregate over msgs (retained for the run) and
// returns its rows in order and its late count.
func runOver(t *testing.T, mem memory.Allocator, msgs []exec.Message, parts []expr.Expr, calls []exec.WindowCall) ([]string, int64) {
	t.Helper()
	for _, m := range msgs {
		if m.Kind == exec.MsgBatch {
			m.Batch.Rec.Retain()
		}
	}
	o, err := exec.NewOverAggregate(exectest.NewSource(overS, slices.Clone(msgs)...), parts, col(overS, "t"), calls, 0, mem)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exectest.CollectMessages(context.Background(), o)
	defer exectest.ReleaseMessages(out)
	if err != nil {
		t.Fatal(err)
	}
	checkTimeOrder(t, out, parts)
	var got []string
	for _, m := range out {
		if m.Kind == exec.MsgBatch {
			for i := 0; i < int(m.Batch.Rec.NumRows()); i++ {
				got = append(got, exectest.Row(m.Batch.Rec, i))
			}
		}
	}
	return got, o.LateRows()
}

// checkTimeOrder asserts the output is append-only, in time order, and
// never behind a watermark forwarded before it.
func checkTimeOrder(t *testing.T, out []exec.Message, parts []expr.Expr) {
	t.Helper()
	last, wm := int64(-1<<62), int64(-1<<62)
	for _, m := range out {
		switch m.Kind {
		case exec.MsgWatermark:
			wm = m.Watermark
		case exec.MsgBatch:
			if m.Batch.Ops != nil {
				t.Fatalf("output has change kinds")
			}
			ts := m.Batch.Rec.Column(2)
			for i := 0; i < ts.Len(); i++ {
				v := int64(ts.(interface{ Value(int) arrow.Timestamp }).Value(i))
				if v < last || v < wm {
					t.Fatalf("row at %d after row at %d / watermark %d", v, last, wm)
				}
				last = v
			}
		}
	}
}

// boundedOver is Window's answer over the rows that are not late, fed in
// arrival order (its sort is stable: ties keep arrival order).
func boundedOver(t *testing.T, mem memory.Allocator, rows []overRow, parts []expr.Expr, calls []exec.WindowCall) []string {
	t.Helper()
	var kept [][]any
	for _, r := range rows {
		if !r.late {
			kept = append(kept, r.cells())
		}
	}
	w, err := exec.NewWindow(values(mem, overS, kept), parts, []exec.SortKey{{Expr: col(overS, "t")}}, calls, mem)
	if err != nil {
		t.Fatal(err)
	}
	return runSorted(t, w)
}

// TestOverAggregateMatchesWindow: over random out-of-order input with ties,
// late rows and NULLs, cut into batches of several sizes, the streaming
// operator emits exactly the rows (minus the late ones) and aggregates the
// bounded Window computes, for every aggregate and supported frame, with
// and without PARTITION BY.
func TestOverAggregateMatchesWindow(t *testing.T) {
	mem := newMem(t)
	for name, f := range overFrames() {
		for _, parts := range [][]expr.Expr{{col(overS, "g")}, nil} {
			for _, bs := range []int{1, 3, 17, 200} {
				for seed := int64(1); seed <= 3; seed++ {
					msgs, rows := overStream(mem, seed, 300, bs, 3)
					calls := overCalls(f)
					got, late := runOver(t, mem, msgs, parts, calls)
					releaseMsgs(msgs)
					want := boundedOver(t, mem, rows, parts, calls)
					var wantLate int64
					for _, r := range rows {
						if r.late {
							wantLate++
						}
					}
					if late != wantLate {
						t.Fatalf("%s parts=%d bs=%d seed=%d: %d late rows, want %d", name, len(parts), bs, seed, late, wantLate)
					}
					if err := exectest.Equal(sortStrings(got), want); err != nil {
						t.Fatalf("%s parts=%d bs=%d seed=%d: %v", name, len(parts), bs, seed, err)
					}
				}
			}
		}
	}
}

// rangeReference computes RANGE BETWEEN d PRECEDING AND CURRENT ROW by
// brute force (Window refuses RANGE offsets): per row, the rows of its
// partition with time in [t-d, t], peers included; each row as
// id|sum|count|count(*)|min, sorted.
func rangeReference(rows []overRow, d int64, partitioned bool) []string {
	var kept []overRow
	for _, r := range rows {
		if !r.late {
			kept = append(kept, r)
		}
	}
	var out []string
	for _, r := range kept {
		t := int64(r.t.(arrow.Timestamp))
		var sum, cnt, n int64
		var minV *int64
		for _, q := range kept {
			qt := int64(q.t.(arrow.Timestamp))
			if (partitioned && q.g != r.g) || qt < t-d || qt > t {
				continue
			}
			n++
			if v, ok := q.v.(int64); ok {
				sum += v
				cnt++
				if minV == nil || v < *minV {
					minV = &v
				}
			}
		}
		s, m := "NULL", "NULL"
		if cnt > 0 {
			s, m = strconv.FormatInt(sum, 10), strconv.FormatInt(*minV, 10)
		}
		out = append(out, strings.Join([]string{strconv.FormatInt(r.id, 10), s, strconv.FormatInt(cnt, 10), strconv.FormatInt(n, 10), m}, "|"))
	}
	slices.Sort(out)
	return out
}

// TestOverAggregateRangeInterval: RANGE BETWEEN d PRECEDING AND CURRENT
// ROW against a brute-force reference, with partitions expiring as the
// watermark moves.
func TestOverAggregateRangeInterval(t *testing.T) {
	mem := newMem(t)
	v := col(overS, "v")
	for _, d := range []int64{0, 2, 5} {
		f := exec.Frame{Unit: exec.FrameRange, Start: exec.FrameBound{Kind: exec.Preceding, Offset: d * 1e6}, End: exec.FrameBound{Kind: exec.CurrentRow}}
		calls := []exec.WindowCall{
			{Func: "sum", Args: []expr.Expr{v}, Frame: f, Name: "s"},
			{Func: "count", Args: []expr.Expr{v}, Frame: f, Name: "c"},
			{Func: "count_star", Frame: f, Name: "n"},
			{Func: "min", Args: []expr.Expr{v}, Frame: f, Name: "m"},
		}
		for _, parts := range [][]expr.Expr{{col(overS, "g")}, nil} {
			for _, bs := range []int{1, 4, 50} {
				for seed := int64(1); seed <= 3; seed++ {
					msgs, rows := overStream(mem, seed, 250, bs, 3)
					got, _ := runOver(t, mem, msgs, parts, calls)
					releaseMsgs(msgs)
					want := rangeReference(rows, d*1e6, parts != nil)
					for i, row := range got {
						cells := strings.Split(row, "|")
						got[i] = strings.Join(append(cells[:1:1], cells[len(cells)-4:]...), "|")
					}
					if err := exectest.Equal(sortStrings(got), want); err != nil {
						t.Fatalf("d=%ds parts=%d bs=%d seed=%d: %v", d, len(parts), bs, seed, err)
					}
				}
			}
		}
	}
}

// TestOverAggregateSnapshotRestore: a run whose operator is snapshotted
// after any message, rebuilt, restored and fed the rest emits what an
// uninterrupted run emits.
func TestOverAggregateSnapshotRestore(t *testing.T) {
	mem := newMem(t)
	parts := []expr.Expr{col(overS, "g")}
	f3 := exec.Frame{Unit: exec.FrameRows, Start: exec.FrameBound{Kind: exec.Preceding, Offset: 3}, End: exec.FrameBound{Kind: exec.CurrentRow}}
	fr := exec.Frame{Unit: exec.FrameRange, Start: exec.FrameBound{Kind: exec.Preceding, Offset: 4e6}, End: exec.FrameBound{Kind: exec.CurrentRow}}
	calls := append(overCalls(f3), overCalls(exec.Frame{})...)
	calls = append(calls, overCalls(fr)...)
	for i := range calls {
		calls[i].Name = fmt.Sprintf("c%d", i)
	}
	msgs, _ := overStream(mem, 7, 200, 5, 3)
	defer releaseMsgs(msgs)
	want, wantLate := runOver(t, mem, msgs, parts, calls)
	for cut := 1; cut < len(msgs); cut += 7 {
		for _, m := range msgs {
			if m.Kind == exec.MsgBatch {
				m.Batch.Rec.Retain()
			}
		}
		first := append(append([]exec.Message(nil), msgs[:cut]...), exec.Message{Kind: exec.MsgBarrier, Barrier: 1})
		o1 := must(exec.NewOverAggregate(exectest.NewSource(overS, first...), parts, col(overS, "t"), calls, 0, mem))
		var got []string
		collect := func(m exec.Message) {
			if m.Kind == exec.MsgBatch {
				for i := 0; i < int(m.Batch.Rec.NumRows()); i++ {
					got = append(got, exectest.Row(m.Batch.Rec, i))
				}
			}
			m.Release()
		}
		if err := o1.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		for {
			m, err := o1.Next(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if m.Kind == exec.MsgBarrier {
				break
			}
			collect(m)
		}
		var snap bytes.Buffer
		if err := o1.State().Snapshot(&snap); err != nil {
			t.Fatal(err)
		}
		o1.Close()
		o2 := must(exec.NewOverAggregate(exectest.NewSource(overS, slices.Clone(msgs[cut:])...), parts, col(overS, "t"), calls, 0, mem))
		if err := o2.State().Restore(&snap); err != nil {
			t.Fatal(err)
		}
		out, err := exectest.CollectMessages(context.Background(), o2)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out {
			collect(m)
		}
		if err := exectest.Equal(got, want); err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if o2.LateRows() != wantLate {
			t.Fatalf("cut at %d: %d late rows, want %d", cut, o2.LateRows(), wantLate)
		}
	}
}

// TestOverAggregateExpiresRangePartitions: once the watermark is past a
// partition's last row by the RANGE offset, its state is gone.
func TestOverAggregateExpiresRangePartitions(t *testing.T) {
	mem := newMem(t)
	f := exec.Frame{Unit: exec.FrameRange, Start: exec.FrameBound{Kind: exec.Preceding, Offset: 2e6}, End: exec.FrameBound{Kind: exec.CurrentRow}}
	src := exectest.NewSource(overS,
		exec.BatchMsg(exectest.Record(mem, overS, []any{1, "a", arrow.Timestamp(1e6), 1, 0.0, nil}, []any{2, "b", arrow.Timestamp(1e6), 2, 0.0, nil}), nil),
		exec.WatermarkMsg(2e6),
		exec.BatchMsg(exectest.Record(mem, overS, []any{3, "a", arrow.Timestamp(3e6), 3, 0.0, nil}), nil),
		exec.WatermarkMsg(4e6),
		exec.WatermarkMsg(3e6+2e6+1),
	)
	o := must(exec.NewOverAggregate(src, []expr.Expr{col(overS, "g")}, col(overS, "t"), []exec.WindowCall{{Func: "sum", Args: []expr.Expr{col(overS, "v")}, Frame: f, Name: "s"}}, 0, mem))
	ctx := context.Background()
	if err := o.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	var entries []int
	for {
		m, err := o.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m.Release()
		if m.Kind == exec.MsgEnd {
			break
		}
		if m.Kind == exec.MsgWatermark {
			entries = append(entries, o.State().Entries())
		}
	}
	// After 2s: a and b hold one row each; after 4s: a holds its two rows
	// (b expired: 1s + 2s < 4s); after 5s+1µs: a's last row is out of reach.
	if !slices.Equal(entries, []int{2, 2, 0}) {
		t.Fatalf("state entries after each watermark: %v, want [2 2 0]", entries)
	}
}

// TestOverAggregateLateness: with an allowed lateness, rows are held until
// the watermark less the lateness passes them, so a row behind the
// watermark by less than the lateness still joins its frames.
func TestOverAggregateLateness(t *testing.T) {
	mem := newMem(t)
	row := func(id, ts, v int) []any { return []any{id, "a", arrow.Timestamp(int64(ts) * 1e6), v, 0.0, nil} }
	src := exectest.NewSource(overS,
		exec.BatchMsg(exectest.Record(mem, overS, row(1, 1, 10), row(2, 5, 20)), nil),
		exec.WatermarkMsg(5e6),
		exec.BatchMsg(exectest.Record(mem, overS, row(3, 4, 30)), nil), // behind by 1s < 2s: kept
		exec.WatermarkMsg(6e6),
		exec.BatchMsg(exectest.Record(mem, overS, row(4, 3, 40)), nil), // behind 6s - 2s: late
	)
	o := must(exec.NewOverAggregate(src, nil, col(overS, "t"), []exec.WindowCall{{Func: "sum", Args: []expr.Expr{col(overS, "v")}, Name: "s"}}, 2e6, mem))
	out, err := exectest.CollectMessages(context.Background(), o)
	defer exectest.ReleaseMessages(out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range out {
		switch m.Kind {
		case exec.MsgWatermark:
			got = append(got, fmt.Sprintf("wm %d", m.Watermark/1e6))
		case exec.MsgBatch:
			for i := 0; i < int(m.Batch.Rec.NumRows()); i++ {
				cells := strings.Split(exectest.Row(m.Batch.Rec, i), "|")
				got = append(got, cells[0]+":"+cells[len(cells)-1])
			}
		}
	}
	check(t, got, []string{"1:10", "wm 5", "wm 6", "3:40", "2:60"})
	if o.LateRows() != 1 {
		t.Fatalf("%d late rows, want 1", o.LateRows())
	}
}
