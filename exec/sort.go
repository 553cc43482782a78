package exec

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

// SortKey is one ORDER BY item. NullsFirst is explicit; the MySQL default
// (NULLs first for ASC, last for DESC) is NullsFirst == !Desc, which the
// planner fills in.
type SortKey struct {
	Expr       expr.Expr
	Desc       bool
	NullsFirst bool
}

func (k SortKey) String() string {
	s := k.Expr.String()
	if k.Desc {
		s += " DESC"
	}
	if k.NullsFirst != !k.Desc {
		if k.NullsFirst {
			s += " NULLS FIRST"
		} else {
			s += " NULLS LAST"
		}
	}
	return s
}

func sortKeysString(keys []SortKey) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k.String()
	}
	return strings.Join(parts, ", ")
}

// Sort is a blocking ORDER BY over bounded input.
type Sort struct {
	child Operator
	keys  []SortKey
	evs   []expr.Evaluator
	mem   memory.Allocator
}

// NewSort returns an operator that buffers its whole input and emits it in
// key order at End.
func NewSort(child Operator, keys []SortKey, mem memory.Allocator) (Operator, error) {
	return nil, fmt.Errorf("sort: not implemented")
}

var _ = context.Background
