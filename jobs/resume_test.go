package jobs_test

import (
	"strings"
	"testing"
)

// TestPartitionedJobResumesAfterCheckpoint: a stateful job over a
// 3-partition topic restarts each partition right after the message its
// checkpoint recorded there: the restarted run reads only the rows written
// after the checkpoint (not the whole topic again, as when every partition
// replayed from the earliest message and the covered rows were dropped),
// and its result has every row exactly once.
func TestPartitionedJobResumesAfterCheckpoint(t *testing.T) {
	e := newEnv(t)
	e.run(`CREATE TABLE src (id BIGINT, ts TIMESTAMP) COMMENT 'partitions=3';
		CREATE TABLE agg (k BIGINT PRIMARY KEY, n BIGINT, s BIGINT, d BIGINT)`)
	const q = "INSERT INTO agg SELECT id % 4, count(*), sum(id), count(DISTINCT id) FROM src GROUP BY id % 4"
	e.insertIDs("src", 1, 150)
	parts := e.run("SELECT DISTINCT __partition FROM src")
	t.Logf("first 150 rows in partitions %s", strings.Join(parts, ","))
	if len(parts) < 2 {
		t.Fatalf("the rows went to partitions %v: the test needs several", parts)
	}
	m := e.manager()
	if err := m.Create(e.ctx, "ragg", e.ns, q, nil); err != nil {
		t.Fatal(err)
	}
	first := checkpointed(t, m, "ragg", 150)
	if first.RunRowsIn != 150 {
		t.Fatalf("first run read %d rows, want 150", first.RunRowsIn)
	}
	// A crash: no final checkpoint; the last one covers rows 1..150.
	m.Crash("ragg")
	m.Close()
	e.insertIDs("src", 151, 260)
	m2 := e.manager()
	defer m2.Close()
	info := checkpointed(t, m2, "ragg", 260)
	if info.Restored == 0 {
		t.Fatalf("no checkpoint restored: %+v", info)
	}
	// The scan's count of rows read this run, dropped replays included.
	if info.RunRowsIn != 110 {
		t.Fatalf("restarted run read %d source rows, want the 110 written after the checkpoint", info.RunRowsIn)
	}
	if info.RowsIn != 260 {
		t.Fatalf("rows in %d, want 260", info.RowsIn)
	}
	same(t, latestCounts(e.run("SELECT k, n, s, d FROM agg")), modCounts(4, 260))
}
