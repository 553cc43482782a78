package exec

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

// Project computes one output column per expression. Rows, and hence Ops,
// are unchanged.
type Project struct {
	child  Operator
	exprs  []expr.Expr
	evs    []expr.Evaluator
	schema *arrow.Schema
}

// NewProject returns a projection of child; names gives the output column
// names (len(names) == len(exprs)).
func NewProject(child Operator, exprs []expr.Expr, names []string, mem memory.Allocator) (Operator, error) {
	if len(names) != len(exprs) {
		return nil, fmt.Errorf("project: %d expressions but %d names", len(exprs), len(names))
	}
	evs, err := compileAll(exprs, mem)
	if err != nil {
		return nil, fmt.Errorf("project: %w", err)
	}
	fields := make([]arrow.Field, len(exprs))
	in := child.Schema()
	for i, e := range exprs {
		fields[i] = arrow.Field{Name: names[i], Type: e.Type(), Nullable: true}
		// A plain column keeps its metadata (e.g. magnetar.type=json).
		if c, ok := e.(*expr.Column); ok && in != nil && c.Index < in.NumFields() {
			fields[i].Metadata = in.Field(c.Index).Metadata
			fields[i].Nullable = in.Field(c.Index).Nullable
		}
	}
	return &Project{child: child, exprs: exprs, evs: evs, schema: arrow.NewSchema(fields, nil)}, nil
}

// Schema implements Operator.
func (p *Project) Schema() *arrow.Schema { return p.schema }

// Open implements Operator.
func (p *Project) Open(ctx context.Context) error { return p.child.Open(ctx) }

// Next implements Operator.
func (p *Project) Next(ctx context.Context) (Message, error) {
	m, err := p.child.Next(ctx)
	if err != nil || m.Kind != MsgBatch {
		return m, err
	}
	cols, err := evalAll(ctx, p.evs, m.Batch.Rec)
	n := m.Batch.Rec.NumRows()
	ops := m.Batch.Ops
	m.Release()
	if err != nil {
		return Message{}, fmt.Errorf("project: %w", err)
	}
	out := array.NewRecordBatch(p.schema, cols, n)
	releaseArrays(cols)
	return BatchMsg(out, ops), nil
}

// Close implements Operator.
func (p *Project) Close() error { return p.child.Close() }

// Children implements Operator.
func (p *Project) Children() []Operator { return []Operator{p.child} }

// String implements Operator.
func (p *Project) String() string {
	parts := make([]string, len(p.exprs))
	for i, e := range p.exprs {
		parts[i] = e.String()
		if n := p.schema.Field(i).Name; n != e.String() {
			parts[i] += " AS " + n
		}
	}
	return "Project(" + strings.Join(parts, ", ") + ")"
}
