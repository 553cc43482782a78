package flightserver

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/planner"
	"github.com/magnetar-sql/magnetar/sql"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	driver "github.com/pingcap/tidb/pkg/parser/test_driver"
)

// The engine has no parameter binding, so prepared statements substitute
// each ? by a SQL literal rendered from the bound Arrow value. The places
// come from the parser (ParamMarkerExpr offsets), never from scanning the
// text, so a ? inside a string or comment is left alone; the literals are
// quoted and escaped, and the substituted text is parsed again to check it
// still has the same statements and no markers, so a value cannot inject
// SQL.

// param is one ? of a statement: its byte offset in the text and the type
// its context suggests (what a JDBC client must bind).
type param struct {
	offset int
	typ    arrow.DataType
}

// findParams lists the ? markers of parsed statements in text order, with
// types inferred from what they are compared with or inserted into.
func findParams(ctx context.Context, stmts []sql.Statement, cat catalog.Catalog, db string) []param {
	v := &paramVisitor{hints: map[*driver.ParamMarkerExpr]arrow.DataType{}}
	for _, st := range stmts {
		v.tables = tableSchemas(ctx, st.Node, cat, db)
		if ins, ok := st.Node.(*ast.InsertStmt); ok {
			v.insertHints(ctx, ins, cat, db)
		}
		st.Node.Accept(v)
	}
	sort.Slice(v.markers, func(i, j int) bool { return v.markers[i].Offset < v.markers[j].Offset })
	out := make([]param, len(v.markers))
	for i, m := range v.markers {
		t := v.hints[m]
		if t == nil {
			// No context: a string is the most forgiving, the engine
			// converts strings where numbers or times are expected.
			t = arrow.BinaryTypes.String
		}
		out[i] = param{offset: m.Offset, typ: t}
	}
	return out
}

type namedSchema struct {
	name string
	sc   *arrow.Schema
}

// tableSchemas resolves the tables a statement names, for typing markers
// compared with their columns. Unknown tables are skipped: the statement
// will report them when it runs.
func tableSchemas(ctx context.Context, n ast.Node, cat catalog.Catalog, db string) []namedSchema {
	if cat == nil {
		return nil
	}
	c := &tableCollector{}
	n.Accept(c)
	var out []namedSchema
	for _, tn := range c.names {
		d, name := planner.SplitTableName(tn, db)
		t, err := cat.Table(ctx, d, name)
		if err != nil {
			continue
		}
		out = append(out, namedSchema{name: name, sc: t.Schema()})
	}
	return out
}

type tableCollector struct{ names []*ast.TableName }

func (c *tableCollector) Enter(n ast.Node) (ast.Node, bool) {
	if tn, ok := n.(*ast.TableName); ok {
		c.names = append(c.names, tn)
	}
	return n, false
}
func (c *tableCollector) Leave(n ast.Node) (ast.Node, bool) { return n, true }

type paramVisitor struct {
	tables  []namedSchema
	markers []*driver.ParamMarkerExpr
	hints   map[*driver.ParamMarkerExpr]arrow.DataType
}

func (v *paramVisitor) colType(e ast.ExprNode) arrow.DataType {
	cn, ok := e.(*ast.ColumnNameExpr)
	if !ok {
		return nil
	}
	tab := cn.Name.Table.L
	col := cn.Name.Name.L
	for pass := 0; pass < 2; pass++ {
		for _, t := range v.tables {
			if pass == 0 && tab != "" && !strings.EqualFold(t.name, tab) {
				continue
			}
			for _, f := range t.sc.Fields() {
				if strings.EqualFold(f.Name, col) {
					return f.Type
				}
			}
		}
	}
	return nil
}

func (v *paramVisitor) hint(e ast.ExprNode, t arrow.DataType) {
	if p, ok := e.(*driver.ParamMarkerExpr); ok && t != nil {
		if _, set := v.hints[p]; !set {
			v.hints[p] = t
		}
	}
}

func (v *paramVisitor) Enter(n ast.Node) (ast.Node, bool) {
	switch x := n.(type) {
	case *driver.ParamMarkerExpr:
		v.markers = append(v.markers, x)
	case *ast.BinaryOperationExpr:
		switch x.Op {
		case opcode.LogicAnd, opcode.LogicOr, opcode.LogicXor:
		default:
			v.hint(x.R, v.colType(x.L))
			v.hint(x.L, v.colType(x.R))
		}
	case *ast.PatternInExpr:
		t := v.colType(x.Expr)
		for _, e := range x.List {
			v.hint(e, t)
		}
	case *ast.BetweenExpr:
		t := v.colType(x.Expr)
		v.hint(x.Left, t)
		v.hint(x.Right, t)
	case *ast.PatternLikeOrIlikeExpr:
		v.hint(x.Pattern, arrow.BinaryTypes.String)
	case *ast.Limit:
		v.hint(x.Count, arrow.PrimitiveTypes.Int64)
		v.hint(x.Offset, arrow.PrimitiveTypes.Int64)
	}
	return n, false
}

func (v *paramVisitor) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// insertHints types the markers of INSERT ... VALUES by the target columns.
func (v *paramVisitor) insertHints(ctx context.Context, ins *ast.InsertStmt, cat catalog.Catalog, db string) {
	if cat == nil || ins.Table == nil || ins.Table.TableRefs == nil {
		return
	}
	ts, ok := ins.Table.TableRefs.Left.(*ast.TableSource)
	if !ok {
		return
	}
	tn, ok := ts.Source.(*ast.TableName)
	if !ok {
		return
	}
	d, name := planner.SplitTableName(tn, db)
	t, err := cat.Table(ctx, d, name)
	if err != nil {
		return
	}
	sc := t.Schema()
	cols := make([]arrow.DataType, 0, len(sc.Fields()))
	if len(ins.Columns) == 0 {
		for _, f := range sc.Fields() {
			cols = append(cols, f.Type)
		}
	} else {
		for _, c := range ins.Columns {
			var typ arrow.DataType
			for _, f := range sc.Fields() {
				if strings.EqualFold(f.Name, c.Name.O) {
					typ = f.Type
				}
			}
			cols = append(cols, typ)
		}
	}
	for _, row := range ins.Lists {
		for i, e := range row {
			if i < len(cols) {
				v.hint(e, cols[i])
			}
		}
	}
}

// substitute replaces the markers of text by literals (one per param).
func substitute(text string, params []param, lits []string) (string, error) {
	if len(lits) != len(params) {
		return "", fmt.Errorf("statement has %d parameters, %d values given", len(params), len(lits))
	}
	var b strings.Builder
	prev := 0
	for i, p := range params {
		if p.offset < prev || p.offset >= len(text) || text[p.offset] != '?' {
			return "", fmt.Errorf("internal error: parameter %d not found at offset %d", i+1, p.offset)
		}
		b.WriteString(text[prev:p.offset])
		b.WriteString(lits[i])
		prev = p.offset + 1
	}
	b.WriteString(text[prev:])
	out := b.String()
	// Check that the values did not change the statement's structure.
	before, err := sql.Parse(text)
	if err != nil {
		return "", err
	}
	after, err := sql.Parse(out)
	if err != nil {
		return "", fmt.Errorf("statement with parameters bound: %w", err)
	}
	if len(after) != len(before) {
		return "", errors.New("parameter values changed the number of statements")
	}
	pv := &paramVisitor{hints: map[*driver.ParamMarkerExpr]arrow.DataType{}}
	for _, st := range after {
		st.Node.Accept(pv)
	}
	if len(pv.markers) != 0 {
		return "", errors.New("parameter values contain parameter markers")
	}
	return out, nil
}

// zeroLiteral is a harmless value of a parameter's type, bound to describe
// a prepared query's result before real values arrive.
func zeroLiteral(t arrow.DataType) string {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64, arrow.DECIMAL128, arrow.DECIMAL256:
		return "0"
	case arrow.BOOL:
		return "FALSE"
	case arrow.DATE32, arrow.DATE64:
		return "DATE '1970-01-01'"
	case arrow.TIMESTAMP:
		return "TIMESTAMP '1970-01-01 00:00:00'"
	case arrow.TIME32, arrow.TIME64:
		return "TIME '00:00:00'"
	}
	return "''"
}

// quoteString renders a MySQL string literal. Backslash is an escape
// character in MySQL strings, so it is doubled along with the quote.
func quoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			b.WriteString("''")
		case '\\':
			b.WriteString(`\\`)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// literal renders row i of arr as a SQL literal.
func literal(arr arrow.Array, i int) (string, error) {
	if arr.IsNull(i) {
		return "NULL", nil
	}
	switch a := arr.(type) {
	case *array.Null:
		return "NULL", nil
	case *array.Boolean:
		if a.Value(i) {
			return "TRUE", nil
		}
		return "FALSE", nil
	case *array.Int8:
		return strconv.FormatInt(int64(a.Value(i)), 10), nil
	case *array.Int16:
		return strconv.FormatInt(int64(a.Value(i)), 10), nil
	case *array.Int32:
		return strconv.FormatInt(int64(a.Value(i)), 10), nil
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10), nil
	case *array.Uint8:
		return strconv.FormatUint(uint64(a.Value(i)), 10), nil
	case *array.Uint16:
		return strconv.FormatUint(uint64(a.Value(i)), 10), nil
	case *array.Uint32:
		return strconv.FormatUint(uint64(a.Value(i)), 10), nil
	case *array.Uint64:
		return strconv.FormatUint(a.Value(i), 10), nil
	case *array.Float32:
		return floatLiteral(float64(a.Value(i)), 32)
	case *array.Float64:
		return floatLiteral(a.Value(i), 64)
	case *array.Decimal128:
		return a.Value(i).ToString(a.DataType().(*arrow.Decimal128Type).Scale), nil
	case *array.Decimal256:
		return a.Value(i).ToString(a.DataType().(*arrow.Decimal256Type).Scale), nil
	case *array.String:
		return quoteString(a.Value(i)), nil
	case *array.LargeString:
		return quoteString(a.Value(i)), nil
	case *array.StringView:
		return quoteString(a.Value(i)), nil
	case *array.Binary:
		return "X'" + hex.EncodeToString(a.Value(i)) + "'", nil
	case *array.LargeBinary:
		return "X'" + hex.EncodeToString(a.Value(i)) + "'", nil
	case *array.Date32:
		return "DATE '" + a.Value(i).ToTime().Format("2006-01-02") + "'", nil
	case *array.Date64:
		return "DATE '" + a.Value(i).ToTime().Format("2006-01-02") + "'", nil
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		t := a.Value(i).ToTime(unit).UTC()
		return "TIMESTAMP '" + t.Format("2006-01-02 15:04:05.999999") + "'", nil
	case *array.Time32:
		unit := a.DataType().(*arrow.Time32Type).Unit
		return "TIME '" + a.Value(i).ToTime(unit).Format("15:04:05.999999") + "'", nil
	case *array.Time64:
		unit := a.DataType().(*arrow.Time64Type).Unit
		return "TIME '" + a.Value(i).ToTime(unit).Format("15:04:05.999999") + "'", nil
	case *array.DenseUnion:
		child := a.Field(a.ChildID(i))
		return literal(child, int(a.ValueOffset(i)))
	case *array.SparseUnion:
		return literal(a.Field(a.ChildID(i)), i)
	}
	return "", fmt.Errorf("parameters of type %s are not supported", arr.DataType())
}

func floatLiteral(f float64, bits int) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("parameter value %v has no SQL literal", f)
	}
	s := strconv.FormatFloat(f, 'g', -1, bits)
	if !strings.ContainsAny(s, ".e") {
		// Keep it a floating-point literal, not an integer.
		s += ".0"
	}
	return s, nil
}

// rowLiterals renders row i of a parameter batch.
func rowLiterals(rec arrow.RecordBatch, i int) ([]string, error) {
	out := make([]string, rec.NumCols())
	for c := range out {
		l, err := literal(rec.Column(c), i)
		if err != nil {
			return nil, fmt.Errorf("parameter %d: %w", c+1, err)
		}
		out[c] = l
	}
	return out, nil
}
