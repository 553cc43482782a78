package expr

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// testCols builds a record batch from Go column values (nil = NULL); the
// column types are given explicitly.
func testBatch(t *testing.T, mem memory.Allocator, types []arrow.DataType, cols ...[]any) arrow.RecordBatch {
	t.Helper()
	fields := make([]arrow.Field, len(types))
	arrs := make([]arrow.Array, len(types))
	n := 0
	for i, dt := range types {
		fields[i] = arrow.Field{Name: string(rune('a' + i)), Type: dt, Nullable: true}
		b := array.NewBuilder(mem, dt)
		for _, v := range cols[i] {
			if err := appendValue(b, v); err != nil {
				t.Fatalf("column %d: %v", i, err)
			}
		}
		arrs[i] = b.NewArray()
		b.Release()
		n = len(cols[i])
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, int64(n))
	for _, a := range arrs {
		a.Release()
	}
	return rec
}

func col(i int, dt arrow.DataType) *Column {
	return &Column{Index: i, Name: string(rune('a' + i)), T: dt}
}

// call builds a call or fails the test.
func call(t *testing.T, name string, args ...Expr) Expr {
	t.Helper()
	e, err := NewCall(name, args...)
	if err != nil {
		t.Fatalf("NewCall(%s): %v", name, err)
	}
	return e
}

// evalStrings compiles and evaluates e over rec and renders the values.
func evalStrings(t *testing.T, mem memory.Allocator, e Expr, rec arrow.RecordBatch) ([]string, error) {
	t.Helper()
	ev, err := Compile(e, mem)
	if err != nil {
		return nil, err
	}
	arr, err := ev.Eval(context.Background(), rec)
	if err != nil {
		return nil, err
	}
	defer arr.Release()
	if arr.Len() != int(rec.NumRows()) {
		t.Fatalf("%s: got %d values for %d rows", e, arr.Len(), rec.NumRows())
	}
	if !arrow.TypeEqual(arr.DataType(), e.Type()) {
		t.Fatalf("%s: array type %s, expression type %s", e, arr.DataType(), e.Type())
	}
	out := make([]string, arr.Len())
	for i := range out {
		out[i] = FormatValue(arr, i)
	}
	return out, nil
}

// checked returns a checked allocator and registers the leak check.
func checked(t *testing.T) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

// evalConst evaluates a constant expression on a one-row batch.
func evalConst(t *testing.T, mem memory.Allocator, e Expr) (string, error) {
	t.Helper()
	rec := oneRowBatch()
	defer rec.Release()
	out, err := evalStrings(t, mem, e, rec)
	if err != nil {
		return "", err
	}
	return out[0], nil
}

func newStructBuilder(mem memory.Allocator, st *arrow.StructType) *array.StructBuilder {
	return array.NewStructBuilder(mem, st)
}

// recordOf wraps one array in a one-column record batch.
func recordOf(_ *arrow.Schema, arr arrow.Array) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{{Name: "p", Type: arr.DataType(), Nullable: true}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{arr}, int64(arr.Len()))
}
