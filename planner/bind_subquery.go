package planner

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"
)

// maxInList caps how many rows an IN (subquery) folded into a literal list
// may have.
const maxInList = 100_000

// splitAND splits an AST predicate on AND.
func splitAND(e ast.ExprNode) []ast.ExprNode {
	switch x := e.(type) {
	case *ast.BinaryOperationExpr:
		if x.Op == opcode.LogicAnd {
			return append(splitAND(x.L), splitAND(x.R)...)
		}
	case *ast.ParenthesesExpr:
		if inner := splitAND(x.Expr); len(inner) > 1 {
			return inner
		}
	}
	return []ast.ExprNode{e}
}

func unparen(e ast.ExprNode) ast.ExprNode {
	for {
		p, ok := e.(*ast.ParenthesesExpr)
		if !ok {
			return e
		}
		e = p.Expr
	}
}

// bindWhere plans WHERE: top-level [NOT] EXISTS and IN (subquery)
// conjuncts become semi/anti joins (correlated ones decorrelated on their
// WHERE conjuncts), the rest a Filter.
func (b *Binder) bindWhere(where ast.ExprNode, node Node, sc *scope) (Node, error) {
	var preds []expr.Expr
	for _, c := range splitAND(where) {
		c = unparen(c)
		not := false
		if u, ok := c.(*ast.UnaryOperationExpr); ok && (u.Op == opcode.Not || u.Op == opcode.Not2) {
			if ex, ok := unparen(u.V).(*ast.ExistsSubqueryExpr); ok {
				c, not = ex, !ex.Not
				ex.Not = false
			}
		}
		switch x := c.(type) {
		case *ast.ExistsSubqueryExpr:
			if sub, ok := x.Sel.(*ast.SubqueryExpr); ok {
				n, done, err := b.semiJoin(node, sc, sub, nil, x.Not || not)
				if err != nil {
					return nil, err
				}
				if done {
					node = n
					continue
				}
			}
		case *ast.PatternInExpr:
			if sub, ok := x.Sel.(*ast.SubqueryExpr); ok && !x.Not {
				n, done, err := b.semiJoin(node, sc, sub, x.Expr, false)
				if err != nil {
					return nil, err
				}
				if done {
					node = n
					continue
				}
			}
		}
		e, err := b.bindExpr(c, sc)
		if err != nil {
			return nil, err
		}
		if not {
			if e, err = b.call("not", "not", e); err != nil {
				return nil, err
			}
		}
		if e, err = b.toBool(e); err != nil {
			return nil, err
		}
		preds = append(preds, e)
	}
	if len(preds) > 0 {
		node = &Filter{Child: node, Pred: andAll(preds)}
	}
	return node, nil
}

// simpleSelect reports whether q can be decorrelated by moving its WHERE
// conjuncts into a join condition.
func simpleSelect(q ast.ResultSetNode) (*ast.SelectStmt, bool) {
	s, ok := q.(*ast.SelectStmt)
	if !ok || s.Kind != ast.SelectStmtKindSelect || s.From == nil || s.GroupBy != nil || s.Having != nil ||
		s.Limit != nil || s.With != nil || len(s.WindowSpecs) > 0 {
		return nil, false
	}
	f := find(nil, nil, nil)
	for _, fl := range s.Fields.Fields {
		if fl.Expr != nil {
			fl.Expr.Accept(f)
		}
	}
	if len(f.aggs) > 0 || len(f.wins) > 0 {
		return nil, false
	}
	return s, true
}

// semiJoin plans `[NOT] EXISTS (q)` (inExpr nil) or `inExpr IN (q)` as a
// semi (anti) join of node with q. done is false when the caller should
// bind the predicate as an ordinary expression instead.
func (b *Binder) semiJoin(node Node, sc *scope, sub *ast.SubqueryExpr, inExpr ast.ExprNode, anti bool) (Node, bool, error) {
	L := len(sc.cols)
	typ := exec.SemiJoin
	if anti {
		typ = exec.AntiJoin
	}
	var v expr.Expr
	if inExpr != nil {
		var err error
		if v, err = b.bindExpr(inExpr, sc); err != nil {
			return nil, false, err
		}
	}
	if q, ok := simpleSelect(sub.Query); ok {
		inner, isc, err := b.bindJoin(q.From.TableRefs, nil)
		if err != nil {
			return nil, false, err
		}
		isc.outer = sc
		isc.corr = &correlation{}
		W := len(isc.cols)
		var local, corr []expr.Expr
		if q.Where != nil {
			for _, c := range splitAND(q.Where) {
				e, err := b.bindExpr(c, isc)
				if err != nil {
					return nil, false, err
				}
				if e, err = b.toBool(e); err != nil {
					return nil, false, err
				}
				if _, hi := columnRange(e); hi >= W {
					corr = append(corr, e)
				} else {
					local = append(local, e)
				}
			}
		}
		if len(corr) > 0 {
			right := inner
			if len(local) > 0 {
				right = &Filter{Child: inner, Pred: andAll(local)}
			}
			// Inner columns i → L+i; outer columns W+j → j.
			toJoin := func(i int) int {
				if i >= W {
					return i - W
				}
				return L + i
			}
			var conds []expr.Expr
			for _, c := range corr {
				conds = append(conds, remapExpr(c, toJoin))
			}
			if v != nil {
				items, err := b.expandFields(q.Fields, &scope{cols: isc.cols})
				if err != nil {
					return nil, false, err
				}
				if len(items) != 1 {
					return nil, false, b.errAt("in", "IN subquery must return one column, not %d", len(items))
				}
				isc.corr = nil
				var se expr.Expr
				if items[0].ast == nil {
					se = isc.colExpr(items[0].col)
				} else if se, err = b.bindExpr(items[0].ast, isc); err != nil {
					return nil, false, err
				}
				eq, err := b.eqCoerced(v, shift(se, L))
				if err != nil {
					return nil, false, err
				}
				conds = append(conds, eq)
			}
			j, err := makeJoin(node, right, typ, andAll(conds))
			if err != nil {
				return nil, false, b.wrapExprErr("join", err)
			}
			return j, true, nil
		}
	}
	if v == nil {
		return nil, false, nil // uncorrelated EXISTS folds to a constant
	}
	right, err := b.bindResultSet(sub.Query, sc)
	if err != nil {
		return nil, false, err
	}
	rs := right.Schema()
	if len(rs) != 1 {
		return nil, false, b.errAt("in", "IN subquery must return one column, not %d", len(rs))
	}
	eq, err := b.eqCoerced(v, &expr.Column{Index: L, Name: rs[0].Name, T: rs[0].Type})
	if err != nil {
		return nil, false, err
	}
	j, err := makeJoin(node, right, typ, eq)
	if err != nil {
		return nil, false, b.wrapExprErr("join", err)
	}
	return j, true, nil
}

// eqCoerced builds a = c comparing in a common type, so hash keys match.
func (b *Binder) eqCoerced(a, c expr.Expr) (expr.Expr, error) {
	if !arrow.TypeEqual(a.Type(), c.Type()) {
		t := CommonType(a.Type(), c.Type())
		if t.ID() == arrow.STRING && (!isStringish(a.Type()) || !isStringish(c.Type())) {
			t = arrow.PrimitiveTypes.Float64
		}
		var err error
		if a, err = coerce(a, t); err != nil {
			return nil, b.wrapExprErr("in", err)
		}
		if c, err = coerce(c, t); err != nil {
			return nil, b.wrapExprErr("in", err)
		}
	}
	return b.call("in", "=", a, c)
}

// runSub binds and runs an uncorrelated subquery.
func (b *Binder) runSub(sub *ast.SubqueryExpr, sc *scope, maxRows int) (Node, [][]*expr.Literal, error) {
	n, err := b.bindResultSet(sub.Query, sc)
	if err != nil {
		return nil, nil, err
	}
	if b.Run == nil {
		return nil, nil, b.errAt("select", "unsupported: subqueries here")
	}
	rows, err := b.Run(b.Ctx, n, maxRows)
	if err != nil {
		return nil, nil, err
	}
	return n, rows, nil
}

func (b *Binder) cached(n ast.Node, f func() (expr.Expr, error)) (expr.Expr, error) {
	if e, ok := b.subCache[n]; ok {
		return e, nil
	}
	e, err := f()
	if err != nil {
		return nil, err
	}
	if b.subCache == nil {
		b.subCache = map[ast.Node]expr.Expr{}
	}
	b.subCache[n] = e
	return e, nil
}

// scalarSubquery runs an uncorrelated scalar subquery and folds it into a
// literal (NULL when it returns no rows).
func (b *Binder) scalarSubquery(x *ast.SubqueryExpr, sc *scope) (expr.Expr, error) {
	return b.cached(x, func() (expr.Expr, error) {
		n, rows, err := b.runSub(x, sc, 1)
		if err != nil {
			return nil, err
		}
		s := n.Schema()
		if len(s) != 1 {
			return nil, b.errAtText(x.Query.Text(), "subquery must return one column, not %d", len(s))
		}
		if len(rows) > 1 {
			return nil, b.errAtText(x.Query.Text(), "subquery returns more than 1 row")
		}
		if len(rows) == 0 {
			return &expr.Literal{T: s[0].Type}, nil
		}
		return rows[0][0], nil
	})
}

func (b *Binder) existsConst(x *ast.SubqueryExpr, not bool, sc *scope) (expr.Expr, error) {
	e, err := b.cached(x, func() (expr.Expr, error) {
		_, rows, err := b.runSub(x, sc, 1)
		if err != nil {
			return nil, err
		}
		return &expr.Literal{Value: len(rows) > 0, T: arrow.FixedWidthTypes.Boolean}, nil
	})
	if err != nil {
		return nil, err
	}
	if not {
		return &expr.Literal{Value: !e.(*expr.Literal).Value.(bool), T: arrow.FixedWidthTypes.Boolean}, nil
	}
	return e, nil
}

type listExpr struct {
	expr.Literal
	items []expr.Expr
}

// subqueryList runs an uncorrelated IN subquery into a literal list.
func (b *Binder) subqueryList(x *ast.SubqueryExpr, sc *scope) ([]expr.Expr, error) {
	if e, ok := b.subCache[x]; ok {
		return e.(*listExpr).items, nil
	}
	n, rows, err := b.runSub(x, sc, maxInList)
	if err != nil {
		return nil, err
	}
	if len(n.Schema()) != 1 {
		return nil, b.errAt("in", "IN subquery must return one column, not %d", len(n.Schema()))
	}
	if len(rows) > maxInList {
		return nil, b.errAt("in", "unsupported: IN subquery with more than %d rows outside WHERE", maxInList)
	}
	seen := map[any]bool{}
	items := make([]expr.Expr, 0, len(rows))
	for _, r := range rows {
		k := r[0].Value
		if _, ok := k.([]byte); ok {
			k = string(k.([]byte))
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		items = append(items, r[0])
	}
	if b.subCache == nil {
		b.subCache = map[ast.Node]expr.Expr{}
	}
	b.subCache[x] = &listExpr{items: items}
	return items, nil
}

// compareSubquery handles `x = ANY (q)` (IN) and `x <> ALL (q)` (NOT IN).
func (b *Binder) compareSubquery(x *ast.CompareSubqueryExpr, sc *scope) (expr.Expr, error) {
	sub, ok := x.R.(*ast.SubqueryExpr)
	if !ok {
		return nil, b.errAt("any", "unsupported: comparison with %T", x.R)
	}
	var not bool
	switch {
	case x.Op == opcode.EQ && !x.All:
	case x.Op == opcode.NE && x.All:
		not = true
	default:
		return nil, b.errAt("all", "unsupported: %s %s subquery comparisons", x.Op, map[bool]string{true: "ALL", false: "ANY"}[x.All])
	}
	v, err := b.bindExpr(x.L, sc)
	if err != nil {
		return nil, err
	}
	list, err := b.subqueryList(sub, sc)
	if err != nil {
		return nil, err
	}
	return b.inList(v, list, not)
}
