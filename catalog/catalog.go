// Package catalog defines how Magnetar finds databases and tables, and how a
// table is scanned or written. Implementations live in sub-packages:
// catalog/memory (embedded, no broker) and catalog/pulsar (tenants/namespaces
// are databases, topics are tables).
package catalog

import (
	"context"
	"errors"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
)

// ErrNotFound is wrapped by lookups of databases and tables that do not exist.
var ErrNotFound = errors.New("not found")

// ErrExists is wrapped when creating something that already exists.
var ErrExists = errors.New("already exists")

// Catalog lists and resolves databases and tables.
type Catalog interface {
	// Name is the catalog's kind ("memory", "pulsar").
	Name() string
	// DefaultDatabase is the database a new session starts in.
	DefaultDatabase() string
	Databases(ctx context.Context) ([]string, error)
	Tables(ctx context.Context, db string) ([]string, error)
	// Table resolves a table; the error wraps ErrNotFound when it is absent.
	Table(ctx context.Context, db, name string) (Table, error)
	CreateDatabase(ctx context.Context, db string, ifNotExists bool) error
	CreateTable(ctx context.Context, db string, def TableDef, ifNotExists bool) error
	DropTable(ctx context.Context, db, name string, ifExists bool) error
}

// TableDef describes a table to create.
type TableDef struct {
	Name   string
	Schema *arrow.Schema
	// PrimaryKey names the key columns, if declared.
	PrimaryKey []string
	// Partitions is the number of topic partitions (0: not partitioned).
	Partitions int
	// Options holds table options Pulsar has no field for (event-time
	// column, watermark delay, ...), kept with the table.
	Options map[string]string
	Comment string
}

// Table is a resolved table.
type Table interface {
	Name() string
	// Schema holds the visible columns, the ones `*` expands to.
	Schema() *arrow.Schema
	// MetadataColumns are hidden columns selectable by name (e.g. __key,
	// __publish_time). In a ScanRequest they are numbered after Schema's
	// fields.
	MetadataColumns() []arrow.Field
	// Def returns the definition (key, options, comment) for DESCRIBE and
	// SHOW CREATE TABLE.
	Def() TableDef
	// Scan returns a source operator producing the requested columns.
	Scan(ctx context.Context, req ScanRequest) (exec.Operator, error)
}

// Mode says whether a scan ends at a snapshot or tails new data.
type Mode int

// Scan modes.
const (
	Bounded Mode = iota
	Unbounded
)

// ScanRequest is what the planner asks of a table. Column numbers count the
// visible columns first, then the metadata columns.
type ScanRequest struct {
	// Columns to produce, in order; nil means all visible columns.
	Columns []int
	// Filters are conjuncts over the table's column space (expr.Column
	// indices as for Columns) that the planner offers for pushdown. A table
	// that implements FilterPushdown may use the ones it accepted; the
	// planner still applies every filter it was not told is Exact.
	Filters []expr.Expr
	// Limit caps the rows the scan must produce; -1 means no limit.
	Limit int64
	Mode  Mode
	// Options are per-query settings (start position, as-of time, ...).
	Options map[string]string
}

// FilterSupport is how fully a table applies a pushed-down filter.
type FilterSupport int

// Filter support levels.
const (
	// Unsupported: the table ignores the filter.
	Unsupported FilterSupport = iota
	// Inexact: the table uses it to skip data but may return extra rows.
	Inexact
	// Exact: the table returns only matching rows.
	Exact
)

// FilterPushdown is implemented by tables that can use filters while scanning.
type FilterPushdown interface {
	SupportsFilter(e expr.Expr) FilterSupport
}

// Writer receives batches for a table, e.g. from INSERT.
type Writer interface {
	Write(ctx context.Context, b exec.Batch) error
	// Close flushes and releases; it returns the first error seen.
	Close(ctx context.Context) error
}

// Insertable is implemented by tables that accept writes. The batches given
// to the writer have exactly the table's visible schema.
type Insertable interface {
	OpenWriter(ctx context.Context) (Writer, error)
}
