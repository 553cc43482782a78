package pulsar

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
	"github.com/magnetar-sql/magnetar/nexmark"
)

// benchBids is how many Nexmark bids the scan benchmarks read
// (MAGNETAR_BENCH_BIDS, default 1M; the target is 5M).
func benchBids() int64 {
	if v, err := strconv.ParseInt(os.Getenv("MAGNETAR_BENCH_BIDS"), 10, 64); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}

// benchTable returns the bid table of a Nexmark namespace holding at least
// bids bids on a one-partition topic, producing it on first use. The
// namespace is kept between runs (public/magnetar-bench-<bids>).
func benchTable(b *testing.B, bids int64) (*Catalog, *Table) {
	b.Helper()
	serviceURL, adminURL := testbroker.Require(b)
	ns := fmt.Sprintf("public/magnetar-bench-%d", bids)
	ctx := context.Background()
	cat, err := New(ctx, Config{ServiceURL: serviceURL, AdminURL: adminURL, Allocator: memory.NewGoAllocator()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cat.Close() })
	const marker = "magnetar.bench_bids"
	tb, err := cat.table(ctx, ns, nexmark.BidTable)
	if err == nil {
		tn, _ := parseTopic(tb.topic)
		if props, _ := cat.admin.Topics().GetProperties(*tn); props[marker] == strconv.FormatInt(bids, 10) {
			return cat, tb
		}
	}
	// Events come in blocks of 50 with 46 bids.
	events := (bids + 45) / 46 * 50
	start := time.Now()
	st, err := nexmark.Produce(ctx, nexmark.Config{Events: events}, nexmark.ProduceOptions{ServiceURL: serviceURL, AdminURL: adminURL, Namespace: ns})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("produced %d bids (%d events) in %s", st.Bids, st.Events(), time.Since(start).Round(time.Millisecond))
	tn, _ := parseTopic(nexmark.Topic(ns, nexmark.BidTable))
	if err := cat.admin.Topics().UpdateProperties(*tn, map[string]string{marker: strconv.FormatInt(bids, 10)}); err != nil {
		b.Fatal(err)
	}
	cat.Refresh()
	if tb, err = cat.table(ctx, ns, nexmark.BidTable); err != nil {
		b.Fatal(err)
	}
	return cat, tb
}

// BenchmarkBoundedScan compares a bounded scan into Arrow batches (all bid
// columns decoded) with a bare pulsar-client-go reader draining the same
// topic without decoding, in the same run.
func BenchmarkBoundedScan(b *testing.B) {
	bids := benchBids()
	cat, tb := benchTable(b, bids)
	b.Run("magnetar-split", func(b *testing.B) {
		var total int64
		for b.Loop() {
			rows, _ := drainScan(b, tb, map[string]string{"segment_split": "true"})
			if rows < bids {
				b.Fatalf("%d rows, want >= %d", rows, bids)
			}
			total += rows
		}
		b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("magnetar-1-reader", func(b *testing.B) {
		var total int64
		for b.Loop() {
			rows, _ := drainScan(b, tb, map[string]string{"segment_split": "false"})
			total += rows
		}
		b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("bare-reader", func(b *testing.B) {
		var total int64
		for b.Loop() {
			n := drainBare(b, cat, tb.topic)
			if n < bids {
				b.Fatalf("%d messages, want >= %d", n, bids)
			}
			total += n
		}
		b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "rows/s")
	})
}

// BenchmarkSegmentParallel compares ledger-range parallel readers with one
// reader on the one-partition bid topic.
func BenchmarkSegmentParallel(b *testing.B) {
	bids := benchBids()
	_, tb := benchTable(b, bids)
	for _, tc := range []struct {
		name string
		opts map[string]string
	}{
		{"single-reader", map[string]string{"segment_split": "false"}},
		{"split-2", map[string]string{"segment_split": "true", "parallelism": "2"}},
		{"split-4", map[string]string{"segment_split": "true", "parallelism": "4"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var segs int
			var total int64
			for b.Loop() {
				rows, src := drainScan(b, tb, tc.opts)
				if rows < bids {
					b.Fatalf("%d rows, want >= %d", rows, bids)
				}
				segs = src.Stats().Segments
				total += rows
			}
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(segs), "segments")
		})
	}
}

func drainScan(b *testing.B, tb *Table, opts map[string]string) (int64, *source) {
	ctx := context.Background()
	op, err := tb.Scan(ctx, catalog.ScanRequest{Limit: -1, Options: opts})
	if err != nil {
		b.Fatal(err)
	}
	if err := op.Open(ctx); err != nil {
		b.Fatal(err)
	}
	defer op.Close()
	var rows int64
	for {
		m, err := op.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if m.Kind == exec.MsgEnd {
			break
		}
		if m.Kind == exec.MsgBatch {
			rows += m.Batch.Rec.NumRows()
		}
		m.Release()
	}
	return rows, op.(*source)
}

// drainBare reads topic from the earliest message to its last message id
// with a plain reader, touching each payload.
func drainBare(b *testing.B, cat *Catalog, topic string) int64 {
	ctx := context.Background()
	tn, _ := parseTopic(topic)
	last, err := cat.admin.Topics().GetLastMessageID(*tn)
	if err != nil {
		b.Fatal(err)
	}
	r, err := cat.client.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID(), ReceiverQueueSize: receiverQueue})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	var n, sum int64
	for {
		m, err := r.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		n++
		sum += int64(len(m.Payload()))
		id := m.ID()
		if id.LedgerID() == last.LedgerID && id.EntryID() == last.EntryID && id.BatchIdx() >= id.BatchSize()-1 {
			break
		}
	}
	if sum == 0 {
		b.Fatal("empty payloads")
	}
	return n
}
