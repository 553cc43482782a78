package jobs_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
	"github.com/magnetar-sql/magnetar/jobs"
)

// crashAndRestart runs the scenario the multi-input tests share: the job
// checkpoints the first rows, reads more, is crashed (no final
// checkpoint), more rows come while it is down, and a new manager restarts
// it. It checks that the restart restored a checkpoint and read only the
// rows after it (plus at most one message per scan at a recorded
// position), and returns the new manager.
func crashAndRestart(t *testing.T, e *env, name string, scans int, first, more, down func(), nFirst, nMore, nAll int64) *jobs.Manager {
	t.Helper()
	first()
	m := e.manager()
	if err := m.Create(e.ctx, name, e.ns, jobQuery[name], jobSettings[name]); err != nil {
		t.Fatal(err)
	}
	info := checkpointed(t, m, name, nFirst)
	if !info.Stateful || !info.Tracked || info.StateBytes == 0 {
		t.Fatalf("job does not checkpoint its state: %+v", info)
	}
	more()
	waitJob(t, m, name, fmt.Sprintf("%d rows in", nMore), func(i jobs.Info) bool { return i.RowsIn >= nMore })
	m.Crash(name)
	before, _ := m.Job(name)
	m.Close()
	down()

	m2 := e.manager()
	t.Cleanup(func() { m2.Close() })
	checkRestored(t, name, before, checkpointed(t, m2, name, nAll), nAll, scans)
	return m2
}

// checkRestored checks the run of a restarted job (info, once it has read
// all nAll source rows) against the crashed run (before): it restored one
// of that run's checkpoints and read only the rows after it, plus at most
// one message (25 rows) per scan at a recorded position.
func checkRestored(t *testing.T, name string, before, info jobs.Info, nAll int64, scans int) {
	t.Helper()
	if info.Restored == 0 || info.Restored > before.Checkpoints {
		t.Fatalf("%s: restarted job restored checkpoint %d (the crashed run reached %d)", name, info.Restored, before.Checkpoints)
	}
	if info.RunRowsIn >= nAll || info.RunRowsIn > nAll-before.CheckpointRowsIn+int64(25*scans) {
		t.Fatalf("%s: restarted run read %d rows; the checkpoint covered %d of %d", name, info.RunRowsIn, before.CheckpointRowsIn, nAll)
	}
	t.Logf("%s: crashed at checkpoint %d covering %d rows; restart read %d rows; state %d bytes",
		name, before.Checkpoints, before.CheckpointRowsIn, info.RunRowsIn, info.StateBytes)
}

// runReference creates the uninterrupted reference job name (jobQuery,
// jobSettings) on m and waits until its checkpoint covers n source rows.
func runReference(t *testing.T, e *env, m *jobs.Manager, name string, n int64) {
	t.Helper()
	if err := m.Create(e.ctx, name, e.ns, jobQuery[name], jobSettings[name]); err != nil {
		t.Fatal(err)
	}
	checkpointed(t, m, name, n)
}

var (
	jobQuery = map[string]string{
		"ij": `INSERT INTO pairs SELECT a.id, b.id FROM auctions a JOIN bids b
			ON a.id % 5 = b.id % 5 AND b.ts BETWEEN a.ts AND a.ts + INTERVAL 10 SECOND`,
		"ijref": `INSERT INTO pref SELECT a.id, b.id FROM auctions a JOIN bids b
			ON a.id % 5 = b.id % 5 AND b.ts BETWEEN a.ts AND a.ts + INTERVAL 10 SECOND`,
		"ua": `INSERT INTO agg SELECT id % 7, count(*), sum(id) FROM
			(SELECT id FROM s1 UNION ALL SELECT id FROM s2 WHERE id > 0) u GROUP BY id % 7`,
		"rj":    "INSERT INTO joined SELECT u.id, o.id FROM users u JOIN orders o ON u.id = o.id DIV 2",
		"rjref": "INSERT INTO jref SELECT u.id, o.id FROM users u JOIN orders o ON u.id = o.id DIV 2",
		"uaref": `INSERT INTO aref SELECT id % 7, count(*), sum(id) FROM
			(SELECT id FROM s1 UNION ALL SELECT id FROM s2 WHERE id > 0) u GROUP BY id % 7`,
	}
	// The two tables are read at whatever relative speed: a watermark
	// delay longer than the data's span keeps every row on time (a bid
	// read after the auctions' watermark passed it would be late, and the
	// output would depend on the scheduling).
	ijSettings  = map[string]string{"magnetar.event_time": "ts", "magnetar.watermark_delay": "1 HOUR"}
	jobSettings = map[string]map[string]string{"ij": ijSettings, "ijref": ijSettings}
)

// TestIntervalJoinJobRestoresFromCheckpoint: an interval join of two
// source tables checkpoints both scans' positions and the join's state
// (barriers aligned at the join); after a crash the restarted job reads
// only the rows after the checkpoint and its output equals an
// uninterrupted run's.
func TestIntervalJoinJobRestoresFromCheckpoint(t *testing.T) {
	e := newEnv(t)
	e.run(`CREATE TABLE auctions (id BIGINT, ts TIMESTAMP);
		CREATE TABLE bids (id BIGINT, ts TIMESTAMP) COMMENT 'partitions=2';
		CREATE TABLE pairs (a BIGINT, b BIGINT);
		CREATE TABLE pref (a BIGINT, b BIGINT)`)
	both := func(lo, hi int) func() {
		return func() { e.insertIDs("auctions", lo, hi); e.insertIDs("bids", lo, hi) }
	}
	m := crashAndRestart(t, e, "ij", 2, both(1, 120), both(121, 180), both(181, 250), 240, 360, 500)

	// Every auction a matches the bids a, a+5, a+10 (same id mod 5, at most
	// 10 s later).
	var exp []string
	for a := 1; a <= 250; a++ {
		for b := a; b <= min(a+10, 250); b += 5 {
			exp = append(exp, fmt.Sprintf("%d|%d", a, b))
		}
	}
	sort.Strings(exp)
	runReference(t, e, m, "ijref", 500)
	want := distinctRows(e.run("SELECT a, b FROM pref"))
	same(t, want, exp)
	same(t, distinctRows(e.run("SELECT a, b FROM pairs")), want)
}

// TestUnionAllJobRestoresFromCheckpoint: a GROUP BY over the UNION ALL of
// two tables (one partitioned) checkpoints both scans (barriers aligned at
// the union) and restores after a crash to the uninterrupted result.
func TestUnionAllJobRestoresFromCheckpoint(t *testing.T) {
	e := newEnv(t)
	e.run(`CREATE TABLE s1 (id BIGINT, ts TIMESTAMP);
		CREATE TABLE s2 (id BIGINT, ts TIMESTAMP) COMMENT 'partitions=3';
		CREATE TABLE agg (k BIGINT PRIMARY KEY, n BIGINT, s BIGINT);
		CREATE TABLE aref (k BIGINT PRIMARY KEY, n BIGINT, s BIGINT)`)
	both := func(lo, hi int) func() {
		return func() { e.insertIDs("s1", lo, hi); e.insertIDs("s2", 1000+lo, 1000+hi) }
	}
	m := crashAndRestart(t, e, "ua", 2, both(1, 150), both(151, 220), both(221, 300), 300, 440, 600)

	var exp []string
	for k := 0; k < 7; k++ {
		n, s := 0, 0
		for _, id := range append(seq(1, 300), seq(1001, 1300)...) {
			if id%7 == k {
				n++
				s += id
			}
		}
		exp = append(exp, fmt.Sprintf("%d|%d|%d", k, n, s))
	}
	runReference(t, e, m, "uaref", 600)
	want := latestCounts(e.run("SELECT k, n, s FROM aref"))
	same(t, want, exp)
	same(t, latestCounts(e.run("SELECT k, n, s FROM agg")), want)

	// Stop: a final checkpoint at a barrier of both scans; resume reads
	// only the new rows.
	if err := m.Stop(e.ctx, "ua"); err != nil {
		t.Fatal(err)
	}
	stopped, _ := m.Job("ua")
	if stopped.CheckpointRowsIn != 600 {
		t.Fatalf("stopped job's last checkpoint covers %d rows, want 600", stopped.CheckpointRowsIn)
	}
	both(301, 320)()
	if err := m.Resume(e.ctx, "ua"); err != nil {
		t.Fatal(err)
	}
	info := checkpointed(t, m, "ua", 640)
	if info.Restored != stopped.Checkpoints || info.RunRowsIn > 40+2*25 {
		t.Fatalf("resumed from checkpoint %d (stopped at %d), read %d rows", info.Restored, stopped.Checkpoints, info.RunRowsIn)
	}
	exp = nil
	for k := 0; k < 7; k++ {
		n, s := 0, 0
		for _, id := range append(seq(1, 320), seq(1001, 1320)...) {
			if id%7 == k {
				n++
				s += id
			}
		}
		exp = append(exp, fmt.Sprintf("%d|%d|%d", k, n, s))
	}
	same(t, latestCounts(e.run("SELECT k, n, s FROM agg")), exp)
}

func seq(lo, hi int) []int {
	var out []int
	for i := lo; i <= hi; i++ {
		out = append(out, i)
	}
	return out
}

// TestRegularJoinJobRestoresFromCheckpoint: a regular (symmetric hash)
// join of two tables checkpoints both scans and the rows it stores; after
// a crash the restarted job reads only the rows after the checkpoint and
// its output equals an uninterrupted run's.
func TestRegularJoinJobRestoresFromCheckpoint(t *testing.T) {
	e := newEnv(t)
	e.run(`CREATE TABLE users (id BIGINT, ts TIMESTAMP) COMMENT 'partitions=2';
		CREATE TABLE orders (id BIGINT, ts TIMESTAMP);
		CREATE TABLE joined (u BIGINT, o BIGINT);
		CREATE TABLE jref (u BIGINT, o BIGINT)`)
	// Users 1..n and orders 2..2n: user u has the orders 2u and 2u+1.
	step := func(lo, hi int) func() {
		return func() { e.insertIDs("users", lo, hi); e.insertIDs("orders", 2*lo, 2*hi+1) }
	}
	m := crashAndRestart(t, e, "rj", 2, step(1, 60), step(61, 90), step(91, 120), 180, 270, 360)
	var exp []string
	for u := 1; u <= 120; u++ {
		exp = append(exp, fmt.Sprintf("%d|%d", u, 2*u), fmt.Sprintf("%d|%d", u, 2*u+1))
	}
	sort.Strings(exp)
	runReference(t, e, m, "rjref", 360)
	want := distinctRows(e.run("SELECT u, o FROM jref"))
	same(t, want, exp)
	same(t, distinctRows(e.run("SELECT u, o FROM joined")), want)
}

// TestLookupJoinJobRestoresFromCheckpoint: a lookup join aligns barriers
// (also during its table's bootstrap), so its job checkpoints both scans
// and the table state. After a crash, with more stream rows and an update
// of a table key while it was down, the restarted job restores the
// checkpoint, reads only the rows after it (the table scan too: it does
// not bootstrap the whole table again), and its output equals an
// uninterrupted run's.
func TestLookupJoinJobRestoresFromCheckpoint(t *testing.T) {
	e := newEnv(t)
	e.run(`CREATE TABLE dim (k BIGINT PRIMARY KEY, v BIGINT);
		CREATE TABLE src (id BIGINT, ts TIMESTAMP);
		CREATE TABLE looked (id BIGINT, v BIGINT);
		CREATE TABLE lref (id BIGINT, v BIGINT)`)
	// 100 table rows: a table scan replayed from the start would read
	// more rows than the restarted run may.
	for lo := 0; lo < 100; lo += 25 {
		var vals []string
		for k := lo; k < lo+25; k++ {
			vals = append(vals, fmt.Sprintf("(%d, %d)", k, 100+k))
		}
		e.run("INSERT INTO dim VALUES " + strings.Join(vals, ", "))
	}
	const q = "SELECT s.id, d.v FROM src s JOIN dim d AS OF TIMESTAMP PROCTIME() ON d.k = s.id DIV 50"
	e.insertIDs("src", 1, 60)
	m := e.manager()
	if err := m.Create(e.ctx, "lj", e.ns, "INSERT INTO looked "+q, nil); err != nil {
		t.Fatal(err)
	}
	info := checkpointed(t, m, "lj", 160)
	if !info.Stateful || !info.Tracked || info.StateBytes == 0 {
		t.Fatalf("lookup-join job does not checkpoint its state: %+v", info)
	}
	e.insertIDs("src", 61, 90)
	waitJob(t, m, "lj", "190 rows in", func(i jobs.Info) bool { return i.RowsIn >= 190 })
	m.Crash("lj")
	before, _ := m.Job("lj")
	m.Close()
	// While down: key 2 changes (no stream row has looked it up yet) and
	// more rows of the unchanged key 1 come.
	e.run("INSERT INTO dim VALUES (2, 202)")
	e.insertIDs("src", 91, 99)

	m2 := e.manager()
	defer m2.Close()
	info = checkpointed(t, m2, "lj", 200)
	if info.Restored == 0 || info.Restored > before.Checkpoints {
		t.Fatalf("restarted job restored checkpoint %d (the crashed run reached %d)", info.Restored, before.Checkpoints)
	}
	if info.RunRowsIn >= 100 || info.RunRowsIn > 200-before.CheckpointRowsIn+50 {
		t.Fatalf("restarted run read %d rows; the checkpoint covered %d of 200", info.RunRowsIn, before.CheckpointRowsIn)
	}
	t.Logf("crashed at checkpoint %d covering %d rows; restart read %d rows; state %d bytes",
		before.Checkpoints, before.CheckpointRowsIn, info.RunRowsIn, info.StateBytes)
	// The checkpoint covering the update was taken after the join applied
	// it (barriers are aligned): rows of key 2 from now on see 202.
	e.insertIDs("src", 100, 120)
	checkpointed(t, m2, "lj", 221)

	var exp []string
	for id := 1; id <= 120; id++ {
		v := 100 + id/50
		if id/50 == 2 {
			v = 202
		}
		exp = append(exp, fmt.Sprintf("%d|%d", id, v))
	}
	sort.Strings(exp)
	if err := m2.Create(e.ctx, "ljref", e.ns, "INSERT INTO lref "+q, nil); err != nil {
		t.Fatal(err)
	}
	checkpointed(t, m2, "ljref", 221)
	want := distinctRows(e.run("SELECT id, v FROM lref"))
	same(t, want, exp)
	same(t, distinctRows(e.run("SELECT id, v FROM looked")), want)
}

// TestExactlyOnceJoinJobRestores: with exactly-once delivery a regular
// join of two tables restores its checkpoint of both scans after a crash;
// the committed output has every joined row exactly once.
func TestExactlyOnceJoinJobRestores(t *testing.T) {
	e := newEnv(t)
	serviceURL, _ := testbroker.URLs()
	txc, err := pulsar.NewClient(pulsar.ClientOptions{URL: serviceURL, EnableTransaction: true, OperationTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer txc.Close()
	tune := func(c *jobs.Config) {
		c.TxnClient, c.CheckpointInterval, c.TxnTimeout = txc, 300*time.Millisecond, 5*time.Second
	}
	e.run(`CREATE TABLE users (id BIGINT, ts TIMESTAMP);
		CREATE TABLE orders (id BIGINT, ts TIMESTAMP) COMMENT 'partitions=2';
		CREATE TABLE joined (u BIGINT, o BIGINT)`)
	step := func(lo, hi int) { e.insertIDs("users", lo, hi); e.insertIDs("orders", 2*lo, 2*hi+1) }
	settings := map[string]string{jobs.DeliverySetting: "exactly_once"}
	step(1, 40)
	m := e.managerWith(tune)
	defer m.Close()
	if err := m.Create(e.ctx, "eosj", e.ns, jobQuery["rj"], settings); err != nil {
		t.Fatal(err)
	}
	checkpointed(t, m, "eosj", 120)
	step(41, 60)
	waitJob(t, m, "eosj", "180 rows in", func(i jobs.Info) bool { return i.RowsIn >= 180 })
	m.Crash("eosj")
	m.Close()
	step(61, 80)
	m2 := e.managerWith(tune)
	defer m2.Close() // before the transaction client closes
	info := checkpointed(t, m2, "eosj", 240)
	if info.Restored == 0 || info.RunRowsIn >= 240 {
		t.Fatalf("restored %d, read %d rows", info.Restored, info.RunRowsIn)
	}
	var exp []string
	for u := 1; u <= 80; u++ {
		exp = append(exp, fmt.Sprintf("%d|%d", u, 2*u), fmt.Sprintf("%d|%d", u, 2*u+1))
	}
	sort.Strings(exp)
	// Exactly once: no duplicates (rows are not made distinct); the
	// commit is visible once the broker has applied its markers.
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := e.run("SELECT u, o FROM joined")
		sort.Strings(got)
		if strings.Join(got, ",") == strings.Join(exp, ",") || time.Now().After(deadline) {
			same(t, got, exp)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
}
