package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestPulsarUpsertTableWindow: a continuous window over an upsert table
// (its watermark assigned on the table's scan, below the per-key fold)
// ends its bootstrap and emits windows: the bootstrap marker row, whose
// time columns are NULL, must reach the fold.
func TestPulsarUpsertTableWindow(t *testing.T) {
	e := newUpsertEnv(t, "")
	mustRun(t, e.s, "INSERT INTO auction VALUES (1, 'lamp', 10), (2, 'chair', 10)")
	cs := e.session()
	mustRun(t, cs, "SET magnetar.mode = 'continuous'")
	q := "SELECT count(*) FROM auction GROUP BY TUMBLE(__publish_time, '1 SECOND')"
	plan, _, err := runSQL(e.ctx, cs, "EXPLAIN "+q)
	if err != nil {
		t.Fatal(err)
	}
	if text := strings.Join(plan, "\n"); !strings.Contains(text, "keep_late") {
		t.Errorf("want a keep-late watermark below the fold:\n%s", text)
	}
	r := e.continuous(q)
	// Later rows move the publish-time watermark past the first window.
	deadline := time.Now().Add(20 * time.Second)
	for id := 100; ; id++ {
		r.mu.Lock()
		n, err := len(r.lines), r.err
		r.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no window came out of the continuous window over the upsert table in 20 s")
		}
		mustRun(t, e.s, fmt.Sprintf("INSERT INTO auction VALUES (%d, 'tick', 1)", id))
		time.Sleep(500 * time.Millisecond)
	}
}
