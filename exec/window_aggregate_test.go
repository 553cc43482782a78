package exec_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/magnetar-sql/magnetar/nexmark"
)

func colOf(s *arrow.Schema, name string) *expr.Column {
	idx := s.FieldIndices(name)
	if len(idx) == 0 {
		panic("no column " + name)
	}
	return &expr.Column{Index: idx[0], Name: name, T: s.Field(idx[0]).Type}
}

// longStream is a scripted source of batches rows over keys keys, one batch
// per second of event time, slightly out of order within a batch.
func longStream(mem memory.Allocator, s *arrow.Schema, batches, rows, keys int) *exectest.Source {
	var msgs []exec.Message
	for b := 0; b < batches; b++ {
		var rs [][]any
		for r := 0; r < rows; r++ {
			ts := int64(b)*1e6 + int64((r*7919)%rows)*1e6/int64(rows)
			rs = append(rs, []any{r % keys, int64(r), arrow.Timestamp(ts)})
		}
		msgs = append(msgs, exec.BatchMsg(exectest.Record(mem, s, rs...), nil))
	}
	return exectest.NewSource(s, msgs...)
}

// TestWindowStateStaysFlat runs a long stream through each window kind and
// checks that the state never holds more than the few windows alive at a
// time, and that every window comes out once with all its rows.
func TestWindowStateStaysFlat(t *testing.T) {
	const batches, rows, keys = 300, 50, 10
	cases := []struct {
		spec       exec.WindowSpec
		maxEntries int
		rowsOut    int // output rows expected
		countSum   int64
	}{
		{exec.WindowSpec{Kind: exec.Tumble, Size: 10 * time.Second}, 2 * keys, batches / 10 * keys, batches * rows},
		{exec.WindowSpec{Kind: exec.Hop, Size: 10 * time.Second, Slide: 5 * time.Second}, 3 * keys, (batches/5 + 1) * keys, 2 * batches * rows},
		{exec.WindowSpec{Kind: exec.Cumulate, Size: 10 * time.Second, Slide: 5 * time.Second}, 2 * keys, batches / 5 * keys, batches*rows + batches*rows/2},
		// Each key's rows are 0.2s apart: one session per key, open until
		// End, so the state is all rows; with a gap smaller than the
		// spacing every row is its own session and the state stays small.
		{exec.WindowSpec{Kind: exec.Session, Gap: 100 * time.Millisecond}, 3 * rows, batches * rows, batches * rows},
	}
	for _, c := range cases {
		t.Run(c.spec.Kind.String(), func(t *testing.T) {
			mem := stMem(t)
			s := exectest.Schema("k", arrow.PrimitiveTypes.Int64, "v", arrow.PrimitiveTypes.Int64, "ts", tsType)
			wa, err := exec.NewWatermarkAssigner(longStream(mem, s, batches, rows, keys), 2, 500*time.Millisecond,
				exec.WatermarkOptions{PartitionCol: -1, Mem: mem})
			if err != nil {
				t.Fatal(err)
			}
			spec := c.spec
			spec.TimeCol = colOf(s, "ts")
			agg, err := exec.NewWindowAggregate(wa, spec, []expr.Expr{colOf(s, "k")}, []string{"k"},
				[]exec.AggCall{{Func: "count_star", Name: "n"}, {Func: "max", Args: []expr.Expr{colOf(s, "v")}, Name: "mx"}}, mem)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := agg.Open(ctx); err != nil {
				t.Fatal(err)
			}
			defer agg.Close()
			maxEntries, out := 0, 0
			var total int64
			for {
				m, err := agg.Next(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if m.Kind == exec.MsgEnd {
					break
				}
				maxEntries = max(maxEntries, agg.State().Entries())
				if m.Kind == exec.MsgBatch {
					if !m.Batch.AppendOnly() {
						t.Fatal("window output with retractions")
					}
					out += int(m.Batch.Rec.NumRows())
					for _, v := range m.Batch.Rec.Column(3).(interface{ Int64Values() []int64 }).Int64Values() {
						total += v
					}
				}
				m.Release()
			}
			if maxEntries > c.maxEntries {
				t.Errorf("state grew to %d entries, want at most %d", maxEntries, c.maxEntries)
			}
			if out != c.rowsOut || total != c.countSum {
				t.Errorf("got %d rows counting %d input rows, want %d rows counting %d", out, total, c.rowsOut, c.countSum)
			}
			if n := agg.State().Entries(); n != 0 {
				t.Errorf("state holds %d entries after End", n)
			}
		})
	}
}

func TestWindowAggregateRejectsRetractions(t *testing.T) {
	mem := stMem(t)
	s := exectest.Schema("k", arrow.PrimitiveTypes.Int64, "v", arrow.PrimitiveTypes.Int64, "ts", tsType)
	src := exectest.NewSource(s, exec.BatchMsg(exectest.Record(mem, s, []any{1, 1, sec(1)}), []exec.ChangeKind{exec.Delete}))
	agg, err := exec.NewWindowAggregate(src, exec.WindowSpec{Kind: exec.Tumble, Size: time.Second, TimeCol: colOf(s, "ts")},
		nil, nil, []exec.AggCall{{Func: "count_star", Name: "n"}}, mem)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exectest.Collect(context.Background(), agg); err == nil {
		t.Fatal("want an error for a retraction")
	}
	if _, err := exec.NewWindowAggregate(src, exec.WindowSpec{Kind: exec.Cumulate, Size: 10 * time.Second, Slide: 3 * time.Second, TimeCol: colOf(s, "ts")},
		nil, nil, nil, mem); err == nil {
		t.Fatal("want an error for a step not dividing the size")
	}
}

// nexmarkBids generates n Nexmark events and keeps the bids.
func nexmarkBids(b *testing.B, mem memory.Allocator, n int64) (bids []arrow.RecordBatch, rows int64) {
	persons, auctions, bids, err := nexmark.Batches(nexmark.Config{Seed: 1, Events: n}, mem, 8192)
	if err != nil {
		b.Fatal(err)
	}
	exectest.Release(persons)
	exectest.Release(auctions)
	for _, r := range bids {
		rows += r.NumRows()
	}
	return bids, rows
}

// BenchmarkTumbleCountMax is Nexmark q5/q7's shape: COUNT(*) and MAX(price)
// per auction per 10 s tumbling window, watermarks from the bid times.
func BenchmarkTumbleCountMax(b *testing.B) {
	mem := memory.NewGoAllocator()
	bids, rows := nexmarkBids(b, mem, 1_000_000)
	defer exectest.Release(bids)
	s := nexmark.BidSchema()
	ctx := context.Background()
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for i := 0; i < b.N; i++ {
		wa, err := exec.NewWatermarkAssigner(exec.NewValues(s, bids), 5, time.Second, exec.WatermarkOptions{PartitionCol: -1})
		if err != nil {
			b.Fatal(err)
		}
		agg, err := exec.NewWindowAggregate(wa, exec.WindowSpec{Kind: exec.Tumble, Size: 10 * time.Second, TimeCol: colOf(s, "dateTime")},
			[]expr.Expr{colOf(s, "auction")}, []string{"auction"},
			[]exec.AggCall{{Func: "count_star", Name: "n"}, {Func: "max", Args: []expr.Expr{colOf(s, "price")}, Name: "max_price"}}, mem)
		if err != nil {
			b.Fatal(err)
		}
		if err := agg.Open(ctx); err != nil {
			b.Fatal(err)
		}
		for {
			m, err := agg.Next(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if m.Kind == exec.MsgEnd {
				break
			}
			m.Release()
		}
		agg.Close()
	}
	reportRates(b, rows, cpu0)
}

// cpuSeconds is the CPU time (user + system) the process has used. The
// benchmarks report events per CPU second besides events per wall second:
// on a shared machine the wall clock measures the neighbours too.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func reportRates(b *testing.B, rowsPerOp int64, cpu0 float64) {
	total := float64(rowsPerOp) * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds(), "events/s")
	if cpu := cpuSeconds() - cpu0; cpu > 0 {
		b.ReportMetric(total/cpu, "events/cpu-s")
	}
}

func TestParseWindowInterval(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"10 SECONDS": 10 * time.Second, "1 minute": time.Minute, "0.5 Second": 500 * time.Millisecond,
		"2 HOURS": 2 * time.Hour, "1 DAY": 24 * time.Hour, "250 milliseconds": 250 * time.Millisecond, "1m30s": 90 * time.Second,
	} {
		got, err := exec.ParseWindowInterval(in)
		if err != nil || got != want {
			t.Errorf("ParseWindowInterval(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "10", "ten seconds", "10 fortnights", "1 2 3", "-1 second"} {
		if _, err := exec.ParseWindowInterval(bad); err == nil {
			t.Errorf("ParseWindowInterval(%q) should fail", bad)
		}
	}
	if k, ok := exec.ParseWindowKind("HOP"); !ok || k != exec.Hop {
		t.Errorf("ParseWindowKind(HOP) = %v, %v", k, ok)
	}
}

// TestWindowAggregateExpressions groups by a computed key and aggregates a
// computed argument (compiled by expr, not plain column references).
func TestWindowAggregateExpressions(t *testing.T) {
	mem := stMem(t)
	s := exectest.Schema("k", arrow.PrimitiveTypes.Int64, "v", arrow.PrimitiveTypes.Int64, "ts", tsType)
	src := exectest.NewSource(s, exec.BatchMsg(exectest.Record(mem, s,
		[]any{1, 10, sec(1)}, []any{2, 20, sec(2)}, []any{3, 30, sec(3)}, []any{4, 40, sec(12)}), nil))
	parity, err := expr.NewCall("%", colOf(s, "k"), expr.Lit(int64(2)))
	if err != nil {
		t.Fatal(err)
	}
	double, err := expr.NewCall("*", colOf(s, "v"), expr.Lit(int64(2)))
	if err != nil {
		t.Fatal(err)
	}
	agg, err := exec.NewWindowAggregate(src, exec.WindowSpec{Kind: exec.Tumble, Size: 10 * time.Second, TimeCol: colOf(s, "ts")},
		[]expr.Expr{parity}, []string{"parity"}, []exec.AggCall{{Func: "sum", Args: []expr.Expr{double}, Name: "s"}}, mem)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := exectest.CollectMessages(context.Background(), agg)
	defer exectest.ReleaseMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := foldRows(msgs)
	if err != nil {
		t.Fatal(err)
	}
	if err := exectest.Equal(got, []string{"0s|10s|0|40", "0s|10s|1|80", "10s|20s|0|80"}); err != nil {
		t.Fatal(err)
	}
}
