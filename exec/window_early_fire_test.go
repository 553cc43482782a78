package exec_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
)

// fakeClock hands out one unbuffered tick channel: a send on it completes
// only when the operator has taken the tick, so the test decides exactly
// where between input messages a tick falls.
type fakeClock struct {
	c       chan time.Time
	stopped bool
}

func (f *fakeClock) NewTicker(time.Duration) (<-chan time.Time, func()) {
	return f.c, func() { f.stopped = true }
}

// alwaysTicking ticks whenever asked: every pull may fire early, in any
// order with the input (for properties that must hold whatever the timing).
type alwaysTicking struct{}

func (alwaysTicking) NewTicker(time.Duration) (<-chan time.Time, func()) {
	c := make(chan time.Time)
	close(c)
	return c, func() {}
}

// efChanSource returns the messages sent on c, one per Next, so the input can
// be idle.
type efChanSource struct {
	schema *arrow.Schema
	c      chan exec.Message
}

func (s *efChanSource) Schema() *arrow.Schema      { return s.schema }
func (s *efChanSource) Open(context.Context) error { return nil }
func (s *efChanSource) Children() []exec.Operator  { return nil }
func (s *efChanSource) String() string             { return "efChanSource" }
func (s *efChanSource) Close() error               { return nil }
func (s *efChanSource) Next(ctx context.Context) (exec.Message, error) {
	select {
	case m := <-s.c:
		return m, nil
	case <-ctx.Done():
		return exec.Message{}, ctx.Err()
	}
}

// efHarness drives an early-firing window aggregate step by step.
type efHarness struct {
	t     *testing.T
	op    exec.Operator
	src   *efChanSource
	clock *fakeClock
	// barrier numbers the marker barriers that end a tick step.
	barrier uint64
	out     []exec.Message
}

// feed sends msgs to the input (the last one a watermark, barrier or end,
// which the operator passes on) and returns the batches the operator
// emitted up to and including that message.
func (h *efHarness) feed(msgs ...exec.Message) []exec.Message {
	h.t.Helper()
	last := msgs[len(msgs)-1]
	go func() {
		for _, m := range msgs {
			h.src.c <- m
		}
	}()
	return h.pullUntil(func(m exec.Message) bool {
		return m.Kind == last.Kind && m.Watermark == last.Watermark && m.Barrier == last.Barrier
	})
}

// tick makes one tick while the input is idle, then sends a marker barrier
// and returns what the operator emitted before the barrier came out.
func (h *efHarness) tick() []exec.Message {
	h.t.Helper()
	h.barrier++
	b := h.barrier
	go func() {
		h.clock.c <- time.Time{}
		h.src.c <- exec.Message{Kind: exec.MsgBarrier, Barrier: b}
	}()
	return h.pullUntil(func(m exec.Message) bool { return m.Kind == exec.MsgBarrier && m.Barrier == b })
}

func (h *efHarness) pullUntil(stop func(exec.Message) bool) []exec.Message {
	h.t.Helper()
	var got []exec.Message
	for {
		m, err := h.op.Next(context.Background())
		if err != nil {
			h.t.Fatal(err)
		}
		h.out = append(h.out, m)
		if stop(m) {
			return got
		}
		if m.Kind == exec.MsgEnd {
			h.t.Fatalf("end before the expected message")
		}
		got = append(got, m)
	}
}

var efSchema = exectest.Schema("k", i64, "v", i64, "ts", tsType)

func efRows(mem memory.Allocator, rows ...[]any) exec.Message {
	return exec.BatchMsg(exectest.Record(mem, efSchema, rows...), nil)
}

func efSec(s float64) arrow.Timestamp { return arrow.Timestamp(int64(s * 1e6)) }

func newEFAgg(t *testing.T, child exec.Operator, spec exec.WindowSpec, mem memory.Allocator, clock exec.EarlyFireClock) *exec.WindowAggregate {
	t.Helper()
	spec.TimeCol = col(efSchema, "ts")
	w, err := exec.NewWindowAggregate(child, spec, []expr.Expr{col(efSchema, "k")}, []string{"k"},
		[]exec.AggCall{{Func: "count_star", Name: "n"}, {Func: "sum", Args: []expr.Expr{col(efSchema, "v")}, Name: "s"}}, mem)
	if err != nil {
		t.Fatal(err)
	}
	if clock != nil {
		if err := w.SetEarlyFire(time.Second, clock); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func newHarness(t *testing.T, mem memory.Allocator, spec exec.WindowSpec) *efHarness {
	h := &efHarness{t: t, src: &efChanSource{schema: efSchema, c: make(chan exec.Message)}, clock: &fakeClock{c: make(chan time.Time)}}
	h.op = newEFAgg(t, h.src, spec, mem, h.clock)
	if err := h.op.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return h
}

const w0, w1 = "1970-01-01T00:00:00Z|1970-01-01T00:00:10Z", "1970-01-01T00:00:10Z|1970-01-01T00:00:20Z"

// TestWindowEarlyFirePartials follows one tumbling window through ticks:
// +I for a group's first partial row, -U/+U when it changed, nothing for
// groups unchanged since the last fire, and at the window's end a -U/+U
// only for groups whose final row differs from the last partial one; the
// folded output equals the output without early fire.
func TestWindowEarlyFirePartials(t *testing.T) {
	mem := newMem(t)
	spec := exec.WindowSpec{Kind: exec.Tumble, Size: 10 * time.Second}
	input := func() [][]exec.Message {
		return [][]exec.Message{
			{efRows(mem, []any{1, 10, efSec(1)}, []any{2, 5, efSec(2)}), exec.WatermarkMsg(2e6)},
			{efRows(mem, []any{1, 7, efSec(3)}, []any{3, 1, efSec(4)}), exec.WatermarkMsg(3e6)},
			{efRows(mem, []any{2, 5, efSec(5)}, []any{1, 4, efSec(12)}), exec.WatermarkMsg(11e6)},
			{exec.EndMsg},
		}
	}
	h := newHarness(t, mem, spec)
	defer h.op.Close()
	in := input()
	steps := []struct {
		name string
		run  func() []exec.Message
		want []string
	}{
		{"rows, no tick", func() []exec.Message { return h.feed(in[0]...) }, nil},
		{"first tick", h.tick, []string{"+I " + w0 + "|1|1|10", "+I " + w0 + "|2|1|5"}},
		{"more rows", func() []exec.Message { return h.feed(in[1]...) }, nil},
		{"second tick: k=2 unchanged", h.tick, []string{"-U " + w0 + "|1|1|10", "+U " + w0 + "|1|2|17", "+I " + w0 + "|3|1|1"}},
		{"idle tick", h.tick, nil},
		{"window end: only k=2 changed", func() []exec.Message { return h.feed(in[2]...) }, []string{"-U " + w0 + "|2|1|5", "+U " + w0 + "|2|2|10"}},
		{"end: a window never fired early", func() []exec.Message { return h.feed(in[3]...) }, []string{"+I " + w1 + "|1|1|4"}},
	}
	for _, s := range steps {
		got := exectest.Changelog(s.run())
		if err := exectest.Equal(got, s.want); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	// Watermarks and barriers came out in input order, each once.
	var passed []string
	for _, m := range h.out {
		switch m.Kind {
		case exec.MsgWatermark:
			passed = append(passed, fmt.Sprintf("wm %d", m.Watermark))
		case exec.MsgBarrier:
			passed = append(passed, fmt.Sprintf("barrier %d", m.Barrier))
		}
	}
	check(t, passed, []string{"wm 2000000", "barrier 1", "wm 3000000", "barrier 2", "barrier 3", "wm 11000000"})
	got, err := exectest.Fold(h.out)
	exectest.ReleaseMessages(h.out)
	if err != nil {
		t.Fatal(err)
	}
	var flat []exec.Message
	for _, ms := range input() {
		flat = append(flat, ms...)
	}
	plain := newEFAgg(t, exectest.NewSource(efSchema, flat...), spec, mem, nil)
	msgs, err := exectest.CollectMessages(context.Background(), plain)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Kind == exec.MsgBatch && !m.Batch.AppendOnly() {
			t.Fatal("without early fire the output has updates")
		}
	}
	want, err := exectest.Fold(msgs)
	exectest.ReleaseMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	check(t, got, want)
	if err := h.op.Close(); err != nil {
		t.Fatal(err)
	}
	if !h.clock.stopped {
		t.Fatal("Close left the ticker running")
	}
}

// TestWindowEarlyFireFoldEqualsFinal runs random streams (inserts only, and
// with retractions) through every window kind firing early at arbitrary
// points: the folded output must equal the output without early fire.
func TestWindowEarlyFireFoldEqualsFinal(t *testing.T) {
	specs := []exec.WindowSpec{
		{Kind: exec.Tumble, Size: 3 * time.Second},
		{Kind: exec.Hop, Size: 4 * time.Second, Slide: 2 * time.Second},
		{Kind: exec.Cumulate, Size: 4 * time.Second, Slide: time.Second},
		{Kind: exec.Tumble, Size: 2 * time.Second, AllowedLateness: 2 * time.Second},
		{Kind: exec.Session, Gap: 300 * time.Millisecond},
		{Kind: exec.Session, Gap: 200 * time.Millisecond, AllowedLateness: time.Second},
	}
	for i, spec := range specs {
		spec.TimeCol = col(snapSchema, "ts")
		for _, retract := range []bool{false, true} {
			if retract && spec.Kind == exec.Session {
				continue // sessions take append-only input
			}
			t.Run(fmt.Sprintf("%s lateness %s retractable %v", spec.Kind, spec.AllowedLateness, retract), func(t *testing.T) {
				mem := newMem(t)
				calls := allCalls
				if retract {
					calls = retractableCalls
				}
				stream := snapScript(uint64(200+i), 12, 30, retract, true)
				runOnce := func(clock exec.EarlyFireClock) ([]string, bool) {
					w, err := exec.NewWindowAggregate(exectest.NewSource(snapSchema, stream(mem)...), spec, cols("k"), []string{"k"}, calls, mem)
					if err != nil {
						t.Fatal(err)
					}
					w.SetRetractable(retract)
					if clock != nil {
						if err := w.SetEarlyFire(time.Second, clock); err != nil {
							t.Fatal(err)
						}
					}
					msgs, err := exectest.CollectMessages(context.Background(), w)
					if err != nil {
						t.Fatal(err)
					}
					updates := false
					for _, m := range msgs {
						updates = updates || (m.Kind == exec.MsgBatch && !m.Batch.AppendOnly())
					}
					rows, err := exectest.Fold(msgs)
					exectest.ReleaseMessages(msgs)
					if err != nil {
						t.Fatal(err)
					}
					return rows, updates
				}
				want, _ := runOnce(nil)
				if len(want) == 0 {
					t.Fatal("no output")
				}
				for run := 0; run < 3; run++ {
					got, _ := runOnce(alwaysTicking{})
					check(t, got, want)
				}
			})
		}
	}
}

// TestWindowEarlyFireSnapshotRestore snapshots after partial rows were
// emitted: the restored operator must retract exactly those rows (the
// last emitted row per window and group is state), and the folded output
// of both runs equals the output without early fire.
func TestWindowEarlyFireSnapshotRestore(t *testing.T) {
	mem := newMem(t)
	spec := exec.WindowSpec{Kind: exec.Hop, Size: 10 * time.Second, Slide: 5 * time.Second}
	first := func() []exec.Message {
		return []exec.Message{efRows(mem, []any{1, 10, efSec(1)}, []any{2, 5, efSec(6)}), exec.WatermarkMsg(2e6)}
	}
	second := func() []exec.Message {
		return []exec.Message{efRows(mem, []any{1, 3, efSec(2)}, []any{2, 1, efSec(7)}), exec.WatermarkMsg(3e6)}
	}
	a := newHarness(t, mem, spec)
	a.feed(first()...)
	if got := a.tick(); len(exectest.Changelog(got)) != 4 {
		t.Fatalf("first tick: %q, want 4 partial rows", exectest.Changelog(got))
	}
	// A group changed since the tick: its change is state too.
	a.feed(efRows(mem, []any{2, 100, efSec(8)}), exec.WatermarkMsg(2e6+1))
	var snap bytes.Buffer
	if err := a.op.(exec.Stateful).State().Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	if err := a.op.Close(); err != nil {
		t.Fatal(err)
	}
	out := a.out

	b := newHarness(t, mem, spec)
	defer b.op.Close()
	snap.WriteString("trailing")
	if err := b.op.(exec.Stateful).State().Restore(&snap); err != nil {
		t.Fatal(err)
	}
	if snap.String() != "trailing" {
		t.Fatal("restore read past its snapshot")
	}
	b.feed(second()...)
	ws := func(s, e int) string {
		return fmt.Sprintf("1970-01-01T00:00:%02dZ|1970-01-01T00:00:%02dZ", s, e)
	}
	// The restored operator retracts the rows emitted before the snapshot.
	wm5 := "1969-12-31T23:59:55Z|1970-01-01T00:00:05Z"
	check(t, exectest.Changelog(b.tick()), []string{
		"-U " + wm5 + "|1|1|10", "+U " + wm5 + "|1|2|13",
		"-U " + ws(0, 10) + "|1|1|10", "-U " + ws(0, 10) + "|2|1|5", "+U " + ws(0, 10) + "|1|2|13", "+U " + ws(0, 10) + "|2|3|106",
		"-U " + ws(5, 15) + "|2|1|5", "+U " + ws(5, 15) + "|2|3|106",
	})
	b.feed(exec.EndMsg)
	out = append(out, b.out...)
	got, err := exectest.Fold(out)
	exectest.ReleaseMessages(out)
	if err != nil {
		t.Fatal(err)
	}
	all := append(append(first(), efRows(mem, []any{2, 100, efSec(8)})), second()...)
	plain := newEFAgg(t, exectest.NewSource(efSchema, all...), spec, mem, nil)
	want := runSorted(t, plain)
	check(t, got, want)
}

// TestWindowEarlyFireSessions: a session's partial row is updated as the
// session grows; when a row bridges two sessions, the partial row of the
// one merged away is deleted and the merged session updated; a restored
// operator keeps the partial rows; the fold equals the plain output.
func TestWindowEarlyFireSessions(t *testing.T) {
	mem := newMem(t)
	spec := exec.WindowSpec{Kind: exec.Session, Gap: 2 * time.Second}
	a := newHarness(t, mem, spec)
	ts := func(s float64) string {
		return arrow.Timestamp(int64(s * 1e6)).ToTime(arrow.Microsecond).UTC().Format("2006-01-02T15:04:05.999999999Z")
	}
	a.feed(efRows(mem, []any{1, 1, efSec(1)}, []any{1, 2, efSec(4.5)}), exec.WatermarkMsg(0))
	check(t, exectest.Changelog(a.tick()), []string{"+I " + ts(1) + "|" + ts(3) + "|1|1|1", "+I " + ts(4.5) + "|" + ts(6.5) + "|1|1|2"})
	a.feed(efRows(mem, []any{1, 4, efSec(6)}), exec.WatermarkMsg(1))
	var snap bytes.Buffer
	if err := a.op.(exec.Stateful).State().Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	if err := a.op.Close(); err != nil {
		t.Fatal(err)
	}
	b := newHarness(t, mem, spec)
	defer b.op.Close()
	if err := b.op.(exec.Stateful).State().Restore(&snap); err != nil {
		t.Fatal(err)
	}
	check(t, exectest.Changelog(b.tick()), []string{"-U " + ts(4.5) + "|" + ts(6.5) + "|1|1|2", "+U " + ts(4.5) + "|" + ts(8) + "|1|2|6"})
	// A row at 2.8s bridges [1s, 3s) and [4.5s, 8s): the partial row of
	// the session merged away (the later one) is deleted at once, the
	// survivor's is updated at the next tick.
	check(t, exectest.Changelog(b.feed(efRows(mem, []any{1, 8, efSec(2.8)}), exec.WatermarkMsg(2))),
		[]string{"-D " + ts(4.5) + "|" + ts(8) + "|1|2|6"})
	check(t, exectest.Changelog(b.tick()), []string{"-U " + ts(1) + "|" + ts(3) + "|1|1|1", "+U " + ts(1) + "|" + ts(8) + "|1|4|15"})
	check(t, exectest.Changelog(b.feed(exec.WatermarkMsg(9e6))), nil) // final row unchanged
	b.feed(exec.EndMsg)
	out := append(a.out, b.out...)
	got, err := exectest.Fold(out)
	exectest.ReleaseMessages(out)
	if err != nil {
		t.Fatal(err)
	}
	check(t, got, []string{ts(1) + "|" + ts(8) + "|1|4|15"})
}

// TestWindowEarlyFireStopsAtBarrier: after passing a barrier on, the
// operator does not read its input further until it is pulled again (a job
// snapshots the operators below it in between).
func TestWindowEarlyFireStopsAtBarrier(t *testing.T) {
	mem := newMem(t)
	src := &efChanSource{schema: efSchema, c: make(chan exec.Message, 2)}
	op := newEFAgg(t, src, exec.WindowSpec{Kind: exec.Tumble, Size: time.Second}, mem, &fakeClock{c: make(chan time.Time)})
	defer op.Close()
	ctx := context.Background()
	if err := op.Open(ctx); err != nil {
		t.Fatal(err)
	}
	src.c <- exec.Message{Kind: exec.MsgBarrier, Barrier: 7}
	src.c <- exec.WatermarkMsg(5)
	m, err := op.Next(ctx)
	if err != nil || m.Kind != exec.MsgBarrier || m.Barrier != 7 {
		t.Fatalf("got %+v, %v; want barrier 7", m, err)
	}
	if len(src.c) != 1 {
		t.Fatal("the input was read past the barrier before the operator was pulled again")
	}
	m, err = op.Next(ctx)
	if err != nil || m.Kind != exec.MsgWatermark || m.Watermark != 5 {
		t.Fatalf("got %+v, %v; want watermark 5", m, err)
	}
}
