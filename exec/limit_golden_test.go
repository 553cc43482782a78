package exec_test

import (
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
)

// limit count=N [offset=M]: LIMIT N OFFSET M over the stream (the first
// rows, then the end of the run).
func init() {
	extraGoldenOps["limit"] = func(op goldenOp, child exec.Operator, _ map[string]exec.Operator, _ memory.Allocator) (exec.Operator, error) {
		count, err := strconv.ParseInt(op.args["count"], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("count: %w", err)
		}
		var offset int64
		if o := op.args["offset"]; o != "" {
			if offset, err = strconv.ParseInt(o, 10, 64); err != nil {
				return nil, fmt.Errorf("offset: %w", err)
			}
		}
		return exec.NewLimit(child, offset, count), nil
	}
}
