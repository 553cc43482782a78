package nexmark

import (
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Arrow schemas matching the Avro ones column for column. Schemas are
// immutable, so every caller shares one.
var (
	personSchema = arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String},
		{Name: "emailAddress", Type: arrow.BinaryTypes.String},
		{Name: "creditCard", Type: arrow.BinaryTypes.String},
		{Name: "city", Type: arrow.BinaryTypes.String},
		{Name: "state", Type: arrow.BinaryTypes.String},
		{Name: "dateTime", Type: arrow.FixedWidthTypes.Timestamp_us},
		{Name: "extra", Type: arrow.BinaryTypes.String},
	}, nil)
	auctionSchema = arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "itemName", Type: arrow.BinaryTypes.String},
		{Name: "description", Type: arrow.BinaryTypes.String},
		{Name: "initialBid", Type: arrow.PrimitiveTypes.Int64},
		{Name: "reserve", Type: arrow.PrimitiveTypes.Int64},
		{Name: "dateTime", Type: arrow.FixedWidthTypes.Timestamp_us},
		{Name: "expires", Type: arrow.FixedWidthTypes.Timestamp_us},
		{Name: "seller", Type: arrow.PrimitiveTypes.Int64},
		{Name: "category", Type: arrow.PrimitiveTypes.Int64},
		{Name: "extra", Type: arrow.BinaryTypes.String},
	}, nil)
	bidSchema = arrow.NewSchema([]arrow.Field{
		{Name: "auction", Type: arrow.PrimitiveTypes.Int64},
		{Name: "bidder", Type: arrow.PrimitiveTypes.Int64},
		{Name: "price", Type: arrow.PrimitiveTypes.Int64},
		{Name: "channel", Type: arrow.BinaryTypes.String},
		{Name: "url", Type: arrow.BinaryTypes.String},
		{Name: "dateTime", Type: arrow.FixedWidthTypes.Timestamp_us},
		{Name: "extra", Type: arrow.BinaryTypes.String},
	}, nil)
)

// PersonSchema is the Arrow schema of the person table.
func PersonSchema() *arrow.Schema { return personSchema }

// AuctionSchema is the Arrow schema of the auction table.
func AuctionSchema() *arrow.Schema { return auctionSchema }

// BidSchema is the Arrow schema of the bid table.
func BidSchema() *arrow.Schema { return bidSchema }

// recordBuilder appends one kind of event to an Arrow record builder and cuts
// a record every batchSize rows.
type recordBuilder struct {
	b         *array.RecordBuilder
	batchSize int
	out       []arrow.RecordBatch
}

func (rb *recordBuilder) rowAdded() {
	if rb.b.Field(0).Len() >= rb.batchSize {
		rb.flush()
	}
}

func (rb *recordBuilder) flush() {
	if rb.b.Field(0).Len() > 0 {
		rb.out = append(rb.out, rb.b.NewRecordBatch())
	}
}

func (rb *recordBuilder) release() {
	rb.b.Release()
}

func appendPerson(b *array.RecordBuilder, p *Person) {
	b.Field(0).(*array.Int64Builder).Append(p.ID)
	b.Field(1).(*array.StringBuilder).Append(p.Name)
	b.Field(2).(*array.StringBuilder).Append(p.EmailAddress)
	b.Field(3).(*array.StringBuilder).Append(p.CreditCard)
	b.Field(4).(*array.StringBuilder).Append(p.City)
	b.Field(5).(*array.StringBuilder).Append(p.State)
	b.Field(6).(*array.TimestampBuilder).Append(arrow.Timestamp(p.DateTime.UnixMicro()))
	b.Field(7).(*array.StringBuilder).Append(p.Extra)
}

func appendAuction(b *array.RecordBuilder, a *Auction) {
	b.Field(0).(*array.Int64Builder).Append(a.ID)
	b.Field(1).(*array.StringBuilder).Append(a.ItemName)
	b.Field(2).(*array.StringBuilder).Append(a.Description)
	b.Field(3).(*array.Int64Builder).Append(a.InitialBid)
	b.Field(4).(*array.Int64Builder).Append(a.Reserve)
	b.Field(5).(*array.TimestampBuilder).Append(arrow.Timestamp(a.DateTime.UnixMicro()))
	b.Field(6).(*array.TimestampBuilder).Append(arrow.Timestamp(a.Expires.UnixMicro()))
	b.Field(7).(*array.Int64Builder).Append(a.Seller)
	b.Field(8).(*array.Int64Builder).Append(a.Category)
	b.Field(9).(*array.StringBuilder).Append(a.Extra)
}

func appendBid(b *array.RecordBuilder, bid *Bid) {
	b.Field(0).(*array.Int64Builder).Append(bid.Auction)
	b.Field(1).(*array.Int64Builder).Append(bid.Bidder)
	b.Field(2).(*array.Int64Builder).Append(bid.Price)
	b.Field(3).(*array.StringBuilder).Append(bid.Channel)
	b.Field(4).(*array.StringBuilder).Append(bid.URL)
	b.Field(5).(*array.TimestampBuilder).Append(arrow.Timestamp(bid.DateTime.UnixMicro()))
	b.Field(6).(*array.StringBuilder).Append(bid.Extra)
}

// Batches generates all cfg.Events events as Arrow records, one slice per
// kind, each record holding at most batchSize rows. The caller releases the
// records.
func Batches(cfg Config, mem memory.Allocator, batchSize int) (persons, auctions, bids []arrow.RecordBatch, err error) {
	if cfg.Events <= 0 {
		return nil, nil, nil, errors.New("nexmark: Batches needs a bounded stream (Config.Events > 0)")
	}
	if batchSize <= 0 {
		return nil, nil, nil, fmt.Errorf("nexmark: batch size %d is not positive", batchSize)
	}
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	pb := &recordBuilder{b: array.NewRecordBuilder(mem, personSchema), batchSize: batchSize}
	ab := &recordBuilder{b: array.NewRecordBuilder(mem, auctionSchema), batchSize: batchSize}
	bb := &recordBuilder{b: array.NewRecordBuilder(mem, bidSchema), batchSize: batchSize}
	defer pb.release()
	defer ab.release()
	defer bb.release()

	g := NewGenerator(cfg)
	var (
		p   Person
		a   Auction
		bid Bid
	)
	for n := int64(0); n < cfg.Events; n++ {
		switch g.fill(n, &p, &a, &bid) {
		case kindPerson:
			appendPerson(pb.b, &p)
			pb.rowAdded()
		case kindAuction:
			appendAuction(ab.b, &a)
			ab.rowAdded()
		default:
			appendBid(bb.b, &bid)
			bb.rowAdded()
		}
	}
	pb.flush()
	ab.flush()
	bb.flush()
	return pb.out, ab.out, bb.out, nil
}
