package exec_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
)

// outerChangelog runs a symmetric join of typ in which every left message
// is processed before any right row: both inputs start with a watermark
// (the join goes symmetric) and the right input then waits at a barrier,
// which the join aligns with the left's barrier after its rows. It returns
// the changelog, in order.
func outerChangelog(t *testing.T, mem memory.Allocator, typ exec.JoinType, left, right []exec.Message) []string {
	t.Helper()
	barrier := exec.Message{Kind: exec.MsgBarrier, Barrier: 1}
	l := append(append([]exec.Message{exec.WatermarkMsg(1)}, left...), barrier)
	r := append([]exec.Message{exec.WatermarkMsg(1), barrier}, right...)
	j := must(exec.NewHashJoin(exectest.NewSource(joinL, l...), exectest.NewSource(joinR, r...),
		[]expr.Expr{col(joinL, "lk")}, []expr.Expr{col(joinR, "rk")}, typ, nil, mem))
	msgs, err := exectest.CollectMessages(context.Background(), j)
	defer exectest.ReleaseMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exectest.Fold(msgs); err != nil {
		t.Fatalf("%s join: %v\n%q", typ, err, exectest.Changelog(msgs))
	}
	return exectest.Changelog(msgs)
}

// TestSymmetricOuterJoinChangelog checks the exact changelog of each join
// type when a match arrives after its row and is then retracted.
func TestSymmetricOuterJoinChangelog(t *testing.T) {
	mem := newMem(t)
	lrow := func(op exec.ChangeKind, k any, v string) exec.Message {
		return exec.BatchMsg(exectest.Record(mem, joinL, []any{k, v}), []exec.ChangeKind{op})
	}
	rrow := func(op exec.ChangeKind, k any, v int64) exec.Message {
		return exec.BatchMsg(exectest.Record(mem, joinR, []any{k, v}), []exec.ChangeKind{op})
	}
	// The left rows come first, then the right rows (outerChangelog).
	cases := []struct {
		typ         exec.JoinType
		left, right func() []exec.Message
		want        []string
	}{
		{exec.LeftJoin,
			func() []exec.Message {
				return []exec.Message{lrow(exec.Insert, 1, "a"), lrow(exec.Insert, nil, "n")}
			},
			func() []exec.Message {
				return []exec.Message{rrow(exec.Insert, 1, 10), rrow(exec.Insert, 1, 11), rrow(exec.Delete, 1, 10), rrow(exec.Delete, 1, 11), rrow(exec.Insert, 2, 20)}
			},
			[]string{"+I 1|a|NULL|NULL", "+I NULL|n|NULL|NULL",
				"-D 1|a|NULL|NULL", "+I 1|a|1|10", // first match
				"+I 1|a|1|11",
				"-D 1|a|1|10",
				"-D 1|a|1|11", "+I 1|a|NULL|NULL"}, // last match gone
		},
		{exec.RightJoin,
			func() []exec.Message { return []exec.Message{lrow(exec.Insert, 1, "a")} },
			func() []exec.Message {
				return []exec.Message{rrow(exec.Insert, 1, 10), rrow(exec.Insert, 2, 20), rrow(exec.Delete, 2, 20)}
			},
			[]string{"+I 1|a|1|10", "+I NULL|NULL|2|20", "-D NULL|NULL|2|20"},
		},
		{exec.FullJoin,
			func() []exec.Message { return []exec.Message{lrow(exec.Insert, 1, "a"), lrow(exec.Insert, 3, "c")} },
			func() []exec.Message {
				return []exec.Message{rrow(exec.Insert, 1, 10), rrow(exec.Insert, 2, 20), rrow(exec.Delete, 1, 10)}
			},
			[]string{"+I 1|a|NULL|NULL", "+I 3|c|NULL|NULL",
				"-D 1|a|NULL|NULL", "+I 1|a|1|10", "+I NULL|NULL|2|20",
				"-D 1|a|1|10", "+I 1|a|NULL|NULL"},
		},
		{exec.SemiJoin,
			func() []exec.Message { return []exec.Message{lrow(exec.Insert, 1, "a"), lrow(exec.Insert, 2, "b")} },
			func() []exec.Message {
				return []exec.Message{rrow(exec.Insert, 1, 10), rrow(exec.Insert, 1, 11), rrow(exec.Delete, 1, 10), rrow(exec.Delete, 1, 11)}
			},
			[]string{"+I 1|a", "-D 1|a"},
		},
		{exec.AntiJoin,
			func() []exec.Message { return []exec.Message{lrow(exec.Insert, 1, "a"), lrow(exec.Insert, nil, "n")} },
			func() []exec.Message {
				return []exec.Message{rrow(exec.Insert, 1, 10), rrow(exec.Insert, 1, 11), rrow(exec.Delete, 1, 11), rrow(exec.Delete, 1, 10)}
			},
			[]string{"+I 1|a", "+I NULL|n", "-D 1|a", "+I 1|a"},
		},
	}
	for _, c := range cases {
		t.Run(c.typ.String(), func(t *testing.T) {
			got := outerChangelog(t, mem, c.typ, c.left(), c.right())
			check(t, got, c.want)
		})
	}
}

// refRow is a row of the randomized tests: key (nil: NULL) and value.
type refRow struct {
	k *int64
	v int64
}

func (r refRow) cells(str bool) []any {
	var k any
	if r.k != nil {
		k = *r.k
	}
	if str {
		return []any{k, fmt.Sprint(r.v)}
	}
	return []any{k, r.v}
}

func (r refRow) render() string {
	k := "NULL"
	if r.k != nil {
		k = fmt.Sprint(*r.k)
	}
	return k + "|" + fmt.Sprint(r.v)
}

// randomSide is a random changelog of one input: batches of inserts and
// retractions of rows inserted earlier, and the rows left at the end.
func randomSide(r *rand.Rand, n int) (batches [][]refRow, ops [][]exec.ChangeKind, final []refRow) {
	var live []refRow
	for len(batches) < n {
		var rows []refRow
		var kinds []exec.ChangeKind
		for m := 1 + r.IntN(4); m > 0; m-- {
			if len(live) > 0 && r.IntN(3) == 0 {
				i := r.IntN(len(live))
				rows = append(rows, live[i])
				kinds = append(kinds, exec.Delete)
				live = append(live[:i], live[i+1:]...)
				continue
			}
			row := refRow{v: int64(r.IntN(5))}
			if r.IntN(8) != 0 {
				k := int64(r.IntN(6))
				row.k = &k
			}
			rows = append(rows, row)
			kinds = append(kinds, exec.Insert)
			live = append(live, row)
		}
		batches = append(batches, rows)
		ops = append(ops, kinds)
	}
	return batches, ops, live
}

// expectJoin is the reference join of the final rows (residual: rv <> 3).
func expectJoin(typ exec.JoinType, residual bool, left, right []refRow) []string {
	ok := func(l, r refRow) bool {
		return l.k != nil && r.k != nil && *l.k == *r.k && (!residual || r.v != 3)
	}
	var out []string
	rhit := make([]bool, len(right))
	for _, l := range left {
		n := 0
		for ri, r := range right {
			if ok(l, r) {
				n++
				rhit[ri] = true
				if typ != exec.SemiJoin && typ != exec.AntiJoin {
					out = append(out, l.render()+"|"+r.render())
				}
			}
		}
		switch {
		case typ == exec.SemiJoin && n > 0, typ == exec.AntiJoin && n == 0:
			out = append(out, l.render())
		case n == 0 && (typ == exec.LeftJoin || typ == exec.FullJoin):
			out = append(out, l.render()+"|NULL|NULL")
		}
	}
	for ri, r := range right {
		if !rhit[ri] && (typ == exec.RightJoin || typ == exec.FullJoin) {
			out = append(out, "NULL|NULL|"+r.render())
		}
	}
	slices.Sort(out)
	return out
}

// TestSymmetricOuterJoinRandom: random changelogs on both inputs, every
// join type, with and without a residual condition and with a checkpoint
// (snapshot, restore into a new join) half-way: the changelog never
// retracts a row it did not emit and folds to the join of the final rows.
func TestSymmetricOuterJoinRandom(t *testing.T) {
	mem := newMem(t)
	ctx := context.Background()
	types := []exec.JoinType{exec.InnerJoin, exec.LeftJoin, exec.RightJoin, exec.FullJoin, exec.SemiJoin, exec.AntiJoin}
	for seed := uint64(0); seed < 40; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		lb, lops, lfinal := randomSide(r, 12)
		rb, rops, rfinal := randomSide(r, 12)
		cut := 1 + r.IntN(10)
		for _, typ := range types {
			for _, residual := range []bool{false, true} {
				for _, checkpoint := range []bool{false, true} {
					msgs := func(s string, batches [][]refRow, ops [][]exec.ChangeKind, lo, hi int) []exec.Message {
						var out []exec.Message
						if lo == 0 {
							out = append(out, exec.WatermarkMsg(1))
						}
						sc := joinL
						if s == "r" {
							sc = joinR
						}
						for b := lo; b < hi; b++ {
							var rows [][]any
							for _, row := range batches[b] {
								rows = append(rows, row.cells(s == "l"))
							}
							out = append(out, exec.BatchMsg(exectest.Record(mem, sc, rows...), slices.Clone(ops[b])))
						}
						return out
					}
					newJoin := func(l, rr []exec.Message) *exec.HashJoin {
						var res expr.Expr
						if residual {
							res = must(expr.NewCall("<>", pairCol(1, "rv", i64), expr.Lit(int64(3))))
						}
						j := must(exec.NewHashJoin(exectest.NewSource(joinL, l...), exectest.NewSource(joinR, rr...),
							[]expr.Expr{col(joinL, "lk")}, []expr.Expr{col(joinR, "rk")}, typ, res, mem))
						return j.(*exec.HashJoin)
					}
					var got []exec.Message
					if !checkpoint {
						j := newJoin(msgs("l", lb, lops, 0, len(lb)), msgs("r", rb, rops, 0, len(rb)))
						var err error
						if got, err = exectest.CollectMessages(ctx, j); err != nil {
							exectest.ReleaseMessages(got)
							t.Fatalf("seed %d, %s join: %v\nleft %v %v\nright %v %v", seed, typ, err, lb, lops, rb, rops)
						}
					} else {
						barrier := exec.Message{Kind: exec.MsgBarrier, Barrier: 1}
						j1 := newJoin(append(msgs("l", lb, lops, 0, cut), barrier), append(msgs("r", rb, rops, 0, cut), barrier))
						var snap []byte
						got, snap = snapshotAtBarrier(t, ctx, j1)
						j2 := newJoin(msgs("l", lb, lops, cut, len(lb)), msgs("r", rb, rops, cut, len(rb)))
						more, err := resumeFrom(t, ctx, j2, snap)
						got = append(got, more...)
						if err != nil {
							exectest.ReleaseMessages(got)
							t.Fatalf("seed %d, %s join, cut %d: %v\nleft %v %v\nright %v %v", seed, typ, cut, err, lb, lops, rb, rops)
						}
					}
					folded, err := exectest.Fold(got)
					log := exectest.Changelog(got)
					exectest.ReleaseMessages(got)
					name := fmt.Sprintf("seed %d, %s join, residual %v, checkpoint %v", seed, typ, residual, checkpoint)
					if err != nil {
						t.Fatalf("%s: %v\n%q", name, err, log)
					}
					if err := exectest.Equal(folded, expectJoin(typ, residual, lfinal, rfinal)); err != nil {
						t.Fatalf("%s: %v\n%q", name, err, log)
					}
				}
			}
		}
	}
}

// statefulOp is an operator with checkpointed state.
type statefulOp interface {
	exec.Operator
	exec.Stateful
}

// snapshotAtBarrier opens op and pulls it to its first barrier; it returns
// the messages before the barrier and the snapshot of op's state there,
// and closes op. No barrier is fatal.
func snapshotAtBarrier(t *testing.T, ctx context.Context, op statefulOp) ([]exec.Message, []byte) {
	t.Helper()
	if err := op.Open(ctx); err != nil {
		t.Fatal(err)
	}
	var got []exec.Message
	for {
		m, err := op.Next(ctx)
		if err != nil || m.Kind == exec.MsgEnd {
			t.Fatalf("no barrier (%v)", err)
		}
		if m.Kind == exec.MsgBarrier {
			break
		}
		got = append(got, m)
	}
	var snap bytes.Buffer
	if err := op.State().Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	op.Close()
	return got, snap.Bytes()
}

// resumeFrom opens op, restores snap into it and pulls it to the end: the
// messages, and the error that stopped it early; it closes op.
func resumeFrom(t *testing.T, ctx context.Context, op statefulOp, snap []byte) ([]exec.Message, error) {
	t.Helper()
	if err := op.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if err := op.State().Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	// Already open: drained by hand (CollectMessages opens).
	var got []exec.Message
	for {
		m, err := op.Next(ctx)
		if err != nil {
			return got, err
		}
		if m.Kind == exec.MsgEnd {
			return got, nil
		}
		got = append(got, m)
	}
}

// TestOuterJoinBoundedMatchesSymmetric: over append-only inputs, the
// bounded run (build then probe) of every join type folds to the same rows
// as the symmetric run, and the reference.
func TestOuterJoinBoundedMatchesSymmetric(t *testing.T) {
	mem := newMem(t)
	r := rand.New(rand.NewPCG(3, 4))
	var lrows, rrows []refRow
	var lcells, rcells [][]any
	for i := 0; i < 200; i++ {
		k1, k2 := int64(r.IntN(60)), int64(r.IntN(60))
		lrows, rrows = append(lrows, refRow{&k1, int64(i)}), append(rrows, refRow{&k2, int64(i % 7)})
		lcells, rcells = append(lcells, lrows[i].cells(true)), append(rcells, rrows[i].cells(false))
	}
	for _, typ := range []exec.JoinType{exec.LeftJoin, exec.RightJoin, exec.FullJoin, exec.SemiJoin, exec.AntiJoin} {
		for _, sym := range []bool{false, true} {
			var lm, rm []exec.Message
			if sym {
				lm, rm = []exec.Message{exec.WatermarkMsg(1)}, []exec.Message{exec.WatermarkMsg(1)}
			}
			for b := 0; b < 200; b += 50 {
				lm = append(lm, exec.BatchMsg(exectest.Record(mem, joinL, lcells[b:b+50]...), nil))
				rm = append(rm, exec.BatchMsg(exectest.Record(mem, joinR, rcells[b:b+50]...), nil))
			}
			res := must(expr.NewCall("<>", pairCol(1, "rv", i64), expr.Lit(int64(3))))
			j := must(exec.NewHashJoin(exectest.NewSource(joinL, lm...), exectest.NewSource(joinR, rm...),
				[]expr.Expr{col(joinL, "lk")}, []expr.Expr{col(joinR, "rk")}, typ, res, mem))
			msgs, err := exectest.CollectMessages(context.Background(), j)
			if err != nil {
				t.Fatal(err)
			}
			folded, err := exectest.Fold(msgs)
			exectest.ReleaseMessages(msgs)
			if err != nil {
				t.Fatal(err)
			}
			if err := exectest.Equal(folded, expectJoin(typ, true, lrows, rrows)); err != nil {
				t.Errorf("%s join, symmetric %v: %v", typ, sym, err)
			}
		}
	}
}

// TestSymmetricOuterJoinSnapshotTTL: outer, semi and anti joins with a
// state TTL, snapshotted at a barrier and restored into a new join over the
// rest of their inputs, fold to what an uninterrupted run gives (touch
// times and match counts are in the snapshot), and a snapshot of one join
// type does not restore into another.
func TestSymmetricOuterJoinSnapshotTTL(t *testing.T) {
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
	// As in TestSymmetricJoinSnapshotRestore: with a 10 s TTL the left's
	// key-1 row (touched at 1 s) is gone once the right's watermark passes
	// 11 s, so the right key-1 row at 20 s does not match it; the right
	// retracts its key-3 row (matched before the checkpoint) after it.
	l1 := func() []exec.Message {
		return []exec.Message{row(1, 1), exec.WatermarkMsg(int64(sec(1))), row(2, 2), row(4, 2), barrier}
	}
	r1 := func() []exec.Message {
		return []exec.Message{row(3, 1), exec.WatermarkMsg(int64(sec(1))), row(2, 3), barrier}
	}
	l2 := func() []exec.Message { return []exec.Message{row(3, 4), row(2, 5)} }
	r2 := func() []exec.Message {
		return []exec.Message{del(3, 1), row(1, 4), row(4, 4), exec.WatermarkMsg(int64(sec(20))), row(1, 20), row(2, 21)}
	}
	for _, typ := range []exec.JoinType{exec.LeftJoin, exec.RightJoin, exec.FullJoin, exec.SemiJoin, exec.AntiJoin} {
		newJoin := func(typ exec.JoinType, l, r []exec.Message) *exec.HashJoin {
			j := must(exec.NewHashJoin(exectest.NewSource(s, l...), exectest.NewSource(s, r...),
				[]expr.Expr{colOf(s, "k")}, []expr.Expr{colOf(s, "k")}, typ, nil, mem)).(*exec.HashJoin)
			j.SetStateTTL(10e9)
			return j
		}
		ref, err := exectest.CollectMessages(ctx, newJoin(typ, append(l1(), l2()...), append(r1(), r2()...)))
		if err != nil {
			t.Fatal(err)
		}
		want, err := exectest.Fold(ref)
		exectest.ReleaseMessages(ref)
		if err != nil {
			t.Fatal(err)
		}
		got, snap := snapshotAtBarrier(t, ctx, newJoin(typ, l1(), r1()))
		other := newJoin(exec.InnerJoin, nil, nil)
		if err := other.State().Restore(bytes.NewReader(snap)); err == nil {
			t.Errorf("a %s join's snapshot restored into an inner join", typ)
		}
		other.Close()
		more, err := resumeFrom(t, ctx, newJoin(typ, l2(), r2()), snap)
		got = append(got, more...)
		if err != nil {
			t.Fatal(err)
		}
		folded, err := exectest.Fold(got)
		log := exectest.Changelog(got)
		exectest.ReleaseMessages(got)
		if err != nil {
			t.Fatalf("%s join: %v\n%q", typ, err, log)
		}
		if err := exectest.Equal(folded, want); err != nil {
			t.Errorf("%s join: %v\n%q", typ, err, log)
		}
		t.Logf("%s join: %v", typ, want)
	}
}

// TestHashJoinChangelogBuildSide: a build side whose first sign of
// streaming is a retraction (an aggregate's update before any watermark or
// barrier) makes the join symmetric instead of failing; a join kept bounded
// (SetBoundedInputs) refuses it.
func TestHashJoinChangelogBuildSide(t *testing.T) {
	mem := newMem(t)
	ctx := context.Background()
	for _, typ := range []exec.JoinType{exec.InnerJoin, exec.LeftJoin, exec.AntiJoin} {
		for _, bounded := range []bool{false, true} {
			right := exectest.NewSource(joinR,
				exec.BatchMsg(exectest.Record(mem, joinR, []any{1, 10}), nil),
				exec.BatchMsg(exectest.Record(mem, joinR, []any{1, 10}, []any{1, 11}, []any{2, 20}),
					[]exec.ChangeKind{exec.UpdateBefore, exec.UpdateAfter, exec.Insert}),
			)
			left := exectest.NewSource(joinL, exec.BatchMsg(exectest.Record(mem, joinL, []any{1, "a"}, []any{3, "c"}), nil))
			j := must(exec.NewHashJoin(left, right, []expr.Expr{col(joinL, "lk")}, []expr.Expr{col(joinR, "rk")}, typ, nil, mem)).(*exec.HashJoin)
			if bounded {
				j.SetBoundedInputs()
			}
			msgs, err := exectest.CollectMessages(ctx, j)
			folded, ferr := exectest.Fold(msgs)
			exectest.ReleaseMessages(msgs)
			if bounded && typ != exec.InnerJoin {
				if err == nil {
					t.Errorf("%s join kept bounded took retractions on its build side", typ)
				}
				continue
			}
			if err != nil || ferr != nil {
				t.Fatalf("%s join: %v %v", typ, err, ferr)
			}
			want := map[exec.JoinType][]string{
				exec.InnerJoin: {"1|a|1|11"},
				exec.LeftJoin:  {"1|a|1|11", "3|c|NULL|NULL"},
				exec.AntiJoin:  {"3|c"},
			}[typ]
			if err := exectest.Equal(folded, want); err != nil {
				t.Errorf("%s join: %v", typ, err)
			}
		}
	}
}

// TestHashJoinOpenDoesNotPull: Open opens the inputs but pulls neither
// before the first Next: a job restores the opened tree's states before
// pulling it, and an input pulled meanwhile (an aggregate below an outer
// join) would run on its empty state, racing its Restore.
func TestHashJoinOpenDoesNotPull(t *testing.T) {
	mem := newMem(t)
	ctx := context.Background()
	left := &pullCounter{Source: exectest.NewSource(joinL, exec.BatchMsg(exectest.Record(mem, joinL, []any{1, "a"}), nil))}
	right := &pullCounter{Source: exectest.NewSource(joinR, exec.WatermarkMsg(1))}
	j := must(exec.NewHashJoin(left, right, []expr.Expr{col(joinL, "lk")}, []expr.Expr{col(joinR, "rk")}, exec.LeftJoin, nil, mem))
	if err := j.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if l, r := left.pulls.Load(), right.pulls.Load(); l != 0 || r != 0 {
		t.Fatalf("opened and closed without Next: inputs pulled %d and %d times, want 0", l, r)
	}
}
