package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/catalog"
	memcat "github.com/magnetar-sql/magnetar/catalog/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
)

// streamQueries run both bounded and continuous (over a tailed memory
// table fed batch by batch); the continuous changelog, folded, must equal
// the bounded answer. Rows of uid 'flush' exist only to move the
// watermark past every window at the end; the queries filter them out
// above the watermark.
var streamQueries = []struct{ name, sql string }{
	{"tumble", `SELECT window_start, window_end, uid, count(*), sum(amount), max(amount), count(DISTINCT amount % 3)
		FROM clicks WHERE uid <> 'flush' GROUP BY TUMBLE(ts, '10 SECONDS'), uid`},
	{"hop", `SELECT window_start, window_end, count(*), count(DISTINCT uid), min(amount)
		FROM clicks WHERE uid <> 'flush' GROUP BY HOP(ts, '5 SECONDS', '15 SECONDS')`},
	{"session", `SELECT window_start, window_end, uid, count(*), avg(amount)
		FROM clicks WHERE uid <> 'flush' GROUP BY SESSION_WINDOW(ts, '2 SECONDS'), uid`},
	{"cumulate", `SELECT window_start, window_end, sum(amount)
		FROM clicks WHERE uid <> 'flush' GROUP BY CUMULATE(ts, '5 SECONDS', '20 SECONDS')`},
	{"having_window", `SELECT window_start, uid, count(*) AS n FROM clicks WHERE uid <> 'flush'
		GROUP BY TUMBLE(ts, '10 SECONDS'), uid HAVING count(*) >= 2 AND window_end > '2024-01-01 00:00:20'`},
	{"group_changelog", `SELECT uid, count(*), sum(amount), min(amount), max(amount) FROM clicks WHERE uid <> 'flush' GROUP BY uid`},
	{"aggregate_over_aggregate", `SELECT n % 4, count(*), sum(n) FROM
		(SELECT uid, count(*) AS n FROM clicks WHERE uid <> 'flush' GROUP BY uid) t GROUP BY n % 4`},
	{"filter_on_aggregate", `SELECT uid, sum(amount) FROM clicks WHERE uid <> 'flush' GROUP BY uid HAVING sum(amount) > 20000`},
	{"window_over_window", `SELECT window_start, max(n) FROM
		(SELECT window_start AS ws, uid, count(*) AS n FROM clicks WHERE uid <> 'flush' GROUP BY TUMBLE(ts, '5 SECONDS'), uid) t
		GROUP BY TUMBLE(ws, '20 SECONDS')`},
	{"dedup_first", `SELECT uid, ts, amount, rn FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY uid ORDER BY ts) AS rn
		FROM clicks WHERE uid <> 'flush') t WHERE rn = 1`},
	{"dedup_last", `SELECT uid, ts, amount FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY uid ORDER BY ts DESC) AS rn
		FROM clicks WHERE uid <> 'flush') t WHERE rn = 1`},
	{"top3", `SELECT uid, amount FROM (SELECT uid, amount, ROW_NUMBER() OVER (PARTITION BY uid ORDER BY amount DESC) AS rn
		FROM clicks WHERE uid <> 'flush') t WHERE rn <= 3`},
	{"window_over_dedup", `SELECT window_start, count(*) FROM (SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY amount % 7 ORDER BY ts) AS rn
		FROM clicks WHERE uid <> 'flush') t WHERE rn = 1) f GROUP BY TUMBLE(ts, '10 SECONDS')`},
	{"interval_join", `SELECT c.uid, c.ts, c.amount, p.ts, p.total FROM clicks c JOIN pays p
		ON c.uid = p.uid AND p.ts BETWEEN c.ts AND c.ts + INTERVAL 3 SECOND WHERE c.uid <> 'flush'`},
	// The watermark goes right below the window (on its computed time), so
	// the flush row must reach it: HAVING drops the flush row's window.
	{"computed_time", `SELECT window_start, count(*) FROM clicks
		GROUP BY TUMBLE(DATE_ADD(ts, INTERVAL 1 SECOND), '10 SECONDS') HAVING window_start < '2029-01-01'`},
	{"window_join", `SELECT a.window_start, a.uid, a.n, b.total FROM
		(SELECT window_start, uid, count(*) AS n FROM clicks WHERE uid <> 'flush' GROUP BY TUMBLE(ts, '10 SECONDS'), uid) a
		JOIN (SELECT window_start, uid, sum(total) AS total FROM pays WHERE uid <> 'flush' GROUP BY TUMBLE(ts, '10 SECONDS'), uid) b
		ON a.window_start = b.window_start AND a.uid = b.uid`},
}

// streamData returns INSERT statements: clicks in batches whose rows are
// up to 3 s out of order (within the watermark delay), and payments.
func streamData() (clicks, pays []string) {
	users := []string{"ann", "bob", "cid", "dan", "eve"}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	ts := func(us int64) string {
		return base.Add(time.Duration(us) * time.Microsecond).Format("2006-01-02 15:04:05.000000")
	}
	var clickRows []string
	var payRows []string
	for i := int64(0); i < 120; i++ {
		// Unique times and amounts, so row-number ties cannot arise.
		t := i*700_000 - (i*7919%4)*800_000 + i
		uid := users[(i*7+3)%5]
		amount := 1000 + (i*389)%997
		clickRows = append(clickRows, fmt.Sprintf("('%s', '%s', %d)", uid, ts(t), amount))
		if i%3 == 0 {
			payRows = append(payRows, fmt.Sprintf("('%s', '%s', %d)", uid, ts(t+(i%5)*1_000_000+250_000), amount*2))
		}
	}
	for b := 0; b < 4; b++ {
		clicks = append(clicks, "INSERT INTO clicks VALUES "+strings.Join(clickRows[b*30:(b+1)*30], ", "))
	}
	pays = append(pays, "INSERT INTO pays VALUES "+strings.Join(payRows[:20], ", "))
	pays = append(pays, "INSERT INTO pays VALUES "+strings.Join(payRows[20:], ", "))
	return clicks, pays
}

const streamSchema = `CREATE TABLE clicks (uid VARCHAR(10), ts TIMESTAMP(6), amount INT);
CREATE TABLE pays (uid VARCHAR(10), ts TIMESTAMP(6), total INT)`

const streamFlush = `INSERT INTO clicks VALUES ('flush', '2030-01-01 00:00:00', 0);
INSERT INTO pays VALUES ('flush', '2030-01-01 00:00:00', 0)`

func mustRun(t *testing.T, s *Session, text string) {
	t.Helper()
	if _, _, err := runSQL(context.Background(), s, text); err != nil {
		t.Fatalf("%s: %v", text, err)
	}
}

// foldInto applies a batch's changes to a multiset of rendered rows.
func foldInto(count map[string]int, b exec.Batch) error {
	for i := 0; i < int(b.Rec.NumRows()); i++ {
		row := exectest.Row(b.Rec, i)
		if b.Op(i).IsRetraction() {
			if count[row] == 0 {
				return fmt.Errorf("retraction of absent row %q", row)
			}
			count[row]--
		} else {
			count[row]++
		}
	}
	return nil
}

func sortedRows(count map[string]int) []string {
	var out []string
	for row, n := range count {
		for ; n > 0; n-- {
			out = append(out, row)
		}
	}
	sort.Strings(out)
	return out
}

// eachBatch runs the bounded query q and hands each batch of its result
// to fn (the batch is released after fn returns; an error stops the run).
func eachBatch(ctx context.Context, s *Session, q string, fn func(exec.Batch) error) error {
	return s.Run(ctx, q, func(r *Result) error {
		for {
			m, err := r.Rows.Next(ctx)
			if err != nil {
				return err
			}
			if m.Kind == exec.MsgEnd {
				return nil
			}
			if m.Kind == exec.MsgBatch {
				err = fn(m.Batch)
			}
			m.Release()
			if err != nil {
				return err
			}
		}
	})
}

// runFolded runs a bounded query and folds its output.
func runFolded(ctx context.Context, s *Session, q string) ([]string, error) {
	count := map[string]int{}
	err := eachBatch(ctx, s, q, func(b exec.Batch) error { return foldInto(count, b) })
	return sortedRows(count), err
}

// runningQuery is a continuous query running in its own goroutine.
type runningQuery struct {
	ctx    context.Context
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// startContinuous runs q on s (a session in continuous mode) in a
// goroutine for at most 30 seconds, handing each message to each with the
// query's context (the message is released after each returns; an error
// stops the query), and
// returns once the query has started. stop ends it; call it (deferred
// too) before the test returns.
func startContinuous(t *testing.T, s *Session, q string, each func(context.Context, exec.Message) error) *runningQuery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	run := &runningQuery{ctx: ctx, cancel: cancel, done: make(chan error, 1)}
	started := make(chan struct{})
	go func() {
		run.done <- s.Run(ctx, q, func(r *Result) error {
			close(started)
			for {
				m, err := r.Rows.Next(ctx)
				if err != nil {
					return err
				}
				err = each(ctx, m)
				m.Release()
				if err != nil {
					return err
				}
			}
		})
	}()
	select {
	case <-started:
	case err := <-run.done:
		cancel()
		t.Fatalf("continuous run: %v", err)
	}
	return run
}

// stop cancels the query, waits for its goroutine and returns the error
// the query ended with before the cancellation (nil when it was still
// running: a folding error such as a retraction of an absent row, or a
// failed query, is not lost); later calls return the same.
func (r *runningQuery) stop() error {
	r.once.Do(func() {
		select {
		case r.err = <-r.done: // it ended by itself
		default:
			r.cancel()
			if err := <-r.done; !errors.Is(err, context.Canceled) {
				r.err = err
			}
		}
		r.cancel()
	})
	return r.err
}

// runContinuousFolded runs q on s (a session in continuous mode) while the
// feeder runs inserts, stops once the output is quiet and returns the
// folded changelog.
func runContinuousFolded(t *testing.T, s, feeder *Session, q string, inserts []string) []string {
	t.Helper()
	var (
		mu    sync.Mutex
		count = map[string]int{}
		msgs  int
	)
	run := startContinuous(t, s, q, func(_ context.Context, m exec.Message) error {
		if m.Kind == exec.MsgEnd {
			return fmt.Errorf("continuous query ended")
		}
		mu.Lock()
		defer mu.Unlock()
		msgs++
		if m.Kind == exec.MsgBatch {
			return foldInto(count, m.Batch)
		}
		return nil
	})
	defer run.stop()
	feedUntilQuiet(t, run, feeder, inserts, func() int {
		mu.Lock()
		defer mu.Unlock()
		return msgs
	})
	return sortedRows(count)
}

// feedUntilQuiet runs the inserts on feeder, waits until the number of
// messages run has seen (msgs) stops changing, then stops run, failing the
// test on the error the query ended with.
func feedUntilQuiet(t *testing.T, run *runningQuery, feeder *Session, inserts []string, msgs func() int) {
	t.Helper()
	for _, ins := range inserts {
		mustRun(t, feeder, ins)
		time.Sleep(5 * time.Millisecond)
	}
	last, quiet := -1, 0
	for quiet < 6 && run.ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
		if n := msgs(); n == last {
			quiet++
		} else {
			last, quiet = n, 0
		}
	}
	if err := run.stop(); err != nil {
		t.Fatalf("continuous run: %v", err)
	}
}

func TestContinuousMatchesBounded(t *testing.T) {
	for _, q := range streamQueries {
		t.Run(q.name, func(t *testing.T) {
			checkContinuousMatchesBounded(t, q.sql, "SET magnetar.watermark_delay = '5 SECONDS'")
		})
	}
}

// checkContinuousMatchesBounded runs q continuously over the stream
// tables (memory), fed batch by batch, then bounded, both after sets: the
// folded changelog must equal the bounded answer, which must not be empty.
func checkContinuousMatchesBounded(t *testing.T, q string, sets ...string) {
	t.Helper()
	clicks, pays := streamData()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cat := memcat.New()
	eng := New(cat, Options{Mem: mem})
	feeder := eng.NewSession()
	mustRun(t, feeder, streamSchema)
	mustRun(t, feeder, clicks[0])

	s := eng.NewSession()
	for _, set := range sets {
		mustRun(t, s, set)
	}
	mustRun(t, s, "SET magnetar.mode = 'continuous'")
	got := runContinuousFolded(t, s, feeder, q, append(append(clicks[1:], pays...), streamFlush))

	bs := eng.NewSession()
	for _, set := range sets {
		mustRun(t, bs, set)
	}
	want, err := runFolded(context.Background(), bs, q)
	if err != nil {
		t.Fatalf("bounded run: %v", err)
	}
	if len(want) == 0 {
		t.Fatalf("bounded answer is empty: the test data do not exercise %s", q)
	}
	if err := exectest.Equal(got, want); err != nil {
		t.Errorf("continuous (folded) vs bounded: %v", err)
	}
	cat.Close()
	if n := mem.CurrentAlloc(); n != 0 {
		t.Errorf("%d bytes of Arrow memory not released", n)
	}
}

// TestLateRowWarnings checks that rows dropped as late are reported as
// warnings of the query.
func TestLateRowWarnings(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cat := memcat.New()
	defer func() {
		cat.Close()
		if n := mem.CurrentAlloc(); n != 0 {
			t.Errorf("%d bytes of Arrow memory not released", n)
		}
	}()
	s := New(cat, Options{Mem: mem}).NewSession()
	mustRun(t, s, `CREATE TABLE r (k INT, et TIMESTAMP);
INSERT INTO r VALUES (1, '2024-01-01 10:00:01'), (1, '2024-01-01 10:00:30');
INSERT INTO r VALUES (1, '2024-01-01 10:00:02'), (1, '2024-01-01 10:00:03'), (1, '2024-01-01 10:00:31')`)
	q := "SELECT window_start, count(*) FROM r GROUP BY TUMBLE(et, '10 SECONDS')"
	var warnings []string
	var rows []string
	err := s.Run(context.Background(), q, func(r *Result) error {
		for {
			m, err := r.Rows.Next(context.Background())
			if err != nil {
				return err
			}
			if m.Kind == exec.MsgEnd {
				break
			}
			if m.Kind == exec.MsgBatch {
				rows = append(rows, exectest.Rows([]arrow.RecordBatch{m.Batch.Rec})...)
			}
			m.Release()
		}
		warnings = r.AllWarnings()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(rows)
	if err := exectest.Equal(rows, []string{"2024-01-01T10:00:00Z|1", "2024-01-01T10:00:30Z|2"}); err != nil {
		t.Error(err)
	}
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "2 late row(s) dropped") {
		t.Errorf("warnings %q, want one about 2 late rows", warnings)
	}
	// With a delay nothing is late, and there is no warning.
	mustRun(t, s, "SET magnetar.watermark_delay = '1 MINUTE'")
	err = s.Run(context.Background(), q, func(r *Result) error {
		for {
			m, err := r.Rows.Next(context.Background())
			if err != nil {
				return err
			}
			m.Release()
			if m.Kind == exec.MsgEnd {
				break
			}
		}
		warnings = r.AllWarnings()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("unexpected warnings %q", warnings)
	}
}

// TestIntervalJoinMatchesHashJoin checks the interval join against the
// same condition written so that the planner keeps a hash join.
func TestIntervalJoinMatchesHashJoin(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cat := memcat.New()
	s := New(cat, Options{Mem: mem}).NewSession()
	clicks, pays := streamData()
	mustRun(t, s, streamSchema)
	for _, ins := range append(clicks, pays...) {
		mustRun(t, s, ins)
	}
	// The data are up to 3 s out of order across batches: with less delay
	// the interval join would drop late rows the hash join keeps.
	mustRun(t, s, "SET magnetar.watermark_delay = '5 SECONDS'")
	ctx := context.Background()
	for _, c := range []struct{ interval, hash string }{
		{"p.ts BETWEEN c.ts AND c.ts + INTERVAL 3 SECOND", "TIMESTAMPDIFF(MICROSECOND, c.ts, p.ts) BETWEEN 0 AND 3000000"},
		{"p.ts > DATE_SUB(c.ts, INTERVAL 2 SECOND) AND p.ts < c.ts + INTERVAL 1500000 MICROSECOND", "TIMESTAMPDIFF(MICROSECOND, c.ts, p.ts) BETWEEN -1999999 AND 1499999"},
	} {
		q := "SELECT c.uid, c.ts, p.ts, p.total FROM clicks c JOIN pays p ON c.uid = p.uid AND "
		plan, err := runFolded(ctx, s, "EXPLAIN "+q+c.interval)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(plan, "\n"), "IntervalJoin") {
			t.Errorf("%s: no interval join in\n%s", c.interval, strings.Join(plan, "\n"))
		}
		got, err := runFolded(ctx, s, q+c.interval)
		if err != nil {
			t.Fatal(err)
		}
		want, err := runFolded(ctx, s, q+c.hash)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 {
			t.Fatalf("%s: no matches in the test data", c.hash)
		}
		if err := exectest.Equal(got, want); err != nil {
			t.Errorf("%s: %v", c.interval, err)
		}
	}
	cat.Close()
	if n := mem.CurrentAlloc(); n != 0 {
		t.Errorf("%d bytes of Arrow memory not released", n)
	}
}

// TestTableEventTimeOptions checks that table options choose the event
// time and delay, that a session setting overrides them, and that the
// "magnetar." prefix is optional.
func TestTableEventTimeOptions(t *testing.T) {
	cat := memcat.New()
	defer cat.Close()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "et", Type: arrow.FixedWidthTypes.Timestamp_us, Nullable: true},
		{Name: "pt", Type: arrow.FixedWidthTypes.Timestamp_us, Nullable: true},
	}, nil)
	for name, opts := range map[string]map[string]string{
		"a": {"event_time": "pt", "watermark_delay": "1 MINUTE"},
		"b": {"magnetar.event_time": "pt", "magnetar.allowed_lateness": "2 SECONDS"},
		"c": {"event_time": "nope"},
	} {
		if err := cat.AddTable("default", catalog.TableDef{Name: name, Schema: schema, Options: opts}, nil); err != nil {
			t.Fatal(err)
		}
	}
	s := New(cat, Options{}).NewSession()
	ctx := context.Background()
	explain := func(table string) string {
		t.Helper()
		rows, err := runFolded(ctx, s, "EXPLAIN SELECT window_start, count(*) FROM "+table+" GROUP BY TUMBLE(et, '10 SECONDS')")
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		return strings.Join(rows, "\n")
	}
	for table, want := range map[string][]string{
		"a": {"Watermark time=pt#1 delay=1m0s (event time pt from table option)"},
		"b": {"Watermark time=pt#1 delay=0s (event time pt from table option) lateness=2s", "tumble(et#0, 10s, lateness=2s)"},
	} {
		got := explain(table)
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: plan lacks %q:\n%s", table, w, got)
			}
		}
	}
	mustRun(t, s, "SET magnetar.event_time = 'et'; SET magnetar.watermark_delay = '3 SECONDS'")
	if got := explain("a"); !strings.Contains(got, "Watermark time=et#0 delay=3s (event time et from SET magnetar.event_time)") {
		t.Errorf("session settings do not override table options:\n%s", got)
	}
	mustRun(t, s, "SET magnetar.event_time = ''")
	_, err := runFolded(ctx, s, "SELECT window_start, count(*) FROM c GROUP BY TUMBLE(et, '10 SECONDS')")
	if err == nil || !strings.Contains(err.Error(), `names unknown column "nope"`) {
		t.Errorf("got %v, want an error about the unknown event-time column", err)
	}
}
