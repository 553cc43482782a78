package schema

import (
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/linkedin/goavro/v2"
)

const flatSchema = `{"type":"record","name":"Flat","fields":[
 {"name":"l","type":"long"},
 {"name":"i","type":["null","int"]},
 {"name":"s","type":["string","null"]},
 {"name":"by","type":"bytes"},
 {"name":"b","type":["null","boolean"]},
 {"name":"f","type":"float"},
 {"name":"fd","type":"float"},
 {"name":"d","type":["null","double"]},
 {"name":"tsm","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"tsu","type":["null",{"type":"long","logicalType":"timestamp-micros"}]},
 {"name":"dt","type":{"type":"int","logicalType":"date"}},
 {"name":"tm","type":{"type":"int","logicalType":"time-millis"}},
 {"name":"tmu","type":{"type":"long","logicalType":"time-micros"}},
 {"name":"skipped","type":"string"}
]}`

// The flat fast path and the general compiled tree must give identical results.
func TestAvroFlatMatchesGeneral(t *testing.T) {
	mem := checkedMem(t)
	info := Info{Type: "AVRO", Schema: []byte(flatSchema)}
	full, err := ToArrow(info)
	if err != nil {
		t.Fatal(err)
	}
	// The table drops "skipped", reads "fd" as DOUBLE and "i" as BIGINT (flat path: float→double,
	// int→long) and has a column the writer lacks, with a default.
	var fields []arrow.Field
	for _, f := range full.Fields() {
		switch f.Name {
		case "skipped":
			continue
		case "fd":
			f.Type = arrow.PrimitiveTypes.Float64
		case "i":
			f.Type = arrow.PrimitiveTypes.Int64 // int → long promotion
		}
		fields = append(fields, f)
	}
	fields = append(fields, arrow.Field{Name: "extra", Type: arrow.PrimitiveTypes.Int64, Nullable: true,
		Metadata: arrow.MetadataFrom(map[string]string{MetaAvroDefault: "7"})})
	target := arrow.NewSchema(fields, nil)
	payloads := avroEncode(t, flatSchema,
		map[string]any{"l": int64(-1) << 62, "i": goavro.Union("int", int32(-5)), "s": goavro.Union("string", "x"),
			"by": []byte{1}, "b": goavro.Union("boolean", true), "f": float32(0.5), "fd": float32(-1.25),
			"d": goavro.Union("double", 3.5), "tsm": time.UnixMilli(-1001).UTC(),
			"tsu": goavro.Union("long.timestamp-micros", time.UnixMicro(123456789).UTC()),
			"dt":  time.Date(1969, 12, 30, 0, 0, 0, 0, time.UTC), "tm": 1500 * time.Millisecond,
			"tmu": 7 * time.Microsecond, "skipped": "zzz"},
		map[string]any{"l": int64(0), "i": nil, "s": nil, "by": []byte{}, "b": nil, "f": float32(0),
			"fd": float32(0), "d": nil, "tsm": time.UnixMilli(0).UTC(), "tsu": nil,
			"dt": time.Unix(0, 0).UTC(), "tm": time.Duration(0), "tmu": time.Duration(0), "skipped": ""})

	dec, err := NewDecoder(info, target)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := dec.(*decoder).rd.(*avroFlatDecoder); !ok {
		t.Fatalf("flat schema compiled to %T, want the flat path", dec.(*decoder).rd)
	}
	flat := decodeRows(t, mem, info, target, payloads...)
	defer flat.Release()
	forceGeneral = true
	general := decodeRows(t, mem, info, target, payloads...)
	forceGeneral = false
	defer general.Release()
	assertRecordsEqual(t, general, flat)
	for name, want := range map[string]string{
		"l": `[-4611686018427387904,0]`, "i": `[-5,null]`, "s": `["x",null]`, "fd": `[-1.25,0]`,
		"tsm": `["1969-12-31T23:59:58.999Z","1970-01-01T00:00:00Z"]`, "tm": `["00:00:01.5","00:00:00"]`,
		"extra": `[7,7]`,
	} {
		if got := colJSON(t, flat, name); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}

	// Truncations and corruptions of a flat payload leave the builders untouched.
	b := array.NewRecordBuilder(mem, target)
	defer b.Release()
	p := payloads[0]
	for n := 0; n < len(p); n++ {
		if err := dec.Append(b, nil, p[:n]); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
	bad := append([]byte{}, p...)
	bad[len(appendLong(nil, -1<<62))] = 0x08 // union branch 4 of field i does not exist
	if err := dec.Append(b, nil, bad); err == nil || !strings.Contains(err.Error(), "field i") {
		t.Errorf("bad union branch: err = %v", err)
	}
	for i, fb := range b.Fields() {
		if fb.Len() != 0 {
			t.Errorf("column %d has %d rows after errors", i, fb.Len())
		}
	}
}
