package exec_test

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
)

// splitAtBarrier returns the rows of msgs before and after their (single)
// barrier, each sorted, and the number of barriers.
func splitAtBarrier(msgs []exec.Message) (before, after []string, barriers int) {
	for _, m := range msgs {
		switch m.Kind {
		case exec.MsgBarrier:
			barriers++
		case exec.MsgBatch:
			for i := 0; i < int(m.Batch.Rec.NumRows()); i++ {
				if barriers == 0 {
					before = append(before, exectest.Row(m.Batch.Rec, i))
				} else {
					after = append(after, exectest.Row(m.Batch.Rec, i))
				}
			}
		}
	}
	slices.Sort(before)
	slices.Sort(after)
	return before, after, barriers
}

// TestUnionAlignsBarriers: the union passes a barrier on once, after
// exactly the rows each input returned before it; a faster input's rows
// after its barrier come after the union's.
func TestUnionAlignsBarriers(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("a", i64)
	barrier := exec.Message{Kind: exec.MsgBarrier, Barrier: 3}
	a := exectest.NewSource(s, exec.BatchMsg(exectest.Record(mem, s, []any{1}), nil), barrier,
		exec.BatchMsg(exectest.Record(mem, s, []any{3}), nil), exec.BatchMsg(exectest.Record(mem, s, []any{5}), nil))
	b := exectest.NewSource(s, exec.BatchMsg(exectest.Record(mem, s, []any{2}), nil),
		exec.BatchMsg(exectest.Record(mem, s, []any{4}), nil), barrier, exec.BatchMsg(exectest.Record(mem, s, []any{6}), nil))
	msgs, err := exectest.CollectMessages(context.Background(), exec.NewUnion([]exec.Operator{a, b}))
	defer exectest.ReleaseMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	before, after, n := splitAtBarrier(msgs)
	if n != 1 {
		t.Fatalf("%d barriers, want 1", n)
	}
	check(t, before, []string{"1", "2", "4"})
	check(t, after, []string{"3", "5", "6"})
}

// TestSymmetricJoinAlignsBarriers: an inner hash join over streams (it
// goes symmetric at the right input's barrier) passes the barrier on
// after exactly the rows before it on both sides, also when the left
// input brought its barrier while the join was still reading the build
// side (the left rows after it are not read before the switch).
func TestSymmetricJoinAlignsBarriers(t *testing.T) {
	mem := stMem(t)
	s := exectest.Schema("k", i64, "v", i64)
	barrier := exec.Message{Kind: exec.MsgBarrier, Barrier: 7}
	left := exectest.NewSource(s,
		exec.BatchMsg(exectest.Record(mem, s, []any{1, 10}), nil),
		barrier,
		exec.BatchMsg(exectest.Record(mem, s, []any{2, 20}), nil))
	right := exectest.NewSource(s,
		exec.BatchMsg(exectest.Record(mem, s, []any{2, 200}), nil),
		exec.BatchMsg(exectest.Record(mem, s, []any{1, 100}), nil),
		barrier,
		exec.BatchMsg(exectest.Record(mem, s, []any{1, 101}), nil))
	// The right input starts once the left one has been asked for its
	// End (its rows after the barrier are then ready for the join): a join
	// that read on past the left barrier would join them before it.
	lc := &counted{Source: left, at: 4, reached: make(chan struct{})}
	rg := &gated{Source: right, gate: lc.reached}
	j, err := exec.NewHashJoin(lc, rg, []expr.Expr{colOf(s, "k")}, []expr.Expr{colOf(s, "k")}, exec.InnerJoin, nil, mem)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := exectest.CollectMessages(context.Background(), j)
	defer exectest.ReleaseMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	before, after, n := splitAtBarrier(msgs)
	if n != 1 {
		t.Fatalf("%d barriers, want 1", n)
	}
	check(t, before, []string{"1|10|1|100"})
	check(t, after, []string{"1|10|1|101", "2|20|2|200"})
}

// TestSymmetricJoinSnapshotRestore: a symmetric join snapshotted at a
// barrier and restored into a new join over the rest of its inputs
// produces, with what it emitted before, the changelog of an uninterrupted
// run (retractions of stored rows and the state TTL included).
func TestSymmetricJoinSnapshotRestore(t *testing.T) {
	mem := stMem(t)
	ctx := context.Background()
	s := exectest.Schema("k", i64, "ts", tsType)
	barrier := exec.Message{Kind: exec.MsgBarrier, Barrier: 1}
	row := func(k int64, ts float64) exec.Message {
		return exec.BatchMsg(exectest.Record(mem, s, []any{k, sec(ts)}), nil)
	}
	del := func(k int64, ts float64) exec.Message {
		return exec.BatchMsg(exectest.Record(mem, s, []any{k, sec(ts)}), []exec.ChangeKind{exec.Delete})
	}
	// Phase 1 up to the barrier, phase 2 after it. Keys 1..3; the right
	// retracts its key-3 row after the checkpoint; with a 10 s TTL the
	// left's key-1 row (touched at 1 s) is gone once the right's watermark
	// passes 11 s, so the late right key-1 row at 20 s does not match it.
	l1 := func() []exec.Message {
		return []exec.Message{row(1, 1), exec.WatermarkMsg(int64(sec(1))), row(2, 2), barrier}
	}
	r1 := func() []exec.Message {
		return []exec.Message{row(3, 1), exec.WatermarkMsg(int64(sec(1))), row(2, 3), barrier}
	}
	l2 := func() []exec.Message { return []exec.Message{row(3, 4), row(2, 5)} }
	r2 := func() []exec.Message {
		return []exec.Message{del(3, 1), row(1, 4), exec.WatermarkMsg(int64(sec(20))), row(1, 20), row(2, 21)}
	}
	newJoin := func(l, r []exec.Message) *exec.HashJoin {
		j, err := exec.NewHashJoin(exectest.NewSource(s, l...), exectest.NewSource(s, r...),
			[]expr.Expr{colOf(s, "k")}, []expr.Expr{colOf(s, "k")}, exec.InnerJoin, nil, mem)
		if err != nil {
			t.Fatal(err)
		}
		hj := j.(*exec.HashJoin)
		hj.SetStateTTL(10e9)
		return hj
	}
	ref, err := exectest.CollectMessages(ctx, newJoin(append(l1(), l2()...), append(r1(), r2()...)))
	defer exectest.ReleaseMessages(ref)
	if err != nil {
		t.Fatal(err)
	}
	want, err := exectest.Fold(ref)
	if err != nil {
		t.Fatal(err)
	}

	j1 := newJoin(l1(), r1())
	var snap bytes.Buffer
	if err := j1.State().Snapshot(&snap); err != nil { // not started: empty
		t.Fatal(err)
	}
	if err := j1.Open(ctx); err != nil {
		t.Fatal(err)
	}
	var got []exec.Message
	defer func() { exectest.ReleaseMessages(got) }()
	for {
		m, err := j1.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind == exec.MsgEnd {
			t.Fatal("no barrier")
		}
		got = append(got, m)
		if m.Kind == exec.MsgBarrier {
			break
		}
	}
	snap.Reset()
	if err := j1.State().Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	entries := j1.State().Entries()
	j1.Close()

	j2 := newJoin(l2(), r2())
	if err := j2.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if err := j2.State().Restore(bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatal(err)
	}
	if n := j2.State().Entries(); n != entries || n != 4 {
		t.Fatalf("restored %d entries, snapshotted %d, want 4", n, entries)
	}
	for {
		m, err := j2.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind == exec.MsgEnd {
			break
		}
		got = append(got, m)
	}
	j2.Close()
	folded, err := exectest.Fold(got)
	if err != nil {
		t.Fatal(err)
	}
	check(t, folded, want)
	if len(want) < 3 {
		t.Fatalf("reference has only %d rows: %v", len(want), want)
	}
	t.Logf("result %v", want)

	// A corrupt snapshot is refused and leaves no memory behind.
	j3 := newJoin(nil, nil)
	if err := j3.State().Restore(bytes.NewReader(snap.Bytes()[:snap.Len()-3])); err == nil {
		t.Error("a truncated snapshot restored")
	}
	j3.Close()
}

// counted closes reached when Next is called the at-th time.
type counted struct {
	*exectest.Source
	n, at   int
	reached chan struct{}
}

func (c *counted) Next(ctx context.Context) (exec.Message, error) {
	c.n++
	if c.n == c.at {
		close(c.reached)
	}
	return c.Source.Next(ctx)
}

// gated returns nothing until gate is closed.
type gated struct {
	*exectest.Source
	gate chan struct{}
}

func (g *gated) Next(ctx context.Context) (exec.Message, error) {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return exec.Message{}, ctx.Err()
	}
	return g.Source.Next(ctx)
}
