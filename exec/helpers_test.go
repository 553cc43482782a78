package exec_test

import (
	"context"
	"sort"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
)

var (
	i64 = arrow.PrimitiveTypes.Int64
	f64 = arrow.PrimitiveTypes.Float64
	str = arrow.BinaryTypes.String
	bln = arrow.FixedWidthTypes.Boolean
)

// newMem returns a checked allocator that the test asserts empty at the end.
func newMem(t testing.TB) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

func col(s *arrow.Schema, name string) *expr.Column {
	idx := s.FieldIndices(name)
	if len(idx) == 0 {
		panic("no column " + name)
	}
	return &expr.Column{Index: idx[0], Name: name, T: s.Field(idx[0]).Type}
}

// values builds a Values operator over batches of rows (each []any a row).
func values(mem memory.Allocator, s *arrow.Schema, batches ...[][]any) exec.Operator {
	var recs []arrow.RecordBatch
	for _, rows := range batches {
		recs = append(recs, exectest.Record(mem, s, rows...))
	}
	op := exec.NewValues(s, recs)
	for _, r := range recs {
		r.Release()
	}
	return op
}

// run collects op's rows in order.
func run(t testing.TB, op exec.Operator) []string {
	t.Helper()
	recs, err := exectest.Collect(context.Background(), op)
	defer exectest.Release(recs)
	if err != nil {
		t.Fatal(err)
	}
	return exectest.Rows(recs)
}

func runSorted(t testing.TB, op exec.Operator) []string {
	t.Helper()
	recs, err := exectest.Collect(context.Background(), op)
	defer exectest.Release(recs)
	if err != nil {
		t.Fatal(err)
	}
	return exectest.SortedRows(recs)
}

func check(t testing.TB, got, want []string) {
	t.Helper()
	if err := exectest.Equal(got, want); err != nil {
		t.Fatal(err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func sortStrings(s []string) []string {
	sort.Strings(s)
	return s
}

func exectestSource(s *arrow.Schema, msgs []exec.Message) exec.Operator {
	return exectest.NewSource(s, msgs...)
}
