package planner

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/catalog"
	memcat "github.com/magnetar-sql/magnetar/catalog/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/magnetar-sql/magnetar/sql"
	"github.com/pingcap/tidb/pkg/parser/ast"
)

// pushTable wraps a memory table and claims filter support: equality is
// exact, other comparisons inexact, everything else unsupported.
type pushTable struct {
	catalog.Table
	lastReq *catalog.ScanRequest
}

func (p *pushTable) SupportsFilter(e expr.Expr) catalog.FilterSupport {
	c, ok := e.(*expr.Call)
	if !ok {
		return catalog.Unsupported
	}
	switch c.Name {
	case "=":
		return catalog.Exact
	case ">", "<", ">=", "<=":
		return catalog.Inexact
	}
	return catalog.Unsupported
}

func (p *pushTable) Scan(ctx context.Context, req catalog.ScanRequest) (exec.Operator, error) {
	p.lastReq = &req
	return p.Table.Scan(ctx, req)
}

type pushCatalog struct {
	*memcat.Catalog
	tables map[string]*pushTable
}

func (c *pushCatalog) Table(ctx context.Context, db, name string) (catalog.Table, error) {
	if t, ok := c.tables[name]; ok {
		return t, nil
	}
	return c.Catalog.Table(ctx, db, name)
}

func newPushCatalog(t *testing.T) *pushCatalog {
	t.Helper()
	m := memcat.New()
	t.Cleanup(m.Close)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	ctx := context.Background()
	if err := m.CreateTable(ctx, "default", catalog.TableDef{Name: "p", Schema: schema}, false); err != nil {
		t.Fatal(err)
	}
	tab, _ := m.Table(ctx, "default", "p")
	return &pushCatalog{Catalog: m, tables: map[string]*pushTable{"p": {Table: tab}}}
}

func plan(t *testing.T, cat catalog.Catalog, q string) (Node, error) {
	t.Helper()
	st, err := sql.Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	b := &Binder{Catalog: cat, DB: "default", Stmt: &st[0], Run: Runner(nil, nil)}
	n, err := b.BindQuery(st[0].Node.(ast.ResultSetNode))
	if err != nil {
		return nil, err
	}
	return Optimize(context.Background(), n)
}

func TestFilterPushdownIntoScan(t *testing.T) {
	cat := newPushCatalog(t)
	n, err := plan(t, cat, "SELECT name FROM p WHERE id = 3 AND score > 1.5 AND name LIKE 'a%'")
	if err != nil {
		t.Fatal(err)
	}
	got := Explain(n)
	// id = 3 is exact: no Filter keeps it, and id need not even be read.
	// score > 1.5 is inexact: pushed and kept. LIKE is unsupported: kept
	// only. Scan filters use table column numbers.
	want := "Project name#0\n" +
		"  Filter ((score#1 > 1.5) AND (name#0 LIKE 'a%'))\n" +
		"    Scan default.p [name, score] filters=[(id#0 = 3), (score#2 > 1.5)]\n"
	if got != want {
		t.Fatalf("plan:\n%s\nwant:\n%s", got, want)
	}
	// The scan receives the filters in table column numbers.
	op, err := (&Builder{}).Build(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	req := cat.tables["p"].lastReq
	if req == nil || len(req.Filters) != 2 || req.Filters[0].String() != "(id#0 = 3)" {
		t.Fatalf("scan request %+v", req)
	}
}

func TestStreamingModeAndEmit(t *testing.T) {
	cat := newPushCatalog(t)
	n, err := plan(t, cat, "SELECT name, COUNT(*) FROM p GROUP BY name")
	if err != nil {
		t.Fatal(err)
	}
	op, err := (&Builder{Mode: catalog.Unbounded}).Build(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	if req := cat.tables["p"].lastReq; req == nil || req.Mode != catalog.Unbounded {
		t.Fatalf("scan mode not unbounded: %+v", req)
	}
}

func TestEditDistanceSuggestions(t *testing.T) {
	cases := []struct {
		a, b string
		d    int
	}{{"pricee", "price", 1}, {"nmae", "name", 1}, {"abc", "abc", 0}, {"", "ab", 2}, {"kitten", "sitting", 3}}
	for _, c := range cases {
		if got := editDistance(c.a, c.b); got != c.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
	sc := &scope{cols: []Col{{Name: "price"}, {Name: "name"}, {Name: "id"}}}
	if s := sc.suggest("pricee"); s != "price" {
		t.Errorf("suggest pricee = %q", s)
	}
	if s := sc.suggest("zzzzzz"); s != "" {
		t.Errorf("suggest zzzzzz = %q", s)
	}
}

func TestSplitTableName(t *testing.T) {
	cases := []struct {
		schema, name, db, table string
	}{
		{"", "t", "cur", "t"},
		{"public/default", "orders", "public/default", "orders"},
		{"", "persistent://tenant/ns/t", "tenant/ns", "t"},
		{"db", "t", "db", "t"},
	}
	for _, c := range cases {
		tn := &ast.TableName{Schema: ast.NewCIStr(c.schema), Name: ast.NewCIStr(c.name)}
		db, table := SplitTableName(tn, "cur")
		if db != c.db || table != c.table {
			t.Errorf("%s.%s → %s.%s, want %s.%s", c.schema, c.name, db, table, c.db, c.table)
		}
	}
}

func TestBindErrorsAreLocated(t *testing.T) {
	cat := newPushCatalog(t)
	_, err := plan(t, cat, "SELECT id,\n  scor FROM p")
	if err == nil || err.Error() != `line 2 column 3: unknown column "scor" (did you mean "score"?)` {
		t.Fatalf("got %v", err)
	}
	_, err = plan(t, cat, "SELECT name FROM p GROUP BY id ORDER BY name")
	if err == nil || !strings.HasPrefix(err.Error(), "line 1 column 8: column \"name\" must appear") {
		t.Fatalf("got %v", err)
	}
}

func TestRulesAreListedInOrder(t *testing.T) {
	// The core rules keep this relative order; streaming rules may sit
	// between them.
	want := []string{"fold_constants", "push_down_predicates", "prune_columns", "push_down_limit", "merge_projections"}
	i := 0
	for _, r := range Rules {
		if i < len(want) && r.Name == want[i] {
			i++
		}
	}
	if i != len(want) {
		var names []string
		for _, r := range Rules {
			names = append(names, r.Name)
		}
		t.Fatalf("rules %v do not contain %v in order", names, want)
	}
}
