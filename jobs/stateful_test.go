package jobs_test

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	cpulsar "github.com/magnetar-sql/magnetar/catalog/pulsar"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
	"github.com/magnetar-sql/magnetar/jobs"
)

// insertIDs inserts rows (id, ts) for ids lo..hi, ts = base + id seconds.
func (e *env) insertIDs(table string, lo, hi int) {
	e.t.Helper()
	var vals []string
	for i := lo; i <= hi; i++ {
		ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
		vals = append(vals, fmt.Sprintf("(%d, '%s')", i, ts.Format("2006-01-02 15:04:05")))
	}
	// Several INSERTs: several source messages per batch of the job.
	for len(vals) > 0 {
		n := min(len(vals), 25)
		e.run("INSERT INTO " + table + " VALUES " + strings.Join(vals[:n], ", "))
		vals = vals[n:]
	}
}

// waitJob waits until cond holds for the job's info.
func waitJob(t *testing.T, m *jobs.Manager, name, what string, cond func(jobs.Info) bool) jobs.Info {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		info, err := m.Job(name)
		if err != nil {
			t.Fatal(err)
		}
		if info.Status == jobs.StatusFailed {
			t.Fatalf("job %s failed: %s", name, info.Error)
		}
		if cond(info) {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: timed out waiting for %s: %+v", name, what, info)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkpointed waits until the job's last checkpoint covers n source rows.
func checkpointed(t *testing.T, m *jobs.Manager, name string, n int64) jobs.Info {
	t.Helper()
	return waitJob(t, m, name, fmt.Sprintf("a checkpoint covering %d rows", n), func(i jobs.Info) bool { return i.CheckpointRowsIn >= n })
}

// latestCounts folds upserts k|n|s into the row with the largest count per
// key (counts only grow in these jobs, whatever the order of the scan).
func latestCounts(rows []string) []string {
	best := map[string][]string{}
	for _, r := range rows {
		f := strings.Split(r, "|")
		if cur, ok := best[f[0]]; ok {
			a, _ := strconv.ParseInt(cur[1], 10, 64)
			b, _ := strconv.ParseInt(f[1], 10, 64)
			if b <= a {
				continue
			}
		}
		best[f[0]] = f
	}
	var out []string
	for _, f := range best {
		out = append(out, strings.Join(f, "|"))
	}
	sort.Strings(out)
	return out
}

func distinctRows(rows []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range rows {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

// TestStatefulJobRestoresFromCheckpoint: a GROUP BY job is crashed (no
// final checkpoint) and restarted by a new manager; it restores its
// aggregate state and resumes after the recorded position, and its final
// per-key result equals that of a job that ran uninterrupted.
func TestStatefulJobRestoresFromCheckpoint(t *testing.T) {
	e := newEnv(t)
	e.run(`CREATE TABLE src (id BIGINT, ts TIMESTAMP);
		CREATE TABLE agg (k BIGINT PRIMARY KEY, n BIGINT, s BIGINT);
		CREATE TABLE ref (k BIGINT PRIMARY KEY, n BIGINT, s BIGINT)`)
	const q = "SELECT id % 7, count(*), sum(id) FROM src WHERE id > 0 GROUP BY id % 7"
	e.insertIDs("src", 1, 200)
	m := e.manager()
	if err := m.Create(e.ctx, "sagg", e.ns, "INSERT INTO agg "+q, nil); err != nil {
		t.Fatal(err)
	}
	info := checkpointed(t, m, "sagg", 200)
	if !info.Stateful || !info.Tracked || info.StateBytes == 0 {
		t.Fatalf("job does not checkpoint its state: %+v", info)
	}
	// More rows; crash soon after they are read, likely before the next
	// checkpoint covers them all: those are read again after the restart.
	e.insertIDs("src", 201, 300)
	waitJob(t, m, "sagg", "300 rows in", func(i jobs.Info) bool { return i.RowsIn >= 300 })
	m.Crash("sagg")
	before, _ := m.Job("sagg")
	m.Close()
	e.insertIDs("src", 301, 400)

	m2 := e.manager()
	defer m2.Close()
	info = checkpointed(t, m2, "sagg", 400)
	if info.Restored == 0 || info.Restored > before.Checkpoints {
		t.Fatalf("restarted job restored checkpoint %d (the crashed run reached %d)", info.Restored, before.Checkpoints)
	}
	// Not re-read from the beginning: the run read the rows after the
	// restored checkpoint (plus at most the message at its position).
	if info.RunRowsIn >= 400 || info.RunRowsIn > 400-before.CheckpointRowsIn+25 {
		t.Fatalf("restarted run read %d rows; the checkpoint covered %d of 400", info.RunRowsIn, before.CheckpointRowsIn)
	}
	t.Logf("crashed at checkpoint %d covering %d rows; restart read %d rows; state %d bytes", before.Checkpoints, before.CheckpointRowsIn, info.RunRowsIn, info.StateBytes)

	// Reference: the same query, uninterrupted, over the same 400 rows.
	if err := m2.Create(e.ctx, "ref", e.ns, "INSERT INTO ref "+q, nil); err != nil {
		t.Fatal(err)
	}
	checkpointed(t, m2, "ref", 400)
	want := latestCounts(e.run("SELECT k, n, s FROM ref"))
	var exp []string
	for k := 0; k < 7; k++ {
		n, s := 0, 0
		for id := 1; id <= 400; id++ {
			if id%7 == k {
				n++
				s += id
			}
		}
		exp = append(exp, fmt.Sprintf("%d|%d|%d", k, n, s))
	}
	same(t, want, exp)
	same(t, latestCounts(e.run("SELECT k, n, s FROM agg")), want)
}

// TestWindowedJobRestoresFromCheckpoint: the same with a tumbling window
// aggregate (its open windows are part of the checkpoint) into an
// append-only table: after a crash and restart the distinct output rows
// equal those of an uninterrupted run.
func TestWindowedJobRestoresFromCheckpoint(t *testing.T) {
	e := newEnv(t)
	e.run(`CREATE TABLE src (id BIGINT, ts TIMESTAMP);
		CREATE TABLE win (ws TIMESTAMP, k BIGINT, n BIGINT, s BIGINT);
		CREATE TABLE wref (ws TIMESTAMP, k BIGINT, n BIGINT, s BIGINT)`)
	const q = "SELECT window_start, id % 3, count(*), sum(id) FROM src GROUP BY TUMBLE(ts, '10 SECONDS'), id % 3"
	settings := map[string]string{"magnetar.event_time": "ts"}
	e.insertIDs("src", 1, 155)
	m := e.manager()
	if err := m.Create(e.ctx, "wagg", e.ns, "INSERT INTO win "+q, settings); err != nil {
		t.Fatal(err)
	}
	info := checkpointed(t, m, "wagg", 155)
	if !info.Stateful || info.StateBytes == 0 {
		t.Fatalf("job does not checkpoint its state: %+v", info)
	}
	e.insertIDs("src", 156, 240)
	waitJob(t, m, "wagg", "240 rows in", func(i jobs.Info) bool { return i.RowsIn >= 240 })
	m.Crash("wagg")
	before, _ := m.Job("wagg")
	m.Close()
	e.insertIDs("src", 241, 333)

	m2 := e.manager()
	defer m2.Close()
	info = checkpointed(t, m2, "wagg", 333)
	if info.Restored == 0 || info.RunRowsIn >= 333 || info.RunRowsIn > 333-before.CheckpointRowsIn+25 {
		t.Fatalf("restarted run restored checkpoint %d and read %d rows; the crashed run's checkpoint covered %d of 333", info.Restored, info.RunRowsIn, before.CheckpointRowsIn)
	}
	t.Logf("crashed at checkpoint %d covering %d rows; restart read %d rows; state %d bytes", before.Checkpoints, before.CheckpointRowsIn, info.RunRowsIn, info.StateBytes)
	if err := m2.Create(e.ctx, "wref", e.ns, "INSERT INTO wref "+q, settings); err != nil {
		t.Fatal(err)
	}
	checkpointed(t, m2, "wref", 333)
	want := distinctRows(e.run("SELECT ws, k, n, s FROM wref"))
	// Rows 1..333 at one per second: windows [0,10), ..., the last ones
	// still open; every closed window has 3 keys.
	if len(want) < 3*30 {
		t.Fatalf("reference run emitted only %d window rows", len(want))
	}
	same(t, distinctRows(e.run("SELECT ws, k, n, s FROM win")), want)
}

func (e *env) managerWith(tune func(*jobs.Config)) *jobs.Manager {
	e.t.Helper()
	cfg := jobs.Config{
		Client: e.cat.Client(), Catalog: e.cat, Runner: e.eng.JobRunner(), Namespace: e.ns,
		CheckpointInterval: 200 * time.Millisecond, Mem: e.mem,
	}
	tune(&cfg)
	m, err := jobs.NewManager(e.ctx, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { m.Close() })
	return m
}

// modCounts is k|count|sum|count distinct of ids 1..n grouped by id % mod.
func modCounts(mod, n int) []string {
	var out []string
	for k := 0; k < mod; k++ {
		c, s := 0, 0
		for id := 1; id <= n; id++ {
			if id%mod == k {
				c++
				s += id
			}
		}
		if c > 0 {
			out = append(out, fmt.Sprintf("%d|%d|%d|%d", k, c, s, c))
		}
	}
	sort.Strings(out)
	return out
}

// stateChunks reads the state topic's chunk messages: the largest payload
// and the most chunks any checkpoint had.
func (e *env) stateChunks(job string) (maxPayload, maxChunks int) {
	e.t.Helper()
	r, err := e.cat.Client().CreateReader(pulsar.ReaderOptions{Topic: testbroker.Topic(e.ns, "job-"+job+"-state"), StartMessageID: pulsar.EarliestMessageID()})
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Close()
	for hasNext(e.t, r) {
		msg, err := r.Next(e.ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		if n, ok := msg.Properties()["magnetar.chunks"]; ok {
			maxPayload = max(maxPayload, len(msg.Payload()))
			c, _ := strconv.Atoi(n)
			maxChunks = max(maxChunks, c)
		}
	}
	return maxPayload, maxChunks
}

// TestStatefulJobChunksOrphanChunksAndStop: state larger than the chunk
// size is chunked; a checkpoint whose chunks were written but not its
// record (a crash in between) is ignored in favour of the previous one; a
// stop takes a final checkpoint that a resume restores.
func TestStatefulJobChunksOrphanChunksAndStop(t *testing.T) {
	e := newEnv(t)
	e.run(`CREATE TABLE src (id BIGINT, ts TIMESTAMP);
		CREATE TABLE agg (k BIGINT PRIMARY KEY, n BIGINT, s BIGINT, d BIGINT)`)
	const q = "INSERT INTO agg SELECT id % 13, count(*), sum(id), count(DISTINCT id) FROM src GROUP BY id % 13"
	const chunk = 700
	tune := func(c *jobs.Config) { c.StateChunkBytes = chunk }
	e.insertIDs("src", 1, 300)
	m := e.managerWith(tune)
	if err := m.Create(e.ctx, "big", e.ns, q, nil); err != nil {
		t.Fatal(err)
	}
	info := checkpointed(t, m, "big", 300)
	if info.StateBytes <= 3*chunk {
		t.Fatalf("state of %d bytes: want several chunks", info.StateBytes)
	}
	m.Crash("big")
	m.Close()
	maxPayload, maxChunks := e.stateChunks("big")
	if maxPayload > chunk || maxChunks < 4 {
		t.Fatalf("chunks of up to %d bytes, %d per checkpoint; want ≤ %d bytes and several", maxPayload, maxChunks, chunk)
	}

	// An orphan chunk: checkpoint 999 died after its first chunk.
	stateTopic := testbroker.Topic(e.ns, "job-big-state")
	last, err := cpulsar.ReadLast(e.ctx, e.cat.Client(), stateTopic)
	if err != nil || last == nil {
		t.Fatalf("last state message: %v %v", last, err)
	}
	p, err := e.cat.Client().CreateProducer(pulsar.ProducerOptions{Topic: stateTopic, DisableBatching: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Send(e.ctx, &pulsar.ProducerMessage{Payload: []byte("garbage"), Properties: map[string]string{
		"magnetar.checkpoint": "999", "magnetar.chunk": "0", "magnetar.chunks": "2",
		"magnetar.prev": base64.StdEncoding.EncodeToString(last.ID().Serialize()),
	}}); err != nil {
		t.Fatal(err)
	}
	p.Close()

	e.insertIDs("src", 301, 350)
	m2 := e.managerWith(tune)
	info = checkpointed(t, m2, "big", 350)
	if info.Restored == 0 || info.Restored == 999 || info.RunRowsIn > 50+25 {
		t.Fatalf("after the orphan chunk: restored %d, read %d rows", info.Restored, info.RunRowsIn)
	}
	same(t, latestCounts(e.run("SELECT k, n, s, d FROM agg")), modCounts(13, 350))

	// Stop: final checkpoint; resume reads only the new rows.
	if err := m2.Stop(e.ctx, "big"); err != nil {
		t.Fatal(err)
	}
	stopped, _ := m2.Job("big")
	if stopped.CheckpointRowsIn != 350 {
		t.Fatalf("stopped job's last checkpoint covers %d rows, want 350", stopped.CheckpointRowsIn)
	}
	e.insertIDs("src", 351, 380)
	if err := m2.Resume(e.ctx, "big"); err != nil {
		t.Fatal(err)
	}
	info = checkpointed(t, m2, "big", 380)
	if info.Restored != stopped.Checkpoints || info.RunRowsIn > 30+25 {
		t.Fatalf("resumed from checkpoint %d (stopped at %d), read %d rows", info.Restored, stopped.Checkpoints, info.RunRowsIn)
	}
	same(t, latestCounts(e.run("SELECT k, n, s, d FROM agg")), modCounts(13, 380))
}

// TestExactlyOnceStatefulJobRestores: with exactly-once delivery each
// checkpoint's output is in its transaction; after a crash the job
// restores its state and the committed result is the uninterrupted one.
func TestExactlyOnceStatefulJobRestores(t *testing.T) {
	e := newEnv(t)
	serviceURL, _ := testbroker.URLs()
	txc, err := pulsar.NewClient(pulsar.ClientOptions{URL: serviceURL, EnableTransaction: true, OperationTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer txc.Close()
	// The crashed run's open transaction holds back readers of the target
	// (they stop before its first message) until the broker aborts it.
	tune := func(c *jobs.Config) {
		c.TxnClient, c.CheckpointInterval, c.TxnTimeout = txc, 300*time.Millisecond, 5*time.Second
	}
	e.run(`CREATE TABLE src (id BIGINT, ts TIMESTAMP);
		CREATE TABLE agg (k BIGINT PRIMARY KEY, n BIGINT, s BIGINT, d BIGINT)`)
	const q = "INSERT INTO agg SELECT id % 5, count(*), sum(id), count(DISTINCT id) FROM src GROUP BY id % 5"
	settings := map[string]string{jobs.DeliverySetting: "exactly_once"}
	e.insertIDs("src", 1, 100)
	m := e.managerWith(tune)
	defer m.Close()
	if err := m.Create(e.ctx, "eos", e.ns, q, settings); err != nil {
		t.Fatal(err)
	}
	checkpointed(t, m, "eos", 100)
	e.insertIDs("src", 101, 150)
	waitJob(t, m, "eos", "150 rows in", func(i jobs.Info) bool { return i.RowsIn >= 150 })
	m.Crash("eos")
	m.Close()
	e.insertIDs("src", 151, 200)
	m2 := e.managerWith(tune)
	defer m2.Close() // before the transaction client closes
	info := checkpointed(t, m2, "eos", 200)
	if info.Restored == 0 || info.RunRowsIn >= 200 {
		t.Fatalf("restored %d, read %d rows", info.Restored, info.RunRowsIn)
	}
	// The commit is visible once the broker has applied its markers.
	e.waitResult("SELECT k, n, s, d FROM agg", modCounts(5, 200))
}

// waitResult waits until the folded upserts of query equal want.
func (e *env) waitResult(query string, want []string) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := latestCounts(e.run(query))
		if strings.Join(got, ",") == strings.Join(want, ",") || time.Now().After(deadline) {
			same(e.t, got, want)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestStatefulJobOverPartitionedSource: positions are kept per partition;
// the restarted scan replays from the earliest message (it takes one start
// id) and drops, per partition, what the restored state covers.
func TestStatefulJobOverPartitionedSource(t *testing.T) {
	e := newEnv(t)
	e.run(`CREATE TABLE src (id BIGINT, ts TIMESTAMP) COMMENT 'partitions=3';
		CREATE TABLE agg (k BIGINT PRIMARY KEY, n BIGINT, s BIGINT, d BIGINT)`)
	const q = "INSERT INTO agg SELECT id % 4, count(*), sum(id), count(DISTINCT id) FROM src GROUP BY id % 4"
	e.insertIDs("src", 1, 150)
	m := e.manager()
	if err := m.Create(e.ctx, "pagg", e.ns, q, nil); err != nil {
		t.Fatal(err)
	}
	checkpointed(t, m, "pagg", 150)
	e.insertIDs("src", 151, 200)
	waitJob(t, m, "pagg", "200 rows in", func(i jobs.Info) bool { return i.RowsIn >= 200 })
	m.Crash("pagg")
	m.Close()
	e.insertIDs("src", 201, 260)
	m2 := e.manager()
	defer m2.Close()
	info := checkpointed(t, m2, "pagg", 260)
	if info.Restored == 0 {
		t.Fatalf("no checkpoint restored: %+v", info)
	}
	same(t, latestCounts(e.run("SELECT k, n, s, d FROM agg")), modCounts(4, 260))
}
