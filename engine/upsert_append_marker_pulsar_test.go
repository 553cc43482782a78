package engine

import (
	"testing"
	"time"
)

// TestPulsarAppendModeNoMarkerRow: a continuous read of a
// changelog_mode=append table that selects __tombstone gets the table's
// messages only: the bootstrap marker (a row of NULLs) is for the upsert
// operators, not for the query's output. The lookup join against such a
// table still starts (TestPulsarLookupJoinAppendModeTable).
func TestPulsarAppendModeNoMarkerRow(t *testing.T) {
	e := newUpsertEnv(t, " ENGINE_ATTRIBUTE='changelog_mode=append'")
	mustRun(t, e.s, "INSERT INTO auction VALUES (1, 'lamp', 10)")
	e.deleteKeys(1)
	r := e.continuous("SELECT id, item, __tombstone FROM auction")
	got := r.wait(t, 2)
	same(t, got, []string{"+I 1\tlamp\t0", "+I 1\tNULL\t1"})
	// The marker would follow the rows read up to the end at once; a later
	// row must come next.
	time.Sleep(500 * time.Millisecond)
	mustRun(t, e.s, "INSERT INTO auction VALUES (2, 'chair', 20)")
	same(t, r.wait(t, 3)[2:], []string{"+I 2\tchair\t0"})
}
