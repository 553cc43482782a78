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
//
// A join whose build (right) input is unbounded, and a RIGHT join of a
// stream with a bounded right input, are symmetric from the start: a continuous scan carries no watermark unless a window, a TTL or
// a job puts one there, and the join would otherwise wait for the end of
// its build side.
func newHashJoin(x *Join, kids []exec.Operator, rightUnbounded, unbounded bool, mem memory.Allocator) (exec.Operator, error) {
	op, err := exec.NewHashJoin(kids[0], kids[1], x.LeftKeys, x.RightKeys, x.Type, x.Residual, mem)
	if err != nil {
		return nil, err
	}
	hj := op.(*exec.HashJoin)
	switch {
	case !unbounded:
		hj.SetBoundedInputs()
	case rightUnbounded, x.Type == exec.RightJoin || x.Type == exec.FullJoin:
		// A RIGHT (or FULL) join whose bounded right input ends first
		// would, built and probed, emit the right rows without a match
		// only at the end of the stream on its left, which never comes:
		// symmetric, it emits them NULL-padded and retracts them on a
		// match.
		hj.SetStreamingInputs()
	}
	return op, nil
}
