package exec_test

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
)

// BenchmarkLookupJoinChangelog: rows/s of a retractable lookup join (the
// changelog path) over the data of BenchmarkLookupJoinProbe: 25 batches of
// 8192 inserted bids, each followed by a batch retracting them (400 K rows
// in all), against a table of 100 K keys (bootstrap included).
func BenchmarkLookupJoinChangelog(b *testing.B) {
	mem := memory.NewGoAllocator()
	table := upsertBenchBatches(mem, 13, 8192, 100_000)
	defer exectest.Release(table)
	var recs []arrow.RecordBatch
	var kinds [][]exec.ChangeKind
	dels := make([]exec.ChangeKind, 8192)
	for i := range dels {
		dels[i] = exec.Delete
	}
	for i := range 25 {
		bb := array.NewRecordBuilder(mem, bidSchema)
		for j := range 8192 {
			bb.Field(0).(*array.Int64Builder).Append(int64((i*8192+j)*31) % 120_000)
			bb.Field(1).(*array.Int64Builder).Append(int64(j))
		}
		rec := bb.NewRecordBatch()
		bb.Release()
		recs = append(recs, rec, rec)
		rec.Retain()
		kinds = append(kinds, nil, dels)
	}
	defer exectest.Release(recs)
	ctx := context.Background()
	lk, rk := lookupKeys()
	b.ResetTimer()
	for range b.N {
		msgs := retainedMsgs(recs)
		for i := range msgs {
			msgs[i].Batch.Ops = kinds[i]
		}
		j, err := exec.NewLookupJoin(exectest.NewSource(bidSchema, msgs...),
			exectest.NewSource(upsertSchema, retainedMsgs(table)...), exec.LeftJoin, lk, rk, upsertSpec, nil, mem)
		if err != nil {
			b.Fatal(err)
		}
		j.SetRetractable(true)
		out, err := exectest.CollectMessages(ctx, j)
		if err != nil {
			b.Fatal(err)
		}
		exectest.ReleaseMessages(out)
		if n := j.OrphanRetractions(); n != 0 {
			b.Fatalf("%d orphan retractions", n)
		}
	}
	b.ReportMetric(float64(50*8192*b.N)/b.Elapsed().Seconds(), "rows/s")
}
