package expr

import (
	"context"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

const benchRows = 8192

func benchBatch(mem memory.Allocator) arrow.RecordBatch {
	ib := array.NewInt64Builder(mem)
	fb := array.NewFloat64Builder(mem)
	for i := 0; i < benchRows; i++ {
		ib.Append(int64(i*7919) % 1000)
		fb.Append(float64(i%100) / 100)
	}
	a, b := ib.NewArray(), fb.NewArray()
	ib.Release()
	fb.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: tInt64}, {Name: "b", Type: tFloat}}, nil)
	rec := array.NewRecordBatch(schema, []arrow.Array{a, b}, benchRows)
	a.Release()
	b.Release()
	return rec
}

func runBench(b *testing.B, e Expr) {
	runBenchMem(b, e, memory.NewGoAllocator())
}

func runBenchMem(b *testing.B, e Expr, mem memory.Allocator) {
	rec := benchBatch(mem)
	defer rec.Release()
	ev, err := Compile(e, mem)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		out, err := ev.Eval(ctx, rec)
		if err != nil {
			b.Fatal(err)
		}
		out.Release()
	}
	rows := float64(b.N) * benchRows
	b.ReportMetric(rows/b.Elapsed().Seconds(), "rows/s")
	// The build machine is shared: rows per CPU-second of this process
	// (including GC) is the load-independent figure.
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(rows/cpu.Seconds(), "rows/cpu-s")
	}
}

// processCPU is the user+system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFilterPredicate: a > 100 AND b < 0.5 over 8K-row batches.
func BenchmarkFilterPredicate(b *testing.B) {
	a, f := &Column{Index: 0, Name: "a", T: tInt64}, &Column{Index: 1, Name: "b", T: tFloat}
	gt, _ := NewCall(">", a, Lit(100))
	lt, _ := NewCall("<", f, Lit(0.5))
	pred, err := NewCall("and", gt, lt)
	if err != nil {
		b.Fatal(err)
	}
	runBench(b, pred)
}

// BenchmarkProjectArith: a * 2 + 1 over 8K-row batches.
func BenchmarkProjectArith(b *testing.B) {
	a := &Column{Index: 0, Name: "a", T: tInt64}
	mul, _ := NewCall("*", a, Lit(2))
	e, err := NewCall("+", mul, Lit(1))
	if err != nil {
		b.Fatal(err)
	}
	runBench(b, e)
}

// BenchmarkProjectArithDouble: b * 2.5 + a over 8K-row batches.
func BenchmarkProjectArithDouble(b *testing.B) {
	a, f := &Column{Index: 0, Name: "a", T: tInt64}, &Column{Index: 1, Name: "b", T: tFloat}
	mul, _ := NewCall("*", f, Lit(2.5))
	e, err := NewCall("+", mul, a)
	if err != nil {
		b.Fatal(err)
	}
	runBench(b, e)
}

// BenchmarkProjectArithPooled: a * 2 + 1 with the recycling PoolAllocator.
func BenchmarkProjectArithPooled(b *testing.B) {
	a := &Column{Index: 0, Name: "a", T: tInt64}
	mul, _ := NewCall("*", a, Lit(2))
	e, err := NewCall("+", mul, Lit(1))
	if err != nil {
		b.Fatal(err)
	}
	runBenchMem(b, e, NewPoolAllocator())
}

// BenchmarkFilterPredicatePooled: a > 100 AND b < 0.5 with the PoolAllocator.
func BenchmarkFilterPredicatePooled(b *testing.B) {
	a, f := &Column{Index: 0, Name: "a", T: tInt64}, &Column{Index: 1, Name: "b", T: tFloat}
	gt, _ := NewCall(">", a, Lit(100))
	lt, _ := NewCall("<", f, Lit(0.5))
	pred, err := NewCall("and", gt, lt)
	if err != nil {
		b.Fatal(err)
	}
	runBenchMem(b, pred, NewPoolAllocator())
}

// BenchmarkLikeContains: s LIKE '%42%' over 8K short strings.
func BenchmarkLikeContains(b *testing.B) {
	mem := memory.NewGoAllocator()
	sb := array.NewStringBuilder(mem)
	for i := 0; i < benchRows; i++ {
		sb.Append("item-" + strconv.Itoa(i*7919%100000))
	}
	s := sb.NewArray()
	sb.Release()
	rec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "s", Type: tString}}, nil), []arrow.Array{s}, benchRows)
	s.Release()
	defer rec.Release()
	e, err := NewCall("like", &Column{Index: 0, Name: "s", T: tString}, Lit("%42%"))
	if err != nil {
		b.Fatal(err)
	}
	ev, err := Compile(e, mem)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := ev.Eval(context.Background(), rec)
		if err != nil {
			b.Fatal(err)
		}
		out.Release()
	}
	b.ReportMetric(float64(b.N)*benchRows/b.Elapsed().Seconds(), "rows/s")
}
