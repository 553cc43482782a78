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

// BenchmarkLiveTable measures a live table folding an updating result: 1000
// keys, then a batch of 4096 changes (2048 -U/+U pairs: each key's count
// goes up by one per pair). Frames are throttled as on a terminal (the
// clock stands still, so only the first batch draws). changes/s is the
// custom metric.
func BenchmarkLiveTable(b *testing.B) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(b, 0)
	const keys = 1000
	initial := make([]row, keys)
	for i := range initial {
		initial[i] = row{fmt.Sprintf("k%d", i), 0}
	}
	first := buildRecord(b, mem, kvSchema, initial)
	defer first.Release()
	var rows []row
	var ops []exec.ChangeKind
	for i := 0; i < 2048; i++ {
		k, n := fmt.Sprintf("k%d", i%keys), i/keys
		rows = append(rows, row{k, n}, row{k, n + 1})
		ops = append(ops, exec.UpdateBefore, exec.UpdateAfter)
	}
	update := exec.Batch{Rec: buildRecord(b, mem, kvSchema, rows), Ops: ops}
	defer update.Rec.Release()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		clock := time.Unix(0, 0)
		r := newLiveRenderer(io.Discard, RenderOptions{Format: FormatTable, Streaming: true, Width: 100},
			func() int { return 40 }, func() time.Time { return clock })
		_ = r.Begin(kvSchema)
		if err := r.Write(exec.Batch{Rec: first}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := r.Write(update); err != nil {
			b.Fatal(err)
		}
		_ = r.End(time.Second, nil)
	}
	b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "changes/s")
}
