package exec_test

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/magnetar-sql/magnetar/nexmark"
)

// benchBids runs build(watermarked bids) to End over 1M Nexmark events'
// bids and reports bids per second.
func benchBids(b *testing.B, build func(in exec.Operator, mem memory.Allocator) (exec.Operator, error)) {
	mem := memory.NewGoAllocator()
	bids, rows := nexmarkBids(b, mem, 1_000_000)
	defer func() {
		for _, r := range bids {
			r.Release()
		}
	}()
	s := nexmark.BidSchema()
	ctx := context.Background()
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for i := 0; i < b.N; i++ {
		wa, err := exec.NewWatermarkAssigner(exec.NewValues(s, bids), 5, time.Second, exec.WatermarkOptions{PartitionCol: -1})
		if err != nil {
			b.Fatal(err)
		}
		op, err := build(wa, mem)
		if err != nil {
			b.Fatal(err)
		}
		if err := op.Open(ctx); err != nil {
			b.Fatal(err)
		}
		for {
			m, err := op.Next(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if m.Kind == exec.MsgEnd {
				break
			}
			m.Release()
		}
		op.Close()
	}
	reportRates(b, rows, cpu0)
}

// BenchmarkHopCount is Nexmark q5's window: bids per auction in 10 s
// windows every 2 s (each bid counts in five windows).
func BenchmarkHopCount(b *testing.B) {
	s := nexmark.BidSchema()
	benchBids(b, func(in exec.Operator, mem memory.Allocator) (exec.Operator, error) {
		return exec.NewWindowAggregate(in, exec.WindowSpec{Kind: exec.Hop, Size: 10 * time.Second, Slide: 2 * time.Second, TimeCol: colOf(s, "dateTime")},
			[]expr.Expr{colOf(s, "auction")}, []string{"auction"}, []exec.AggCall{{Func: "count_star", Name: "n"}}, mem)
	})
}

// BenchmarkSessionCount: bids and top price per bidder session (gap 1 s);
// session windows buffer their rows.
func BenchmarkSessionCount(b *testing.B) {
	s := nexmark.BidSchema()
	benchBids(b, func(in exec.Operator, mem memory.Allocator) (exec.Operator, error) {
		return exec.NewWindowAggregate(in, exec.WindowSpec{Kind: exec.Session, Gap: time.Second, TimeCol: colOf(s, "dateTime")},
			[]expr.Expr{colOf(s, "bidder")}, []string{"bidder"},
			[]exec.AggCall{{Func: "count_star", Name: "n"}, {Func: "max", Args: []expr.Expr{colOf(s, "price")}, Name: "mx"}}, mem)
	})
}

// BenchmarkDedupFirst keeps each bidder's first bid per auction.
func BenchmarkDedupFirst(b *testing.B) {
	s := nexmark.BidSchema()
	benchBids(b, func(in exec.Operator, mem memory.Allocator) (exec.Operator, error) {
		d, err := exec.NewDeduplicate(in, []expr.Expr{colOf(s, "auction"), colOf(s, "bidder")}, colOf(s, "dateTime"), false, mem)
		if err == nil {
			d.SetStateTTL(10 * time.Second)
		}
		return d, err
	})
}

// BenchmarkStreamingTopN keeps the three highest bids per auction.
func BenchmarkStreamingTopN(b *testing.B) {
	s := nexmark.BidSchema()
	benchBids(b, func(in exec.Operator, mem memory.Allocator) (exec.Operator, error) {
		return exec.NewStreamingTopN(in, []expr.Expr{colOf(s, "auction")}, []exec.SortKey{{Expr: colOf(s, "price"), Desc: true}}, 3, mem)
	})
}
