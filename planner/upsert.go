package planner

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/pingcap/tidb/pkg/parser/ast"
)

// Upsert tables and lookup joins.
//
// A Pulsar table with a PRIMARY KEY is written as upserts (message key =
// the key, a tombstone deletes it) and read back as a table of the latest
// row per message key: the binder puts an UpsertMaterialize above its
// scan, which reads the __key and __tombstone metadata columns. A table is
// an upsert table when it has a primary key and those two metadata columns
// (the memory catalog's tables have none and keep their own semantics),
// unless its changelog_mode option is 'append'.
//
// `JOIN t AS OF TIMESTAMP PROCTIME() ON ...` makes t the table side of a
// LookupJoin (processing-time enrichment).

// OptionChangelogMode is the table option choosing how a table with a
// primary key is read: "upsert" (default) or "append" (every message is a
// row, tombstones included with __tombstone = TRUE).
const OptionChangelogMode = "changelog_mode"

// Metadata columns the upsert plans read.
const (
	colKey       = "__key"
	colTombstone = "__tombstone"
)

// upsertColumns returns the scan positions of tab's __key and __tombstone
// columns (-1 when absent) and of its primary-key columns, for a scan of
// all columns (NewScan's numbering).
func upsertColumns(tab catalog.Table) (keyCol, flagCol int, pk []int, err error) {
	keyCol, flagCol = -1, -1
	nvis := len(tab.Schema().Fields())
	for i, f := range tab.MetadataColumns() {
		switch f.Name {
		case colKey:
			keyCol = nvis + i
		case colTombstone:
			flagCol = nvis + i
		}
	}
	for _, k := range tab.Def().PrimaryKey {
		idx := -1
		for i, f := range tab.Schema().Fields() {
			if strings.EqualFold(f.Name, k) {
				idx = i
				break
			}
		}
		if idx < 0 {
			return -1, -1, nil, fmt.Errorf("primary-key column %q of table %s is not one of its columns", k, tab.Name())
		}
		pk = append(pk, idx)
	}
	return keyCol, flagCol, pk, nil
}

// isUpsertTable reports whether reads of tab are upserts.
func isUpsertTable(tab catalog.Table) bool {
	if len(tab.Def().PrimaryKey) == 0 {
		return false
	}
	if strings.EqualFold(tableOption(tab, OptionChangelogMode), "append") {
		return false
	}
	k, f, _, err := upsertColumns(tab)
	return err == nil && k >= 0 && f >= 0
}

// UpsertMaterialize turns the rows of an upsert table's scan into the
// table's changelog: latest row per key (exec.UpsertMaterialize). Output
// columns are the child's.
type UpsertMaterialize struct {
	Child           Node
	KeyCol, FlagCol int   // child columns __key and __tombstone
	KeyCols         []int // child columns of the primary key
}

// newUpsertMaterialize wraps a scan of all columns of an upsert table.
func newUpsertMaterialize(s *Scan) (*UpsertMaterialize, error) {
	k, f, pk, err := upsertColumns(s.Table)
	if err != nil {
		return nil, err
	}
	return &UpsertMaterialize{Child: s, KeyCol: k, FlagCol: f, KeyCols: pk}, nil
}

// Schema implements Node.
func (u *UpsertMaterialize) Schema() []Col { return u.Child.Schema() }

// Children implements Node.
func (u *UpsertMaterialize) Children() []Node { return []Node{u.Child} }

// WithChildren implements Node.
func (u *UpsertMaterialize) WithChildren(c []Node) Node {
	n := *u
	n.Child = c[0]
	return &n
}

func (u *UpsertMaterialize) String() string {
	return "UpsertMaterialize " + specString(u.Child.Schema(), u.KeyCol, u.FlagCol, u.KeyCols)
}

func specString(cols []Col, keyCol, flagCol int, pk []int) string {
	name := func(i int) string {
		if i < 0 || i >= len(cols) {
			return "none"
		}
		return cols[i].Name
	}
	names := make([]string, len(pk))
	for i, c := range pk {
		names[i] = name(c)
	}
	return fmt.Sprintf("key=%s tombstone=%s primary_key=[%s]", name(keyCol), name(flagCol), strings.Join(names, ", "))
}

func remapCol(m []int, c int) int {
	if c < 0 {
		return -1
	}
	return m[c]
}

func remapCols(m []int, cs []int) []int {
	out := make([]int, len(cs))
	for i, c := range cs {
		out[i] = m[c]
	}
	return out
}

func (u *UpsertMaterialize) pruneCols(req map[int]bool) (Node, []int) {
	need := copyReq(req)
	for _, c := range append([]int{u.KeyCol, u.FlagCol}, u.KeyCols...) {
		if c >= 0 {
			need[c] = true
		}
	}
	child, m := prune(u.Child, need)
	n := *u
	n.Child, n.KeyCol, n.FlagCol, n.KeyCols = child, remapCol(m, u.KeyCol), remapCol(m, u.FlagCol), remapCols(m, u.KeyCols)
	return &n, m
}

// lookupTable is the binder's mark on `t AS OF TIMESTAMP PROCTIME()`: the
// scan of the table side of a lookup join. bindJoin replaces it.
type lookupTable struct {
	scan *Scan
}

func (l *lookupTable) Schema() []Col            { return l.scan.Schema() }
func (l *lookupTable) Children() []Node         { return nil }
func (l *lookupTable) WithChildren([]Node) Node { return l }
func (l *lookupTable) String() string           { return "LookupTable " + l.scan.String() }
func (l *lookupTable) pruneCols(map[int]bool) (Node, []int) {
	return l, identity(len(l.Schema()))
}

// isProcTime reports whether an AS OF clause is AS OF TIMESTAMP PROCTIME().
func isProcTime(c *ast.AsOfClause) bool {
	f, ok := c.TsExpr.(*ast.FuncCallExpr)
	return ok && f.FnName.L == "proctime" && len(f.Args) == 0
}

// LookupJoin joins each row of Left with the current row of the table
// Right scans (processing time): exec.LookupJoin. LeftKeys[i] (over Left)
// equals RightKeys[i] (over Right); together the right keys cover the
// table's primary key. Residual is over Left's columns then Right's.
type LookupJoin struct {
	Left, Right         Node
	Type                JoinType
	LeftKeys, RightKeys []expr.Expr
	Residual            expr.Expr
	// KeyCol and FlagCol are Right's __key and __tombstone columns (-1:
	// none), KeyCols its primary-key columns.
	KeyCol, FlagCol int
	KeyCols         []int
	cols            []Col
}

// Schema implements Node.
func (j *LookupJoin) Schema() []Col { return j.cols }

// Children implements Node.
func (j *LookupJoin) Children() []Node { return []Node{j.Left, j.Right} }

// WithChildren implements Node.
func (j *LookupJoin) WithChildren(c []Node) Node {
	n := *j
	n.Left, n.Right = c[0], c[1]
	n.cols = joinCols(c[0].Schema(), c[1].Schema(), j.Type)
	return &n
}

func (j *LookupJoin) String() string {
	keys := make([]string, len(j.LeftKeys))
	for i := range j.LeftKeys {
		keys[i] = j.LeftKeys[i].String() + " = " + j.RightKeys[i].String()
	}
	s := fmt.Sprintf("Lookup%sJoin on %s (proctime; %s)", j.Type, strings.Join(keys, ", "),
		specString(j.Right.Schema(), j.KeyCol, j.FlagCol, j.KeyCols))
	if j.Residual != nil {
		s += " residual " + j.Residual.String()
	}
	return s
}

func (j *LookupJoin) pruneCols(req map[int]bool) (Node, []int) {
	L := len(j.Left.Schema())
	lreq, rreq := joinReq(L, req, j.Residual)
	addCols(lreq, j.LeftKeys...)
	addCols(rreq, j.RightKeys...)
	for _, c := range append([]int{j.KeyCol, j.FlagCol}, j.KeyCols...) {
		if c >= 0 {
			rreq[c] = true
		}
	}
	left, right, lm, rm, comb := pruneJoinInputs(L, j.Left, j.Right, lreq, rreq)
	n := &LookupJoin{Left: left, Right: right, Type: j.Type,
		LeftKeys: remapAll(j.LeftKeys, mapper(lm)), RightKeys: remapAll(j.RightKeys, mapper(rm)),
		KeyCol: remapCol(rm, j.KeyCol), FlagCol: remapCol(rm, j.FlagCol), KeyCols: remapCols(rm, j.KeyCols)}
	if j.Residual != nil {
		n.Residual = remapExpr(j.Residual, comb)
	}
	n.cols = joinCols(left.Schema(), right.Schema(), j.Type)
	return n, joinOutputMap(j.cols, n.cols, comb)
}

// traceLeft follows a time column of the join's output into its left
// input (the stream), so the watermark goes above the stream's scan; the
// table side's times are not event times of the output.
func (j *LookupJoin) traceLeft(p *wmPlacer, col int) (Node, bool, time.Duration, error) {
	if col >= len(j.Left.Schema()) {
		return j, false, 0, nil
	}
	nc, found, late, err := p.trace(j.Left, col)
	if err != nil || !found {
		return j, found, late, err
	}
	return j.WithChildren([]Node{nc, j.Right}), true, late, nil
}

// traceChild places the watermark of a time column on the table's scan,
// below the fold, keeping every row: the fold must see every message of
// the table (a dropped update or tombstone leaves a stale row; the
// bootstrap marker, NULL in every column, would be dropped for its NULL
// time and the bootstrap would never end). Windows above judge lateness
// themselves.
func (u *UpsertMaterialize) traceChild(p *wmPlacer, col int) (Node, bool, time.Duration, error) {
	nc, found, late, err := p.trace(u.Child, col)
	if err != nil || !found {
		return u, found, late, err
	}
	if w, ok := nc.(*Watermark); ok && !w.KeepLate {
		kw := *w
		kw.KeepLate = true
		nc = &kw
	}
	return u.WithChildren([]Node{nc}), true, late, nil
}

var (
	_ pruner = (*UpsertMaterialize)(nil)
	_ pruner = (*LookupJoin)(nil)
	_ pruner = (*lookupTable)(nil)
)

// bindLookupJoin builds the lookup join of left with the table lt, on
// cond (over left's columns then the table's).
func (b *Binder) bindLookupJoin(left Node, lt *lookupTable, tp ast.JoinType, cond expr.Expr) (Node, error) {
	s := lt.scan
	name := s.TableName
	var typ JoinType
	switch tp {
	case ast.LeftJoin:
		typ = exec.LeftJoin
	case ast.RightJoin:
		return nil, b.errAt(name, "lookup join: RIGHT JOIN is not supported with AS OF TIMESTAMP PROCTIME() (use JOIN or LEFT JOIN, the table on the right)")
	default:
		typ = exec.InnerJoin
	}
	if len(s.Table.Def().PrimaryKey) == 0 {
		return nil, b.errAt(name, "lookup join: table %s has no PRIMARY KEY (a lookup needs the table's key)", name)
	}
	keyCol, flagCol, pk, err := upsertColumns(s.Table)
	if err != nil {
		return nil, b.errAt(name, "lookup join: %v", err)
	}
	if cond == nil {
		return nil, b.errAt(name, "lookup join with %s needs an ON condition equating its primary key (%s)", name, strings.Join(s.Table.Def().PrimaryKey, ", "))
	}
	node, err := makeJoin(left, s, typ, cond)
	if err != nil {
		return nil, b.wrapExprErr("join", err)
	}
	jn := node.(*Join)
	L := len(left.Schema())
	// For each primary-key column, the first equality with a plain (or
	// cast) reference to it; other equalities stay as residual tests.
	used := make([]bool, len(jn.RightKeys))
	var lk, rk []expr.Expr
	var missing []string
	for pi, c := range pk {
		found := false
		for i, r := range jn.RightKeys {
			if used[i] {
				continue
			}
			if col, ok := stripCast(r).(*expr.Column); ok && col.Index == c {
				if !oneToOneCast(r) {
					// The table's key would be converted lossily (VARCHAR
					// '1' and '01' both become 1): several table rows
					// would share one lookup key, and the join keeps one.
					ft := s.Schema()[c].Type
					return nil, b.errAt(name, "lookup join: primary-key column %s of %s is %s and %s is %s: the comparison would convert the table's key; CAST the left side to %s",
						s.Table.Def().PrimaryKey[pi], name, ft, stripCast(jn.LeftKeys[i]), stripCast(jn.LeftKeys[i]).Type(), ft)
				}
				used[i], found = true, true
				lk, rk = append(lk, jn.LeftKeys[i]), append(rk, r)
				break
			}
		}
		if !found {
			missing = append(missing, s.Table.Def().PrimaryKey[pi])
		}
	}
	if len(missing) > 0 {
		return nil, b.errAt(name, "lookup join: the ON condition must equate every primary-key column of %s (%s) with an expression of the left side; missing %s",
			name, strings.Join(s.Table.Def().PrimaryKey, ", "), strings.Join(missing, ", "))
	}
	residual := jn.Residual
	for i, u := range used {
		if u {
			continue
		}
		eq, err := expr.NewCall("=", jn.LeftKeys[i], shift(jn.RightKeys[i], L))
		if err != nil {
			return nil, b.wrapExprErr("join", err)
		}
		residual = andExpr(residual, eq)
	}
	if !isUpsertTable(s.Table) {
		// Without upsert metadata (memory tables) or in append mode the
		// table is keyed by its primary key; an append-mode Pulsar table
		// still drops tombstones through __tombstone.
		keyCol = -1
	}
	return &LookupJoin{Left: left, Right: s, Type: typ, LeftKeys: lk, RightKeys: rk, Residual: residual,
		KeyCol: keyCol, FlagCol: flagCol, KeyCols: pk, cols: joinCols(left.Schema(), s.Schema(), typ)}, nil
}

// scanOptBootstrapMarker is catalog/pulsar's ScanOptBootstrapMarker (the
// planner does not import a catalog implementation).
const scanOptBootstrapMarker = "bootstrap_marker"

// tableScanOptions returns the scan options for the table side of a lookup
// join: the session's without its start positions; moved reports whether
// any was removed.
func tableScanOptions(opts map[string]string) (map[string]string, bool) {
	out := make(map[string]string, len(opts))
	moved := false
	for k, v := range opts {
		switch strings.ToLower(k) {
		case "start", "start_positions":
			moved = true
			continue
		}
		out[k] = v
	}
	return out, moved
}

// oneToOneCast reports whether e, a column under zero or more casts,
// maps distinct values of the column to distinct values: no cast, or
// integer and float widenings, integers to text, dates to timestamps. A lookup key that is
// such a function of the primary key still finds at most one row.
func oneToOneCast(e expr.Expr) bool {
	c, ok := e.(*expr.Cast)
	if !ok {
		return true
	}
	from, to := c.Arg.Type(), c.T
	switch {
	case arrow.TypeEqual(from, to):
	case arrow.IsInteger(from.ID()) && arrow.IsInteger(to.ID()):
		fw, tw := from.(arrow.FixedWidthDataType).BitWidth(), to.(arrow.FixedWidthDataType).BitWidth()
		if arrow.IsUnsignedInteger(from.ID()) == arrow.IsUnsignedInteger(to.ID()) {
			if tw < fw {
				return false
			}
		} else if arrow.IsUnsignedInteger(to.ID()) || tw <= fw {
			return false
		}
	case arrow.IsInteger(from.ID()) && arrow.IsFloating(to.ID()):
	case from.ID() == arrow.FLOAT32 && to.ID() == arrow.FLOAT64:
	case arrow.IsInteger(from.ID()) && (to.ID() == arrow.STRING || to.ID() == arrow.LARGE_STRING):
	case from.ID() == arrow.DATE32 && to.ID() == arrow.TIMESTAMP:
	default:
		return false
	}
	return oneToOneCast(c.Arg)
}

func stripCast(e expr.Expr) expr.Expr {
	if c, ok := e.(*expr.Cast); ok {
		return stripCast(c.Arg)
	}
	return e
}

// buildUpsert builds the upsert nodes; ok is false for other nodes.
func (bl *Builder) buildUpsert(n Node, kids []exec.Operator, mem memory.Allocator) (op exec.Operator, ok bool, err error) {
	switch x := n.(type) {
	case *UpsertMaterialize:
		op, err := exec.NewUpsertMaterialize(kids[0], exec.UpsertSpec{KeyCol: x.KeyCol, FlagCol: x.FlagCol, KeyCols: x.KeyCols}, mem)
		return op, true, err
	case *LookupJoin:
		right := kids[1]
		snapshot := x.FlagCol < 0 && bl.Mode == catalog.Unbounded
		// A changelog_mode=append Pulsar table (no __key, a __tombstone)
		// sends the bootstrap marker only when asked: plain reads of it
		// must not see the marker row.
		marker := x.KeyCol < 0 && x.FlagCol >= 0 && bl.Mode == catalog.Unbounded
		if opts, moved := tableScanOptions(bl.Options); snapshot || moved || marker {
			if marker {
				opts[scanOptBootstrapMarker] = "true"
			}
			// The table side is the whole table: start positions of the
			// session are for the stream. Without __tombstone (memory
			// tables) there is no bootstrap marker: read a snapshot so
			// the join can start.
			s, isScan := x.Right.(*Scan)
			if !isScan {
				return nil, true, fmt.Errorf("lookup join: the table side is not a scan")
			}
			mode := bl.Mode
			if snapshot {
				mode = catalog.Bounded
			}
			r, err := s.Table.Scan(context.Background(), catalog.ScanRequest{Columns: s.Columns, Limit: -1, Mode: mode, Options: opts})
			if err != nil {
				return nil, true, err
			}
			if bl.Metered {
				r = exec.NewMetered(r)
			}
			kids[1].Close()
			kids[1], right = r, r
		}
		j, err := exec.NewLookupJoin(kids[0], right, x.Type, x.LeftKeys, x.RightKeys,
			exec.UpsertSpec{KeyCol: x.KeyCol, FlagCol: x.FlagCol, KeyCols: x.KeyCols}, x.Residual, mem)
		if err != nil {
			return nil, true, err
		}
		// A changelog stream (an aggregate's, an upsert table's) retracts
		// rows: the join remembers what it emitted for each, so that a
		// retraction cancels it even after the table changed.
		j.SetRetractable(changelog(x.Left, bl.Mode))
		return j, true, nil
	case *lookupTable:
		return nil, true, fmt.Errorf("AS OF TIMESTAMP PROCTIME() marks the table side of a lookup join: use it on the right of JOIN or LEFT JOIN")
	}
	return nil, false, nil
}
