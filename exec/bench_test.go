package exec_test

import (
	"context"
	"math/rand/v2"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
)

const benchBatch = 8192

// int64Batches builds n rows of (k, v) in 8K-row batches with k drawn from
// [0, keys) and v random.
func int64Batches(mem memory.Allocator, s *arrow.Schema, n, keys int, seed uint64) []arrow.RecordBatch {
	r := rand.New(rand.NewPCG(seed, 1))
	var out []arrow.RecordBatch
	for done := 0; done < n; done += benchBatch {
		m := min(benchBatch, n-done)
		kb := array.NewInt64Builder(mem)
		vb := array.NewInt64Builder(mem)
		for i := 0; i < m; i++ {
			kb.Append(int64(r.IntN(keys)))
			vb.Append(int64(r.IntN(1000)))
		}
		k, v := kb.NewArray(), vb.NewArray()
		out = append(out, array.NewRecordBatch(s, []arrow.Array{k, v}, int64(m)))
		k.Release()
		v.Release()
		kb.Release()
		vb.Release()
	}
	return out
}

// drain runs op to End and returns the number of output rows.
func drain(b *testing.B, op exec.Operator) int64 {
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
			break
		}
		if m.Kind == exec.MsgBatch {
			rows += m.Batch.Rec.NumRows()
		}
		m.Release()
	}
	op.Close()
	return rows
}

func releaseAll(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

// BenchmarkHashAggregate: BIGINT key with 100K distinct values, COUNT(*) and
// SUM(v), 8K-row batches.
func BenchmarkHashAggregate(b *testing.B) {
	mem := memory.NewGoAllocator()
	s := arrow.NewSchema([]arrow.Field{{Name: "k", Type: i64}, {Name: "v", Type: i64}}, nil)
	const rows = 4 << 20
	data := int64Batches(mem, s, rows, 100_000, 1)
	defer releaseAll(data)
	k := &expr.Column{Index: 0, Name: "k", T: i64}
	v := &expr.Column{Index: 1, Name: "v", T: i64}
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		agg, err := exec.NewHashAggregate(exec.NewValues(s, data), []expr.Expr{k}, []string{"k"},
			[]exec.AggCall{{Func: "count_star", Name: "n"}, {Func: "sum", Args: []expr.Expr{v}, Name: "s"}},
			mem, exec.AggOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if got := drain(b, agg); got != 100_000 {
			b.Fatalf("%d groups", got)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	reportCPU(b, cpu0, rows)
}

// BenchmarkHashJoin: 1M build rows (unique BIGINT keys), 10M probe rows
// whose keys all match, inner join, output = probe columns + build columns.
func BenchmarkHashJoin(b *testing.B) {
	mem := memory.NewGoAllocator()
	s := arrow.NewSchema([]arrow.Field{{Name: "k", Type: i64}, {Name: "v", Type: i64}}, nil)
	const buildRows, probeRows = 1 << 20, 10 << 20
	r := rand.New(rand.NewPCG(2, 3))
	perm := r.Perm(buildRows)
	var build []arrow.RecordBatch
	for start := 0; start < buildRows; start += benchBatch {
		kb, vb := array.NewInt64Builder(mem), array.NewInt64Builder(mem)
		for i := start; i < start+benchBatch; i++ {
			kb.Append(int64(perm[i]))
			vb.Append(int64(i))
		}
		k, v := kb.NewArray(), vb.NewArray()
		build = append(build, array.NewRecordBatch(s, []arrow.Array{k, v}, benchBatch))
		k.Release()
		v.Release()
	}
	probe := int64Batches(mem, s, probeRows, buildRows, 4)
	defer releaseAll(build)
	defer releaseAll(probe)
	lk := &expr.Column{Index: 0, Name: "k", T: i64}
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		j, err := exec.NewHashJoin(exec.NewValues(s, probe), exec.NewValues(s, build),
			[]expr.Expr{lk}, []expr.Expr{lk}, exec.InnerJoin, nil, mem)
		if err != nil {
			b.Fatal(err)
		}
		if got := drain(b, j); got != probeRows {
			b.Fatalf("%d rows", got)
		}
	}
	b.ReportMetric(float64(probeRows)*float64(b.N)/b.Elapsed().Seconds(), "probe_rows/s")
	reportCPU(b, cpu0, probeRows)
}

// BenchmarkSort10M: ORDER BY k over 10M rows of (k BIGINT random, v BIGINT).
func BenchmarkSort10M(b *testing.B) {
	mem := memory.NewGoAllocator()
	s := arrow.NewSchema([]arrow.Field{{Name: "k", Type: i64}, {Name: "v", Type: i64}}, nil)
	const rows = 10_000_000
	data := int64Batches(mem, s, rows, 1<<62, 5)
	defer releaseAll(data)
	k := &expr.Column{Index: 0, Name: "k", T: i64}
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		op, err := exec.NewSort(exec.NewValues(s, data), []exec.SortKey{{Expr: k, NullsFirst: true}}, mem)
		if err != nil {
			b.Fatal(err)
		}
		if got := drain(b, op); got != rows {
			b.Fatalf("%d rows", got)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	reportCPU(b, cpu0, rows)
}

// cpuTime is the process's user+system CPU time. Benchmarks report CPU
// seconds per op next to wall time because the shared 2-core machine is
// often loaded: CPU time is the steadier measure of the code itself.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports CPU time per op and rows per CPU second.
func reportCPU(b *testing.B, start time.Duration, rows int64) {
	cpu := (cpuTime() - start).Seconds()
	b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(rows)*float64(b.N)/cpu, "rows/cpu-s")
}

// BenchmarkFilterProject: WHERE v < 500 (about half the rows), SELECT k,
// v * 2 + 1 over 4M rows, with expressions compiled by expr.
func BenchmarkFilterProject(b *testing.B) {
	mem := memory.NewGoAllocator()
	s := arrow.NewSchema([]arrow.Field{{Name: "k", Type: i64}, {Name: "v", Type: i64}}, nil)
	const rows = 4 << 20
	data := int64Batches(mem, s, rows, 1<<30, 6)
	defer releaseAll(data)
	k := &expr.Column{Index: 0, Name: "k", T: i64}
	v := &expr.Column{Index: 1, Name: "v", T: i64}
	pred := must(expr.NewCall("<", v, expr.Lit(int64(500))))
	calc := must(expr.NewCall("+", must(expr.NewCall("*", v, expr.Lit(int64(2)))), expr.Lit(int64(1))))
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		f, err := exec.NewFilter(exec.NewValues(s, data), pred, mem)
		if err != nil {
			b.Fatal(err)
		}
		p, err := exec.NewProject(f, []expr.Expr{k, calc}, []string{"k", "w"}, mem)
		if err != nil {
			b.Fatal(err)
		}
		if got := drain(b, p); got < rows/3 || got > rows*2/3 {
			b.Fatalf("%d rows", got)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	reportCPU(b, cpu0, rows)
}

// BenchmarkHashAggregateStringKey: the general (serialized key) path with a
// VARCHAR key of 10K distinct values, COUNT(*) and SUM(v).
func BenchmarkHashAggregateStringKey(b *testing.B) {
	mem := memory.NewGoAllocator()
	s := arrow.NewSchema([]arrow.Field{{Name: "k", Type: str}, {Name: "v", Type: i64}}, nil)
	const rows = 2 << 20
	r := rand.New(rand.NewPCG(8, 8))
	var data []arrow.RecordBatch
	for done := 0; done < rows; done += benchBatch {
		kb, vb := array.NewStringBuilder(mem), array.NewInt64Builder(mem)
		for i := 0; i < benchBatch; i++ {
			kb.Append("customer-" + strconv.Itoa(r.IntN(10_000)))
			vb.Append(int64(r.IntN(1000)))
		}
		k, v := kb.NewArray(), vb.NewArray()
		data = append(data, array.NewRecordBatch(s, []arrow.Array{k, v}, benchBatch))
		k.Release()
		v.Release()
	}
	defer releaseAll(data)
	k := &expr.Column{Index: 0, Name: "k", T: str}
	v := &expr.Column{Index: 1, Name: "v", T: i64}
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		agg, err := exec.NewHashAggregate(exec.NewValues(s, data), []expr.Expr{k}, []string{"k"},
			[]exec.AggCall{{Func: "count_star", Name: "n"}, {Func: "sum", Args: []expr.Expr{v}, Name: "s"}},
			mem, exec.AggOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if got := drain(b, agg); got != 10_000 {
			b.Fatalf("%d groups", got)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	reportCPU(b, cpu0, rows)
}

// BenchmarkHashJoinSymmetric: the streaming (symmetric) inner join, forced
// by a watermark on the build side: 1M rows a side, keys in [0, 1M).
func BenchmarkHashJoinSymmetric(b *testing.B) { benchSymmetricJoin(b, exec.InnerJoin) }

// benchSymmetricJoin runs BenchmarkHashJoinSymmetric's streams through a
// join of type typ.
func benchSymmetricJoin(b *testing.B, typ exec.JoinType) {
	mem := memory.NewGoAllocator()
	s := arrow.NewSchema([]arrow.Field{{Name: "k", Type: i64}, {Name: "v", Type: i64}}, nil)
	const rows = 1 << 20
	left := int64Batches(mem, s, rows, rows, 10)
	right := int64Batches(mem, s, rows, rows, 11)
	defer releaseAll(left)
	defer releaseAll(right)
	k := &expr.Column{Index: 0, Name: "k", T: i64}
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		rmsgs := []exec.Message{exec.WatermarkMsg(0)}
		for _, r := range right {
			r.Retain()
			rmsgs = append(rmsgs, exec.BatchMsg(r, nil))
		}
		j, err := exec.NewHashJoin(exec.NewValues(s, left), exectestSource(s, rmsgs), []expr.Expr{k}, []expr.Expr{k}, typ, nil, mem)
		if err != nil {
			b.Fatal(err)
		}
		drain(b, j)
	}
	b.ReportMetric(float64(2*rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	reportCPU(b, cpu0, 2*rows)
}

// BenchmarkHashAggregateChangelog: the streaming mode of
// BenchmarkHashAggregate: after every 8K-row batch the touched groups' -U/+U
// (or +I) rows are emitted.
func BenchmarkHashAggregateChangelog(b *testing.B) {
	mem := memory.NewGoAllocator()
	s := arrow.NewSchema([]arrow.Field{{Name: "k", Type: i64}, {Name: "v", Type: i64}}, nil)
	const rows = 2 << 20
	data := int64Batches(mem, s, rows, 100_000, 1)
	defer releaseAll(data)
	k := &expr.Column{Index: 0, Name: "k", T: i64}
	v := &expr.Column{Index: 1, Name: "v", T: i64}
	b.ResetTimer()
	cpu0 := cpuTime()
	var out int64
	for i := 0; i < b.N; i++ {
		agg, err := exec.NewHashAggregate(exec.NewValues(s, data), []expr.Expr{k}, []string{"k"},
			[]exec.AggCall{{Func: "count_star", Name: "n"}, {Func: "sum", Args: []expr.Expr{v}, Name: "s"}},
			mem, exec.AggOptions{Emit: exec.EmitChangelog})
		if err != nil {
			b.Fatal(err)
		}
		out += drain(b, agg)
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(out)/float64(b.N), "changes/op")
	reportCPU(b, cpu0, rows)
}
