package planner

import (
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/magnetar-sql/magnetar/sql"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	driver "github.com/pingcap/tidb/pkg/parser/test_driver"
)

var binaryOps = map[opcode.Op]string{
	opcode.LogicAnd: "and", opcode.LogicOr: "or", opcode.LogicXor: "xor",
	opcode.GE: ">=", opcode.LE: "<=", opcode.EQ: "=", opcode.NE: "<>", opcode.LT: "<", opcode.GT: ">",
	opcode.NullEQ: "<=>", opcode.Plus: "+", opcode.Minus: "-", opcode.Mul: "*", opcode.Div: "/",
	opcode.IntDiv: "div", opcode.Mod: "%", opcode.And: "&", opcode.Or: "|", opcode.Xor: "^",
	opcode.LeftShift: "<<", opcode.RightShift: ">>",
}

// restore renders an AST node back to SQL text (for names and errors).
func restore(n ast.Node) string {
	var b strings.Builder
	flags := format.RestoreStringSingleQuotes | format.RestoreKeyWordUppercase | format.RestoreStringEscapeBackslash
	if err := n.Restore(format.NewRestoreCtx(flags, &b)); err != nil {
		return fmt.Sprintf("%T", n)
	}
	return b.String()
}

// wrapExprErr locates an error from the expr package at the function name.
func (b *Binder) wrapExprErr(ident string, err error) error {
	var se *sql.Error
	if errors.As(err, &se) {
		return err
	}
	return b.errAt(ident, "%s", err.Error())
}

func (b *Binder) call(ident, name string, args ...expr.Expr) (expr.Expr, error) {
	e, err := expr.NewCall(name, args...)
	if err != nil {
		return nil, b.wrapExprErr(ident, err)
	}
	return e, nil
}

// Version is what VERSION() and @@version answer: a MySQL version clients
// accept, tagged as Magnetar.
const Version = "8.0.36-magnetar"

// maxDepth bounds expression nesting (long OR chains nest one level per
// term), keeping recursion far from Go's stack limit.
const maxDepth = 4000

// bindExpr binds an AST expression in scope sc.
func (b *Binder) bindExpr(n ast.ExprNode, sc *scope) (expr.Expr, error) {
	b.depth++
	defer func() { b.depth-- }()
	if b.depth > maxDepth {
		return nil, b.errAt("", "expression nested too deeply")
	}
	// After aggregation, whole sub-expressions that are group keys map to
	// the aggregate's output.
	if sc.pre != nil {
		switch n.(type) {
		case ast.ValueExpr, *ast.AggregateFuncExpr, *ast.WindowFuncExpr, *ast.ParenthesesExpr:
		default:
			if e, err := b.bindExpr(n, sc.pre); err == nil {
				if i, ok := sc.groupKeys[e.String()]; ok {
					return sc.colExpr(i), nil
				}
				if isConstant(e) {
					return e, nil
				}
			}
		}
	}
	switch x := n.(type) {
	case ast.ValueExpr:
		return b.literal(x)
	case *ast.ParenthesesExpr:
		return b.bindExpr(x.Expr, sc)
	case *ast.PositionExpr:
		// Outside GROUP BY / ORDER BY of a query (e.g. a window's ORDER BY
		// 1) a number is just a constant.
		if x.P != nil {
			return b.bindExpr(x.P, sc)
		}
		return expr.Lit(int64(x.N)), nil
	case *ast.ColumnNameExpr:
		return b.bindColumn(x.Name, sc)
	case *ast.BinaryOperationExpr:
		op, ok := binaryOps[x.Op]
		if !ok {
			return nil, b.errAt("", "unsupported: operator %s", x.Op)
		}
		l, err := b.bindExpr(x.L, sc)
		if err != nil {
			return nil, err
		}
		r, err := b.bindExpr(x.R, sc)
		if err != nil {
			return nil, err
		}
		return b.call(x.Op.String(), op, l, r)
	case *ast.UnaryOperationExpr:
		v, err := b.bindExpr(x.V, sc)
		if err != nil {
			return nil, err
		}
		switch x.Op {
		case opcode.Minus:
			if l, ok := v.(*expr.Literal); ok {
				if neg, ok := negateLiteral(l); ok {
					return neg, nil
				}
			}
			return b.call("-", "neg", v)
		case opcode.Plus:
			return v, nil
		case opcode.Not, opcode.Not2:
			return b.call("not", "not", v)
		case opcode.BitNeg:
			return b.call("~", "~", v)
		}
		return nil, b.errAt("", "unsupported: unary operator %s", x.Op)
	case *ast.IsNullExpr:
		v, err := b.bindExpr(x.Expr, sc)
		if err != nil {
			return nil, err
		}
		if x.Not {
			return b.call("null", "is_not_null", v)
		}
		return b.call("null", "is_null", v)
	case *ast.IsTruthExpr:
		v, err := b.bindExpr(x.Expr, sc)
		if err != nil {
			return nil, err
		}
		fn := "is_true"
		if x.True == 0 {
			fn = "is_false"
		}
		e, err := b.call("is", fn, v)
		if err != nil || !x.Not {
			return e, err
		}
		return b.call("is", "not", e)
	case *ast.BetweenExpr:
		v, err := b.bindExpr(x.Expr, sc)
		if err != nil {
			return nil, err
		}
		lo, err := b.bindExpr(x.Left, sc)
		if err != nil {
			return nil, err
		}
		hi, err := b.bindExpr(x.Right, sc)
		if err != nil {
			return nil, err
		}
		ge, err := b.call("between", ">=", v, lo)
		if err != nil {
			return nil, err
		}
		le, err := b.call("between", "<=", v, hi)
		if err != nil {
			return nil, err
		}
		and, err := b.call("between", "and", ge, le)
		if err != nil || !x.Not {
			return and, err
		}
		return b.call("between", "not", and)
	case *ast.PatternLikeOrIlikeExpr:
		v, err := b.bindExpr(x.Expr, sc)
		if err != nil {
			return nil, err
		}
		p, err := b.bindExpr(x.Pattern, sc)
		if err != nil {
			return nil, err
		}
		if x.Escape != '\\' && x.Escape != 0 {
			return nil, b.errAt("escape", "unsupported: LIKE ... ESCAPE other than backslash")
		}
		if !x.IsLike {
			if v, err = b.call("ilike", "lower", v); err != nil {
				return nil, err
			}
			if p, err = b.call("ilike", "lower", p); err != nil {
				return nil, err
			}
		}
		fn := "like"
		if x.Not {
			fn = "not_like"
		}
		return b.call("like", fn, v, p)
	case *ast.PatternRegexpExpr:
		v, err := b.bindExpr(x.Expr, sc)
		if err != nil {
			return nil, err
		}
		p, err := b.bindExpr(x.Pattern, sc)
		if err != nil {
			return nil, err
		}
		e, err := b.call("regexp", "regexp", v, p)
		if err != nil || !x.Not {
			return e, err
		}
		return b.call("regexp", "not", e)
	case *ast.PatternInExpr:
		return b.bindIn(x, sc)
	case *ast.CaseExpr:
		return b.bindCase(x, sc)
	case *ast.FuncCallExpr:
		return b.bindFunc(x, sc)
	case *ast.FuncCastExpr:
		v, err := b.bindExpr(x.Expr, sc)
		if err != nil {
			return nil, err
		}
		t, md, err := ArrowType(x.Tp)
		if err != nil {
			return nil, b.errAt("cast", "%s", err.Error())
		}
		_ = md
		e, err := expr.NewCast(v, t)
		if err != nil {
			return nil, b.wrapExprErr("cast", err)
		}
		return e, nil
	case *ast.AggregateFuncExpr:
		if sc.aggKeys != nil {
			key, err := b.aggKey(x, sc.pre)
			if err != nil {
				return nil, err
			}
			if i, ok := sc.aggKeys[key]; ok {
				return sc.colExpr(i), nil
			}
		}
		return nil, b.errAt(x.F, "aggregate function %s is not allowed here", strings.ToUpper(x.F))
	case *ast.WindowFuncExpr:
		if sc.winKeys != nil {
			key, err := b.windowKey(x, sc)
			if err != nil {
				return nil, err
			}
			if i, ok := sc.winKeys[key]; ok {
				return sc.colExpr(i), nil
			}
		}
		return nil, b.errAt(x.Name, "window function %s is not allowed here", strings.ToUpper(x.Name))
	case *ast.SubqueryExpr:
		return b.scalarSubquery(x, sc)
	case *ast.ExistsSubqueryExpr:
		sub, ok := x.Sel.(*ast.SubqueryExpr)
		if !ok {
			return nil, b.errAt("exists", "unsupported: EXISTS over %T", x.Sel)
		}
		return b.existsConst(sub, x.Not, sc)
	case *ast.CompareSubqueryExpr:
		return b.compareSubquery(x, sc)
	case *ast.RowExpr:
		return nil, b.errAt("row", "unsupported: row constructors")
	case *ast.VariableExpr:
		if x.IsSystem && x.Value == nil {
			switch strings.ToLower(x.Name) {
			case "version":
				return expr.Lit(Version), nil
			case "version_comment":
				return expr.Lit("Magnetar streaming SQL"), nil
			}
		}
		return nil, b.errAt("@"+x.Name, "unsupported: variables (@%s)", x.Name)
	case *ast.DefaultExpr:
		return nil, b.errAt("default", "unsupported: DEFAULT in expressions")
	case *ast.TimeUnitExpr:
		return nil, b.errAt("interval", "unsupported: INTERVAL outside DATE_ADD/DATE_SUB")
	case *ast.SetCollationExpr:
		return b.bindExpr(x.Expr, sc)
	}
	return nil, b.errAt("", "unsupported: expression %s", restore(n))
}

func isConstant(e expr.Expr) bool {
	_, ok := e.(*expr.Literal)
	return ok
}

// bindColumn resolves a column reference, trying outer scopes for
// correlated subqueries.
func (b *Binder) bindColumn(cn *ast.ColumnName, sc *scope) (expr.Expr, error) {
	if sc.pre != nil {
		if i := windowColumn(cn, sc); i >= 0 {
			return sc.colExpr(i), nil
		}
		// A column after aggregation must be a group key or the argument
		// of an aggregate; HAVING may also name a select-list alias.
		e, err := b.bindColumn(cn, sc.pre)
		if err == nil {
			if i, ok := sc.groupKeys[e.String()]; ok {
				return sc.colExpr(i), nil
			}
			return nil, b.errAt(cn.Name.O, "column %q must appear in the GROUP BY clause or be used in an aggregate function", cn.OrigColName())
		}
		if alias, ok := sc.aliases[cn.Name.L]; ok && cn.Table.L == "" && b.aliasDepth < 4 {
			b.aliasDepth++
			defer func() { b.aliasDepth-- }()
			return b.bindExpr(alias, sc)
		}
		return nil, err
	}
	i, lerr := sc.lookup(cn)
	if lerr != nil {
		return nil, b.errAt(lerr.ident, "%s", lerr.msg)
	}
	if i >= 0 {
		return sc.colExpr(i), nil
	}
	// Select-list aliases (GROUP BY, HAVING) after the FROM columns.
	if cn.Table.L == "" && sc.aliases != nil {
		if alias, ok := sc.aliases[cn.Name.L]; ok && b.aliasDepth < 4 {
			b.aliasDepth++
			defer func() { b.aliasDepth-- }()
			return b.bindExpr(alias, sc)
		}
	}
	// Outer query columns.
	for o, depth := sc.outer, 1; o != nil; o, depth = o.outer, depth+1 {
		j, lerr := o.lookup(cn)
		if lerr != nil {
			return nil, b.errAt(lerr.ident, "%s", lerr.msg)
		}
		if j < 0 {
			continue
		}
		if sc.corr == nil || depth > 1 {
			return nil, b.errAt(cn.Name.O, "unsupported: correlated subquery (reference to outer column %q); only [NOT] EXISTS and IN subqueries in WHERE may be correlated", cn.OrigColName())
		}
		sc.corr.used = true
		c := o.cols[j]
		return &expr.Column{Index: len(sc.cols) + j, Name: c.Name, T: c.Type}, nil
	}
	if cn.Table.L != "" && !sc.hasQualifier(cn.Table.L) {
		return nil, b.errAt(cn.Table.O, "unknown table %q in column reference %q", cn.Table.O, cn.OrigColName())
	}
	e := b.errAt(cn.Name.O, "unknown column %q", cn.OrigColName()).(*sql.Error)
	if s := sc.suggest(cn.Name.O); s != "" {
		e.Hint = fmt.Sprintf("did you mean %q?", s)
	}
	return nil, e
}

func (b *Binder) literal(v ast.ValueExpr) (expr.Expr, error) {
	ve, ok := v.(*driver.ValueExpr)
	if !ok {
		return nil, b.errAt("", "unsupported: literal %T", v)
	}
	d := &ve.Datum
	switch d.Kind() {
	case driver.KindNull:
		return expr.Null(), nil
	case driver.KindInt64:
		if mysql.HasIsBooleanFlag(ve.Type.GetFlag()) {
			return &expr.Literal{Value: d.GetInt64() != 0, T: arrow.FixedWidthTypes.Boolean}, nil
		}
		return &expr.Literal{Value: d.GetInt64(), T: arrow.PrimitiveTypes.Int64}, nil
	case driver.KindUint64:
		return &expr.Literal{Value: d.GetUint64(), T: arrow.PrimitiveTypes.Uint64}, nil
	case driver.KindFloat32, driver.KindFloat64:
		return &expr.Literal{Value: d.GetFloat64(), T: arrow.PrimitiveTypes.Float64}, nil
	case driver.KindString:
		return &expr.Literal{Value: d.GetString(), T: arrow.BinaryTypes.String}, nil
	case driver.KindBytes:
		return &expr.Literal{Value: d.GetBytes(), T: arrow.BinaryTypes.Binary}, nil
	case driver.KindBinaryLiteral, driver.KindMysqlBit:
		return &expr.Literal{Value: string(d.GetBytes()), T: arrow.BinaryTypes.String}, nil
	case driver.KindMysqlDecimal:
		return decimalLiteral(d.GetMysqlDecimal().String())
	}
	return nil, b.errAt("", "unsupported: literal of kind %d", d.Kind())
}

// decimalLiteral types a literal like 12.50 as DECIMAL(4,2), as MySQL does.
func decimalLiteral(s string) (expr.Expr, error) {
	digits := strings.TrimLeft(strings.TrimPrefix(s, "-"), "0")
	scale := 0
	if i := strings.IndexByte(digits, '.'); i >= 0 {
		scale = len(digits) - i - 1
		digits = digits[:i] + digits[i+1:]
	}
	prec := len(strings.TrimLeft(digits, "0"))
	if prec < scale {
		prec = scale
	}
	if prec == 0 {
		prec = 1
	}
	if prec > 38 {
		// Too wide for DECIMAL128: fall back to DOUBLE like MySQL does for
		// literals beyond 65 digits.
		var f float64
		if _, err := fmt.Sscan(s, &f); err != nil {
			return nil, fmt.Errorf("invalid number %s", s)
		}
		return &expr.Literal{Value: f, T: arrow.PrimitiveTypes.Float64}, nil
	}
	n, err := decimal128.FromString(s, int32(prec), int32(scale))
	if err != nil {
		return nil, fmt.Errorf("invalid decimal %s: %w", s, err)
	}
	return &expr.Literal{Value: n, T: &arrow.Decimal128Type{Precision: int32(prec), Scale: int32(scale)}}, nil
}

func negateLiteral(l *expr.Literal) (*expr.Literal, bool) {
	switch v := l.Value.(type) {
	case int64:
		if v == -v && v != 0 {
			return nil, false
		}
		return &expr.Literal{Value: -v, T: l.T}, true
	case float64:
		return &expr.Literal{Value: -v, T: l.T}, true
	case decimal128.Num:
		return &expr.Literal{Value: v.Negate(), T: l.T}, true
	case uint64:
		if v == 1<<63 {
			return &expr.Literal{Value: int64(-1 << 63), T: arrow.PrimitiveTypes.Int64}, true
		}
	}
	return nil, false
}

func (b *Binder) bindCase(x *ast.CaseExpr, sc *scope) (expr.Expr, error) {
	var val expr.Expr
	var err error
	if x.Value != nil {
		if val, err = b.bindExpr(x.Value, sc); err != nil {
			return nil, err
		}
	}
	whens := make([]expr.When, 0, len(x.WhenClauses))
	for _, w := range x.WhenClauses {
		c, err := b.bindExpr(w.Expr, sc)
		if err != nil {
			return nil, err
		}
		if val != nil {
			if c, err = b.call("case", "=", val, c); err != nil {
				return nil, err
			}
		}
		t, err := b.bindExpr(w.Result, sc)
		if err != nil {
			return nil, err
		}
		whens = append(whens, expr.When{Cond: c, Then: t})
	}
	var els expr.Expr
	if x.ElseClause != nil {
		if els, err = b.bindExpr(x.ElseClause, sc); err != nil {
			return nil, err
		}
	}
	e, err := expr.NewCase(whens, els)
	if err != nil {
		return nil, b.wrapExprErr("case", err)
	}
	return e, nil
}

func (b *Binder) bindIn(x *ast.PatternInExpr, sc *scope) (expr.Expr, error) {
	v, err := b.bindExpr(x.Expr, sc)
	if err != nil {
		return nil, err
	}
	if x.Sel != nil {
		sub, ok := x.Sel.(*ast.SubqueryExpr)
		if !ok {
			return nil, b.errAt("in", "unsupported: IN over %T", x.Sel)
		}
		list, err := b.subqueryList(sub, sc)
		if err != nil {
			return nil, err
		}
		return b.inList(v, list, x.Not)
	}
	list := make([]expr.Expr, len(x.List))
	for i, item := range x.List {
		if list[i], err = b.bindExpr(item, sc); err != nil {
			return nil, err
		}
	}
	return b.inList(v, list, x.Not)
}

// inList builds v IN (list) with v and the items coerced to one type.
func (b *Binder) inList(v expr.Expr, list []expr.Expr, not bool) (expr.Expr, error) {
	if len(list) == 0 {
		// Only reachable from an empty subquery: IN () is FALSE, NOT IN () TRUE.
		return &expr.Literal{Value: not, T: arrow.FixedWidthTypes.Boolean}, nil
	}
	t := v.Type()
	for _, e := range list {
		t = CommonType(t, e.Type())
	}
	if t.ID() == arrow.NULL {
		return &expr.Literal{T: arrow.FixedWidthTypes.Boolean}, nil
	}
	// Comparing numbers with strings compares as DOUBLE in MySQL.
	if t.ID() == arrow.STRING && !isStringish(v.Type()) {
		t = arrow.PrimitiveTypes.Float64
	}
	var err error
	if v, err = coerce(v, t); err != nil {
		return nil, b.wrapExprErr("in", err)
	}
	out := make([]expr.Expr, len(list))
	for i, e := range list {
		if out[i], err = coerce(e, t); err != nil {
			return nil, b.wrapExprErr("in", err)
		}
	}
	return &expr.InList{Arg: v, List: out, Not: not}, nil
}

func isStringish(t arrow.DataType) bool {
	return t.ID() == arrow.STRING || t.ID() == arrow.BINARY || t.ID() == arrow.NULL
}

func (b *Binder) bindFunc(x *ast.FuncCallExpr, sc *scope) (expr.Expr, error) {
	name := x.FnName.L
	ident := x.FnName.O
	switch name {
	case "date_add", "date_sub", "adddate", "subdate":
		if len(x.Args) == 3 {
			if u, ok := x.Args[2].(*ast.TimeUnitExpr); ok {
				return b.bindInterval(x, u.Unit, sc)
			}
		}
	case "extract", "timestampdiff", "timestampadd":
		args := make([]expr.Expr, len(x.Args))
		for i, a := range x.Args {
			if u, ok := a.(*ast.TimeUnitExpr); ok {
				args[i] = expr.Lit(u.Unit.String())
				continue
			}
			e, err := b.bindExpr(a, sc)
			if err != nil {
				return nil, err
			}
			args[i] = e
		}
		return b.call(ident, name, args...)
	case "trim":
		return b.bindTrim(x, sc)
	case "current_timestamp", "localtime", "localtimestamp", "sysdate":
		name = "now"
	case "current_date":
		name = "curdate"
	case "current_time":
		name = "curtime"
	case "database", "schema":
		if len(x.Args) == 0 {
			return expr.Lit(b.DB), nil
		}
	case "version":
		if len(x.Args) == 0 {
			return expr.Lit(Version), nil
		}
	case "row_number", "rank", "dense_rank", "lag", "lead":
		return nil, b.errAt(ident, "window function %s requires an OVER clause", strings.ToUpper(name))
	}
	args := make([]expr.Expr, 0, len(x.Args))
	for _, a := range x.Args {
		if _, ok := a.(*ast.TimeUnitExpr); ok {
			return nil, b.errAt(ident, "unsupported: INTERVAL argument to %s", ident)
		}
		e, err := b.bindExpr(a, sc)
		if err != nil {
			return nil, err
		}
		args = append(args, e)
	}
	return b.call(ident, name, args...)
}

// bindInterval binds DATE_ADD(t, INTERVAL n UNIT) and friends as the expr
// package's date_add(t, n, 'UNIT') / date_sub(t, n, 'UNIT').
func (b *Binder) bindInterval(x *ast.FuncCallExpr, unit ast.TimeUnitType, sc *scope) (expr.Expr, error) {
	t, err := b.bindExpr(x.Args[0], sc)
	if err != nil {
		return nil, err
	}
	n, err := b.bindExpr(x.Args[1], sc)
	if err != nil {
		return nil, err
	}
	fn := "date_add"
	if x.FnName.L == "date_sub" || x.FnName.L == "subdate" {
		fn = "date_sub"
	}
	return b.call(x.FnName.O, fn, t, n, expr.Lit(unit.String()))
}

func (b *Binder) bindTrim(x *ast.FuncCallExpr, sc *scope) (expr.Expr, error) {
	dir := ast.TrimBothDefault
	var args []expr.Expr
	for _, a := range x.Args {
		if d, ok := a.(*ast.TrimDirectionExpr); ok {
			dir = d.Direction
			continue
		}
		e, err := b.bindExpr(a, sc)
		if err != nil {
			return nil, err
		}
		args = append(args, e)
	}
	if dir != ast.TrimBothDefault {
		if len(args) == 1 {
			args = append(args, expr.Lit(" "))
		}
		args = append(args, expr.Lit(dir.String()))
	}
	return b.call(x.FnName.O, "trim", args...)
}
