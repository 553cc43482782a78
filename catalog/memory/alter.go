package memory

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/schema"
)

var (
	_ catalog.Alterable        = (*Catalog)(nil)
	_ catalog.OptionsAlterable = (*Catalog)(nil)
)

// SetAllocator sets the allocator of arrays the catalog makes itself (the
// columns ADD COLUMN adds to stored batches); memory.DefaultAllocator when
// never set.
func (c *Catalog) SetAllocator(mem memory.Allocator) {
	c.mu.Lock()
	c.mem = mem
	c.mu.Unlock()
}

func (c *Catalog) allocator() memory.Allocator {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.mem == nil {
		return memory.DefaultAllocator
	}
	return c.mem
}

func (c *Catalog) memTable(ctx context.Context, db, name string) (*Table, error) {
	t, err := c.Table(ctx, db, name)
	if err != nil {
		return nil, err
	}
	return t.(*Table), nil
}

// AddColumns implements catalog.Alterable: the stored batches get the new
// columns filled with their default (NULL unless the field carries
// schema.MetaAvroDefault). Scans already running keep their columns;
// writers opened before the change are refused (their batches no longer
// have the table's schema).
func (c *Catalog) AddColumns(ctx context.Context, db, name string, cols []arrow.Field) error {
	t, err := c.memTable(ctx, db, name)
	if err != nil {
		return err
	}
	return t.addColumns(c.allocator(), cols)
}

func (t *Table) addColumns(mem memory.Allocator, cols []arrow.Field) error {
	if len(cols) == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.def.Schema
	seen := map[string]bool{}
	for _, f := range old.Fields() {
		seen[strings.ToLower(f.Name)] = true
	}
	for _, f := range cols {
		if f.Name == "" {
			return fmt.Errorf("alter table %s: empty column name", t.name)
		}
		if seen[strings.ToLower(f.Name)] {
			return fmt.Errorf("alter table %s: column %q: %w", t.name, f.Name, catalog.ErrExists)
		}
		seen[strings.ToLower(f.Name)] = true
		if !f.Nullable && f.Metadata.FindKey(schema.MetaAvroDefault) < 0 {
			return fmt.Errorf("alter table %s: column %q is NOT NULL but has no default for existing rows", t.name, f.Name)
		}
	}
	md := old.Metadata()
	ns := arrow.NewSchema(append(old.Fields(), cols...), &md)
	// Build every new batch before replacing any, so a failure changes nothing.
	out := make([]arrow.RecordBatch, 0, len(t.batches))
	fail := func(err error) error {
		for _, b := range out {
			b.Release()
		}
		return fmt.Errorf("alter table %s: %w", t.name, err)
	}
	for _, b := range t.batches {
		arrs := append([]arrow.Array(nil), b.Columns()...)
		added := make([]arrow.Array, 0, len(cols))
		for _, f := range cols {
			a, err := schema.DefaultArray(mem, f, int(b.NumRows()))
			if err != nil {
				for _, a := range added {
					a.Release()
				}
				return fail(err)
			}
			added = append(added, a)
		}
		out = append(out, array.NewRecordBatch(ns, append(arrs, added...), b.NumRows()))
		for _, a := range added {
			a.Release()
		}
	}
	for _, b := range t.batches {
		b.Release()
	}
	t.batches = out
	def := t.def
	def.Schema = ns
	t.def = def
	return nil
}

// AlterOptions implements catalog.OptionsAlterable.
func (c *Catalog) AlterOptions(ctx context.Context, db, name string, ch catalog.OptionChange) error {
	t, err := c.memTable(ctx, db, name)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	def := t.def
	opts := make(map[string]string, len(def.Options)+len(ch.Set))
	for k, v := range def.Options {
		opts[k] = v
	}
	for _, k := range ch.Unset {
		delete(opts, k)
	}
	for k, v := range ch.Set {
		opts[k] = v
	}
	def.Options = opts
	if ch.Comment != nil {
		def.Comment = *ch.Comment
	}
	t.def = def
	return nil
}
