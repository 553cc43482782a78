package exec_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
)

// freeThenGated returns its first free messages at once, the rest only
// once gate is closed.
type freeThenGated struct {
	*exectest.Source
	n, free int
	gate    chan struct{}
}

func (g *freeThenGated) Next(ctx context.Context) (exec.Message, error) {
	g.n++
	if g.n > g.free {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return exec.Message{}, ctx.Err()
		}
	}
	return g.Source.Next(ctx)
}

// lookupToBarrier pulls op until its first barrier (included) and returns
// what it emitted.
func lookupToBarrier(t *testing.T, ctx context.Context, op exec.Operator) []exec.Message {
	t.Helper()
	var got []exec.Message
	for {
		m, err := op.Next(ctx)
		if err != nil {
			exectest.ReleaseMessages(got)
			t.Fatal(err)
		}
		if m.Kind == exec.MsgEnd {
			exectest.ReleaseMessages(got)
			t.Fatal("no barrier")
		}
		got = append(got, m)
		if m.Kind == exec.MsgBarrier {
			return got
		}
	}
}

// lookupToEnd pulls op until its end and appends what it emitted to got.
func lookupToEnd(t *testing.T, ctx context.Context, op exec.Operator, got []exec.Message) []exec.Message {
	t.Helper()
	for {
		m, err := op.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind == exec.MsgEnd {
			return got
		}
		got = append(got, m)
	}
}

// TestLookupJoinAlignsBarriers: the lookup join passes a barrier on once,
// when its table holds exactly the rows before the table input's barrier
// and it has taken exactly the stream rows before the stream's barrier.
func TestLookupJoinAlignsBarriers(t *testing.T) {
	ctx := context.Background()
	barrier := exec.Message{Kind: exec.MsgBarrier, Barrier: 5}

	// During the bootstrap: the table's barrier comes before its marker;
	// the join reads the stream to its barrier, holding the bid before
	// it, and joins it with the bootstrapped table after the barrier.
	t.Run("bootstrap", func(t *testing.T) {
		mem := stMem(t)
		right := exectest.NewSource(upsertSchema,
			exec.BatchMsg(exectest.Record(mem, upsertSchema, up(1, "a")), nil), barrier,
			exec.BatchMsg(exectest.Record(mem, upsertSchema, up(1, "a2"), up(2, "b"), marker), nil))
		left := exectest.NewSource(bidSchema, bids(mem, []any{1, 10}), barrier, bids(mem, []any{1, 11}, []any{2, 20}))
		j := newLookup(t, left, right, exec.InnerJoin, nil, mem)
		if err := j.Open(ctx); err != nil {
			t.Fatal(err)
		}
		got := lookupToBarrier(t, ctx, j)
		if n := j.State().Entries(); n != 1 {
			t.Errorf("table has %d keys at the barrier, want 1 (the rows before the table's barrier)", n)
		}
		got = lookupToEnd(t, ctx, j, got)
		defer exectest.ReleaseMessages(got)
		j.Close()
		before, after, n := splitAtBarrier(got)
		if n != 1 {
			t.Fatalf("%d barriers, want 1", n)
		}
		check(t, before, nil)
		check(t, after, []string{"1|10|1|a2|1|false", "1|11|1|a2|1|false", "2|20|2|b|2|false"})
	})

	// After the bootstrap: the stream's barrier comes first; its next bid
	// is ready before the table's update, which the join must apply first.
	t.Run("streaming", func(t *testing.T) {
		mem := stMem(t)
		left := exectest.NewSource(bidSchema, bids(mem, []any{1, 10}), barrier, bids(mem, []any{1, 11}))
		lc := &counted{Source: left, at: 3, reached: make(chan struct{})}
		right := &freeThenGated{Source: exectest.NewSource(upsertSchema,
			exec.BatchMsg(exectest.Record(mem, upsertSchema, up(1, "a"), marker), nil),
			exec.BatchMsg(exectest.Record(mem, upsertSchema, up(1, "b")), nil), barrier),
			free: 1, gate: lc.reached}
		j := newLookup(t, lc, right, exec.InnerJoin, nil, mem)
		msgs, err := exectest.CollectMessages(ctx, j)
		defer exectest.ReleaseMessages(msgs)
		if err != nil {
			t.Fatal(err)
		}
		before, after, n := splitAtBarrier(msgs)
		if n != 1 {
			t.Fatalf("%d barriers, want 1", n)
		}
		check(t, before, []string{"1|10|1|a|1|false"})
		check(t, after, []string{"1|11|1|b|1|false"})
	})
}

// TestLookupJoinSnapshotRestore: a lookup join snapshotted at a barrier
// during its bootstrap (stream rows held) and restored into a new join
// over the rest of its inputs emits, with what it emitted before, what an
// uninterrupted run emits.
func TestLookupJoinSnapshotRestore(t *testing.T) {
	mem := stMem(t)
	ctx := context.Background()
	barrier := exec.Message{Kind: exec.MsgBarrier, Barrier: 1}
	r1 := func() []exec.Message {
		return []exec.Message{exec.BatchMsg(exectest.Record(mem, upsertSchema, up(1, "a"), up(2, "b")), nil), barrier}
	}
	r2 := func() []exec.Message {
		return []exec.Message{exec.BatchMsg(exectest.Record(mem, upsertSchema, up(1, "a2"), up(3, "c"), del(2), marker), nil)}
	}
	l1 := func() []exec.Message {
		return []exec.Message{bids(mem, []any{1, 10}, []any{2, 20}), exec.WatermarkMsg(7), barrier}
	}
	l2 := func() []exec.Message {
		return []exec.Message{bids(mem, []any{3, 30}), bids(mem, []any{1, 11}, []any{2, 21})}
	}
	newJoin := func(l, r []exec.Message) *exec.LookupJoin {
		return newLookup(t, exectest.NewSource(bidSchema, l...), exectest.NewSource(upsertSchema, r...), exec.LeftJoin, nil, mem)
	}
	ref, err := exectest.CollectMessages(ctx, newJoin(append(l1(), l2()...), append(r1(), r2()...)))
	defer exectest.ReleaseMessages(ref)
	if err != nil {
		t.Fatal(err)
	}
	want := exectest.Changelog(ref)

	j1 := newJoin(l1(), r1())
	if err := j1.Open(ctx); err != nil {
		t.Fatal(err)
	}
	got := lookupToBarrier(t, ctx, j1)
	defer func() { exectest.ReleaseMessages(got) }()
	var snap bytes.Buffer
	if err := j1.State().Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	j1.Close()

	j2 := newJoin(l2(), r2())
	if err := j2.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if err := j2.State().Restore(bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatal(err)
	}
	got = lookupToEnd(t, ctx, j2, got)
	j2.Close()
	var gotRows []exec.Message
	for _, m := range got {
		if m.Kind != exec.MsgBarrier {
			gotRows = append(gotRows, m)
		}
	}
	if err := exectest.Equal(exectest.Changelog(gotRows), want); err != nil {
		t.Fatal(err)
	}
	if len(want) != 5 {
		t.Fatalf("reference has %d rows, want 5: %v", len(want), want)
	}
	t.Logf("result %v", want)

	// A truncated snapshot is refused.
	j3 := newJoin(nil, nil)
	if err := j3.State().Restore(bytes.NewReader(snap.Bytes()[:snap.Len()-3])); err == nil {
		t.Error("a truncated snapshot restored")
	}
	j3.Close()
}
