package exec_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
)

// upsertBenchBatches builds n batches of size rows of the upsert schema
// over keys keys (every 20th row a tombstone), then one marker row.
func upsertBenchBatches(mem memory.Allocator, n, size, keys int) []arrow.RecordBatch {
	var out []arrow.RecordBatch
	r := 0
	for range n {
		b := array.NewRecordBuilder(mem, upsertSchema)
		for range size {
			k := int64(r*7919) % int64(keys)
			b.Field(0).(*array.Int64Builder).Append(k)
			key := fmt.Sprint(k)
			if r%20 == 19 {
				b.Field(1).AppendNull()
				b.Field(3).(*array.BooleanBuilder).Append(true)
			} else {
				b.Field(1).(*array.StringBuilder).Append("value-" + key)
				b.Field(3).(*array.BooleanBuilder).Append(false)
			}
			b.Field(2).(*array.StringBuilder).Append(key)
			r++
		}
		out = append(out, b.NewRecordBatch())
		b.Release()
	}
	return out
}

func retainedMsgs(recs []arrow.RecordBatch) []exec.Message {
	msgs := make([]exec.Message, len(recs))
	for i, r := range recs {
		r.Retain()
		msgs[i] = exec.BatchMsg(r, nil)
	}
	return msgs
}

// BenchmarkUpsertMaterialize: rows/s of the changelog phase (100 K keys).
func BenchmarkUpsertMaterialize(b *testing.B) {
	mem := memory.NewGoAllocator()
	recs := upsertBenchBatches(mem, 50, 8192, 100_000)
	defer exectest.Release(recs)
	marker := exectest.Record(mem, upsertSchema, []any{nil, nil, nil, nil})
	defer marker.Release()
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		marker.Retain()
		msgs := append([]exec.Message{exec.BatchMsg(marker, nil)}, retainedMsgs(recs)...)
		op, err := exec.NewUpsertMaterialize(exectest.NewSource(upsertSchema, msgs...), upsertSpec, mem)
		if err != nil {
			b.Fatal(err)
		}
		out, err := exectest.CollectMessages(ctx, op)
		if err != nil {
			b.Fatal(err)
		}
		exectest.ReleaseMessages(out)
	}
	b.ReportMetric(float64(50*8192*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkLookupJoinProbe: probe rows/s of 400 K bids against a table of
// 100 K keys (bootstrap included).
func BenchmarkLookupJoinProbe(b *testing.B) {
	mem := memory.NewGoAllocator()
	table := upsertBenchBatches(mem, 13, 8192, 100_000)
	defer exectest.Release(table)
	var bidRecs []arrow.RecordBatch
	for i := range 50 {
		bb := array.NewRecordBuilder(mem, bidSchema)
		for j := range 8192 {
			bb.Field(0).(*array.Int64Builder).Append(int64((i*8192+j)*31) % 120_000)
			bb.Field(1).(*array.Int64Builder).Append(int64(j))
		}
		bidRecs = append(bidRecs, bb.NewRecordBatch())
		bb.Release()
	}
	defer exectest.Release(bidRecs)
	ctx := context.Background()
	lk, rk := lookupKeys()
	b.ResetTimer()
	for range b.N {
		j, err := exec.NewLookupJoin(exectest.NewSource(bidSchema, retainedMsgs(bidRecs)...),
			exectest.NewSource(upsertSchema, retainedMsgs(table)...), exec.LeftJoin, lk, rk, upsertSpec, nil, mem)
		if err != nil {
			b.Fatal(err)
		}
		out, err := exectest.CollectMessages(ctx, j)
		if err != nil {
			b.Fatal(err)
		}
		exectest.ReleaseMessages(out)
	}
	b.ReportMetric(float64(50*8192*b.N)/b.Elapsed().Seconds(), "bids/s")
}
