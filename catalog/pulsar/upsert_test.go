package pulsar

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestTombstoneRows: a tombstone's row has the primary-key columns parsed
// from the message key in the sink's format (one column: its text;
// several: a JSON array of texts) and NULL elsewhere; keys that do not
// parse, or columns of types the format does not round-trip, read NULL.
func TestTombstoneRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	target := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "Region", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "v", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "on", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}, nil)
	cases := []struct {
		pk   []string
		keys []string
		want []string
	}{
		{[]string{"id"}, []string{"42", "x", ""}, []string{"42 NULL NULL NULL", "NULL NULL NULL NULL", "NULL NULL NULL NULL"}},
		{[]string{"region", "id"}, []string{`["eu","7"]`, `["us",null]`, `["eu"]`, "7"},
			[]string{"7 eu NULL NULL", "NULL us NULL NULL", "NULL NULL NULL NULL", "NULL NULL NULL NULL"}},
		{[]string{"v", "on"}, []string{`["1.5","true"]`}, []string{"NULL NULL 1.5 true"}},
		{[]string{"missing"}, []string{"1"}, []string{"NULL NULL NULL NULL"}},
	}
	for _, tc := range cases {
		d := newTombstoneDecoder(target, tc.pk)
		b := array.NewRecordBuilder(mem, target)
		for _, k := range tc.keys {
			d.key = k
			if err := d.Append(b, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		rec := b.NewRecordBatch()
		b.Release()
		for i, want := range tc.want {
			cells := make([]string, rec.NumCols())
			for c := range cells {
				cells[c] = rec.Column(c).ValueStr(i)
				if rec.Column(c).IsNull(i) {
					cells[c] = "NULL"
				}
			}
			if got := strings.Join(cells, " "); got != want {
				t.Errorf("pk %v key %q: got %q, want %q", tc.pk, tc.keys[i], got, want)
			}
		}
		rec.Release()
	}
}
