package planner

import "context"

// placeTopNStateTTL puts a StateTTL above every streaming Top-N of a
// continuous query (per partition, ROW_NUMBER() ... <= n, and global,
// ORDER BY ... LIMIT n) when magnetar.state_ttl is set, with clock
// watermarks below it where its input has none, as placeStateTTL does for
// joins, aggregates and deduplication: a partition untouched for the TTL
// is forgotten silently (exec.StreamingTopN.SetStateTTL). It runs after
// placeStateTTL, so the watermarks that put below an aggregate feeding the
// Top-N serve as its clock too.
func placeTopNStateTTL(ctx context.Context, n Node) (Node, error) {
	p, ttl, err := stateTTLPlacer(ctx)
	if err != nil || ttl == 0 {
		return n, err
	}
	return transformUp(n, func(n Node) (Node, error) {
		t, ok := n.(*StreamTopN)
		if !ok {
			return n, nil
		}
		c, err := p.ttlClock(t.Child, ttl)
		if err != nil {
			return nil, err
		}
		return &StateTTL{Child: t.WithChildren([]Node{c}), TTL: ttl}, nil
	})
}
