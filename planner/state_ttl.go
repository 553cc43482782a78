package planner

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
)

// SettingStateTTL is the state time-to-live of the continuous query's
// unbounded state: regular equi-joins (inner, outer, semi, anti),
// unwindowed aggregates and deduplication forget what was not touched for
// this long ('1 HOUR'), as
// Flink's table.exec.state.ttl. The clock is event time: watermarks of the
// inputs (see exec.HashAggregate.SetStateTTL, exec.HashJoin.SetStateTTL).
// Bounded queries ignore it: their state ends with their input.
const SettingStateTTL = "magnetar.state_ttl"

// StateTTL marks the operator below it (an Aggregate, an equi Join or
// a Deduplicate of a continuous query) as forgetting state untouched for
// TTL. It builds no operator of its own.
type StateTTL struct {
	Child Node
	TTL   time.Duration
}

// Schema implements Node.
func (s *StateTTL) Schema() []Col { return s.Child.Schema() }

// Children implements Node.
func (s *StateTTL) Children() []Node { return []Node{s.Child} }

// WithChildren implements Node.
func (s *StateTTL) WithChildren(c []Node) Node {
	n := *s
	n.Child = c[0]
	return &n
}

func (s *StateTTL) String() string { return fmt.Sprintf("StateTTL ttl=%s", s.TTL) }

// ParseStateTTL checks a magnetar.state_ttl value ("" and "0" are none).
func ParseStateTTL(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" || v == "0" {
		return 0, nil
	}
	d, err := parseDuration(SettingStateTTL, v)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, fmt.Errorf("%s: must not be negative", SettingStateTTL)
	}
	return d, nil
}

// placeStateTTL puts a StateTTL above every operator of a continuous query
// whose state the TTL bounds, and watermarks below it where its inputs have
// none: above each scan, on the table's event time, keeping late rows (the
// watermarks only drive the expiry). It runs after the watermarks of
// windows and interval joins were placed.
func placeStateTTL(ctx context.Context, n Node) (Node, error) {
	p, ttl, err := stateTTLPlacer(ctx)
	if err != nil || ttl == 0 {
		return n, err
	}
	return transformUp(n, func(n Node) (Node, error) {
		switch x := n.(type) {
		case *Aggregate:
		case *Join:
			// Equi-joins of every type keep both inputs (the symmetric
			// hash join); nested-loop joins have no TTL.
			if len(x.LeftKeys) == 0 {
				return n, nil
			}
		case *Deduplicate:
			if x.Order == nil {
				return n, nil
			}
		case *LookupJoin:
			// Only over a changelog stream does it keep state (per live
			// stream row); its clock is the stream's, not the table's.
			if !changelog(x.Left, p.sess.mode) {
				return n, nil
			}
			c, err := p.ttlClock(x.Left, ttl)
			if err != nil {
				return nil, err
			}
			return &StateTTL{Child: x.WithChildren([]Node{c, x.Right}), TTL: ttl}, nil
		default:
			return n, nil
		}
		kids := append([]Node(nil), n.Children()...)
		for i, k := range kids {
			c, err := p.ttlClock(k, ttl)
			if err != nil {
				return nil, err
			}
			kids[i] = c
		}
		return &StateTTL{Child: n.WithChildren(kids), TTL: ttl}, nil
	})
}

// stateTTLPlacer returns the state TTL of a continuous query and a
// watermark placer for its clocks; the TTL is 0 when the query is bounded
// or magnetar.state_ttl is not set.
func stateTTLPlacer(ctx context.Context) (*wmPlacer, time.Duration, error) {
	sess := sessionFrom(ctx)
	if sess.mode != catalog.Unbounded {
		return nil, 0, nil
	}
	ttl, err := ParseStateTTL(sess.setting(SettingStateTTL))
	if err != nil || ttl == 0 {
		return nil, 0, err
	}
	return &wmPlacer{sess: sess}, ttl, nil
}

// ttlClock is clock for the state TTL, its errors naming the setting.
func (p *wmPlacer) ttlClock(n Node, ttl time.Duration) (Node, error) {
	c, err := p.clock(n, ttl)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", SettingStateTTL, err)
	}
	return c, nil
}

// clockSplits is how finely a clock watermark cuts long batches: expiry
// lags by at most TTL / clockSplits however the input is batched.
const clockSplits = 10

// clock returns n with watermarks on every input that has none: a
// watermark (keeping late rows, cutting batches that span more than a
// tenth of the TTL) above each scan not already below one.
func (p *wmPlacer) clock(n Node, ttl time.Duration) (Node, error) {
	switch x := n.(type) {
	case *Watermark, *WindowAggregate, *IntervalJoin:
		return n, nil // they emit watermarks
	case *Scan:
		if !p.hasEventTime(x) {
			return nil, fmt.Errorf("table %s has no event time to measure the TTL with: SET %s or the table option %s names its time column",
				x.TableName, SettingEventTime, OptionEventTime)
		}
		wn, _, err := p.atScan(x, 0)
		if err != nil {
			return nil, err
		}
		if w, ok := wn.(*Watermark); ok {
			nw := *w
			nw.KeepLate = true
			nw.ClockSplit = ttl / clockSplits
			return &nw, nil
		}
		return wn, nil
	}
	kids := n.Children()
	if len(kids) == 0 {
		return n, nil
	}
	out := make([]Node, len(kids))
	for i, k := range kids {
		c, err := p.clock(k, ttl)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return n.WithChildren(out), nil
}

// hasEventTime reports whether atScan finds an event time for s without
// falling back to a query column: the setting, the table option or the
// metadata columns __event_time and __publish_time.
func (p *wmPlacer) hasEventTime(s *Scan) bool {
	has := func(name string) bool {
		for _, f := range s.Table.Schema().Fields() {
			if strings.EqualFold(f.Name, name) {
				return true
			}
		}
		for _, f := range s.Table.MetadataColumns() {
			if strings.EqualFold(f.Name, name) {
				return true
			}
		}
		return false
	}
	if name := p.sess.setting(SettingEventTime); name != "" && has(name) {
		return true
	}
	if tableOption(s.Table, OptionEventTime) != "" {
		return true
	}
	return has("__event_time") && has("__publish_time")
}

// buildStateTTL sets the TTL on the operator built for x's child.
func buildStateTTL(x *StateTTL, child exec.Operator) (exec.Operator, error) {
	op := child
	if u, ok := op.(interface{ Unwrap() exec.Operator }); ok {
		// The builder meters the operator once more as this node's.
		op = u.Unwrap()
	}
	s, ok := op.(interface{ SetStateTTL(time.Duration) })
	if !ok {
		child.Close()
		return nil, fmt.Errorf("%s: %s keeps no state a TTL applies to", SettingStateTTL, op)
	}
	s.SetStateTTL(x.TTL)
	return op, nil
}
