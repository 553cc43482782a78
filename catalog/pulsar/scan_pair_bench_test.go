package pulsar

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The paired benchmarks run the contenders back to back inside each
// iteration, rotating which goes first, and report medians of the
// per-iteration ratios: on a shared, noisy machine two runs minutes apart
// see different loads, two runs seconds apart mostly the same one.
//
//	MAGNETAR_BENCH_BIDS=5000000 go test ./catalog/pulsar -bench Paired -benchtime 3x -run '^$'
//
// With MAGNETAR_BENCH_BROKER_PID set to the pid of a broker on this
// machine, they also report the broker's CPU seconds per million rows.

// contender is one way of draining the benchmark topic.
type contender struct {
	name string
	run  func(b *testing.B) int64 // rows or messages read
}

// pairedRound is one contender's measurement in one iteration.
type pairedRound struct {
	rate      float64 // rows/s wall
	cpuSec    float64 // process CPU seconds (user+sys) per million rows
	brokerSec float64 // broker CPU seconds per million rows (0: unknown)
}

// brokerCPU is the CPU time of the process MAGNETAR_BENCH_BROKER_PID names
// (utime+stime from /proc, in clock ticks of 10 ms), or 0.
func brokerCPU() time.Duration {
	pid := os.Getenv("MAGNETAR_BENCH_BROKER_PID")
	if pid == "" {
		return 0
	}
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields after it are fixed.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runPaired runs every contender once per iteration, the order rotating
// by iteration, and reports each one's median rate and CPU cost and the
// median ratio of each contender to the first one.
func runPaired(b *testing.B, bids int64, cs []contender) {
	res := make([][]pairedRound, len(cs))
	it := 0
	for b.Loop() {
		for k := range cs {
			i := (k + it) % len(cs)
			c0, b0, w0 := cpuTime(), brokerCPU(), time.Now()
			n := cs[i].run(b)
			wall, cpu, bcpu := time.Since(w0), cpuTime()-c0, brokerCPU()-b0
			if n < bids {
				b.Fatalf("%s: %d rows, want >= %d", cs[i].name, n, bids)
			}
			mrows := float64(n) / 1e6
			r := pairedRound{rate: float64(n) / wall.Seconds(), cpuSec: cpu.Seconds() / mrows, brokerSec: bcpu.Seconds() / mrows}
			res[i] = append(res[i], r)
			b.Logf("iteration %d: %s %.0f rows/s, %.2f CPU-s per M rows, broker %.2f", it+1, cs[i].name, r.rate, r.cpuSec, r.brokerSec)
		}
		it++
	}
	for i, c := range cs {
		rates, cpus, bcpus := make([]float64, len(res[i])), make([]float64, len(res[i])), make([]float64, len(res[i]))
		for j, r := range res[i] {
			rates[j], cpus[j], bcpus[j] = r.rate, r.cpuSec, r.brokerSec
		}
		b.ReportMetric(median(rates), c.name+"-rows/s")
		b.ReportMetric(median(cpus), c.name+"-cpu-s/M")
		if m := median(bcpus); m > 0 {
			b.ReportMetric(m, c.name+"-broker-cpu-s/M")
		}
		if i > 0 {
			ratios := make([]float64, len(res[i]))
			for j := range ratios {
				ratios[j] = res[i][j].rate / res[0][j].rate
			}
			b.ReportMetric(median(ratios), fmt.Sprintf("%s/%s", c.name, cs[0].name))
			b.Logf("%s / %s per iteration: %.2f", c.name, cs[0].name, ratios)
		}
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkPairedScanVsBare: a one-reader bounded scan into Arrow (all bid
// columns decoded) against a bare pulsar-client-go reader draining the same
// topic without decoding. The target is a ratio of at least 0.8.
func BenchmarkPairedScanVsBare(b *testing.B) {
	bids := benchBids()
	cat, tb := benchTable(b, bids)
	runPaired(b, bids, []contender{
		{"bare", func(b *testing.B) int64 { return drainBare(b, cat, tb.topic) }},
		{"magnetar", func(b *testing.B) int64 {
			n, _ := drainScan(b, tb, map[string]string{"segment_split": "false"})
			return n
		}},
	})
}

// BenchmarkPairedSegmentSplit: ledger/entry-range parallel readers against
// one reader on the one-partition bid topic.
func BenchmarkPairedSegmentSplit(b *testing.B) {
	bids := benchBids()
	_, tb := benchTable(b, bids)
	scan := func(opts map[string]string) func(*testing.B) int64 {
		return func(b *testing.B) int64 {
			n, _ := drainScan(b, tb, opts)
			return n
		}
	}
	runPaired(b, bids, []contender{
		{"single", scan(map[string]string{"segment_split": "false"})},
		{"split2", scan(map[string]string{"segment_split": "true", "parallelism": "2"})},
		{"split4", scan(map[string]string{"segment_split": "true", "parallelism": "4"})},
	})
}
