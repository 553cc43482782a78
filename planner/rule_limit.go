package planner

import "context"

// pushDownLimit turns ORDER BY + LIMIT into a top-N sort, moves limits
// below projections, and tells scans and union inputs how many rows are
// enough (offset + count), keeping the Limit above them.
func pushDownLimit(_ context.Context, n Node) (Node, error) {
	return limitDown(n), nil
}

func limitDown(n Node) Node {
	l, ok := n.(*Limit)
	if !ok || l.Count < 0 {
		return n.WithChildren(mapNodes(n.Children(), limitDown))
	}
	enough := l.Offset + l.Count
	switch c := l.Child.(type) {
	case *Sort:
		if c.Limit < 0 {
			s := *c
			s.Child = limitDown(c.Child)
			s.Offset, s.Limit = l.Offset, l.Count
			return &s
		}
	case *Project:
		return &Project{Child: limitDown(&Limit{Child: c.Child, Offset: l.Offset, Count: l.Count}), Exprs: c.Exprs, Cols: c.Cols}
	case *Scan:
		s := *c
		if s.Limit < 0 || s.Limit > enough {
			s.Limit = enough
		}
		return &Limit{Child: &s, Offset: l.Offset, Count: l.Count}
	case *Union:
		ins := make([]Node, len(c.Inputs))
		for i, in := range c.Inputs {
			ins[i] = limitDown(&Limit{Child: in, Count: enough})
		}
		return &Limit{Child: &Union{Inputs: ins, Cols: c.Cols}, Offset: l.Offset, Count: l.Count}
	case *Limit:
		if c.Count < 0 {
			break
		}
		// Limit over limit: combine.
		off := c.Offset + l.Offset
		cnt := max(min(l.Count, c.Count-l.Offset), 0)
		return limitDown(&Limit{Child: c.Child, Offset: off, Count: cnt})
	}
	return &Limit{Child: limitDown(l.Child), Offset: l.Offset, Count: l.Count}
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
