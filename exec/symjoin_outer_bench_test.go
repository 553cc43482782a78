package exec_test

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
)

// BenchmarkHashJoinSymmetricOuter: BenchmarkHashJoinSymmetric's streams
// (1M rows a side, keys in [0, 1M)) through a LEFT and a FULL join: match
// counts, NULL-padded rows and their retractions.
func BenchmarkHashJoinSymmetricOuter(b *testing.B) {
	for _, typ := range []exec.JoinType{exec.LeftJoin, exec.FullJoin} {
		b.Run(typ.String(), func(b *testing.B) {
			mem := memory.NewGoAllocator()
			s := arrow.NewSchema([]arrow.Field{{Name: "k", Type: i64}, {Name: "v", Type: i64}}, nil)
			const rows = 1 << 20
			left := int64Batches(mem, s, rows, rows, 10)
			right := int64Batches(mem, s, rows, rows, 11)
			defer releaseAll(left)
			defer releaseAll(right)
			k := &expr.Column{Index: 0, Name: "k", T: i64}
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				rmsgs := []exec.Message{exec.WatermarkMsg(0)}
				for _, r := range right {
					r.Retain()
					rmsgs = append(rmsgs, exec.BatchMsg(r, nil))
				}
				j, err := exec.NewHashJoin(exec.NewValues(s, left), exectestSource(s, rmsgs), []expr.Expr{k}, []expr.Expr{k}, typ, nil, mem)
				if err != nil {
					b.Fatal(err)
				}
				drain(b, j)
			}
			b.ReportMetric(float64(2*rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			reportCPU(b, cpu0, 2*rows)
		})
	}
}
