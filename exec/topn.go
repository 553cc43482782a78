package exec

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// NewTopN returns ORDER BY keys LIMIT limit OFFSET offset, keeping only
// offset+limit rows in a heap.
func NewTopN(child Operator, keys []SortKey, offset, limit int64, mem memory.Allocator) (Operator, error) {
	return nil, fmt.Errorf("topn: not implemented")
}
