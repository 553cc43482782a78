package exec_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/magnetar-sql/magnetar/nexmark"
)

func TestIntervalJoinExpiresState(t *testing.T) {
	mem := stMem(t)
	ls := exectest.Schema("id", arrow.PrimitiveTypes.Int64, "lts", tsType)
	rs := exectest.Schema("rid", arrow.PrimitiveTypes.Int64, "ok", arrow.FixedWidthTypes.Boolean, "rts", tsType)
	left := exectest.NewSource(ls,
		exec.BatchMsg(exectest.Record(mem, ls, []any{1, sec(0)}, []any{2, sec(5)}, []any{nil, sec(5)}), nil),
		exec.WatermarkMsg(int64(sec(30))),
	)
	right := exectest.NewSource(rs,
		exec.BatchMsg(exectest.Record(mem, rs,
			[]any{1, true, sec(3)}, []any{1, true, sec(11)}, []any{2, true, sec(15)}, []any{2, false, sec(6)},
			[]any{nil, true, sec(6)}, []any{2, true, sec(4)}), nil),
		exec.WatermarkMsg(int64(sec(40))),
	)
	okCol := &expr.Column{Index: 3, Name: "ok", T: arrow.FixedWidthTypes.Boolean} // in the joined row
	j, err := exec.NewIntervalJoin(left, right, []expr.Expr{colOf(ls, "id")}, []expr.Expr{colOf(rs, "rid")},
		colOf(ls, "lts"), colOf(rs, "rts"), 0, 10*time.Second, okCol, mem)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := j.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var lines []string
	for {
		m, err := j.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind == exec.MsgEnd {
			break
		}
		lines = append(lines, describe([]exec.Message{m})...)
		if m.Kind == exec.MsgWatermark {
			if n := j.State().Entries(); n != 0 {
				t.Errorf("state holds %d rows after watermark 30s, want 0", n)
			}
		}
		m.Release()
	}
	// The output watermark trails the input one (min of 30s and 40s, or 40s
	// once the left input has ended first) by the 10s upper bound.
	if len(lines) < 2 || (lines[1] != "wm 20s" && lines[1] != "wm 30s") {
		t.Fatalf("got %q, want the joined rows then watermark 20s or 30s", lines)
	}
	if err := exectest.Equal(lines[:1], []string{"batch +I1|0s|1|true|3s +I2|5s|2|true|15s"}); err != nil {
		t.Fatal(err)
	}
}

func TestIntervalJoinNegativeBounds(t *testing.T) {
	mem := stMem(t)
	s := exectest.Schema("k", arrow.PrimitiveTypes.Int64, "ts", tsType)
	left := exectest.NewSource(s, exec.BatchMsg(exectest.Record(mem, s, []any{1, sec(10)}), nil))
	right := exectest.NewSource(s, exec.BatchMsg(exectest.Record(mem, s,
		[]any{1, sec(4)}, []any{1, sec(5)}, []any{1, sec(8)}, []any{1, sec(9)}), nil))
	j, err := exec.NewIntervalJoin(left, right, []expr.Expr{colOf(s, "k")}, []expr.Expr{colOf(s, "k")},
		colOf(s, "ts"), colOf(s, "ts"), -5*time.Second, -2*time.Second, nil, mem)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := exectest.CollectMessages(context.Background(), j)
	defer exectest.ReleaseMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		for i := 0; m.Kind == exec.MsgBatch && i < int(m.Batch.Rec.NumRows()); i++ {
			got = append(got, stRow(m.Batch.Rec, i))
		}
	}
	if err := exectest.Equal(got, []string{"1|10s|1|5s", "1|10s|1|8s"}); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkIntervalJoinQ8 is the shape of Nexmark q8's window join:
// auctions ⋈ bids on the auction id, bid time within 10 s of the auction's,
// watermarks from each input's event times. events/s counts both inputs.
func BenchmarkIntervalJoinQ8(b *testing.B) {
	mem := memory.NewGoAllocator()
	persons, auctions, bids, err := nexmark.Batches(nexmark.Config{Seed: 1, Events: 1_000_000}, mem, 8192)
	if err != nil {
		b.Fatal(err)
	}
	exectest.Release(persons)
	defer exectest.Release(auctions)
	defer exectest.Release(bids)
	var rows, matches int64
	for _, r := range auctions {
		rows += r.NumRows()
	}
	for _, r := range bids {
		rows += r.NumRows()
	}
	as, bs := nexmark.AuctionSchema(), nexmark.BidSchema()
	// The columns a q8-like query keeps (projection pruning puts these
	// projections under the join).
	project := func(op exec.Operator, s *arrow.Schema, names ...string) exec.Operator {
		var es []expr.Expr
		for _, n := range names {
			es = append(es, colOf(s, n))
		}
		p, err := exec.NewProject(op, es, names, mem)
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	ctx := context.Background()
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for i := 0; i < b.N; i++ {
		left := project(exec.NewValues(as, auctions), as, "id", "seller", "itemName", "dateTime")
		right := project(exec.NewValues(bs, bids), bs, "auction", "bidder", "price", "dateTime")
		lw, err := exec.NewWatermarkAssigner(left, 3, 0, exec.WatermarkOptions{PartitionCol: -1})
		if err != nil {
			b.Fatal(err)
		}
		rw, err := exec.NewWatermarkAssigner(right, 3, 0, exec.WatermarkOptions{PartitionCol: -1})
		if err != nil {
			b.Fatal(err)
		}
		ls, rs := left.Schema(), right.Schema()
		j, err := exec.NewIntervalJoin(lw, rw, []expr.Expr{colOf(ls, "id")}, []expr.Expr{colOf(rs, "auction")},
			colOf(ls, "dateTime"), colOf(rs, "dateTime"), 0, 10*time.Second, nil, mem)
		if err != nil {
			b.Fatal(err)
		}
		if err := j.Open(ctx); err != nil {
			b.Fatal(err)
		}
		matches = 0
		for {
			m, err := j.Next(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if m.Kind == exec.MsgEnd {
				break
			}
			if m.Kind == exec.MsgBatch {
				matches += m.Batch.Rec.NumRows()
			}
			m.Release()
		}
		j.Close()
	}
	reportRates(b, rows, cpu0)
	b.ReportMetric(float64(matches), "matches")
}

// TestIntervalJoinAlignsBarriers checks that a barrier is passed on once,
// after both inputs brought it, and that rows after the barrier on the
// faster side are not joined before it.
func TestIntervalJoinAlignsBarriers(t *testing.T) {
	mem := stMem(t)
	s := exectest.Schema("k", arrow.PrimitiveTypes.Int64, "ts", tsType)
	barrier := exec.Message{Kind: exec.MsgBarrier, Barrier: 7}
	left := exectest.NewSource(s,
		exec.BatchMsg(exectest.Record(mem, s, []any{1, sec(1)}), nil),
		barrier,
		exec.BatchMsg(exectest.Record(mem, s, []any{2, sec(2)}), nil))
	right := exectest.NewSource(s,
		exec.BatchMsg(exectest.Record(mem, s, []any{2, sec(2)}), nil),
		exec.BatchMsg(exectest.Record(mem, s, []any{1, sec(1)}), nil),
		barrier,
		exec.BatchMsg(exectest.Record(mem, s, []any{1, sec(1)}), nil))
	j, err := exec.NewIntervalJoin(left, right, []expr.Expr{colOf(s, "k")}, []expr.Expr{colOf(s, "k")},
		colOf(s, "ts"), colOf(s, "ts"), 0, time.Second, nil, mem)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := exectest.CollectMessages(context.Background(), j)
	defer exectest.ReleaseMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	// Before the barrier only the rows before it on both sides meet: key 1
	// (left 1s with right 1s). After it, left's key 2 meets right's key 2
	// (buffered before) and right's second key 1 meets left's key 1.
	var before, after []string
	seen := 0
	for _, m := range msgs {
		switch m.Kind {
		case exec.MsgBarrier:
			seen++
		case exec.MsgBatch:
			for i := 0; i < int(m.Batch.Rec.NumRows()); i++ {
				if seen == 0 {
					before = append(before, stRow(m.Batch.Rec, i))
				} else {
					after = append(after, stRow(m.Batch.Rec, i))
				}
			}
		}
	}
	if seen != 1 {
		t.Fatalf("saw %d barriers, want 1", seen)
	}
	if err := exectest.Equal(before, []string{"1|1s|1|1s"}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(after)
	if err := exectest.Equal(after, []string{"1|1s|1|1s", "2|2s|2|2s"}); err != nil {
		t.Fatal(err)
	}
}
