package planner

import (
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
)

// newHashJoin builds an equi-join. In a bounded query (no unbounded scan
// below) an outer, semi or anti join is told its inputs end, so it emits
// its final rows only even where a window above put watermarks on its
// build side: changelog() promises the operators above a bounded plan
// that an outer join emits no retractions. Over unbounded inputs it goes
// symmetric and emits a changelog (exec/symjoin_outer.go).
func newHashJoin(x *Join, kids []exec.Operator, unbounded bool, mem memory.Allocator) (exec.Operator, error) {
	op, err := exec.NewHashJoin(kids[0], kids[1], x.LeftKeys, x.RightKeys, x.Type, x.Residual, mem)
	if err == nil && !unbounded {
		op.(*exec.HashJoin).SetBoundedInputs()
	}
	return op, err
}
