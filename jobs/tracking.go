package jobs

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/magnetar-sql/magnetar/catalog"
	cpulsar "github.com/magnetar-sql/magnetar/catalog/pulsar"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/sql"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"
)

// Tracking columns: a job's query carries, for every row, where its source
// row came from. They are the source table's __partition, __message_id and
// __publish_time metadata columns, shown under these names as visible
// columns by TrackingCatalog so the binder resolves them.
const (
	ColPartition   = "__job_partition"
	ColMessageID   = "__job_message_id"
	ColPublishTime = "__job_publish_time"
	trackPrefix    = "__job_"
)

var trackSources = [...]string{"__partition", "__message_id", "__publish_time"}

// TrackingCatalog wraps cat so that every table with the __partition,
// __message_id and __publish_time metadata columns also shows them as the
// visible columns __job_partition, __job_message_id and __job_publish_time
// (after its own). Jobs bind their queries against it.
func TrackingCatalog(cat catalog.Catalog) catalog.Catalog { return trackingCatalog{cat} }

type trackingCatalog struct{ catalog.Catalog }

func (c trackingCatalog) Table(ctx context.Context, db, name string) (catalog.Table, error) {
	t, err := c.Catalog.Table(ctx, db, name)
	if err != nil {
		return nil, err
	}
	meta := t.MetadataColumns()
	var idx [len(trackSources)]int
	for k, n := range trackSources {
		idx[k] = -1
		for i, f := range meta {
			if f.Name == n {
				idx[k] = i
			}
		}
		if idx[k] < 0 {
			return t, nil // not a topic-backed table: no tracking
		}
	}
	fields := append([]arrow.Field(nil), t.Schema().Fields()...)
	names := []string{ColPartition, ColMessageID, ColPublishTime}
	for k, i := range idx {
		f := meta[i]
		f.Name = names[k]
		fields = append(fields, f)
	}
	return &trackingTable{Table: t, meta: idx, schema: arrow.NewSchema(fields, nil)}, nil
}

type trackingTable struct {
	catalog.Table
	meta   [len(trackSources)]int // metadata column numbers of the tracking sources
	schema *arrow.Schema
}

func (t *trackingTable) Schema() *arrow.Schema { return t.schema }

func (t *trackingTable) Scan(ctx context.Context, req catalog.ScanRequest) (exec.Operator, error) {
	nvis := t.Table.Schema().NumFields()
	cols := req.Columns
	if cols == nil {
		cols = make([]int, t.schema.NumFields())
		for i := range cols {
			cols[i] = i
		}
	}
	inner := make([]int, len(cols))
	out := make([]arrow.Field, len(cols))
	meta := t.Table.MetadataColumns()
	for i, c := range cols {
		switch {
		case c < nvis:
			inner[i] = c
			out[i] = t.schema.Field(c)
		case c < nvis+len(trackSources):
			inner[i] = nvis + t.meta[c-nvis]
			out[i] = t.schema.Field(c)
		default:
			inner[i] = c - len(trackSources)
			out[i] = meta[inner[i]-nvis]
		}
	}
	reg := registryFrom(ctx)
	if reg != nil {
		// A stateful job's scan also reads each row's partition and message
		// id, hidden after the requested columns (see positionScan).
		inner = append(inner, nvis+t.meta[0], nvis+t.meta[1])
	}
	r := req
	r.Columns = inner
	// Filters are numbered in this table's column space; the planner applies
	// them itself since this table accepts none.
	r.Filters = nil
	op, err := t.Table.Scan(ctx, r)
	if err != nil {
		return nil, err
	}
	if reg != nil {
		ps := newPositionScan(op, arrow.NewSchema(out, nil), reg)
		reg.add(ps)
		return ps, nil
	}
	return &renamed{Operator: op, schema: arrow.NewSchema(out, nil)}, nil
}

// renamed gives the inner scan's batches this table's column names.
type renamed struct {
	exec.Operator
	schema *arrow.Schema
}

func (r *renamed) Schema() *arrow.Schema { return r.schema }

func (r *renamed) Next(ctx context.Context) (exec.Message, error) {
	m, err := r.Operator.Next(ctx)
	if err != nil || m.Kind != exec.MsgBatch {
		return m, err
	}
	rec := m.Batch.Rec
	m.Batch.Rec = array.NewRecordBatch(r.schema, rec.Columns(), rec.NumRows())
	rec.Release()
	return m, nil
}

// Unwrap returns the scan operator.
func (r *renamed) Unwrap() exec.Operator { return r.Operator }

// SetWatermarkFunc forwards the streaming engine's watermark hook to the
// Pulsar scan (batches keep their column order, only names differ).
func (r *renamed) SetWatermarkFunc(f cpulsar.WatermarkFunc) {
	if h, ok := r.Operator.(cpulsar.WatermarkHooker); ok {
		h.SetWatermarkFunc(f)
	}
}

// Warnings forwards the scan's warnings (undecodable messages).
func (r *renamed) Warnings() []string {
	if w, ok := r.Operator.(cpulsar.Warner); ok {
		return w.Warnings()
	}
	return nil
}

// insertPlan is a job's INSERT taken apart.
type insertPlan struct {
	db, table string   // target ("" db: the job's database)
	columns   []string // named target columns (nil: all, in order)
	query     string   // the SELECT to run (with tracking columns when tracked)
	tracked   bool
	// stateful: the SELECT is not stateless (GROUP BY, joins, UNION ALL,
	// aggregates, windows, DISTINCT, ...): the job may checkpoint its
	// operators' states with the source positions (see checkpoint.go).
	stateful bool
}

// planInsert parses a job's INSERT INTO t [(cols)] SELECT ... and, when the
// SELECT is stateless (one table, no grouping, DISTINCT, ORDER BY, LIMIT,
// aggregates or window functions), appends the tracking columns to its select
// list so each output row says which source message it came from.
func planInsert(text string) (*insertPlan, error) {
	stmts, err := sql.Parse(text)
	if err != nil {
		return nil, err
	}
	if len(stmts) != 1 {
		return nil, fmt.Errorf("a job runs exactly one INSERT statement, got %d statements", len(stmts))
	}
	x, ok := stmts[0].Node.(*ast.InsertStmt)
	if !ok || x.Select == nil || x.IsReplace || x.Setlist || len(x.OnDuplicate) > 0 {
		return nil, fmt.Errorf("a job runs INSERT INTO table SELECT ...")
	}
	p := &insertPlan{}
	ts, ok := x.Table.TableRefs.Left.(*ast.TableSource)
	if !ok {
		return nil, fmt.Errorf("unsupported INSERT target")
	}
	tn, ok := ts.Source.(*ast.TableName)
	if !ok {
		return nil, fmt.Errorf("unsupported INSERT target")
	}
	p.db, p.table = tn.Schema.O, tn.Name.O
	for _, c := range x.Columns {
		p.columns = append(p.columns, c.Name.O)
	}
	sel, ok := x.Select.(*ast.SelectStmt)
	if ok && stateless(sel) {
		for _, n := range []string{ColPartition, ColMessageID, ColPublishTime} {
			sel.Fields.Fields = append(sel.Fields.Fields, &ast.SelectField{Expr: &ast.ColumnNameExpr{Name: &ast.ColumnName{Name: ast.NewCIStr(n)}}})
		}
		p.tracked = true
	} else if ok && singleTable(sel) || multiInput(x.Select) {
		p.stateful = true
	}
	var sb strings.Builder
	if err := x.Select.Restore(format.NewRestoreCtx(format.DefaultRestoreFlags, &sb)); err != nil {
		return nil, fmt.Errorf("restore query: %w", err)
	}
	p.query = sb.String()
	return p, nil
}

func stateless(sel *ast.SelectStmt) bool {
	if sel.Distinct || sel.GroupBy != nil || sel.Having != nil || sel.OrderBy != nil || sel.Limit != nil ||
		sel.WindowSpecs != nil || sel.With != nil || sel.From == nil || sel.Fields == nil {
		return false
	}
	j := sel.From.TableRefs
	if j == nil || j.Right != nil {
		return false
	}
	src, ok := j.Left.(*ast.TableSource)
	if !ok {
		return false
	}
	if _, ok := src.Source.(*ast.TableName); !ok {
		return false
	}
	v := &statefulFinder{}
	sel.Accept(v)
	return !v.found
}

// singleTable reports whether sel reads one table, with no CTE, subquery
// or wildcard (a wildcard would also take the tracking columns a stateful
// job's tables show).
func singleTable(sel *ast.SelectStmt) bool {
	if sel.With != nil || sel.From == nil || sel.Fields == nil {
		return false
	}
	j := sel.From.TableRefs
	if j == nil || j.Right != nil {
		return false
	}
	src, ok := j.Left.(*ast.TableSource)
	if !ok {
		return false
	}
	if _, ok := src.Source.(*ast.TableName); !ok {
		return false
	}
	for _, f := range sel.Fields.Fields {
		if f.WildCard != nil {
			return false
		}
	}
	v := &subqueryFinder{}
	sel.Accept(v)
	return !v.found
}

// subqueryFinder looks for subqueries.
type subqueryFinder struct{ found bool }

func (v *subqueryFinder) Enter(n ast.Node) (ast.Node, bool) {
	switch n.(type) {
	case *ast.SubqueryExpr, *ast.ExistsSubqueryExpr:
		v.found = true
		return n, true
	}
	return n, false
}

func (v *subqueryFinder) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// statefulFinder looks for aggregates, window functions and subqueries.
type statefulFinder struct{ found bool }

func (v *statefulFinder) Enter(n ast.Node) (ast.Node, bool) {
	switch n.(type) {
	case *ast.AggregateFuncExpr, *ast.WindowFuncExpr, *ast.SubqueryExpr:
		v.found = true
		return n, true
	}
	return n, false
}

func (v *statefulFinder) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// Pos is a message position within one partition.
type Pos struct {
	Ledger int64 `json:"ledger"`
	Entry  int64 `json:"entry"`
	Batch  int32 `json:"batch"`
}

// Less orders positions within a partition.
func (p Pos) Less(q Pos) bool {
	if p.Ledger != q.Ledger {
		return p.Ledger < q.Ledger
	}
	if p.Entry != q.Entry {
		return p.Entry < q.Entry
	}
	return p.Batch < q.Batch
}

// parseMessageID parses the catalog's "ledger:entry:partition:batchIdx".
func parseMessageID(s string) (Pos, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 {
		return Pos{}, fmt.Errorf("bad message id %q", s)
	}
	var p Pos
	var err error
	if p.Ledger, err = strconv.ParseInt(parts[0], 10, 64); err != nil {
		return Pos{}, fmt.Errorf("bad message id %q", s)
	}
	if p.Entry, err = strconv.ParseInt(parts[1], 10, 64); err != nil {
		return Pos{}, fmt.Errorf("bad message id %q", s)
	}
	if len(parts) >= 4 {
		b, err := strconv.ParseInt(parts[3], 10, 32)
		if err != nil {
			return Pos{}, fmt.Errorf("bad message id %q", s)
		}
		p.Batch = int32(b)
	}
	return p, nil
}
