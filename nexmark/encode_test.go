package nexmark

import (
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hamba/avro/v2"
	"github.com/linkedin/goavro/v2"
)

// decodeGoavro decodes one payload with goavro, an Avro library independent
// of the hand-written encoder, and checks nothing is left over.
func decodeGoavro(t *testing.T, codec *goavro.Codec, payload []byte) map[string]any {
	t.Helper()
	v, rest, err := codec.NativeFromBinary(payload)
	if err != nil {
		t.Fatalf("goavro decode: %v", err)
	}
	if len(rest) != 0 {
		t.Fatalf("goavro left %d bytes undecoded", len(rest))
	}
	return v.(map[string]any)
}

func TestAvroRoundTrip(t *testing.T) {
	codecs := map[string]*goavro.Codec{}
	for name, def := range map[string]string{"person": PersonAvro, "auction": AuctionAvro, "bid": BidAvro} {
		c, err := goavro.NewCodec(def)
		if err != nil {
			t.Fatalf("%s schema: %v", name, err)
		}
		codecs[name] = c
	}
	ms := func(ts time.Time) time.Time { return ts.UTC() }
	g := NewGenerator(Config{Seed: 2, Events: 500})
	var buf []byte
	for {
		e, ok := g.Next()
		if !ok {
			break
		}
		switch {
		case e.Person != nil:
			p := e.Person
			m := decodeGoavro(t, codecs["person"], AppendPersonAvro(buf[:0], p))
			want := map[string]any{"id": p.ID, "name": p.Name, "emailAddress": p.EmailAddress, "creditCard": p.CreditCard,
				"city": p.City, "state": p.State, "dateTime": p.DateTime, "extra": p.Extra}
			compare(t, m, want, ms)
		case e.Auction != nil:
			a := e.Auction
			m := decodeGoavro(t, codecs["auction"], AppendAuctionAvro(buf[:0], a))
			want := map[string]any{"id": a.ID, "itemName": a.ItemName, "description": a.Description, "initialBid": a.InitialBid,
				"reserve": a.Reserve, "dateTime": a.DateTime, "expires": a.Expires, "seller": a.Seller, "category": a.Category, "extra": a.Extra}
			compare(t, m, want, ms)
		default:
			b := e.Bid
			m := decodeGoavro(t, codecs["bid"], AppendBidAvro(buf[:0], b))
			want := map[string]any{"auction": b.Auction, "bidder": b.Bidder, "price": b.Price, "channel": b.Channel,
				"url": b.URL, "dateTime": b.DateTime, "extra": b.Extra}
			compare(t, m, want, ms)
		}
	}
}

func compare(t *testing.T, got, want map[string]any, norm func(time.Time) time.Time) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("decoded %d fields, want %d: %v", len(got), len(want), got)
	}
	for k, w := range want {
		g := got[k]
		if wt, ok := w.(time.Time); ok {
			gt, ok := g.(time.Time)
			if !ok || !norm(gt).Equal(norm(wt)) {
				t.Fatalf("field %s = %v, want %v", k, g, w)
			}
			continue
		}
		if g != w {
			t.Fatalf("field %s = %#v, want %#v", k, g, w)
		}
	}
}

// A second, struct-based decoder (hamba) must agree too: it is the kind of
// decoder the ingest path uses.
func TestAvroHambaDecode(t *testing.T) {
	type bidRec struct {
		Auction  int64     `avro:"auction"`
		Bidder   int64     `avro:"bidder"`
		Price    int64     `avro:"price"`
		Channel  string    `avro:"channel"`
		URL      string    `avro:"url"`
		DateTime time.Time `avro:"dateTime"`
		Extra    string    `avro:"extra"`
	}
	sch, err := avro.Parse(BidAvro)
	if err != nil {
		t.Fatal(err)
	}
	g := NewGenerator(Config{Seed: 4, Events: 300})
	for {
		e, ok := g.Next()
		if !ok {
			break
		}
		if e.Bid == nil {
			continue
		}
		var r bidRec
		if err := avro.Unmarshal(sch, AppendBidAvro(nil, e.Bid), &r); err != nil {
			t.Fatal(err)
		}
		b := e.Bid
		if r.Auction != b.Auction || r.Bidder != b.Bidder || r.Price != b.Price || r.Channel != b.Channel ||
			r.URL != b.URL || !r.DateTime.Equal(b.DateTime) || r.Extra != b.Extra {
			t.Fatalf("hamba decoded %+v, want %+v", r, *b)
		}
	}
}

func TestBatches(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	cfg := Config{Seed: 6, Events: 2600}
	persons, auctions, bids, err := Batches(cfg, mem, 500)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, rs := range [][]arrow.RecordBatch{persons, auctions, bids} {
			for _, r := range rs {
				r.Release()
			}
		}
	}()
	rows := func(rs []arrow.RecordBatch, sch *arrow.Schema) int64 {
		var n int64
		for _, r := range rs {
			if !r.Schema().Equal(sch) {
				t.Fatalf("record schema %v, want %v", r.Schema(), sch)
			}
			if r.NumRows() > 500 {
				t.Fatalf("record of %d rows, batch size 500", r.NumRows())
			}
			n += r.NumRows()
		}
		return n
	}
	np, na, nb := rows(persons, PersonSchema()), rows(auctions, AuctionSchema()), rows(bids, BidSchema())
	if np != 52 || na != 156 || nb != 2392 {
		t.Fatalf("rows %d/%d/%d, want 52/156/2392", np, na, nb)
	}
	if np+na+nb != cfg.Events {
		t.Fatalf("%d rows for %d events", np+na+nb, cfg.Events)
	}

	// The rows hold the generator's values, in order.
	g := NewGenerator(cfg)
	var pi, ai, bi int
	at := func(rs []arrow.RecordBatch, i int) (arrow.RecordBatch, int) {
		for _, r := range rs {
			if i < int(r.NumRows()) {
				return r, i
			}
			i -= int(r.NumRows())
		}
		t.Fatalf("row %d out of range", i)
		return nil, 0
	}
	for {
		e, ok := g.Next()
		if !ok {
			break
		}
		switch {
		case e.Person != nil:
			r, i := at(persons, pi)
			pi++
			if r.Column(0).(*array.Int64).Value(i) != e.Person.ID ||
				r.Column(7).(*array.String).Value(i) != e.Person.Extra ||
				r.Column(6).(*array.Timestamp).Value(i) != arrow.Timestamp(e.Person.DateTime.UnixMicro()) {
				t.Fatalf("person row %d differs from %+v", pi-1, e.Person)
			}
		case e.Auction != nil:
			r, i := at(auctions, ai)
			ai++
			if r.Column(0).(*array.Int64).Value(i) != e.Auction.ID ||
				r.Column(6).(*array.Timestamp).Value(i) != arrow.Timestamp(e.Auction.Expires.UnixMicro()) ||
				r.Column(7).(*array.Int64).Value(i) != e.Auction.Seller {
				t.Fatalf("auction row %d differs from %+v", ai-1, e.Auction)
			}
		default:
			r, i := at(bids, bi)
			bi++
			if r.Column(0).(*array.Int64).Value(i) != e.Bid.Auction ||
				r.Column(2).(*array.Int64).Value(i) != e.Bid.Price ||
				r.Column(4).(*array.String).Value(i) != e.Bid.URL {
				t.Fatalf("bid row %d differs from %+v", bi-1, e.Bid)
			}
		}
	}
}

func TestBatchesRejectsUnbounded(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	if _, _, _, err := Batches(Config{}, mem, 10); err == nil {
		t.Fatal("Batches of an unbounded stream succeeded")
	}
	if _, _, _, err := Batches(Config{Events: 10}, mem, 0); err == nil {
		t.Fatal("Batches with batch size 0 succeeded")
	}
}

func BenchmarkBatches(b *testing.B) {
	const events = 100000
	for b.Loop() {
		p, a, bids, err := Batches(Config{Seed: 1, Events: events}, memory.DefaultAllocator, 8192)
		if err != nil {
			b.Fatal(err)
		}
		for _, rs := range [][]arrow.RecordBatch{p, a, bids} {
			for _, r := range rs {
				r.Release()
			}
		}
	}
	b.ReportMetric(float64(b.N)*events/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkAvroEncode(b *testing.B) {
	g := NewGenerator(Config{Seed: 1})
	var p Person
	var a Auction
	var bid Bid
	buf := make([]byte, 0, 1024)
	for n := 0; b.Loop(); n++ {
		switch g.fill(int64(n), &p, &a, &bid) {
		case kindPerson:
			buf = AppendPersonAvro(buf[:0], &p)
		case kindAuction:
			buf = AppendAuctionAvro(buf[:0], &a)
		default:
			buf = AppendBidAvro(buf[:0], &bid)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
