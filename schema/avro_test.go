package schema

import (
	"bytes"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/linkedin/goavro/v2"
)

const allTypesSchema = `{"type":"record","name":"All","namespace":"t","fields":[
 {"name":"b","type":"boolean"},
 {"name":"i","type":"int"},
 {"name":"l","type":"long"},
 {"name":"f","type":"float"},
 {"name":"d","type":"double"},
 {"name":"s","type":"string"},
 {"name":"by","type":"bytes"},
 {"name":"e","type":{"type":"enum","name":"Color","symbols":["RED","GREEN"]}},
 {"name":"fx","type":{"type":"fixed","name":"F4","size":4}},
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"tsu","type":{"type":"long","logicalType":"timestamp-micros"}},
 {"name":"dt","type":{"type":"int","logicalType":"date"}},
 {"name":"tm","type":{"type":"int","logicalType":"time-millis"}},
 {"name":"tmu","type":{"type":"long","logicalType":"time-micros"}},
 {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
 {"name":"decf","type":{"type":"fixed","name":"D8","size":8,"logicalType":"decimal","precision":18,"scale":3}},
 {"name":"u","type":{"type":"string","logicalType":"uuid"}},
 {"name":"js","type":{"type":"string","magnetar.type":"json"}},
 {"name":"n1","type":["null","long"]},
 {"name":"n2","type":["string","null"]}
]}`

func TestAvroToArrowTypes(t *testing.T) {
	s, err := ToArrow(Info{Type: "AVRO", Schema: []byte(allTypesSchema)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		dt       arrow.DataType
		nullable bool
	}{
		"b": {arrow.FixedWidthTypes.Boolean, false}, "i": {arrow.PrimitiveTypes.Int32, false},
		"l": {arrow.PrimitiveTypes.Int64, false}, "f": {arrow.PrimitiveTypes.Float32, false},
		"d": {arrow.PrimitiveTypes.Float64, false}, "s": {arrow.BinaryTypes.String, false},
		"by": {arrow.BinaryTypes.Binary, false}, "e": {arrow.BinaryTypes.String, false},
		"fx":   {&arrow.FixedSizeBinaryType{ByteWidth: 4}, false},
		"ts":   {arrow.FixedWidthTypes.Timestamp_us, false},
		"tsu":  {arrow.FixedWidthTypes.Timestamp_us, false},
		"dt":   {arrow.FixedWidthTypes.Date32, false},
		"tm":   {arrow.FixedWidthTypes.Time64us, false},
		"tmu":  {arrow.FixedWidthTypes.Time64us, false},
		"dec":  {&arrow.Decimal128Type{Precision: 10, Scale: 2}, false},
		"decf": {&arrow.Decimal128Type{Precision: 18, Scale: 3}, false},
		"u":    {arrow.BinaryTypes.String, false}, "js": {arrow.BinaryTypes.String, false},
		"n1": {arrow.PrimitiveTypes.Int64, true}, "n2": {arrow.BinaryTypes.String, true},
	}
	if s.NumFields() != len(want) {
		t.Fatalf("got %d fields, want %d: %s", s.NumFields(), len(want), s)
	}
	for _, f := range s.Fields() {
		w, ok := want[f.Name]
		if !ok {
			t.Errorf("unexpected field %s", f.Name)
			continue
		}
		if !arrow.TypeEqual(f.Type, w.dt) || f.Nullable != w.nullable {
			t.Errorf("field %s: got %s nullable=%v, want %s nullable=%v", f.Name, f.Type, f.Nullable, w.dt, w.nullable)
		}
	}
	js, _ := s.FieldsByName("js")
	if v, ok := js[0].Metadata.GetValue(MetaType); !ok || v != "json" {
		t.Errorf("js metadata = %v, want magnetar.type=json", js[0].Metadata)
	}
	if ts := s.Field(9).Type.(*arrow.TimestampType); ts.TimeZone != "UTC" || ts.Unit != arrow.Microsecond {
		t.Errorf("timestamp type %s", ts)
	}
}

func TestAvroDecodeAllTypes(t *testing.T) {
	mem := checkedMem(t)
	info := Info{Type: "AVRO", Schema: []byte(allTypesSchema)}
	target, err := ToArrow(info)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2024, 3, 5, 10, 11, 12, 345_000_000, time.UTC)
	tsu := time.Date(1969, 12, 31, 23, 59, 59, 999_999_000, time.UTC) // before the epoch
	day := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
	rows := []map[string]any{
		{
			"b": true, "i": int32(-7), "l": int64(1) << 40, "f": float32(1.5), "d": 2.25, "s": "héllo",
			"by": []byte{0, 1, 2}, "e": "GREEN", "fx": []byte("abcd"), "ts": ts, "tsu": tsu, "dt": day,
			"tm":  13*time.Hour + 14*time.Minute + 15*time.Second + 16*time.Millisecond,
			"tmu": time.Hour + 2*time.Microsecond, "dec": big.NewRat(-12345, 100),
			"decf": big.NewRat(9876543210123, 1000), "u": "123e4567-e89b-12d3-a456-426614174000",
			"js": `{"a":1}`, "n1": goavro.Union("long", int64(42)), "n2": nil,
		},
		{
			"b": false, "i": int32(2147483647), "l": int64(-1), "f": float32(-0.25), "d": -1e300, "s": "",
			"by": []byte{}, "e": "RED", "fx": []byte{0xff, 0, 0xff, 0}, "ts": time.UnixMilli(0).UTC(),
			"tsu": time.UnixMicro(1).UTC(), "dt": time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC),
			"tm": time.Duration(0), "tmu": 23*time.Hour + 59*time.Minute, "dec": big.NewRat(1, 100),
			"decf": big.NewRat(-1, 1000), "u": "00000000-0000-0000-0000-000000000000",
			"js": `[]`, "n1": nil, "n2": goavro.Union("string", "x"),
		},
	}
	rec := decodeRows(t, mem, info, target, avroEncode(t, allTypesSchema, rows...)...)
	defer rec.Release()
	if rec.NumRows() != 2 {
		t.Fatalf("rows = %d", rec.NumRows())
	}

	if b := col[*array.Boolean](t, rec, "b"); !b.Value(0) || b.Value(1) {
		t.Errorf("b = %v", b)
	}
	if a := col[*array.Int32](t, rec, "i"); a.Value(0) != -7 || a.Value(1) != 2147483647 {
		t.Errorf("i = %v", a)
	}
	if a := col[*array.Int64](t, rec, "l"); a.Value(0) != 1<<40 || a.Value(1) != -1 {
		t.Errorf("l = %v", a)
	}
	if a := col[*array.Float32](t, rec, "f"); a.Value(0) != 1.5 || a.Value(1) != -0.25 {
		t.Errorf("f = %v", a)
	}
	if a := col[*array.Float64](t, rec, "d"); a.Value(0) != 2.25 || a.Value(1) != -1e300 {
		t.Errorf("d = %v", a)
	}
	if a := col[*array.String](t, rec, "s"); a.Value(0) != "héllo" || a.Value(1) != "" {
		t.Errorf("s = %v", a)
	}
	if a := col[*array.Binary](t, rec, "by"); !bytes.Equal(a.Value(0), []byte{0, 1, 2}) || len(a.Value(1)) != 0 || a.IsNull(1) {
		t.Errorf("by = %v", a)
	}
	if a := col[*array.String](t, rec, "e"); a.Value(0) != "GREEN" || a.Value(1) != "RED" {
		t.Errorf("e = %v", a)
	}
	if a := col[*array.FixedSizeBinary](t, rec, "fx"); string(a.Value(0)) != "abcd" || !bytes.Equal(a.Value(1), []byte{0xff, 0, 0xff, 0}) {
		t.Errorf("fx = %v", a)
	}
	if a := col[*array.Timestamp](t, rec, "ts"); a.Value(0) != arrow.Timestamp(ts.UnixMicro()) || a.Value(1) != 0 {
		t.Errorf("ts = %v, want %d", a, ts.UnixMicro())
	}
	if a := col[*array.Timestamp](t, rec, "tsu"); a.Value(0) != arrow.Timestamp(tsu.UnixMicro()) || a.Value(1) != 1 {
		t.Errorf("tsu = %v", a)
	}
	if a := col[*array.Date32](t, rec, "dt"); a.Value(0) != arrow.Date32FromTime(day) || a.Value(1) != arrow.Date32(-25567) {
		t.Errorf("dt = %v", a)
	}
	wantTm := (13*time.Hour + 14*time.Minute + 15*time.Second + 16*time.Millisecond).Microseconds()
	if a := col[*array.Time64](t, rec, "tm"); a.Value(0) != arrow.Time64(wantTm) || a.Value(1) != 0 {
		t.Errorf("tm = %v", a)
	}
	if a := col[*array.Time64](t, rec, "tmu"); a.Value(0) != arrow.Time64((time.Hour+2*time.Microsecond).Microseconds()) || a.Value(1) != arrow.Time64((23*time.Hour+59*time.Minute).Microseconds()) {
		t.Errorf("tmu = %v", a)
	}
	if a := col[*array.Decimal128](t, rec, "dec"); a.Value(0) != decimal128.FromI64(-12345) || a.Value(1) != decimal128.FromI64(1) {
		t.Errorf("dec = %v", a)
	}
	if a := col[*array.Decimal128](t, rec, "decf"); a.Value(0) != decimal128.FromI64(9876543210123) || a.Value(1) != decimal128.FromI64(-1) {
		t.Errorf("decf = %v", a)
	}
	if a := col[*array.String](t, rec, "u"); a.Value(0) != "123e4567-e89b-12d3-a456-426614174000" {
		t.Errorf("u = %v", a)
	}
	if a := col[*array.String](t, rec, "js"); a.Value(0) != `{"a":1}` || a.Value(1) != "[]" {
		t.Errorf("js = %v", a)
	}
	if a := col[*array.Int64](t, rec, "n1"); a.IsNull(0) || a.Value(0) != 42 || !a.IsNull(1) {
		t.Errorf("n1 = %v", a)
	}
	if a := col[*array.String](t, rec, "n2"); !a.IsNull(0) || a.IsNull(1) || a.Value(1) != "x" {
		t.Errorf("n2 = %v", a)
	}
}

const nestedSchema = `{"type":"record","name":"Order","fields":[
 {"name":"id","type":"long"},
 {"name":"customer","type":{"type":"record","name":"Customer","fields":[
   {"name":"name","type":"string"},
   {"name":"address","type":["null",{"type":"record","name":"Address","fields":[
     {"name":"city","type":"string"},{"name":"zip","type":["null","int"]}]}]}]}},
 {"name":"tags","type":{"type":"array","items":"string"}},
 {"name":"lines","type":{"type":"array","items":{"type":"record","name":"Line","fields":[
   {"name":"sku","type":"string"},{"name":"qty","type":"int"}]}}},
 {"name":"attrs","type":{"type":"map","values":["null","double"]}},
 {"name":"matrix","type":["null",{"type":"array","items":{"type":"array","items":"long"}}]},
 {"name":"billing","type":["null","Address"]}
]}`

func TestAvroDecodeNested(t *testing.T) {
	mem := checkedMem(t)
	info := Info{Type: "AVRO", Schema: []byte(nestedSchema)}
	target, err := ToArrow(info)
	if err != nil {
		t.Fatal(err)
	}
	rows := []map[string]any{
		{
			"id": int64(1),
			"customer": map[string]any{"name": "ann", "address": goavro.Union("Address",
				map[string]any{"city": "Oslo", "zip": goavro.Union("int", int32(150))})},
			"tags":    []any{"a", "b"},
			"lines":   []any{map[string]any{"sku": "x", "qty": int32(2)}, map[string]any{"sku": "y", "qty": int32(3)}},
			"attrs":   map[string]any{"w": goavro.Union("double", 1.5)},
			"matrix":  goavro.Union("array", []any{[]any{int64(1), int64(2)}, []any{}}),
			"billing": nil,
		},
		{
			"id":       int64(2),
			"customer": map[string]any{"name": "bob", "address": nil},
			"tags":     []any{},
			"lines":    []any{},
			"attrs":    map[string]any{"n": nil},
			"matrix":   nil,
			"billing":  goavro.Union("Address", map[string]any{"city": "Rome", "zip": nil}),
		},
	}
	rec := decodeRows(t, mem, info, target, avroEncode(t, nestedSchema, rows...)...)
	defer rec.Release()
	checks := map[string]string{
		"id":       `[1,2]`,
		"customer": `[{"address":{"city":"Oslo","zip":150},"name":"ann"},{"address":null,"name":"bob"}]`,
		"tags":     `[["a","b"],[]]`,
		"lines":    `[[{"qty":2,"sku":"x"},{"qty":3,"sku":"y"}],[]]`,
		"attrs":    `[[{"key":"w","value":1.5}],[{"key":"n","value":null}]]`,
		"matrix":   `[[[1,2],[]],null]`,
		"billing":  `[null,{"city":"Rome","zip":null}]`,
	}
	for name, want := range checks {
		if got := colJSON(t, rec, name); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
}

// Evolution: three writer versions of one record decoded into the table schema of the latest.
func TestAvroEvolution(t *testing.T) {
	mem := checkedMem(t)
	v1 := `{"type":"record","name":"Ev","fields":[{"name":"id","type":"int"},{"name":"old","type":"string"}]}`
	v2 := `{"type":"record","name":"Ev","fields":[{"name":"id","type":"long"},{"name":"old","type":"string"},
	  {"name":"score","type":"float","default":0}]}`
	v3 := `{"type":"record","name":"Ev","fields":[{"name":"name","type":"string","default":"anon"},
	  {"name":"id","type":"long"},{"name":"score","type":"double","default":0.5},
	  {"name":"note","type":["null","string"],"default":null}]}`
	target, err := ToArrow(Info{Type: "AVRO", Schema: []byte(v3)})
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, target)
	defer b.Release()
	for _, c := range []struct {
		schema string
		row    map[string]any
	}{
		{v1, map[string]any{"id": int32(1), "old": "x"}},
		{v2, map[string]any{"id": int64(2), "old": "y", "score": float32(2.5)}},
		{v3, map[string]any{"name": "zed", "id": int64(3), "score": 3.25, "note": goavro.Union("string", "hi")}},
	} {
		dec, err := NewDecoder(Info{Type: "AVRO", Schema: []byte(c.schema)}, target)
		if err != nil {
			t.Fatal(err)
		}
		if err := dec.Append(b, nil, avroEncode(t, c.schema, c.row)[0]); err != nil {
			t.Fatal(err)
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	checks := map[string]string{
		"name":  `["anon","anon","zed"]`,
		"id":    `[1,2,3]`,
		"score": `[0.5,2.5,3.25]`,
		"note":  `[null,null,"hi"]`,
	}
	for name, want := range checks {
		if got := colJSON(t, rec, name); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	// A writer type that cannot be promoted is rejected when compiling.
	bad := `{"type":"record","name":"Ev","fields":[{"name":"id","type":"string"}]}`
	if _, err := NewDecoder(Info{Type: "AVRO", Schema: []byte(bad)}, target); err == nil || !strings.Contains(err.Error(), "id") {
		t.Errorf("incompatible writer: err = %v", err)
	}
}

const unionSchema = `{"type":"record","name":"Un","fields":[
 {"name":"u","type":["null","int","string",{"type":"record","name":"P","fields":[{"name":"x","type":"long"}]}]},
 {"name":"v","type":["long","string"]}]}`

func TestAvroDenseUnion(t *testing.T) {
	mem := checkedMem(t)
	info := Info{Type: "AVRO", Schema: []byte(unionSchema)}
	target, err := ToArrow(info)
	if err != nil {
		t.Fatal(err)
	}
	ut, ok := target.Field(0).Type.(*arrow.DenseUnionType)
	if !ok || !target.Field(0).Nullable || target.Field(1).Nullable {
		t.Fatalf("schema %s", target)
	}
	var names []string
	for _, f := range ut.Fields() {
		names = append(names, f.Name)
	}
	if strings.Join(names, ",") != "int,string,P" {
		t.Errorf("union children %v", names)
	}
	rows := []map[string]any{
		{"u": goavro.Union("int", int32(5)), "v": goavro.Union("long", int64(1))},
		{"u": nil, "v": goavro.Union("string", "s")},
		{"u": goavro.Union("P", map[string]any{"x": int64(7)}), "v": goavro.Union("long", int64(-1))},
		{"u": goavro.Union("string", "t"), "v": goavro.Union("string", "")},
	}
	payloads := avroEncode(t, unionSchema, rows...)
	rec := decodeRows(t, mem, info, target, payloads...)
	defer rec.Release()
	u := rec.Column(0).(*array.DenseUnion)
	v := rec.Column(1).(*array.DenseUnion)
	valueOf := func(a *array.DenseUnion, i int) string {
		child := a.Field(a.ChildID(i))
		off := int(a.ValueOffset(i))
		if child.IsNull(off) {
			return "null"
		}
		return a.UnionType().Fields()[a.ChildID(i)].Name + ":" + child.ValueStr(off)
	}
	wantU := []string{"int:5", "null", `P:{"x":7}`, "string:t"}
	wantV := []string{"long:1", "string:s", "long:-1", "string:"}
	for i := range rows {
		if got := valueOf(u, i); got != wantU[i] {
			t.Errorf("u[%d] = %s, want %s", i, got, wantU[i])
		}
		if got := valueOf(v, i); got != wantV[i] {
			t.Errorf("v[%d] = %s, want %s", i, got, wantV[i])
		}
	}
	// Written back byte for byte, and through FromArrow to the same Arrow types.
	again, out := roundTrip(t, mem, info, rec, false)
	defer again.Release()
	for i := range out {
		if !bytes.Equal(out[i], payloads[i]) {
			t.Errorf("row %d: encoded %x, goavro %x", i, out[i], payloads[i])
		}
	}
	derived, err := FromArrow(target, "Un")
	if err != nil {
		t.Fatal(err)
	}
	back, err := ToArrow(derived)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(target) {
		t.Errorf("ToArrow(FromArrow) = %s, want %s", back, target)
	}

	// Unions that cannot be told apart by branch name stay unsupported, naming the field.
	s := `{"type":"record","name":"U","fields":[{"name":"x","type":[
	  {"type":"record","name":"a.X","fields":[]},{"type":"record","name":"b.X","fields":[]}]}]}`
	if _, err := ToArrow(Info{Type: "AVRO", Schema: []byte(s)}); err == nil || !strings.Contains(err.Error(), "unsupported union") || !strings.Contains(err.Error(), "field x") {
		t.Fatalf("err = %v", err)
	}
	// A writer field with such a union is fine when the target does not read it.
	target2 := arrow.NewSchema([]arrow.Field{{Name: "y", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	s2 := `{"type":"record","name":"U","fields":[{"name":"x","type":["int","string","null"]},{"name":"y","type":"long"}]}`
	rec2 := decodeRows(t, mem, Info{Type: "AVRO", Schema: []byte(s2)}, target2,
		avroEncode(t, s2, map[string]any{"x": goavro.Union("string", "s"), "y": int64(9)},
			map[string]any{"x": goavro.Union("int", int32(1)), "y": int64(10)})...)
	defer rec2.Release()
	if got := colJSON(t, rec2, "y"); got != `[9,10]` {
		t.Errorf("y = %s", got)
	}
}

// Every truncation and some corruptions of a valid payload must return an error and leave the
// builder exactly as it was.
func TestAvroCorruptIsAtomic(t *testing.T) {
	mem := checkedMem(t)
	info := Info{Type: "AVRO", Schema: []byte(nestedSchema)}
	target, err := ToArrow(info)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewDecoder(info, target)
	if err != nil {
		t.Fatal(err)
	}
	good := avroEncode(t, nestedSchema, map[string]any{
		"id": int64(7), "customer": map[string]any{"name": "c", "address": nil},
		"tags": []any{"t"}, "lines": []any{map[string]any{"sku": "s", "qty": int32(1)}},
		"attrs": map[string]any{}, "matrix": nil, "billing": nil,
	})[0]
	b := array.NewRecordBuilder(mem, target)
	defer b.Release()
	if err := dec.Append(b, nil, good); err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(good); n++ {
		if err := dec.Append(b, nil, good[:n]); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
	if err := dec.Append(b, nil, append(append([]byte{}, good...), 0)); err == nil {
		t.Errorf("trailing byte: no error")
	}
	bad := append([]byte{}, good...)
	bad[len(bad)-1] = 9 // billing union index out of range
	if err := dec.Append(b, nil, bad); err == nil || !strings.Contains(err.Error(), "billing") {
		t.Errorf("bad union index: err = %v", err)
	}
	for i, bb := range b.Fields() {
		if bb.Len() != 1 {
			t.Errorf("column %d has %d rows after errors, want 1", i, bb.Len())
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	if got := colJSON(t, rec, "lines"); got != `[[{"qty":1,"sku":"s"}]]` {
		t.Errorf("lines = %s", got)
	}
}

func TestAvroTopLevelPrimitive(t *testing.T) {
	mem := checkedMem(t)
	info := Info{Type: "AVRO", Schema: []byte(`"string"`)}
	target, err := ToArrow(info)
	if err != nil {
		t.Fatal(err)
	}
	if target.NumFields() != 1 || target.Field(0).Name != "value" || target.Field(0).Type.ID() != arrow.STRING {
		t.Fatalf("schema %s", target)
	}
	codec, _ := goavro.NewCodec(`"string"`)
	p, _ := codec.BinaryFromNative(nil, "abc")
	rec := decodeRows(t, mem, info, target, p)
	defer rec.Release()
	if got := colJSON(t, rec, "value"); got != `["abc"]` {
		t.Errorf("value = %s", got)
	}
}

// Pulsar's Java client derives schemas of nested classes with '$' in their names.
func TestAvroJavaNestedClassNames(t *testing.T) {
	def := `{"type":"record","name":"Order$Line","namespace":"com.example.App$","fields":[
	  {"name":"sku","type":"string"},
	  {"name":"sub","type":["null",{"type":"record","name":"Inner$X","fields":[{"name":"n","type":"int"}]}],"default":null},
	  {"name":"again","type":["null","Inner$X"],"default":null}]}`
	s, err := ToArrow(Info{Type: "AVRO", Schema: []byte(def)})
	if err != nil {
		t.Fatal(err)
	}
	if s.NumFields() != 3 || s.Field(2).Type.ID() != arrow.STRUCT {
		t.Errorf("schema %s", s)
	}
}

// Evolution inside nested records, arrays and maps (the general path).
func TestAvroNestedEvolution(t *testing.T) {
	mem := checkedMem(t)
	v1 := `{"type":"record","name":"E","fields":[
	  {"name":"id","type":"long"},
	  {"name":"who","type":{"type":"record","name":"Who","fields":[{"name":"name","type":"string"},{"name":"age","type":"int"}]}},
	  {"name":"items","type":{"type":"array","items":{"type":"record","name":"It","fields":[{"name":"sku","type":"string"},{"name":"old","type":"bytes"}]}}},
	  {"name":"m","type":{"type":"map","values":"int"}}]}`
	v2 := `{"type":"record","name":"E","fields":[
	  {"name":"id","type":"long"},
	  {"name":"who","type":{"type":"record","name":"Who","fields":[{"name":"name","type":"string"},
	    {"name":"age","type":"long"},{"name":"email","type":["null","string"],"default":null}]}},
	  {"name":"items","type":{"type":"array","items":{"type":"record","name":"It","fields":[{"name":"sku","type":"string"},
	    {"name":"qty","type":"int","default":1}]}}},
	  {"name":"m","type":{"type":"map","values":"double"}}]}`
	target, err := ToArrow(Info{Type: "AVRO", Schema: []byte(v2)})
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, target)
	defer b.Release()
	for _, c := range []struct {
		schema string
		row    map[string]any
	}{
		{v1, map[string]any{"id": int64(1), "who": map[string]any{"name": "a", "age": int32(30)},
			"items": []any{map[string]any{"sku": "s1", "old": []byte{9}}}, "m": map[string]any{"k": int32(2)}}},
		{v2, map[string]any{"id": int64(2), "who": map[string]any{"name": "b", "age": int64(40), "email": goavro.Union("string", "e")},
			"items": []any{map[string]any{"sku": "s2", "qty": int32(5)}}, "m": map[string]any{"k": 0.5}}},
	} {
		dec, err := NewDecoder(Info{Type: "AVRO", Schema: []byte(c.schema)}, target)
		if err != nil {
			t.Fatal(err)
		}
		if err := dec.Append(b, nil, avroEncode(t, c.schema, c.row)[0]); err != nil {
			t.Fatal(err)
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	for name, want := range map[string]string{
		"who":   `[{"age":30,"email":null,"name":"a"},{"age":40,"email":"e","name":"b"}]`,
		"items": `[[{"qty":1,"sku":"s1"}],[{"qty":5,"sku":"s2"}]]`,
		"m":     `[[{"key":"k","value":2}],[{"key":"k","value":0.5}]]`,
	} {
		if got := colJSON(t, rec, name); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
}

func TestDecoderSet(t *testing.T) {
	mem := checkedMem(t)
	v1 := `{"type":"record","name":"E","fields":[{"name":"id","type":"int"}]}`
	v2 := `{"type":"record","name":"E","fields":[{"name":"id","type":"long"},{"name":"tag","type":["null","string"],"default":null}]}`
	target, err := ToArrow(Info{Type: "AVRO", Schema: []byte(v2)})
	if err != nil {
		t.Fatal(err)
	}
	fetches := 0
	set := NewDecoderSet(target, func(version []byte) (Info, error) {
		fetches++
		switch string(version) {
		case "\x00\x01":
			return Info{Type: "AVRO", Schema: []byte(v1)}, nil
		case "\x00\x02":
			return Info{Type: "AVRO", Schema: []byte(v2)}, nil
		}
		return Info{}, fmt.Errorf("no version %x", version)
	})
	b := array.NewRecordBuilder(mem, target)
	defer b.Release()
	bb := NewBatchBuilder(mem, target)
	defer bb.Release()
	for _, m := range []struct {
		version, payload []byte
	}{
		{[]byte{0, 1}, avroEncode(t, v1, map[string]any{"id": int32(1)})[0]},
		{[]byte{0, 2}, avroEncode(t, v2, map[string]any{"id": int64(2), "tag": goavro.Union("string", "x")})[0]},
		{[]byte{0, 1}, avroEncode(t, v1, map[string]any{"id": int32(3)})[0]},
	} {
		if err := set.Append(b, m.version, nil, m.payload); err != nil {
			t.Fatal(err)
		}
		if err := set.AppendBatch(bb, m.version, nil, m.payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := set.AppendBatch(bb, []byte{9}, nil, []byte{2}); err == nil || bb.Len() != 3 {
		t.Errorf("unknown version in a batch: err = %v, %d rows", err, bb.Len())
	}
	batch := bb.NewRecordBatch()
	defer batch.Release()
	if got := colJSON(t, batch, "id") + colJSON(t, batch, "tag"); got != `[1,2,3][null,"x",null]` {
		t.Errorf("batch got %s", got)
	}
	if err := set.Append(b, []byte{9}, nil, []byte{2}); err == nil {
		t.Error("unknown version: no error")
	}
	if fetches != 4 {
		t.Errorf("fetched %d times, want 4 (one per distinct version, and the unknown one each time)", fetches)
	}
	rec := b.NewRecord()
	defer rec.Release()
	if got := colJSON(t, rec, "id") + colJSON(t, rec, "tag"); got != `[1,2,3][null,"x",null]` {
		t.Errorf("got %s", got)
	}
}
