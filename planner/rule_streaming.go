package planner

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
)

// intervalJoins turns inner equi-joins whose condition bounds one side's
// time by the other's (b.ts BETWEEN a.ts AND a.ts + INTERVAL 1 MINUTE, or
// the same with >=, >, <=, <, DATE_ADD/DATE_SUB) into interval joins, whose
// state is bounded by the interval instead of growing with the streams.
// Answers are the same as the hash join's, so it applies in both modes.
func intervalJoins(_ context.Context, n Node) (Node, error) {
	return transformUp(n, func(n Node) (Node, error) {
		j, ok := n.(*Join)
		if !ok || j.Type != exec.InnerJoin || len(j.LeftKeys) == 0 || j.Residual == nil {
			return n, nil
		}
		if ij := toIntervalJoin(j); ij != nil {
			return ij, nil
		}
		return n, nil
	})
}

// timeTerm is column + offset on one side of a join condition.
type timeTerm struct {
	col int
	off int64 // µs
}

// parseTimeTerm reads col, CAST(col AS TIMESTAMP), DATE_ADD(term, n, unit)
// and DATE_SUB(term, n, unit) with constant n and a fixed-length unit.
func parseTimeTerm(e expr.Expr) (timeTerm, bool) {
	switch x := e.(type) {
	case *expr.Column:
		if isTimeType(x.T) {
			return timeTerm{col: x.Index}, true
		}
	case *expr.Cast:
		if isTimeType(x.T) && isTimeType(x.Arg.Type()) && x.T.ID() == x.Arg.Type().ID() {
			return parseTimeTerm(x.Arg)
		}
	case *expr.Call:
		if (x.Name != "date_add" && x.Name != "date_sub") || len(x.Args) != 3 {
			return timeTerm{}, false
		}
		t, ok := parseTimeTerm(x.Args[0])
		if !ok {
			return t, false
		}
		d, ok := intervalLiteral(x.Args[1], x.Args[2])
		if !ok {
			return t, false
		}
		if x.Name == "date_sub" {
			d = -d
		}
		t.off += d
		return t, true
	}
	return timeTerm{}, false
}

func isTimeType(t arrow.DataType) bool { return t.ID() == arrow.TIMESTAMP }

// intervalLiteral reads the (n, 'UNIT') arguments of date_add as µs.
func intervalLiteral(n, unit expr.Expr) (int64, bool) {
	nl, ok := n.(*expr.Literal)
	if !ok {
		return 0, false
	}
	ul, ok := unit.(*expr.Literal)
	if !ok {
		return 0, false
	}
	u, ok := ul.Value.(string)
	if !ok {
		return 0, false
	}
	var f float64
	switch v := nl.Value.(type) {
	case int64:
		f = float64(v)
	case uint64:
		f = float64(v)
	case float64:
		f = v
	default:
		return 0, false
	}
	units := map[string]int64{"MICROSECOND": 1, "MILLISECOND": 1000, "SECOND": 1e6, "MINUTE": 60e6, "HOUR": 3600e6, "DAY": 86400e6, "WEEK": 7 * 86400e6}
	mul, ok := units[strings.ToUpper(u)]
	if !ok || math.Abs(f*float64(mul)) > 1e17 {
		return 0, false
	}
	return int64(math.Round(f * float64(mul))), true
}

// toIntervalJoin finds, among the residual conjuncts of j, a lower and an
// upper bound of one right time column by one left time column.
func toIntervalJoin(j *Join) *IntervalJoin {
	L := len(j.Left.Schema())
	type bound struct {
		lcol, rcol int
		lower      bool
		off        int64
		idx        int
	}
	conj := conjuncts(j.Residual)
	var bounds []bound
	for i, c := range conj {
		call, ok := c.(*expr.Call)
		if !ok || len(call.Args) != 2 {
			continue
		}
		op := call.Name
		switch op {
		case ">=", ">", "<=", "<":
		default:
			continue
		}
		a, ok1 := parseTimeTerm(call.Args[0])
		b, ok2 := parseTimeTerm(call.Args[1])
		if !ok1 || !ok2 {
			continue
		}
		// Normalize to right.t op left.t + off.
		var r, l timeTerm
		switch {
		case a.col >= L && b.col < L:
			r, l = a, b
		case a.col < L && b.col >= L:
			r, l = b, a
			op = map[string]string{">=": "<=", ">": "<", "<=": ">=", "<": ">"}[op]
		default:
			continue
		}
		off := l.off - r.off
		bd := bound{lcol: l.col, rcol: r.col - L, off: off, idx: i}
		switch op {
		case ">=":
			bd.lower = true
		case ">":
			bd.lower, bd.off = true, off+1
		case "<=":
		case "<":
			bd.off = off - 1
		}
		bounds = append(bounds, bd)
	}
	for _, lo := range bounds {
		if !lo.lower {
			continue
		}
		for _, hi := range bounds {
			if hi.lower || hi.lcol != lo.lcol || hi.rcol != lo.rcol || lo.off > hi.off {
				continue
			}
			var rest []expr.Expr
			for i, c := range conj {
				if i != lo.idx && i != hi.idx {
					rest = append(rest, c)
				}
			}
			ls, rs := j.Left.Schema(), j.Right.Schema()
			ij := &IntervalJoin{Left: j.Left, Right: j.Right, LeftKeys: j.LeftKeys, RightKeys: j.RightKeys,
				LeftTime:  &expr.Column{Index: lo.lcol, Name: ls[lo.lcol].Name, T: ls[lo.lcol].Type},
				RightTime: &expr.Column{Index: lo.rcol, Name: rs[lo.rcol].Name, T: rs[lo.rcol].Type},
				Lower:     time.Duration(lo.off) * time.Microsecond, Upper: time.Duration(hi.off) * time.Microsecond,
				Residual: andAll(rest), cols: append([]Col(nil), j.cols...)}
			return ij
		}
	}
	return nil
}

// streamingRanks plans ROW_NUMBER() OVER (PARTITION BY k ORDER BY t) = 1
// (or <= N) filters of continuous queries as deduplication (N = 1, one
// time-typed order key: keep the first row for ASC, the last for DESC) or
// a streaming Top-N. Bounded queries keep the window operator, whose
// answer the streaming operators' folded changelog equals.
func streamingRanks(ctx context.Context, n Node) (Node, error) {
	if sessionFrom(ctx).mode != catalog.Unbounded {
		return n, nil
	}
	return transformUp(n, func(n Node) (Node, error) {
		f, ok := n.(*Filter)
		if !ok {
			return n, nil
		}
		w, ok := f.Child.(*Window)
		if !ok || len(w.Funcs) != 1 || w.Funcs[0].Func != "row_number" || len(w.OrderBy) == 0 {
			return n, nil
		}
		inW := len(w.Child.Schema())
		limit, offset := int64(-1), int64(0)
		var rest []expr.Expr
		for _, c := range conjuncts(f.Pred) {
			if k, ok := rankBound(c, inW); ok {
				if limit < 0 || k < limit {
					limit = k
				}
				continue
			}
			if k, ok := rankLowerBound(c, inW); ok {
				offset = max(offset, k)
				continue
			}
			rest = append(rest, c)
		}
		if limit < 1 || offset >= limit {
			return n, nil // no bound (or nothing kept: leave it to the batch plan)
		}
		for _, c := range rest {
			if lo, hi := columnRange(c); lo >= 0 && hi >= inW {
				return n, nil // another test of the row number
			}
		}
		rankName := w.Cols[inW].Name
		var out Node
		if offset > 0 {
			// rn > m AND rn <= k: a Top-N of k - m rows after m.
			out = &StreamTopN{Child: w.Child, Partition: w.PartitionBy, Order: w.OrderBy, N: limit - offset, Offset: offset, RankCol: true, RankName: rankName}
		} else if limit == 1 {
			var inner Node
			if len(w.OrderBy) == 1 && (isTimeType(w.OrderBy[0].Expr.Type()) || w.OrderBy[0].Expr.Type().ID() == arrow.INT64) {
				inner = &Deduplicate{Child: w.Child, Keys: w.PartitionBy, Order: w.OrderBy[0].Expr, KeepLast: w.OrderBy[0].Desc}
			} else {
				inner = &StreamTopN{Child: w.Child, Partition: w.PartitionBy, Order: w.OrderBy, N: 1}
			}
			// The row number of the only row kept is 1.
			in := w.Child.Schema()
			exprs := make([]expr.Expr, 0, inW+1)
			cols := make([]Col, 0, inW+1)
			for i, c := range in {
				exprs = append(exprs, &expr.Column{Index: i, Name: c.Name, T: c.Type})
				cols = append(cols, c)
			}
			exprs = append(exprs, expr.Lit(int64(1)))
			cols = append(cols, w.Cols[inW])
			out = NewProject(inner, exprs, cols)
		} else {
			out = &StreamTopN{Child: w.Child, Partition: w.PartitionBy, Order: w.OrderBy, N: limit, RankCol: true, RankName: rankName}
		}
		return wrapFilter(out, rest), nil
	})
}

// rankLowerBound recognizes rn > m and rn >= m + 1 (either way round) on
// the row number column rn; it returns m, the rows skipped.
func rankLowerBound(e expr.Expr, rn int) (int64, bool) {
	op, v, ok := rankComparison(e, rn)
	if !ok {
		return 0, false
	}
	switch op {
	case ">":
		return max(v, 0), true
	case ">=":
		return max(v-1, 0), true
	}
	return 0, false
}

// rankBound recognizes rn = 1, rn <= N, rn < N (either way round) on the
// row number column rn; it returns the largest row number kept.
func rankBound(e expr.Expr, rn int) (int64, bool) {
	op, v, ok := rankComparison(e, rn)
	if !ok {
		return 0, false
	}
	switch op {
	case "=":
		if v == 1 {
			return 1, true
		}
	case "<=":
		return v, true
	case "<":
		return v - 1, true
	}
	return 0, false
}

// rankComparison recognizes a comparison of the row number column rn
// with an integer literal, either way round, as rn op v (the operator
// mirrored when the literal comes first).
func rankComparison(e expr.Expr, rn int) (op string, v int64, ok bool) {
	call, ok := e.(*expr.Call)
	if !ok || len(call.Args) != 2 {
		return "", 0, false
	}
	op = call.Name
	col, lit := call.Args[0], call.Args[1]
	if _, isLit := col.(*expr.Literal); isLit {
		col, lit = lit, col
		op = map[string]string{"=": "=", "<=": ">=", "<": ">", ">=": "<=", ">": "<"}[op]
	}
	c, ok := col.(*expr.Column)
	if !ok || c.Index != rn {
		return "", 0, false
	}
	l, ok := lit.(*expr.Literal)
	if !ok {
		return "", 0, false
	}
	v, ok = l.Value.(int64)
	return op, v, ok
}

// assignWatermarks puts a watermark assigner below every operator that
// works in event time (window aggregates, interval joins): above the scan
// the time column comes from, using the table's event-time column (SET
// magnetar.event_time, else the table option event_time, else the
// operator's own time column when it is __publish_time or __event_time,
// else COALESCE(__event_time, __publish_time) where the table has them,
// else the operator's own time column), or, when the time column cannot be traced
// to a scan, right below the operator on its time expression (continuous
// queries only: a bounded one ends, which closes every window). It runs
// last: it adds columns to scans.
func assignWatermarks(ctx context.Context, n Node) (Node, error) {
	p := &wmPlacer{sess: sessionFrom(ctx)}
	n, err := p.walk(n)
	if err != nil {
		return nil, err
	}
	if n, err = placeStateTTL(ctx, n); err != nil {
		return nil, err
	}
	if n, err = placeTopNStateTTL(ctx, n); err != nil { // state_ttl_topn.go
		return nil, err
	}
	return routeLateRows(ctx, n)
}

type wmPlacer struct {
	sess sessionInfo
}

func (p *wmPlacer) walk(n Node) (Node, error) {
	ch := n.Children()
	if len(ch) > 0 {
		out := make([]Node, len(ch))
		for i, c := range ch {
			nc, err := p.walk(c)
			if err != nil {
				return nil, err
			}
			out[i] = nc
		}
		n = n.WithChildren(out)
	}
	switch x := n.(type) {
	case *WindowAggregate:
		child, late, err := p.place(x.Child, x.Spec.TimeCol)
		if err != nil {
			return nil, err
		}
		nw := *x
		nw.Child = child
		if late > 0 {
			nw.Spec.AllowedLateness = late
		}
		return &nw, nil
	case *IntervalJoin:
		left, _, err := p.place(x.Left, x.LeftTime)
		if err != nil {
			return nil, err
		}
		right, _, err := p.place(x.Right, x.RightTime)
		if err != nil {
			return nil, err
		}
		return x.WithChildren([]Node{left, right}), nil
	}
	return n, nil
}

// place returns n with watermarks for time expression t (over n's
// columns) and the allowed lateness in force.
func (p *wmPlacer) place(n Node, t expr.Expr) (Node, time.Duration, error) {
	if c, ok := stripTimeCast(t).(*expr.Column); ok {
		out, found, late, err := p.trace(n, c.Index)
		if err != nil || found {
			return out, late, err
		}
	}
	if p.sess.mode != catalog.Unbounded {
		// Bounded: the input ends, and End closes every window. A
		// watermark derived behind a blocking operator (sort, window
		// function, aggregate), which emits everything at End in no time
		// order, would only make rows late.
		return n, 0, nil
	}
	delay, err := parseDuration(SettingWatermarkDelay, p.sess.setting(SettingWatermarkDelay))
	if err != nil {
		return nil, 0, err
	}
	late, err := parseDuration(SettingAllowedLateness, p.sess.setting(SettingAllowedLateness))
	if err != nil {
		return nil, 0, err
	}
	return &Watermark{Child: n, Time: t, Delay: delay, PartitionCol: -1, Lateness: late, Keep: len(n.Schema()),
		Source: "time expression"}, late, nil
}

func stripTimeCast(e expr.Expr) expr.Expr {
	if c, ok := e.(*expr.Cast); ok && isTimeType(c.T) && isTimeType(c.Arg.Type()) {
		return stripTimeCast(c.Arg)
	}
	return e
}

// trace follows output column col of n down to the scan producing it and
// puts a watermark above that scan; found is false when col is computed.
func (p *wmPlacer) trace(n Node, col int) (out Node, found bool, late time.Duration, err error) {
	one := func(child Node, c int) (Node, bool, time.Duration, error) {
		nc, found, late, err := p.trace(child, c)
		if err != nil || !found {
			return n, found, late, err
		}
		return n.WithChildren([]Node{nc}), true, late, nil
	}
	switch x := n.(type) {
	case *Watermark:
		return n, true, x.Lateness, nil
	case *WindowAggregate:
		// Its output moves with the watermarks of its input, placed when
		// it was visited.
		return n, col < 2, x.Spec.AllowedLateness, nil
	case *Scan:
		wm, late, err := p.scanWatermark(x, col, true)
		return wm, err == nil, late, err
	case *Filter, *Limit, *Deduplicate, *StateTTL:
		return one(n.Children()[0], col)
	case *LookupJoin: // upsert.go: its left columns come from the stream
		return x.traceLeft(p, col)
	case *UpsertMaterialize: // upsert.go: the scan's columns, latest row per key
		return x.traceChild(p, col)
	case *StreamTopN:
		if col < len(x.Child.Schema()) {
			return one(x.Child, col)
		}
	case *Window, *Sort, *Aggregate:
		// Blocking in bounded runs: they forward watermarks before the
		// rows they hold, so a watermark below them would make those
		// rows late above.
		return n, false, 0, nil
	case *Project:
		if c, ok := stripTimeCast(x.Exprs[col]).(*expr.Column); ok {
			return one(x.Child, c.Index)
		}
	case *Join, *IntervalJoin:
		kids := n.Children()
		L := len(kids[0].Schema())
		side, c := 0, col
		if j, ok := n.(*Join); !ok || (j.Type != exec.SemiJoin && j.Type != exec.AntiJoin) {
			if col >= L {
				side, c = 1, col-L
			}
		}
		nc, found, late, err := p.trace(kids[side], c)
		if err != nil || !found {
			return n, found, late, err
		}
		kids = append([]Node(nil), kids...)
		kids[side] = nc
		return n.WithChildren(kids), true, late, nil
	case *Union:
		ins := make([]Node, len(x.Inputs))
		for i, in := range x.Inputs {
			nc, found, l, err := p.trace(in, col)
			if err != nil || !found {
				return n, false, 0, err
			}
			ins[i] = nc
			late = max(late, l)
		}
		return x.WithChildren(ins), true, late, nil
	}
	return n, false, 0, nil
}

// atScan puts a watermark above scan s on the table's event time: SET
// magnetar.event_time, else the table option event_time, else
// COALESCE(__event_time, __publish_time) where the table has them, else
// output column col. The state TTL's clock watermarks use it.
func (p *wmPlacer) atScan(s *Scan, col int) (Node, time.Duration, error) {
	return p.scanWatermark(s, col, false)
}

// scanWatermark puts a watermark above scan s, whose output column col is
// the time column the operator above uses. A declared event time (the
// setting, the table option) wins; without one, ownCol puts the watermark
// on col itself when col is a metadata column, before the default
// COALESCE(__event_time, __publish_time).
func (p *wmPlacer) scanWatermark(s *Scan, col int, ownCol bool) (Node, time.Duration, error) {
	tab := s.Table
	if pt, ok := tab.(interface{ Partitions() int }); ok && pt.Partitions() > 1 && p.sess.mode != catalog.Unbounded {
		// A bounded scan may deliver one partition's rows before another
		// partition's first batch, and the assigner cannot yet know of
		// partitions it has not seen: their rows would all be late. End
		// closes every window anyway, so bounded runs go without.
		return s, 0, nil
	}
	nvis := len(tab.Schema().Fields())
	meta := tab.MetadataColumns()
	find := func(name string) int {
		for i, f := range tab.Schema().Fields() {
			if strings.EqualFold(f.Name, name) {
				return i
			}
		}
		for i, f := range meta {
			if strings.EqualFold(f.Name, name) {
				return nvis + i
			}
		}
		return -1
	}
	cols := append([]int(nil), s.Columns...)
	pos := func(tc int) int {
		for i, c := range cols {
			if c == tc {
				return i
			}
		}
		cols = append(cols, tc)
		return len(cols) - 1
	}
	field := func(tc int) arrow.Field {
		if tc < nvis {
			return tab.Schema().Field(tc)
		}
		return meta[tc-nvis]
	}
	timeCol := func(tc int, what string) (int, error) {
		f := field(tc)
		switch f.Type.ID() {
		case arrow.TIMESTAMP, arrow.INT64:
			return pos(tc), nil
		}
		return -1, fmt.Errorf("event time column %q of table %s (%s) is %s, not TIMESTAMP", f.Name, s.TableName, what, expr.TypeName(f.Type))
	}
	var timeIdx []int // scan positions: one column, or two for the coalesce
	source := ""
	if name := p.sess.setting(SettingEventTime); name != "" {
		if tc := find(name); tc >= 0 {
			i, err := timeCol(tc, "SET "+SettingEventTime)
			if err != nil {
				return nil, 0, err
			}
			timeIdx, source = []int{i}, "event time "+field(tc).Name+" from SET "+SettingEventTime
		}
	}
	if timeIdx == nil {
		if name := tableOption(tab, OptionEventTime); name != "" {
			tc := find(name)
			if tc < 0 {
				return nil, 0, fmt.Errorf("table option %s of table %s names unknown column %q", OptionEventTime, s.TableName, name)
			}
			i, err := timeCol(tc, "table option "+OptionEventTime)
			if err != nil {
				return nil, 0, err
			}
			timeIdx, source = []int{i}, "event time "+field(tc).Name+" from table option"
		}
	}
	if timeIdx == nil && ownCol && col >= 0 && col < len(cols) && cols[col] >= nvis {
		// Nothing declared and the operator's time column is a metadata
		// time (__publish_time, __event_time): that column is its time
		// attribute, as in Flink and RisingWave. A window on
		// __publish_time must close on the publish times, not on the
		// producers' event times, which may lie far from them. A payload
		// column keeps the table's default event time below: producers
		// (INSERT, nexmark) set the message event time from it.
		timeIdx, source = []int{col}, "the query's time column"
	}
	if timeIdx == nil {
		if et, pt := find("__event_time"), find("__publish_time"); et >= nvis && pt >= nvis {
			timeIdx, source = []int{pos(et), pos(pt)}, "default event time"
		}
	}
	if timeIdx == nil {
		timeIdx, source = []int{col}, "the query's time column"
	}
	opt := func(setting, option string) (time.Duration, error) {
		v := p.sess.setting(setting)
		if v == "" {
			v = tableOption(tab, option)
			setting = option
		}
		return parseDuration(setting, v)
	}
	delay, err := opt(SettingWatermarkDelay, OptionWatermarkDelay)
	if err != nil {
		return nil, 0, err
	}
	idle, err := opt(SettingIdleTimeout, OptionIdleTimeout)
	if err != nil {
		return nil, 0, err
	}
	late, err := opt(SettingAllowedLateness, OptionAllowedLateness)
	if err != nil {
		return nil, 0, err
	}
	part, nparts := -1, 0
	if pc := find("__partition"); pc >= nvis {
		part = pos(pc)
		if pt, ok := tab.(interface{ Partitions() int }); ok {
			nparts = pt.Partitions()
		}
	}
	ns := s.WithColumns(cols)
	sc := ns.Schema()
	var t expr.Expr = &expr.Column{Index: timeIdx[0], Name: sc[timeIdx[0]].Name, T: sc[timeIdx[0]].Type}
	if len(timeIdx) == 2 {
		b := &expr.Column{Index: timeIdx[1], Name: sc[timeIdx[1]].Name, T: sc[timeIdx[1]].Type}
		if t, err = expr.NewCall("coalesce", t, b); err != nil {
			return nil, 0, fmt.Errorf("event time of table %s: %w", s.TableName, err)
		}
	}
	return &Watermark{Child: ns, Time: t, Delay: delay, PartitionCol: part, Partitions: nparts, Idle: idle, Lateness: late,
		Keep: len(s.Columns), Source: source}, late, nil
}
