package exec

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

// NewNestedLoopJoin joins every left row with every right row for which cond
// is TRUE (nil cond: cross join). The right side is buffered.
func NewNestedLoopJoin(left, right Operator, typ JoinType, cond expr.Expr, mem memory.Allocator) (Operator, error) {
	return nil, fmt.Errorf("nested loop join: not implemented")
}
