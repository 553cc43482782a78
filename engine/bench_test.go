package engine

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/catalog"
	memcat "github.com/magnetar-sql/magnetar/catalog/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/sql"
)

// benchCatalog holds a table bids(auction, bidder, price, channel) of n
// rows in batches of 4096.
func benchCatalog(b *testing.B, n int) *memcat.Catalog {
	b.Helper()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "auction", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "bidder", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "price", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "channel", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	channels := []string{"apple", "google", "facebook", "baidu"}
	var batches []arrow.RecordBatch
	mem := memory.NewGoAllocator()
	for start := 0; start < n; start += 4096 {
		rb := array.NewRecordBuilder(mem, schema)
		for i := start; i < min(n, start+4096); i++ {
			rb.Field(0).(*array.Int64Builder).Append(int64(1000 + i%100))
			rb.Field(1).(*array.Int64Builder).Append(int64(2000 + i%1000))
			rb.Field(2).(*array.Int64Builder).Append(int64(i % 10000))
			rb.Field(3).(*array.StringBuilder).Append(channels[i%4])
		}
		batches = append(batches, rb.NewRecordBatch())
		rb.Release()
	}
	cat := memcat.New()
	if err := cat.AddTable("default", catalog.TableDef{Name: "bids", Schema: schema}, batches); err != nil {
		b.Fatal(err)
	}
	for _, r := range batches {
		r.Release()
	}
	b.Cleanup(cat.Close)
	return cat
}

func runBench(b *testing.B, cat catalog.Catalog, q string, rows int) {
	s := New(cat, Options{}).NewSession()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		err := s.Run(ctx, q, func(r *Result) error {
			for {
				m, err := r.Rows.Next(ctx)
				if err != nil {
					return err
				}
				m.Release()
				if m.Kind == exec.MsgEnd {
					return nil
				}
			}
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// Nexmark q2-like selection and projection over 1M bids.
func BenchmarkFilterProject(b *testing.B) {
	cat := benchCatalog(b, 1<<20)
	runBench(b, cat, "SELECT auction, price * 2 FROM bids WHERE auction % 123 = 0 OR price > 9000", 1<<20)
}

// Nexmark q4-like grouping over 1M bids.
func BenchmarkGroupBy(b *testing.B) {
	cat := benchCatalog(b, 1<<20)
	runBench(b, cat, "SELECT auction, COUNT(*), AVG(price), MAX(price) FROM bids GROUP BY auction", 1<<20)
}

// Parse, bind and optimize a join with aggregation, no execution.
func BenchmarkPlanJoinAggregate(b *testing.B) {
	cat := benchCatalog(b, 10)
	s := New(cat, Options{}).NewSession()
	ctx := context.Background()
	q := "SELECT a.channel, COUNT(*), SUM(b.price) FROM bids a JOIN bids b ON a.auction = b.auction AND a.bidder <> b.bidder WHERE a.price > 10 AND b.channel IN ('apple', 'google') GROUP BY a.channel HAVING COUNT(*) > 1 ORDER BY 2 DESC LIMIT 10"
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		st, err := sql.Parse(q)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Plan(ctx, &st[0]); err != nil {
			b.Fatal(err)
		}
	}
}
