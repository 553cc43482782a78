package nexmark

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// kind says which of the three event kinds an event number is.
type kind uint8

const (
	kindPerson kind = iota
	kindAuction
	kindBid
)

// kindOf returns the kind of event n: in each block of 50 events the first is
// a person, the next three auctions and the remaining 46 bids.
func kindOf(n int64) kind {
	switch rem := n % totalProportion; {
	case rem < personProportion:
		return kindPerson
	case rem < personProportion+auctionProportion:
		return kindAuction
	default:
		return kindBid
	}
}

// lastBase0PersonID is the 0-based id of the newest person at event n.
func lastBase0PersonID(n int64) int64 {
	epoch, offset := n/totalProportion, n%totalProportion
	if offset >= personProportion {
		offset = personProportion - 1
	}
	return epoch*personProportion + offset
}

// lastBase0AuctionID is the 0-based id of the newest auction at event n
// (-1 before the first auction).
func lastBase0AuctionID(n int64) int64 {
	epoch, offset := n/totalProportion, n%totalProportion
	switch {
	case offset < personProportion:
		// The block's auctions are still to come: the newest is the
		// previous block's last one.
		epoch--
		offset = auctionProportion - 1
	case offset >= personProportion+auctionProportion:
		offset = auctionProportion - 1
	default:
		offset -= personProportion
	}
	return epoch*auctionProportion + offset
}

// channel is one bid channel and the URL bids from it carry.
type channel struct{ name, url string }

// Generator produces the events of one Config in order. It is not safe for
// concurrent use; create one per goroutine.
type Generator struct {
	cfg     Config
	next    int64
	baseMs  int64
	delayUs float64

	pcg rand.PCG
	r   *rand.Rand

	hot      []channel // one per hotChannels name
	channels []channel // built on first use, by channel number
	buf      []byte    // scratch for building strings
	pad      string    // padPoolSize random letters, see nextPadding
}

// NewGenerator returns a generator for cfg (zero fields take the defaults).
func NewGenerator(cfg Config) *Generator {
	cfg = cfg.withDefaults()
	g := &Generator{
		cfg:      cfg,
		baseMs:   cfg.BaseTime.UnixMilli(),
		delayUs:  1e6 / cfg.EventsPerSecond,
		channels: make([]channel, numChannels),
	}
	g.r = rand.New(&g.pcg)
	g.seed(^uint64(0) >> 1)
	g.pad = g.nextExactString(padPoolSize)
	g.hot = make([]channel, len(hotChannels))
	for i, name := range hotChannels {
		// The hot channels' URLs are fixed per seed, drawn from a stream
		// of their own so they do not depend on which events come first.
		g.seed(^uint64(i))
		g.hot[i] = channel{name: name, url: g.baseURL()}
	}
	return g
}

// Config returns the generator's configuration with defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// Next returns the next event, or false once cfg.Events events were returned.
func (g *Generator) Next() (Event, bool) {
	if g.cfg.Events > 0 && g.next >= g.cfg.Events {
		return Event{}, false
	}
	n := g.next
	g.next++
	switch kindOf(n) {
	case kindPerson:
		p := new(Person)
		g.person(n, p)
		return Event{Person: p}, true
	case kindAuction:
		a := new(Auction)
		g.auction(n, a)
		return Event{Auction: a}, true
	default:
		b := new(Bid)
		g.bid(n, b)
		return Event{Bid: b}, true
	}
}

// fill generates event n into whichever of p, a, b its kind needs and
// returns the kind; it lets bulk paths reuse one struct per kind.
func (g *Generator) fill(n int64, p *Person, a *Auction, b *Bid) kind {
	k := kindOf(n)
	switch k {
	case kindPerson:
		g.person(n, p)
	case kindAuction:
		g.auction(n, a)
	default:
		g.bid(n, b)
	}
	return k
}

// mix64 is SplitMix64's finalizer: it spreads nearby inputs (event numbers,
// small seeds) over the whole 64-bit range before they seed a PCG.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// seed points the random source at the stream of the given key. Each event
// draws from its own stream, so event n is the same however it is reached.
func (g *Generator) seed(key uint64) {
	g.pcg.Seed(mix64(g.cfg.Seed), mix64(key))
}

// timeMs is the event time of event n in Unix milliseconds.
func (g *Generator) timeMs(n int64) int64 {
	return g.baseMs + int64(float64(n)*g.delayUs)/1000
}

func (g *Generator) person(n int64, p *Person) {
	g.seed(uint64(n))
	r := g.r
	p.ID = lastBase0PersonID(n) + FirstPersonID
	p.Name = firstNames[r.IntN(len(firstNames))] + " " + lastNames[r.IntN(len(lastNames))]
	p.EmailAddress = g.nextString(7) + "@" + g.nextString(5) + ".com"
	g.buf = g.buf[:0]
	for i := range 4 {
		if i > 0 {
			g.buf = append(g.buf, ' ')
		}
		v := r.IntN(10000)
		g.buf = append(g.buf, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
	}
	p.CreditCard = string(g.buf)
	p.City = usCities[r.IntN(len(usCities))]
	p.State = usStates[r.IntN(len(usStates))]
	p.DateTime = time.UnixMilli(g.timeMs(n)).UTC()
	p.Extra = ""
	p.Extra = g.nextExtra(p.Size(), g.cfg.AvgPersonByteSize)
}

func (g *Generator) auction(n int64, a *Auction) {
	g.seed(uint64(n))
	r := g.r
	a.ID = lastBase0AuctionID(n) + FirstAuctionID
	if r.IntN(g.cfg.HotSellersRatio) > 0 {
		// The first person of the newest block of hotSellerBlock people.
		a.Seller = lastBase0PersonID(n) / hotSellerBlock * hotSellerBlock
	} else {
		a.Seller = g.nextBase0PersonID(n)
	}
	a.Seller += FirstPersonID
	a.Category = FirstCategoryID + int64(r.IntN(NumCategories))
	a.InitialBid = g.nextPrice()
	ts := g.timeMs(n)
	a.DateTime = time.UnixMilli(ts).UTC()
	a.Expires = time.UnixMilli(ts + g.nextAuctionLengthMs(n, ts)).UTC()
	a.ItemName = g.nextString(20)
	a.Description = g.nextString(100)
	a.Reserve = a.InitialBid + g.nextPrice()
	a.Extra = ""
	a.Extra = g.nextExtra(a.Size(), g.cfg.AvgAuctionByteSize)
}

func (g *Generator) bid(n int64, b *Bid) {
	g.seed(uint64(n))
	r := g.r
	if r.IntN(g.cfg.HotAuctionRatio) > 0 {
		// The first auction of the newest block of hotAuctionBlock auctions.
		b.Auction = lastBase0AuctionID(n) / hotAuctionBlock * hotAuctionBlock
	} else {
		b.Auction = g.nextBase0AuctionID(n)
	}
	b.Auction += FirstAuctionID
	if r.IntN(g.cfg.HotBiddersRatio) > 0 {
		// The second person of the newest block, so that hot bidders and
		// hot sellers differ.
		b.Bidder = lastBase0PersonID(n)/hotBidderBlock*hotBidderBlock + 1
	} else {
		b.Bidder = g.nextBase0PersonID(n)
	}
	b.Bidder += FirstPersonID
	b.Price = g.nextPrice()
	var c channel
	if r.IntN(hotChannelsRatio) > 0 {
		c = g.hot[r.IntN(len(g.hot))]
	} else {
		c = g.channel(r.IntN(numChannels))
	}
	b.Channel, b.URL = c.name, c.url
	b.DateTime = time.UnixMilli(g.timeMs(n)).UTC()
	b.Extra = ""
	b.Extra = g.nextExtra(b.Size(), g.cfg.AvgBidByteSize)
}

// nextBase0PersonID picks one of the active people, reaching a few ids past
// the newest one.
func (g *Generator) nextBase0PersonID(n int64) int64 {
	numPeople := lastBase0PersonID(n) + 1
	active := min(numPeople, g.cfg.NumActivePeople)
	return numPeople - active + g.r.Int64N(active+personIDLead)
}

// nextBase0AuctionID picks one of the auctions in flight, reaching a few ids
// past the newest one.
func (g *Generator) nextBase0AuctionID(n int64) int64 {
	maxID := lastBase0AuctionID(n)
	minID := max(maxID-g.cfg.NumInFlightAuctions, 0)
	return minID + g.r.Int64N(maxID-minID+1+auctionIDLead)
}

// nextAuctionLengthMs draws an auction's length so that on average about
// NumInFlightAuctions auctions are open at any event time.
func (g *Generator) nextAuctionLengthMs(n, ts int64) int64 {
	eventsForAuctions := g.cfg.NumInFlightAuctions * totalProportion / auctionProportion
	horizon := g.timeMs(n+eventsForAuctions) - ts
	return 1 + g.r.Int64N(max(horizon*2, 1))
}

// nextPrice draws a price in cents, log-uniform between $1 and $1,000,000.
func (g *Generator) nextPrice() int64 {
	// 10^(6u) as e^(6u·ln 10): math.Pow costs twice as much.
	return int64(math.Round(math.Exp(g.r.Float64()*6*math.Ln10) * 100))
}

// nextString draws a string of 3 to maxLen-1 lower-case letters with the odd
// space, trimmed.
func (g *Generator) nextString(maxLen int) string {
	n := 3 + g.r.IntN(maxLen-3)
	g.buf = g.buf[:0]
	for range n {
		if g.r.IntN(13) == 0 {
			g.buf = append(g.buf, ' ')
		} else {
			g.buf = append(g.buf, byte('a'+g.r.IntN(26)))
		}
	}
	return strings.TrimSpace(string(g.buf))
}

// padPoolSize is the length of the random letters Extra is cut from.
const padPoolSize = 1 << 16

// nextPadding returns n random lower-case letters: a slice of the generator's
// pool at a random offset. Padding only needs to look random; cutting it
// from a pool saves drawing and allocating every letter.
func (g *Generator) nextPadding(n int) string {
	if n > padPoolSize/2 {
		return g.nextExactString(n)
	}
	off := g.r.IntN(padPoolSize - n + 1)
	return g.pad[off : off+n]
}

// nextExactString draws exactly n lower-case letters.
func (g *Generator) nextExactString(n int) string {
	g.buf = g.buf[:0]
	for n > 0 {
		// Four letters per draw: each 16-bit chunk scaled onto 0..25.
		// The bias (< 26/65536) does not matter for padding.
		x := g.r.Uint64()
		for j := 0; j < 4 && n > 0; j++ {
			g.buf = append(g.buf, byte('a'+(x&0xffff)*26>>16))
			x >>= 16
			n--
		}
	}
	return string(g.buf)
}

// nextExtra pads a record of currentSize bytes towards desiredAvg: a string
// within ±20% of the missing size, or "" when nothing is missing.
func (g *Generator) nextExtra(currentSize, desiredAvg int) string {
	if currentSize >= desiredAvg {
		return ""
	}
	desired := desiredAvg - currentSize
	delta := int(math.Round(float64(desired) * 0.2))
	size := desired - delta + g.r.IntN(2*delta+1)
	return g.nextPadding(size)
}

// baseURL draws a bid URL of the model's shape.
func (g *Generator) baseURL() string {
	return "https://www.nexmark.com/" + g.nextWord() + "/" + g.nextWord() + "/" + g.nextWord() + "/item.htm?query=1"
}

// nextWord draws up to 5 letters or underscores (never empty).
func (g *Generator) nextWord() string {
	n := 1 + g.r.IntN(5)
	g.buf = g.buf[:0]
	for range n {
		if g.r.IntN(13) == 0 {
			g.buf = append(g.buf, '_')
		} else {
			g.buf = append(g.buf, byte('a'+g.r.IntN(26)))
		}
	}
	return string(g.buf)
}

// channel returns channel i, building it on first use from a stream of its
// own so that it is the same whichever event asks first.
func (g *Generator) channel(i int) channel {
	if c := g.channels[i]; c.name != "" {
		return c
	}
	// Save and restore the event's stream: the channel's own draws must
	// not shift the rest of the event.
	saved, _ := g.pcg.MarshalBinary()
	g.seed(^uint64(len(hotChannels) + i))
	c := channel{name: "channel-" + strconv.Itoa(i), url: g.baseURL()}
	if g.r.IntN(2) == 0 {
		c.url += "&channel_id=" + strconv.FormatUint(uint64(bits.Reverse32(uint32(i))>>1), 10)
	}
	_ = g.pcg.UnmarshalBinary(saved)
	g.channels[i] = c
	return c
}
