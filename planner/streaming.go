package planner

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
)

// Session settings (SET name = 'value') that shape streaming plans.
const (
	// SettingEventTime names the event-time column of the query's tables
	// (overrides the table option and the default).
	SettingEventTime = "magnetar.event_time"
	// SettingWatermarkDelay is how far watermarks trail the largest event
	// time seen ('2 SECONDS'); overrides the table option.
	SettingWatermarkDelay = "magnetar.watermark_delay"
	// SettingIdleTimeout lets a partition without rows for this long stop
	// holding the watermark back.
	SettingIdleTimeout = "magnetar.idle_timeout"
	// SettingAllowedLateness keeps windows open this long after the
	// watermark passed them; later rows are dropped as late.
	SettingAllowedLateness = "magnetar.allowed_lateness"
)

// Table options (catalog.TableDef.Options) with the same meaning as the
// settings; the "magnetar." prefix is optional (the Pulsar catalog strips it).
const (
	OptionEventTime       = "event_time"
	OptionWatermarkDelay  = "watermark_delay"
	OptionIdleTimeout     = "idle_timeout"
	OptionAllowedLateness = "allowed_lateness"
)

type sessionKey struct{}

// sessionInfo is what optimizer rules know of the session: the scan mode
// (continuous plans use streaming operators) and the settings.
type sessionInfo struct {
	mode     catalog.Mode
	settings map[string]string
}

// WithSession returns a context telling Optimize the session's scan mode
// and settings (event time, watermark delay, lateness). Without it,
// plans are made for bounded runs with default settings.
func WithSession(ctx context.Context, mode catalog.Mode, settings map[string]string) context.Context {
	return context.WithValue(ctx, sessionKey{}, sessionInfo{mode: mode, settings: settings})
}

func sessionFrom(ctx context.Context) sessionInfo {
	if ctx != nil {
		if s, ok := ctx.Value(sessionKey{}).(sessionInfo); ok {
			return s
		}
	}
	return sessionInfo{mode: catalog.Bounded}
}

// setting returns a session setting ("" when unset).
func (s sessionInfo) setting(name string) string {
	for k, v := range s.settings {
		if strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// tableOption returns a table option by its short name, with or without
// the "magnetar." prefix.
func tableOption(t catalog.Table, name string) string {
	opts := t.Def().Options
	for k, v := range opts {
		k = strings.ToLower(k)
		if k == name || k == "magnetar."+name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// parseDuration reads a setting or option duration ("" is 0).
func parseDuration(what, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := exec.ParseWindowInterval(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return d, nil
}

// WindowAggregate groups its input by an event-time window (TUMBLE, HOP,
// SESSION, CUMULATE in GROUP BY) and Groups. Output columns: window_start,
// window_end, the groups, the aggregates. Spec.TimeCol is over the child.
type WindowAggregate struct {
	Child  Node
	Spec   exec.WindowSpec
	Groups []expr.Expr
	Aggs   []AggCall
	Cols   []Col
}

// Schema implements Node.
func (w *WindowAggregate) Schema() []Col { return w.Cols }

// Children implements Node.
func (w *WindowAggregate) Children() []Node { return []Node{w.Child} }

// WithChildren implements Node.
func (w *WindowAggregate) WithChildren(c []Node) Node {
	n := *w
	n.Child = c[0]
	return &n
}

func (w *WindowAggregate) String() string {
	aggs := make([]string, len(w.Aggs))
	for i, g := range w.Aggs {
		aggs[i] = g.String()
	}
	return fmt.Sprintf("WindowAggregate %s groups=[%s] aggs=[%s]", w.Spec, joinExprs(w.Groups), strings.Join(aggs, ", "))
}

// pruneCols keeps every output (window aggregates are rarely wide) and
// reads only the columns the window, keys and aggregates use.
func (w *WindowAggregate) pruneCols(map[int]bool) (Node, []int) {
	need := map[int]bool{}
	addCols(need, w.Spec.TimeCol)
	addCols(need, w.Groups...)
	for _, a := range w.Aggs {
		addCols(need, a.Args...)
	}
	child, cm := prune(w.Child, need)
	m := mapper(cm)
	n := *w
	n.Child = child
	n.Spec.TimeCol = remapExpr(w.Spec.TimeCol, m)
	n.Groups = remapAll(w.Groups, m)
	n.Aggs = make([]AggCall, len(w.Aggs))
	for i, a := range w.Aggs {
		n.Aggs[i] = a
		n.Aggs[i].Args = remapAll(a.Args, m)
	}
	return &n, identity(len(w.Cols))
}

func remapAll(es []expr.Expr, m func(int) int) []expr.Expr {
	if es == nil {
		return nil
	}
	out := make([]expr.Expr, len(es))
	for i, e := range es {
		out[i] = remapExpr(e, m)
	}
	return out
}

// Watermark derives event-time watermarks from its input (normally a table
// scan) and drops rows later than the allowed lateness. Time is over the
// child's columns; the output is the child's first Keep columns (the
// planner may have added columns to the scan only for the watermark).
type Watermark struct {
	Child        Node
	Time         expr.Expr
	Delay        time.Duration
	PartitionCol int // -1: one watermark for the whole input
	// Partitions is the source's partition count (0: unknown).
	Partitions int
	Idle       time.Duration
	Lateness   time.Duration
	Keep       int
	// Source says where the event time came from, for EXPLAIN.
	Source string
	// KeepLate: the watermarks only clock a state TTL (state_ttl.go); no
	// row is dropped.
	KeepLate bool
	// ClockSplit (with KeepLate): batches moving the watermark more than
	// this are cut (exec.WatermarkOptions.SplitEvery).
	ClockSplit time.Duration
	// Late, if set, receives the rows dropped as late (late_rows.go).
	Late *LateRows
}

// Schema implements Node.
func (w *Watermark) Schema() []Col { return w.Child.Schema()[:w.Keep] }

// Children implements Node.
func (w *Watermark) Children() []Node { return []Node{w.Child} }

// WithChildren implements Node.
func (w *Watermark) WithChildren(c []Node) Node {
	n := *w
	n.Child = c[0]
	return &n
}

func (w *Watermark) String() string {
	s := fmt.Sprintf("Watermark time=%s delay=%s", w.Time, w.Delay)
	if w.Source != "" {
		s += " (" + w.Source + ")"
	}
	if w.PartitionCol >= 0 {
		s += fmt.Sprintf(" partition=#%d", w.PartitionCol)
	}
	if w.Idle > 0 {
		s += fmt.Sprintf(" idle=%s", w.Idle)
	}
	if w.Lateness > 0 {
		s += fmt.Sprintf(" lateness=%s", w.Lateness)
	}
	if w.KeepLate {
		s += fmt.Sprintf(" keep_late (state TTL clock, split_every=%s)", w.ClockSplit)
	}
	if w.Late != nil {
		s += " late_topic=" + w.Late.Topic
	}
	return s
}

// pruneCols keeps the watermark's own columns.
func (w *Watermark) pruneCols(req map[int]bool) (Node, []int) {
	all := map[int]bool{}
	for i := range w.Child.Schema() {
		all[i] = true
	}
	child, _ := prune(w.Child, all)
	n := *w
	n.Child = child
	return &n, identity(w.Keep)
}

// IntervalJoin is an inner join on equal keys whose right time lies within
// [left time + Lower, left time + Upper]; see exec.IntervalJoin. Keys and
// times are over their own side; Residual over the joined row.
type IntervalJoin struct {
	Left, Right         Node
	LeftKeys, RightKeys []expr.Expr
	LeftTime, RightTime expr.Expr
	Lower, Upper        time.Duration
	Residual            expr.Expr
	cols                []Col
}

// Schema implements Node.
func (j *IntervalJoin) Schema() []Col { return j.cols }

// Children implements Node.
func (j *IntervalJoin) Children() []Node { return []Node{j.Left, j.Right} }

// WithChildren implements Node.
func (j *IntervalJoin) WithChildren(c []Node) Node {
	n := *j
	n.Left, n.Right = c[0], c[1]
	cols := joinCols(c[0].Schema(), c[1].Schema(), exec.InnerJoin)
	if len(cols) == len(j.cols) {
		for i := range cols {
			cols[i].Hidden = j.cols[i].Hidden
		}
	}
	n.cols = cols
	return &n
}

func (j *IntervalJoin) String() string {
	keys := make([]string, len(j.LeftKeys))
	for i := range j.LeftKeys {
		keys[i] = j.LeftKeys[i].String() + " = " + j.RightKeys[i].String()
	}
	s := fmt.Sprintf("IntervalJoin on %s and %s between %s %s and %s %s", strings.Join(keys, ", "), j.RightTime,
		j.LeftTime, signed(j.Lower), j.LeftTime, signed(j.Upper))
	if j.Residual != nil {
		s += " residual " + j.Residual.String()
	}
	return s
}

func (j *IntervalJoin) pruneCols(req map[int]bool) (Node, []int) {
	L := len(j.Left.Schema())
	lreq, rreq := joinReq(L, req, j.Residual)
	addCols(lreq, j.LeftKeys...)
	addCols(lreq, j.LeftTime)
	addCols(rreq, j.RightKeys...)
	addCols(rreq, j.RightTime)
	left, right, lm, rm, comb := pruneJoinInputs(L, j.Left, j.Right, lreq, rreq)
	n := &IntervalJoin{Left: left, Right: right, Lower: j.Lower, Upper: j.Upper,
		LeftKeys: remapAll(j.LeftKeys, mapper(lm)), RightKeys: remapAll(j.RightKeys, mapper(rm)),
		LeftTime: remapExpr(j.LeftTime, mapper(lm)), RightTime: remapExpr(j.RightTime, mapper(rm))}
	if j.Residual != nil {
		n.Residual = remapExpr(j.Residual, comb)
	}
	n.cols = joinCols(left.Schema(), right.Schema(), exec.InnerJoin)
	return n, joinOutputMap(j.cols, n.cols, comb)
}

// Deduplicate keeps one row per key (ROW_NUMBER() ... = 1 in a continuous
// query): the first by Order (ascending) or the last (KeepLast, from ORDER
// BY ... DESC). Output columns are the input's.
type Deduplicate struct {
	Child    Node
	Keys     []expr.Expr
	Order    expr.Expr
	KeepLast bool
}

// Schema implements Node.
func (d *Deduplicate) Schema() []Col { return d.Child.Schema() }

// Children implements Node.
func (d *Deduplicate) Children() []Node { return []Node{d.Child} }

// WithChildren implements Node.
func (d *Deduplicate) WithChildren(c []Node) Node {
	n := *d
	n.Child = c[0]
	return &n
}

func (d *Deduplicate) String() string {
	keep := "first"
	if d.KeepLast {
		keep = "last"
	}
	return fmt.Sprintf("Deduplicate keys=[%s] order=%s keep=%s", joinExprs(d.Keys), d.Order, keep)
}

func (d *Deduplicate) pruneCols(req map[int]bool) (Node, []int) {
	need := copyReq(req)
	addCols(need, d.Keys...)
	addCols(need, d.Order)
	child, cm := prune(d.Child, need)
	n := &Deduplicate{Child: child, Keys: remapAll(d.Keys, mapper(cm)), Order: remapExpr(d.Order, mapper(cm)), KeepLast: d.KeepLast}
	return n, cm
}

// StreamTopN keeps the N first rows per partition by Order over an
// unbounded input (ROW_NUMBER() ... <= N in a continuous query; with no
// partition, a continuous ORDER BY ... LIMIT N OFFSET Offset, whose first
// Offset rows are kept but not emitted). RankCol says the row number
// column is still wanted after the input columns; only plans where nothing
// reads it can run.
type StreamTopN struct {
	Child     Node
	Partition []expr.Expr
	Order     []SortKey
	N         int64
	Offset    int64
	RankCol   bool
	RankName  string
}

// Schema implements Node.
func (t *StreamTopN) Schema() []Col {
	in := t.Child.Schema()
	if !t.RankCol {
		return in
	}
	return append(append([]Col(nil), in...), Col{Name: t.RankName, Type: arrow.PrimitiveTypes.Int64})
}

// Children implements Node.
func (t *StreamTopN) Children() []Node { return []Node{t.Child} }

// WithChildren implements Node.
func (t *StreamTopN) WithChildren(c []Node) Node {
	n := *t
	n.Child = c[0]
	return &n
}

func (t *StreamTopN) String() string {
	keys := make([]string, len(t.Order))
	for i, k := range t.Order {
		keys[i] = k.String()
	}
	s := fmt.Sprintf("StreamTopN partition=[%s] order=[%s] n=%d", joinExprs(t.Partition), strings.Join(keys, ", "), t.N)
	if t.Offset > 0 {
		s += fmt.Sprintf(" offset=%d", t.Offset)
	}
	return s
}

func (t *StreamTopN) pruneCols(req map[int]bool) (Node, []int) {
	inW := len(t.Child.Schema())
	need := map[int]bool{}
	for i := range req {
		if i < inW {
			need[i] = true
		}
	}
	addCols(need, t.Partition...)
	for _, k := range t.Order {
		addCols(need, k.Expr)
	}
	child, cm := prune(t.Child, need)
	n := &StreamTopN{Child: child, Partition: remapAll(t.Partition, mapper(cm)), N: t.N, Offset: t.Offset, RankName: t.RankName,
		RankCol: t.RankCol && req[inW]}
	for _, k := range t.Order {
		k.Expr = remapExpr(k.Expr, mapper(cm))
		n.Order = append(n.Order, k)
	}
	m := append([]int(nil), cm...)
	if t.RankCol {
		if n.RankCol {
			m = append(m, len(child.Schema()))
		} else {
			m = append(m, -1)
		}
	}
	return n, m
}

// pruner is implemented by the streaming nodes: prune calls it for node
// types it does not know.
type pruner interface {
	pruneCols(req map[int]bool) (Node, []int)
}

var (
	_ pruner = (*WindowAggregate)(nil)
	_ pruner = (*Watermark)(nil)
	_ pruner = (*IntervalJoin)(nil)
	_ pruner = (*Deduplicate)(nil)
	_ pruner = (*StreamTopN)(nil)
)

// signed renders an offset as "+ 1m0s" / "- 5s".
func signed(d time.Duration) string {
	if d < 0 {
		return "- " + (-d).String()
	}
	return "+ " + d.String()
}
