package jobs

import (
	"context"
	"maps"
	"testing"

	cpulsar "github.com/magnetar-sql/magnetar/catalog/pulsar"
	"github.com/magnetar-sql/magnetar/exec/exectest"
)

// resumingSource records what the position scan asks it to resume after.
type resumingSource struct {
	idleSource
	calls int
	got   map[int]cpulsar.StartPosition
}

func (s *resumingSource) ResumeAfter(ps map[int]cpulsar.StartPosition) {
	s.calls++
	s.got = maps.Clone(ps)
}

// TestPositionScanResumesSource: before opening its source, the position
// scan hands it the restored checkpoint's positions (batch index included)
// so each partition starts right after its recorded message; with no
// checkpoint it asks nothing. Rows the source still returns at or before a
// position are dropped either way (TestPositionScan).
func TestPositionScanResumesSource(t *testing.T) {
	mem := newMem(t)
	ctx := context.Background()
	reg := &scanRegistry{mem: mem, resume: map[int32]Pos{0: {Ledger: 1, Entry: 4, Batch: 2}, -1: {Ledger: 3, Entry: 7}}}
	src := &resumingSource{idleSource: idleSource{Source: exectest.NewSource(rawSchema, rawBatch(mem, 0, 1, 2))}}
	s := newPositionScan(src, scanSchema, reg)
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	s.Close()
	want := map[int]cpulsar.StartPosition{0: {Ledger: 1, Entry: 4, Batch: 2}, -1: {Ledger: 3, Entry: 7}}
	if src.calls != 1 || !maps.Equal(src.got, want) {
		t.Fatalf("ResumeAfter called %d times with %v, want once with %v", src.calls, src.got, want)
	}
	if got := cpulsar.FormatStartPositions(src.got); got != "3:7:-1:0,1:4:0:2" {
		t.Fatalf("as the start_positions option: %q", got)
	}

	fresh := &resumingSource{idleSource: idleSource{Source: exectest.NewSource(rawSchema, rawBatch(mem, 0, 1, 2))}}
	s = newPositionScan(fresh, scanSchema, &scanRegistry{mem: mem, resume: map[int32]Pos{}})
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if fresh.calls != 0 {
		t.Fatalf("ResumeAfter called without a checkpoint: %v", fresh.got)
	}
}
