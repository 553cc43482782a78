package shell

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
)

// BenchmarkRender measures rendering a 4096-row batch of (BIGINT, VARCHAR,
// DOUBLE) in each format; rows/s is reported as a custom metric.
func BenchmarkRender(b *testing.B) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(b, 0)
	rows := make([]row, 4096)
	for i := range rows {
		rows[i] = row{i, fmt.Sprintf("name %d, with a comma", i), float64(i) / 7}
	}
	rec := buildRecord(b, mem, peopleSchema, rows)
	defer rec.Release()
	for _, f := range []Format{FormatCSV, FormatJSON, FormatTable} {
		b.Run(string(f), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				r := NewRenderer(io.Discard, RenderOptions{Format: f})
				_ = r.Begin(peopleSchema)
				if err := r.Write(exec.Batch{Rec: rec}); err != nil {
					b.Fatal(err)
				}
				_ = r.End(time.Millisecond, nil)
			}
			b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
