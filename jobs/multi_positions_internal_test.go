package jobs

import (
	"strings"
	"testing"

	"github.com/magnetar-sql/magnetar/exec/exectest"
)

// TestParsePositions: a single-scan record keeps partition keys; a record
// of several scans keys them scan/partition; bad keys are refused.
func TestParsePositions(t *testing.T) {
	p0, p1 := Pos{Ledger: 1, Entry: 2, Batch: -1}, Pos{Ledger: 3, Entry: 4, Batch: 1}
	single, per, err := parsePositions(Checkpoint{ID: 5, State: &StateRef{}, Positions: map[string]Pos{"-1": p0}})
	if err != nil || per != nil || len(single) != 1 || single[-1] != p0 {
		t.Fatalf("single-scan record: %v %v %v", single, per, err)
	}
	cp := Checkpoint{ID: 6, State: &StateRef{Scans: 2}, Positions: map[string]Pos{"0/-1": p0, "1/0": p1, "1/2": p0}}
	_, per, err = parsePositions(cp)
	if err != nil || len(per) != 2 || per[0][-1] != p0 || per[1][0] != p1 || per[1][2] != p0 || len(per[1]) != 2 {
		t.Fatalf("two-scan record: %v %v", per, err)
	}
	for _, bad := range []string{"0", "2/0", "x/0", "1/x"} {
		cp.Positions = map[string]Pos{bad: p0}
		if _, _, err := parsePositions(cp); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("key %q: %v", bad, err)
		}
	}
}

// TestSetStartPositions: a tracked job over a partitioned topic resumes
// each recorded partition right after its message (start_positions), the
// others from the earliest one.
func TestSetStartPositions(t *testing.T) {
	st := map[string]string{}
	setStart(st, map[int32]Pos{0: {Ledger: 7, Entry: 3, Batch: -1}, 2: {Ledger: 8, Entry: 1, Batch: 4}})
	if st["start"] != "earliest" || st["start_positions"] != "7:3:0:-1,8:1:2:4" {
		t.Fatalf("settings %v", st)
	}
	st = map[string]string{}
	setStart(st, map[int32]Pos{-1: {Ledger: 7, Entry: 3, Batch: -1}})
	if st["start"] != "7:3:-1" || st["start_positions"] == "" {
		t.Fatalf("settings %v", st)
	}
	st = map[string]string{}
	setStart(st, nil)
	if len(st) != 0 {
		t.Fatalf("settings %v", st)
	}
}

// TestRestoredScanKeepsIdlePartitions: a restored scan's positions start
// at the checkpoint's, so a partition that brings no row in this run keeps
// its position in the next checkpoint, for one scan and for several.
func TestRestoredScanKeepsIdlePartitions(t *testing.T) {
	mem := newMem(t)
	p0, p1 := Pos{Ledger: 1, Entry: 2, Batch: -1}, Pos{Ledger: 3, Entry: 4, Batch: 1}
	reg := &scanRegistry{mem: mem, resume: map[int32]Pos{0: p0, 1: p1}}
	s := newPositionScan(exectest.NewSource(rawSchema), scanSchema, reg)
	reg.add(s)
	if c := s.current(); len(c) != 2 || c[0] != p0 || c[1] != p1 {
		t.Fatalf("single scan: %v", c)
	}
	reg = &scanRegistry{mem: mem, resume: map[int32]Pos{}, scanResume: map[int]map[int32]Pos{1: {2: p1}}}
	a := newPositionScan(exectest.NewSource(rawSchema), scanSchema, reg)
	reg.add(a)
	b := newPositionScan(exectest.NewSource(rawSchema), scanSchema, reg)
	reg.add(b)
	sr := &statefulRun{scans: reg.scans}
	if c := sr.current(); len(c) != 2 || len(c[0]) != 0 || len(c[1]) != 1 || c[1][2] != p1 || b.index != 1 {
		t.Fatalf("two scans: %v", c)
	}
	if at := sr.positionsAt(9); len(at[1]) != 1 {
		t.Fatalf("positions at a barrier the scans never emitted: %v", at)
	}
}
