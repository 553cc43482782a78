package exec

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
)

// ChangeKind says what a row does to the result it belongs to.
type ChangeKind int8

// Change kinds, as in Flink's RowKind and RisingWave's Op.
const (
	Insert ChangeKind = iota
	Delete
	UpdateBefore
	UpdateAfter
)

// String gives the changelog mark shown to users (+I, -D, -U, +U).
func (k ChangeKind) String() string {
	switch k {
	case Insert:
		return "+I"
	case Delete:
		return "-D"
	case UpdateBefore:
		return "-U"
	case UpdateAfter:
		return "+U"
	}
	return fmt.Sprintf("ChangeKind(%d)", int8(k))
}

// IsRetraction reports whether the row removes a previously emitted row.
func (k ChangeKind) IsRetraction() bool { return k == Delete || k == UpdateBefore }

// MessageKind tells which field of a Message is set.
type MessageKind uint8

// Message kinds; see the package documentation.
const (
	MsgBatch MessageKind = iota
	MsgWatermark
	MsgBarrier
	MsgEnd
)

// Batch is a record batch whose rows each carry a change kind.
type Batch struct {
	Rec arrow.RecordBatch
	// Ops holds one change kind per row; nil means all rows are inserts.
	Ops []ChangeKind
}

// Op returns the change kind of row i.
func (b Batch) Op(i int) ChangeKind {
	if b.Ops == nil {
		return Insert
	}
	return b.Ops[i]
}

// AppendOnly reports whether every row of the batch is an insert.
func (b Batch) AppendOnly() bool {
	for _, op := range b.Ops {
		if op != Insert {
			return false
		}
	}
	return true
}

// Message is the unit operators exchange.
type Message struct {
	Kind  MessageKind
	Batch Batch
	// Watermark is event time in microseconds since the Unix epoch (MsgWatermark).
	Watermark int64
	// Barrier is the checkpoint id (MsgBarrier).
	Barrier uint64
}

// BatchMsg wraps a batch into a message.
func BatchMsg(rec arrow.RecordBatch, ops []ChangeKind) Message {
	return Message{Kind: MsgBatch, Batch: Batch{Rec: rec, Ops: ops}}
}

// WatermarkMsg builds a watermark message.
func WatermarkMsg(us int64) Message { return Message{Kind: MsgWatermark, Watermark: us} }

// EndMsg is the end-of-data message.
var EndMsg = Message{Kind: MsgEnd}

// Release frees the batch a message holds, if any.
func (m Message) Release() {
	if m.Kind == MsgBatch && m.Batch.Rec != nil {
		m.Batch.Rec.Release()
	}
}

// Operator is the one interface every physical operator implements.
type Operator interface {
	// Schema is the schema of every batch the operator returns.
	Schema() *arrow.Schema
	// Open prepares the operator and opens its children.
	Open(ctx context.Context) error
	// Next returns the next message; ownership of a batch passes to the caller.
	Next(ctx context.Context) (Message, error)
	// Close releases all resources and closes the children.
	Close() error
	// Children returns the inputs, for EXPLAIN and metrics.
	Children() []Operator
	// String names the operator and its arguments on one line, for EXPLAIN.
	String() string
}
