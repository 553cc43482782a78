package engine

import (
	"context"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/catalog"
	memcat "github.com/magnetar-sql/magnetar/catalog/memory"
	"github.com/magnetar-sql/magnetar/nexmark"
)

// nexmarkEvents is the size of the in-memory Nexmark data set of the
// streaming benchmarks (about 92% bids).
const nexmarkEvents = 1_000_000

var nexmarkOnce struct {
	sync.Once
	cat                     *memcat.Catalog
	persons, auctions, bids int64
	err                     error
}

// nexmarkCatalog holds person, auction and bid tables in the memory
// catalog's "nexmark" database, generated once per test binary.
func nexmarkCatalog(b *testing.B) *memcat.Catalog {
	b.Helper()
	o := &nexmarkOnce
	o.Do(func() {
		mem := memory.NewGoAllocator()
		ps, as, bs, err := nexmark.Batches(nexmark.Config{Events: nexmarkEvents}, mem, 8192)
		if err != nil {
			o.err = err
			return
		}
		o.cat = memcat.New()
		if err := o.cat.CreateDatabase(context.Background(), "nexmark", true); err != nil {
			o.err = err
			return
		}
		for _, t := range []struct {
			name    string
			schema  *arrow.Schema
			batches []arrow.RecordBatch
			n       *int64
		}{{"person", nexmark.PersonSchema(), ps, &o.persons}, {"auction", nexmark.AuctionSchema(), as, &o.auctions}, {"bid", nexmark.BidSchema(), bs, &o.bids}} {
			if err := o.cat.AddTable("nexmark", catalog.TableDef{Name: t.name, Schema: t.schema}, t.batches); err != nil {
				o.err = err
				return
			}
			for _, r := range t.batches {
				*t.n += r.NumRows()
				r.Release()
			}
		}
	})
	if o.err != nil {
		b.Fatal(o.err)
	}
	return o.cat
}

// runNexmark runs q bounded; rows/s counts the input events of events().
func runNexmark(b *testing.B, q string, events func() int64) {
	cat := nexmarkCatalog(b)
	runBench(b, cat, q, int(events()))
}

func bids() int64 { return nexmarkOnce.bids }

// Nexmark q5 shape: bids per auction per 10 s tumbling window.
func BenchmarkNexmarkTumbleCount(b *testing.B) {
	runNexmark(b, "SELECT window_start, auction, count(*) FROM nexmark.bid GROUP BY TUMBLE(dateTime, '10 SECONDS'), auction", bids)
}

// Nexmark q5 proper: hopping windows (size 10 s, slide 2 s), 5 windows per row.
func BenchmarkNexmarkHopCount(b *testing.B) {
	runNexmark(b, "SELECT window_start, auction, count(*) FROM nexmark.bid GROUP BY HOP(dateTime, '2 SECONDS', '10 SECONDS'), auction", bids)
}

// Nexmark q7 shape: highest price per auction per 10 s tumbling window.
func BenchmarkNexmarkTumbleMax(b *testing.B) {
	runNexmark(b, "SELECT window_start, auction, count(*), max(price) FROM nexmark.bid GROUP BY TUMBLE(dateTime, '10 SECONDS'), auction", bids)
}

// Nexmark q7 proper: the highest bid of each 10 s window.
func BenchmarkNexmarkQ7Max(b *testing.B) {
	runNexmark(b, "SELECT window_start, max(price) FROM nexmark.bid GROUP BY TUMBLE(dateTime, '10 SECONDS')", bids)
}

// Nexmark q8 shape: people who opened an auction within 10 s of
// registering, as an interval join of person and auction.
func BenchmarkNexmarkIntervalJoin(b *testing.B) {
	runNexmark(b, `SELECT p.id, p.name, a.reserve FROM nexmark.person p JOIN nexmark.auction a
		ON p.id = a.seller AND a.dateTime BETWEEN p.dateTime AND p.dateTime + INTERVAL 10 SECOND`,
		func() int64 { return nexmarkOnce.persons + nexmarkOnce.auctions })
}

// The same join as a plain hash join (no time bound), for comparison.
func BenchmarkNexmarkHashJoin(b *testing.B) {
	runNexmark(b, `SELECT p.id, p.name, a.reserve FROM nexmark.person p JOIN nexmark.auction a ON p.id = a.seller`,
		func() int64 { return nexmarkOnce.persons + nexmarkOnce.auctions })
}
