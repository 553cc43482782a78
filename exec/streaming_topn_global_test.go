package exec_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
)

// The global streaming Top-N (no partition: a continuous ORDER BY ...
// LIMIT n OFFSET m) must fold to what the bounded TopN returns for the same
// rows, ties (kept by arrival) and offsets included.

var gtopnS = exectest.Schema("k", arrow.PrimitiveTypes.Int64, "id", arrow.PrimitiveTypes.Int64)

// gtopnRows draws rows with few distinct keys (many ties) and some NULLs.
func gtopnRows(r *rand.Rand, n int) [][]any {
	rows := make([][]any, n)
	for i := range rows {
		var k any = r.Int64N(6)
		if r.IntN(10) == 0 {
			k = nil
		}
		rows[i] = []any{k, int64(r.IntN(4))} // ids repeat: equal rows happen
	}
	return rows
}

// splitBatches cuts rows into batches of random sizes (1..5).
func splitBatches(r *rand.Rand, rows [][]any) [][][]any {
	var out [][][]any
	for len(rows) > 0 {
		n := min(len(rows), 1+r.IntN(5))
		out = append(out, rows[:n])
		rows = rows[n:]
	}
	return out
}

// boundedTopN runs the bounded TopN over rows as one batch.
func boundedTopN(t *testing.T, mem memory.Allocator, rows [][]any, keys []exec.SortKey, offset, limit int64) []string {
	t.Helper()
	if len(rows) == 0 {
		return nil
	}
	op, err := exec.NewTopN(values(mem, gtopnS, rows), keys, offset, limit, mem)
	if err != nil {
		t.Fatal(err)
	}
	got := run(t, op)
	sort.Strings(got)
	return got
}

func gtopnKeys(desc bool) []exec.SortKey {
	return []exec.SortKey{{Expr: col(gtopnS, "k"), Desc: desc, NullsFirst: !desc}}
}

// foldGlobalTopN runs msgs through a global streaming Top-N of n rows
// after offset m by k (desc or not), retractable or not, and returns its
// output folded (an error: a retraction of a row not emitted).
func foldGlobalTopN(t *testing.T, mem memory.Allocator, msgs []exec.Message, desc bool, n, m int, retract bool) ([]string, error) {
	t.Helper()
	tn, err := exec.NewStreamingTopN(exectest.NewSource(gtopnS, msgs...), nil, gtopnKeys(desc), n, mem)
	if err != nil {
		t.Fatal(err)
	}
	if err := tn.SetOffset(m); err != nil {
		t.Fatal(err)
	}
	tn.SetRetractable(retract)
	out, err := exectest.CollectMessages(context.Background(), tn)
	if err != nil {
		t.Fatal(err)
	}
	defer exectest.ReleaseMessages(out)
	return exectest.Fold(out)
}

func TestGlobalStreamingTopNMatchesBounded(t *testing.T) {
	mem := newMem(t)
	r := rand.New(rand.NewPCG(7, 11))
	for iter := 0; iter < 300; iter++ {
		rows := gtopnRows(r, 1+r.IntN(40))
		n, m := 1+r.IntN(5), r.IntN(4)
		desc, retract := r.IntN(2) == 0, r.IntN(2) == 0
		var msgs []exec.Message
		for _, b := range splitBatches(r, rows) {
			msgs = append(msgs, exec.BatchMsg(exectest.Record(mem, gtopnS, b...), nil))
		}
		got, err := foldGlobalTopN(t, mem, msgs, desc, n, m, retract)
		if err != nil {
			t.Fatalf("iteration %d: %v", iter, err)
		}
		want := boundedTopN(t, mem, rows, gtopnKeys(desc), int64(m), int64(n))
		if err := exectest.Equal(got, want); err != nil {
			t.Fatalf("iteration %d (n=%d offset=%d desc=%v retractable=%v, rows %v): %v", iter, n, m, desc, retract, rows, err)
		}
	}
}

// TestGlobalStreamingTopNChangelogMatchesBounded feeds inserts and deletes
// of live rows: the folded output equals the bounded TopN of the rows live
// at the end, in the order they were inserted (a retraction removes the
// earliest equal row).
func TestGlobalStreamingTopNChangelogMatchesBounded(t *testing.T) {
	mem := newMem(t)
	r := rand.New(rand.NewPCG(3, 5))
	for iter := 0; iter < 300; iter++ {
		n, m := 1+r.IntN(4), r.IntN(3)
		desc := r.IntN(2) == 0
		var live [][]any
		var rows [][]any
		var kinds []exec.ChangeKind
		for i := 0; i < 50; i++ {
			if len(live) > 0 && r.IntN(3) == 0 {
				j := r.IntN(len(live))
				row := live[j]
				first := slices.IndexFunc(live, func(x []any) bool { return fmt.Sprint(x) == fmt.Sprint(row) })
				live = slices.Delete(live, first, first+1)
				rows, kinds = append(rows, row), append(kinds, []exec.ChangeKind{exec.Delete, exec.UpdateBefore}[r.IntN(2)])
				continue
			}
			row := gtopnRows(r, 1)[0]
			live = append(live, row)
			rows, kinds = append(rows, row), append(kinds, []exec.ChangeKind{exec.Insert, exec.UpdateAfter}[r.IntN(2)])
		}
		var msgs []exec.Message
		for len(rows) > 0 {
			c := min(len(rows), 1+r.IntN(6))
			msgs = append(msgs, exec.BatchMsg(exectest.Record(mem, gtopnS, rows[:c]...), slices.Clone(kinds[:c])))
			rows, kinds = rows[c:], kinds[c:]
		}
		got, err := foldGlobalTopN(t, mem, msgs, desc, n, m, true)
		if err != nil {
			t.Fatalf("iteration %d: %v", iter, err)
		}
		want := boundedTopN(t, mem, live, gtopnKeys(desc), int64(m), int64(n))
		if err := exectest.Equal(got, want); err != nil {
			t.Fatalf("iteration %d (n=%d offset=%d desc=%v): %v", iter, n, m, desc, err)
		}
	}
}

// TestStreamingTopNOffsetChanges checks the exact changelog of an offset:
// a row entering above the emitted ranks pushes the row at the offset's
// boundary into the output.
func TestStreamingTopNOffsetChanges(t *testing.T) {
	mem := newMem(t)
	// n=2 OFFSET 1 keeps the best 3 and emits ranks 2 and 3.
	src := exectest.NewSource(gtopnS,
		exec.BatchMsg(exectest.Record(mem, gtopnS, []any{5, 1}, []any{3, 2}), nil), // 3 takes rank 1: 5 moves to rank 2 (+I)
		exec.BatchMsg(exectest.Record(mem, gtopnS, []any{1, 3}), nil),              // 1 takes rank 1: 3 moves to rank 2 (+I), 5 to 3
		exec.BatchMsg(exectest.Record(mem, gtopnS, []any{9, 4}), nil),              // worse than the 3 kept: nothing
		exec.BatchMsg(exectest.Record(mem, gtopnS, []any{3, 5}), nil),              // ties with 3|2, ranks after it: 5 out, 3|5 in
	)
	tn, err := exec.NewStreamingTopN(src, nil, gtopnKeys(false), 2, mem)
	if err != nil {
		t.Fatal(err)
	}
	if err := tn.SetOffset(1); err != nil {
		t.Fatal(err)
	}
	msgs, err := exectest.CollectMessages(context.Background(), tn)
	defer exectest.ReleaseMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	got := exectest.Changelog(msgs)
	exp := []string{"+I 5|1", "+I 3|2", "-D 5|1", "+I 3|5"}
	if err := exectest.Equal(got, exp); err != nil {
		t.Fatal(err)
	}
}

// TestStreamingTopNStateTTL: a partition is forgotten silently once the
// watermark passes its last touch + TTL; the next row starts a new top n
// and a retraction of a forgotten row is dropped.
func TestStreamingTopNStateTTL(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("p", arrow.BinaryTypes.String, "v", arrow.PrimitiveTypes.Int64)
	sec := func(n int64) int64 { return n * 1e6 }
	msgs := []exec.Message{
		exec.BatchMsg(exectest.Record(mem, s, []any{"a", 5}, []any{"b", 7}), nil),
		exec.WatermarkMsg(sec(10)),                                 // both touched at 10 (the first watermark)
		exec.BatchMsg(exectest.Record(mem, s, []any{"b", 1}), nil), // b touched at 10 (no better row: still a touch)
		exec.WatermarkMsg(sec(20)),
		exec.BatchMsg(exectest.Record(mem, s, []any{"b", 2}), nil), // b touched at 20
		exec.WatermarkMsg(sec(21)),                                 // a expires (10 + 10 < 21); b lives to 30
		exec.BatchMsg(exectest.Record(mem, s, []any{"a", 1}, []any{"b", 3}), nil),
		exec.BatchMsg(exectest.Record(mem, s, []any{"a", 5}), []exec.ChangeKind{exec.Delete}), // forgotten row: dropped
	}
	tn, err := exec.NewStreamingTopN(exectest.NewSource(s, msgs...), []expr.Expr{colOf(s, "p")}, []exec.SortKey{{Expr: colOf(s, "v"), Desc: true}}, 1, mem)
	if err != nil {
		t.Fatal(err)
	}
	tn.SetRetractable(true)
	tn.SetStateTTL(10 * time.Second)
	out, err := exectest.CollectMessages(context.Background(), tn)
	defer exectest.ReleaseMessages(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"+I a|5", "+I b|7", "+I a|1"} // b|3 stays out: b still holds 7
	if err := exectest.Equal(exectest.Changelog(out), want); err != nil {
		t.Fatal(err)
	}
	if n := tn.OrphanRetractions(); n != 1 {
		t.Fatalf("%d orphan retractions, want 1", n)
	}
	if n := tn.State().Entries(); n != 5 {
		t.Fatalf("state keeps %d rows, want 5 (b: 7 1 2 3; a: 1)", n)
	}
}

// TestStreamingTopNTTLSnapshot: the TTL clock (last watermark, partitions
// touched before the first watermark) survives a snapshot.
func TestStreamingTopNTTLSnapshot(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("p", arrow.BinaryTypes.String, "v", arrow.PrimitiveTypes.Int64)
	build := func(msgs ...exec.Message) *exec.StreamingTopN {
		tn, err := exec.NewStreamingTopN(exectest.NewSource(s, msgs...), []expr.Expr{colOf(s, "p")}, []exec.SortKey{{Expr: colOf(s, "v")}}, 1, mem)
		if err != nil {
			t.Fatal(err)
		}
		tn.SetStateTTL(time.Second)
		return tn
	}
	ctx := context.Background()
	first := build(exec.BatchMsg(exectest.Record(mem, s, []any{"a", 5}), nil))
	out, err := exectest.CollectMessages(ctx, first)
	exectest.ReleaseMessages(out)
	if err != nil {
		t.Fatal(err)
	}
	var snap bytes.Buffer
	if err := first.State().Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	// After the restore, the first watermark (5 s) touches a (expiry 6 s),
	// as does a|7 arriving then; 6 s keeps a (the watermark has not passed
	// 6 s), 6.5 s forgets it. Had the snapshot lost that a was touched
	// before any watermark, a would never expire and a|9 would lose to 5.
	second := build(exec.WatermarkMsg(5e6),
		exec.BatchMsg(exectest.Record(mem, s, []any{"a", 7}), nil),
		exec.WatermarkMsg(6e6),
		exec.BatchMsg(exectest.Record(mem, s, []any{"a", 8}), nil),
		exec.WatermarkMsg(6.5e6),
		exec.WatermarkMsg(7.5e6),
		exec.BatchMsg(exectest.Record(mem, s, []any{"a", 9}), nil))
	if err := second.State().Restore(&snap); err != nil {
		t.Fatal(err)
	}
	out, err = exectest.CollectMessages(ctx, second)
	defer exectest.ReleaseMessages(out)
	if err != nil {
		t.Fatal(err)
	}
	// a|7 and a|8 lose to the kept 5 (a|8 touches a at 6 s: expiry 7 s);
	// a|9 comes after a was forgotten.
	if err := exectest.Equal(exectest.Changelog(out), []string{"+I a|9"}); err != nil {
		t.Fatal(err)
	}
}

// TestLimitSnapshotRestore: a restored Limit goes on counting; one that
// had passed all its rows ends without reading.
func TestLimitSnapshotRestore(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("v", arrow.PrimitiveTypes.Int64)
	rows := func(vs ...int64) exec.Message {
		r := make([][]any, len(vs))
		for i, v := range vs {
			r[i] = []any{v}
		}
		return exec.BatchMsg(exectest.Record(mem, s, r...), nil)
	}
	ctx := context.Background()
	// OFFSET 2 LIMIT 3, interrupted after the first batch.
	l1 := exec.NewLimit(exectest.NewSource(s, rows(1, 2, 3)), 2, 3)
	got, err := exectest.Collect(ctx, l1)
	if err != nil {
		t.Fatal(err)
	}
	all := exectest.Rows(got)
	exectest.Release(got)
	var snap bytes.Buffer
	if err := l1.(exec.Stateful).State().Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	l2 := exec.NewLimit(exectest.NewSource(s, rows(4, 5, 6, 7)), 2, 3)
	if err := l2.(exec.Stateful).State().Restore(bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatal(err)
	}
	got, err = exectest.Collect(ctx, l2)
	if err != nil {
		t.Fatal(err)
	}
	all = append(all, exectest.Rows(got)...)
	exectest.Release(got)
	if err := exectest.Equal(all, []string{"3", "4", "5"}); err != nil {
		t.Fatal(err)
	}
	// l2 is done: a third restore from its state passes nothing.
	snap.Reset()
	if err := l2.(exec.Stateful).State().Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	src := exectest.NewSource(s, rows(8))
	l3 := exec.NewLimit(src, 2, 3)
	if err := l3.(exec.Stateful).State().Restore(&snap); err != nil {
		t.Fatal(err)
	}
	got, err = exectest.Collect(ctx, l3)
	exectest.Release(got)
	if err != nil || len(got) != 0 {
		t.Fatalf("restored finished limit: %d batches, %v", len(got), err)
	}
	// Counters that do not fit the limit are refused.
	if err := exec.NewLimit(exectest.NewSource(s), 0, 1).(exec.Stateful).State().Restore(bytes.NewReader(snap.Bytes())); err == nil {
		t.Fatal("want an error restoring skipped=2 into a limit without offset")
	}
}

// errSource fails when read.
type errSource struct{ s *arrow.Schema }

func (e errSource) Schema() *arrow.Schema      { return e.s }
func (e errSource) Open(context.Context) error { return nil }
func (e errSource) Next(context.Context) (exec.Message, error) {
	return exec.Message{}, fmt.Errorf("read")
}
func (e errSource) Close() error              { return nil }
func (e errSource) Children() []exec.Operator { return nil }
func (e errSource) String() string            { return "errSource" }

// TestTopNLimitZeroReadsNothing: LIMIT 0 (whatever the offset) ends at
// once, so a continuous ORDER BY ... LIMIT 0 does not wait on its input.
func TestTopNLimitZeroReadsNothing(t *testing.T) {
	mem := newMem(t)
	op, err := exec.NewTopN(errSource{gtopnS}, gtopnKeys(false), 5, 0, mem)
	if err != nil {
		t.Fatal(err)
	}
	if got := run(t, op); len(got) != 0 {
		t.Fatalf("got %v", got)
	}
}
