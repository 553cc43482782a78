package planner

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/catalog"
	memcat "github.com/magnetar-sql/magnetar/catalog/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/sql"
	"github.com/pingcap/tidb/pkg/parser/ast"
)

// findLookup returns the first LookupJoin of an operator tree.
func findLookup(op exec.Operator) *exec.LookupJoin {
	if j, ok := op.(*exec.LookupJoin); ok {
		return j
	}
	for _, c := range op.Children() {
		if j := findLookup(c); j != nil {
			return j
		}
	}
	return nil
}

// lookupCatalog is a memory catalog with the stream bids (auction, price,
// then extra) and the table auctions (id PRIMARY KEY, item).
func lookupCatalog(t *testing.T, extra ...arrow.Field) *memcat.Catalog {
	t.Helper()
	m := memcat.New()
	t.Cleanup(m.Close)
	ctx := context.Background()
	bids := arrow.NewSchema(append([]arrow.Field{{Name: "auction", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "price", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, extra...), nil)
	auctions := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "item", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	if err := m.CreateTable(ctx, "default", catalog.TableDef{Name: "bids", Schema: bids}, false); err != nil {
		t.Fatal(err)
	}
	if err := m.CreateTable(ctx, "default", catalog.TableDef{Name: "auctions", Schema: auctions, PrimaryKey: []string{"id"}}, false); err != nil {
		t.Fatal(err)
	}
	return m
}

// buildLookup builds the plan n in mode and returns its first LookupJoin,
// and done, which closes the built operators.
func buildLookup(t *testing.T, n Node, mode catalog.Mode) (j *exec.LookupJoin, done func()) {
	t.Helper()
	op, err := (&Builder{Mode: mode}).Build(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	if j = findLookup(op); j == nil {
		op.Close()
		t.Fatalf("no lookup join in %s", op)
	}
	return j, func() { op.Close() }
}

// TestLookupJoinRetractableOverChangelog: the builder makes a lookup join
// materialize its output exactly when its stream side may retract rows (a
// continuous aggregate), not over an append-only stream or in a bounded
// run.
func TestLookupJoinRetractableOverChangelog(t *testing.T) {
	m := lookupCatalog(t)
	const agg = `SELECT b.auction, b.n, a.item FROM (SELECT auction, COUNT(*) AS n FROM bids GROUP BY auction) b
		LEFT JOIN auctions a AS OF TIMESTAMP PROCTIME() ON b.auction = a.id`
	const plain = `SELECT b.auction, b.price, a.item FROM bids b JOIN auctions a AS OF TIMESTAMP PROCTIME() ON b.auction = a.id`
	for _, tc := range []struct {
		q    string
		mode catalog.Mode
		want bool
	}{
		{agg, catalog.Unbounded, true},
		{agg, catalog.Bounded, false},
		{plain, catalog.Unbounded, false},
	} {
		n, err := plan(t, m, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		j, done := buildLookup(t, n, tc.mode)
		got := j.Retractable()
		done()
		if got != tc.want {
			t.Errorf("mode %v, %q: retractable = %v, want %v", tc.mode, tc.q, got, tc.want)
		}
	}
}

// TestLookupJoinStateTTL: with magnetar.state_ttl, a continuous lookup join
// over a changelog gets the TTL (a StateTTL above it, the stream's
// watermark as its clock); one over an append-only stream keeps no state
// and gets none.
func TestLookupJoinStateTTL(t *testing.T) {
	m := lookupCatalog(t, arrow.Field{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_us, Nullable: true})
	ctx := context.Background()
	sctx := WithSession(ctx, catalog.Unbounded, map[string]string{SettingStateTTL: "1 HOUR", SettingEventTime: "ts"})
	for _, tc := range []struct {
		q    string
		want time.Duration
	}{
		{`SELECT b.auction, b.n, a.item FROM (SELECT auction, COUNT(*) AS n FROM bids GROUP BY auction) b
			JOIN auctions a AS OF TIMESTAMP PROCTIME() ON b.auction = a.id`, time.Hour},
		{`SELECT b.auction, b.price, a.item FROM bids b JOIN auctions a AS OF TIMESTAMP PROCTIME() ON b.auction = a.id`, 0},
	} {
		st, err := sql.Parse(tc.q)
		if err != nil {
			t.Fatal(err)
		}
		b := &Binder{Catalog: m, DB: "default", Stmt: &st[0], Run: Runner(nil, nil)}
		n, err := b.BindQuery(st[0].Node.(ast.ResultSetNode))
		if err != nil {
			t.Fatal(err)
		}
		if n, err = Optimize(sctx, n); err != nil {
			t.Fatal(err)
		}
		text := Explain(n)
		lines := strings.Split(text, "\n")
		above := ""
		for i, l := range lines {
			if strings.Contains(l, "LookupInnerJoin") && i > 0 {
				above = strings.TrimSpace(lines[i-1])
			}
		}
		if got := strings.HasPrefix(above, "StateTTL ttl=1h0m0s"); got != (tc.want > 0) {
			t.Errorf("StateTTL above the lookup join = %v, want %v:\n%s", got, tc.want > 0, text)
		}
		j, done := buildLookup(t, n, catalog.Unbounded)
		got := j.StateTTL()
		done()
		if got != tc.want {
			t.Errorf("%q: operator TTL = %s, want %s", tc.q, got, tc.want)
		}
	}
}
