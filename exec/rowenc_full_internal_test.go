package exec

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestEncodeFullRowsNested: rows differing only in a list or a struct
// column encode differently (the changelog lookup join keys a left row's
// emitted rows by this encoding: a retraction of one row must not take
// the items of a look-alike); equal rows encode equally.
func TestEncodeFullRowsNested(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	lb := array.NewListBuilder(mem, arrow.PrimitiveTypes.Int64)
	defer lb.Release()
	for _, v := range []int64{1, 2, 1} {
		lb.Append(true)
		lb.ValueBuilder().(*array.Int64Builder).Append(v)
	}
	lb.AppendNull()
	list := lb.NewArray()
	defer list.Release()
	st := arrow.StructOf(arrow.Field{Name: "a", Type: arrow.BinaryTypes.String, Nullable: true})
	sb := array.NewStructBuilder(mem, st)
	defer sb.Release()
	for _, v := range []string{"x", "x", "x", "y"} {
		sb.Append(true)
		sb.FieldBuilder(0).(*array.StringBuilder).Append(v)
	}
	strct := sb.NewArray()
	defer strct.Release()
	rows := encodeFullRows([]arrow.Array{list, strct}, 4, nil, new([]int64), new([]uint64), new([]float64), new([]string))
	if string(rows[0]) != string(rows[2]) {
		t.Errorf("equal rows encode differently: %q, %q", rows[0], rows[2])
	}
	for _, p := range [][2]int{{0, 1}, {0, 3}, {2, 3}} {
		if string(rows[p[0]]) == string(rows[p[1]]) {
			t.Errorf("rows %d and %d differ but encode to the same %q", p[0], p[1], rows[p[0]])
		}
	}
}
