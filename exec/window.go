package exec

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

// FrameUnit is ROWS or RANGE.
type FrameUnit int8

// Frame units. FrameDefault (the zero value) is the SQL default: RANGE
// BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW (peers included) with ORDER BY,
// the whole partition without.
const (
	FrameDefault FrameUnit = iota
	FrameRows
	FrameRange
)

// BoundKind is the kind of one frame bound.
type BoundKind int8

// Frame bound kinds.
const (
	UnboundedPreceding BoundKind = iota
	Preceding
	CurrentRow
	Following
	UnboundedFollowing
)

// FrameBound is one end of a frame; Offset is used by Preceding/Following.
type FrameBound struct {
	Kind   BoundKind
	Offset int64
}

// Frame is a window frame. The zero value is the default frame.
type Frame struct {
	Unit       FrameUnit
	Start, End FrameBound
}

// WindowCall is one window function: row_number, rank, dense_rank, lag,
// lead (Args: value, optional offset literal, optional default), sum, count,
// avg, min, max. Name is the output column.
type WindowCall struct {
	Func  string
	Args  []expr.Expr
	Frame Frame
	Name  string
}

// NewWindow evaluates funcs over partitions of child's (bounded) input,
// ordered by orderBy. Output: the input columns then one per WindowCall.
func NewWindow(child Operator, partitionBy []expr.Expr, orderBy []SortKey, funcs []WindowCall, mem memory.Allocator) (Operator, error) {
	return nil, fmt.Errorf("window: not implemented")
}
