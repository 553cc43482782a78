package exec_test

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
)

// over ts=COL [partition=a,b] funcs=sum(v),count(*) frame=rows:N|range:D|unbounded [lateness=D]:
// an OVER aggregation (exec.OverAggregate) of every function over one
// frame ending at the current row (unbounded: the default RANGE frame).
func init() {
	extraGoldenOps["over"] = func(op goldenOp, child exec.Operator, _ map[string]exec.Operator, mem memory.Allocator) (exec.Operator, error) {
		a := goldenArgs{op.args, child.Schema()}
		ts, err := a.col(op.args["ts"])
		if err != nil {
			return nil, err
		}
		parts, err := a.cols("partition")
		if err != nil {
			return nil, err
		}
		var frame exec.Frame
		kind, arg, _ := strings.Cut(op.args["frame"], ":")
		switch kind {
		case "rows":
			n, err := strconv.ParseInt(arg, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("frame rows:%s: %w", arg, err)
			}
			frame = exec.Frame{Unit: exec.FrameRows, Start: exec.FrameBound{Kind: exec.Preceding, Offset: n}, End: exec.FrameBound{Kind: exec.CurrentRow}}
		case "range":
			d, err := time.ParseDuration(arg)
			if err != nil {
				return nil, fmt.Errorf("frame range:%s: %w", arg, err)
			}
			frame = exec.Frame{Unit: exec.FrameRange, Start: exec.FrameBound{Kind: exec.Preceding, Offset: d.Microseconds()}, End: exec.FrameBound{Kind: exec.CurrentRow}}
		case "unbounded":
		default:
			return nil, fmt.Errorf("frame %q: want rows:N, range:D or unbounded", op.args["frame"])
		}
		a.m = map[string]string{"aggs": op.args["funcs"]}
		aggs, err := a.aggs()
		if err != nil {
			return nil, err
		}
		calls := make([]exec.WindowCall, len(aggs))
		for i, ag := range aggs {
			calls[i] = exec.WindowCall{Func: ag.Func, Args: ag.Args, Frame: frame, Name: ag.Name}
		}
		return exec.NewOverAggregate(child, parts, ts, calls, a.dur("lateness").Microseconds(), mem)
	}
}
