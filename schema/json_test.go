package schema

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

const jsonSchema = `{"type":"record","name":"Person","fields":[
 {"name":"id","type":"long"},
 {"name":"name","type":["null","string"]},
 {"name":"ok","type":"boolean"},
 {"name":"score","type":"double"},
 {"name":"small","type":"int"},
 {"name":"born","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"day","type":{"type":"int","logicalType":"date"}},
 {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
 {"name":"raw","type":"bytes"},
 {"name":"doc","type":{"type":"string","magnetar.type":"json"}},
 {"name":"tags","type":{"type":"array","items":"string"}},
 {"name":"addr","type":["null",{"type":"record","name":"Addr","fields":[{"name":"city","type":"string"}]}]},
 {"name":"m","type":{"type":"map","values":"long"}},
 {"name":"color","type":{"type":"enum","name":"C","symbols":["RED","BLUE"]}}
]}`

func TestJSONDecode(t *testing.T) {
	mem := checkedMem(t)
	info := Info{Type: "JSON", Schema: []byte(jsonSchema)}
	target, err := ToArrow(info)
	if err != nil {
		t.Fatal(err)
	}
	rows := []string{
		`{"id":1,"name":"ann","ok":true,"score":1.5,"small":-3,"born":1700000000123,"day":19000,
		  "amount":"12.34","raw":"AAEC","doc":{"a":[1,2]},"tags":["x","y"],"addr":{"city":"Oslo"},
		  "m":{"k":7},"color":"BLUE","unknown":{"deep":[1]}}`,
		// Keys in another order, missing fields, explicit nulls, ISO strings for time types.
		` {"color":"RED","m":{},"tags":[],"addr":null,"doc":"text","raw":"","amount":-0.5,
		  "day":"2024-02-29","born":"2024-03-05T10:11:12.345678Z","small":2147483647,"score":2,
		  "ok":false,"name":null,"id":2} `,
	}
	var payloads [][]byte
	for _, r := range rows {
		payloads = append(payloads, []byte(r))
	}
	rec := decodeRows(t, mem, info, target, payloads...)
	defer rec.Release()
	checks := map[string]string{
		"id":     `[1,2]`,
		"name":   `["ann",null]`,
		"ok":     `[true,false]`,
		"score":  `[1.5,2]`,
		"small":  `[-3,2147483647]`,
		"born":   `["2023-11-14T22:13:20.123Z","2024-03-05T10:11:12.345678Z"]`,
		"day":    `["2022-01-08","2024-02-29"]`,
		"amount": `["12.34","-0.5"]`,
		"raw":    `["AAEC",""]`,
		"doc":    `["{\"a\":[1,2]}","text"]`,
		"tags":   `[["x","y"],[]]`,
		"addr":   `[{"city":"Oslo"},null]`,
		"m":      `[[{"key":"k","value":7}],[]]`,
		"color":  `["BLUE","RED"]`,
	}
	for name, want := range checks {
		if got := colJSON(t, rec, name); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	if ts := col[*array.Timestamp](t, rec, "born"); ts.Value(0) != 1700000000123000 {
		t.Errorf("born[0] = %d", ts.Value(0))
	}
}

func TestJSONErrorsAreAtomic(t *testing.T) {
	mem := checkedMem(t)
	info := Info{Type: "JSON", Schema: []byte(jsonSchema)}
	target, err := ToArrow(info)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewDecoder(info, target)
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, target)
	defer b.Release()
	for _, bad := range []string{
		``, `[]`, `{"id":"x"}`, `{"id":1.5}`, `{"small":3000000000}`, `{"tags":["a",1]}`,
		`{"id":1,"tags":["a"],"addr":{"city":5}}`, `{"id":1} x`, `{"id":1`, `{"amount":"abc"}`,
		`{"raw":"!!"}`, `{"id":1,"id":2}`, `{"day":"2024-13-01"}`,
	} {
		if err := dec.Append(b, nil, []byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
		for i, fb := range b.Fields() {
			if fb.Len() != 0 {
				t.Fatalf("%q: column %d has %d rows after an error", bad, i, fb.Len())
			}
		}
	}
	if err := dec.Append(b, nil, []byte(`{"id":9}`)); err != nil {
		t.Fatal(err)
	}
	rec := b.NewRecord()
	defer rec.Release()
	if got := colJSON(t, rec, "id"); got != `[9]` {
		t.Errorf("id = %s", got)
	}
	if got := colJSON(t, rec, "tags"); got != `[null]` {
		t.Errorf("tags = %s", got)
	}
}

func TestJSONTopLevelValue(t *testing.T) {
	mem := checkedMem(t)
	info := Info{Type: "JSON", Schema: []byte(`{"type":"array","items":"long"}`)}
	target, err := ToArrow(info)
	if err != nil {
		t.Fatal(err)
	}
	rec := decodeRows(t, mem, info, target, []byte(`[1,2]`), []byte(`null`))
	defer rec.Release()
	if got := colJSON(t, rec, "value"); got != `[[1,2],null]` {
		t.Errorf("value = %s", got)
	}
}

func TestPrimitiveSchemas(t *testing.T) {
	mem := checkedMem(t)
	for _, c := range []struct {
		typ     string
		payload []byte
		dt      arrow.DataType
		want    string
	}{
		{"", []byte{1, 2}, arrow.BinaryTypes.Binary, `["AQI="]`},
		{"NONE", []byte("x"), arrow.BinaryTypes.Binary, `["eA=="]`},
		{"BYTES", []byte{}, arrow.BinaryTypes.Binary, `[""]`},
		{"STRING", []byte("héllo"), arrow.BinaryTypes.String, `["héllo"]`},
		{"BOOLEAN", []byte{1}, arrow.FixedWidthTypes.Boolean, `[true]`},
		{"INT8", []byte{0xff}, arrow.PrimitiveTypes.Int8, `[-1]`},
		{"INT16", []byte{0x01, 0x00}, arrow.PrimitiveTypes.Int16, `[256]`},
		{"INT32", []byte{0xff, 0xff, 0xff, 0xfe}, arrow.PrimitiveTypes.Int32, `[-2]`},
		{"INT64", []byte{0, 0, 0, 0, 0, 0, 1, 0}, arrow.PrimitiveTypes.Int64, `[256]`},
		{"FLOAT", []byte{0x3f, 0xc0, 0, 0}, arrow.PrimitiveTypes.Float32, `[1.5]`},
		{"DOUBLE", []byte{0xc0, 0x04, 0, 0, 0, 0, 0, 0}, arrow.PrimitiveTypes.Float64, `[-2.5]`},
		// 2024-01-02T03:04:05.006Z = 1704164645006 ms
		{"TIMESTAMP", be64(1704164645006), arrow.FixedWidthTypes.Timestamp_us, `["2024-01-02T03:04:05.006Z"]`},
		{"DATE", be64(1704164645006), arrow.FixedWidthTypes.Date32, `["2024-01-02"]`},
		{"TIME", be64(1704164645006), arrow.FixedWidthTypes.Time64us, `["03:04:05.006"]`},
		{"LOCAL_DATE", be64(19724), arrow.FixedWidthTypes.Date32, `["2024-01-02"]`},
		{"LOCAL_TIME", be64(3723000004000), arrow.FixedWidthTypes.Time64us, `["01:02:03.000004"]`},
		{"INSTANT", append(be64(1704164645), 0, 0, 0x03, 0xe8), arrow.FixedWidthTypes.Timestamp_us, `["2024-01-02T03:04:05.000001Z"]`},
		{"LOCAL_DATE_TIME", append(be64(19724), be64(3723000004000)...), arrow.FixedWidthTypes.Timestamp_us, `["2024-01-02T01:02:03.000004Z"]`},
	} {
		info := Info{Type: c.typ}
		target, err := ToArrow(info)
		if err != nil {
			t.Fatalf("%s: %v", c.typ, err)
		}
		if target.NumFields() != 1 || target.Field(0).Name != "value" || !arrow.TypeEqual(target.Field(0).Type, c.dt) {
			t.Errorf("%s: schema %s", c.typ, target)
			continue
		}
		rec := decodeRows(t, mem, info, target, c.payload)
		if got := colJSON(t, rec, "value"); got != c.want {
			t.Errorf("%s: value = %s, want %s", c.typ, got, c.want)
		}
		rec.Release()
		// A payload of the wrong size is an error.
		if c.typ != "" && c.typ != "NONE" && c.typ != "BYTES" && c.typ != "STRING" {
			dec, _ := NewDecoder(info, target)
			b := array.NewRecordBuilder(mem, target)
			if err := dec.Append(b, nil, c.payload[1:]); err == nil || b.Field(0).Len() != 0 {
				t.Errorf("%s: short payload err=%v len=%d", c.typ, err, b.Field(0).Len())
			}
			b.Release()
		}
	}
	if _, err := ToArrow(Info{Type: "PROTOBUF_NATIVE"}); err == nil || !strings.Contains(err.Error(), "PROTOBUF_NATIVE") {
		t.Errorf("PROTOBUF_NATIVE: err = %v", err)
	}
}

func be64(v int64) []byte {
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
	return b
}
