package planner

import "github.com/magnetar-sql/magnetar/expr"

// pushLookupJoin pushes the conjuncts over the stream side's columns only
// into the stream side (a LEFT lookup join keeps every stream row, so a
// filter on the stream alone commutes with it too). Conjuncts touching the
// table stay above: the table side is an upsert fold, and a filter below
// it would turn an update that fails the filter into a stale row instead
// of a miss. The table side gets its own inner filters pushed as usual.
func pushLookupJoin(j *LookupJoin, preds []expr.Expr) (Node, error) {
	L := len(j.Left.Schema())
	var down, keep []expr.Expr
	for _, p := range preds {
		if lo, hi := columnRange(p); lo >= 0 && hi < L && !volatile(p) {
			down = append(down, p)
		} else {
			keep = append(keep, p)
		}
	}
	left, err := pushFilter(j.Left, down)
	if err != nil {
		return nil, err
	}
	right, err := pushFilter(j.Right, nil)
	if err != nil {
		return nil, err
	}
	return wrapFilter(j.WithChildren([]Node{left, right}), keep), nil
}
