package planner

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

// ContinuousRunner is Runner for the binder of a continuous query. The
// subqueries the binder evaluates itself (a scalar subquery, and NOT IN or
// EXISTS where no semi or anti join replaces them) become constants taken
// when the query starts: over a stream that answer goes stale at once
// (NOT IN over a then-empty table kept every row; a scalar MAX was NULL
// for ever). Such a subquery over a table is refused, naming the forms
// that stay up to date; over constants, or a table read AS OF TIMESTAMP
// (a fixed snapshot), it runs as in a bounded query.
func ContinuousRunner(mem memory.Allocator, options map[string]string) RunFunc {
	run := Runner(mem, options)
	return func(ctx context.Context, n Node, maxRows int) ([][]*expr.Literal, error) {
		if s := liveScan(n); s != nil {
			return nil, fmt.Errorf("unsupported: a subquery over %s.%s in a continuous query would be evaluated once, when the query starts, and never updated; "+
				"write it as a join (x IN (SELECT ...) and [NOT] EXISTS (SELECT ... WHERE y = x) in WHERE become semi and anti joins), read the table AS OF TIMESTAMP, or SET magnetar.mode = 'bounded'",
				s.DB, s.TableName)
		}
		return run(ctx, n, maxRows)
	}
}

// liveScan returns a scan of n that reads a table as it changes (nil: none).
func liveScan(n Node) *Scan {
	if s, ok := n.(*Scan); ok && s.AsOf == 0 {
		return s
	}
	for _, c := range n.Children() {
		if s := liveScan(c); s != nil {
			return s
		}
	}
	return nil
}
