package jobs_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/magnetar-sql/magnetar/jobs"
)

// TestJobOverUpsertTable: a stateful job reads a primary-key table (an
// upsert changelog whose bootstrap marker row has no message position),
// is crashed and resumed; its per-group sums follow the latest value of
// every key, updates and deletes after the restart included.
func TestJobOverUpsertTable(t *testing.T) {
	e := newEnv(t)
	e.run(`CREATE TABLE dim (k BIGINT PRIMARY KEY, v BIGINT);
		CREATE TABLE sums (g BIGINT PRIMARY KEY, s BIGINT, n BIGINT)`)
	latest := map[int]int{}
	put := func(k, v int) {
		e.run(fmt.Sprintf("INSERT INTO dim VALUES (%d, %d)", k, v))
		latest[k] = v
	}
	for k := 1; k <= 10; k++ {
		put(k, k*10)
	}
	m := e.manager()
	if err := m.Create(e.ctx, "usum", e.ns, "INSERT INTO sums SELECT k % 2, sum(v), count(*) FROM dim GROUP BY k % 2", nil); err != nil {
		t.Fatal(err)
	}
	checkpointed(t, m, "usum", 10)
	put(3, 1000) // an update: -U/+U into the aggregate
	waitJob(t, m, "usum", "11 rows in", func(i jobs.Info) bool { return i.RowsIn >= 11 })
	m.Crash("usum")
	m.Close()
	put(4, 7)
	put(11, 5)

	m2 := e.manager()
	defer m2.Close()
	info := waitJob(t, m2, "usum", "the restarted run to catch up", func(i jobs.Info) bool { return i.Restored > 0 && i.CheckpointRowsIn >= 13 })
	if info.Status == jobs.StatusFailed {
		t.Fatalf("job failed: %s", info.Error)
	}
	want := map[int][2]int{}
	for k, v := range latest {
		w := want[k%2]
		want[k%2] = [2]int{w[0] + v, w[1] + 1}
	}
	var exp []string
	for g := 0; g < 2; g++ {
		exp = append(exp, fmt.Sprintf("%d|%d|%d", g, want[g][0], want[g][1]))
	}
	// sums is itself a primary-key table: read back as the latest row per
	// group. Wait for the job's last upserts to land.
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := e.run("SELECT g, s, n FROM sums")
		if strings.Join(got, ",") == strings.Join(exp, ",") {
			return
		}
		if time.Now().After(deadline) {
			same(t, got, exp)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
