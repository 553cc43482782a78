package schema

import (
	"math/big"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/linkedin/goavro/v2"
)

// recursiveSchema has a recursive record the target does not read, to exercise skipping.
const recursiveSchema = `{"type":"record","name":"Node","fields":[
 {"name":"v","type":"long"},
 {"name":"next","type":["null","Node"]},
 {"name":"kids","type":{"type":"array","items":"Node"}},
 {"name":"u","type":["int","string","null",{"type":"map","values":"bytes"}]}]}`

// fuzzDecoders are the decoders FuzzAvroDecode picks from with the first input byte.
func fuzzDecoders(t testing.TB) []struct {
	dec    Decoder
	target *arrow.Schema
} {
	var out []struct {
		dec    Decoder
		target *arrow.Schema
	}
	add := func(info Info, target *arrow.Schema) {
		if target == nil {
			var err error
			if target, err = ToArrow(info); err != nil {
				t.Fatal(err)
			}
		}
		dec, err := NewDecoder(info, target)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, struct {
			dec    Decoder
			target *arrow.Schema
		}{dec, target})
	}
	add(Info{Type: "AVRO", Schema: []byte(bidSchema)}, nil)
	add(Info{Type: "AVRO", Schema: []byte(allTypesSchema)}, nil)
	add(Info{Type: "AVRO", Schema: []byte(nestedSchema)}, nil)
	add(Info{Type: "AVRO", Schema: []byte(recursiveSchema)},
		arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil))
	kv, err := KeyValueInfo(Info{Type: "AVRO", Schema: []byte(bidSchema)}, Info{Type: "AVRO", Schema: []byte(nestedSchema)}, false)
	if err != nil {
		t.Fatal(err)
	}
	add(kv, nil)
	add(Info{Type: "JSON", Schema: []byte(jsonSchema)}, nil)
	add(Info{Type: "AVRO", Schema: []byte(flatSchema)}, nil)
	add(Info{Type: "AVRO", Schema: []byte(unionSchema)}, nil)
	return out
}

func fuzzSeeds(t testing.TB) [][]byte {
	seeds := [][]byte{}
	add := func(sel byte, payloads ...[]byte) {
		for _, p := range payloads {
			seeds = append(seeds, append([]byte{sel}, p...))
		}
	}
	add(0, bidPayloads(t, 2)...)
	add(1, avroEncode(t, allTypesSchema, map[string]any{
		"b": true, "i": int32(-7), "l": int64(1) << 40, "f": float32(1.5), "d": 2.25, "s": "héllo",
		"by": []byte{0, 1, 2}, "e": "GREEN", "fx": []byte("abcd"), "ts": time.UnixMilli(5).UTC(),
		"tsu": time.UnixMicro(5).UTC(), "dt": time.Unix(0, 0).UTC(), "tm": time.Millisecond,
		"tmu": time.Microsecond, "dec": big.NewRat(-12345, 100), "decf": big.NewRat(7, 1000), "u": "u",
		"js": `{}`, "n1": goavro.Union("long", int64(42)), "n2": nil,
	})...)
	nested := avroEncode(t, nestedSchema, map[string]any{
		"id": int64(1), "customer": map[string]any{"name": "ann", "address": nil},
		"tags": []any{"a"}, "lines": []any{map[string]any{"sku": "x", "qty": int32(2)}},
		"attrs": map[string]any{"w": nil}, "matrix": goavro.Union("array", []any{[]any{int64(1)}}),
		"billing": nil,
	})
	add(2, nested...)
	add(3, avroEncode(t, recursiveSchema, map[string]any{
		"v": int64(1), "next": goavro.Union("Node", map[string]any{"v": int64(2), "next": nil, "kids": []any{},
			"u": goavro.Union("string", "s")}),
		"kids": []any{map[string]any{"v": int64(3), "next": nil, "kids": []any{}, "u": nil}},
		"u":    goavro.Union("map", map[string]any{"k": []byte{1}}),
	})...)
	add(4, JoinKeyValue(bidPayloads(t, 1)[0], nested[0]))
	add(7, avroEncode(t, unionSchema, map[string]any{"u": goavro.Union("P", map[string]any{"x": int64(7)}),
		"v": goavro.Union("string", "s")})...)
	add(5, []byte(`{"id":1,"name":"ann","tags":["x"],"addr":{"city":"O"},"m":{"k":1},"born":"2024-01-01T00:00:00Z"}`))
	return seeds
}

// FuzzAvroDecode feeds arbitrary bytes to compiled decoders: they must never panic, and must
// either append exactly one row or leave the builders untouched. A BatchBuilder fed the same
// bytes must agree with the RecordBuilder path row for row.
func FuzzAvroDecode(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	decs := fuzzDecoders(f)
	mem := memory.NewGoAllocator()
	builders := make([]*array.RecordBuilder, len(decs))
	batches := make([]*BatchBuilder, len(decs))
	for i, d := range decs {
		builders[i] = array.NewRecordBuilder(mem, d.target)
		batches[i] = NewBatchBuilder(mem, d.target)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		i := int(data[0]) % len(decs)
		b := builders[i]
		before := make([]int, len(b.Fields()))
		for k, fb := range b.Fields() {
			before[k] = fb.Len()
		}
		err := decs[i].dec.Append(b, nil, data[1:])
		for k, fb := range b.Fields() {
			want := before[k]
			if err == nil {
				want++
			}
			if fb.Len() != want {
				t.Fatalf("decoder %d column %d: %d rows, want %d (err=%v)", i, k, fb.Len(), want, err)
			}
		}
		berr := batches[i].Append(decs[i].dec, nil, data[1:])
		if (berr == nil) != (err == nil) {
			t.Fatalf("decoder %d: Append err = %v, BatchBuilder err = %v", i, err, berr)
		}
		if batches[i].Len() != b.Field(0).Len() {
			t.Fatalf("decoder %d: BatchBuilder has %d rows, RecordBuilder %d", i, batches[i].Len(), b.Field(0).Len())
		}
		if b.Field(0).Len() > 256 || (err == nil && data[0]&0x80 != 0) {
			want, got := b.NewRecordBatch(), batches[i].NewRecordBatch()
			// NaN payloads are equal NaNs; the tolerance 0 keeps the comparison exact otherwise.
			if !array.RecordApproxEqual(want, got, array.WithNaNsEqual(true), array.WithAbsTolerance(0)) {
				t.Fatalf("decoder %d: BatchBuilder rows %v differ from RecordBuilder rows %v", i, got, want)
			}
			want.Release()
			got.Release()
		}
	})
}

// FuzzToArrow feeds arbitrary schema definitions to the mapping and the decoder compiler.
func FuzzToArrow(f *testing.F) {
	for _, s := range []string{bidSchema, allTypesSchema, nestedSchema, recursiveSchema, jsonSchema, `"long"`, `["null","string"]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, def string) {
		info := Info{Type: "AVRO", Schema: []byte(def)}
		s, err := ToArrow(info)
		if err != nil {
			return
		}
		if _, err := NewDecoder(info, s); err != nil {
			t.Fatalf("ToArrow accepted %s but NewDecoder failed: %v", def, err)
		}
		if _, err := NewEncoder(info, s); err != nil {
			t.Fatalf("ToArrow accepted %s but NewEncoder failed: %v", def, err)
		}
		// The table schema survives a trip through FromArrow (as CREATE TABLE would store it).
		derived, err := FromArrow(s, "R")
		if err != nil {
			t.Fatalf("FromArrow(%s) from %s: %v", s, def, err)
		}
		back, err := ToArrow(derived)
		if err != nil {
			t.Fatalf("ToArrow(FromArrow) of %s: %v", derived.Schema, err)
		}
		if back.NumFields() != s.NumFields() {
			t.Fatalf("ToArrow(FromArrow) = %s, want %s", back, s)
		}
		for i, f := range s.Fields() {
			if g := back.Field(i); g.Name != f.Name || !arrow.TypeEqual(g.Type, f.Type) || g.Nullable != f.Nullable {
				t.Fatalf("field %d: ToArrow(FromArrow) = %s, want %s (schema %s)", i, g, f, derived.Schema)
			}
		}
	})
}
