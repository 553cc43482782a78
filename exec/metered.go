package exec

import (
	"context"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// Stats are the runtime counters of one operator, for EXPLAIN ANALYZE.
type Stats struct {
	// Rows and Batches count what the operator returned (all change kinds).
	Rows    int64
	Batches int64
	// Time is the wall time spent inside Open and Next, children included.
	Time time.Duration
	// SelfTime is Time minus the Time of the direct children that are
	// themselves Metered. Children pulled on their own goroutines (union,
	// symmetric joins) run concurrently, so SelfTime then is an estimate; it
	// never goes below zero.
	SelfTime time.Duration
}

// Metered wraps an operator and counts rows, batches and time in Next.
// EXPLAIN ANALYZE wraps every operator of a plan; Children and String pass
// through to the wrapped operator so plan rendering is unchanged.
type Metered struct {
	op      Operator
	rows    int64
	batches int64
	elapsed time.Duration
}

// NewMetered wraps op.
func NewMetered(op Operator) *Metered { return &Metered{op: op} }

// Unwrap returns the wrapped operator.
func (m *Metered) Unwrap() Operator { return m.op }

// Schema implements Operator.
func (m *Metered) Schema() *arrow.Schema { return m.op.Schema() }

// Open implements Operator.
func (m *Metered) Open(ctx context.Context) error {
	t := time.Now()
	err := m.op.Open(ctx)
	m.elapsed += time.Since(t)
	return err
}

// Next implements Operator.
func (m *Metered) Next(ctx context.Context) (Message, error) {
	t := time.Now()
	msg, err := m.op.Next(ctx)
	m.elapsed += time.Since(t)
	if err == nil && msg.Kind == MsgBatch {
		m.batches++
		m.rows += msg.Batch.Rec.NumRows()
	}
	return msg, err
}

// Close implements Operator.
func (m *Metered) Close() error { return m.op.Close() }

// Children implements Operator.
func (m *Metered) Children() []Operator { return m.op.Children() }

// String implements Operator.
func (m *Metered) String() string { return m.op.String() }

// Stats returns the counters so far. Call it from the goroutine that pulls
// the operator (or after the run); it is not synchronized.
func (m *Metered) Stats() Stats {
	s := Stats{Rows: m.rows, Batches: m.batches, Time: m.elapsed, SelfTime: m.elapsed}
	for _, c := range m.op.Children() {
		if cm, ok := c.(*Metered); ok {
			s.SelfTime -= cm.elapsed
		}
	}
	if s.SelfTime < 0 {
		s.SelfTime = 0
	}
	return s
}
