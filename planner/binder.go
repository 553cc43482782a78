package planner

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/magnetar-sql/magnetar/sql"
	"github.com/pingcap/tidb/pkg/parser/ast"
)

// RunFunc executes an (uncorrelated) subquery plan and returns its rows as
// literals, at most maxRows+1 of them so callers can detect too many rows.
type RunFunc func(ctx context.Context, n Node, maxRows int) ([][]*expr.Literal, error)

// Binder binds one statement to a logical plan.
type Binder struct {
	Ctx     context.Context
	Catalog catalog.Catalog
	// DB is the session's current database.
	DB string
	// Stmt locates errors in the statement text.
	Stmt *sql.Statement
	// Run executes uncorrelated subqueries (scalar, IN lists, EXISTS).
	Run RunFunc

	ctes        []map[string]*cte
	depth       int
	aliasDepth  int
	subCache    map[ast.Node]expr.Expr
	windowSpecs []ast.WindowSpec
	from        int
	lower       string // lower-cased Stmt.Text, for find
}

type cte struct {
	node Node
}

// BindQuery binds a SELECT, set operation or VALUES statement.
func (b *Binder) BindQuery(n ast.ResultSetNode) (node Node, err error) {
	if b.Ctx == nil {
		b.Ctx = context.Background()
	}
	return b.bindResultSet(n, nil)
}

func (b *Binder) bindResultSet(n ast.Node, outer *scope) (Node, error) {
	switch x := n.(type) {
	case *ast.SelectStmt:
		return b.bindSelect(x, outer)
	case *ast.SetOprStmt:
		return b.bindSetOpr(x, outer)
	case *ast.SubqueryExpr:
		return b.bindResultSet(x.Query, outer)
	case *ast.SetOprSelectList:
		return b.bindSetOprList(x, outer)
	}
	return nil, b.errAt("", "unsupported: query of type %T", n)
}

func (b *Binder) pushCTEs(w *ast.WithClause, outer *scope) error {
	m := map[string]*cte{}
	b.ctes = append(b.ctes, m)
	if w == nil {
		return nil
	}
	if w.IsRecursive {
		return b.errAt("recursive", "unsupported: WITH RECURSIVE")
	}
	for _, c := range w.CTEs {
		node, err := b.bindResultSet(c.Query.Query, outer)
		if err != nil {
			return err
		}
		if len(c.ColNameList) > 0 {
			if len(c.ColNameList) != len(node.Schema()) {
				return b.errAt(c.Name.O, "CTE %q has %d columns but %d names", c.Name.O, len(node.Schema()), len(c.ColNameList))
			}
			cols := append([]Col(nil), node.Schema()...)
			for i, n := range c.ColNameList {
				cols[i].Name = n.O
			}
			node = renameCols(node, cols)
		}
		m[c.Name.L] = &cte{node: node}
	}
	return nil
}

func (b *Binder) popCTEs() { b.ctes = b.ctes[:len(b.ctes)-1] }

func (b *Binder) lookupCTE(name string) *cte {
	for i := len(b.ctes) - 1; i >= 0; i-- {
		if c, ok := b.ctes[i][name]; ok {
			return c
		}
	}
	return nil
}

// renameCols puts a projection renaming (and requalifying) the columns.
func renameCols(n Node, cols []Col) Node {
	in := n.Schema()
	exprs := make([]expr.Expr, len(in))
	for i, c := range in {
		exprs[i] = &expr.Column{Index: i, Name: c.Name, T: c.Type}
	}
	return NewProject(n, exprs, cols)
}

// requalify gives all columns of n the qualifier q.
func requalify(n Node, q string) Node {
	cols := append([]Col(nil), n.Schema()...)
	for i := range cols {
		cols[i].Qualifier = q
		cols[i].Hidden = false
	}
	// Projections can be requalified in place (a copy); other nodes get a
	// renaming projection.
	if p, ok := n.(*Project); ok {
		return &Project{Child: p.Child, Exprs: p.Exprs, Cols: cols}
	}
	return renameCols(n, cols)
}

// selectItem is one output column of a SELECT list after `*` expansion.
type selectItem struct {
	ast  ast.ExprNode // nil for a column from `*`
	col  int          // scope column for `*` items
	name string
	qual string
}

func (b *Binder) bindSelect(sel *ast.SelectStmt, outer *scope) (Node, error) {
	if err := b.pushCTEs(sel.With, outer); err != nil {
		b.popCTEs()
		return nil, err
	}
	defer b.popCTEs()
	if sel.Kind == ast.SelectStmtKindValues {
		return b.bindValuesList(sel.Lists, outer)
	}
	if sel.Kind == ast.SelectStmtKindTable {
		return nil, b.errAt("table", "unsupported: TABLE statement")
	}
	if sel.LockInfo != nil && sel.LockInfo.LockType != ast.SelectLockNone {
		return nil, b.errAt("for", "unsupported: SELECT ... FOR UPDATE/SHARE")
	}
	if sel.SelectIntoOpt != nil {
		return nil, b.errAt("into", "unsupported: SELECT ... INTO")
	}
	saved := b.from
	defer func() { b.from = saved }()
	selStart, ok := b.find("select", b.from)
	if !ok {
		selStart = 0
	}
	b.clause(selStart, "from")
	// FROM
	var node Node
	var sc *scope
	var err error
	if sel.From != nil && sel.From.TableRefs != nil {
		node, sc, err = b.bindJoin(sel.From.TableRefs, outer)
		if err != nil {
			return nil, err
		}
	} else {
		node = &Values{Rows: [][]expr.Expr{{}}}
		sc = &scope{}
	}
	sc.outer = outer
	// WHERE
	if sel.Where != nil {
		b.clause(selStart, "where")
		if node, err = b.bindWhere(sel.Where, node, sc); err != nil {
			return nil, err
		}
		sc = &scope{cols: node.Schema(), outer: outer}
	}
	// SELECT list
	b.from = selStart
	items, err := b.expandFields(sel.Fields, sc)
	if err != nil {
		return nil, err
	}
	aliases := map[string]ast.ExprNode{}
	for _, it := range items {
		if it.ast != nil {
			if _, dup := aliases[strings.ToLower(it.name)]; !dup {
				aliases[strings.ToLower(it.name)] = it.ast
			}
		}
	}
	// Aggregation
	var orderItems []*ast.ByItem
	if sel.OrderBy != nil {
		orderItems = sel.OrderBy.Items
	}
	var having ast.ExprNode
	if sel.Having != nil {
		having = sel.Having.Expr
	}
	if sel.GroupBy != nil || hasAggregate(items, having, orderItems) {
		if sel.GroupBy != nil && sel.GroupBy.Rollup {
			return nil, b.errAt("rollup", "unsupported: WITH ROLLUP")
		}
		if sel.GroupBy != nil {
			b.clause(selStart, "group")
		}
		node, sc, err = b.bindAggregate(node, sc, sel.GroupBy, items, having, orderItems, aliases)
		if err != nil {
			return nil, err
		}
		if having != nil {
			b.clause(selStart, "having")
			hs := sc.with()
			hs.aliases = aliases
			pred, err := b.bindExpr(having, hs)
			if err != nil {
				return nil, err
			}
			if pred, err = b.toBool(pred); err != nil {
				return nil, err
			}
			node = &Filter{Child: node, Pred: pred}
		}
	} else if having != nil {
		b.clause(selStart, "having")
		// MySQL allows HAVING without GROUP BY as a filter on the select list.
		hs := sc.with()
		hs.aliases = aliases
		pred, err := b.bindExpr(having, hs)
		if err != nil {
			return nil, err
		}
		if pred, err = b.toBool(pred); err != nil {
			return nil, err
		}
		node = &Filter{Child: node, Pred: pred}
	}
	// Windows
	if hasWindow(items, orderItems) {
		if node, sc, err = b.bindWindows(node, sc, items, orderItems, sel.WindowSpecs); err != nil {
			return nil, err
		}
	}
	// Projection of the select list plus hidden ORDER BY columns.
	b.from = selStart
	exprs := make([]expr.Expr, 0, len(items))
	cols := make([]Col, 0, len(items))
	for _, it := range items {
		var e expr.Expr
		if it.ast == nil {
			if sc.pre != nil {
				// `*` with GROUP BY: each column must be a group key.
				pe := sc.pre.colExpr(it.col)
				i, ok := sc.groupKeys[pe.String()]
				if !ok {
					return nil, b.errAt("*", "column %q must appear in the GROUP BY clause or be used in an aggregate function", it.name)
				}
				e = sc.colExpr(i)
			} else {
				e = sc.colExpr(it.col)
			}
		} else if e, err = b.bindExpr(it.ast, sc); err != nil {
			return nil, err
		}
		exprs = append(exprs, e)
		cols = append(cols, Col{Name: it.name, Qualifier: it.qual})
	}
	visible := len(exprs)
	var keys []SortKey
	if len(orderItems) > 0 {
		b.clause(selStart, "order")
	}
	for _, ob := range orderItems {
		idx, err := b.orderTarget(ob.Expr, items, exprs, sc)
		if err != nil {
			return nil, err
		}
		if idx < 0 {
			e, err := b.bindExpr(ob.Expr, sc)
			if err != nil {
				return nil, err
			}
			idx = len(exprs)
			exprs = append(exprs, e)
			cols = append(cols, Col{Name: fmt.Sprintf("__order%d", idx)})
		}
		keys = append(keys, SortKey{Expr: &expr.Column{Index: idx, Name: cols[idx].Name, T: exprs[idx].Type()}, Desc: ob.Desc, NullsFirst: !ob.Desc})
	}
	node = NewProject(node, exprs, cols)
	if sel.Distinct {
		if len(exprs) > visible {
			return nil, b.errAt("order", "ORDER BY expression is not in the SELECT list, which is required with SELECT DISTINCT")
		}
		node = distinct(node)
	}
	if len(keys) > 0 {
		node = &Sort{Child: node, Keys: keys, Limit: -1}
	}
	if sel.Limit != nil {
		if node, err = b.bindLimit(sel.Limit, node); err != nil {
			return nil, err
		}
	}
	if len(exprs) > visible {
		node = dropHidden(node, visible)
	}
	return node, nil
}

// dropHidden projects away the columns from visible on.
func dropHidden(n Node, visible int) Node {
	in := n.Schema()
	exprs := make([]expr.Expr, visible)
	for i := 0; i < visible; i++ {
		exprs[i] = &expr.Column{Index: i, Name: in[i].Name, T: in[i].Type}
	}
	return NewProject(n, exprs, in[:visible])
}

// distinct groups by every column.
func distinct(n Node) Node {
	in := n.Schema()
	groups := make([]expr.Expr, len(in))
	for i, c := range in {
		groups[i] = &expr.Column{Index: i, Name: c.Name, T: c.Type}
	}
	return &Aggregate{Child: n, Groups: groups, Cols: append([]Col(nil), in...)}
}

// orderTarget finds the select item an ORDER BY expression refers to:
// by position, by alias (select list first, as MySQL does) or by equal
// expression. -1 means none.
func (b *Binder) orderTarget(e ast.ExprNode, items []selectItem, exprs []expr.Expr, sc *scope) (int, error) {
	if p, ok := e.(*ast.PositionExpr); ok {
		if p.P != nil || p.N < 1 || p.N > len(items) {
			return -1, b.errAt(fmt.Sprint(p.N), "ORDER BY position %d is not in the select list (1..%d)", p.N, len(items))
		}
		return p.N - 1, nil
	}
	if v, ok := e.(ast.ValueExpr); ok {
		lit, err := b.literal(v)
		if err != nil {
			return -1, err
		}
		if n, ok := lit.(*expr.Literal).Value.(int64); ok {
			if n < 1 || int(n) > len(items) {
				return -1, b.errAt(fmt.Sprint(n), "ORDER BY position %d is not in the select list (1..%d)", n, len(items))
			}
			return int(n - 1), nil
		}
		return -1, nil
	}
	if cn, ok := e.(*ast.ColumnNameExpr); ok && cn.Name.Table.L == "" {
		found := -1
		for i, it := range items {
			if it.ast != nil && strings.EqualFold(it.name, cn.Name.Name.O) {
				if found >= 0 && restore(items[found].ast) != restore(it.ast) {
					return -1, b.errAt(cn.Name.Name.O, "ambiguous column %q in ORDER BY", cn.Name.Name.O)
				}
				if found < 0 {
					found = i
				}
			}
		}
		if found >= 0 {
			return found, nil
		}
	}
	bound, err := b.bindExpr(e, sc)
	if err != nil {
		return -1, nil // the caller binds again and reports the error
	}
	s := bound.String()
	for i := range items {
		if exprs[i].String() == s {
			return i, nil
		}
	}
	return -1, nil
}

func (b *Binder) bindLimit(l *ast.Limit, node Node) (Node, error) {
	get := func(e ast.ExprNode, what string) (int64, error) {
		if e == nil {
			return 0, nil
		}
		v, ok := e.(ast.ValueExpr)
		if !ok {
			return 0, b.errAt("limit", "%s must be a non-negative integer constant", what)
		}
		lit, err := b.literal(v)
		if err != nil {
			return 0, err
		}
		switch n := lit.(*expr.Literal).Value.(type) {
		case int64:
			if n >= 0 {
				return n, nil
			}
		case uint64:
			if n > 1<<62 {
				return 1 << 62, nil
			}
			return int64(n), nil
		}
		return 0, b.errAt("limit", "%s must be a non-negative integer constant", what)
	}
	count, err := get(l.Count, "LIMIT")
	if err != nil {
		return nil, err
	}
	off, err := get(l.Offset, "OFFSET")
	if err != nil {
		return nil, err
	}
	if l.Count == nil {
		count = -1
	}
	return &Limit{Child: node, Offset: off, Count: count}, nil
}

// expandFields expands `*` and `t.*` and names every select item.
func (b *Binder) expandFields(fl *ast.FieldList, sc *scope) ([]selectItem, error) {
	var items []selectItem
	if fl == nil {
		return nil, b.errAt("select", "empty select list")
	}
	for _, f := range fl.Fields {
		if f.WildCard != nil {
			q := f.WildCard.Table.L
			if q != "" && !sc.hasQualifier(q) {
				return nil, b.errAt(f.WildCard.Table.O, "unknown table %q", f.WildCard.Table.O)
			}
			n := 0
			for i, c := range sc.cols {
				// `*` skips hidden columns; `t.*` lists all of t's.
				if c.System || (q == "" && c.Hidden) || (q != "" && !strings.EqualFold(c.Qualifier, q)) {
					continue
				}
				items = append(items, selectItem{col: i, name: c.Name, qual: c.Qualifier})
				n++
			}
			if n == 0 && q == "" {
				return nil, b.errAt("*", "SELECT * without tables")
			}
			continue
		}
		it := selectItem{ast: f.Expr}
		switch {
		case f.AsName.O != "":
			it.name = f.AsName.O
		default:
			if cn, ok := f.Expr.(*ast.ColumnNameExpr); ok {
				it.name = cn.Name.Name.O
				it.qual = cn.Name.Table.O
				if i, err := sc.lookup(cn.Name); err == nil && i >= 0 {
					it.name = sc.cols[i].Name
					it.qual = sc.cols[i].Qualifier
				}
			} else if t := strings.TrimSpace(f.Text()); t != "" {
				it.name = t
			} else {
				it.name = restore(f.Expr)
			}
		}
		items = append(items, it)
	}
	return items, nil
}

// toBool makes a predicate BOOLEAN, as MySQL treats numbers as truth
// values (0 false, non-zero true).
func (b *Binder) toBool(e expr.Expr) (expr.Expr, error) {
	switch e.Type().ID() {
	case arrow.BOOL:
		return e, nil
	case arrow.NULL:
		return &expr.Literal{T: arrow.FixedWidthTypes.Boolean}, nil
	}
	c, err := expr.NewCast(e, arrow.FixedWidthTypes.Boolean)
	if err != nil {
		return nil, b.wrapExprErr("where", err)
	}
	return c, nil
}

// bindValuesList binds VALUES ROW(...), ... (and INSERT rows) into a
// Values node with columns column_0, column_1, ... as MySQL names them.
func (b *Binder) bindValuesList(rows []*ast.RowExpr, outer *scope) (Node, error) {
	lists := make([][]ast.ExprNode, len(rows))
	for i, r := range rows {
		lists[i] = r.Values
	}
	return b.bindValues(lists, outer)
}

func (b *Binder) bindValues(lists [][]ast.ExprNode, outer *scope) (Node, error) {
	if len(lists) == 0 {
		return nil, b.errAt("values", "VALUES needs at least one row")
	}
	width := len(lists[0])
	sc := &scope{outer: outer}
	rows := make([][]expr.Expr, len(lists))
	types := make([]arrow.DataType, width)
	for i, l := range lists {
		if len(l) != width {
			return nil, b.errAt("values", "VALUES row %d has %d columns, row 1 has %d", i+1, len(l), width)
		}
		rows[i] = make([]expr.Expr, width)
		for j, e := range l {
			be, err := b.bindExpr(e, sc)
			if err != nil {
				return nil, err
			}
			rows[i][j] = be
			types[j] = CommonType(types[j], be.Type())
		}
	}
	cols := make([]Col, width)
	for j := range cols {
		t := types[j]
		if t == nil {
			t = arrow.Null
		}
		cols[j] = Col{Name: fmt.Sprintf("column_%d", j), Type: t}
		for i := range rows {
			c, err := coerce(rows[i][j], t)
			if err != nil {
				return nil, b.wrapExprErr("values", err)
			}
			rows[i][j] = c
		}
	}
	return &Values{Rows: rows, Cols: cols}, nil
}

func (b *Binder) bindSetOpr(s *ast.SetOprStmt, outer *scope) (Node, error) {
	if err := b.pushCTEs(s.With, outer); err != nil {
		b.popCTEs()
		return nil, err
	}
	defer b.popCTEs()
	node, err := b.bindSetOprList(s.SelectList, outer)
	if err != nil {
		return nil, err
	}
	if s.OrderBy != nil {
		if node, err = b.orderByOutput(node, s.OrderBy.Items); err != nil {
			return nil, err
		}
	}
	if s.Limit != nil {
		if node, err = b.bindLimit(s.Limit, node); err != nil {
			return nil, err
		}
	}
	return node, nil
}

// orderByOutput sorts a set operation's output by names or positions.
func (b *Binder) orderByOutput(node Node, items []*ast.ByItem) (Node, error) {
	sc := &scope{cols: node.Schema()}
	var keys []SortKey
	for _, ob := range items {
		var e expr.Expr
		if p, ok := ob.Expr.(*ast.PositionExpr); ok {
			if p.P != nil || p.N < 1 || p.N > len(sc.cols) {
				return nil, b.errAt(fmt.Sprint(p.N), "ORDER BY position %d is not in the select list (1..%d)", p.N, len(sc.cols))
			}
			e = sc.colExpr(p.N - 1)
		} else if v, ok := ob.Expr.(ast.ValueExpr); ok {
			lit, err := b.literal(v)
			if err != nil {
				return nil, err
			}
			n, ok := lit.(*expr.Literal).Value.(int64)
			if !ok || n < 1 || int(n) > len(sc.cols) {
				return nil, b.errAt("order", "ORDER BY position is not in the select list")
			}
			e = sc.colExpr(int(n - 1))
		} else {
			be, err := b.bindExpr(ob.Expr, sc)
			if err != nil {
				return nil, err
			}
			e = be
		}
		keys = append(keys, SortKey{Expr: e, Desc: ob.Desc, NullsFirst: !ob.Desc})
	}
	return &Sort{Child: node, Keys: keys, Limit: -1}, nil
}

func (b *Binder) bindSetOprList(l *ast.SetOprSelectList, outer *scope) (Node, error) {
	if l.With != nil {
		if err := b.pushCTEs(l.With, outer); err != nil {
			b.popCTEs()
			return nil, err
		}
		defer b.popCTEs()
	}
	var acc Node
	for i, s := range l.Selects {
		n, err := b.bindResultSet(s, outer)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			acc = n
			continue
		}
		op := ast.UnionAll
		switch x := s.(type) {
		case *ast.SelectStmt:
			if x.AfterSetOperator != nil {
				op = *x.AfterSetOperator
			}
		case *ast.SetOprSelectList:
			if x.AfterSetOperator != nil {
				op = *x.AfterSetOperator
			}
		}
		if op != ast.Union && op != ast.UnionAll {
			return nil, b.errAt(strings.Fields(op.String())[0], "unsupported: %s", op.String())
		}
		if acc, err = b.union(acc, n); err != nil {
			return nil, err
		}
		if op == ast.Union {
			acc = distinct(acc)
		}
	}
	if l.Limit != nil || l.OrderBy != nil {
		var err error
		if l.OrderBy != nil {
			if acc, err = b.orderByOutput(acc, l.OrderBy.Items); err != nil {
				return nil, err
			}
		}
		if l.Limit != nil {
			if acc, err = b.bindLimit(l.Limit, acc); err != nil {
				return nil, err
			}
		}
	}
	return acc, nil
}

// union concatenates a and b (flattening nested unions), casting columns
// to common types; names come from a.
func (b *Binder) union(a, c Node) (Node, error) {
	as, cs := a.Schema(), c.Schema()
	if len(as) != len(cs) {
		return nil, b.errAt("union", "the SELECTs of a UNION have different numbers of columns (%d and %d)", len(as), len(cs))
	}
	var inputs []Node
	if u, ok := a.(*Union); ok {
		inputs = append(inputs, u.Inputs...)
	} else {
		inputs = append(inputs, a)
	}
	inputs = append(inputs, c)
	cols := make([]Col, len(as))
	for i := range as {
		t := arrow.DataType(arrow.Null)
		for _, in := range inputs {
			t = CommonType(t, in.Schema()[i].Type)
		}
		cols[i] = Col{Name: as[i].Name, Type: t, Metadata: as[i].Metadata}
	}
	for k, in := range inputs {
		s := in.Schema()
		same := true
		for i := range s {
			if !arrow.TypeEqual(s[i].Type, cols[i].Type) {
				same = false
			}
		}
		if same {
			continue
		}
		exprs := make([]expr.Expr, len(s))
		for i := range s {
			e, err := coerce(&expr.Column{Index: i, Name: s[i].Name, T: s[i].Type}, cols[i].Type)
			if err != nil {
				return nil, b.wrapExprErr("union", err)
			}
			exprs[i] = e
		}
		inputs[k] = NewProject(in, exprs, s)
	}
	return &Union{Inputs: inputs, Cols: cols}, nil
}

var _ = exec.InnerJoin

// BindValues binds the rows of INSERT ... VALUES.
func (b *Binder) BindValues(lists [][]ast.ExprNode) (Node, error) {
	if b.Ctx == nil {
		b.Ctx = context.Background()
	}
	return b.bindValues(lists, nil)
}
