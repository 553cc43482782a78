package jobs_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/magnetar-sql/magnetar/jobs"
)

const topNJobQuery = "SELECT id, ts FROM src ORDER BY id % 50 DESC, id LIMIT 4 OFFSET 1"

func init() {
	jobQuery["topn"] = "INSERT INTO top " + topNJobQuery
	jobQuery["topref"] = "INSERT INTO ref " + topNJobQuery
}

// topIDs is the expected top of ids 1..n ordered by id % 50 DESC, id,
// ranks offset+1 .. offset+limit, as "id" strings.
func topIDs(n, offset, limit int) []string {
	ids := make([]int, n)
	for i := range ids {
		ids[i] = i + 1
	}
	sort.SliceStable(ids, func(a, b int) bool {
		if ids[a]%50 != ids[b]%50 {
			return ids[a]%50 > ids[b]%50
		}
		return ids[a] < ids[b]
	})
	var out []string
	for _, id := range ids[offset : offset+limit] {
		out = append(out, fmt.Sprint(id))
	}
	sort.Strings(out)
	return out
}

// TestTopNJobRestoresFromCheckpoint: a continuous ORDER BY ... LIMIT ...
// OFFSET job into an upsert table (its changelog: rows entering the top
// are upserts, rows leaving it tombstones) checkpoints its streaming
// Top-N, is crashed, and a new manager restores it and resumes after the
// checkpointed positions; the table then holds the same top as a job that
// ran uninterrupted, and as the bounded query.
func TestTopNJobRestoresFromCheckpoint(t *testing.T) {
	e := newEnv(t)
	e.run(`CREATE TABLE src (id BIGINT, ts TIMESTAMP);
		CREATE TABLE top (id BIGINT PRIMARY KEY, ts TIMESTAMP);
		CREATE TABLE ref (id BIGINT PRIMARY KEY, ts TIMESTAMP)`)
	ids := func(lo, hi int) func() { return func() { e.insertIDs("src", lo, hi) } }
	m := crashAndRestart(t, e, "topn", 1, ids(1, 200), ids(201, 300), ids(301, 400), 200, 300, 400)
	want := topIDs(400, 1, 4) // 99 149 199 249 (id % 50 = 49, after 49)
	runReference(t, e, m, "topref", 400)
	e.waitSorted("SELECT id FROM ref", want)
	e.waitSorted("SELECT id FROM top", want)
	same(t, sortedStrings(e.run(topNJobQuery)), sortedStrings(e.run("SELECT id, ts FROM top")))
}

// TestLimitJobResumesCount: a continuous LIMIT job is crashed after
// writing part of its rows; the restored Limit goes on counting, so the
// append-only target gets each of the rows exactly once (a Limit without
// state would start counting again and write ids 6..20 twice).
func TestLimitJobResumesCount(t *testing.T) {
	e := newEnv(t)
	e.run(`CREATE TABLE src (id BIGINT, ts TIMESTAMP);
		CREATE TABLE firsts (id BIGINT, ts TIMESTAMP)`)
	e.insertIDs("src", 1, 20)
	m := e.manager()
	if err := m.Create(e.ctx, "lim", e.ns, "INSERT INTO firsts SELECT id, ts FROM src LIMIT 30 OFFSET 5", nil); err != nil {
		t.Fatal(err)
	}
	info := checkpointed(t, m, "lim", 20)
	if !info.Stateful {
		t.Fatalf("LIMIT job keeps no checkpointed state: %+v", info)
	}
	waitJob(t, m, "lim", "15 rows out", func(i jobs.Info) bool { return i.RowsOut >= 15 })
	m.Crash("lim")
	m.Close()
	e.insertIDs("src", 21, 100)

	m2 := e.manager()
	defer m2.Close()
	info = waitJob(t, m2, "lim", "30 rows out", func(i jobs.Info) bool { return i.RowsOut >= 30 })
	if info.Restored == 0 {
		t.Fatalf("no checkpoint restored: %+v", info)
	}
	var want []string
	for id := 6; id <= 35; id++ {
		want = append(want, fmt.Sprint(id))
	}
	sort.Strings(want)
	e.waitSorted("SELECT id FROM firsts", want)
}

func sortedStrings(rows []string) []string {
	out := append([]string(nil), rows...)
	sort.Strings(out)
	return out
}

// waitSorted waits until query's rows, sorted, equal want.
func (e *env) waitSorted(query string, want []string) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := sortedStrings(e.run(query))
		if fmt.Sprint(got) == fmt.Sprint(want) || time.Now().After(deadline) {
			same(e.t, got, want)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
