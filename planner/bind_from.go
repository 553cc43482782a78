package planner

import (
	"errors"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/pingcap/tidb/pkg/parser/ast"
)

// SplitTableName resolves the database and table a TableName names:
// `db`.`t`, `public/default`.`t`, or one `persistent://tenant/ns/t`
// identifier (database "tenant/ns", table "t").
func SplitTableName(tn *ast.TableName, current string) (db, table string) {
	db, table = tn.Schema.O, tn.Name.O
	if db == "" {
		name := table
		if i := strings.Index(name, "://"); i >= 0 {
			name = name[i+3:]
		}
		if strings.Contains(tn.Name.O, "://") {
			if j := strings.LastIndexByte(name, '/'); j >= 0 {
				return name[:j], name[j+1:]
			}
		}
		db = current
	}
	return db, table
}

func (b *Binder) bindJoin(j *ast.Join, outer *scope) (Node, *scope, error) {
	left, lsc, err := b.bindTableRef(j.Left, outer)
	if err != nil {
		return nil, nil, err
	}
	if lt, ok := left.(*lookupTable); ok {
		return nil, nil, b.errAt(lt.scan.TableName, "AS OF TIMESTAMP PROCTIME() marks the table side of a lookup join: put %s on the right of JOIN or LEFT JOIN", lt.scan.TableName)
	}
	if j.Right == nil {
		return left, lsc, nil
	}
	right, rsc, err := b.bindTableRef(j.Right, outer)
	if err != nil {
		return nil, nil, err
	}
	lookup, isLookup := right.(*lookupTable)
	if isLookup && (len(j.Using) > 0 || j.NaturalJoin) {
		return nil, nil, b.errAt(lookup.scan.TableName, "lookup join with %s: write the condition with ON, not USING or NATURAL", lookup.scan.TableName)
	}
	// Each table in a FROM clause needs its own name, as in MySQL.
	lq := map[string]bool{}
	for _, c := range lsc.cols {
		if c.Qualifier != "" {
			lq[strings.ToLower(c.Qualifier)] = true
		}
	}
	for _, c := range rsc.cols {
		if c.Qualifier != "" && lq[strings.ToLower(c.Qualifier)] {
			return nil, nil, b.errAt(c.Qualifier, "not unique table/alias %q", c.Qualifier)
		}
	}
	var typ exec.JoinType
	switch j.Tp {
	case ast.LeftJoin:
		typ = exec.LeftJoin
	case ast.RightJoin:
		typ = exec.RightJoin
	default:
		typ = exec.InnerJoin
	}
	L := len(lsc.cols)
	cols := append(append([]Col(nil), lsc.cols...), rsc.cols...)
	sc := &scope{cols: cols, outer: outer}
	using := j.Using
	if j.NaturalJoin {
		for _, lc := range lsc.cols {
			if lc.Hidden {
				continue
			}
			for _, rc := range rsc.cols {
				if !rc.Hidden && strings.EqualFold(lc.Name, rc.Name) {
					using = append(using, &ast.ColumnName{Name: ast.NewCIStr(lc.Name)})
				}
			}
		}
	}
	var cond expr.Expr
	var usingPairs [][2]int // (left index, right index) of USING columns
	if len(using) > 0 {
		for _, u := range using {
			li, lerr := lsc.lookup(u)
			ri, rerr := rsc.lookup(u)
			if lerr != nil || rerr != nil || li < 0 || ri < 0 {
				return nil, nil, b.errAt(u.Name.O, "unknown column %q in USING clause", u.Name.O)
			}
			eq, err := b.call(u.Name.O, "=", sc.colExpr(li), sc.colExpr(L+ri))
			if err != nil {
				return nil, nil, err
			}
			cond = andExpr(cond, eq)
			usingPairs = append(usingPairs, [2]int{li, L + ri})
			if typ == exec.RightJoin {
				sc.cols[li].Hidden = true
			} else {
				sc.cols[L+ri].Hidden = true
			}
		}
	}
	if j.On != nil {
		on, err := b.bindExpr(j.On.Expr, sc)
		if err != nil {
			return nil, nil, err
		}
		if on, err = b.toBool(on); err != nil {
			return nil, nil, err
		}
		cond = andExpr(cond, on)
	}
	if isLookup {
		node, err := b.bindLookupJoin(left, lookup, j.Tp, cond)
		if err != nil {
			return nil, nil, err
		}
		return node, &scope{cols: node.Schema(), outer: outer}, nil
	}
	node, err := makeJoin(left, right, typ, cond)
	if err != nil {
		return nil, nil, b.wrapExprErr("join", err)
	}
	jn := node.(*Join)
	for i := range jn.cols {
		jn.cols[i].Hidden = sc.cols[i].Hidden
	}
	if len(usingPairs) == 0 {
		return jn, &scope{cols: jn.Schema(), outer: outer}, nil
	}
	// As in MySQL, the USING columns come first (once, unqualified), then
	// the other left columns, then the other right ones; both original
	// copies stay reachable by qualified name.
	var exprs []expr.Expr
	var pcols []Col
	inUsing := map[int]bool{}
	for _, p := range usingPairs {
		keep := p[0]
		if typ == exec.RightJoin {
			keep = p[1]
		}
		c := jn.cols[keep]
		c.Qualifier, c.Hidden = "", false
		exprs = append(exprs, sc.colExpr(keep))
		pcols = append(pcols, c)
		inUsing[p[0]], inUsing[p[1]] = true, true
	}
	for i := range jn.cols {
		if !inUsing[i] {
			exprs = append(exprs, sc.colExpr(i))
			pcols = append(pcols, jn.cols[i])
		}
	}
	for i := range jn.cols {
		if inUsing[i] {
			c := jn.cols[i]
			c.Hidden = true
			exprs = append(exprs, sc.colExpr(i))
			pcols = append(pcols, c)
		}
	}
	proj := NewProject(jn, exprs, pcols)
	return proj, &scope{cols: proj.Schema(), outer: outer}, nil
}

func (b *Binder) bindTableRef(n ast.ResultSetNode, outer *scope) (Node, *scope, error) {
	switch x := n.(type) {
	case *ast.Join:
		return b.bindJoin(x, outer)
	case *ast.TableSource:
		var node Node
		alias := x.AsName.O
		switch src := x.Source.(type) {
		case *ast.TableName:
			var err error
			if node, err = b.bindTableName(src, alias); err != nil {
				return nil, nil, err
			}
		case *ast.SelectStmt, *ast.SetOprStmt:
			sub, err := b.bindResultSet(src, nil)
			if err != nil {
				return nil, nil, err
			}
			node = requalify(sub, alias)
		default:
			return nil, nil, b.errAt("", "unsupported: FROM %T", x.Source)
		}
		if len(x.ColumnNames) > 0 {
			cols := append([]Col(nil), node.Schema()...)
			if len(cols) != len(x.ColumnNames) {
				return nil, nil, b.errAt(alias, "derived table %q has %d columns but %d names", alias, len(cols), len(x.ColumnNames))
			}
			for i, c := range x.ColumnNames {
				cols[i].Name = c.O
			}
			node = renameCols(node, cols)
		}
		return node, &scope{cols: node.Schema(), outer: outer}, nil
	case *ast.TableName:
		node, err := b.bindTableName(x, "")
		if err != nil {
			return nil, nil, err
		}
		return node, &scope{cols: node.Schema(), outer: outer}, nil
	}
	return nil, nil, b.errAt("", "unsupported: FROM %T", n)
}

func (b *Binder) bindTableName(tn *ast.TableName, alias string) (Node, error) {
	var asOf int64
	procTime := tn.AsOf != nil && isProcTime(tn.AsOf)
	if tn.AsOf != nil && !procTime {
		var err error
		if asOf, err = b.bindAsOf(tn.AsOf); err != nil {
			return nil, err
		}
	}
	if tn.Schema.O == "" && tn.AsOf == nil {
		if c := b.lookupCTE(tn.Name.L); c != nil {
			q := alias
			if q == "" {
				q = tn.Name.O
			}
			return requalify(c.node, q), nil
		}
	}
	db, name := SplitTableName(tn, b.DB)
	tab, err := b.Catalog.Table(b.Ctx, db, name)
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			full := name
			if tn.Schema.O != "" {
				full = db + "." + name
			}
			return nil, b.errAt(tn.Name.O, "unknown table %q", full)
		}
		return nil, b.errAt(tn.Name.O, "table %s: %v", name, err)
	}
	q := alias
	if q == "" {
		q = name
	}
	s := NewScan(db, name, tab, q)
	s.AsOf = asOf
	if procTime {
		return &lookupTable{scan: s}, nil
	}
	if isUpsertTable(tab) {
		// Latest row per key (see upsert.go).
		u, err := newUpsertMaterialize(s)
		if err != nil {
			return nil, b.errAt(tn.Name.O, "table %s: %v", name, err)
		}
		return u, nil
	}
	return s, nil
}

// bindAsOf evaluates the constant of `AS OF TIMESTAMP expr` to µs since
// the epoch: the bounded snapshot then ends at the last message published
// before that time (time travel over a topic's history).
func (b *Binder) bindAsOf(c *ast.AsOfClause) (int64, error) {
	e, err := b.bindExpr(c.TsExpr, &scope{})
	if err != nil {
		return 0, err
	}
	if e, err = expr.NewCast(e, arrow.FixedWidthTypes.Timestamp_us); err != nil {
		return 0, b.errAt("as", "AS OF TIMESTAMP: %v", err)
	}
	f, err := expr.Fold(b.Ctx, e, nil)
	if err != nil {
		return 0, b.errAt("as", "AS OF TIMESTAMP: %v", err)
	}
	lit, ok := f.(*expr.Literal)
	if !ok {
		return 0, b.errAt("as", "AS OF TIMESTAMP needs a constant time")
	}
	ts, ok := lit.Value.(arrow.Timestamp)
	if !ok {
		return 0, b.errAt("as", "AS OF TIMESTAMP: %s is not a valid time", c.TsExpr.Text())
	}
	return int64(ts), nil
}

// andExpr conjoins two predicates, either of which may be nil.
func andExpr(a, c expr.Expr) expr.Expr {
	if a == nil {
		return c
	}
	if c == nil {
		return a
	}
	e, err := expr.NewCall("and", a, c)
	if err != nil {
		return &expr.Call{Name: "and", Args: []expr.Expr{a, c}, T: a.Type()}
	}
	return e
}

// conjuncts splits a predicate on AND.
func conjuncts(e expr.Expr) []expr.Expr {
	if e == nil {
		return nil
	}
	if c, ok := e.(*expr.Call); ok && c.Name == "and" && len(c.Args) == 2 {
		return append(conjuncts(c.Args[0]), conjuncts(c.Args[1])...)
	}
	return []expr.Expr{e}
}

// andAll conjoins a list (nil for an empty list).
func andAll(es []expr.Expr) expr.Expr {
	var out expr.Expr
	for _, e := range es {
		out = andExpr(out, e)
	}
	return out
}

// columnRange reports the smallest and largest column index e uses
// (-1, -1 when it uses none).
func columnRange(e expr.Expr) (lo, hi int) {
	lo, hi = -1, -1
	walkExpr(e, func(x expr.Expr) {
		if c, ok := x.(*expr.Column); ok {
			if lo < 0 || c.Index < lo {
				lo = c.Index
			}
			if c.Index > hi {
				hi = c.Index
			}
		}
	})
	return lo, hi
}

func walkExpr(e expr.Expr, fn func(expr.Expr)) {
	fn(e)
	for _, c := range e.Children() {
		walkExpr(c, fn)
	}
}

// remapExpr rewrites column indices through m (old index → new index).
func remapExpr(e expr.Expr, m func(int) int) expr.Expr {
	if c, ok := e.(*expr.Column); ok {
		return &expr.Column{Index: m(c.Index), Name: c.Name, T: c.T}
	}
	ch := e.Children()
	if len(ch) == 0 {
		return e
	}
	out := make([]expr.Expr, len(ch))
	for i, c := range ch {
		out[i] = remapExpr(c, m)
	}
	return e.WithChildren(out)
}

func shift(e expr.Expr, by int) expr.Expr {
	return remapExpr(e, func(i int) int { return i + by })
}

// makeJoin builds a join, extracting equi-join keys (left expr = right
// expr) from cond for a hash join; the rest becomes the residual.
func makeJoin(left, right Node, typ exec.JoinType, cond expr.Expr) (Node, error) {
	L := len(left.Schema())
	var lk, rk, rest []expr.Expr
	for _, c := range conjuncts(cond) {
		if call, ok := c.(*expr.Call); ok && call.Name == "=" && len(call.Args) == 2 {
			a, bb := call.Args[0], call.Args[1]
			alo, ahi := columnRange(a)
			blo, bhi := columnRange(bb)
			if alo >= L && bhi >= 0 && bhi < L {
				a, bb = bb, a
				alo, ahi, blo, bhi = blo, bhi, alo, ahi
			}
			if alo >= 0 && ahi < L && blo >= L {
				l, r := a, shift(bb, -L)
				if !sameType(l, r) {
					t := CommonType(l.Type(), r.Type())
					if isStringish(t) && (!isStringish(l.Type()) || !isStringish(r.Type())) {
						rest = append(rest, c)
						continue
					}
					var err error
					if l, err = coerce(l, t); err != nil {
						return nil, err
					}
					if r, err = coerce(r, t); err != nil {
						return nil, err
					}
				}
				lk = append(lk, l)
				rk = append(rk, r)
				continue
			}
		}
		rest = append(rest, c)
	}
	return NewJoin(left, right, typ, lk, rk, andAll(rest)), nil
}

func sameType(a, b expr.Expr) bool {
	return arrow.TypeEqual(a.Type(), b.Type())
}
