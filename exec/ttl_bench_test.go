package exec_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
)

// movingKeyStream is n rows of (k, v) in 8K-row batches, batch b drawing
// its keys from [b*drift, b*drift + width): keys come into use and go out
// of it, as sessions or orders do. Each batch is followed by a watermark
// of b seconds.
func movingKeyStream(mem memory.Allocator, s *arrow.Schema, n, drift, width int, seed uint64) []exec.Message {
	r := rand.New(rand.NewPCG(seed, 2))
	var out []exec.Message
	for b, done := 0, 0; done < n; b, done = b+1, done+benchBatch {
		m := min(benchBatch, n-done)
		kb, vb := array.NewInt64Builder(mem), array.NewInt64Builder(mem)
		for i := 0; i < m; i++ {
			kb.Append(int64(b*drift + r.IntN(width)))
			vb.Append(int64(r.IntN(1000)))
		}
		k, v := kb.NewArray(), vb.NewArray()
		out = append(out, exec.BatchMsg(array.NewRecordBatch(s, []arrow.Array{k, v}, int64(m)), nil), exec.WatermarkMsg(int64(b)*1e6))
		k.Release()
		v.Release()
		kb.Release()
		vb.Release()
	}
	return out
}

// drainOpen runs op to End and leaves it open (its state readable).
func drainOpen(b *testing.B, op exec.Operator) int64 {
	ctx := context.Background()
	if err := op.Open(ctx); err != nil {
		b.Fatal(err)
	}
	var rows int64
	for {
		m, err := op.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if m.Kind == exec.MsgEnd {
			return rows
		}
		if m.Kind == exec.MsgBatch {
			rows += m.Batch.Rec.NumRows()
		}
		m.Release()
	}
}

// retained returns msgs with their batches retained once more (a source
// run releases them).
func retained(msgs []exec.Message) []exec.Message {
	out := make([]exec.Message, len(msgs))
	for i, m := range msgs {
		if m.Kind == exec.MsgBatch {
			m.Batch.Rec.Retain()
		}
		out[i] = m
	}
	return out
}

// BenchmarkHashAggregateChangelogTTL: COUNT(*), SUM(v) GROUP BY k over 2M
// rows in 8K-row batches, each followed by a watermark 1 s later, without
// a TTL and with a TTL of 5 s (5 batches). moving: keys move on (2K new
// keys per batch, each in use for about two batches): without a TTL state
// grows with every key ever seen, with one it stays at the keys in use;
// stable: 4K keys, each updated about twice a batch: nothing expires (the
// TTL's bookkeeping alone).
func BenchmarkHashAggregateChangelogTTL(b *testing.B) {
	for _, keys := range []string{"moving", "stable"} {
		for _, ttl := range []time.Duration{0, 5 * time.Second} {
			b.Run(keys+"/ttl="+ttl.String(), func(b *testing.B) {
				mem := memory.NewGoAllocator()
				s := arrow.NewSchema([]arrow.Field{{Name: "k", Type: i64}, {Name: "v", Type: i64}}, nil)
				const rows = 2 << 20
				drift, width := 2000, 4000
				if keys == "stable" {
					drift, width = 0, 4000
				}
				msgs := movingKeyStream(mem, s, rows, drift, width, 1)
				defer exectest.ReleaseMessages(msgs)
				k := &expr.Column{Index: 0, Name: "k", T: i64}
				v := &expr.Column{Index: 1, Name: "v", T: i64}
				b.ResetTimer()
				cpu0 := cpuTime()
				var entries int
				var size int64
				for i := 0; i < b.N; i++ {
					op, err := exec.NewHashAggregate(exectest.NewSource(s, retained(msgs)...), []expr.Expr{k}, []string{"k"},
						[]exec.AggCall{{Func: "count_star", Name: "n"}, {Func: "sum", Args: []expr.Expr{v}, Name: "s"}},
						mem, exec.AggOptions{Emit: exec.EmitChangelog})
					if err != nil {
						b.Fatal(err)
					}
					agg := op.(*exec.HashAggregate)
					agg.SetStateTTL(ttl)
					drainOpen(b, agg)
					entries, size = agg.State().Entries(), agg.State().SizeBytes()
					agg.Close()
				}
				b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
				b.ReportMetric(float64(entries), "groups-at-end")
				b.ReportMetric(float64(size)/1e6, "state-MB-at-end")
				reportCPU(b, cpu0, rows)
			})
		}
	}
}

// BenchmarkSymmetricJoinTTL: an inner join of two 1M-row streams on keys
// that move on (each key on both sides within a few batches), watermarks
// after every batch, without a TTL and with one of 5 s.
func BenchmarkSymmetricJoinTTL(b *testing.B) {
	for _, ttl := range []time.Duration{0, 5 * time.Second} {
		b.Run("ttl="+ttl.String(), func(b *testing.B) {
			mem := memory.NewGoAllocator()
			s := arrow.NewSchema([]arrow.Field{{Name: "k", Type: i64}, {Name: "v", Type: i64}}, nil)
			const rows = 1 << 20
			left := movingKeyStream(mem, s, rows, 8000, 16000, 3)
			right := movingKeyStream(mem, s, rows, 8000, 16000, 4)
			defer exectest.ReleaseMessages(left)
			defer exectest.ReleaseMessages(right)
			k := &expr.Column{Index: 0, Name: "k", T: i64}
			b.ResetTimer()
			cpu0 := cpuTime()
			var out int64
			var size int64
			for i := 0; i < b.N; i++ {
				// A watermark first: the build side is a stream (symmetric mode).
				rmsgs := append([]exec.Message{exec.WatermarkMsg(-1)}, retained(right)...)
				op, err := exec.NewHashJoin(exectest.NewSource(s, retained(left)...), exectest.NewSource(s, rmsgs...),
					[]expr.Expr{k}, []expr.Expr{k}, exec.InnerJoin, nil, mem)
				if err != nil {
					b.Fatal(err)
				}
				j := op.(*exec.HashJoin)
				j.SetStateTTL(ttl)
				out += drainOpen(b, j)
				size = j.State().SizeBytes()
				j.Close()
			}
			b.ReportMetric(float64(2*rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(out)/float64(b.N), "matches/op")
			b.ReportMetric(float64(size)/1e6, "state-MB-at-end")
			reportCPU(b, cpu0, 2*rows)
		})
	}
}
