package shell

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
)

var kvSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.BinaryTypes.String},
	{Name: "n", Type: arrow.PrimitiveTypes.Int64},
}, nil)

func kv(k string, n int) []cell { return []cell{{s: k}, {s: fmt.Sprint(n)}} }

func foldRows(f *fold) string {
	var parts []string
	for _, r := range f.rows() {
		parts = append(parts, r[0].s+"="+r[1].s)
	}
	return strings.Join(parts, " ")
}

func TestFoldKeepsUpdatedRowsInPlace(t *testing.T) {
	var f fold
	steps := []struct {
		op   exec.ChangeKind
		row  []cell
		want string
	}{
		{exec.Insert, kv("a", 1), "a=1"},
		{exec.Insert, kv("b", 1), "a=1 b=1"},
		{exec.Insert, kv("c", 1), "a=1 b=1 c=1"},
		// An update replaces the row where it stands.
		{exec.UpdateBefore, kv("a", 1), "b=1 c=1"},
		{exec.UpdateAfter, kv("a", 2), "a=2 b=1 c=1"},
		// A delete removes one row of equal value; an insert goes last.
		{exec.Delete, kv("b", 1), "a=2 c=1"},
		{exec.Insert, kv("d", 1), "a=2 c=1 d=1"},
		// Duplicates: each retraction removes one copy.
		{exec.Insert, kv("d", 1), "a=2 c=1 d=1 d=1"},
		{exec.Delete, kv("d", 1), "a=2 c=1 d=1"},
		// Paired -U -U +U +U keep both places.
		{exec.UpdateBefore, kv("a", 2), "c=1 d=1"},
		{exec.UpdateBefore, kv("c", 1), "d=1"},
		{exec.UpdateAfter, kv("a", 3), "a=3 d=1"},
		{exec.UpdateAfter, kv("c", 2), "a=3 c=2 d=1"},
	}
	for i, s := range steps {
		if err := f.apply(s.op, s.row); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := foldRows(&f); got != s.want {
			t.Fatalf("step %d (%s %v): rows %q, want %q", i, s.op, s.row, got, s.want)
		}
	}
	if f.live != 3 {
		t.Errorf("live = %d", f.live)
	}
	err := f.apply(exec.Delete, kv("zz", 9))
	if err == nil || !strings.Contains(err.Error(), "zz, 9") {
		t.Errorf("retraction of an unknown row: %v", err)
	}
	// NULL and the string "NULL" are different values.
	_ = f.apply(exec.Insert, []cell{{s: nullText, null: true}, {s: "1"}})
	if err := f.apply(exec.Delete, []cell{{s: "NULL"}, {s: "1"}}); err == nil {
		t.Error("a 'NULL' string retracted a NULL")
	}
}

func TestFoldCompacts(t *testing.T) {
	var f fold
	for i := 0; i < 1000; i++ {
		if err := f.apply(exec.Insert, kv("x", i)); err != nil {
			t.Fatal(err)
		}
		if i >= 2 {
			if err := f.apply(exec.Delete, kv("x", i-2)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := foldRows(&f); got != "x=998 x=999" {
		t.Fatalf("rows %q", got)
	}
	if len(f.slots) > 200 {
		t.Errorf("%d slots kept for 2 rows: removed rows are never dropped", len(f.slots))
	}
}

// fakeClock is a settable clock for throttled redraws.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func kvBatch(t *testing.T, mem memory.Allocator, ops []exec.ChangeKind, rows ...row) exec.Batch {
	t.Helper()
	return exec.Batch{Rec: buildRecord(t, mem, kvSchema, rows), Ops: ops}
}

func TestLiveTableRedrawsInPlace(t *testing.T) {
	mem := checkedMem(t)
	term := &vt{}
	clock := &fakeClock{t: time.Unix(1000, 0)}
	r := newLiveRenderer(term, RenderOptions{Format: FormatTable, Streaming: true, Width: 80}, func() int { return 30 }, clock.now)
	if err := r.Begin(kvSchema); err != nil {
		t.Fatal(err)
	}
	write := func(b exec.Batch) {
		t.Helper()
		defer b.Rec.Release()
		if err := r.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	// Inserts print as they arrive, like a streaming table.
	write(kvBatch(t, mem, nil, row{"a", 1}, row{"b", 1}))
	want := `+---------+--------+
| k       | n      |
| VARCHAR | BIGINT |
+---------+--------+
| a       |      1 |
| b       |      1 |
`
	if got := term.screen(); got != want {
		t.Fatalf("append phase:\n%s\nwant:\n%s", got, want)
	}
	// The first retraction turns the table live: redrawn over itself.
	clock.advance(time.Second)
	write(kvBatch(t, mem, []exec.ChangeKind{exec.UpdateBefore, exec.UpdateAfter, exec.Insert}, row{"a", 1}, row{"a", 2}, row{"c", 1}))
	want = `+---------+--------+
| k       | n      |
| VARCHAR | BIGINT |
+---------+--------+
| a       |      2 |
| b       |      1 |
| c       |      1 |
+---------+--------+
`
	if got := term.screen(); got != want {
		t.Fatalf("after the first update:\n%s\nwant:\n%s", got, want)
	}
	// Changes within a quarter second wait for the next frame.
	clock.advance(100 * time.Millisecond)
	write(kvBatch(t, mem, []exec.ChangeKind{exec.UpdateBefore, exec.UpdateAfter}, row{"b", 1}, row{"b", 2}))
	clock.advance(50 * time.Millisecond)
	write(kvBatch(t, mem, []exec.ChangeKind{exec.Delete}, row{"c", 1}))
	if got := term.screen(); got != want || term.clears != 1 {
		t.Fatalf("redrawn within the throttle (%d frames):\n%s", term.clears, got)
	}
	if err := r.Tick(); err != nil || term.clears != 1 {
		t.Fatalf("Tick redrew early: %v, %d frames", err, term.clears)
	}
	clock.advance(100 * time.Millisecond)
	if err := r.Tick(); err != nil {
		t.Fatal(err)
	}
	want = `+---------+--------+
| k       | n      |
| VARCHAR | BIGINT |
+---------+--------+
| a       |      2 |
| b       |      2 |
+---------+--------+
`
	if got := term.screen(); got != want || term.clears != 2 {
		t.Fatalf("after Tick (%d frames):\n%s\nwant:\n%s", term.clears, got, want)
	}
	if err := r.Tick(); err != nil || term.clears != 2 {
		t.Errorf("Tick without changes redrew: %v, %d frames", err, term.clears)
	}
	if err := r.End(3*time.Second, context.Canceled); err != nil {
		t.Fatal(err)
	}
	if got := term.screen(); got != want+"2 rows from 8 changes before the query stopped (3.00 s)\n" {
		t.Errorf("final screen:\n%s", got)
	}
	if r.Rows() != 2 {
		t.Errorf("Rows = %d", r.Rows())
	}
}

func TestLiveTableCutToTerminalHeight(t *testing.T) {
	mem := checkedMem(t)
	term := &vt{}
	clock := &fakeClock{t: time.Unix(1000, 0)}
	r := newLiveRenderer(term, RenderOptions{Format: FormatTable, Streaming: true}, func() int { return 12 }, clock.now)
	if err := r.Begin(kvSchema); err != nil {
		t.Fatal(err)
	}
	var rows []row
	for i := 0; i < 30; i++ {
		rows = append(rows, row{fmt.Sprintf("k%02d", i), i})
	}
	// Thirty inserts scroll, then a retraction starts a live table below.
	b := kvBatch(t, mem, nil, rows...)
	err := r.Write(b)
	b.Rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	clock.advance(time.Second)
	b = kvBatch(t, mem, []exec.ChangeKind{exec.Delete}, row{"k00", 0})
	err = r.Write(b)
	b.Rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	s := term.screen()
	live := s[strings.Index(s, "-- the result is updating"):]
	lines := strings.Split(strings.TrimSuffix(live, "\n"), "\n")
	// Height 12: the frame keeps 10 lines (status line and a spare).
	if len(lines)-1 > 10 || !strings.Contains(live, "| k01 ") || !strings.Contains(live, "… 25 rows more") {
		t.Errorf("frame not cut to the terminal (%d lines):\n%s", len(lines)-1, live)
	}
	if strings.Contains(live, "| k00 ") {
		t.Errorf("deleted row still shown:\n%s", live)
	}
	if err := r.End(time.Second, nil); err != nil {
		t.Fatal(err)
	}
}

func TestScreenKeepsStatusOnBottomLine(t *testing.T) {
	term := &vt{}
	scr := newScreen(term, term)
	fmt.Fprint(scr, "row 1\n")
	scr.SetStatus("1 row, 1 rows/s")
	fmt.Fprint(scr, "row 2\nrow 3\n")
	if got := term.screen(); got != "row 1\nrow 2\nrow 3\n1 row, 1 rows/s\n" {
		t.Fatalf("status not kept below the output:\n%s", got)
	}
	// A write split mid-line leaves the status line off until it ends.
	fmt.Fprint(scr, "row")
	if got := term.screen(); got != "row 1\nrow 2\nrow 3\nrow\n" {
		t.Fatalf("status glued to a partial line:\n%s", got)
	}
	fmt.Fprint(scr, " 4\n")
	scr.SetStatus("4 rows")
	scr.ClearStatus()
	if got := term.screen(); got != "row 1\nrow 2\nrow 3\nrow 4\n" || term.cursorLine() != "" {
		t.Fatalf("status not cleared:\n%s", got)
	}
}

func TestStatusLine(t *testing.T) {
	wm := time.Date(2024, 5, 1, 12, 0, 3, 250e6, time.UTC).UnixMicro()
	for _, c := range []struct {
		rows  int64
		rate  float64
		wm    int64
		hasWM bool
		width int
		want  string
	}{
		{1, 0.4, 0, false, 0, "1 row received, 0 rows/s (Ctrl-C stops)"},
		{1234, 410.6, wm, true, 0, "1234 rows received, 411 rows/s, watermark 2024-05-01 12:00:03.250 (Ctrl-C stops)"},
		{20000, 12345, math.MinInt64, true, 0, "20000 rows received, 12K rows/s, no watermark yet (Ctrl-C stops)"},
		{5, 1, wm, true, 20, "5 rows received, 1…"},
	} {
		if got := StatusLine(c.rows, c.rate, c.wm, c.hasWM, c.width); got != c.want {
			t.Errorf("StatusLine(%d, %v, %d, %v, %d) = %q, want %q", c.rows, c.rate, c.wm, c.hasWM, c.width, got, c.want)
		}
	}
}

func TestRateMeterUsesRecentWindow(t *testing.T) {
	m := &rateMeter{window: 2 * time.Second}
	t0 := time.Unix(0, 0)
	m.add(t0, 0)
	if got := m.add(t0.Add(time.Second), 1000); got != 1000 {
		t.Errorf("rate after 1 s = %v", got)
	}
	for i := 2; i <= 10; i++ {
		m.add(t0.Add(time.Duration(i)*time.Second), 1000)
	}
	// Idle for the whole window: the rate falls to zero.
	if got := m.add(t0.Add(11*time.Second), 1000); got != 0 {
		t.Errorf("idle rate = %v", got)
	}
}

// wrapper hides its operator behind Unwrap and reports no children, like
// the engine's guards do not; the walk must still find the assigner.
type wrapper struct{ exec.Operator }

func (w wrapper) Unwrap() exec.Operator     { return w.Operator }
func (w wrapper) Children() []exec.Operator { return nil }

func TestRunStatsWatermarkFromOperatorTree(t *testing.T) {
	mem := checkedMem(t)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond}},
		{Name: "k", Type: arrow.BinaryTypes.String},
	}, nil)
	t1 := time.Date(2024, 5, 1, 12, 0, 10, 0, time.UTC)
	rec := buildRecord(t, mem, schema, []row{{t1, "a"}, {t1.Add(-5 * time.Second), "b"}})
	vals := exec.NewValues(schema, []arrow.RecordBatch{rec})
	rec.Release()
	wa, err := exec.NewWatermarkAssigner(vals, 0, 2*time.Second, exec.WatermarkOptions{PartitionCol: -1, Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	op := wrapper{wa}
	ctx := context.Background()
	if err := op.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	st := newRunStats(op, time.Now())
	if !st.hasWM.Load() || st.wm.Load() != math.MinInt64 {
		t.Fatalf("before any row: has %v wm %d", st.hasWM.Load(), st.wm.Load())
	}
	for {
		msg, err := op.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st.observe(msg)
		msg.Release()
		if msg.Kind == exec.MsgEnd {
			break
		}
		if msg.Kind == exec.MsgBatch {
			if got := st.wm.Load(); got != t1.Add(-2*time.Second).UnixMicro() {
				t.Errorf("watermark after the batch = %s", formatWatermark(got))
			}
		}
	}
	if st.rows.Load() != 2 {
		t.Errorf("rows = %d", st.rows.Load())
	}
	// No watermark anywhere: none is shown.
	plain := newRunStats(exec.NewValues(schema, nil), time.Now())
	if plain.hasWM.Load() {
		t.Error("a result without watermarks claims one")
	}
}

// updatesSession runs a continuous GROUP BY-like result: two batches, the
// second updating a row of the first, then blocks like a continuous query
// until cancelled.
type updatesSession struct {
	fakeSession
}

func (u *updatesSession) Run(ctx context.Context, text string, fn func(*Result) error) error {
	if !strings.HasPrefix(text, "updates") {
		return u.fakeSession.Run(ctx, text, fn)
	}
	r1 := buildRecord(u.t, u.mem, kvSchema, []row{{"a", 1}, {"b", 1}})
	r2 := buildRecord(u.t, u.mem, kvSchema, []row{{"a", 1}, {"a", 2}})
	op := &blockingOp{Operator: exec.NewValues(kvSchema, nil), msgs: []exec.Message{
		exec.BatchMsg(r1, nil),
		exec.BatchMsg(r2, []exec.ChangeKind{exec.UpdateBefore, exec.UpdateAfter}),
	}}
	return fn(&Result{Schema: kvSchema, Rows: op})
}

// blockingOp returns its messages, then blocks until cancelled.
type blockingOp struct {
	exec.Operator
	msgs []exec.Message
}

func (b *blockingOp) Next(ctx context.Context) (exec.Message, error) {
	if len(b.msgs) > 0 {
		m := b.msgs[0]
		b.msgs = b.msgs[1:]
		return m, nil
	}
	<-ctx.Done()
	return exec.Message{}, ctx.Err()
}

func (b *blockingOp) Close() error {
	for _, m := range b.msgs {
		m.Release()
	}
	b.msgs = nil
	return nil
}

func TestShellLiveTableAndStatusOnTerminal(t *testing.T) {
	sess := &updatesSession{fakeSession{t: t, mem: checkedMem(t), mode: catalog.Unbounded}}
	term := &vt{}
	sh := New(Config{Session: sess, Stdout: term, Stderr: term, Terminal: true, ErrTerminal: true,
		Width: func() int { return 80 }, Height: func() int { return 30 }, NoColor: true, Changelog: ChangelogOff})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- sh.RunScript(ctx, "", "updates;") }()
	// The status line comes with the first tick; the table is live by then.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(term.screen(), "(Ctrl-C stops)") {
		if time.Now().After(deadline) {
			t.Fatalf("no status line:\n%s", term.screen())
		}
		time.Sleep(20 * time.Millisecond)
	}
	s := term.screen()
	if !strings.Contains(s, "| a       |      2 |\n| b       |      1 |\n+--") || strings.Contains(s, "|      1 |\n| a") {
		t.Errorf("live table not folded in place:\n%s", s)
	}
	if !strings.Contains(s, "+---------+--------+\n4 rows received, ") {
		t.Errorf("status line not under the table:\n%s", s)
	}
	cancel()
	if code := <-done; code != 130 {
		t.Errorf("exit %d after cancel", code)
	}
	s = term.screen()
	if strings.Contains(s, "Ctrl-C stops") {
		t.Errorf("status line left behind:\n%s", s)
	}
	if !strings.Contains(s, "2 rows from 4 changes before the query stopped") || !strings.HasSuffix(s, "cancelled\n") {
		t.Errorf("no stop footer:\n%s", s)
	}
	if strings.Count(s, "| k ") != 1 {
		t.Errorf("table drawn more than once on screen:\n%s", s)
	}
}

func TestLiveTableFollowsTerminalWidth(t *testing.T) {
	mem := checkedMem(t)
	term := &vt{}
	clock := &fakeClock{t: time.Unix(1000, 0)}
	width := 80
	r := newLiveRenderer(term, RenderOptions{Format: FormatTable, Streaming: true, Width: width}, func() int { return 30 }, clock.now)
	r.width = func() int { return width }
	if err := r.Begin(kvSchema); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 40)
	for i, b := range []exec.Batch{
		kvBatch(t, mem, nil, row{long, 1}),
		kvBatch(t, mem, []exec.ChangeKind{exec.UpdateBefore, exec.UpdateAfter}, row{long, 1}, row{long, 2}),
	} {
		clock.advance(time.Second)
		if i == 1 {
			width = 30 // the window was made narrower
		}
		err := r.Write(b)
		b.Rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	s := term.screen()
	for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if displayWidth(l) > 30 {
			t.Errorf("line wider than the terminal: %q\n%s", l, s)
		}
	}
	if !strings.Contains(s, "…") || !strings.Contains(s, "|      2 |") {
		t.Errorf("frame not cut to the new width:\n%s", s)
	}
	if err := r.End(time.Second, nil); err != nil {
		t.Fatal(err)
	}
}

func TestChangelogOffWithoutTerminalPrintsChangelog(t *testing.T) {
	sess := &updatesSession{fakeSession{t: t, mem: checkedMem(t), mode: catalog.Unbounded}}
	var out, errb strings.Builder
	sh := New(Config{Session: sess, Stdout: &out, Stderr: &errb, Changelog: ChangelogOff})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if code := sh.RunScript(ctx, "", "updates;"); code != 130 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, frag := range []string{"| op | k ", "| +I | a       |      1 |", "| -U | a       |      1 |", "| +U | a       |      2 |", "4 rows before the query stopped"} {
		if !strings.Contains(out.String(), frag) {
			t.Errorf("changelog lacks %q:\n%s", frag, out.String())
		}
	}
	if strings.Contains(out.String()+errb.String(), "\x1b[") {
		t.Errorf("terminal control sequences off a terminal:\n%q\n%q", out.String(), errb.String())
	}
}
