package memory

import (
	"context"
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
)

// Table is a memory table: a definition and the batches appended to it.
type Table struct {
	def catalog.TableDef

	mu      sync.Mutex
	batches []arrow.RecordBatch
	// grown is closed and replaced whenever batches are appended, waking
	// unbounded scans that tail the table.
	grown chan struct{}
}

var (
	_ catalog.Table      = (*Table)(nil)
	_ catalog.Insertable = (*Table)(nil)
)

func newTable(def catalog.TableDef) *Table {
	return &Table{def: def, grown: make(chan struct{})}
}

// Name implements catalog.Table.
func (t *Table) Name() string { return t.def.Name }

// Schema implements catalog.Table.
func (t *Table) Schema() *arrow.Schema { return t.def.Schema }

// MetadataColumns implements catalog.Table; memory tables have none.
func (t *Table) MetadataColumns() []arrow.Field { return nil }

// Def implements catalog.Table.
func (t *Table) Def() catalog.TableDef { return t.def }

// NumRows counts the stored rows.
func (t *Table) NumRows() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var n int64
	for _, b := range t.batches {
		n += b.NumRows()
	}
	return n
}

func (t *Table) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, b := range t.batches {
		b.Release()
	}
	t.batches = nil
}

// snapshot returns the batches from index from on (retained) and the
// channel closed on the next append.
func (t *Table) snapshot(from int) ([]arrow.RecordBatch, <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []arrow.RecordBatch
	if from < len(t.batches) {
		out = append(out, t.batches[from:]...)
		for _, b := range out {
			b.Retain()
		}
	}
	return out, t.grown
}

func (t *Table) appendBatch(rec arrow.RecordBatch) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec.Retain()
	t.batches = append(t.batches, rec)
	close(t.grown)
	t.grown = make(chan struct{})
}

// Scan implements catalog.Table. A bounded scan emits the batches stored
// when it is opened; an unbounded scan then waits for appended batches
// until its context ends. Filters are not used (the planner keeps them).
func (t *Table) Scan(_ context.Context, req catalog.ScanRequest) (exec.Operator, error) {
	n := len(t.def.Schema.Fields())
	cols := req.Columns
	if cols == nil {
		cols = make([]int, n)
		for i := range cols {
			cols[i] = i
		}
	}
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		if c < 0 || c >= n {
			return nil, fmt.Errorf("scan %s: column %d out of range", t.def.Name, c)
		}
		fields[i] = t.def.Schema.Field(c)
	}
	md := t.def.Schema.Metadata()
	return &scan{
		table:  t,
		schema: arrow.NewSchema(fields, &md),
		cols:   cols,
		limit:  req.Limit,
		tail:   req.Mode == catalog.Unbounded,
	}, nil
}

// OpenWriter implements catalog.Insertable.
func (t *Table) OpenWriter(context.Context) (catalog.Writer, error) {
	return &writer{table: t}, nil
}

type writer struct {
	table  *Table
	closed bool
}

// Write appends the batch's inserted rows. Retractions cannot be applied
// to an append-only memory table and are rejected.
func (w *writer) Write(_ context.Context, b exec.Batch) error {
	if w.closed {
		return fmt.Errorf("write to %s: writer closed", w.table.def.Name)
	}
	if !b.AppendOnly() {
		return fmt.Errorf("write to %s: memory tables accept inserts only", w.table.def.Name)
	}
	if !b.Rec.Schema().Equal(w.table.def.Schema) {
		return fmt.Errorf("write to %s: batch schema %s does not match table schema %s",
			w.table.def.Name, b.Rec.Schema(), w.table.def.Schema)
	}
	if b.Rec.NumRows() == 0 {
		return nil
	}
	w.table.appendBatch(b.Rec)
	return nil
}

func (w *writer) Close(context.Context) error {
	w.closed = true
	return nil
}
