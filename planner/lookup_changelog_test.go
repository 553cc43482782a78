package planner

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/catalog"
	memcat "github.com/magnetar-sql/magnetar/catalog/memory"
	"github.com/magnetar-sql/magnetar/exec"
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

// TestLookupJoinRetractableOverChangelog: the builder makes a lookup join
// materialize its output exactly when its stream side may retract rows (a
// continuous aggregate), not over an append-only stream or in a bounded
// run.
func TestLookupJoinRetractableOverChangelog(t *testing.T) {
	m := memcat.New()
	t.Cleanup(m.Close)
	ctx := context.Background()
	bids := arrow.NewSchema([]arrow.Field{{Name: "auction", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "price", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	auctions := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "item", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	if err := m.CreateTable(ctx, "default", catalog.TableDef{Name: "bids", Schema: bids}, false); err != nil {
		t.Fatal(err)
	}
	if err := m.CreateTable(ctx, "default", catalog.TableDef{Name: "auctions", Schema: auctions, PrimaryKey: []string{"id"}}, false); err != nil {
		t.Fatal(err)
	}
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
		op, err := (&Builder{Mode: tc.mode}).Build(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		j := findLookup(op)
		if j == nil {
			op.Close()
			t.Fatalf("no lookup join in %s", op)
		}
		got := j.Retractable()
		op.Close()
		if got != tc.want {
			t.Errorf("mode %v, %q: retractable = %v, want %v", tc.mode, tc.q, got, tc.want)
		}
	}
}
