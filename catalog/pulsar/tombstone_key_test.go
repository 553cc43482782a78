package pulsar

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestTombstoneEmptyKey: a tombstone whose message has an empty key (the
// metadata's partition_key present but "", as Java's key("") writes it)
// deletes the empty string; one without a key has NULL key columns (the
// fold cannot tell what it deletes). An empty key parses only as text.
func TestTombstoneEmptyKey(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	target := arrow.NewSchema([]arrow.Field{
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	cases := []struct {
		pk     []string
		hasKey bool
		want   string
	}{
		{[]string{"name"}, true, `"" NULL`},
		{[]string{"name"}, false, "NULL NULL"},
		{[]string{"id"}, true, "NULL NULL"},
		{[]string{"name", "id"}, true, "NULL NULL"},
	}
	for _, tc := range cases {
		d := newTombstoneDecoder(target, tc.pk)
		d.key, d.hasKey = "", tc.hasKey
		b := array.NewRecordBuilder(mem, target)
		if err := d.Append(b, nil, nil); err != nil {
			t.Fatal(err)
		}
		rec := b.NewRecordBatch()
		b.Release()
		got := ""
		for c := range int(rec.NumCols()) {
			cell := "NULL"
			if rec.Column(c).IsValid(0) {
				cell = `"` + rec.Column(c).ValueStr(0) + `"`
			}
			if c > 0 {
				got += " "
			}
			got += cell
		}
		rec.Release()
		if got != tc.want {
			t.Errorf("pk %v hasKey %v: got %s, want %s", tc.pk, tc.hasKey, got, tc.want)
		}
	}
}
