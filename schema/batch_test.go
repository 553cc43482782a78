package schema

import (
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/linkedin/goavro/v2"
)

// batchRows decodes payloads through a BatchBuilder, cutting a batch every `every` rows, and
// returns the batches.
func batchRows(t testing.TB, mem memory.Allocator, dec Decoder, target *arrow.Schema, every int, payloads ...[]byte) []arrow.RecordBatch {
	t.Helper()
	bb := NewBatchBuilder(mem, target)
	defer bb.Release()
	var out []arrow.RecordBatch
	for i, p := range payloads {
		if err := bb.Append(dec, nil, p); err != nil {
			t.Fatalf("Append row %d: %v", i, err)
		}
		if bb.Len() != i%every+1 {
			t.Fatalf("Len = %d after row %d, want %d", bb.Len(), i, i%every+1)
		}
		if bb.Len() == every {
			out = append(out, bb.NewRecordBatch())
		}
	}
	if bb.Len() > 0 {
		out = append(out, bb.NewRecordBatch())
	}
	return out
}

// concatRecords concatenates batches into one record (for comparison with a builder's record).
func concatRecords(t testing.TB, mem memory.Allocator, s *arrow.Schema, recs []arrow.RecordBatch) arrow.RecordBatch {
	t.Helper()
	cols := make([]arrow.Array, s.NumFields())
	var rows int64
	for _, r := range recs {
		rows += r.NumRows()
	}
	for j := range cols {
		parts := make([]arrow.Array, len(recs))
		for i, r := range recs {
			parts[i] = r.Column(j)
		}
		c, err := array.Concatenate(parts, mem)
		if err != nil {
			t.Fatal(err)
		}
		cols[j] = c
		defer c.Release()
	}
	return array.NewRecordBatch(s, cols, rows)
}

func releaseAll(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

// flatRows makes n rows of flatSchema with nulls and values varying by row.
func flatRows(n int) []map[string]any {
	rng := rand.New(rand.NewSource(7))
	rows := make([]map[string]any, n)
	for k := range rows {
		r := map[string]any{
			"l": rng.Int63() - rng.Int63(), "i": nil, "s": nil, "by": []byte(strings.Repeat("b", rng.Intn(40))),
			"b": nil, "f": rng.Float32(), "fd": float32(k), "d": nil,
			"tsm": time.UnixMilli(rng.Int63n(1<<42) - 1<<41).UTC(), "tsu": nil,
			"dt": time.Unix(int64(rng.Intn(20000)-10000)*86400, 0).UTC(), "tm": time.Duration(rng.Intn(86400000)) * time.Millisecond,
			"tmu": time.Duration(rng.Int63n(86400000000)) * time.Microsecond, "skipped": strings.Repeat("z", k%5),
		}
		// Nulls start only after a few hundred rows, so that the validity bitmaps appear mid-batch
		// and after the buffers have grown.
		if k <= 300 || rng.Intn(3) != 0 {
			r["i"] = goavro.Union("int", int32(rng.Intn(1<<31)-1<<30))
			r["s"] = goavro.Union("string", strings.Repeat("s", rng.Intn(20)))
			r["b"] = goavro.Union("boolean", rng.Intn(2) == 1)
			r["d"] = goavro.Union("double", rng.NormFloat64())
			r["tsu"] = goavro.Union("long.timestamp-micros", time.UnixMicro(rng.Int63n(1<<50)).UTC())
		}
		rows[k] = r
	}
	return rows
}

// The BatchBuilder gives the same rows as the builder path, across batches, buffer growth, nulls
// appearing late, skipped writer fields and defaulted target columns, and leaks nothing.
func TestBatchBuilderMatchesAppend(t *testing.T) {
	mem := checkedMem(t)
	info := Info{Type: "AVRO", Schema: []byte(flatSchema)}
	full, err := ToArrow(info)
	if err != nil {
		t.Fatal(err)
	}
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
	fields = append(fields,
		arrow.Field{Name: "extra", Type: arrow.PrimitiveTypes.Int64, Nullable: true,
			Metadata: arrow.MetadataFrom(map[string]string{MetaAvroDefault: "7"})},
		arrow.Field{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true,
			Metadata: arrow.MetadataFrom(map[string]string{MetaAvroDefault: `"none"`})},
		arrow.Field{Name: "flag", Type: arrow.FixedWidthTypes.Boolean, Nullable: true,
			Metadata: arrow.MetadataFrom(map[string]string{MetaAvroDefault: `true`})},
		arrow.Field{Name: "gone", Type: arrow.PrimitiveTypes.Int32, Nullable: true})
	target := arrow.NewSchema(fields, nil)
	payloads := avroEncode(t, flatSchema, flatRows(1500)...)
	dec, err := NewDecoder(info, target)
	if err != nil {
		t.Fatal(err)
	}
	want := decodeRows(t, mem, info, target, payloads...)
	defer want.Release()
	for _, every := range []int{1, 100, 1000, 5000} {
		batches := batchRows(t, mem, dec, target, every, payloads...)
		got := concatRecords(t, mem, target, batches)
		releaseAll(batches)
		assertRecordsEqual(t, want, got)
		got.Release()
	}
}

// A payload that fails to decode leaves no partial row: the rows around it are intact.
func TestBatchBuilderAtomic(t *testing.T) {
	mem := checkedMem(t)
	info := Info{Type: "AVRO", Schema: []byte(flatSchema)}
	target, err := ToArrow(info)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewDecoder(info, target)
	if err != nil {
		t.Fatal(err)
	}
	payloads := avroEncode(t, flatSchema, flatRows(400)...)
	bb := NewBatchBuilder(mem, target)
	defer bb.Release()
	var good [][]byte
	for k, p := range payloads {
		// Every truncation of every row fails and appends nothing.
		for n := 0; n < len(p); n += 1 + k%3 {
			if err := bb.Append(dec, nil, p[:n]); err == nil {
				t.Fatalf("row %d truncated to %d bytes: no error", k, n)
			}
		}
		if err := bb.Append(dec, nil, append(append([]byte{}, p...), 0)); err == nil || !strings.Contains(err.Error(), "trailing") {
			t.Fatalf("trailing byte: err = %v", err)
		}
		if err := bb.Append(dec, nil, p); err != nil {
			t.Fatal(err)
		}
		good = append(good, p)
		if bb.Len() != len(good) {
			t.Fatalf("Len = %d, want %d", bb.Len(), len(good))
		}
	}
	bad := append([]byte{}, payloads[0]...)
	bad[len(appendLong(nil, payloads0Long(t, payloads[0])))] = 0x08 // union branch 4 of field i
	if err := bb.Append(dec, nil, bad); err == nil || !strings.Contains(err.Error(), "field i") {
		t.Errorf("bad union branch: err = %v", err)
	}
	got := bb.NewRecordBatch()
	defer got.Release()
	want := decodeRows(t, mem, info, target, good...)
	defer want.Release()
	assertRecordsEqual(t, want, got)
}

// payloads0Long returns the first field (a long) of a flatSchema payload.
func payloads0Long(t *testing.T, p []byte) int64 {
	u, np := uvarint(p, 0)
	if np < 0 {
		t.Fatal("bad payload")
	}
	return int64(u>>1) ^ -int64(u&1)
}

// Decoders without a flat fast path (here an older writer version) share batches with flat ones,
// in order, whichever kind comes first; a target with nested columns uses a RecordBuilder.
func TestBatchBuilderMixedDecoders(t *testing.T) {
	mem := checkedMem(t)
	bidInfo := Info{Type: "AVRO", Schema: []byte(bidSchema)}
	target, err := ToArrow(bidInfo)
	if err != nil {
		t.Fatal(err)
	}
	// An older writer with an int price, a nested record the table does not have (so not flat)
	// and without extra.
	oldSchema := strings.Replace(strings.Replace(bidSchema, `{"name":"price","type":"long"}`,
		`{"name":"price","type":"int"},{"name":"meta","type":{"type":"record","name":"M","fields":[{"name":"x","type":"long"}]}}`, 1),
		`,
 {"name":"extra","type":"string"}`, "", 1)
	oldInfo := Info{Type: "AVRO", Schema: []byte(oldSchema)}
	fast, err := NewDecoder(bidInfo, target)
	if err != nil {
		t.Fatal(err)
	}
	slow, err := NewDecoder(oldInfo, target)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := slow.(*decoder).rd.(*avroFlatDecoder); ok {
		t.Fatal("old writer compiled to the flat path; the test needs a general one")
	}
	bids := bidPayloads(t, 600)
	old := avroEncode(t, oldSchema, map[string]any{"auction": int64(1), "bidder": int64(2), "price": int32(3),
		"channel": "c", "url": "u", "dateTime": time.UnixMilli(4).UTC(), "meta": map[string]any{"x": int64(9)}})[0]

	bb := NewBatchBuilder(mem, target)
	defer bb.Release()
	rb := array.NewRecordBuilder(mem, target)
	defer rb.Release()
	for i, p := range bids {
		d := fast
		if i%7 == 3 {
			d, p = slow, old
		}
		if err := bb.Append(d, nil, p); err != nil {
			t.Fatal(err)
		}
		if err := d.Append(rb, nil, p); err != nil {
			t.Fatal(err)
		}
	}
	// A failing slow-path row appends nothing either.
	if err := bb.Append(slow, nil, old[:len(old)-1]); err == nil {
		t.Fatal("truncated old payload: no error")
	}
	want := rb.NewRecordBatch()
	defer want.Release()
	got := bb.NewRecordBatch()
	defer got.Release()
	assertRecordsEqual(t, want, got)
	if got.Column(6).NullN() != 86 {
		t.Errorf("extra has %d nulls, want 86 (one per old row)", got.Column(6).NullN())
	}

	// A batch whose first row has no flat path lives in a RecordBuilder; flat rows after it
	// append there.
	for i, p := range bids[:50] {
		d := fast
		if i%10 == 0 {
			d, p = slow, old
		}
		if err := bb.Append(d, nil, p); err != nil {
			t.Fatal(err)
		}
		if err := d.Append(rb, nil, p); err != nil {
			t.Fatal(err)
		}
	}
	if !bb.inRB {
		t.Error("batch starting with a general-path row is in the column buffers")
	}
	want2, got2 := rb.NewRecordBatch(), bb.NewRecordBatch()
	defer want2.Release()
	defer got2.Release()
	assertRecordsEqual(t, want2, got2)

	// A decoder for another target is refused.
	other, err := NewDecoder(Info{Type: "AVRO", Schema: []byte(flatSchema)}, mustArrow(t, flatSchema))
	if err != nil {
		t.Fatal(err)
	}
	if err := bb.Append(other, nil, bids[0]); err == nil {
		t.Error("decoder of another schema: no error")
	}
	prefix, err := NewDecoder(bidInfo, arrow.NewSchema(target.Fields()[:3], nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := bb.Append(prefix, nil, bids[0]); err == nil || bb.Len() != 0 {
		t.Errorf("decoder of the first 3 columns: err = %v, %d rows", err, bb.Len())
	}

	// Nested target columns: builder mode.
	nestedInfo := Info{Type: "AVRO", Schema: []byte(nestedSchema)}
	nt := mustArrow(t, nestedSchema)
	nd, err := NewDecoder(nestedInfo, nt)
	if err != nil {
		t.Fatal(err)
	}
	nb := NewBatchBuilder(mem, nt)
	defer nb.Release()
	np := avroEncode(t, nestedSchema, map[string]any{
		"id": int64(1), "customer": map[string]any{"name": "ann", "address": nil},
		"tags": []any{"a"}, "lines": []any{map[string]any{"sku": "x", "qty": int32(2)}},
		"attrs": map[string]any{"w": nil}, "matrix": goavro.Union("array", []any{[]any{int64(1)}}),
		"billing": nil,
	})[0]
	for range 3 {
		if err := nb.Append(nd, nil, np); err != nil {
			t.Fatal(err)
		}
	}
	if err := nb.Append(nd, nil, np[:3]); err == nil {
		t.Fatal("truncated nested payload: no error")
	}
	if nb.Len() != 3 {
		t.Fatalf("nested Len = %d, want 3", nb.Len())
	}
	nr := nb.NewRecordBatch()
	defer nr.Release()
	wantN := decodeRows(t, mem, nestedInfo, nt, np, np, np)
	defer wantN.Release()
	assertRecordsEqual(t, wantN, nr)
}

func mustArrow(t *testing.T, avroSchema string) *arrow.Schema {
	t.Helper()
	s, err := ToArrow(Info{Type: "AVRO", Schema: []byte(avroSchema)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// uvarint agrees with the loop reader on every length, including truncated and overlong input.
func TestUvarint(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	check := func(b []byte) {
		t.Helper()
		wv, wn := readVarint(b)
		u, np := uvarint(b, 0)
		switch {
		case wn > 0:
			if np != wn || int64(u>>1)^-int64(u&1) != wv {
				t.Fatalf("% x: uvarint = %d,%d; readVarint = %d,%d", b, int64(u>>1)^-int64(u&1), np, wv, wn)
			}
		case wn == 0 && np != -1, wn < 0 && np != -2:
			t.Fatalf("% x: uvarint pos %d, readVarint n %d", b, np, wn)
		}
	}
	for _, v := range []int64{0, -1, 1, 63, -64, 64, 1 << 20, -1 << 40, 1<<55 - 1, 1 << 55, 1<<62 + 3, -1 << 63, 1<<63 - 1} {
		enc := appendLong(nil, v)
		for pad := 0; pad < 10; pad++ {
			b := append(append([]byte{}, enc...), make([]byte, pad)...)
			check(b)
			check(b[:len(enc)-1])
		}
	}
	for range 100000 {
		b := make([]byte, rng.Intn(14))
		for i := range b {
			b[i] = byte(rng.Intn(256))
			if rng.Intn(4) == 0 {
				b[i] |= 0x80
			}
		}
		check(b)
	}
}

// Batches released before the next is built hand their buffers back for reuse; reused (dirty)
// buffers still give exactly the right rows, and batches outliving the BatchBuilder are freed
// to the allocator when released.
func TestBatchBuilderRecycles(t *testing.T) {
	mem := checkedMem(t)
	info := Info{Type: "AVRO", Schema: []byte(flatSchema)}
	target, err := ToArrow(info)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewDecoder(info, target)
	if err != nil {
		t.Fatal(err)
	}
	rows := flatRows(1500)
	payloads := avroEncode(t, flatSchema, rows...)
	want := decodeRows(t, mem, info, target, payloads...)
	defer want.Release()
	bb := NewBatchBuilder(mem, target)
	var kept []arrow.RecordBatch
	for start := 0; start < len(payloads); {
		// Batch sizes vary so that buffers are reused at other sizes than they were made for.
		end := min(start+37+start%200, len(payloads))
		for _, p := range payloads[start:end] {
			if err := bb.Append(dec, nil, p); err != nil {
				t.Fatal(err)
			}
		}
		got := bb.NewRecordBatch()
		slice := want.NewSlice(int64(start), int64(end))
		assertRecordsEqual(t, slice, got)
		slice.Release()
		if start%3 == 0 {
			kept = append(kept, got)
		} else {
			got.Release()
		}
		start = end
	}
	if bb.cmem.bytes == 0 {
		t.Error("no buffers kept for reuse")
	}
	bb.Release()
	if len(bb.cmem.free) != 0 {
		t.Errorf("%d buffers kept after Release", len(bb.cmem.free))
	}
	// Released from another goroutine after the builder is gone: straight to the allocator.
	done := make(chan struct{})
	go func() {
		releaseAll(kept)
		close(done)
	}()
	<-done
}

// Each batch reserves the rows the previous one needed; a short batch only halves the room.
func TestBatchBuilderReservesFromPreviousBatch(t *testing.T) {
	mem := checkedMem(t)
	info := Info{Type: "AVRO", Schema: []byte(bidSchema)}
	target := mustArrow(t, bidSchema)
	dec, err := NewDecoder(info, target)
	if err != nil {
		t.Fatal(err)
	}
	payloads := bidPayloads(t, 3000)
	bb := NewBatchBuilder(mem, target)
	defer bb.Release()
	fill := func(n int) {
		for _, p := range payloads[:n] {
			if err := bb.Append(dec, nil, p); err != nil {
				t.Fatal(err)
			}
		}
		bb.NewRecordBatch().Release()
	}
	fill(3000)
	if bb.cap < 3000 || len(bb.cols[4].d) < 3000*50 {
		t.Errorf("after 3000 rows: room for %d rows, %d url bytes", bb.cap, len(bb.cols[4].d))
	}
	fill(10)
	if bb.cap < 1500 || len(bb.cols[4].d) < 1500*50 {
		t.Errorf("after a 10-row batch: room for %d rows, %d url bytes; want half of before", bb.cap, len(bb.cols[4].d))
	}
	for range 10 {
		fill(10)
	}
	if bb.cap > 64 {
		t.Errorf("after many 10-row batches: room for %d rows, want it back to 64", bb.cap)
	}
}
