package exec_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
)

// cursorSource emits scripted messages and then End, and tells how many it
// has emitted, so a test knows where a restored run must continue.
type cursorSource struct {
	schema *arrow.Schema
	msgs   []exec.Message
	pos    int
}

func (s *cursorSource) Schema() *arrow.Schema      { return s.schema }
func (s *cursorSource) Open(context.Context) error { return nil }
func (s *cursorSource) Children() []exec.Operator  { return nil }
func (s *cursorSource) String() string             { return "cursorSource" }
func (s *cursorSource) Next(context.Context) (exec.Message, error) {
	if s.pos >= len(s.msgs) {
		return exec.EndMsg, nil
	}
	m := s.msgs[s.pos]
	s.msgs[s.pos] = exec.Message{}
	s.pos++
	return m, nil
}
func (s *cursorSource) Close() error {
	for ; s.pos < len(s.msgs); s.pos++ {
		s.msgs[s.pos].Release()
	}
	return nil
}

var decType = &arrow.Decimal128Type{Precision: 10, Scale: 2}

// snapSchema: key k (with NULLs), string s, int v, float f, decimal d,
// event time ts.
var snapSchema = exectest.Schema("k", i64, "s", str, "v", i64, "f", f64, "d", decType, "ts", arrow.FixedWidthTypes.Timestamp_us)

// snapScript generates a stream: batches of rows over a few keys, with
// retractions of earlier rows when retract is set and a watermark after
// every batch when wm is set. It returns a function building fresh
// messages (the test needs the same stream several times).
func snapScript(seed uint64, batches, rowsPer int, retract, wm bool) func(mem memory.Allocator) []exec.Message {
	r := rand.New(rand.NewPCG(seed, 7))
	type batch struct {
		rows [][]any
		ops  []exec.ChangeKind
		wm   int64
	}
	var script []batch
	var live [][]any
	for b := 0; b < batches; b++ {
		var bt batch
		for i := 0; i < rowsPer; i++ {
			if retract && len(live) > 0 && r.IntN(4) == 0 {
				j := r.IntN(len(live))
				bt.rows = append(bt.rows, live[j])
				bt.ops = append(bt.ops, exec.Delete)
				live = append(live[:j], live[j+1:]...)
				continue
			}
			var k any = int64(r.IntN(5))
			if r.IntN(10) == 0 {
				k = nil
			}
			var v any = int64(r.IntN(100) - 20)
			if r.IntN(8) == 0 {
				v = nil
			}
			ts := arrow.Timestamp(int64(b)*1_000_000 + int64(r.IntN(1_500_000)) - 500_000)
			row := []any{k, fmt.Sprintf("s%d", r.IntN(300)), v, float64(r.IntN(1000)) / 8,
				decimal128.FromI64(int64(r.IntN(100000) - 5000)), ts}
			bt.rows = append(bt.rows, row)
			bt.ops = append(bt.ops, exec.Insert)
			live = append(live, row)
		}
		if !retract {
			bt.ops = nil
		}
		bt.wm = math.MinInt64
		if wm {
			bt.wm = int64(b)*1_000_000 - 600_000
		}
		script = append(script, bt)
	}
	return func(mem memory.Allocator) []exec.Message {
		var out []exec.Message
		for _, bt := range script {
			out = append(out, exec.BatchMsg(exectest.Record(mem, snapSchema, bt.rows...), bt.ops))
			if bt.wm != math.MinInt64 {
				out = append(out, exec.WatermarkMsg(bt.wm))
			}
		}
		return out
	}
}

// checkSnapshotRestore runs the stream uninterrupted, then, for every
// number of pulls j, runs it j pulls far, snapshots, builds a fresh operator
// over the rest of the input, restores and runs to the end: the folded
// output must equal the uninterrupted run's.
func checkSnapshotRestore(t *testing.T, stream func(memory.Allocator) []exec.Message, build func(child exec.Operator, mem memory.Allocator) (exec.Operator, error)) {
	t.Helper()
	mem := newMem(t)
	ctx := context.Background()
	op, err := build(&cursorSource{schema: snapSchema, msgs: stream(mem)}, mem)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := exectest.CollectMessages(ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	want, err := exectest.Fold(msgs)
	exectest.ReleaseMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatal("the uninterrupted run gives nothing")
	}
	pulls := len(msgs)
	if pulls < 1 {
		t.Fatal("no output")
	}
	// Split after j pulls of output (the operator may hold queued output),
	// and at a barrier after i input messages (the operator has read
	// exactly those).
	for j := 1; j < pulls; j++ {
		splitRun(t, stream, build, want, -1, j)
	}
	probe := stream(mem)
	inputs := len(probe)
	exectest.ReleaseMessages(probe)
	for i := 0; i <= inputs; i++ {
		splitRun(t, stream, build, want, i, 0)
	}
}

// splitRun runs the stream up to a split (barrierAt ≥ 0: until the barrier
// placed after that many input messages comes out; else pulls messages),
// snapshots, restores into a fresh operator over the rest and compares
// the folded output with want.
func splitRun(t *testing.T, stream func(memory.Allocator) []exec.Message, build func(child exec.Operator, mem memory.Allocator) (exec.Operator, error), want []string, barrierAt, pulls int) {
	t.Helper()
	mem := newMem(t)
	ctx := context.Background()
	in := stream(mem)
	split := fmt.Sprintf("after %d pulls", pulls)
	if barrierAt >= 0 {
		split = fmt.Sprintf("at a barrier after %d input messages", barrierAt)
		in = append(in[:barrierAt:barrierAt], append([]exec.Message{{Kind: exec.MsgBarrier, Barrier: 1}}, in[barrierAt:]...)...)
	}
	src := &cursorSource{schema: snapSchema, msgs: in}
	a, err := build(src, mem)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Open(ctx); err != nil {
		t.Fatal(err)
	}
	var out []exec.Message
	for k := 0; ; k++ {
		if barrierAt < 0 && k == pulls {
			break
		}
		m, err := a.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind == exec.MsgBarrier {
			break
		}
		if m.Kind == exec.MsgEnd {
			t.Fatalf("%s: end before the split", split)
		}
		out = append(out, m)
	}
	var snap bytes.Buffer
	if err := a.(exec.Stateful).State().Snapshot(&snap); err != nil {
		t.Fatalf("%s: snapshot: %v", split, err)
	}
	entries := a.(exec.Stateful).State().Entries()
	consumed := src.pos
	if barrierAt >= 0 {
		consumed--
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	rest := stream(mem)
	exectest.ReleaseMessages(rest[:consumed])
	b, err := build(&cursorSource{schema: snapSchema, msgs: rest[consumed:]}, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// The snapshot is followed by other bytes in the stream: Restore
	// must read exactly its own.
	snap.WriteString("trailing")
	if err := b.(exec.Stateful).State().Restore(&snap); err != nil {
		t.Fatalf("%s: restore: %v", split, err)
	}
	if snap.String() != "trailing" {
		t.Fatalf("%s: restore read %d bytes of the following data", split, 8-snap.Len())
	}
	if got := b.(exec.Stateful).State().Entries(); got != entries {
		t.Fatalf("%s: %d entries restored, %d saved", split, got, entries)
	}
	more, err := exectest.CollectMessages(ctx, b)
	out = append(out, more...)
	if err != nil {
		exectest.ReleaseMessages(out)
		t.Fatalf("%s: %v", split, err)
	}
	got, err := exectest.Fold(out)
	exectest.ReleaseMessages(out)
	if err != nil {
		t.Fatalf("%s: %v", split, err)
	}
	if err := exectest.Equal(got, want); err != nil {
		t.Fatalf("restored %s (input %d consumed): %v", split, consumed, err)
	}
}

func cols(names ...string) []expr.Expr {
	out := make([]expr.Expr, len(names))
	for i, n := range names {
		out[i] = col(snapSchema, n)
	}
	return out
}

func call(fn, arg, name string, distinct bool) exec.AggCall {
	c := exec.AggCall{Func: fn, Name: name, Distinct: distinct}
	if arg != "" {
		c.Args = cols(arg)
	}
	return c
}

// retractableCalls take retractions (everything but approx_count_distinct).
var retractableCalls = []exec.AggCall{
	call("count_star", "", "n", false),
	call("count", "v", "cv", false),
	call("sum", "v", "sv", false),
	call("avg", "v", "av", false),
	call("sum", "f", "sf", false),
	call("avg", "f", "af", false),
	call("sum", "d", "sd", false),
	call("avg", "d", "ad", false),
	call("min", "s", "mins", false),
	call("max", "s", "maxs", false),
	call("min", "v", "minv", false),
	call("max", "f", "maxf", false),
	call("max", "d", "maxd", false),
	call("min", "ts", "mint", false),
	call("count", "v", "dv", true),
	call("sum", "v", "dsv", true),
}

var allCalls = append(append([]exec.AggCall(nil), retractableCalls...), call("approx_count_distinct", "s", "acd", false))

func TestHashAggregateSnapshotRestore(t *testing.T) {
	cases := []struct {
		name    string
		keys    []string
		calls   []exec.AggCall
		emit    exec.EmitMode
		retract bool
	}{
		{"changelog int key with retractions", []string{"k"}, retractableCalls, exec.EmitChangelog, true},
		{"changelog two keys with retractions", []string{"k", "s"}, retractableCalls, exec.EmitChangelog, true},
		{"changelog int key append-only", []string{"k"}, allCalls, exec.EmitChangelog, false},
		{"changelog string key append-only", []string{"s"}, allCalls, exec.EmitChangelog, false},
		{"on end int key", []string{"k"}, allCalls, exec.EmitOnEnd, false},
		{"on end two keys", []string{"k", "d"}, allCalls, exec.EmitOnEnd, false},
		{"on end no keys", nil, allCalls, exec.EmitOnEnd, false},
		{"changelog no keys with retractions", nil, retractableCalls, exec.EmitChangelog, true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stream := snapScript(uint64(i+1), 12, 40, c.retract, false)
			checkSnapshotRestore(t, stream, func(child exec.Operator, mem memory.Allocator) (exec.Operator, error) {
				return exec.NewHashAggregate(child, cols(c.keys...), c.keys, c.calls, mem, exec.AggOptions{Emit: c.emit})
			})
		})
	}
}

// TestHashAggregateSnapshotDenseHLL grows approx_count_distinct past its
// exact list into registers before the snapshot.
func TestHashAggregateSnapshotDenseHLL(t *testing.T) {
	stream := snapScript(42, 10, 200, false, false)
	checkSnapshotRestore(t, stream, func(child exec.Operator, mem memory.Allocator) (exec.Operator, error) {
		return exec.NewHashAggregate(child, cols("k"), []string{"k"},
			[]exec.AggCall{call("approx_count_distinct", "s", "acd", false), call("approx_count_distinct", "f", "acf", false)},
			mem, exec.AggOptions{Emit: exec.EmitChangelog})
	})
}

func TestWindowAggregateSnapshotRestore(t *testing.T) {
	specs := []exec.WindowSpec{
		{Kind: exec.Tumble, Size: 3 * time.Second},
		{Kind: exec.Hop, Size: 4 * time.Second, Slide: 2 * time.Second},
		{Kind: exec.Cumulate, Size: 4 * time.Second, Slide: time.Second},
		{Kind: exec.Tumble, Size: 2 * time.Second, AllowedLateness: 2 * time.Second},
	}
	for i, spec := range specs {
		spec.TimeCol = col(snapSchema, "ts")
		for _, retract := range []bool{false, true} {
			name := fmt.Sprintf("%s lateness %s retractable %v", spec.Kind, spec.AllowedLateness, retract)
			t.Run(name, func(t *testing.T) {
				calls := allCalls
				if retract {
					calls = retractableCalls
				}
				stream := snapScript(uint64(100+i), 12, 30, retract, true)
				checkSnapshotRestore(t, stream, func(child exec.Operator, mem memory.Allocator) (exec.Operator, error) {
					w, err := exec.NewWindowAggregate(child, spec, cols("k"), []string{"k"}, calls, mem)
					if err != nil {
						return nil, err
					}
					w.SetRetractable(retract)
					return w, nil
				})
			})
		}
	}
}

// TestWindowAggregateSnapshotQueuedOutput snapshots while fired windows
// wait in the operator's queue: a restored operator must still emit them.
func TestWindowAggregateSnapshotQueuedOutput(t *testing.T) {
	mem := newMem(t)
	ctx := context.Background()
	spec := exec.WindowSpec{Kind: exec.Tumble, Size: time.Second, TimeCol: col(snapSchema, "ts")}
	mk := func(child exec.Operator) *exec.WindowAggregate {
		return must(exec.NewWindowAggregate(child, spec, cols("k"), []string{"k"}, []exec.AggCall{call("count_star", "", "n", false)}, mem))
	}
	row := func(k, sec int) []any {
		return []any{int64(k), "x", int64(1), 1.0, decimal128.FromI64(1), arrow.Timestamp(int64(sec) * 1_000_000)}
	}
	in := exectest.Record(mem, snapSchema, row(1, 0), row(1, 1), row(2, 2), row(3, 3))
	a := mk(&cursorSource{schema: snapSchema, msgs: []exec.Message{exec.BatchMsg(in, nil), exec.WatermarkMsg(10_000_000)}})
	if err := a.Open(ctx); err != nil {
		t.Fatal(err)
	}
	first, err := a.Next(ctx) // one of four fired windows; three wait
	if err != nil || first.Kind != exec.MsgBatch {
		t.Fatalf("first message %v %v", first.Kind, err)
	}
	var snap bytes.Buffer
	if err := a.State().Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b := mk(&cursorSource{schema: snapSchema})
	if err := b.State().Restore(&snap); err != nil {
		t.Fatal(err)
	}
	rest, err := exectest.CollectMessages(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	all := append([]exec.Message{first}, rest...)
	defer exectest.ReleaseMessages(all)
	got, err := exectest.Fold(all)
	if err != nil {
		t.Fatal(err)
	}
	check(t, got, []string{
		"1970-01-01T00:00:00Z|1970-01-01T00:00:01Z|1|1",
		"1970-01-01T00:00:01Z|1970-01-01T00:00:02Z|1|1",
		"1970-01-01T00:00:02Z|1970-01-01T00:00:03Z|2|1",
		"1970-01-01T00:00:03Z|1970-01-01T00:00:04Z|3|1",
	})
	if len(rest) < 4 || rest[len(rest)-1].Kind != exec.MsgWatermark {
		t.Fatalf("restored operator gave %d messages, the watermark last expected", len(rest))
	}
}

// TestSnapshotRejectsOtherPlans restores into operators of other queries.
func TestSnapshotRejectsOtherPlans(t *testing.T) {
	mem := newMem(t)
	src := func() exec.Operator { return &cursorSource{schema: snapSchema} }
	a := must(exec.NewHashAggregate(src(), cols("k"), []string{"k"}, []exec.AggCall{call("sum", "v", "s", false)}, mem, exec.AggOptions{Emit: exec.EmitChangelog}))
	var snap bytes.Buffer
	if err := a.(exec.Stateful).State().Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	for name, other := range map[string]exec.Operator{
		"other function": must(exec.NewHashAggregate(src(), cols("k"), []string{"k"}, []exec.AggCall{call("min", "v", "s", false)}, mem, exec.AggOptions{Emit: exec.EmitChangelog})),
		"other keys":     must(exec.NewHashAggregate(src(), cols("k", "s"), []string{"k", "s"}, []exec.AggCall{call("sum", "v", "s", false)}, mem, exec.AggOptions{Emit: exec.EmitChangelog})),
		"window":         must(exec.NewWindowAggregate(src(), exec.WindowSpec{Kind: exec.Tumble, Size: time.Second, TimeCol: col(snapSchema, "ts")}, cols("k"), []string{"k"}, []exec.AggCall{call("sum", "v", "s", false)}, mem)),
	} {
		if err := other.(exec.Stateful).State().Restore(bytes.NewReader(snap.Bytes())); err == nil {
			t.Errorf("%s: restore succeeded", name)
		}
		other.Close()
	}
	for _, cut := range []int{0, 3, 8, snap.Len() - 1} {
		b := must(exec.NewHashAggregate(src(), cols("k"), []string{"k"}, []exec.AggCall{call("sum", "v", "s", false)}, mem, exec.AggOptions{Emit: exec.EmitChangelog}))
		if err := b.(exec.Stateful).State().Restore(bytes.NewReader(snap.Bytes()[:cut])); err == nil {
			t.Errorf("truncated to %d bytes: restore succeeded", cut)
		}
		b.Close()
	}
	a.Close()
}

// BenchmarkHashAggregateSnapshot measures saving and restoring the state of
// a changelog aggregate with 100K groups (BIGINT key; count, sum, max of a
// string, count distinct).
func BenchmarkHashAggregateSnapshot(b *testing.B) {
	const groups = 100_000
	mem := memory.NewGoAllocator()
	ctx := context.Background()
	rows := make([][]any, groups)
	for i := range rows {
		rows[i] = []any{int64(i), fmt.Sprintf("s%d", i%1000), int64(i), 1.0, decimal128.FromI64(1), arrow.Timestamp(0)}
	}
	calls := []exec.AggCall{call("count_star", "", "n", false), call("sum", "v", "sv", false), call("max", "s", "ms", false), call("count", "v", "dv", true)}
	mk := func(child exec.Operator) exec.Operator {
		return must(exec.NewHashAggregate(child, cols("k"), []string{"k"}, calls, mem, exec.AggOptions{Emit: exec.EmitChangelog}))
	}
	a := mk(&cursorSource{schema: snapSchema, msgs: []exec.Message{exec.BatchMsg(exectest.Record(mem, snapSchema, rows...), nil)}})
	if err := a.Open(ctx); err != nil {
		b.Fatal(err)
	}
	m, err := a.Next(ctx)
	if err != nil {
		b.Fatal(err)
	}
	m.Release()
	var snap bytes.Buffer
	b.Run("snapshot", func(b *testing.B) {
		for b.Loop() {
			snap.Reset()
			if err := a.(exec.Stateful).State().Snapshot(&snap); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(snap.Len())/groups, "bytes/group")
		b.ReportMetric(float64(groups*b.N)/b.Elapsed().Seconds(), "groups/s")
	})
	b.Run("restore", func(b *testing.B) {
		r := mk(&cursorSource{schema: snapSchema})
		for b.Loop() {
			if err := r.(exec.Stateful).State().Restore(bytes.NewReader(snap.Bytes())); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(groups*b.N)/b.Elapsed().Seconds(), "groups/s")
	})
}
