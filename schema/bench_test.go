package schema

import (
	"fmt"
	"math/rand"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/linkedin/goavro/v2"
)

// bidSchema is the Nexmark Bid event.
const bidSchema = `{"type":"record","name":"Bid","namespace":"nexmark","fields":[
 {"name":"auction","type":"long"},
 {"name":"bidder","type":"long"},
 {"name":"price","type":"long"},
 {"name":"channel","type":"string"},
 {"name":"url","type":"string"},
 {"name":"dateTime","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"extra","type":"string"}
]}`

// bidPayloads encodes n Nexmark-like bids (about 100 bytes each).
func bidPayloads(tb testing.TB, n int) [][]byte {
	rng := rand.New(rand.NewSource(1))
	channels := []string{"Google", "Facebook", "Baidu", "Apple"}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := make([]map[string]any, n)
	for i := range rows {
		ch := rng.Intn(len(channels))
		rows[i] = map[string]any{
			"auction": int64(1000 + rng.Intn(100)),
			"bidder":  int64(1000 + rng.Intn(1000)),
			"price":   int64(rng.Intn(10_000_000)),
			"channel": channels[ch],
			"url": fmt.Sprintf("https://www.nexmark.com/%s/item.htm?query=1&channel_id=%d",
				randWord(rng, 5), rng.Intn(1<<30)),
			"dateTime": base.Add(time.Duration(i) * time.Millisecond),
			"extra":    randWord(rng, rng.Intn(12)),
		}
	}
	return avroEncode(tb, bidSchema, rows...)
}

func randWord(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rng.Intn(26))
	}
	return string(b)
}

// BenchmarkDecodeBid decodes Nexmark bids into 4096-row batches through a BatchBuilder, as the
// Pulsar source operator does: the flat fast path writing straight into column buffers.
func BenchmarkDecodeBid(b *testing.B) {
	payloads := bidPayloads(b, 1024)
	total := 0
	for _, p := range payloads {
		total += len(p)
	}
	info := Info{Type: "AVRO", Schema: []byte(bidSchema)}
	target, err := ToArrow(info)
	if err != nil {
		b.Fatal(err)
	}
	dec, err := NewDecoder(info, target)
	if err != nil {
		b.Fatal(err)
	}
	bb := NewBatchBuilder(memory.NewGoAllocator(), target)
	defer bb.Release()
	const batch = 4096
	b.SetBytes(int64(total / len(payloads)))
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		if err := bb.Append(dec, nil, payloads[i&1023]); err != nil {
			b.Fatal(err)
		}
		if bb.Len() == batch {
			bb.NewRecordBatch().Release()
		}
	}
	reportRates(b, start, cpu0)
}

// BenchmarkDecodeBidBuilder decodes the same bids with Decoder.Append into a RecordBuilder (the
// row-at-a-time API, through Arrow's builders).
func BenchmarkDecodeBidBuilder(b *testing.B) { benchmarkDecodeBid(b) }

// BenchmarkDecodeBidGeneral runs the builder decode through the general compiled tree (the path
// of nested records, arrays, maps, decimals and unions) instead of the flat fast path.
func BenchmarkDecodeBidGeneral(b *testing.B) {
	forceGeneral = true
	defer func() { forceGeneral = false }()
	benchmarkDecodeBid(b)
}

func benchmarkDecodeBid(b *testing.B) {
	payloads := bidPayloads(b, 1024)
	total := 0
	for _, p := range payloads {
		total += len(p)
	}
	info := Info{Type: "AVRO", Schema: []byte(bidSchema)}
	target, err := ToArrow(info)
	if err != nil {
		b.Fatal(err)
	}
	dec, err := NewDecoder(info, target)
	if err != nil {
		b.Fatal(err)
	}
	mem := memory.NewGoAllocator()
	rb := array.NewRecordBuilder(mem, target)
	defer rb.Release()
	// A source operator sizes its builders for a batch up front, as done here (data buffers from
	// the previous batch's sizes): without it the builders regrow their buffers on every batch.
	const batch = 4096
	avg := total / len(payloads)
	dataLen := make([]int, target.NumFields())
	for i := range dataLen {
		dataLen[i] = batch * avg / 2
	}
	reserve := func() {
		rb.Reserve(batch)
		for i, fb := range rb.Fields() {
			if sb, ok := fb.(*array.StringBuilder); ok {
				sb.ReserveData(dataLen[i] + dataLen[i]/8)
			}
		}
	}
	flush := func() {
		for i, fb := range rb.Fields() {
			if sb, ok := fb.(*array.StringBuilder); ok {
				dataLen[i] = sb.DataLen()
			}
		}
		rb.NewRecord().Release()
		reserve()
	}
	reserve()
	b.SetBytes(int64(avg))
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	n := 0
	for i := 0; i < b.N; i++ {
		if err := dec.Append(rb, nil, payloads[i&1023]); err != nil {
			b.Fatal(err)
		}
		if n++; n == batch {
			flush()
			n = 0
		}
	}
	reportRates(b, start, cpu0)
}

// reportRates reports records per wall-clock second and per second of process CPU time; the
// latter is steadier on a shared machine.
func reportRates(b *testing.B, start time.Time, cpu0 time.Duration) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "records/cpu-s")
	}
}

// cpuTime is the user+system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkDecodeBidGoavroMap(b *testing.B) {
	payloads := bidPayloads(b, 1024)
	codec, err := goavro.NewCodec(bidSchema)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		if _, _, err := codec.NativeFromBinary(payloads[i&1023]); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, start, cpu0)
}

// BenchmarkBidBuildersFloor appends constant Bid-shaped values to the same builders with no
// decoding at all: the ceiling for any decoder that fills Arrow builders row by row.
func BenchmarkBidBuildersFloor(b *testing.B) {
	target, err := ToArrow(Info{Type: "AVRO", Schema: []byte(bidSchema)})
	if err != nil {
		b.Fatal(err)
	}
	rb := array.NewRecordBuilder(memory.NewGoAllocator(), target)
	defer rb.Release()
	s1, s2, s3 := []byte("Google"), []byte("https://www.nexmark.com/abcde/item.htm?query=1&channel_id=123456789"), []byte("xyzxyz")
	const batch = 4096
	reserve := func() {
		rb.Reserve(batch)
		rb.Field(3).(*array.StringBuilder).ReserveData(batch * len(s1))
		rb.Field(4).(*array.StringBuilder).ReserveData(batch * len(s2))
		rb.Field(6).(*array.StringBuilder).ReserveData(batch * len(s3))
	}
	reserve()
	a := rb.Field(0).(*array.Int64Builder)
	bd := rb.Field(1).(*array.Int64Builder)
	p := rb.Field(2).(*array.Int64Builder)
	ch := rb.Field(3).(*array.StringBuilder)
	u := rb.Field(4).(*array.StringBuilder)
	ts := rb.Field(5).(*array.TimestampBuilder)
	ex := rb.Field(6).(*array.StringBuilder)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	n := 0
	for i := 0; i < b.N; i++ {
		a.Append(int64(i))
		bd.Append(int64(i))
		p.Append(int64(i))
		ch.BinaryBuilder.Append(s1)
		u.BinaryBuilder.Append(s2)
		ts.Append(arrow.Timestamp(i))
		ex.BinaryBuilder.Append(s3)
		if n++; n == batch {
			rb.NewRecord().Release()
			reserve()
			n = 0
		}
	}
	reportRates(b, start, cpu0)
}

// BenchmarkDecodeBidJSON decodes the same bids as JSON payloads (Pulsar JSON schema).
func BenchmarkDecodeBidJSON(b *testing.B) {
	avroInfo := Info{Type: "AVRO", Schema: []byte(bidSchema)}
	jsonInfo := Info{Type: "JSON", Schema: []byte(bidSchema)}
	target, err := ToArrow(avroInfo)
	if err != nil {
		b.Fatal(err)
	}
	mem := memory.NewGoAllocator()
	rec := decodeRows(b, mem, avroInfo, target, bidPayloads(b, 1024)...)
	defer rec.Release()
	enc, err := NewEncoder(jsonInfo, target)
	if err != nil {
		b.Fatal(err)
	}
	payloads := make([][]byte, rec.NumRows())
	for i := range payloads {
		if payloads[i], err = enc.Encode(rec, i, nil); err != nil {
			b.Fatal(err)
		}
	}
	dec, err := NewDecoder(jsonInfo, target)
	if err != nil {
		b.Fatal(err)
	}
	rb := array.NewRecordBuilder(mem, target)
	defer rb.Release()
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		if err := dec.Append(rb, nil, payloads[i&1023]); err != nil {
			b.Fatal(err)
		}
		if i&4095 == 4095 {
			rb.NewRecord().Release()
		}
	}
	reportRates(b, start, cpu0)
}

// BenchmarkEncodeBid encodes Arrow rows back to Avro payloads (the sink path).
func BenchmarkEncodeBid(b *testing.B) {
	info := Info{Type: "AVRO", Schema: []byte(bidSchema)}
	target, err := ToArrow(info)
	if err != nil {
		b.Fatal(err)
	}
	rec := decodeRows(b, memory.NewGoAllocator(), info, target, bidPayloads(b, 1024)...)
	defer rec.Release()
	enc, err := NewEncoder(info, target)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		if buf, err = enc.Encode(rec, i&1023, buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, start, cpu0)
}
