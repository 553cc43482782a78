package exec_test

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
)

// Golden pipeline verb of the regular outer joins (testdata/stream):
//
//	outerjoin type=left|right|full|semi|anti left=S right=S lkeys=a rkeys=b [ttl=D]
//
// a regular (symmetric when the right input has watermarks) hash join of
// that type; its result becomes the current stream.
func init() {
	extraGoldenOps["outerjoin"] = func(op goldenOp, _ exec.Operator, streams map[string]exec.Operator, mem memory.Allocator) (exec.Operator, error) {
		typ, ok := map[string]exec.JoinType{"left": exec.LeftJoin, "right": exec.RightJoin, "full": exec.FullJoin,
			"semi": exec.SemiJoin, "anti": exec.AntiJoin}[op.args["type"]]
		if !ok {
			return nil, fmt.Errorf("type=%q: want left, right, full, semi or anti", op.args["type"])
		}
		return goldenHashJoin(op, streams, typ, mem)
	}
}
