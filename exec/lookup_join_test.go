package exec_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
)

// bidSchema is the left (stream) side of the lookup tests.
var bidSchema = exectest.Schema("auction", arrow.PrimitiveTypes.Int64, "price", arrow.PrimitiveTypes.Int64)

// lookupKeys joins bid.auction = table.id.
func lookupKeys() ([]expr.Expr, []expr.Expr) {
	return []expr.Expr{colOf(bidSchema, "auction")}, []expr.Expr{colOf(upsertSchema, "id")}
}

func newLookup(t *testing.T, left, right exec.Operator, typ exec.JoinType, residual expr.Expr, mem memory.Allocator) *exec.LookupJoin {
	t.Helper()
	lk, rk := lookupKeys()
	j, err := exec.NewLookupJoin(left, right, typ, lk, rk, upsertSpec, residual, mem)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func bids(mem memory.Allocator, rows ...[]any) exec.Message {
	return exec.BatchMsg(exectest.Record(mem, bidSchema, rows...), nil)
}

// TestLookupJoinBounded: the table is read to its end first, then every
// bid is joined with the latest row of its auction, whatever the batch
// size; deleted and re-inserted keys, tombstones of absent keys and NULL
// keys behave.
func TestLookupJoinBounded(t *testing.T) {
	table := [][]any{up(1, "a"), up(2, "b"), up(1, "a2"), del(2), del(7), up(3, "c"), del(3), up(3, "c2"), marker}
	bidRows := [][]any{{1, 10}, {2, 20}, {3, 30}, {nil, 40}, {4, 50}, {1, 60}}
	cases := []struct {
		typ  exec.JoinType
		want []string
	}{
		{exec.InnerJoin, []string{"1|10|1|a2|1|false", "3|30|3|c2|3|false", "1|60|1|a2|1|false"}},
		{exec.LeftJoin, []string{"1|10|1|a2|1|false", "2|20|NULL|NULL|NULL|NULL", "3|30|3|c2|3|false",
			"NULL|40|NULL|NULL|NULL|NULL", "4|50|NULL|NULL|NULL|NULL", "1|60|1|a2|1|false"}},
	}
	for _, tc := range cases {
		for _, n := range []int{1, 4, 100} {
			t.Run(fmt.Sprintf("%s/batch%d", tc.typ, n), func(t *testing.T) {
				mem := stMem(t)
				right := exectest.NewSource(upsertSchema, upsertBatches(mem, upsertSchema, n, table)...)
				left := exectest.NewSource(bidSchema, upsertBatches(mem, bidSchema, n, bidRows)...)
				j := newLookup(t, left, right, tc.typ, nil, mem)
				out, err := exectest.CollectMessages(context.Background(), j)
				defer exectest.ReleaseMessages(out)
				if err != nil {
					t.Fatal(err)
				}
				if err := exectest.Equal(exectest.Rows(batchesOf(out)), tc.want); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func batchesOf(msgs []exec.Message) []arrow.RecordBatch {
	var out []arrow.RecordBatch
	for _, m := range msgs {
		if m.Kind == exec.MsgBatch {
			out = append(out, m.Batch.Rec)
		}
	}
	return out
}

// TestLookupJoinResidualAndOps: the residual filters inner rows and pads
// left-join rows; left change kinds are kept.
func TestLookupJoinResidualAndOps(t *testing.T) {
	table := [][]any{up(1, "a"), up(2, "b")}
	// price > 15 AND v <> 'b' over bid ++ table columns.
	js := exectest.Schema("auction", arrow.PrimitiveTypes.Int64, "price", arrow.PrimitiveTypes.Int64,
		"id", arrow.PrimitiveTypes.Int64, "v", arrow.BinaryTypes.String, "__key", arrow.BinaryTypes.String, "__tombstone", arrow.FixedWidthTypes.Boolean)
	gt, err := expr.NewCall(">", colOf(js, "price"), expr.Lit(int64(15)))
	if err != nil {
		t.Fatal(err)
	}
	ne, err := expr.NewCall("<>", colOf(js, "v"), expr.Lit("b"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := expr.NewCall("and", gt, ne)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		typ  exec.JoinType
		want []string
	}{
		{exec.InnerJoin, []string{"-D 1|20|1|a|1|false"}},
		{exec.LeftJoin, []string{"+I 1|10|NULL|NULL|NULL|NULL", "-D 1|20|1|a|1|false", "+I 2|30|NULL|NULL|NULL|NULL"}},
	} {
		t.Run(tc.typ.String(), func(t *testing.T) {
			mem := stMem(t)
			right := exectest.NewSource(upsertSchema, upsertBatches(mem, upsertSchema, 10, table)...)
			left := exectest.NewSource(bidSchema, exec.BatchMsg(exectest.Record(mem, bidSchema, []any{1, 10}, []any{1, 20}, []any{2, 30}),
				[]exec.ChangeKind{exec.Insert, exec.Delete, exec.Insert}))
			j := newLookup(t, left, right, tc.typ, res, mem)
			out, err := exectest.CollectMessages(context.Background(), j)
			defer exectest.ReleaseMessages(out)
			if err != nil {
				t.Fatal(err)
			}
			if err := exectest.Equal(exectest.Changelog(out), tc.want); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// chanSource is an operator fed by a channel (closed: end of data), so a
// test decides when each input delivers.
type chanSource struct {
	schema *arrow.Schema
	in     chan exec.Message
}

func (s *chanSource) Schema() *arrow.Schema      { return s.schema }
func (s *chanSource) Open(context.Context) error { return nil }
func (s *chanSource) Next(ctx context.Context) (exec.Message, error) {
	select {
	case m, ok := <-s.in:
		if !ok {
			return exec.EndMsg, nil
		}
		return m, nil
	case <-ctx.Done():
		return exec.Message{}, ctx.Err()
	}
}
func (s *chanSource) Close() error              { return nil }
func (s *chanSource) Children() []exec.Operator { return nil }
func (s *chanSource) String() string            { return "chanSource" }

// TestLookupJoinContinuous: the left side waits for the table's bootstrap
// marker; a table change applied mid-stream is seen by later bids only
// (rows joined before are not retracted); left watermarks pass, right
// ones do not.
func TestLookupJoinContinuous(t *testing.T) {
	mem := stMem(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	left := &chanSource{schema: bidSchema, in: make(chan exec.Message)}
	right := &chanSource{schema: upsertSchema, in: make(chan exec.Message)}
	j := newLookup(t, left, right, exec.LeftJoin, nil, mem)
	if err := j.Open(ctx); err != nil {
		t.Fatal(err)
	}
	outs := make(chan exec.Message, 16)
	errs := make(chan error, 1)
	go func() {
		defer close(outs)
		for {
			m, err := j.Next(ctx)
			if err != nil {
				errs <- err
				return
			}
			if m.Kind == exec.MsgEnd {
				return
			}
			outs <- m
		}
	}()
	next := func() exec.Message {
		select {
		case m, ok := <-outs:
			if !ok {
				t.Fatalf("join ended early: %v", <-errs)
			}
			return m
		case err := <-errs:
			t.Fatal(err)
		}
		return exec.Message{}
	}
	// applied makes sure the join has taken a right message: the right
	// prefetcher holds at most one message, so once two more have been
	// handed to it, the first one has been received and applied.
	applied := func(m exec.Message) {
		right.in <- m
		right.in <- exec.WatermarkMsg(1)
		right.in <- exec.WatermarkMsg(2)
	}
	right.in <- exec.BatchMsg(exectest.Record(mem, upsertSchema, up(1, "a"), up(2, "b")), nil)
	left.in <- bids(mem, []any{1, 10}) // waits: the table is not bootstrapped yet
	right.in <- exec.BatchMsg(exectest.Record(mem, upsertSchema, up(2, "b2"), marker), nil)
	m := next()
	got := exectest.Changelog([]exec.Message{m})
	m.Release()
	if err := exectest.Equal(got, []string{"+I 1|10|1|a|1|false"}); err != nil {
		t.Fatal(err)
	}
	left.in <- bids(mem, []any{2, 20}, []any{3, 30})
	m = next()
	got = exectest.Changelog([]exec.Message{m})
	m.Release()
	if err := exectest.Equal(got, []string{"+I 2|20|2|b2|2|false", "+I 3|30|NULL|NULL|NULL|NULL"}); err != nil {
		t.Fatal(err)
	}
	// The table changes: 1 updated, 2 deleted, 3 inserted.
	applied(exec.BatchMsg(exectest.Record(mem, upsertSchema, up(1, "a9"), del(2), up(3, "c")), nil))
	left.in <- exec.WatermarkMsg(5)
	if m = next(); m.Kind != exec.MsgWatermark || m.Watermark != 5 {
		t.Fatalf("got %+v, want the left watermark 5", m)
	}
	left.in <- bids(mem, []any{1, 11}, []any{2, 21}, []any{3, 31})
	m = next()
	got = exectest.Changelog([]exec.Message{m})
	m.Release()
	want := []string{"+I 1|11|1|a9|1|false", "+I 2|21|NULL|NULL|NULL|NULL", "+I 3|31|3|c|3|false"}
	if err := exectest.Equal(got, want); err != nil {
		t.Fatal(err)
	}
	// Re-insert after delete.
	applied(exec.BatchMsg(exectest.Record(mem, upsertSchema, up(2, "b3")), nil))
	left.in <- bids(mem, []any{2, 22})
	m = next()
	got = exectest.Changelog([]exec.Message{m})
	m.Release()
	if err := exectest.Equal(got, []string{"+I 2|22|2|b3|2|false"}); err != nil {
		t.Fatal(err)
	}
	if n := j.State().Entries(); n != 3 {
		t.Fatalf("table entries = %d, want 3", n)
	}
	close(left.in)
	for m := range outs {
		m.Release()
		t.Fatalf("unexpected message after the left end: %+v", m)
	}
	cancel()
	j.Close()
}

// TestLookupJoinRestore: a restored table answers lookups without its
// input being read again.
func TestLookupJoinRestore(t *testing.T) {
	mem := stMem(t)
	ctx := context.Background()
	right := exectest.NewSource(upsertSchema, upsertBatches(mem, upsertSchema, 2, [][]any{up(1, "a"), up(2, "b"), del(1), up(3, "c")})...)
	j := newLookup(t, exectest.NewSource(bidSchema), right, exec.InnerJoin, nil, mem)
	out, err := exectest.CollectMessages(ctx, j)
	exectest.ReleaseMessages(out)
	if err != nil {
		t.Fatal(err)
	}
	var snap bytes.Buffer
	if err := j.State().Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	j2 := newLookup(t, exectest.NewSource(bidSchema, bids(mem, []any{1, 1}, []any{2, 2}, []any{3, 3})), exectest.NewSource(upsertSchema), exec.InnerJoin, nil, mem)
	if err := j2.State().Restore(&snap); err != nil {
		t.Fatal(err)
	}
	out, err = exectest.CollectMessages(ctx, j2)
	defer exectest.ReleaseMessages(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := exectest.Equal(exectest.Rows(batchesOf(out)), []string{"2|2|2|b|2|false", "3|3|3|c|3|false"}); err != nil {
		t.Fatal(err)
	}
}

// TestLookupJoinRejects: only inner and left joins, with matching keys.
func TestLookupJoinRejects(t *testing.T) {
	mem := stMem(t)
	lk, rk := lookupKeys()
	if _, err := exec.NewLookupJoin(exectest.NewSource(bidSchema), exectest.NewSource(upsertSchema), exec.RightJoin, lk, rk, upsertSpec, nil, mem); err == nil {
		t.Fatal("want an error for a right join")
	}
	if _, err := exec.NewLookupJoin(exectest.NewSource(bidSchema), exectest.NewSource(upsertSchema), exec.InnerJoin, lk, []expr.Expr{colOf(upsertSchema, "v")}, upsertSpec, nil, mem); err == nil {
		t.Fatal("want an error for keys of different types")
	}
}
