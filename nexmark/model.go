// Package nexmark generates the Nexmark benchmark's online-auction events
// (persons, auctions and bids), as Go values, Arrow records or Avro-encoded
// messages on Pulsar topics.
//
// The model follows the published Nexmark generator: events come in blocks of
// 50 (1 person, 3 auctions, 46 bids), ids start at 1000, categories at 10,
// most bids go to a "hot" auction and most auctions and bids to "hot" sellers
// and bidders, and records are padded to average sizes of about 200 (person),
// 500 (auction) and 100 (bid) bytes. Event i's values depend only on the seed
// and i, so any stretch of the stream can be regenerated on its own.
package nexmark

import "time"

// Fixed parts of the model.
const (
	// FirstPersonID is the id of the first person.
	FirstPersonID = 1000
	// FirstAuctionID is the id of the first auction.
	FirstAuctionID = 1000
	// FirstCategoryID is the lowest auction category.
	FirstCategoryID = 10
	// NumCategories is how many categories auctions fall into.
	NumCategories = 5

	personProportion  = 1
	auctionProportion = 3
	bidProportion     = 46
	totalProportion   = personProportion + auctionProportion + bidProportion

	// "Hot" items are the first (sellers, auctions) or second (bidders) of
	// each block of this many recent ones.
	hotAuctionBlock = 100
	hotSellerBlock  = 100
	hotBidderBlock  = 100

	// How far past the newest person/auction a random pick may reach, so that
	// some bids and auctions refer to ids that do not exist yet (as in the model).
	personIDLead  = 10
	auctionIDLead = 10

	// Channels: half of the bids come through one of the hot channels, the
	// rest through one of numChannels others.
	hotChannelsRatio = 2
	numChannels      = 10000
)

var (
	firstNames  = []string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	lastNames   = []string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
	usStates    = []string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	usCities    = []string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	hotChannels = []string{"Google", "Facebook", "Baidu", "Apple"}
)

// DefaultBaseTime is the event time of the first event unless Config.BaseTime
// says otherwise (the base time of the reference Nexmark implementation).
var DefaultBaseTime = time.Date(2015, 7, 15, 0, 0, 0, 0, time.UTC)

// Config describes one generated stream. Zero fields take the Nexmark defaults.
type Config struct {
	// Seed selects the stream: the same seed gives the same events.
	Seed uint64
	// Events is how many events to generate; 0 or less means no end.
	Events int64
	// BaseTime is the event time of the first event (DefaultBaseTime if zero).
	BaseTime time.Time
	// EventsPerSecond is the event-time rate: event i has event time
	// BaseTime + i*1e6/EventsPerSecond µs, truncated to milliseconds
	// (default 10000).
	EventsPerSecond float64

	// NumActivePeople is how many recent people bid and sell (default 1000).
	NumActivePeople int64
	// NumInFlightAuctions is how many recent auctions get bids (default 100).
	NumInFlightAuctions int64
	// HotAuctionRatio: 1 - 1/ratio of the bids go to the hot auction (default 2).
	HotAuctionRatio int
	// HotSellersRatio: 1 - 1/ratio of the auctions are by a hot seller (default 4).
	HotSellersRatio int
	// HotBiddersRatio: 1 - 1/ratio of the bids are by a hot bidder (default 4).
	HotBiddersRatio int
	// Average record sizes in bytes, reached by padding Extra (defaults 200, 500, 100).
	AvgPersonByteSize, AvgAuctionByteSize, AvgBidByteSize int
}

// withDefaults fills the zero fields of c with the Nexmark defaults.
func (c Config) withDefaults() Config {
	if c.BaseTime.IsZero() {
		c.BaseTime = DefaultBaseTime
	}
	if c.EventsPerSecond <= 0 {
		c.EventsPerSecond = 10000
	}
	if c.NumActivePeople <= 0 {
		c.NumActivePeople = 1000
	}
	if c.NumInFlightAuctions <= 0 {
		c.NumInFlightAuctions = 100
	}
	if c.HotAuctionRatio <= 0 {
		c.HotAuctionRatio = 2
	}
	if c.HotSellersRatio <= 0 {
		c.HotSellersRatio = 4
	}
	if c.HotBiddersRatio <= 0 {
		c.HotBiddersRatio = 4
	}
	if c.AvgPersonByteSize <= 0 {
		c.AvgPersonByteSize = 200
	}
	if c.AvgAuctionByteSize <= 0 {
		c.AvgAuctionByteSize = 500
	}
	if c.AvgBidByteSize <= 0 {
		c.AvgBidByteSize = 100
	}
	return c
}

// Person is a person registering to buy or sell.
type Person struct {
	ID           int64
	Name         string
	EmailAddress string
	CreditCard   string
	City         string
	State        string
	DateTime     time.Time
	Extra        string
}

// Auction is an item put up for auction.
type Auction struct {
	ID          int64
	ItemName    string
	Description string
	InitialBid  int64
	Reserve     int64
	DateTime    time.Time
	Expires     time.Time
	Seller      int64
	Category    int64
	Extra       string
}

// Bid is a bid on an auction; Price is in cents.
type Bid struct {
	Auction  int64
	Bidder   int64
	Price    int64
	Channel  string
	URL      string
	DateTime time.Time
	Extra    string
}

// Event is one generated event: exactly one of the fields is set.
type Event struct {
	Person  *Person
	Auction *Auction
	Bid     *Bid
}

// Time returns the event time of whichever event e holds.
func (e Event) Time() time.Time {
	switch {
	case e.Person != nil:
		return e.Person.DateTime
	case e.Auction != nil:
		return e.Auction.DateTime
	case e.Bid != nil:
		return e.Bid.DateTime
	}
	return time.Time{}
}

// Size is the model's size of a record: 8 bytes per number or time plus the
// length of each string. Extra is padded so these average the configured sizes.
func (p *Person) Size() int {
	return 8 + len(p.Name) + len(p.EmailAddress) + len(p.CreditCard) + len(p.City) + len(p.State) + 8 + len(p.Extra)
}

// Size is the model's size of a record (see Person.Size).
func (a *Auction) Size() int {
	return 8 + len(a.ItemName) + len(a.Description) + 8 + 8 + 8 + 8 + 8 + 8 + len(a.Extra)
}

// Size is the model's size of a record (see Person.Size).
func (b *Bid) Size() int {
	return 8 + 8 + 8 + len(b.Channel) + len(b.URL) + 8 + len(b.Extra)
}
