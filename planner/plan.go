// Package planner turns parsed SQL (TiDB AST) into executable plans: the
// binder resolves names against a catalog and builds an immutable logical
// plan, an ordered list of rules rewrites it, and the builder turns it into
// exec operators.
//
// Expressions in the logical plan are expr.Exprs whose Column indices refer
// to the output columns of the node's child (for joins: left columns then
// right columns), so the physical build is a direct translation and rules
// remap indices when they move expressions between nodes.
package planner

import (
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
)

// Col is one output column of a plan node.
type Col struct {
	// Qualifier is the table name or alias the column can be qualified
	// with ("" when it has none, e.g. computed select items).
	Qualifier string
	Name      string
	Type      arrow.DataType
	// Metadata is kept from the source field (e.g. magnetar.type=json).
	Metadata arrow.Metadata
	// Hidden columns resolve only when qualified and are skipped by `*`
	// (the second copy of a USING join column).
	Hidden bool
	// System columns are a table's metadata columns (__key, __publish_time,
	// ...): `*` and `t.*` skip them, but they resolve by name, qualified or
	// not, like any other column.
	System bool
}

// Field returns the Arrow field of the column.
func (c Col) Field() arrow.Field {
	return arrow.Field{Name: c.Name, Type: c.Type, Nullable: true, Metadata: c.Metadata}
}

// Node is a logical plan node. Nodes are immutable: rules build new ones.
type Node interface {
	// Schema lists the output columns.
	Schema() []Col
	Children() []Node
	// WithChildren returns a copy with new children (same count).
	WithChildren(children []Node) Node
	// String describes the node on one line, for EXPLAIN.
	String() string
}

// ArrowSchema converts a node's columns into an Arrow schema.
func ArrowSchema(cols []Col) *arrow.Schema {
	fs := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fs[i] = c.Field()
	}
	return arrow.NewSchema(fs, nil)
}

// Scan reads a table. Columns are table column numbers (visible columns,
// then metadata columns); Filters are conjuncts over the scan's output
// columns offered to the table.
type Scan struct {
	DB, TableName string
	Table         catalog.Table
	Alias         string
	Columns       []int
	Filters       []expr.Expr
	Limit         int64
	// AsOf (µs since the epoch, 0: none) ends a bounded scan at the last
	// message published before it (SELECT ... FROM t AS OF TIMESTAMP '...').
	AsOf int64
	cols []Col
}

// NewScan builds a scan of all visible columns of tab, qualified by alias.
func NewScan(db, name string, tab catalog.Table, alias string) *Scan {
	s := &Scan{DB: db, TableName: name, Table: tab, Alias: alias, Limit: -1}
	n := len(tab.Schema().Fields()) + len(tab.MetadataColumns())
	for i := 0; i < n; i++ {
		s.Columns = append(s.Columns, i)
	}
	s.cols = s.colsFor(s.Columns)
	return s
}

func (s *Scan) tableField(i int) arrow.Field {
	fs := s.Table.Schema().Fields()
	if i < len(fs) {
		return fs[i]
	}
	return s.Table.MetadataColumns()[i-len(fs)]
}

func (s *Scan) colsFor(idx []int) []Col {
	out := make([]Col, len(idx))
	for i, c := range idx {
		f := s.tableField(c)
		out[i] = Col{Qualifier: s.Alias, Name: f.Name, Type: f.Type, Metadata: f.Metadata,
			System: c >= len(s.Table.Schema().Fields())}
	}
	return out
}

// WithColumns returns a copy reading the given table columns.
func (s *Scan) WithColumns(idx []int) *Scan {
	n := *s
	n.Columns = idx
	n.cols = s.colsFor(idx)
	return &n
}

// Schema implements Node.
func (s *Scan) Schema() []Col { return s.cols }

// Children implements Node.
func (s *Scan) Children() []Node { return nil }

// WithChildren implements Node.
func (s *Scan) WithChildren([]Node) Node { return s }

func (s *Scan) String() string {
	names := make([]string, len(s.cols))
	for i, c := range s.cols {
		names[i] = c.Name
	}
	out := fmt.Sprintf("Scan %s.%s", s.DB, s.TableName)
	if s.Alias != "" && !strings.EqualFold(s.Alias, s.TableName) {
		out += " AS " + s.Alias
	}
	out += " [" + strings.Join(names, ", ") + "]"
	if len(s.Filters) > 0 {
		out += " filters=[" + joinExprs(s.Filters) + "]"
	}
	if s.AsOf != 0 {
		out += " as_of=" + time.UnixMicro(s.AsOf).UTC().Format("2006-01-02 15:04:05.999999")
	}
	if s.Limit >= 0 {
		out += fmt.Sprintf(" limit=%d", s.Limit)
	}
	return out
}

// Values produces constant rows; each row is a list of expressions without
// column references. A Values with no columns and one row is the input of
// SELECT without FROM.
type Values struct {
	Rows [][]expr.Expr
	Cols []Col
}

// Schema implements Node.
func (v *Values) Schema() []Col { return v.Cols }

// Children implements Node.
func (v *Values) Children() []Node { return nil }

// WithChildren implements Node.
func (v *Values) WithChildren([]Node) Node { return v }

func (v *Values) String() string {
	if len(v.Cols) == 0 {
		return fmt.Sprintf("Values rows=%d (no columns)", len(v.Rows))
	}
	rows := make([]string, 0, len(v.Rows))
	for i, r := range v.Rows {
		if i == 3 {
			rows = append(rows, "...")
			break
		}
		rows = append(rows, "("+joinExprs(r)+")")
	}
	return fmt.Sprintf("Values rows=%d %s", len(v.Rows), strings.Join(rows, ", "))
}

// Filter keeps the rows where Pred is TRUE.
type Filter struct {
	Child Node
	Pred  expr.Expr
}

// Schema implements Node.
func (f *Filter) Schema() []Col { return f.Child.Schema() }

// Children implements Node.
func (f *Filter) Children() []Node { return []Node{f.Child} }

// WithChildren implements Node.
func (f *Filter) WithChildren(c []Node) Node { return &Filter{Child: c[0], Pred: f.Pred} }

func (f *Filter) String() string { return "Filter " + f.Pred.String() }

// Project computes Exprs over its child; Cols names the outputs.
type Project struct {
	Child Node
	Exprs []expr.Expr
	Cols  []Col
}

// NewProject builds a projection; names and qualifiers come from cols,
// types from exprs.
func NewProject(child Node, exprs []expr.Expr, cols []Col) *Project {
	out := make([]Col, len(exprs))
	for i, e := range exprs {
		out[i] = cols[i]
		out[i].Type = e.Type()
		if c, ok := e.(*expr.Column); ok && c.Index < len(child.Schema()) {
			out[i].Metadata = child.Schema()[c.Index].Metadata
		}
	}
	return &Project{Child: child, Exprs: exprs, Cols: out}
}

// Schema implements Node.
func (p *Project) Schema() []Col { return p.Cols }

// Children implements Node.
func (p *Project) Children() []Node { return []Node{p.Child} }

// WithChildren implements Node.
func (p *Project) WithChildren(c []Node) Node {
	return &Project{Child: c[0], Exprs: p.Exprs, Cols: p.Cols}
}

func (p *Project) String() string {
	parts := make([]string, len(p.Exprs))
	for i, e := range p.Exprs {
		s := e.String()
		if col, ok := e.(*expr.Column); !ok || col.Name != p.Cols[i].Name {
			s += " AS " + p.Cols[i].Name
		}
		parts[i] = s
	}
	return "Project " + strings.Join(parts, ", ")
}

// AggCall is one aggregate of an Aggregate node.
type AggCall struct {
	Func     string // count, count_star, sum, avg, min, max, approx_count_distinct
	Args     []expr.Expr
	Distinct bool
	Type     arrow.DataType
}

func (a AggCall) String() string {
	if a.Func == "count_star" {
		return "count(*)"
	}
	d := ""
	if a.Distinct {
		d = "DISTINCT "
	}
	return a.Func + "(" + d + joinExprs(a.Args) + ")"
}

// Aggregate groups its input by Groups and computes Aggs; output columns
// are the groups then the aggregates.
type Aggregate struct {
	Child  Node
	Groups []expr.Expr
	Aggs   []AggCall
	Cols   []Col
}

// Schema implements Node.
func (a *Aggregate) Schema() []Col { return a.Cols }

// Children implements Node.
func (a *Aggregate) Children() []Node { return []Node{a.Child} }

// WithChildren implements Node.
func (a *Aggregate) WithChildren(c []Node) Node {
	n := *a
	n.Child = c[0]
	return &n
}

func (a *Aggregate) String() string {
	aggs := make([]string, len(a.Aggs))
	for i, g := range a.Aggs {
		aggs[i] = g.String()
	}
	return fmt.Sprintf("Aggregate groups=[%s] aggs=[%s]", joinExprs(a.Groups), strings.Join(aggs, ", "))
}

// JoinType reuses exec's join kinds.
type JoinType = exec.JoinType

// Join combines Left and Right. Equi keys (LeftKeys[i] over the left
// columns = RightKeys[i] over the right columns) drive a hash join;
// Residual is over the concatenated row (left then right). Semi and anti
// joins output the left columns only.
type Join struct {
	Left, Right         Node
	Type                JoinType
	LeftKeys, RightKeys []expr.Expr
	Residual            expr.Expr
	// usingHidden marks right-side columns (or left-side for RIGHT JOIN)
	// merged by USING.
	cols []Col
}

// NewJoin builds a join and its output schema.
func NewJoin(left, right Node, typ JoinType, lk, rk []expr.Expr, residual expr.Expr) *Join {
	j := &Join{Left: left, Right: right, Type: typ, LeftKeys: lk, RightKeys: rk, Residual: residual}
	j.cols = joinCols(left.Schema(), right.Schema(), typ)
	return j
}

func joinCols(l, r []Col, typ JoinType) []Col {
	if typ == exec.SemiJoin || typ == exec.AntiJoin {
		// A copy: the join marks columns hidden without touching its input.
		return append([]Col(nil), l...)
	}
	out := make([]Col, 0, len(l)+len(r))
	out = append(out, l...)
	return append(out, r...)
}

// Schema implements Node.
func (j *Join) Schema() []Col { return j.cols }

// Children implements Node.
func (j *Join) Children() []Node { return []Node{j.Left, j.Right} }

// WithChildren implements Node. Hidden marks of the old schema are kept.
func (j *Join) WithChildren(c []Node) Node {
	n := *j
	n.Left, n.Right = c[0], c[1]
	cols := joinCols(c[0].Schema(), c[1].Schema(), j.Type)
	if len(cols) == len(j.cols) {
		for i := range cols {
			cols[i].Hidden = j.cols[i].Hidden
		}
	}
	n.cols = cols
	return &n
}

func (j *Join) String() string {
	s := j.Type.String() + "Join"
	if len(j.LeftKeys) > 0 {
		keys := make([]string, len(j.LeftKeys))
		for i := range j.LeftKeys {
			keys[i] = j.LeftKeys[i].String() + " = " + j.RightKeys[i].String()
		}
		s = "Hash" + s + " on " + strings.Join(keys, ", ")
	} else {
		s = "NestedLoop" + s
	}
	if j.Residual != nil {
		s += " residual " + j.Residual.String()
	}
	return s
}

// SortKey is one ORDER BY key.
type SortKey = exec.SortKey

// Sort orders its input. Limit >= 0 makes it a top-N (Offset rows skipped).
type Sort struct {
	Child  Node
	Keys   []SortKey
	Offset int64
	Limit  int64
}

// Schema implements Node.
func (s *Sort) Schema() []Col { return s.Child.Schema() }

// Children implements Node.
func (s *Sort) Children() []Node { return []Node{s.Child} }

// WithChildren implements Node.
func (s *Sort) WithChildren(c []Node) Node {
	n := *s
	n.Child = c[0]
	return &n
}

func (s *Sort) String() string {
	keys := make([]string, len(s.Keys))
	for i, k := range s.Keys {
		keys[i] = k.String()
	}
	if s.Limit >= 0 {
		return fmt.Sprintf("TopN %s offset=%d limit=%d", strings.Join(keys, ", "), s.Offset, s.Limit)
	}
	return "Sort " + strings.Join(keys, ", ")
}

// Limit skips Offset rows and passes at most Count (-1: all).
type Limit struct {
	Child         Node
	Offset, Count int64
}

// Schema implements Node.
func (l *Limit) Schema() []Col { return l.Child.Schema() }

// Children implements Node.
func (l *Limit) Children() []Node { return []Node{l.Child} }

// WithChildren implements Node.
func (l *Limit) WithChildren(c []Node) Node {
	return &Limit{Child: c[0], Offset: l.Offset, Count: l.Count}
}

func (l *Limit) String() string { return fmt.Sprintf("Limit offset=%d count=%d", l.Offset, l.Count) }

// Union concatenates its inputs (UNION ALL); all have the same column types.
type Union struct {
	Inputs []Node
	Cols   []Col
}

// Schema implements Node.
func (u *Union) Schema() []Col { return u.Cols }

// Children implements Node.
func (u *Union) Children() []Node { return u.Inputs }

// WithChildren implements Node.
func (u *Union) WithChildren(c []Node) Node { return &Union{Inputs: c, Cols: u.Cols} }

func (u *Union) String() string { return fmt.Sprintf("UnionAll inputs=%d", len(u.Inputs)) }

// WindowCall is one window function of a Window node.
type WindowCall struct {
	Func  string
	Args  []expr.Expr
	Frame exec.Frame
	Type  arrow.DataType
}

// Window computes window functions over partitions of its input; output is
// the input columns then one column per function.
type Window struct {
	Child       Node
	PartitionBy []expr.Expr
	OrderBy     []SortKey
	Funcs       []WindowCall
	Cols        []Col
}

// Schema implements Node.
func (w *Window) Schema() []Col { return w.Cols }

// Children implements Node.
func (w *Window) Children() []Node { return []Node{w.Child} }

// WithChildren implements Node.
func (w *Window) WithChildren(c []Node) Node {
	n := *w
	n.Child = c[0]
	in := c[0].Schema()
	n.Cols = append(append([]Col(nil), in...), w.Cols[len(w.Cols)-len(w.Funcs):]...)
	return &n
}

func (w *Window) String() string {
	fs := make([]string, len(w.Funcs))
	for i, f := range w.Funcs {
		fs[i] = f.Func + "(" + joinExprs(f.Args) + ")"
	}
	keys := make([]string, len(w.OrderBy))
	for i, k := range w.OrderBy {
		keys[i] = k.String()
	}
	return fmt.Sprintf("Window partition=[%s] order=[%s] funcs=[%s]", joinExprs(w.PartitionBy), strings.Join(keys, ", "), strings.Join(fs, ", "))
}

func joinExprs(es []expr.Expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return strings.Join(parts, ", ")
}

// Explain renders a plan as an indented tree, one node per line.
func Explain(n Node) string {
	var b strings.Builder
	var walk func(n Node, depth int)
	walk = func(n Node, depth int) {
		b.WriteString(strings.Repeat("  ", depth))
		b.WriteString(n.String())
		b.WriteByte('\n')
		for _, c := range n.Children() {
			walk(c, depth+1)
		}
	}
	walk(n, 0)
	return b.String()
}
