package exec_test

import (
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/magnetar-sql/magnetar/nexmark"
)

// BenchmarkOverRowsSum: SUM(price) OVER (PARTITION BY auction ORDER BY
// dateTime ROWS BETWEEN 10 PRECEDING AND CURRENT ROW) over Nexmark bids
// (watermark 1 s behind).
func BenchmarkOverRowsSum(b *testing.B) {
	s := nexmark.BidSchema()
	f := exec.Frame{Unit: exec.FrameRows, Start: exec.FrameBound{Kind: exec.Preceding, Offset: 10}, End: exec.FrameBound{Kind: exec.CurrentRow}}
	benchBids(b, func(in exec.Operator, mem memory.Allocator) (exec.Operator, error) {
		return exec.NewOverAggregate(in, []expr.Expr{colOf(s, "auction")}, colOf(s, "dateTime"),
			[]exec.WindowCall{{Func: "sum", Args: []expr.Expr{colOf(s, "price")}, Frame: f, Name: "s"}}, 0, mem)
	})
}

// BenchmarkOverRangeMax: MAX(price) over the last 10 seconds per auction
// (RANGE BETWEEN INTERVAL 10 SECOND PRECEDING AND CURRENT ROW).
func BenchmarkOverRangeMax(b *testing.B) {
	s := nexmark.BidSchema()
	f := exec.Frame{Unit: exec.FrameRange, Start: exec.FrameBound{Kind: exec.Preceding, Offset: (10 * time.Second).Microseconds()}, End: exec.FrameBound{Kind: exec.CurrentRow}}
	benchBids(b, func(in exec.Operator, mem memory.Allocator) (exec.Operator, error) {
		return exec.NewOverAggregate(in, []expr.Expr{colOf(s, "auction")}, colOf(s, "dateTime"),
			[]exec.WindowCall{{Func: "max", Args: []expr.Expr{colOf(s, "price")}, Frame: f, Name: "m"}}, 0, mem)
	})
}
