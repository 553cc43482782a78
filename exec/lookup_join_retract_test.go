package exec_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
)

// lookupHarness drives a lookup join whose inputs the test feeds one
// message at a time, so table changes and stream rows interleave exactly
// as the test says.
type lookupHarness struct {
	t           *testing.T
	mem         memory.Allocator
	j           *exec.LookupJoin
	left, right *chanSource
	outs        chan exec.Message
	errs        chan error
	cancel      context.CancelFunc
	wm          int64
	log         []string // every output row so far, "+I a|b|..."
}

func startLookup(t *testing.T, mem memory.Allocator, typ exec.JoinType, residual expr.Expr, retract bool, ttl time.Duration) *lookupHarness {
	t.Helper()
	h := &lookupHarness{t: t, mem: mem,
		left:  &chanSource{schema: bidSchema, in: make(chan exec.Message)},
		right: &chanSource{schema: upsertSchema, in: make(chan exec.Message)},
		outs:  make(chan exec.Message, 16), errs: make(chan error, 1)}
	h.j = newLookup(t, h.left, h.right, typ, residual, mem)
	h.j.SetRetractable(retract)
	h.j.SetStateTTL(ttl)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	if err := h.j.Open(ctx); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(h.outs)
		for {
			m, err := h.j.Next(ctx)
			if err != nil {
				h.errs <- err
				return
			}
			if m.Kind == exec.MsgEnd {
				return
			}
			h.outs <- m
		}
	}()
	return h
}

// table applies rows to the table and returns once the join has taken
// them: the right prefetcher holds one message, so once two more have
// been handed to it the rows have been received (and are applied before
// the join reads on).
func (h *lookupHarness) table(rows ...[]any) {
	h.right.in <- exec.BatchMsg(exectest.Record(h.mem, upsertSchema, rows...), nil)
	h.right.in <- exec.WatermarkMsg(1)
	h.right.in <- exec.WatermarkMsg(2)
}

// stream sends one left batch (ops nil: inserts) and returns what the join
// emitted for it (it sends a left watermark after it and reads up to it).
func (h *lookupHarness) stream(ops []exec.ChangeKind, rows ...[]any) []string {
	h.t.Helper()
	h.left.in <- exec.BatchMsg(exectest.Record(h.mem, bidSchema, rows...), ops)
	return h.watermark(h.wm + 1)
}

// watermark sends a left watermark and returns the rows emitted before it.
func (h *lookupHarness) watermark(wm int64) []string {
	h.t.Helper()
	h.wm = wm
	h.left.in <- exec.WatermarkMsg(wm)
	var got []string
	for {
		var m exec.Message
		var ok bool
		select {
		case m, ok = <-h.outs:
			if !ok {
				h.t.Fatalf("join ended early: %v", <-h.errs)
			}
		case err := <-h.errs:
			h.t.Fatal(err)
		}
		switch m.Kind {
		case exec.MsgWatermark:
			if m.Watermark != wm {
				h.t.Fatalf("got watermark %d, want %d", m.Watermark, wm)
			}
			h.log = append(h.log, got...)
			return got
		case exec.MsgBatch:
			got = append(got, exectest.Changelog([]exec.Message{m})...)
			m.Release()
		default:
			h.t.Fatalf("unexpected message %+v", m)
		}
	}
}

// finish ends the left input and waits for the join to end.
func (h *lookupHarness) finish() {
	h.t.Helper()
	close(h.left.in)
	for m := range h.outs {
		m.Release()
		h.t.Errorf("unexpected message after the left end: %+v", m)
	}
	select {
	case err := <-h.errs:
		h.t.Fatal(err)
	default:
	}
}

// close stops the join (after a failure, while it runs) and closes it.
func (h *lookupHarness) close() {
	h.cancel()
	for m := range h.outs {
		m.Release()
	}
	h.j.Close()
}

var (
	ins  = exec.Insert
	delK = exec.Delete
	ub   = exec.UpdateBefore
	ua   = exec.UpdateAfter
)

func ops(k ...exec.ChangeKind) []exec.ChangeKind { return k }

// TestLookupJoinChangelogRetractsEmitted: over a changelog stream, a
// retraction arriving after the table changed emits the row emitted for
// its insertion (old table values, same padding, nothing for an inner
// miss), and identical live rows are retracted oldest first; the append-
// only join (the old behaviour) joins the retraction with the current row
// instead, which does not fold.
func TestLookupJoinChangelogRetractsEmitted(t *testing.T) {
	for _, tc := range []struct {
		typ              exec.JoinType
		first, afterWant []string
		final            []string
	}{
		{exec.LeftJoin,
			[]string{"+I 1|10|1|a|1|false", "+I 2|20|2|b|2|false", "+I 3|30|NULL|NULL|NULL|NULL", "+I 1|10|1|a|1|false"},
			[]string{"-U 1|10|1|a|1|false", "+U 1|11|1|a9|1|false", "-D 2|20|2|b|2|false", "-D 3|30|NULL|NULL|NULL|NULL", "+I 3|31|3|c|3|false", "+I 2|21|NULL|NULL|NULL|NULL"},
			[]string{"1|10|1|a|1|false", "1|11|1|a9|1|false", "2|21|NULL|NULL|NULL|NULL", "3|31|3|c|3|false"}},
		{exec.InnerJoin,
			[]string{"+I 1|10|1|a|1|false", "+I 2|20|2|b|2|false", "+I 1|10|1|a|1|false"},
			[]string{"-U 1|10|1|a|1|false", "+U 1|11|1|a9|1|false", "-D 2|20|2|b|2|false", "+I 3|31|3|c|3|false"},
			[]string{"1|10|1|a|1|false", "1|11|1|a9|1|false", "3|31|3|c|3|false"}},
	} {
		t.Run(tc.typ.String(), func(t *testing.T) {
			mem := stMem(t)
			h := startLookup(t, mem, tc.typ, nil, true, 0)
			defer h.close()
			h.table(up(1, "a"), up(2, "b"), marker)
			got := h.stream(nil, []any{1, 10}, []any{2, 20}, []any{3, 30}, []any{1, 10})
			if err := exectest.Equal(got, tc.first); err != nil {
				t.Fatal(err)
			}
			// The table changes under the live rows.
			h.table(up(1, "a9"), del(2), up(3, "c"))
			got = h.stream(ops(ub, ua, delK, delK, ins, ins),
				[]any{1, 10}, []any{1, 11}, []any{2, 20}, []any{3, 30}, []any{3, 31}, []any{2, 21})
			if err := exectest.Equal(got, tc.afterWant); err != nil {
				t.Fatal(err)
			}
			folded, err := exectest.FoldLines(h.log)
			if err != nil {
				t.Fatal(err)
			}
			if err := exectest.Equal(folded, tc.final); err != nil {
				t.Fatal(err)
			}
			// The second copy of 1|10 still cancels its own row, "a",
			// which the table replaced long ago; the same batch inserts
			// and retracts 4|40 (a miss both ways).
			h.table(up(1, "a10"))
			got = h.stream(ops(delK, ins, delK), []any{1, 10}, []any{4, 40}, []any{4, 40})
			want := []string{"-D 1|10|1|a|1|false"}
			if tc.typ == exec.LeftJoin {
				want = append(want, "+I 4|40|NULL|NULL|NULL|NULL", "-D 4|40|NULL|NULL|NULL|NULL")
			}
			if err := exectest.Equal(got, want); err != nil {
				t.Fatal(err)
			}
			if n := h.j.OrphanRetractions(); n != 0 {
				t.Fatalf("orphan retractions = %d, want 0", n)
			}
			h.finish()
		})
	}
	// The append-only join joins a retraction with the current row: the
	// retraction does not cancel what was emitted.
	mem := stMem(t)
	h := startLookup(t, mem, exec.LeftJoin, nil, false, 0)
	defer h.close()
	h.table(up(1, "a"), marker)
	h.stream(nil, []any{1, 10})
	h.table(up(1, "a9"))
	h.stream(ops(delK), []any{1, 10})
	if _, err := exectest.FoldLines(h.log); err == nil {
		t.Fatalf("append-only join over a changelog folded cleanly: %q", h.log)
	}
	h.finish()
}

// lookupResidual is the residual v <> 'x' over the joined row (stream
// columns, then the table's).
func lookupResidual(t *testing.T) expr.Expr {
	t.Helper()
	js := exectest.Schema("auction", arrow.PrimitiveTypes.Int64, "price", arrow.PrimitiveTypes.Int64,
		"id", arrow.PrimitiveTypes.Int64, "v", arrow.BinaryTypes.String, "__key", arrow.BinaryTypes.String, "__tombstone", arrow.FixedWidthTypes.Boolean)
	res, err := expr.NewCall("<>", colOf(js, "v"), expr.Lit("x"))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestLookupJoinChangelogResidual: a row whose match failed the residual
// at insertion is retracted as it was emitted (padded, or not at all),
// even when the table row now passes it, and the other way round.
func TestLookupJoinChangelogResidual(t *testing.T) {
	res := lookupResidual(t)
	for _, tc := range []struct {
		typ         exec.JoinType
		first, then []string
	}{
		{exec.LeftJoin,
			[]string{"+I 1|10|NULL|NULL|NULL|NULL", "+I 2|20|2|b|2|false"},
			[]string{"-D 1|10|NULL|NULL|NULL|NULL", "-D 2|20|2|b|2|false", "+I 1|11|1|a|1|false", "+I 2|21|NULL|NULL|NULL|NULL"}},
		{exec.InnerJoin,
			[]string{"+I 2|20|2|b|2|false"},
			[]string{"-D 2|20|2|b|2|false", "+I 1|11|1|a|1|false"}},
	} {
		t.Run(tc.typ.String(), func(t *testing.T) {
			mem := stMem(t)
			h := startLookup(t, mem, tc.typ, res, true, 0)
			defer h.close()
			h.table(up(1, "x"), up(2, "b"), marker)
			if err := exectest.Equal(h.stream(nil, []any{1, 10}, []any{2, 20}), tc.first); err != nil {
				t.Fatal(err)
			}
			h.table(up(1, "a"), up(2, "x"))
			got := h.stream(ops(delK, delK, ins, ins), []any{1, 10}, []any{2, 20}, []any{1, 11}, []any{2, 21})
			if err := exectest.Equal(got, tc.then); err != nil {
				t.Fatal(err)
			}
			h.finish()
		})
	}
}

// TestLookupJoinChangelogRandom checks the join against a model over
// random interleavings of table changes and changelog batches (inserts,
// -U/+U pairs and deletes of live rows, duplicates included), with and
// without a residual: the output changelog must equal the model's exactly
// (each +I/+U joined with the table as it is then; each -U/-D the row
// emitted for the oldest live copy of its row), so the fold equals, per
// live stream row, its join with the table as of its insertion.
func TestLookupJoinChangelogRandom(t *testing.T) {
	res := lookupResidual(t)
	for _, typ := range []exec.JoinType{exec.InnerJoin, exec.LeftJoin} {
		for _, residual := range []expr.Expr{nil, res} {
			for seed := int64(1); seed <= 4; seed++ {
				t.Run(fmt.Sprintf("%s/residual=%v/seed%d", typ, residual != nil, seed), func(t *testing.T) {
					runLookupModel(t, typ, residual, seed)
				})
			}
		}
	}
}

func runLookupModel(t *testing.T, typ exec.JoinType, residual expr.Expr, seed int64) {
	mem := stMem(t)
	rng := rand.New(rand.NewSource(seed))
	h := startLookup(t, mem, typ, residual, true, 0)
	defer h.close()
	table := map[int]string{}
	h.table(marker)
	type bid struct{ a, p int } // a 0: NULL auction
	render := func(b bid) string {
		if b.a == 0 {
			return fmt.Sprintf("NULL|%d", b.p)
		}
		return fmt.Sprintf("%d|%d", b.a, b.p)
	}
	// live: per row, what was emitted for each live copy, oldest first
	// ("" nothing).
	live := map[bid][]string{}
	var liveRows []bid
	lookup := func(b bid) string {
		v, ok := table[b.a]
		if b.a != 0 && ok && (residual == nil || v != "x") {
			return fmt.Sprintf("%s|%d|%s|%d|false", render(b), b.a, v, b.a)
		}
		if typ == exec.LeftJoin {
			return render(b) + "|NULL|NULL|NULL|NULL"
		}
		return ""
	}
	version := 0
	for step := 0; step < 60; step++ {
		if rng.Intn(3) == 0 {
			var rows [][]any
			for range 1 + rng.Intn(3) {
				k := 1 + rng.Intn(4)
				switch rng.Intn(4) {
				case 0:
					delete(table, k)
					rows = append(rows, del(k))
				case 1:
					table[k] = "x"
					rows = append(rows, up(k, "x"))
				default:
					version++
					table[k] = fmt.Sprintf("v%d", version)
					rows = append(rows, up(k, table[k]))
				}
			}
			h.table(rows...)
			continue
		}
		var rows [][]any
		var kinds []exec.ChangeKind
		var want []string
		emit := func(kind exec.ChangeKind, b bid, out string) {
			a := any(b.a)
			if b.a == 0 {
				a = nil
			}
			rows, kinds = append(rows, []any{a, b.p}), append(kinds, kind)
			if out != "" {
				want = append(want, kind.String()+" "+out)
			}
		}
		newBid := func() bid { return bid{rng.Intn(6), rng.Intn(3)} } // duplicates are common
		for range 1 + rng.Intn(4) {
			if len(liveRows) == 0 || rng.Intn(2) == 0 {
				b := newBid()
				out := lookup(b)
				live[b] = append(live[b], out)
				liveRows = append(liveRows, b)
				emit(exec.Insert, b, out)
				continue
			}
			i := rng.Intn(len(liveRows))
			b := liveRows[i]
			liveRows = append(liveRows[:i], liveRows[i+1:]...)
			out := live[b][0]
			live[b] = live[b][1:]
			if rng.Intn(2) == 0 {
				emit(exec.Delete, b, out)
				continue
			}
			emit(exec.UpdateBefore, b, out)
			nb := newBid()
			nout := lookup(nb)
			live[nb] = append(live[nb], nout)
			liveRows = append(liveRows, nb)
			emit(exec.UpdateAfter, nb, nout)
		}
		got := h.stream(kinds, rows...)
		if err := exectest.Equal(got, want); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
	}
	var wantLive []string
	for _, outs := range live {
		for _, o := range outs {
			if o != "" {
				wantLive = append(wantLive, o)
			}
		}
	}
	sort.Strings(wantLive)
	folded, err := exectest.FoldLines(h.log)
	if err != nil {
		t.Fatal(err)
	}
	if err := exectest.Equal(folded, wantLive); err != nil {
		t.Fatal(err)
	}
	if n := h.j.OrphanRetractions(); n != 0 {
		t.Fatalf("orphan retractions = %d, want 0", n)
	}
	h.finish()
}

// TestLookupJoinChangelogRestore: the emitted rows are part of the
// snapshot: a join restored after the table changed still retracts the
// rows emitted before the checkpoint with the table values of then.
func TestLookupJoinChangelogRestore(t *testing.T) {
	mem := stMem(t)
	h := startLookup(t, mem, exec.LeftJoin, nil, true, 0)
	h.table(up(1, "a"), up(2, "b"), marker)
	h.stream(nil, []any{1, 10}, []any{2, 20}, []any{3, 30}, []any{1, 10})
	h.table(up(1, "a9"), del(2))
	h.finish() // the join has ended: its state is quiet
	var snap bytes.Buffer
	if err := h.j.State().Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	entries := h.j.State().Entries()
	h.close()

	left := exectest.NewSource(bidSchema, exec.BatchMsg(exectest.Record(mem, bidSchema,
		[]any{1, 10}, []any{2, 20}, []any{3, 30}, []any{1, 10}, []any{1, 12}, []any{3, 30}),
		[]exec.ChangeKind{ub, delK, delK, delK, ua, delK}))
	j := newLookup(t, left, exectest.NewSource(upsertSchema), exec.LeftJoin, nil, mem)
	j.SetRetractable(true)
	if err := j.State().Restore(&snap); err != nil {
		t.Fatal(err)
	}
	if n := j.State().Entries(); n != entries {
		t.Fatalf("restored entries = %d, want %d", n, entries)
	}
	out, err := exectest.CollectMessages(context.Background(), j)
	defer exectest.ReleaseMessages(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"-U 1|10|1|a|1|false", "-D 2|20|2|b|2|false", "-D 3|30|NULL|NULL|NULL|NULL", "-D 1|10|1|a|1|false",
		"+U 1|12|1|a9|1|false"}
	if err := exectest.Equal(exectest.Changelog(out), want); err != nil {
		t.Fatal(err)
	}
	// The last -D 3|30 has no live row left: dropped and counted.
	if n := j.OrphanRetractions(); n != 1 {
		t.Fatalf("orphan retractions = %d, want 1", n)
	}
	// One table key (1) and one live stream row (1|12) remain.
	if n := j.State().Entries(); n != 2 {
		t.Fatalf("entries = %d, want 2", n)
	}
	// A snapshot of an append-only join restores into a retractable one
	// (nothing remembered).
	j3 := newLookup(t, exectest.NewSource(bidSchema), exectest.NewSource(upsertSchema), exec.LeftJoin, nil, mem)
	var plain bytes.Buffer
	if err := j3.State().Snapshot(&plain); err != nil {
		t.Fatal(err)
	}
	j3.SetRetractable(true)
	if err := j3.State().Restore(&plain); err != nil {
		t.Fatal(err)
	}
	if err := j3.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLookupJoinChangelogTTL: with a state TTL a live row's emitted rows
// are forgotten once the left watermark passes its insertion + TTL (rows
// inserted before the first watermark count as inserted at it); its later
// retraction emits nothing and is counted.
func TestLookupJoinChangelogTTL(t *testing.T) {
	mem := stMem(t)
	h := startLookup(t, mem, exec.LeftJoin, nil, true, 50*time.Microsecond)
	defer h.close()
	h.table(up(1, "a"), marker)
	h.left.in <- exec.BatchMsg(exectest.Record(mem, bidSchema, []any{3, 30}), nil) // before any watermark
	h.watermark(100)                                                               // 3|30 counts as inserted at 100: expires at 151
	h.watermark(120)
	h.stream(nil, []any{1, 10}) // at 120: expires at 171
	h.watermark(151)
	if got := h.stream(ops(delK, delK), []any{3, 30}, []any{1, 10}); len(got) != 1 || got[0] != "-D 1|10|1|a|1|false" {
		t.Fatalf("got %q, want only the retraction of 1|10 (3|30 expired)", got)
	}
	if n := h.j.OrphanRetractions(); n != 1 {
		t.Fatalf("orphan retractions = %d, want 1", n)
	}
	h.stream(nil, []any{1, 11}) // at 152: expires after 202
	h.watermark(202)
	if n := h.j.State().Entries(); n != 2 {
		t.Fatalf("entries = %d, want 2 (one table key, one live row)", n)
	}
	h.watermark(203)
	if n := h.j.State().Entries(); n != 1 {
		t.Fatalf("entries = %d, want 1 (the live row expired)", n)
	}
	if got := h.stream(ops(delK), []any{1, 11}); len(got) != 0 {
		t.Fatalf("got %q for an expired row, want nothing", got)
	}
	h.finish()
}
