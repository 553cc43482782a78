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
	name string // fixed at creation; def.Name may not change

	mu sync.Mutex
	// def changes with ALTER TABLE: read it under mu (getDef).
	def     catalog.TableDef
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
	return &Table{name: def.Name, def: def, grown: make(chan struct{})}
}

// getDef returns the current definition. Its maps and slices are never
// modified in place (ALTER replaces them), so callers may keep it.
func (t *Table) getDef() catalog.TableDef {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.def
}

// Name implements catalog.Table.
func (t *Table) Name() string { return t.name }

// Schema implements catalog.Table.
func (t *Table) Schema() *arrow.Schema { return t.getDef().Schema }

// MetadataColumns implements catalog.Table; memory tables have none.
func (t *Table) MetadataColumns() []arrow.Field { return nil }

// Def implements catalog.Table.
func (t *Table) Def() catalog.TableDef {
	d := t.getDef()
	opts := d.Options
	d.Options = make(map[string]string, len(opts))
	for k, v := range opts {
		d.Options[k] = v
	}
	d.PrimaryKey = append([]string(nil), d.PrimaryKey...)
	return d
}

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

// appendBatch stores rec if it has the table's current schema (checked
// under the lock, so that a concurrent ADD COLUMN cannot slip between the
// check and the append).
func (t *Table) appendBatch(rec arrow.RecordBatch) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !rec.Schema().Equal(t.def.Schema) {
		return fmt.Errorf("write to %s: batch schema %s does not match table schema %s",
			t.name, rec.Schema(), t.def.Schema)
	}
	rec.Retain()
	t.batches = append(t.batches, rec)
	close(t.grown)
	t.grown = make(chan struct{})
	return nil
}

// Scan implements catalog.Table. A bounded scan emits the batches stored
// when it is opened; an unbounded scan then waits for appended batches
// until its context ends. Filters are not used (the planner keeps them).
func (t *Table) Scan(_ context.Context, req catalog.ScanRequest) (exec.Operator, error) {
	sch := t.Schema()
	n := len(sch.Fields())
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
			return nil, fmt.Errorf("scan %s: column %d out of range", t.name, c)
		}
		fields[i] = sch.Field(c)
	}
	md := sch.Metadata()
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
		return fmt.Errorf("write to %s: writer closed", w.table.name)
	}
	if !b.AppendOnly() {
		return fmt.Errorf("write to %s: memory tables accept inserts only", w.table.name)
	}
	if b.Rec.NumRows() == 0 {
		if !b.Rec.Schema().Equal(w.table.Schema()) {
			return fmt.Errorf("write to %s: batch schema %s does not match table schema %s",
				w.table.name, b.Rec.Schema(), w.table.Schema())
		}
		return nil
	}
	return w.table.appendBatch(b.Rec)
}

func (w *writer) Close(context.Context) error {
	w.closed = true
	return nil
}
