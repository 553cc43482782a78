package engine

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	cpulsar "github.com/magnetar-sql/magnetar/catalog/pulsar"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
	"github.com/magnetar-sql/magnetar/jobs"
)

// TestPulsarJobStateTTLRestore runs a durable job with a state TTL, stops
// it after a checkpoint and resumes it: the restored aggregate keeps its
// groups' last touches, so a key last updated before the stop expires by
// the TTL after the restart and starts afresh (count 1). Touches reset to
// the restart would keep the group and count 2.
func TestPulsarJobStateTTLRestore(t *testing.T) {
	serviceURL, adminURL := testbroker.Require(t)
	ns := testbroker.Namespace(t, adminURL)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cat, err := cpulsar.New(ctx, cpulsar.Config{ServiceURL: serviceURL, AdminURL: adminURL, DefaultDatabase: ns,
		Allocator: mem, RefreshInterval: time.Second,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cat.Close()
		mem.AssertSize(t, 0)
	}()
	eng := New(cat, Options{Mem: mem})
	s := eng.NewSession()
	mustRun(t, s, "CREATE TABLE src (uid VARCHAR(10), ts TIMESTAMP(6)) ENGINE_ATTRIBUTE='event_time=ts'; CREATE TABLE cnt (uid VARCHAR(10) PRIMARY KEY, n BIGINT)")
	mustRun(t, s, "INSERT INTO src VALUES ('ann', '2024-01-01 00:00:00')")
	m, err := jobs.NewManager(ctx, jobs.Config{Client: cat.Client(), Catalog: cat, Runner: eng.JobRunner(), Namespace: ns,
		CheckpointInterval: 200 * time.Millisecond, Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	eng.SetJobs(m)
	if err := m.Create(ctx, "ttl", ns, "INSERT INTO cnt SELECT uid, count(*) FROM src GROUP BY uid",
		map[string]string{"magnetar.state_ttl": "1 MINUTE"}); err != nil {
		t.Fatal(err)
	}
	wait := func(what string, cond func(jobs.Info) bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			info, err := m.Job("ttl")
			if err != nil {
				t.Fatal(err)
			}
			if info.Status == jobs.StatusFailed {
				t.Fatalf("job failed: %s", info.Error)
			}
			if cond(info) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s: %+v", what, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	wait("a stateful checkpoint of the first row", func(i jobs.Info) bool { return i.Stateful && i.CheckpointRowsIn >= 1 })
	if err := m.Stop(ctx, "ttl"); err != nil {
		t.Fatal(err)
	}
	mustRun(t, s, "INSERT INTO src VALUES ('bob', '2024-01-01 00:10:00')")
	if err := m.Resume(ctx, "ttl"); err != nil {
		t.Fatal(err)
	}
	var got []string
	until := func(uid string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			got, _ = drain(t, s, "SELECT uid, n FROM cnt")
			if strings.Contains(strings.Join(got, ","), uid+"|") {
				return
			}
			info, err := m.Job("ttl")
			if err == nil && info.Status == jobs.StatusFailed {
				t.Fatalf("job failed: %s", info.Error)
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("no row of %s in %q", uid, got)
	}
	// Expiry happens at watermarks, which the source emits after each batch:
	// bob's batch and watermark (00:10) are through before ann comes.
	until("bob")
	mustRun(t, s, "INSERT INTO src VALUES ('ann', '2024-01-01 00:10:01'); INSERT INTO src VALUES ('cid', '2024-01-01 00:10:02')")
	until("cid") // after ann's second row
	distinct := map[string]bool{}
	for _, r := range got {
		distinct[r] = true
	}
	if len(distinct) != 3 || !distinct["ann|1"] || !distinct["bob|1"] || !distinct["cid|1"] {
		t.Fatalf("cnt holds %q, want ann|1, bob|1, cid|1 only (ann's group started afresh after the restart)", got)
	}
}
