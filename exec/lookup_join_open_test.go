package exec_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
)

// pullCounter counts the Next calls of its source.
type pullCounter struct {
	*exectest.Source
	pulls atomic.Int64
}

func (p *pullCounter) Next(ctx context.Context) (exec.Message, error) {
	p.pulls.Add(1)
	return p.Source.Next(ctx)
}

// TestLookupJoinOpenDoesNotPull: Open opens the inputs but pulls neither
// before the join's first Next. A job restores the states of the opened
// tree before it pulls it; an input pulled meanwhile (an aggregate's
// changelog below the join) would run on its empty state, racing its
// Restore. (Before, Open started the prefetchers, and their goroutines
// pulled each input once even when Close came first.)
func TestLookupJoinOpenDoesNotPull(t *testing.T) {
	mem := stMem(t)
	ctx := context.Background()
	left := &pullCounter{Source: exectest.NewSource(bidSchema, bids(mem, []any{1, 10}))}
	right := &pullCounter{Source: exectest.NewSource(upsertSchema,
		exec.BatchMsg(exectest.Record(mem, upsertSchema, up(1, "a"), marker), nil))}
	j := newLookup(t, left, right, exec.InnerJoin, nil, mem)
	if err := j.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if l, r := left.pulls.Load(), right.pulls.Load(); l != 0 || r != 0 {
		t.Fatalf("opened and closed without Next: inputs pulled %d (stream) and %d (table) times, want 0", l, r)
	}
}
