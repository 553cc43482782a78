package flightclient

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/shell"
)

// BenchmarkRemoteScan reads a 1M-row, two-column table through the client
// (no rendering): the cost of the Flight SQL path the remote shell adds.
func BenchmarkRemoteScan(b *testing.B) {
	const rows, perBatch = 1 << 20, 64 << 10
	srv := startServer(b, nil)
	sc := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "v", Type: arrow.PrimitiveTypes.Float64}}, nil)
	var batches []arrow.RecordBatch
	bld := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	for i := 0; i < rows; i++ {
		bld.Field(0).(*array.Int64Builder).Append(int64(i))
		bld.Field(1).(*array.Float64Builder).Append(float64(i) / 3)
		if (i+1)%perBatch == 0 {
			batches = append(batches, bld.NewRecordBatch())
		}
	}
	bld.Release()
	if err := srv.cat.AddTable(srv.cat.DefaultDatabase(), catalog.TableDef{Name: "big", Schema: sc}, batches); err != nil {
		b.Fatal(err)
	}
	for _, r := range batches {
		r.Release()
	}
	c := connect(b, srv.addr, nil)
	ctx := context.Background()
	b.SetBytes(rows * 16)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := int64(0)
		err := c.Run(ctx, "SELECT id, v FROM big", func(r *shell.Result) error {
			for {
				msg, err := r.Rows.Next(ctx)
				if err != nil {
					return err
				}
				if msg.Kind == exec.MsgEnd {
					return nil
				}
				if msg.Kind == exec.MsgBatch {
					n += msg.Batch.Rec.NumRows()
				}
				msg.Release()
			}
		})
		if err != nil || n != rows {
			b.Fatalf("read %d rows: %v", n, err)
		}
	}
}
