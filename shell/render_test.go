package shell

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
)

// row is a test row: one Go value per column, nil for NULL.
type row []any

// buildRecord builds a record of schema from Go values (int64, float64,
// string, bool, time.Time for timestamps, decimal128.Num, []byte).
func buildRecord(t testing.TB, mem memory.Allocator, schema *arrow.Schema, rows []row) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for _, r := range rows {
		for c, v := range r {
			fb := b.Field(c)
			if v == nil {
				fb.AppendNull()
				continue
			}
			switch fb := fb.(type) {
			case *array.Int64Builder:
				fb.Append(int64(v.(int)))
			case *array.Float64Builder:
				fb.Append(v.(float64))
			case *array.StringBuilder:
				fb.Append(v.(string))
			case *array.BooleanBuilder:
				fb.Append(v.(bool))
			case *array.TimestampBuilder:
				fb.Append(arrow.Timestamp(v.(time.Time).UnixMicro()))
			case *array.Decimal128Builder:
				fb.Append(v.(decimal128.Num))
			case *array.BinaryBuilder:
				fb.Append(v.([]byte))
			case *array.Date32Builder:
				fb.Append(arrow.Date32FromTime(v.(time.Time)))
			default:
				t.Fatalf("buildRecord: unsupported builder %T", fb)
			}
		}
	}
	return b.NewRecordBatch()
}

func checkedMem(t *testing.T) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

// render runs batches (with optional ops) through a renderer.
func render(t *testing.T, opts RenderOptions, schema *arrow.Schema, batches []exec.Batch) (string, error) {
	t.Helper()
	var out bytes.Buffer
	r := NewRenderer(&out, opts)
	if err := r.Begin(schema); err != nil {
		return out.String(), err
	}
	for _, b := range batches {
		if err := r.Write(b); err != nil {
			return out.String(), err
		}
	}
	err := r.End(1500*time.Microsecond, nil)
	return out.String(), err
}

var peopleSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}, nil)

func TestCSVQuotingAndNulls(t *testing.T) {
	mem := checkedMem(t)
	rec := buildRecord(t, mem, peopleSchema, []row{
		{1, "plain", 1.5},
		{2, `say "hi", ok`, nil},
		{nil, "two\nlines", 0.1},
		{4, nil, 1e20},
	})
	defer rec.Release()
	got, err := render(t, RenderOptions{Format: FormatCSV}, peopleSchema, []exec.Batch{{Rec: rec}})
	if err != nil {
		t.Fatal(err)
	}
	want := "id,name,score\n" +
		"1,plain,1.5\n" +
		`2,"say ""hi"", ok",` + "\n" +
		`,"two` + "\n" + `lines",0.1` + "\n" +
		"4,,1e20\n"
	if got != want {
		t.Errorf("csv:\n%s\nwant:\n%s", got, want)
	}
}

func TestCSVChangelogAndRetractionError(t *testing.T) {
	mem := checkedMem(t)
	rec := buildRecord(t, mem, peopleSchema, []row{{1, "a", 1.0}, {1, "b", 2.0}})
	defer rec.Release()
	b := exec.Batch{Rec: rec, Ops: []exec.ChangeKind{exec.UpdateBefore, exec.UpdateAfter}}
	got, err := render(t, RenderOptions{Format: FormatCSV, Changelog: true}, peopleSchema, []exec.Batch{b})
	if err != nil {
		t.Fatal(err)
	}
	if want := "op,id,name,score\n-U,1,a,1\n+U,1,b,2\n"; got != want {
		t.Errorf("changelog csv = %q, want %q", got, want)
	}
	_, err = render(t, RenderOptions{Format: FormatCSV}, peopleSchema, []exec.Batch{b})
	if !errors.Is(err, ErrRetraction) {
		t.Errorf("csv without changelog on retraction: err = %v, want ErrRetraction", err)
	}
}

func TestJSONTypes(t *testing.T) {
	mem := checkedMem(t)
	jsonMeta := arrow.NewMetadata([]string{"magnetar.type"}, []string{"json"})
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "d", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "doc", Type: arrow.BinaryTypes.String, Nullable: true, Metadata: jsonMeta},
		{Name: "raw", Type: arrow.BinaryTypes.Binary, Nullable: true},
	}, nil)
	ts := time.Date(2024, 1, 2, 3, 4, 5, 123000000, time.UTC)
	rec := buildRecord(t, mem, schema, []row{
		{7, 2.5, decimal128.FromI64(12345), `q"uote`, true, ts, ts, `{"a":[1,2]}`, []byte("hi")},
		{nil, nil, nil, nil, nil, nil, nil, nil, nil},
	})
	defer rec.Release()
	got, err := render(t, RenderOptions{Format: FormatJSON}, schema, []exec.Batch{{Rec: rec}})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), got)
	}
	want0 := `{"i":7,"f":2.5,"d":123.45,"s":"q\"uote","b":true,"ts":"2024-01-02 03:04:05.123000","day":"2024-01-02","doc":{"a":[1,2]},"raw":"aGk="}`
	if lines[0] != want0 {
		t.Errorf("line 1:\n got %s\nwant %s", lines[0], want0)
	}
	want1 := `{"i":null,"f":null,"d":null,"s":null,"b":null,"ts":null,"day":null,"doc":null,"raw":null}`
	if lines[1] != want1 {
		t.Errorf("line 2:\n got %s\nwant %s", lines[1], want1)
	}
	// Numbers must decode as numbers, not strings.
	var obj map[string]any
	dec := json.NewDecoder(strings.NewReader(lines[0]))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		t.Fatalf("line 1 is not JSON: %v", err)
	}
	for _, k := range []string{"i", "f", "d"} {
		if _, ok := obj[k].(json.Number); !ok {
			t.Errorf("%s decoded as %T, want a JSON number", k, obj[k])
		}
	}
}

func TestJSONChangelog(t *testing.T) {
	mem := checkedMem(t)
	schema := arrow.NewSchema([]arrow.Field{{Name: "op", Type: arrow.PrimitiveTypes.Int64}}, nil)
	rec := buildRecord(t, mem, schema, []row{{1}, {2}})
	defer rec.Release()
	got, err := render(t, RenderOptions{Format: FormatJSON, Changelog: true}, schema,
		[]exec.Batch{{Rec: rec, Ops: []exec.ChangeKind{exec.Insert, exec.Delete}}})
	if err != nil {
		t.Fatal(err)
	}
	// The change column yields its name to a result column called op.
	if want := "{\"op_\":\"+I\",\"op\":1}\n{\"op_\":\"-D\",\"op\":2}\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestTableAlignment(t *testing.T) {
	mem := checkedMem(t)
	rec := buildRecord(t, mem, peopleSchema, []row{
		{1, "alice", 10.25},
		{1234, nil, nil},
		{nil, "日本", -3.0},
	})
	defer rec.Release()
	got, err := render(t, RenderOptions{Format: FormatTable}, peopleSchema, []exec.Batch{{Rec: rec}})
	if err != nil {
		t.Fatal(err)
	}
	want := `+--------+---------+--------+
| id     | name    | score  |
| BIGINT | VARCHAR | DOUBLE |
+--------+---------+--------+
|      1 | alice   |  10.25 |
|   1234 | NULL    | NULL   |
| NULL   | 日本    |     -3 |
+--------+---------+--------+
3 rows (1.5 ms)
`
	if got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}

func TestTableTruncatesToWidth(t *testing.T) {
	mem := checkedMem(t)
	long := strings.Repeat("abcdefghij", 10)
	rec := buildRecord(t, mem, peopleSchema, []row{{1, long, 1.0}})
	defer rec.Release()
	got, err := render(t, RenderOptions{Format: FormatTable, Width: 40}, peopleSchema, []exec.Batch{{Rec: rec}})
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		if w := displayWidth(line); w > 40 {
			t.Errorf("line %q is %d cells wide, want ≤ 40", line, w)
		}
	}
	if !strings.Contains(got, "| abcdefghijabcdefg… |") {
		t.Errorf("long value not cut with …:\n%s", got)
	}
}

func TestTableNullColorAndControlChars(t *testing.T) {
	mem := checkedMem(t)
	rec := buildRecord(t, mem, peopleSchema, []row{{nil, "a\tb\nc", nil}})
	defer rec.Release()
	got, err := render(t, RenderOptions{Format: FormatTable, Color: true}, peopleSchema, []exec.Batch{{Rec: rec}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, dimStart+"NULL"+styleReset) {
		t.Errorf("NULL not dimmed on a terminal:\n%q", got)
	}
	if !strings.Contains(got, `a\tb\nc`) {
		t.Errorf("control characters not escaped:\n%s", got)
	}
}

func TestTableFoldsRetractions(t *testing.T) {
	mem := checkedMem(t)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.BinaryTypes.String},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	r1 := buildRecord(t, mem, schema, []row{{"a", 1}, {"b", 1}})
	defer r1.Release()
	r2 := buildRecord(t, mem, schema, []row{{"a", 1}, {"a", 2}, {"b", 1}})
	defer r2.Release()
	batches := []exec.Batch{
		{Rec: r1},
		{Rec: r2, Ops: []exec.ChangeKind{exec.UpdateBefore, exec.UpdateAfter, exec.Delete}},
	}
	got, err := render(t, RenderOptions{Format: FormatTable}, schema, batches)
	if err != nil {
		t.Fatal(err)
	}
	want := `+---------+--------+
| k       | n      |
| VARCHAR | BIGINT |
+---------+--------+
| a       |      2 |
+---------+--------+
1 row (1.5 ms)
`
	if got != want {
		t.Errorf("folded table:\n%s\nwant:\n%s", got, want)
	}
	got, err = render(t, RenderOptions{Format: FormatTable, Changelog: true}, schema, batches)
	if err != nil {
		t.Fatal(err)
	}
	for _, frag := range []string{"| op | k ", "| +I | a ", "| -U | a ", "| +U | a ", "| -D | b ", "5 rows"} {
		if !strings.Contains(got, frag) {
			t.Errorf("changelog table lacks %q:\n%s", frag, got)
		}
	}
}

func TestTableEmptyAndStreaming(t *testing.T) {
	mem := checkedMem(t)
	got, err := render(t, RenderOptions{Format: FormatTable}, peopleSchema, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(got, "| BIGINT | VARCHAR | DOUBLE |\n+--------+---------+--------+\n0 rows (1.5 ms)\n") {
		t.Errorf("empty table:\n%s", got)
	}
	rec := buildRecord(t, mem, peopleSchema, []row{{1, "x", 1.0}})
	defer rec.Release()
	var out bytes.Buffer
	r := NewRenderer(&out, RenderOptions{Format: FormatTable, Streaming: true})
	if err := r.Begin(peopleSchema); err != nil {
		t.Fatal(err)
	}
	if err := r.Write(exec.Batch{Rec: rec}); err != nil {
		t.Fatal(err)
	}
	// Streaming output shows the row before the result ends.
	if !strings.Contains(out.String(), "|      1 | x       |      1 |") {
		t.Errorf("streamed row not written before End:\n%s", out.String())
	}
	if err := r.End(time.Second, context.Canceled); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "1 row before the query stopped") {
		t.Errorf("cancelled stream footer:\n%s", out.String())
	}
}

func TestDrainReleasesBatches(t *testing.T) {
	mem := checkedMem(t)
	rec := buildRecord(t, mem, peopleSchema, []row{{1, "a", 1.0}, {2, "b", 2.0}})
	op := exec.NewValues(peopleSchema, []arrow.RecordBatch{rec})
	rec.Release()
	ctx := context.Background()
	if err := op.Open(ctx); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r := NewRenderer(&out, RenderOptions{Format: FormatCSV})
	if err := Drain(ctx, op, nil, r); err != nil {
		t.Fatal(err)
	}
	if err := op.Close(); err != nil {
		t.Fatal(err)
	}
	if r.Rows() != 2 || out.String() != "id,name,score\n1,a,1\n2,b,2\n" {
		t.Errorf("rows=%d out=%q", r.Rows(), out.String())
	}
}

func TestWidths(t *testing.T) {
	if got := truncate("héllo wörld", 6); got != "héllo…" {
		t.Errorf("truncate = %q", got)
	}
	if got := displayWidth("日本a"); got != 5 {
		t.Errorf("displayWidth = %d", got)
	}
}

func TestNullTypeColumn(t *testing.T) {
	mem := checkedMem(t)
	schema := arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.Null, Nullable: true}}, nil)
	b := array.NewRecordBuilder(mem, schema)
	b.Field(0).AppendNull()
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()
	for format, want := range map[Format]string{FormatCSV: "n\n\n", FormatJSON: "{\"n\":null}\n"} {
		got, err := render(t, RenderOptions{Format: format}, schema, []exec.Batch{{Rec: rec}})
		if err != nil || got != want {
			t.Errorf("%s: got %q (%v), want %q", format, got, err, want)
		}
	}
}
