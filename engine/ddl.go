package engine

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/magnetar-sql/magnetar/planner"
	"github.com/magnetar-sql/magnetar/sql"
	"github.com/pingcap/tidb/pkg/parser/ast"
)

var partitionsComment = regexp.MustCompile(`(?i)\bpartitions\s*=\s*(\d+)`)

func (s *Session) createTable(ctx context.Context, st *sql.Statement, x *ast.CreateTableStmt) (*Result, error) {
	if x.ReferTable != nil {
		return nil, sql.Errorf(st, "like", "unsupported: CREATE TABLE ... LIKE")
	}
	db, name := planner.SplitTableName(x.Table, s.db)
	def := catalog.TableDef{Name: name, Options: map[string]string{}}
	var fields []arrow.Field
	pk := map[string]bool{}
	for _, c := range x.Cols {
		t, md, err := planner.ArrowType(c.Tp)
		if err != nil {
			return nil, sql.Errorf(st, c.Name.Name.O, "column %q: %s", c.Name.Name.O, err.Error())
		}
		f := arrow.Field{Name: c.Name.Name.O, Type: t, Nullable: true, Metadata: md}
		for _, o := range c.Options {
			switch o.Tp {
			case ast.ColumnOptionNotNull:
				f.Nullable = false
			case ast.ColumnOptionPrimaryKey:
				f.Nullable = false
				pk[strings.ToLower(f.Name)] = true
				def.PrimaryKey = append(def.PrimaryKey, f.Name)
			case ast.ColumnOptionGenerated:
				return nil, sql.Errorf(st, c.Name.Name.O, "unsupported: generated column %q", c.Name.Name.O)
			}
		}
		if f, err = s.withDefault(ctx, st, c, f); err != nil {
			return nil, err
		}
		for _, g := range fields {
			if strings.EqualFold(g.Name, f.Name) {
				return nil, sql.Errorf(st, f.Name, "duplicate column name %q", f.Name)
			}
		}
		fields = append(fields, f)
	}
	for _, c := range x.Constraints {
		if c.Tp != ast.ConstraintPrimaryKey {
			continue // indexes and unique keys mean nothing to a stream
		}
		for _, k := range c.Keys {
			if k.Column == nil {
				continue
			}
			found := false
			for i := range fields {
				if strings.EqualFold(fields[i].Name, k.Column.Name.O) {
					fields[i].Nullable = false
					found = true
					if !pk[strings.ToLower(fields[i].Name)] {
						pk[strings.ToLower(fields[i].Name)] = true
						def.PrimaryKey = append(def.PrimaryKey, fields[i].Name)
					}
				}
			}
			if !found {
				return nil, sql.Errorf(st, k.Column.Name.O, "unknown column %q in PRIMARY KEY", k.Column.Name.O)
			}
		}
	}
	for _, o := range x.Options {
		if o.Tp == ast.TableOptionComment {
			def.Comment = o.StrValue
			if m := partitionsComment.FindStringSubmatch(o.StrValue); m != nil {
				def.Partitions, _ = strconv.Atoi(m[1])
			}
		}
	}
	if x.Partition != nil {
		def.Partitions = int(x.Partition.Num)
	}
	var src planner.Node
	if x.Select != nil {
		n, err := s.binder(ctx, st).BindQuery(x.Select)
		if err != nil {
			return nil, err
		}
		if len(fields) > 0 {
			return nil, sql.Errorf(st, "select", "unsupported: column definitions together with AS SELECT")
		}
		for _, c := range n.Schema() {
			fields = append(fields, arrow.Field{Name: c.Name, Type: c.Type, Nullable: true, Metadata: c.Metadata})
		}
		src = n
	}
	if len(fields) == 0 {
		return nil, sql.Errorf(st, name, "table %q needs at least one column", name)
	}
	def.Schema = arrow.NewSchema(fields, nil)
	if err := applyEngineAttribute(st, &def, x.Options); err != nil {
		return nil, err
	}
	if err := s.e.cat.CreateTable(ctx, db, def, x.IfNotExists); err != nil {
		switch {
		case errors.Is(err, catalog.ErrExists):
			return nil, sql.Errorf(st, name, "table %q already exists", name)
		case errors.Is(err, catalog.ErrNotFound):
			return nil, sql.Errorf(st, db, "unknown database %q", db)
		}
		return nil, err
	}
	if src == nil {
		return &Result{Status: "CREATE TABLE"}, nil
	}
	tab, err := s.e.cat.Table(ctx, db, name)
	if err != nil {
		return nil, err
	}
	n, err := s.writeInto(ctx, st, tab, nil, src)
	if err != nil {
		return nil, err
	}
	return &Result{Status: fmt.Sprintf("CREATE TABLE %d", n)}, nil
}

func (s *Session) dropTable(ctx context.Context, st *sql.Statement, x *ast.DropTableStmt) (*Result, error) {
	if x.IsView {
		return nil, sql.Errorf(st, "view", "unsupported: views")
	}
	for _, tn := range x.Tables {
		db, name := planner.SplitTableName(tn, s.db)
		if err := s.e.cat.DropTable(ctx, db, name, x.IfExists); err != nil {
			if errors.Is(err, catalog.ErrNotFound) {
				return nil, sql.Errorf(st, tn.Name.O, "unknown table %q", name)
			}
			return nil, err
		}
	}
	return &Result{Status: "DROP TABLE"}, nil
}

func (s *Session) insert(ctx context.Context, st *sql.Statement, x *ast.InsertStmt) (*Result, error) {
	if x.IsReplace {
		return nil, sql.Errorf(st, "replace", "unsupported: REPLACE")
	}
	if len(x.OnDuplicate) > 0 {
		return nil, sql.Errorf(st, "duplicate", "unsupported: ON DUPLICATE KEY UPDATE")
	}
	if x.Table == nil || x.Table.TableRefs == nil {
		return nil, sql.Errorf(st, "insert", "INSERT needs a table")
	}
	ts, ok := x.Table.TableRefs.Left.(*ast.TableSource)
	if !ok {
		return nil, sql.Errorf(st, "insert", "unsupported: INSERT target")
	}
	tn, ok := ts.Source.(*ast.TableName)
	if !ok {
		return nil, sql.Errorf(st, "insert", "unsupported: INSERT target")
	}
	tab, err := s.table(ctx, st, tn, "")
	if err != nil {
		return nil, err
	}
	b := s.binder(ctx, st)
	var src planner.Node
	cols := x.Columns
	switch {
	case x.Setlist:
		return nil, sql.Errorf(st, "set", "unsupported: INSERT ... SET")
	case x.Select != nil:
		if src, err = b.BindQuery(x.Select); err != nil {
			return nil, err
		}
	default:
		if src, err = b.BindValues(x.Lists); err != nil {
			return nil, err
		}
	}
	n, err := s.writeInto(ctx, st, tab, cols, src)
	if err != nil {
		return nil, err
	}
	return &Result{Status: fmt.Sprintf("INSERT %d", n)}, nil
}

// writeInto runs src and appends its rows to tab, matching the named
// columns (all columns in order when names is empty) and casting values
// to the column types.
func (s *Session) writeInto(ctx context.Context, st *sql.Statement, tab catalog.Table, names []*ast.ColumnName, src planner.Node) (int64, error) {
	ins, ok := tab.(catalog.Insertable)
	if !ok {
		return 0, sql.Errorf(st, tab.Name(), "table %q does not accept INSERT", tab.Name())
	}
	schema := tab.Schema()
	fields := schema.Fields()
	srcCols := src.Schema()
	// target column i takes source column pos[i] (-1: NULL).
	pos := make([]int, len(fields))
	for i := range pos {
		pos[i] = -1
	}
	if len(names) == 0 {
		if len(srcCols) != len(fields) {
			return 0, sql.Errorf(st, tab.Name(), "table %q has %d columns but %d values were supplied", tab.Name(), len(fields), len(srcCols))
		}
		for i := range pos {
			pos[i] = i
		}
	} else {
		if len(names) != len(srcCols) {
			return 0, sql.Errorf(st, tab.Name(), "%d columns named but %d values supplied", len(names), len(srcCols))
		}
		for k, n := range names {
			found := false
			for i, f := range fields {
				if strings.EqualFold(f.Name, n.Name.O) {
					if pos[i] >= 0 {
						return 0, sql.Errorf(st, n.Name.O, "column %q specified twice", n.Name.O)
					}
					pos[i] = k
					found = true
				}
			}
			if !found {
				return 0, sql.Errorf(st, n.Name.O, "unknown column %q in table %q", n.Name.O, tab.Name())
			}
		}
	}
	exprs := make([]expr.Expr, len(fields))
	for i, f := range fields {
		if pos[i] < 0 {
			if lit := s.defaultLiteral(f); lit != nil {
				exprs[i] = lit
				continue
			}
			if !f.Nullable {
				return 0, sql.Errorf(st, tab.Name(), "column %q has no default value and cannot be NULL", f.Name)
			}
			exprs[i] = &expr.Literal{T: f.Type}
			continue
		}
		sc := srcCols[pos[i]]
		var e expr.Expr = &expr.Column{Index: pos[i], Name: sc.Name, T: sc.Type}
		if !arrow.TypeEqual(sc.Type, f.Type) {
			if sc.Type.ID() == arrow.NULL {
				e = &expr.Literal{T: f.Type}
			} else {
				c, err := expr.NewCast(e, f.Type)
				if err != nil {
					return 0, sql.Errorf(st, f.Name, "column %q is %s but the value is %s: %s", f.Name, typeName(f.Type, f.Metadata), typeName(sc.Type, sc.Metadata), err.Error())
				}
				e = c
			}
		}
		exprs[i] = e
	}
	plan, err := planner.Optimize(planner.WithSession(ctx, catalog.Bounded, s.settings), src)
	if err != nil {
		return 0, err
	}
	bl := s.builder(false)
	bl.Mode = catalog.Bounded
	op, err := bl.Build(ctx, plan)
	if err != nil {
		return 0, err
	}
	if err := op.Open(ctx); err != nil {
		op.Close()
		return 0, err
	}
	defer op.Close()
	// Casts are evaluated column by column so a failure names the column.
	evs := make([]expr.Evaluator, len(exprs))
	for i, e := range exprs {
		if evs[i], err = expr.Compile(e, s.e.mem); err != nil {
			return 0, sql.Errorf(st, fields[i].Name, "column %q: %s", fields[i].Name, err.Error())
		}
	}
	w, err := ins.OpenWriter(ctx)
	if err != nil {
		return 0, err
	}
	var total int64
	fail := func(err error) (int64, error) {
		w.Close(ctx)
		return 0, err
	}
	for {
		m, err := op.Next(ctx)
		if err != nil {
			return fail(fmt.Errorf("INSERT INTO %s: %w", tab.Name(), err))
		}
		if m.Kind == exec.MsgEnd {
			break
		}
		if m.Kind != exec.MsgBatch {
			continue
		}
		rec := m.Batch.Rec
		cols := make([]arrow.Array, len(fields))
		release := func() {
			for _, c := range cols {
				if c != nil {
					c.Release()
				}
			}
		}
		for i, f := range fields {
			c, err := evs[i].Eval(ctx, rec)
			if err != nil {
				release()
				rec.Release()
				src := "NULL"
				if pos[i] >= 0 {
					src = typeName(srcCols[pos[i]].Type, srcCols[pos[i]].Metadata)
				}
				return fail(sql.Errorf(st, f.Name, "column %q is %s but the value is %s: %s", f.Name, typeName(f.Type, f.Metadata), src, err.Error()))
			}
			cols[i] = c
			if !f.Nullable && c.NullN() > 0 {
				release()
				rec.Release()
				return fail(sql.Errorf(st, f.Name, "column %q cannot be NULL", f.Name))
			}
		}
		out := array.NewRecordBatch(schema, cols, rec.NumRows())
		release()
		rec.Release()
		err = w.Write(ctx, exec.Batch{Rec: out, Ops: m.Batch.Ops})
		total += out.NumRows()
		out.Release()
		if err != nil {
			return fail(fmt.Errorf("INSERT INTO %s: %w", tab.Name(), err))
		}
	}
	if err := w.Close(ctx); err != nil {
		return 0, err
	}
	return total, nil
}
