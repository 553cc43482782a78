package engine

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	memcat "github.com/magnetar-sql/magnetar/catalog/memory"
	"github.com/magnetar-sql/magnetar/planner"
	"github.com/magnetar-sql/magnetar/sql"
)

// TestPlans checks the optimized plan of every testdata/plans/*.sql query
// against its .plan golden file (regenerate with -rewrite). The tables come
// from testdata/plans/schema.sql.
func TestPlans(t *testing.T) {
	ctx := context.Background()
	schema, err := os.ReadFile("../testdata/plans/schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../testdata/plans/*.sql")
	sort.Strings(files)
	n := 0
	for _, f := range files {
		if filepath.Base(f) == "schema.sql" {
			continue
		}
		n++
		name := strings.TrimSuffix(filepath.Base(f), ".sql")
		t.Run(name, func(t *testing.T) {
			cat := memcat.New()
			defer cat.Close()
			s := New(cat, Options{}).NewSession()
			if err := s.Run(ctx, string(schema), func(*Result) error { return nil }); err != nil {
				t.Fatalf("schema: %v", err)
			}
			text, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			stmts, err := sql.Parse(string(text))
			if err != nil {
				t.Fatal(err)
			}
			if len(stmts) != 1 {
				t.Fatalf("want one statement, got %d", len(stmts))
			}
			plan, err := s.Plan(ctx, &stmts[0])
			if err != nil {
				t.Fatal(err)
			}
			got := planner.Explain(plan)
			golden := strings.TrimSuffix(f, ".sql") + ".plan"
			if *rewrite {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -rewrite to create it)", err)
			}
			if got != string(want) {
				t.Errorf("plan of %s changed\n--- got:\n%s--- want:\n%s", name, got, want)
			}
		})
	}
	if n == 0 {
		t.Fatal("no plan files")
	}
}
