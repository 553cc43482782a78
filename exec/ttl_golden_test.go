package exec_test

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
)

// extraGoldenOps are golden pipeline operators kept out of the main switch
// of buildGoldenOp:
//
//	join left=S right=S lkeys=a rkeys=b [ttl=D]      inner hash join (symmetric once the right input has a watermark)
//	agg [group=a,b] aggs=count(*),sum(v) [ttl=D]     unwindowed changelog aggregate
var extraGoldenOps = map[string]func(op goldenOp, child exec.Operator, streams map[string]exec.Operator, mem memory.Allocator) (exec.Operator, error){
	"join": func(op goldenOp, _ exec.Operator, streams map[string]exec.Operator, mem memory.Allocator) (exec.Operator, error) {
		left, right := streams[op.args["left"]], streams[op.args["right"]]
		if left == nil || right == nil {
			return nil, fmt.Errorf("left=%q and right=%q must name streams", op.args["left"], op.args["right"])
		}
		la, ra := goldenArgs{op.args, left.Schema()}, goldenArgs{op.args, right.Schema()}
		lk, err := la.cols("lkeys")
		if err != nil {
			return nil, err
		}
		rk, err := ra.cols("rkeys")
		if err != nil {
			return nil, err
		}
		j, err := exec.NewHashJoin(left, right, lk, rk, exec.InnerJoin, nil, mem)
		if err != nil {
			return nil, err
		}
		j.(*exec.HashJoin).SetStateTTL(la.dur("ttl"))
		return j, nil
	},
	"agg": func(op goldenOp, child exec.Operator, _ map[string]exec.Operator, mem memory.Allocator) (exec.Operator, error) {
		a := goldenArgs{op.args, child.Schema()}
		groups, err := a.cols("group")
		if err != nil {
			return nil, err
		}
		names := make([]string, len(groups))
		for i, g := range groups {
			names[i] = g.(*expr.Column).Name // plain names: later verbs refer to them
		}
		aggs, err := a.aggs()
		if err != nil {
			return nil, err
		}
		h, err := exec.NewHashAggregate(child, groups, names, aggs, mem, exec.AggOptions{Emit: exec.EmitChangelog})
		if err != nil {
			return nil, err
		}
		h.(*exec.HashAggregate).SetStateTTL(a.dur("ttl"))
		return h, nil
	},
}
