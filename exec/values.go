package exec

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
)

// Values emits a fixed list of record batches, then End. It is the source
// for literal VALUES lists and the workhorse of operator tests.
type Values struct {
	schema  *arrow.Schema
	batches []arrow.RecordBatch
	pos     int
}

// NewValues returns an operator emitting batches (which it retains) and then
// End. Every batch must have the given schema.
func NewValues(schema *arrow.Schema, batches []arrow.RecordBatch) Operator {
	own := make([]arrow.RecordBatch, len(batches))
	for i, b := range batches {
		b.Retain()
		own[i] = b
	}
	return &Values{schema: schema, batches: own}
}

// Schema implements Operator.
func (v *Values) Schema() *arrow.Schema { return v.schema }

// Open implements Operator.
func (v *Values) Open(context.Context) error { return nil }

// Next implements Operator. Each batch is handed out with an extra Retain so
// the operator can be closed independently of its consumer.
func (v *Values) Next(ctx context.Context) (Message, error) {
	if err := ctx.Err(); err != nil {
		return Message{}, err
	}
	for v.pos < len(v.batches) {
		b := v.batches[v.pos]
		v.batches[v.pos] = nil
		v.pos++
		if b.NumRows() == 0 {
			b.Release()
			continue
		}
		// Ownership of our reference passes to the caller.
		return BatchMsg(b, nil), nil
	}
	return EndMsg, nil
}

// Close implements Operator.
func (v *Values) Close() error {
	for i, b := range v.batches {
		if b != nil {
			b.Release()
			v.batches[i] = nil
		}
	}
	return nil
}

// Children implements Operator.
func (v *Values) Children() []Operator { return nil }

// String implements Operator.
func (v *Values) String() string { return fmt.Sprintf("Values(batches=%d)", len(v.batches)) }
