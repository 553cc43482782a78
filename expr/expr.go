// Package expr holds bound, typed scalar expressions and their vectorized
// evaluation. The planner builds expressions from the SQL AST; operators in
// exec compile them once into Evaluators that work on whole Arrow arrays.
//
// Types are Arrow types. The SQL ⇄ Arrow mapping is fixed for the project:
// BOOLEAN→Boolean, TINYINT..BIGINT→Int8..Int64 (UNSIGNED→Uint*), FLOAT→Float32,
// DOUBLE→Float64, DECIMAL(p,s)→Decimal128(p,s), VARCHAR/TEXT→String,
// VARBINARY/BLOB→Binary, DATE→Date32, TIME→Time64(µs),
// DATETIME/TIMESTAMP→Timestamp(µs, "UTC"), JSON→String (field metadata
// magnetar.type=json), Avro records/arrays/maps→Struct/List/Map. NULL literals
// have arrow.Null type until coerced.
package expr

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Expr is a bound, typed scalar expression. Nodes are immutable.
type Expr interface {
	// Type is the Arrow type of the values the expression produces.
	Type() arrow.DataType
	// String renders the expression in SQL-like form, for EXPLAIN.
	String() string
	// Children returns the sub-expressions.
	Children() []Expr
	// WithChildren returns a copy with the children replaced.
	WithChildren(children []Expr) Expr
}

// Column refers to column Index of the input batch.
type Column struct {
	Index int
	Name  string
	T     arrow.DataType
}

// Type implements Expr.
func (c *Column) Type() arrow.DataType { return c.T }

// String implements Expr.
func (c *Column) String() string { return fmt.Sprintf("%s#%d", c.Name, c.Index) }

// Children implements Expr.
func (c *Column) Children() []Expr { return nil }

// WithChildren implements Expr.
func (c *Column) WithChildren([]Expr) Expr { return c }

// Literal is a constant. Value is nil for NULL, else one of: bool, int64,
// uint64, float64, string, []byte, decimal128.Num, arrow.Date32,
// arrow.Time64, arrow.Timestamp (µs) — matching T.
type Literal struct {
	Value any
	T     arrow.DataType
}

// Type implements Expr.
func (l *Literal) Type() arrow.DataType { return l.T }

// String implements Expr.
func (l *Literal) String() string {
	if l.Value == nil {
		return "NULL"
	}
	if s, ok := l.Value.(string); ok {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	if s, ok := literalSQL(l); ok {
		return s
	}
	return fmt.Sprint(l.Value)
}

// Children implements Expr.
func (l *Literal) Children() []Expr { return nil }

// WithChildren implements Expr.
func (l *Literal) WithChildren([]Expr) Expr { return l }

// Evaluator evaluates one compiled expression over whole record batches.
type Evaluator interface {
	// Eval returns an array with one value per row of rec; the caller
	// releases it.
	Eval(ctx context.Context, rec arrow.RecordBatch) (arrow.Array, error)
}

// Allocator is the memory allocator evaluators use; kept as an alias so
// callers need not import arrow's memory package just for this.
type Allocator = memory.Allocator
