package catalog

import (
	"context"
	"errors"

	"github.com/apache/arrow-go/v18/arrow"
)

// ErrIncompatible is wrapped when a table change cannot be applied to the
// data already stored (e.g. the schema registry rejects a new schema).
var ErrIncompatible = errors.New("incompatible change")

// Alterable is implemented by catalogs whose tables can gain columns
// (ALTER TABLE ... ADD COLUMN).
type Alterable interface {
	// AddColumns appends cols to the table's columns. Rows written before
	// the change read the column's default: NULL, or the JSON value in the
	// field's "avro.default" metadata (schema.MetaAvroDefault). A column
	// that is not nullable needs such a default. The error wraps ErrNotFound
	// for an unknown table and ErrExists for a column name already in use
	// (compared case-insensitively).
	AddColumns(ctx context.Context, db, table string, cols []arrow.Field) error
}

// OptionChange is a change of a table's options and comment.
type OptionChange struct {
	// Set adds or replaces options (keys as in TableDef.Options).
	Set map[string]string
	// Unset removes options.
	Unset []string
	// Comment, when not nil, replaces the table comment.
	Comment *string
}

// OptionsAlterable is implemented by catalogs that can change the options
// and comment of an existing table (ALTER TABLE ... ENGINE_ATTRIBUTE / COMMENT).
// The change is kept with the table: a new catalog instance reads it back.
type OptionsAlterable interface {
	AlterOptions(ctx context.Context, db, table string, ch OptionChange) error
}
