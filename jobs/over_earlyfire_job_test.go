package jobs_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

const (
	// A ROWS frame: each id's sum with the two ids before it of its
	// partition (id % 3), ordered by event time (one second per id).
	overJobQuery = "SELECT id, SUM(id) OVER (PARTITION BY id % 3 ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS s FROM src"
	// One-minute windows over ids at one per second: 20 rows per window
	// and key, so a window open at the crash has partial rows emitted.
	earlyFireJobQuery = "SELECT window_start AS ws, id % 3 AS k, count(*) AS n, sum(id) AS s FROM src GROUP BY TUMBLE(ts, '1 MINUTE'), id % 3"
)

func init() {
	jobQuery["over"] = "INSERT INTO ov " + overJobQuery
	jobQuery["overref"] = "INSERT INTO ovref " + overJobQuery
	jobQuery["ef"] = "INSERT INTO ef " + earlyFireJobQuery
	jobQuery["efref"] = "INSERT INTO efref " + earlyFireJobQuery
	ts := map[string]string{"magnetar.event_time": "ts"}
	early := map[string]string{"magnetar.event_time": "ts", "magnetar.window_early_fire": "1 SECOND"}
	jobSettings["over"], jobSettings["overref"] = ts, ts
	jobSettings["ef"], jobSettings["efref"] = early, early
	jobQuery["efs"] = "INSERT INTO efs " + earlyFireSessionQuery
	// The watermark trails by a minute: every session stays open, so the
	// table holds only partial rows, and a merge must delete one.
	jobSettings["efs"] = map[string]string{"magnetar.event_time": "ts", "magnetar.watermark_delay": "1 MINUTE",
		"magnetar.window_early_fire": "1 SECOND"}
}

// Sessions with a 10 s gap over ids at their second, one group.
const earlyFireSessionQuery = "SELECT window_start AS ws, count(*) AS n, sum(id) AS s FROM src GROUP BY SESSION_WINDOW(ts, '10 SECONDS')"

// overSums is the expected "id|s" of ids 1..n: the sum of id and the two
// ids before it with the same id % 3 (id-3, id-6 when positive).
func overSums(n int) []string {
	var out []string
	for id := 1; id <= n; id++ {
		s := 0
		for p := id; p > 0 && p >= id-6; p -= 3 {
			s += p
		}
		out = append(out, fmt.Sprintf("%d|%d", id, s))
	}
	sort.Strings(out)
	return out
}

// TestOverAggregateJobRestoresFromCheckpoint: a continuous OVER (ROWS
// frame) job checkpoints its buffered rows and each partition's last rows;
// it is crashed and restarted, and the rows it appended equal an
// uninterrupted run's (duplicates of the rows after the last checkpoint,
// at-least-once, are folded as the other restore tests do). Without the
// restored frames the first rows of each partition after the restart
// would sum fewer rows (and rows pending at the checkpoint would be lost).
func TestOverAggregateJobRestoresFromCheckpoint(t *testing.T) {
	e := newEnv(t)
	e.run(`CREATE TABLE src (id BIGINT, ts TIMESTAMP);
		CREATE TABLE ov (id BIGINT, s BIGINT);
		CREATE TABLE ovref (id BIGINT, s BIGINT)`)
	ids := func(lo, hi int) func() { return func() { e.insertIDs("src", lo, hi) } }
	m := crashAndRestart(t, e, "over", 1, ids(1, 150), ids(151, 240), ids(241, 330), 150, 240, 330)
	runReference(t, e, m, "overref", 330)

	// A row is emitted once the watermark passes its time: all but the
	// newest few rows. Wait for the reference to settle on a prefix of
	// the ids whose sums are the expected ones.
	var want []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		want = distinctRows(e.run("SELECT id, s FROM ovref"))
		if len(want) >= 320 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(want) < 320 {
		t.Fatalf("reference run emitted %d of 330 rows", len(want))
	}
	exp := overSums(330)
	byID := map[string]string{}
	for _, r := range exp {
		id, _, _ := strings.Cut(r, "|")
		byID[id] = r
	}
	for _, r := range want {
		id, _, _ := strings.Cut(r, "|")
		if byID[id] != r {
			t.Fatalf("reference row %s, want %s", r, byID[id])
		}
	}
	// The bounded query agrees on every row the job emitted.
	bounded := map[string]bool{}
	for _, r := range e.run(overJobQuery) {
		bounded[r] = true
	}
	for _, r := range want {
		if !bounded[r] {
			t.Fatalf("reference row %s is not in the bounded answer", r)
		}
	}
	e.waitSorted("SELECT DISTINCT id, s FROM ov", want)
}

// TestEarlyFireWindowJobRestoresFromCheckpoint: a TUMBLE window aggregate
// with magnetar.window_early_fire writes partial rows of its open window
// into an upsert table keyed on (window, group); the job is crashed while
// a window is open and has partial rows out, after a checkpoint, and
// restarted. The windows' accumulators and the last rows emitted come
// back from the checkpoint, so the table ends as an uninterrupted run's
// and as the bounded query's answer (a lost accumulator would count only
// the rows read after the restart).
func TestEarlyFireWindowJobRestoresFromCheckpoint(t *testing.T) {
	e := newEnv(t)
	e.run(`CREATE TABLE src (id BIGINT, ts TIMESTAMP);
		CREATE TABLE ef (ws TIMESTAMP, k BIGINT, n BIGINT, s BIGINT, PRIMARY KEY (ws, k));
		CREATE TABLE efref (ws TIMESTAMP, k BIGINT, n BIGINT, s BIGINT, PRIMARY KEY (ws, k))`)
	ids := func(lo, hi int) func() { return func() { e.insertIDs("src", lo, hi) } }
	// Ids 1..100 close the first window; 101..150 leave [120 s, 180 s)
	// open with 10 or 11 rows per key: wait until its partial rows are in
	// the table before the crash.
	more := func() {
		e.insertIDs("src", 101, 150)
		deadline := time.Now().Add(30 * time.Second)
		for {
			// Only [120 s, 180 s) at id 150 has n < 15 and s > 1300.
			if len(e.run("SELECT k, n FROM ef WHERE n < 15 AND s > 1300")) == 3 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no partial rows of the open window: %v", e.run("SELECT ws, k, n, s FROM ef"))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	m := crashAndRestart(t, e, "ef", 1, ids(1, 100), more, ids(151, 220), 100, 150, 220)
	runReference(t, e, m, "efref", 220)

	// Bounded: every window final, the last one [180 s, 240 s) with the
	// rows it has (early fire emits the same partial row once its tick
	// comes).
	want := sortedStrings(e.run(earlyFireJobQuery))
	if len(want) != 4*3 {
		t.Fatalf("bounded answer has %d rows, want 12: %v", len(want), want)
	}
	e.waitSorted("SELECT ws, k, n, s FROM efref", want)
	e.waitSorted("SELECT ws, k, n, s FROM ef", want)
}

// TestEarlyFireSessionJobRestoresEmittedRows: the part of the early-fire
// state a TUMBLE table cannot show (which partial row was emitted, so a
// +I or a -U/+U) decides, for sessions, what a merge deletes. The job
// emits partial rows of the sessions at 2 s and 40 s, checkpoints them
// and is crashed; after the restart id 34 merges into the 40 s session,
// whose partial row (key 40 s) the restored job must delete: the table
// then equals the bounded answer. Had the emitted rows not been
// restored, the row of the 40 s session would stay.
func TestEarlyFireSessionJobRestoresEmittedRows(t *testing.T) {
	e := newEnv(t)
	e.run(`CREATE TABLE src (id BIGINT, ts TIMESTAMP);
		CREATE TABLE efs (ws TIMESTAMP PRIMARY KEY, n BIGINT, s BIGINT)`)
	e.insertIDs("src", 2, 2)
	e.insertIDs("src", 40, 40)
	m := e.manager()
	if err := m.Create(e.ctx, "efs", e.ns, jobQuery["efs"], jobSettings["efs"]); err != nil {
		t.Fatal(err)
	}
	info := checkpointed(t, m, "efs", 2)
	if !info.Stateful || info.StateBytes == 0 {
		t.Fatalf("job does not checkpoint its state: %+v", info)
	}
	// The partial rows are out; the next row (a session of its own)
	// brings a checkpoint, taken after they were emitted (an idle job
	// takes none).
	e.waitSorted("SELECT n, s FROM efs", []string{"1|2", "1|40"})
	e.insertIDs("src", 60, 60)
	checkpointed(t, m, "efs", 3)
	m.Crash("efs")
	before, _ := m.Job("efs")
	m.Close()
	e.insertIDs("src", 34, 34) // merges into the 40 s session: [34 s, 50 s)
	e.insertIDs("src", 20, 20) // a session of its own

	m2 := e.manager()
	t.Cleanup(func() { m2.Close() })
	checkRestored(t, "efs", before, checkpointed(t, m2, "efs", 5), 5, 1)
	want := sortedStrings(e.run(earlyFireSessionQuery))
	if len(want) != 4 {
		t.Fatalf("bounded answer %v, want 4 sessions", want)
	}
	e.waitSorted("SELECT ws, n, s FROM efs", want)
}
