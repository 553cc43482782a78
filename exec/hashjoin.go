package exec

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

// NewHashJoin joins left and right on leftKeys[i] = rightKeys[i] (NULL never
// matches) and then residual (nil: none), evaluated on the concatenated row.
// The hash table is built on the right side.
func NewHashJoin(left, right Operator, leftKeys, rightKeys []expr.Expr, typ JoinType, residual expr.Expr, mem memory.Allocator) (Operator, error) {
	return nil, fmt.Errorf("hash join: not implemented")
}
