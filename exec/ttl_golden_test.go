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
		return goldenHashJoin(op, streams, exec.InnerJoin, mem)
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

// goldenHashJoin builds a hash join of type typ of the streams left= and
// right= on lkeys= and rkeys=, with the state TTL ttl= (verbs join and
// outerjoin).
func goldenHashJoin(op goldenOp, streams map[string]exec.Operator, typ exec.JoinType, mem memory.Allocator) (exec.Operator, error) {
	left, right, lk, rk, err := goldenJoinInputs(op, streams)
	if err != nil {
		return nil, err
	}
	j, err := exec.NewHashJoin(left, right, lk, rk, typ, nil, mem)
	if err != nil {
		return nil, err
	}
	j.(*exec.HashJoin).SetStateTTL(goldenArgs{op.args, left.Schema()}.dur("ttl"))
	return j, nil
}

// goldenJoinInputs resolves left= and right= to streams, and lkeys= and
// rkeys= to key columns of each.
func goldenJoinInputs(op goldenOp, streams map[string]exec.Operator) (left, right exec.Operator, lk, rk []expr.Expr, err error) {
	left, right = streams[op.args["left"]], streams[op.args["right"]]
	if left == nil || right == nil {
		return nil, nil, nil, nil, fmt.Errorf("left=%q and right=%q must name streams", op.args["left"], op.args["right"])
	}
	lk, rk, err = goldenJoinKeys(op, left, right)
	return left, right, lk, rk, err
}

// goldenJoinKeys reads lkeys= over left's columns and rkeys= over right's.
func goldenJoinKeys(op goldenOp, left, right exec.Operator) (lk, rk []expr.Expr, err error) {
	if lk, err = (goldenArgs{op.args, left.Schema()}).cols("lkeys"); err != nil {
		return nil, nil, err
	}
	if rk, err = (goldenArgs{op.args, right.Schema()}).cols("rkeys"); err != nil {
		return nil, nil, err
	}
	return lk, rk, nil
}
