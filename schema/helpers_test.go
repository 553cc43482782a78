package schema

import (
	"encoding/json"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/linkedin/goavro/v2"
)

// checkedMem returns an allocator that fails the test if anything is left allocated.
func checkedMem(t testing.TB) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

// avroEncode encodes native goavro values with the given schema.
func avroEncode(t testing.TB, schema string, rows ...map[string]any) [][]byte {
	t.Helper()
	codec, err := goavro.NewCodec(schema)
	if err != nil {
		t.Fatalf("goavro codec: %v", err)
	}
	var out [][]byte
	for _, r := range rows {
		b, err := codec.BinaryFromNative(nil, r)
		if err != nil {
			t.Fatalf("goavro encode %v: %v", r, err)
		}
		out = append(out, b)
	}
	return out
}

// decodeRows decodes payloads into a record of the target schema.
func decodeRows(t testing.TB, mem memory.Allocator, writer Info, target *arrow.Schema, payloads ...[]byte) arrow.Record {
	t.Helper()
	dec, err := NewDecoder(writer, target)
	if err != nil {
		t.Fatalf("NewDecoder: %v", err)
	}
	b := array.NewRecordBuilder(mem, target)
	defer b.Release()
	for i, p := range payloads {
		if err := dec.Append(b, nil, p); err != nil {
			t.Fatalf("Append row %d: %v", i, err)
		}
	}
	return b.NewRecord()
}

// colJSON renders a column as JSON, for comparing nested values.
func colJSON(t testing.TB, rec arrow.Record, name string) string {
	t.Helper()
	idx := rec.Schema().FieldIndices(name)
	if len(idx) != 1 {
		t.Fatalf("column %s not found in %s", name, rec.Schema())
	}
	b, err := json.Marshal(rec.Column(idx[0]))
	if err != nil {
		t.Fatalf("marshal %s: %v", name, err)
	}
	return string(b)
}

func col[T arrow.Array](t testing.TB, rec arrow.Record, name string) T {
	t.Helper()
	idx := rec.Schema().FieldIndices(name)
	if len(idx) != 1 {
		t.Fatalf("column %s not found in %s", name, rec.Schema())
	}
	a, ok := rec.Column(idx[0]).(T)
	if !ok {
		t.Fatalf("column %s is %T", name, rec.Column(idx[0]))
	}
	return a
}
