// Package memory is an embedded, in-process Catalog: databases hold tables
// whose rows are kept as retained Arrow record batches. It backs tests, the
// sqllogictest harness and the shell when no broker is configured.
package memory

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/catalog"
)

// DefaultDatabase is the database every memory catalog starts with.
const DefaultDatabase = "default"

// Catalog is an in-memory catalog. It is safe for concurrent use.
type Catalog struct {
	mu  sync.RWMutex
	dbs map[string]map[string]*Table // lower-cased db → lower-cased table name → table
	// dbNames keeps the spelling a database was created with.
	dbNames map[string]string
	mem     memory.Allocator // see SetAllocator
}

var _ catalog.Catalog = (*Catalog)(nil)

// New returns a catalog holding the empty database "default".
func New() *Catalog {
	c := &Catalog{dbs: map[string]map[string]*Table{}, dbNames: map[string]string{}}
	c.dbs[DefaultDatabase] = map[string]*Table{}
	c.dbNames[DefaultDatabase] = DefaultDatabase
	return c
}

// Name implements catalog.Catalog.
func (c *Catalog) Name() string { return "memory" }

// DefaultDatabase implements catalog.Catalog.
func (c *Catalog) DefaultDatabase() string { return DefaultDatabase }

// Databases implements catalog.Catalog; names are sorted.
func (c *Catalog) Databases(context.Context) ([]string, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]string, 0, len(c.dbNames))
	for _, n := range c.dbNames {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// Tables implements catalog.Catalog; names are sorted.
func (c *Catalog) Tables(_ context.Context, db string) ([]string, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	tabs, ok := c.dbs[strings.ToLower(db)]
	if !ok {
		return nil, fmt.Errorf("database %q: %w", db, catalog.ErrNotFound)
	}
	out := make([]string, 0, len(tabs))
	for _, t := range tabs {
		out = append(out, t.name)
	}
	sort.Strings(out)
	return out, nil
}

// Table implements catalog.Catalog. Names match case-insensitively, as
// MySQL does on case-insensitive file systems.
func (c *Catalog) Table(_ context.Context, db, name string) (catalog.Table, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	tabs, ok := c.dbs[strings.ToLower(db)]
	if !ok {
		return nil, fmt.Errorf("database %q: %w", db, catalog.ErrNotFound)
	}
	t, ok := tabs[strings.ToLower(name)]
	if !ok {
		return nil, fmt.Errorf("table %q.%q: %w", db, name, catalog.ErrNotFound)
	}
	return t, nil
}

// CreateDatabase implements catalog.Catalog.
func (c *Catalog) CreateDatabase(_ context.Context, db string, ifNotExists bool) error {
	if db == "" {
		return fmt.Errorf("create database: empty name")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	key := strings.ToLower(db)
	if _, ok := c.dbs[key]; ok {
		if ifNotExists {
			return nil
		}
		return fmt.Errorf("database %q: %w", db, catalog.ErrExists)
	}
	c.dbs[key] = map[string]*Table{}
	c.dbNames[key] = db
	return nil
}

// CreateTable implements catalog.Catalog.
func (c *Catalog) CreateTable(_ context.Context, db string, def catalog.TableDef, ifNotExists bool) error {
	if def.Name == "" || def.Schema == nil {
		return fmt.Errorf("create table: name and schema are required")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	tabs, ok := c.dbs[strings.ToLower(db)]
	if !ok {
		return fmt.Errorf("database %q: %w", db, catalog.ErrNotFound)
	}
	key := strings.ToLower(def.Name)
	if _, ok := tabs[key]; ok {
		if ifNotExists {
			return nil
		}
		return fmt.Errorf("table %q.%q: %w", db, def.Name, catalog.ErrExists)
	}
	tabs[key] = newTable(def)
	return nil
}

// DropTable implements catalog.Catalog. The table's batches are released
// once no scan still holds them.
func (c *Catalog) DropTable(_ context.Context, db, name string, ifExists bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	tabs, ok := c.dbs[strings.ToLower(db)]
	if !ok {
		if ifExists {
			return nil
		}
		return fmt.Errorf("database %q: %w", db, catalog.ErrNotFound)
	}
	key := strings.ToLower(name)
	t, ok := tabs[key]
	if !ok {
		if ifExists {
			return nil
		}
		return fmt.Errorf("table %q.%q: %w", db, name, catalog.ErrNotFound)
	}
	delete(tabs, key)
	t.release()
	return nil
}

// Close releases every table's batches.
func (c *Catalog) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, tabs := range c.dbs {
		for _, t := range tabs {
			t.release()
		}
	}
	c.dbs = map[string]map[string]*Table{}
	c.dbNames = map[string]string{}
}

// AddTable creates (or replaces) a table holding the given batches, which it
// retains. It is how test fixtures and sample data (e.g. Nexmark) load data.
func (c *Catalog) AddTable(db string, def catalog.TableDef, batches []arrow.RecordBatch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := strings.ToLower(db)
	tabs, ok := c.dbs[key]
	if !ok {
		tabs = map[string]*Table{}
		c.dbs[key] = tabs
		c.dbNames[key] = db
	}
	if old, ok := tabs[strings.ToLower(def.Name)]; ok {
		old.release()
	}
	t := newTable(def)
	for _, b := range batches {
		if !b.Schema().Equal(def.Schema) {
			return fmt.Errorf("add table %s: batch schema %s does not match table schema", def.Name, b.Schema())
		}
		b.Retain()
		t.batches = append(t.batches, b)
	}
	tabs[strings.ToLower(def.Name)] = t
	return nil
}
