package schema

import (
	"bytes"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/linkedin/goavro/v2"
)

// roundTrip encodes every row of rec with info and decodes the payloads again into target.
func roundTrip(t *testing.T, mem memory.Allocator, info Info, rec arrow.Record, keyed bool) (arrow.Record, [][]byte) {
	t.Helper()
	enc, err := NewEncoder(info, rec.Schema())
	if err != nil {
		t.Fatalf("NewEncoder: %v", err)
	}
	dec, err := NewDecoder(info, rec.Schema())
	if err != nil {
		t.Fatalf("NewDecoder: %v", err)
	}
	b := array.NewRecordBuilder(mem, rec.Schema())
	defer b.Release()
	var payloads [][]byte
	for i := 0; i < int(rec.NumRows()); i++ {
		p, err := enc.Encode(rec, i, nil)
		if err != nil {
			t.Fatalf("Encode row %d: %v", i, err)
		}
		var key []byte
		if keyed {
			if key, err = enc.(KeyEncoder).EncodeKey(rec, i, nil); err != nil {
				t.Fatalf("EncodeKey row %d: %v", i, err)
			}
		}
		if err := dec.Append(b, key, p); err != nil {
			t.Fatalf("decode row %d: %v", i, err)
		}
		payloads = append(payloads, p)
	}
	return b.NewRecord(), payloads
}

func assertRecordsEqual(t *testing.T, want, got arrow.Record) {
	t.Helper()
	if !array.RecordEqual(want, got) {
		for i := 0; i < int(want.NumCols()); i++ {
			if !array.Equal(want.Column(i), got.Column(i)) {
				t.Errorf("column %s: want %v, got %v", want.ColumnName(i), want.Column(i), got.Column(i))
			}
		}
		if !t.Failed() {
			t.Errorf("records differ: want %v, got %v", want, got)
		}
	}
}

func TestAvroEncodeRoundTrip(t *testing.T) {
	mem := checkedMem(t)
	for _, c := range []struct {
		name, schema string
		rows         []map[string]any
	}{
		{"bid", bidSchema, []map[string]any{
			{"auction": int64(1000), "bidder": int64(-5), "price": int64(1 << 50), "channel": "Apple",
				"url": "https://x/y", "dateTime": time.UnixMilli(1700000000123).UTC(), "extra": ""},
		}},
		{"all", allTypesSchema, []map[string]any{{
			"b": true, "i": int32(-7), "l": int64(1) << 40, "f": float32(1.5), "d": 2.25, "s": "héllo",
			"by": []byte{0, 1, 2}, "e": "GREEN", "fx": []byte("abcd"), "ts": time.UnixMilli(-1).UTC(),
			"tsu": time.UnixMicro(5).UTC(), "dt": time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
			"tm": 5 * time.Millisecond, "tmu": 7 * time.Microsecond, "dec": big.NewRat(-12345, 100),
			"decf": big.NewRat(-9876543210123, 1000), "u": "u", "js": `{}`, "n1": nil,
			"n2": goavro.Union("string", "x"),
		}, {
			"b": false, "i": int32(0), "l": int64(0), "f": float32(0), "d": 0.0, "s": "",
			"by": []byte{}, "e": "RED", "fx": []byte("wxyz"), "ts": time.UnixMilli(0).UTC(),
			"tsu": time.UnixMicro(0).UTC(), "dt": time.Unix(0, 0).UTC(), "tm": time.Duration(0),
			"tmu": time.Duration(0), "dec": big.NewRat(128, 100), "decf": big.NewRat(1, 1000), "u": "",
			"js": `1`, "n1": goavro.Union("long", int64(-1)), "n2": nil,
		}}},
		{"nested", nestedSchema, []map[string]any{{
			"id": int64(1),
			"customer": map[string]any{"name": "ann", "address": goavro.Union("Address",
				map[string]any{"city": "Oslo", "zip": goavro.Union("int", int32(150))})},
			"tags":    []any{"a", "b"},
			"lines":   []any{map[string]any{"sku": "x", "qty": int32(2)}},
			"attrs":   map[string]any{"w": goavro.Union("double", 1.5)},
			"matrix":  goavro.Union("array", []any{[]any{int64(1), int64(2)}, []any{}}),
			"billing": nil,
		}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			info := Info{Type: "AVRO", Schema: []byte(c.schema)}
			target, err := ToArrow(info)
			if err != nil {
				t.Fatal(err)
			}
			orig := avroEncode(t, c.schema, c.rows...)
			rec := decodeRows(t, mem, info, target, orig...)
			defer rec.Release()
			again, payloads := roundTrip(t, mem, info, rec, false)
			defer again.Release()
			assertRecordsEqual(t, rec, again)
			// goavro reads what we write, and (decimals aside, whose byte length may differ)
			// the bytes are the same.
			codec, _ := goavro.NewCodec(c.schema)
			for i, p := range payloads {
				if _, rest, err := codec.NativeFromBinary(p); err != nil || len(rest) != 0 {
					t.Errorf("goavro cannot read row %d: %v", i, err)
				}
				if c.name != "all" && !bytes.Equal(p, orig[i]) {
					t.Errorf("row %d: encoded %x, goavro %x", i, p, orig[i])
				}
			}
		})
	}
}

func TestFromArrowRoundTrip(t *testing.T) {
	mem := checkedMem(t)
	jsonMeta := arrow.MetadataFrom(map[string]string{MetaType: "json"})
	s := arrow.NewSchema([]arrow.Field{
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
		{Name: "i16", Type: arrow.PrimitiveTypes.Int16},
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32},
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "u8", Type: arrow.PrimitiveTypes.Uint8},
		{Name: "u16", Type: arrow.PrimitiveTypes.Uint16},
		{Name: "u32", Type: arrow.PrimitiveTypes.Uint32},
		{Name: "u64", Type: arrow.PrimitiveTypes.Uint64},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32},
		{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "dec", Type: &arrow.Decimal128Type{Precision: 20, Scale: 4}},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "j", Type: arrow.BinaryTypes.String, Nullable: true, Metadata: jsonMeta},
		{Name: "bin", Type: arrow.BinaryTypes.Binary},
		{Name: "fx", Type: &arrow.FixedSizeBinaryType{ByteWidth: 3}},
		{Name: "d", Type: arrow.FixedWidthTypes.Date32},
		{Name: "t", Type: arrow.FixedWidthTypes.Time64us},
		{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_us, Nullable: true},
		{Name: "st", Type: arrow.StructOf(
			arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int64},
			arrow.Field{Name: "y", Type: arrow.BinaryTypes.String, Nullable: true}), Nullable: true},
		{Name: "l", Type: arrow.ListOfField(arrow.Field{Name: "item", Type: arrow.PrimitiveTypes.Int32, Nullable: true})},
		{Name: "m", Type: arrow.MapOfFields(arrow.Field{Name: "key", Type: arrow.BinaryTypes.String},
			arrow.Field{Name: "value", Type: arrow.PrimitiveTypes.Float64, Nullable: true})},
	}, nil)
	info, err := FromArrow(s, "T")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := goavro.NewCodec(string(info.Schema)); err != nil {
		t.Fatalf("goavro rejects %s: %v", info.Schema, err)
	}
	back, err := ToArrow(info)
	if err != nil {
		t.Fatal(err)
	}
	if back.NumFields() != s.NumFields() {
		t.Fatalf("ToArrow(FromArrow) = %s", back)
	}
	for i, f := range s.Fields() {
		g := back.Field(i)
		if g.Name != f.Name || !arrow.TypeEqual(g.Type, f.Type) || g.Nullable != f.Nullable {
			t.Errorf("field %d: got %s, want %s", i, g, f)
		}
	}
	// Build two rows by JSON, write them as Avro and read them back.
	rows := `[
	 {"b":true,"i8":-128,"i16":32767,"i32":-5,"i64":null,"u8":255,"u16":65535,"u32":4294967295,
	  "u64":18446744073709551615,"f32":1.5,"f64":-2.5,"dec":"-1234567890.1234","s":"x","j":"{\"a\":1}",
	  "bin":"AAE=","fx":"YWJj","d":"2024-01-02","t":"01:02:03.000004","ts":"2024-01-02T03:04:05.000006Z",
	  "st":{"x":1,"y":null},"l":[1,null,3],"m":[{"key":"k","value":0.5}]},
	 {"b":false,"i8":null,"i16":0,"i32":0,"i64":9,"u8":0,"u16":0,"u32":0,"u64":0,"f32":0,"f64":null,
	  "dec":"0","s":null,"j":null,"bin":"","fx":"eHl6","d":"1960-01-01","t":"00:00:00","ts":null,
	  "st":null,"l":[],"m":[]}]`
	rec := recordFromJSON(t, mem, s, rows)
	defer rec.Release()
	again, payloads := roundTrip(t, mem, info, rec, false)
	defer again.Release()
	assertRecordsEqual(t, rec, again)
	codec, _ := goavro.NewCodec(string(info.Schema))
	native, _, err := codec.NativeFromBinary(payloads[0])
	if err != nil {
		t.Fatal(err)
	}
	m := native.(map[string]any)
	if m["u32"] != int64(4294967295) || m["i16"] != int32(32767) || m["s"].(map[string]any)["string"] != "x" {
		t.Errorf("goavro read %v", m)
	}
	if ts := m["ts"].(map[string]any)["long.timestamp-micros"].(time.Time); ts.UnixMicro() != time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC).UnixMicro() {
		t.Errorf("ts = %v", ts)
	}
	// A non-nullable column holding null cannot be encoded.
	enc, _ := NewEncoder(info, s)
	nrec := recordFromJSON(t, mem, s, `[{"b":null}]`)
	defer nrec.Release()
	if _, err := enc.Encode(nrec, 0, nil); err == nil {
		t.Error("null in non-nullable column: no error")
	}
}

func TestJSONEncodeRoundTrip(t *testing.T) {
	mem := checkedMem(t)
	info := Info{Type: "JSON", Schema: []byte(jsonSchema)}
	target, err := ToArrow(info)
	if err != nil {
		t.Fatal(err)
	}
	rec := decodeRows(t, mem, info, target,
		[]byte(`{"id":1,"name":"a\"n\n","ok":true,"score":1.5,"small":-3,"born":1700000000123,"day":19000,
		  "amount":"12.34","raw":"AAEC","doc":{"a":[1,2]},"tags":["x","y"],"addr":{"city":"Oslo"},
		  "m":{"k":7},"color":"BLUE"}`),
		[]byte(`{"id":2,"name":null,"ok":false,"score":-0.5,"small":0,"born":-1,"day":-1,"amount":0,
		  "raw":"","doc":"plain","tags":[],"addr":null,"m":{},"color":"RED"}`))
	defer rec.Release()
	again, payloads := roundTrip(t, mem, info, rec, false)
	defer again.Release()
	assertRecordsEqual(t, rec, again)
	if want := `{"id":1,"name":"a\"n\u000a","ok":true,"score":1.5,"small":-3,"born":1700000000123,"day":19000,"amount":12.34,"raw":"AAEC","doc":{"a":[1,2]},"tags":["x","y"],"addr":{"city":"Oslo"},"m":{"k":7},"color":"BLUE"}`; string(payloads[0]) != want {
		t.Errorf("JSON payload\n got %s\nwant %s", payloads[0], want)
	}
}

func TestPrimitiveEncodeRoundTrip(t *testing.T) {
	mem := checkedMem(t)
	for _, c := range []struct {
		typ     string
		payload []byte
	}{
		{"BYTES", []byte{0, 1}}, {"STRING", []byte("héllo")}, {"BOOLEAN", []byte{1}},
		{"INT8", []byte{0x80}}, {"INT16", []byte{0x80, 0}}, {"INT32", []byte{1, 2, 3, 4}},
		{"INT64", be64(-3)}, {"FLOAT", []byte{0x3f, 0xc0, 0, 0}}, {"DOUBLE", be64(0x4004000000000000)},
		{"DATE", be64(19724 * msPerDay)}, {"TIME", be64(3723004)}, {"TIMESTAMP", be64(-1704164645006)},
		{"LOCAL_DATE", be64(-5)}, {"LOCAL_TIME", be64(3723000004000)},
		{"INSTANT", append(be64(-2), 0, 0, 0x03, 0xe8)}, {"LOCAL_DATE_TIME", append(be64(19724), be64(3723000004000)...)},
	} {
		info := Info{Type: c.typ}
		target, _ := ToArrow(info)
		rec := decodeRows(t, mem, info, target, c.payload)
		again, payloads := roundTrip(t, mem, info, rec, false)
		assertRecordsEqual(t, rec, again)
		if !bytes.Equal(payloads[0], c.payload) {
			t.Errorf("%s: encoded %x, want %x", c.typ, payloads[0], c.payload)
		}
		rec.Release()
		again.Release()
	}
}

func TestKeyValueEncodeRoundTrip(t *testing.T) {
	mem := checkedMem(t)
	keySchema := `{"type":"record","name":"K","fields":[{"name":"id","type":"long"}]}`
	valSchema := `{"type":"record","name":"V","fields":[{"name":"amount","type":"double"}]}`
	for _, separated := range []bool{false, true} {
		info, err := KeyValueInfo(Info{Type: "AVRO", Schema: []byte(keySchema)}, Info{Type: "JSON", Schema: []byte(valSchema)}, separated)
		if err != nil {
			t.Fatal(err)
		}
		target, err := ToArrow(info)
		if err != nil {
			t.Fatal(err)
		}
		rec := recordFromJSON(t, mem, target, `[{"key_id":1,"amount":2.5},{"key_id":null,"amount":1}]`)
		again, _ := roundTrip(t, mem, info, rec, separated)
		assertRecordsEqual(t, rec, again)
		rec.Release()
		again.Release()
	}
}

func recordFromJSON(t *testing.T, mem memory.Allocator, s *arrow.Schema, rows string) arrow.Record {
	t.Helper()
	rec, _, err := array.RecordFromJSON(mem, s, strings.NewReader(rows))
	if err != nil {
		t.Fatalf("RecordFromJSON: %v", err)
	}
	return rec
}

// Builders and records of another shape are rejected with an error, not a panic.
func TestMismatchedShapes(t *testing.T) {
	mem := checkedMem(t)
	info := Info{Type: "AVRO", Schema: []byte(bidSchema)}
	target, err := ToArrow(info)
	if err != nil {
		t.Fatal(err)
	}
	other := arrow.NewSchema([]arrow.Field{{Name: "auction", Type: arrow.BinaryTypes.String}}, nil)
	dec, err := NewDecoder(info, target)
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, other)
	defer b.Release()
	if err := dec.Append(b, nil, bidPayloads(t, 1)[0]); err == nil {
		t.Error("decoding into a builder of another schema: no error")
	}
	enc, err := NewEncoder(info, target)
	if err != nil {
		t.Fatal(err)
	}
	rec := recordFromJSON(t, mem, other, `[{"auction":"x"}]`)
	defer rec.Release()
	if _, err := enc.Encode(rec, 0, nil); err == nil {
		t.Error("encoding a record of another schema: no error")
	}
}

// SQL column names that are not Avro names survive FromArrow, encoding and decoding.
func TestFromArrowColumnNames(t *testing.T) {
	mem := checkedMem(t)
	s := arrow.NewSchema([]arrow.Field{
		{Name: "COUNT(*)", Type: arrow.PrimitiveTypes.Int64},
		{Name: "a b", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "a_b", Type: arrow.PrimitiveTypes.Int32},
		{Name: "1st", Type: arrow.StructOf(arrow.Field{Name: "x-y", Type: arrow.PrimitiveTypes.Float64})},
	}, nil)
	info, err := FromArrow(s, "my table")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := goavro.NewCodec(string(info.Schema)); err != nil {
		t.Fatalf("goavro rejects %s: %v", info.Schema, err)
	}
	back, err := ToArrow(info)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range s.Fields() {
		if g := back.Field(i); g.Name != f.Name || !arrow.TypeEqual(g.Type, f.Type) {
			t.Errorf("field %d: got %s, want %s", i, g, f)
		}
	}
	rec := recordFromJSON(t, mem, s, `[{"COUNT(*)":3,"a b":"x","a_b":4,"1st":{"x-y":0.5}}]`)
	defer rec.Release()
	for _, typ := range []string{"AVRO", "JSON"} {
		again, _ := roundTrip(t, mem, Info{Type: typ, Schema: info.Schema}, rec, false)
		assertRecordsEqual(t, rec, again)
		again.Release()
	}
}
