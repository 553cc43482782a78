package pulsar

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/catalog"
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

// TestUpsertScanKeepsOrder: scans that fold an upsert table read each
// partition in order (segment_split off, whatever the session says).
func TestUpsertScanKeepsOrder(t *testing.T) {
	sch := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
	tb := &Table{schema: sch, def: catalog.TableDef{PrimaryKey: []string{"id"}}}
	flag := tb.metaIndex(metaTombstone)
	req := tb.upsertScanRequest(catalog.ScanRequest{Columns: []int{0, flag}, Options: map[string]string{"SEGMENT_SPLIT": "true", "batch_size": "5"}})
	if req.Options["segment_split"] != "false" || req.Options["SEGMENT_SPLIT"] != "" || req.Options["batch_size"] != "5" {
		t.Fatalf("options %v", req.Options)
	}
	// Other scans keep their options.
	plain := tb.upsertScanRequest(catalog.ScanRequest{Columns: []int{0}, Options: map[string]string{"segment_split": "true"}})
	if plain.Options["segment_split"] != "true" {
		t.Fatalf("options %v", plain.Options)
	}
	tb.def.PrimaryKey = nil
	if r := tb.upsertScanRequest(catalog.ScanRequest{Columns: []int{0, flag}, Options: map[string]string{"segment_split": "true"}}); r.Options["segment_split"] != "true" {
		t.Fatalf("options %v", r.Options)
	}
}
