package planner

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/catalog"
	memcat "github.com/magnetar-sql/magnetar/catalog/memory"
	"github.com/magnetar-sql/magnetar/exec"
)

// findHashJoin returns the first HashJoin of an operator tree.
func findHashJoin(op exec.Operator) *exec.HashJoin {
	if j, ok := op.(*exec.HashJoin); ok {
		return j
	}
	for _, c := range op.Children() {
		if j := findHashJoin(c); j != nil {
			return j
		}
	}
	return nil
}

// TestRightJoinOfStreamToBoundedStreams: in a continuous query a RIGHT
// JOIN of a stream with a bounded right input (a derived table of
// constants) is symmetric from the start. Built and probed (the right
// input ends first), it would emit the right rows without a match only at
// the end of the stream, which never comes, where the bounded query has
// them NULL-padded. A LEFT JOIN of the same inputs keeps build-then-probe
// (its answer is final per left row); a bounded query keeps it too.
func TestRightJoinOfStreamToBoundedStreams(t *testing.T) {
	m := memcat.New()
	t.Cleanup(m.Close)
	ctx := context.Background()
	s := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "a", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	if err := m.CreateTable(ctx, "default", catalog.TableDef{Name: "s", Schema: s}, false); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		q    string
		mode catalog.Mode
		want bool
	}{
		{`SELECT s.a, v.x FROM s RIGHT JOIN (SELECT 2 AS k, 20 AS x) v ON s.k = v.k`, catalog.Unbounded, true},
		{`SELECT s.a, v.x FROM s LEFT JOIN (SELECT 2 AS k, 20 AS x) v ON s.k = v.k`, catalog.Unbounded, false},
		{`SELECT s.a, v.x FROM s RIGHT JOIN (SELECT 2 AS k, 20 AS x) v ON s.k = v.k`, catalog.Bounded, false},
	} {
		n, err := plan(t, m, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		op, err := (&Builder{Mode: tc.mode}).Build(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		j := findHashJoin(op)
		if j == nil {
			op.Close()
			t.Fatalf("no hash join in %s", op)
		}
		got := j.StreamingInputs()
		op.Close()
		if got != tc.want {
			t.Errorf("mode %v, %q: symmetric from the start = %v, want %v", tc.mode, tc.q, got, tc.want)
		}
	}
}
