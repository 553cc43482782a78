package schema

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
)

func TestKeyValueInline(t *testing.T) {
	mem := checkedMem(t)
	keySchema := `{"type":"record","name":"K","fields":[{"name":"id","type":"long"},{"name":"region","type":"string"}]}`
	valSchema := `{"type":"record","name":"V","fields":[{"name":"amount","type":"double"},{"name":"note","type":["null","string"]}]}`
	info, err := KeyValueInfo(Info{Type: "AVRO", Schema: []byte(keySchema)}, Info{Type: "AVRO", Schema: []byte(valSchema)}, false)
	if err != nil {
		t.Fatal(err)
	}
	target, err := ToArrow(info)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range target.Fields() {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, ","); got != "key_id,key_region,amount,note" {
		t.Fatalf("columns %s", got)
	}
	k := avroEncode(t, keySchema, map[string]any{"id": int64(5), "region": "eu"})[0]
	v := avroEncode(t, valSchema, map[string]any{"amount": 1.25, "note": nil})[0]
	rec := decodeRows(t, mem, info, target, JoinKeyValue(k, v), JoinKeyValue(nil, v), JoinKeyValue(k, nil))
	defer rec.Release()
	for name, want := range map[string]string{
		"key_id": `[5,null,5]`, "key_region": `["eu",null,"eu"]`, "amount": `[1.25,1.25,null]`, "note": `[null,null,null]`,
	} {
		if got := colJSON(t, rec, name); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}

	// A good key with a corrupt value appends nothing.
	dec, err := NewDecoder(info, target)
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, target)
	defer b.Release()
	if err := dec.Append(b, nil, JoinKeyValue(k, v[:len(v)-1])); err == nil || !strings.Contains(err.Error(), "value") {
		t.Errorf("corrupt value: err = %v", err)
	}
	if err := dec.Append(b, nil, JoinKeyValue(k, v)[:6]); err == nil {
		t.Errorf("truncated layout: no error")
	}
	for i, fb := range b.Fields() {
		if fb.Len() != 0 {
			t.Errorf("column %d has %d rows after errors", i, fb.Len())
		}
	}
}

func TestKeyValueSeparated(t *testing.T) {
	mem := checkedMem(t)
	valSchema := `{"type":"record","name":"V","fields":[{"name":"qty","type":"int"},{"name":"sku","type":"string"}]}`
	info, err := KeyValueInfo(Info{Type: "STRING"}, Info{Type: "JSON", Schema: []byte(valSchema)}, true)
	if err != nil {
		t.Fatal(err)
	}
	target, err := ToArrow(info)
	if err != nil {
		t.Fatal(err)
	}
	if target.NumFields() != 3 || target.Field(0).Name != "key" || target.Field(1).Name != "qty" {
		t.Fatalf("schema %s", target)
	}
	dec, err := NewDecoder(info, target)
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, target)
	defer b.Release()
	if err := dec.Append(b, []byte("user-1"), []byte(`{"qty":3,"sku":"a"}`)); err != nil {
		t.Fatal(err)
	}
	if err := dec.Append(b, nil, []byte(`{"sku":"b","qty":4}`)); err != nil {
		t.Fatal(err)
	}
	if err := dec.Append(b, []byte("user-2"), []byte(`{"qty":"x"}`)); err == nil {
		t.Error("bad value: no error")
	}
	rec := b.NewRecord()
	defer rec.Release()
	for name, want := range map[string]string{"key": `["user-1",null]`, "qty": `[3,4]`, "sku": `["a","b"]`} {
		if got := colJSON(t, rec, name); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
}

func TestKeyValueNameClash(t *testing.T) {
	val := `{"type":"record","name":"V","fields":[{"name":"key","type":"int"}]}`
	info, err := KeyValueInfo(Info{Type: "INT64"}, Info{Type: "AVRO", Schema: []byte(val)}, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ToArrow(info); err == nil || !strings.Contains(err.Error(), "key") {
		t.Errorf("err = %v", err)
	}
}

func TestSeparatedKey(t *testing.T) {
	k, err := SeparatedKey("AAAAAAAAAAU=") // INT64 5, as Java base64-encodes it
	if err != nil || len(k) != 8 || k[7] != 5 {
		t.Errorf("SeparatedKey = %v, %v", k, err)
	}
	if k, err := SeparatedKey(""); k != nil || err != nil {
		t.Errorf("empty key = %v, %v", k, err)
	}
	if _, err := SeparatedKey("not base64!"); err == nil {
		t.Error("bad base64: no error")
	}
}
