package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/pulsar-client-go/pulsar"
	cpulsar "github.com/magnetar-sql/magnetar/catalog/pulsar"
	"github.com/magnetar-sql/magnetar/engine"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
	"github.com/magnetar-sql/magnetar/jobs"
	"github.com/magnetar-sql/magnetar/sql"
	"github.com/pingcap/tidb/pkg/parser/ast"
)

type env struct {
	t   *testing.T
	ctx context.Context
	cat *cpulsar.Catalog
	eng *engine.Engine
	s   *engine.Session
	ns  string
	mem *memory.CheckedAllocator
}

func newEnv(t *testing.T) *env {
	t.Helper()
	serviceURL, adminURL := testbroker.Require(t)
	ns := testbroker.Namespace(t, adminURL)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cat, err := cpulsar.New(ctx, cpulsar.Config{ServiceURL: serviceURL, AdminURL: adminURL, DefaultDatabase: ns,
		Allocator: mem, RefreshInterval: time.Second,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cat.Close()
		mem.AssertSize(t, 0)
	})
	eng := engine.New(cat, engine.Options{Mem: mem})
	return &env{t: t, ctx: ctx, cat: cat, eng: eng, s: eng.NewSession(), ns: ns, mem: mem}
}

func (e *env) manager() *jobs.Manager {
	e.t.Helper()
	m, err := jobs.NewManager(e.ctx, jobs.Config{
		Client: e.cat.Client(), Catalog: e.cat, Runner: e.eng.JobRunner(), Namespace: e.ns,
		CheckpointInterval: 200 * time.Millisecond, Mem: e.mem,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.eng.SetJobs(m)
	return m
}

func (e *env) run(text string) []string {
	e.t.Helper()
	var rows []string
	err := e.s.Run(e.ctx, text, func(r *engine.Result) error {
		rows = nil
		if r.Rows == nil {
			return nil
		}
		for {
			m, err := r.Rows.Next(e.ctx)
			if err != nil {
				return err
			}
			if m.Kind == exec.MsgEnd {
				return nil
			}
			if m.Kind != exec.MsgBatch {
				continue
			}
			rec := m.Batch.Rec
			for i := 0; i < int(rec.NumRows()); i++ {
				cells := make([]string, rec.NumCols())
				for j := range cells {
					cells[j] = "NULL"
					if !rec.Column(j).IsNull(i) {
						cells[j] = expr.FormatValue(rec.Column(j), i)
					}
				}
				rows = append(rows, strings.Join(cells, "|"))
			}
			m.Release()
		}
	})
	if err != nil {
		e.t.Fatalf("%s: %v", text, err)
	}
	sort.Strings(rows)
	return rows
}

func (e *env) insertRange(lo, hi int) {
	e.t.Helper()
	var vals []string
	for i := lo; i <= hi; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 'v%d')", i, i))
	}
	e.run("INSERT INTO src VALUES " + strings.Join(vals, ", "))
}

func expected(lo, hi int) []string {
	var out []string
	for i := lo; i <= hi; i++ {
		out = append(out, fmt.Sprintf("%d|v%d!", i, i))
	}
	sort.Strings(out)
	return out
}

// waitRows waits until dst holds at least n rows and returns them.
func (e *env) waitRows(n int) []string {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rows := e.run("SELECT id, v FROM dst")
		if len(rows) >= n || time.Now().After(deadline) {
			return rows
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func same(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got %d rows %v\nwant %d rows %v", len(got), got, len(want), want)
	}
}

const copySQL = "INSERT INTO dst SELECT id, concat(v, '!') FROM src WHERE id > 0"

func TestJobCopiesStopsResumesAndRestarts(t *testing.T) {
	e := newEnv(t)
	e.run("CREATE TABLE src (id BIGINT, v VARCHAR(10)); CREATE TABLE dst (id BIGINT, v VARCHAR(12))")
	e.insertRange(1, 5)
	m := e.manager()
	if err := m.Create(e.ctx, "copy", e.ns, copySQL, nil); err != nil {
		t.Fatal(err)
	}
	same(t, e.waitRows(5), expected(1, 5))
	e.insertRange(6, 10)
	same(t, e.waitRows(10), expected(1, 10))

	// SHOW JOBS through the engine's handler.
	cmd, ok := jobs.ParseCommand("SHOW JOBS")
	if !ok {
		t.Fatal("SHOW JOBS not recognized")
	}
	res, err := e.s.RunJobCommand(e.ctx, "SHOW JOBS", cmd)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := res.Rows.Next(e.ctx)
	if err != nil || msg.Kind != exec.MsgBatch {
		t.Fatalf("SHOW JOBS: %v %v", msg.Kind, err)
	}
	rec := msg.Batch.Rec
	if rec.NumRows() != 1 || expr.FormatValue(rec.Column(0), 0) != "copy" || expr.FormatValue(rec.Column(1), 0) != "running" ||
		expr.FormatValue(rec.Column(2), 0) != "10" || expr.FormatValue(rec.Column(3), 0) != "10" {
		t.Fatalf("SHOW JOBS row: %v", rec)
	}
	msg.Release()
	res.Close()

	// Stop: new rows are not copied; resume: they are, once.
	if err := m.Stop(e.ctx, "copy"); err != nil {
		t.Fatal(err)
	}
	if info, _ := m.Job("copy"); info.Status != jobs.StatusStopped || info.Checkpoints == 0 {
		t.Fatalf("after stop: %+v", info)
	}
	e.insertRange(11, 15)
	time.Sleep(time.Second)
	same(t, e.run("SELECT id, v FROM dst"), expected(1, 10))
	if err := m.Resume(e.ctx, "copy"); err != nil {
		t.Fatal(err)
	}
	same(t, e.waitRows(15), expected(1, 15))

	// A new manager (a restarted process) resumes from the final checkpoint
	// of the old one: nothing lost, nothing twice.
	m.Close()
	e.insertRange(16, 20)
	m2 := e.manager()
	same(t, e.waitRows(20), expected(1, 20))
	if info, _ := m2.Job("copy"); info.Status != jobs.StatusRunning || !info.Tracked {
		t.Fatalf("restarted job: %+v", info)
	}

	// A crash (no final checkpoint) loses nothing either: rows after the
	// last checkpoint are copied again at most.
	time.Sleep(500 * time.Millisecond) // let a checkpoint cover 1..20
	e.insertRange(21, 25)
	e.waitRows(25)
	m2.Crash("copy")
	m2.Close()
	e.insertRange(26, 30)
	m3 := e.manager()
	defer m3.Close()
	rows := e.waitRows(30)
	distinct := map[string]bool{}
	for _, r := range rows {
		distinct[r] = true
	}
	var d []string
	for r := range distinct {
		d = append(d, r)
	}
	sort.Strings(d)
	same(t, d, expected(1, 30))
	t.Logf("after crash: %d rows for 30 distinct", len(rows))

	// DROP JOB removes it; it does not come back with a new manager.
	if err := m3.Drop(e.ctx, "copy", false); err != nil {
		t.Fatal(err)
	}
	if len(m3.Jobs()) != 0 {
		t.Fatalf("jobs after drop: %+v", m3.Jobs())
	}
	m4 := e.manager()
	defer m4.Close()
	if len(m4.Jobs()) != 0 {
		t.Fatalf("dropped job came back: %+v", m4.Jobs())
	}
}

func TestJobRejectsBadStatements(t *testing.T) {
	e := newEnv(t)
	e.run("CREATE TABLE src (id BIGINT, v VARCHAR(10)); CREATE TABLE dst (id BIGINT, v VARCHAR(12))")
	m := e.manager()
	defer m.Close()
	for _, c := range []struct{ name, sql, want string }{
		{"a b", copySQL, "invalid job name"},
		{"x", "SELECT 1", "INSERT INTO table SELECT"},
		{"x", "INSERT INTO nope SELECT id, v FROM src", "not found"},
		{"x", "INSERT INTO dst SELECT id FROM src", "has 2 columns but the query gives 1"},
	} {
		err := m.Create(e.ctx, c.name, e.ns, c.sql, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", c.sql, err, c.want)
		}
	}
	if err := m.Create(e.ctx, "ok", e.ns, copySQL, nil); err != nil {
		t.Fatal(err)
	}
	if err := m.Create(e.ctx, "ok", e.ns, copySQL, nil); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate: %v", err)
	}
}

func TestJobOverPartitionedSourceRestarts(t *testing.T) {
	e := newEnv(t)
	e.run("CREATE TABLE src (id BIGINT, v VARCHAR(10)) COMMENT 'partitions=3'; CREATE TABLE dst (id BIGINT, v VARCHAR(12))")
	if tb, err := e.cat.Table(e.ctx, e.ns, "src"); err != nil || tb.(*cpulsar.Table).Partitions() != 3 {
		t.Fatalf("src: %v", err)
	}
	e.insertRange(1, 30)
	m := e.manager()
	// A continuous INSERT ... SELECT in a session becomes a job named by
	// the magnetar.job_name setting.
	e.run("SET magnetar.job_name = 'pcopy'")
	stmts, err := sql.Parse(copySQL)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.s.StartJob(e.ctx, &stmts[0], stmts[0].Node.(*ast.InsertStmt))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "JOB pcopy" {
		t.Fatalf("status %q", res.Status)
	}
	same(t, e.waitRows(30), expected(1, 30))
	m.Close()
	e.insertRange(31, 60)
	m2 := e.manager()
	defer m2.Close()
	// Every partition resumes after its own recorded position.
	same(t, e.waitRows(60), expected(1, 60))
	time.Sleep(500 * time.Millisecond)
	same(t, e.run("SELECT id, v FROM dst"), expected(1, 60))
	info, err := m2.Job("pcopy")
	if err != nil || info.RowsOut != 60 {
		t.Fatalf("job info %+v %v", info, err)
	}
}

func TestStatefulJobUpsertsIntoKeyedTable(t *testing.T) {
	e := newEnv(t)
	e.run("CREATE TABLE src (id BIGINT, v VARCHAR(10)); CREATE TABLE agg (k BIGINT PRIMARY KEY, n BIGINT)")
	e.insertRange(1, 10)
	m := e.manager()
	defer m.Close()
	if err := m.Create(e.ctx, "counts", e.ns, "INSERT INTO agg SELECT id % 3, count(*) FROM src GROUP BY id % 3", nil); err != nil {
		t.Fatal(err)
	}
	// A GROUP BY over one table checkpoints its state with the positions.
	waitJob(t, m, "counts", "stateful checkpointing", func(i jobs.Info) bool { return i.Stateful && i.Tracked })
	// The latest value per key (by __key) is the count.
	want := []string{"0|3", "1|4", "2|3"}
	deadline := time.Now().Add(30 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		got = latestByKey(e.run("SELECT k, n FROM agg"))
		if strings.Join(got, ",") == strings.Join(want, ",") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	same(t, got, want)
}

// latestByKey keeps the largest n per k (counts only grow here).
func latestByKey(rows []string) []string {
	best := map[string]string{}
	for _, r := range rows {
		k, n, _ := strings.Cut(r, "|")
		if cur, ok := best[k]; !ok || len(n) > len(cur) || (len(n) == len(cur) && n > cur) {
			best[k] = n
		}
	}
	var out []string
	for k, n := range best {
		out = append(out, k+"|"+n)
	}
	sort.Strings(out)
	return out
}

func TestExactlyOnceJobCommitsPerCheckpoint(t *testing.T) {
	e := newEnv(t)
	serviceURL, _ := testbroker.URLs()
	txc, err := pulsar.NewClient(pulsar.ClientOptions{URL: serviceURL, EnableTransaction: true, OperationTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer txc.Close()
	e.run("CREATE TABLE src (id BIGINT, v VARCHAR(10)); CREATE TABLE dst (id BIGINT, v VARCHAR(12))")
	e.insertRange(1, 10)
	m, err := jobs.NewManager(e.ctx, jobs.Config{
		Client: e.cat.Client(), Catalog: e.cat, Runner: e.eng.JobRunner(), Namespace: e.ns,
		CheckpointInterval: 2 * time.Second, Mem: e.mem, TxnClient: txc,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Create(e.ctx, "eo", e.ns, copySQL, map[string]string{jobs.DeliverySetting: "exactly_once"}); err != nil {
		t.Fatal(err)
	}
	// Before the first checkpoint commits, readers get nothing of it. (A
	// bounded SELECT would wait for the commit: its snapshot end, the
	// topic's last message id, counts the open transaction's entries.)
	time.Sleep(time.Second)
	r, err := e.cat.Client().CreateReader(pulsar.ReaderOptions{Topic: testbroker.Topic(e.ns, "dst"), StartMessageID: pulsar.EarliestMessageID()})
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := m.Job("eo"); info.Checkpoints == 0 && hasNext(t, r) {
		t.Fatal("uncommitted rows readable")
	}
	r.Close()
	same(t, e.waitRows(10), expected(1, 10))
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if info, _ := m.Job("eo"); info.Checkpoints > 0 {
			break
		}
	}
	if info, _ := m.Job("eo"); info.Checkpoints == 0 || info.Status != jobs.StatusRunning {
		t.Fatalf("job %+v", info)
	}
	m.Close()
	e.insertRange(11, 15)
	m2, err := jobs.NewManager(e.ctx, jobs.Config{
		Client: e.cat.Client(), Catalog: e.cat, Runner: e.eng.JobRunner(), Namespace: e.ns,
		CheckpointInterval: 300 * time.Millisecond, Mem: e.mem, TxnClient: txc,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	same(t, e.waitRows(15), expected(1, 15))
}

// TestExactlyOnceSuccessorAbortsOpenTxn crashes an exactly-once job while
// its transaction holds written but uncommitted rows, with a transaction
// timeout far beyond the test's deadline: readers of the output stop at
// that transaction's first message until it ends, so they only get the
// rows because the job's next run aborts it by the id the crashed run
// announced in the state topic. The next run replays the rows and commits
// them; a plain reader sees each exactly once (the aborted copies are
// filtered: third_party/pulsar-client-go).
func TestExactlyOnceSuccessorAbortsOpenTxn(t *testing.T) {
	e := newEnv(t)
	serviceURL, adminURL := testbroker.URLs()
	txc, err := pulsar.NewClient(pulsar.ClientOptions{URL: serviceURL, EnableTransaction: true, OperationTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer txc.Close()
	e.run("CREATE TABLE src (id BIGINT, v VARCHAR(10)); CREATE TABLE dst (id BIGINT, v VARCHAR(12))")
	e.insertRange(1, 10)
	cfg := jobs.Config{
		Client: e.cat.Client(), Catalog: e.cat, Runner: e.eng.JobRunner(), Namespace: e.ns,
		// No checkpoint (and so no commit) before the crash.
		CheckpointInterval: time.Hour, TxnTimeout: 2 * time.Hour, Mem: e.mem, TxnClient: txc, AdminURL: adminURL,
	}
	m, err := jobs.NewManager(e.ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Create(e.ctx, "eo", e.ns, copySQL, map[string]string{jobs.DeliverySetting: "exactly_once"}); err != nil {
		t.Fatal(err)
	}
	for {
		info, err := m.Job("eo")
		if err != nil {
			t.Fatal(err)
		}
		if info.RowsOut == 10 {
			break
		}
		if info.Status != jobs.StatusRunning || e.ctx.Err() != nil {
			t.Fatalf("job %+v before the crash (%v)", info, e.ctx.Err())
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.Crash("eo") // flushes the 10 rows into the open transaction, commits nothing
	m.Close()
	var buf struct {
		OngoingTxnSize int64 `json:"ongoingTxnSize"`
	}
	adminJSON(t, adminURL+"/admin/v3/transactions/transactionBufferStats/"+strings.TrimPrefix(testbroker.Topic(e.ns, "dst"), "persistent://"), &buf)
	if buf.OngoingTxnSize != 1 {
		t.Fatalf("after the crash the output has %d open transactions, want 1", buf.OngoingTxnSize)
	}

	cfg.CheckpointInterval = 300 * time.Millisecond
	m2, err := jobs.NewManager(e.ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if n := countDst(t, e, 10); n != 10 {
		t.Errorf("a plain reader of dst got %d messages, want 10", n)
	}
	same(t, e.run("SELECT id, v FROM dst"), expected(1, 10))
	adminJSON(t, adminURL+"/admin/v3/transactions/transactionBufferStats/"+strings.TrimPrefix(testbroker.Topic(e.ns, "dst"), "persistent://"), &buf)
	if buf.OngoingTxnSize != 0 {
		t.Errorf("after the restart the output has %d open transactions", buf.OngoingTxnSize)
	}
	if info, _ := m2.Job("eo"); info.Status != jobs.StatusRunning || info.Checkpoints == 0 {
		t.Fatalf("job after the restart: %+v", info)
	}
}

// countDst reads dst with a plain reader until it has n messages, then on
// to the topic's readable end, and returns how many it read.
func countDst(t *testing.T, e *env, n int) int {
	t.Helper()
	r, err := e.cat.Client().CreateReader(pulsar.ReaderOptions{Topic: testbroker.Topic(e.ns, "dst"), StartMessageID: pulsar.EarliestMessageID()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := 0
	for got < n || hasNext(t, r) {
		if _, err := r.Next(e.ctx); err != nil {
			t.Fatalf("reader of dst after %d messages: %v", got, err)
		}
		got++
	}
	return got
}

// adminJSON GETs an admin REST URL and decodes its JSON answer.
func adminJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// hasNext is the reader's HasNext that fails the test when the broker
// cannot say (the client's own answers false then, reading as the end).
func hasNext(t testing.TB, r pulsar.Reader) bool {
	t.Helper()
	more, err := cpulsar.HasNext(r)
	if err != nil {
		t.Fatal(err)
	}
	return more
}
