package exec

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

// EmitMode says when an aggregate emits results.
type EmitMode int8

const (
	// EmitOnEnd emits the final result once, at End (batch queries).
	EmitOnEnd EmitMode = iota
	// EmitChangelog emits, after each input batch, the changes of the
	// groups that batch touched: +I for a new group, -U/+U for an updated
	// one, -D when its row count drops to zero.
	EmitChangelog
)

// AggOptions configure a hash aggregate.
type AggOptions struct {
	Emit EmitMode
}

// AggCall is one aggregate function call. Func is one of count, count_star,
// sum, avg, min, max, approx_count_distinct. Name is the output column.
type AggCall struct {
	Func     string
	Args     []expr.Expr
	Distinct bool
	Name     string
}

// NewHashAggregate groups child's rows by groups and computes aggs; the
// output columns are the groups (named groupNames) then the aggregates.
func NewHashAggregate(child Operator, groups []expr.Expr, groupNames []string, aggs []AggCall, mem memory.Allocator, opts AggOptions) (Operator, error) {
	return nil, fmt.Errorf("hash aggregate: not implemented")
}

// AggregateType is the result type of aggregate fn over args.
func AggregateType(fn string, distinct bool, args []arrow.DataType) (arrow.DataType, error) {
	return nil, fmt.Errorf("aggregate %s: not implemented", fn)
}
