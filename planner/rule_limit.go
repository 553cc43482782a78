package planner

import (
	"context"

	"github.com/magnetar-sql/magnetar/catalog"
)

// pushDownLimit turns ORDER BY + LIMIT into a top-N sort, moves limits
// below projections, and tells scans and union inputs how many rows are
// enough (offset + count), keeping the Limit above them. In a continuous
// query ORDER BY + LIMIT n (n > 0) becomes a streaming Top-N without
// partition: a changelog of the top n, as in Flink and RisingWave.
func pushDownLimit(ctx context.Context, n Node) (Node, error) {
	ld := limitPusher{streaming: sessionFrom(ctx).mode == catalog.Unbounded}
	return ld.down(n), nil
}

type limitPusher struct{ streaming bool }

func (ld limitPusher) down(n Node) Node {
	l, ok := n.(*Limit)
	if !ok || l.Count < 0 {
		return n.WithChildren(mapNodes(n.Children(), ld.down))
	}
	enough := l.Offset + l.Count
	switch c := l.Child.(type) {
	case *Sort:
		if c.Limit < 0 {
			if ld.streaming && l.Count > 0 {
				return &StreamTopN{Child: ld.down(c.Child), Order: c.Keys, N: l.Count, Offset: l.Offset}
			}
			s := *c
			s.Child = ld.down(c.Child)
			s.Offset, s.Limit = l.Offset, l.Count
			return &s
		}
	case *Project:
		return &Project{Child: ld.down(&Limit{Child: c.Child, Offset: l.Offset, Count: l.Count}), Exprs: c.Exprs, Cols: c.Cols}
	case *Scan:
		s := *c
		if s.Limit < 0 || s.Limit > enough {
			s.Limit = enough
		}
		return &Limit{Child: &s, Offset: l.Offset, Count: l.Count}
	case *Union:
		ins := make([]Node, len(c.Inputs))
		for i, in := range c.Inputs {
			ins[i] = ld.down(&Limit{Child: in, Count: enough})
		}
		return &Limit{Child: &Union{Inputs: ins, Cols: c.Cols}, Offset: l.Offset, Count: l.Count}
	case *Limit:
		if c.Count < 0 {
			break
		}
		// Limit over limit: combine.
		off := c.Offset + l.Offset
		cnt := max(min(l.Count, c.Count-l.Offset), 0)
		return ld.down(&Limit{Child: c.Child, Offset: off, Count: cnt})
	}
	return &Limit{Child: ld.down(l.Child), Offset: l.Offset, Count: l.Count}
}

func mapNodes(ns []Node, f func(Node) Node) []Node {
	if len(ns) == 0 {
		return ns
	}
	out := make([]Node, len(ns))
	for i, n := range ns {
		out[i] = f(n)
	}
	return out
}
