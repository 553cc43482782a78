package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/magnetar-sql/magnetar/planner"
	"github.com/magnetar-sql/magnetar/schema"
	"github.com/magnetar-sql/magnetar/sql"
	"github.com/pingcap/tidb/pkg/parser/ast"
)

// alterTable runs ALTER TABLE: ADD [COLUMN] (new columns go last, nullable
// unless NOT NULL with a DEFAULT), ENGINE_ATTRIBUTE = '...' (table options,
// merged) and COMMENT = '...'. Column additions are applied before option
// changes; each is one catalog call.
func (s *Session) alterTable(ctx context.Context, st *sql.Statement, x *ast.AlterTableStmt) (*Result, error) {
	tab, err := s.table(ctx, st, x.Table, "")
	if err != nil {
		return nil, err
	}
	db, _ := planner.SplitTableName(x.Table, s.db)
	name := tab.Name()
	var cols []arrow.Field
	var ch catalog.OptionChange
	optsChanged := false
	seen := map[string]bool{}
	for _, f := range tab.Schema().Fields() {
		seen[strings.ToLower(f.Name)] = true
	}
	for _, spec := range x.Specs {
		switch spec.Tp {
		case ast.AlterTableAddColumns:
			if spec.Position != nil && spec.Position.Tp != ast.ColumnPositionNone {
				return nil, sql.Errorf(st, "add", "unsupported: ADD COLUMN ... FIRST/AFTER (new columns go last)")
			}
			for _, c := range spec.NewColumns {
				f, err := s.columnField(ctx, st, c)
				if err != nil {
					return nil, err
				}
				if seen[strings.ToLower(f.Name)] {
					return nil, sql.Errorf(st, c.Name.Name.O, "duplicate column name %q", f.Name)
				}
				seen[strings.ToLower(f.Name)] = true
				cols = append(cols, f)
			}
		case ast.AlterTableOption:
			for _, o := range spec.Options {
				switch o.Tp {
				case ast.TableOptionComment:
					c := o.StrValue
					ch.Comment = &c
					optsChanged = true
				case ast.TableOptionEngineAttribute:
					m, err := parseEngineAttribute(o.StrValue)
					if err != nil {
						return nil, sql.Errorf(st, "engine_attribute", "%s", err.Error())
					}
					for k, v := range m {
						if v == "" {
							ch.Unset = append(ch.Unset, k)
							delete(ch.Set, k)
							continue
						}
						if ch.Set == nil {
							ch.Set = map[string]string{}
						}
						ch.Set[k] = v
					}
					optsChanged = true
				default:
					return nil, sql.Errorf(st, "alter", "unsupported: this ALTER TABLE option (Magnetar takes COMMENT and ENGINE_ATTRIBUTE)")
				}
			}
		default:
			return nil, sql.Errorf(st, "alter", "unsupported: ALTER TABLE %s (Magnetar supports ADD COLUMN, COMMENT and ENGINE_ATTRIBUTE)", alterSpecName(spec.Tp))
		}
	}
	if optsChanged && len(ch.Set) > 0 {
		// Options are checked against the columns the table will have.
		fields := append(append([]arrow.Field(nil), tab.Schema().Fields()...), cols...)
		if err := checkTableOptions(ch.Set, arrow.NewSchema(fields, nil), tab.MetadataColumns()); err != nil {
			return nil, sql.Errorf(st, "engine_attribute", "%s", err.Error())
		}
	}
	for _, k := range ch.Unset {
		if _, ok := tableOptionDoc[k]; !ok {
			return nil, sql.Errorf(st, "engine_attribute", "unknown table option %q (known: %s)", k, strings.Join(TableOptionNames(), ", "))
		}
	}
	if len(cols) > 0 {
		alt, ok := s.e.cat.(catalog.Alterable)
		if !ok {
			return nil, sql.Errorf(st, "add", "unsupported: the %s catalog cannot add columns", s.e.cat.Name())
		}
		if err := alt.AddColumns(ctx, db, name, cols); err != nil {
			return nil, alterErr(st, name, err)
		}
	}
	if optsChanged {
		alt, ok := s.e.cat.(catalog.OptionsAlterable)
		if !ok {
			return nil, sql.Errorf(st, "alter", "unsupported: the %s catalog cannot change table options", s.e.cat.Name())
		}
		if err := alt.AlterOptions(ctx, db, name, ch); err != nil {
			return nil, alterErr(st, name, err)
		}
	}
	return &Result{Status: "ALTER TABLE"}, nil
}

func alterErr(st *sql.Statement, name string, err error) error {
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		return sql.Errorf(st, name, "unknown table %q", name)
	case errors.Is(err, catalog.ErrExists):
		return sql.Errorf(st, name, "ALTER TABLE %s: %s", name, err.Error())
	}
	return err
}

// alterSpecName names an ALTER TABLE clause for "unsupported" errors.
func alterSpecName(tp ast.AlterTableType) string {
	switch tp {
	case ast.AlterTableDropColumn:
		return "DROP COLUMN"
	case ast.AlterTableModifyColumn:
		return "MODIFY COLUMN"
	case ast.AlterTableChangeColumn:
		return "CHANGE COLUMN"
	case ast.AlterTableRenameColumn:
		return "RENAME COLUMN"
	case ast.AlterTableRenameTable:
		return "RENAME"
	case ast.AlterTableAlterColumn:
		return "ALTER COLUMN"
	case ast.AlterTableAddConstraint:
		return "ADD constraint/index"
	case ast.AlterTableDropPrimaryKey:
		return "DROP PRIMARY KEY"
	case ast.AlterTableDropIndex:
		return "DROP INDEX"
	case ast.AlterTableAddPartitions, ast.AlterTablePartition, ast.AlterTableDropPartition:
		return "PARTITION"
	case ast.AlterTableAttributes:
		return "ATTRIBUTES (use ENGINE_ATTRIBUTE)"
	}
	return "clause"
}

// columnField maps a column definition of ALTER TABLE ADD COLUMN to an
// Arrow field: nullable unless NOT NULL, a DEFAULT kept as the field's
// schema.MetaAvroDefault (what rows written before the change read, and
// what INSERTs omitting the column write).
func (s *Session) columnField(ctx context.Context, st *sql.Statement, c *ast.ColumnDef) (arrow.Field, error) {
	name := c.Name.Name.O
	t, md, err := planner.ArrowType(c.Tp)
	if err != nil {
		return arrow.Field{}, sql.Errorf(st, name, "column %q: %s", name, err.Error())
	}
	if strings.HasPrefix(name, "__") {
		return arrow.Field{}, sql.Errorf(st, name, "column %q: names starting with __ are reserved for metadata columns", name)
	}
	f := arrow.Field{Name: name, Type: t, Nullable: true, Metadata: md}
	for _, o := range c.Options {
		switch o.Tp {
		case ast.ColumnOptionNotNull:
			f.Nullable = false
		case ast.ColumnOptionNull:
			f.Nullable = true
		case ast.ColumnOptionDefaultValue:
			// withDefault, once NULL / NOT NULL are known.
		case ast.ColumnOptionComment:
			// Accepted and not kept: Avro fields have doc, but no SQL reads it.
		case ast.ColumnOptionPrimaryKey:
			return arrow.Field{}, sql.Errorf(st, name, "unsupported: PRIMARY KEY in ADD COLUMN (the key of a topic cannot change)")
		case ast.ColumnOptionGenerated:
			return arrow.Field{}, sql.Errorf(st, name, "unsupported: generated column %q", name)
		case ast.ColumnOptionAutoIncrement:
			return arrow.Field{}, sql.Errorf(st, name, "unsupported: AUTO_INCREMENT")
		default:
			return arrow.Field{}, sql.Errorf(st, name, "unsupported: this option of column %q", name)
		}
	}
	if f, err = s.withDefault(ctx, st, c, f); err != nil {
		return arrow.Field{}, err
	}
	if !f.Nullable && f.Metadata.FindKey(schema.MetaAvroDefault) < 0 {
		return arrow.Field{}, sql.Errorf(st, name, "column %q is NOT NULL but has no DEFAULT: rows already in the table would have no value (add a DEFAULT or drop NOT NULL)", name)
	}
	return f, nil
}

// withDefault records the column's DEFAULT (if any) in f's metadata as
// schema.MetaAvroDefault, the form the Avro schema keeps it in.
func (s *Session) withDefault(ctx context.Context, st *sql.Statement, c *ast.ColumnDef, f arrow.Field) (arrow.Field, error) {
	for _, o := range c.Options {
		if o.Tp != ast.ColumnOptionDefaultValue {
			continue
		}
		js, err := s.defaultJSON(ctx, st, o.Expr, f)
		if err != nil {
			return f, err
		}
		if js != "" {
			keys := append(append([]string(nil), f.Metadata.Keys()...), schema.MetaAvroDefault)
			vals := append(append([]string(nil), f.Metadata.Values()...), js)
			f.Metadata = arrow.NewMetadata(keys, vals)
		}
	}
	return f, nil
}

// defaultJSON evaluates a DEFAULT expression to a constant of the column's
// type and renders it as JSON in Arrow units ("" for NULL).
func (s *Session) defaultJSON(ctx context.Context, st *sql.Statement, e ast.ExprNode, f arrow.Field) (string, error) {
	bad := func(format string, args ...any) (string, error) {
		return "", sql.Errorf(st, f.Name, "column %q: DEFAULT %s", f.Name, fmt.Sprintf(format, args...))
	}
	sel := &ast.SelectStmt{Kind: ast.SelectStmtKindSelect, Fields: &ast.FieldList{Fields: []*ast.SelectField{{Expr: e}}}}
	n, err := s.binder(ctx, st).BindQuery(sel)
	if err != nil {
		return "", err
	}
	rows, err := planner.Runner(s.e.mem, nil)(ctx, n, 1)
	if err != nil {
		return bad("%s", err.Error())
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return bad("must be a constant")
	}
	lit := rows[0][0]
	if lit.Value == nil {
		if !f.Nullable {
			return bad("NULL on a NOT NULL column")
		}
		return "", nil
	}
	var x expr.Expr = lit
	if !arrow.TypeEqual(lit.T, f.Type) {
		if x, err = expr.NewCast(lit, f.Type); err != nil {
			return bad("%s", err.Error())
		}
	}
	ev, err := expr.Compile(x, s.e.mem)
	if err != nil {
		return bad("%s", err.Error())
	}
	one := array.NewRecordBatch(arrow.NewSchema(nil, nil), nil, 1)
	defer one.Release()
	arr, err := ev.Eval(ctx, one)
	if err != nil {
		return bad("%s", err.Error())
	}
	defer arr.Release()
	if arr.IsNull(0) {
		return bad("%s does not convert to %s", lit.String(), typeName(f.Type, f.Metadata))
	}
	var v any
	switch a := arr.(type) {
	case *array.Boolean:
		v = a.Value(0)
	case *array.Int8, *array.Int16, *array.Int32, *array.Int64, *array.Uint8, *array.Uint16, *array.Uint32:
		v = expr.Scalar(arr, 0)
	case *array.Uint64:
		// Stored as the bits of an Avro long.
		v = int64(a.Value(0))
	case *array.Float32:
		v = float64(a.Value(0))
	case *array.Float64:
		v = a.Value(0)
	case *array.String:
		v = a.Value(0)
	case *array.Timestamp:
		v = int64(a.Value(0))
	case *array.Date32:
		v = int64(a.Value(0))
	case *array.Time64:
		v = int64(a.Value(0))
	case *array.Binary:
		b := a.Value(0)
		for _, c := range b {
			if c >= 0x80 {
				return bad("of a binary column must be ASCII")
			}
		}
		v = string(b)
	default:
		return bad("unsupported for %s columns", typeName(f.Type, f.Metadata))
	}
	if fv, ok := v.(float64); ok && (math.IsNaN(fv) || math.IsInf(fv, 0)) {
		return bad("must be a finite number")
	}
	js, err := json.Marshal(v)
	if err != nil {
		return bad("%s", err.Error())
	}
	return string(js), nil
}

// defaultLiteral is the value INSERT writes into a column it was given no
// value for: the column's DEFAULT (schema.MetaAvroDefault), or nil when it
// has none.
func (s *Session) defaultLiteral(f arrow.Field) *expr.Literal {
	if f.Metadata.FindKey(schema.MetaAvroDefault) < 0 {
		return nil
	}
	arr, err := schema.DefaultArray(s.e.mem, f, 1)
	if err != nil {
		return nil
	}
	defer arr.Release()
	return &expr.Literal{Value: expr.Scalar(arr, 0), T: f.Type}
}

// defaultText renders a column's DEFAULT for DESCRIBE ("NULL" when none).
func defaultText(f arrow.Field) string {
	arr := defaultValue(f)
	if arr == nil {
		return "NULL"
	}
	defer arr.Release()
	return expr.FormatValue(arr, 0)
}

// defaultSQL renders a column's DEFAULT as a SQL literal for SHOW CREATE
// TABLE; ok is false when the column has none.
func defaultSQL(f arrow.Field) (string, bool) {
	arr := defaultValue(f)
	if arr == nil {
		return "", false
	}
	defer arr.Release()
	return (&expr.Literal{Value: expr.Scalar(arr, 0), T: f.Type}).String(), true
}

// defaultValue is a one-row array of the column's non-NULL DEFAULT, or nil.
func defaultValue(f arrow.Field) arrow.Array {
	if v, ok := f.Metadata.GetValue(schema.MetaAvroDefault); !ok || v == "null" {
		return nil
	}
	arr, err := schema.DefaultArray(memory.DefaultAllocator, f, 1)
	if err != nil {
		return nil
	}
	if arr.IsNull(0) {
		arr.Release()
		return nil
	}
	return arr
}
