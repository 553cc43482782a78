package nexmark

import (
	"reflect"
	"testing"
	"time"
)

func collect(t *testing.T, cfg Config) []Event {
	t.Helper()
	g := NewGenerator(cfg)
	var evs []Event
	for {
		e, ok := g.Next()
		if !ok {
			break
		}
		set := 0
		for _, p := range []bool{e.Person != nil, e.Auction != nil, e.Bid != nil} {
			if p {
				set++
			}
		}
		if set != 1 {
			t.Fatalf("event %d has %d kinds set", len(evs), set)
		}
		evs = append(evs, e)
	}
	if int64(len(evs)) != cfg.Events {
		t.Fatalf("generated %d events, want %d", len(evs), cfg.Events)
	}
	return evs
}

func TestDeterministic(t *testing.T) {
	a := collect(t, Config{Seed: 7, Events: 3000})
	b := collect(t, Config{Seed: 7, Events: 3000})
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different events")
	}
	c := collect(t, Config{Seed: 8, Events: 3000})
	same := 0
	for i := range a {
		if a[i].Bid != nil && reflect.DeepEqual(a[i], c[i]) {
			same++
		}
	}
	if same > 10 {
		t.Fatalf("seeds 7 and 8 agree on %d bids", same)
	}
}

// Event n must not depend on what was generated before it (the channel cache
// in particular), so any stretch of the stream can be regenerated alone.
func TestEventIndependentOfHistory(t *testing.T) {
	seq := collect(t, Config{Seed: 3, Events: 2000})
	for _, n := range []int64{1999, 1234, 0, 51, 4} {
		g := NewGenerator(Config{Seed: 3})
		var p Person
		var a Auction
		var b Bid
		var got Event
		switch g.fill(n, &p, &a, &b) {
		case kindPerson:
			got.Person = &p
		case kindAuction:
			got.Auction = &a
		default:
			got.Bid = &b
		}
		if !reflect.DeepEqual(got, seq[n]) {
			t.Fatalf("event %d alone = %+v, in sequence %+v", n, got, seq[n])
		}
	}
}

func TestProportions(t *testing.T) {
	evs := collect(t, Config{Seed: 1, Events: 5000})
	for blk := 0; blk < len(evs); blk += 50 {
		var np, na, nb int
		for _, e := range evs[blk : blk+50] {
			switch {
			case e.Person != nil:
				np++
			case e.Auction != nil:
				na++
			default:
				nb++
			}
		}
		if np != 1 || na != 3 || nb != 46 {
			t.Fatalf("block at %d: %d persons, %d auctions, %d bids; want 1, 3, 46", blk, np, na, nb)
		}
	}
}

func TestIDsAndValues(t *testing.T) {
	cfg := Config{Seed: 11, Events: 20000, EventsPerSecond: 1000}
	evs := collect(t, cfg)
	nextPerson, nextAuction := int64(FirstPersonID), int64(FirstAuctionID)
	for i, e := range evs {
		wantTime := DefaultBaseTime.Add(time.Duration(i) * time.Millisecond)
		if got := e.Time(); !got.Equal(wantTime) {
			t.Fatalf("event %d at %v, want %v", i, got, wantTime)
		}
		// Newest person and auction that exist when event i happens.
		lastPerson, lastAuction := nextPerson-1, nextAuction-1
		switch {
		case e.Person != nil:
			if e.Person.ID != nextPerson {
				t.Fatalf("event %d: person id %d, want %d", i, e.Person.ID, nextPerson)
			}
			nextPerson++
		case e.Auction != nil:
			a := e.Auction
			if a.ID != nextAuction {
				t.Fatalf("event %d: auction id %d, want %d", i, a.ID, nextAuction)
			}
			nextAuction++
			if a.Category < FirstCategoryID || a.Category >= FirstCategoryID+NumCategories {
				t.Fatalf("event %d: category %d", i, a.Category)
			}
			if a.Seller < FirstPersonID || a.Seller > lastPerson+personIDLead {
				t.Fatalf("event %d: seller %d, newest person %d", i, a.Seller, lastPerson)
			}
			if !a.Expires.After(a.DateTime) || a.Reserve < a.InitialBid || a.InitialBid < 100 {
				t.Fatalf("event %d: bad auction %+v", i, a)
			}
		default:
			b := e.Bid
			if b.Auction < max(FirstAuctionID, lastAuction-100) || b.Auction > lastAuction+auctionIDLead {
				t.Fatalf("event %d: bid on auction %d, newest %d", i, b.Auction, lastAuction)
			}
			if b.Bidder < FirstPersonID || b.Bidder > lastPerson+personIDLead {
				t.Fatalf("event %d: bidder %d, newest person %d", i, b.Bidder, lastPerson)
			}
			if b.Price < 100 || b.Price > 100_000_000 {
				t.Fatalf("event %d: price %d", i, b.Price)
			}
			if b.Channel == "" || b.URL == "" {
				t.Fatalf("event %d: empty channel or url: %+v", i, b)
			}
		}
	}
}

func TestHotRatios(t *testing.T) {
	evs := collect(t, Config{Seed: 5, Events: 100000})
	var bids, hotAuction, hotBidder, auctions, hotSeller int
	for _, e := range evs {
		switch {
		case e.Auction != nil:
			auctions++
			if (e.Auction.Seller-FirstPersonID)%hotSellerBlock == 0 {
				hotSeller++
			}
		case e.Bid != nil:
			bids++
			if (e.Bid.Auction-FirstAuctionID)%hotAuctionBlock == 0 {
				hotAuction++
			}
			if (e.Bid.Bidder-FirstPersonID)%hotBidderBlock == 1 {
				hotBidder++
			}
		}
	}
	check := func(what string, n, of int, want float64) {
		// Random picks land on a hot id now and then too: allow a few %.
		if got := float64(n) / float64(of); got < want-0.02 || got > want+0.05 {
			t.Errorf("%s: %.3f of events, want about %.2f", what, got, want)
		}
	}
	check("bids on the hot auction", hotAuction, bids, 0.5)
	check("bids by a hot bidder", hotBidder, bids, 0.75)
	check("auctions by a hot seller", hotSeller, auctions, 0.75)
}

func TestAverageSizes(t *testing.T) {
	evs := collect(t, Config{Seed: 9, Events: 50000})
	var ps, as, bs, np, na, nb int
	for _, e := range evs {
		switch {
		case e.Person != nil:
			ps += e.Person.Size()
			np++
		case e.Auction != nil:
			as += e.Auction.Size()
			na++
		default:
			bs += e.Bid.Size()
			nb++
		}
	}
	check := func(what string, total, n int, want float64) {
		if got := float64(total) / float64(n); got < want*0.9 || got > want*1.2 {
			t.Errorf("average %s size %.1f bytes, want about %.0f", what, got, want)
		} else {
			t.Logf("average %s size %.1f bytes", what, got)
		}
	}
	check("person", ps, np, 200)
	check("auction", as, na, 500)
	check("bid", bs, nb, 100)
}

func TestConfigRateAndBase(t *testing.T) {
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	evs := collect(t, Config{Seed: 1, Events: 101, BaseTime: base, EventsPerSecond: 4000})
	if !evs[0].Time().Equal(base) {
		t.Fatalf("first event at %v, want %v", evs[0].Time(), base)
	}
	// 4000 events/s: 250 µs apart, so event 100 is 25 ms in.
	if got, want := evs[100].Time(), base.Add(25*time.Millisecond); !got.Equal(want) {
		t.Fatalf("event 100 at %v, want %v", got, want)
	}
	if evs[7].Time().Before(evs[6].Time()) {
		t.Fatal("event times go backwards")
	}
}

func BenchmarkGenerator(b *testing.B) {
	g := NewGenerator(Config{Seed: 1})
	var p Person
	var a Auction
	var bid Bid
	b.ReportAllocs()
	for n := 0; b.Loop(); n++ {
		g.fill(int64(n), &p, &a, &bid)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkGeneratorNext(b *testing.B) {
	g := NewGenerator(Config{Seed: 1})
	b.ReportAllocs()
	for b.Loop() {
		g.Next()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
