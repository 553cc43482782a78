package jobs_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/pulsar-client-go/pulsar"
	cpulsar "github.com/magnetar-sql/magnetar/catalog/pulsar"
	"github.com/magnetar-sql/magnetar/engine"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
	"github.com/magnetar-sql/magnetar/jobs"
	"github.com/magnetar-sql/magnetar/nexmark"
	"github.com/magnetar-sql/magnetar/sink"
)

// BenchmarkJobThroughput measures a running pass-through job,
// INSERT INTO out SELECT * FROM bid, over Nexmark bids already in the
// broker: at-least-once and exactly-once with a 1 s checkpoint interval,
// and at-least-once with the default interval (5 s, "alo5s"), against a
// bare pulsar-client-go read-and-produce loop copying the same topic with
// the sink's batching. The four run interleaved for several rounds (the
// order rotates each round) and the benchmark reports the median rows/s of
// each, rows per CPU-second of this process, and the medians of the paired
// ratios.
//
// A job's rate is its rows over the time from Create until the job has
// written every row (sent, not yet acknowledged: the sink's sends are
// asynchronous); *_durable_rows/s counts until a checkpoint covers them
// all (acknowledged, and for exactly-once committed and visible), which
// adds up to one checkpoint interval. The loop's time ends when its
// producer has flushed.
//
//	MAGNETAR_REQUIRE_PULSAR=1 go test ./jobs -run '^$' -bench JobThroughput -benchtime=1x
//
// BENCH_BIDS sets the bid count (default 300000), BENCH_ROUNDS the rounds
// (default 5), BENCH_CHECKPOINT the checkpoint interval (default 1s).
func BenchmarkJobThroughput(b *testing.B) {
	serviceURL, adminURL := testbroker.Require(b)
	ns := testbroker.Namespace(b, adminURL)
	ctx := context.Background()
	bids := envInt("BENCH_BIDS", 300_000)
	rounds := envInt("BENCH_ROUNDS", 5)
	interval := time.Second
	if v := os.Getenv("BENCH_CHECKPOINT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatal(err)
		}
		interval = d
	}
	start := time.Now()
	events := (int64(bids)*50 + 45) / 46
	st, err := nexmark.Produce(ctx, nexmark.Config{Events: events}, nexmark.ProduceOptions{ServiceURL: serviceURL, AdminURL: adminURL, Namespace: ns})
	if err != nil {
		b.Fatal(err)
	}
	n := st.Bids
	b.Logf("produced %d bids in %s", n, time.Since(start).Round(time.Millisecond))

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cat, err := cpulsar.New(ctx, cpulsar.Config{ServiceURL: serviceURL, AdminURL: adminURL, DefaultDatabase: ns, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	defer cat.Close()
	txn, err := pulsar.NewClient(pulsar.ClientOptions{URL: serviceURL, EnableTransaction: true})
	if err != nil {
		b.Fatal(err)
	}
	defer txn.Close()
	eng := engine.New(cat, engine.Options{Mem: memory.DefaultAllocator})
	m, err := jobs.NewManager(ctx, jobs.Config{Client: cat.Client(), Catalog: cat, Runner: eng.JobRunner(),
		Namespace: ns, CheckpointInterval: interval, TxnClient: txn, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	// A second manager, in its own jobs namespace, runs at-least-once jobs
	// with the default checkpoint interval.
	m5, err := jobs.NewManager(ctx, jobs.Config{Client: cat.Client(), Catalog: cat, Runner: eng.JobRunner(),
		Namespace: testbroker.Namespace(b, adminURL), CheckpointInterval: jobs.DefaultCheckpointInterval, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	defer m5.Close()
	s := eng.NewSession()
	run := func(q string) {
		if err := s.Run(ctx, q, func(*engine.Result) error { return nil }); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}

	type result struct{ written, durable, perCPU float64 } // rows/s; rows per CPU-second of this process
	job := func(m *jobs.Manager, name, delivery string) result {
		c0 := cpuSeconds()
		out := "out_" + name
		run("CREATE TABLE " + out + " (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR(100), url VARCHAR(200), dateTime TIMESTAMP(6), extra VARCHAR(200))")
		t0 := time.Now()
		if err := m.Create(ctx, name, ns, "INSERT INTO "+out+" SELECT * FROM bid", map[string]string{jobs.DeliverySetting: delivery}); err != nil {
			b.Fatal(err)
		}
		var written time.Duration
		deadline := t0.Add(10 * time.Minute)
		for {
			info, err := m.Job(name)
			if err != nil {
				b.Fatal(err)
			}
			if info.Status == jobs.StatusFailed {
				b.Fatalf("job %s failed: %s", name, info.Error)
			}
			if written == 0 && info.RowsOut >= n {
				written = time.Since(t0)
			}
			if info.CheckpointRowsIn >= n {
				if info.RowsOut != n {
					b.Fatalf("job %s wrote %d rows, want %d", name, info.RowsOut, n)
				}
				durable := time.Since(t0)
				cpu := cpuSeconds() - c0
				if err := m.Drop(ctx, name, false); err != nil {
					b.Fatal(err)
				}
				return result{float64(n) / written.Seconds(), float64(n) / durable.Seconds(), float64(n) / cpu}
			}
			if time.Now().After(deadline) {
				b.Fatalf("job %s: %+v after %s", name, info, time.Since(t0))
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	raw := func(name string) result {
		t0, c0 := time.Now(), cpuSeconds()
		got, err := copyLoop(ctx, cat.Client(), testbroker.Topic(ns, "bid"), testbroker.Topic(ns, "raw_"+name), n)
		if err != nil {
			b.Fatal(err)
		}
		el, cpu := time.Since(t0), cpuSeconds()-c0
		if got != n {
			b.Fatalf("loop copied %d messages, want %d", got, n)
		}
		return result{float64(n) / el.Seconds(), float64(n) / el.Seconds(), float64(n) / cpu}
	}

	var rawR, aloR, alo5R, eoR, aloD, eoD, aloRaw, alo5Raw, eoAlo, eoAlo5, eoAloD, rawC, aloC, eoC []float64
	for i := 0; i < b.N; i++ {
		for r := range rounds {
			var rr, alo, alo5, eo result
			steps := []func(){
				func() { rr = raw(fmt.Sprintf("%d_%d", i, r)) },
				func() { alo = job(m, fmt.Sprintf("alo_%d_%d", i, r), "at_least_once") },
				func() { eo = job(m, fmt.Sprintf("eo_%d_%d", i, r), "exactly_once") },
				func() { alo5 = job(m5, fmt.Sprintf("alo5_%d_%d", i, r), "at_least_once") },
			}
			for k := range steps {
				steps[(k+r)%len(steps)]()
			}
			b.Logf("round %d: loop %.0f/s, at-least-once %.0f/s (durable %.0f/s; %s interval %.0f/s), exactly-once %.0f/s (durable %.0f/s); per CPU-s: loop %.0f, at-least-once %.0f, exactly-once %.0f",
				r, rr.written, alo.written, alo.durable, jobs.DefaultCheckpointInterval, alo5.written, eo.written, eo.durable, rr.perCPU, alo.perCPU, eo.perCPU)
			alo5R = append(alo5R, alo5.written)
			alo5Raw = append(alo5Raw, alo5.written/rr.written)
			eoAlo5 = append(eoAlo5, eo.written/alo5.written)
			rawR, aloR, eoR = append(rawR, rr.written), append(aloR, alo.written), append(eoR, eo.written)
			aloD, eoD = append(aloD, alo.durable), append(eoD, eo.durable)
			rawC, aloC, eoC = append(rawC, rr.perCPU), append(aloC, alo.perCPU), append(eoC, eo.perCPU)
			aloRaw = append(aloRaw, alo.written/rr.written)
			eoAlo = append(eoAlo, eo.written/alo.written)
			eoAloD = append(eoAloD, eo.durable/alo.durable)
		}
	}
	b.ReportMetric(median(rawR), "loop_msgs/s")
	b.ReportMetric(median(aloR), "alo_rows/s")
	b.ReportMetric(median(eoR), "eo_rows/s")
	b.ReportMetric(median(alo5R), "alo5s_rows/s")
	b.ReportMetric(median(alo5Raw), "alo5s/loop")
	b.ReportMetric(median(eoAlo5), "eo/alo5s")
	b.ReportMetric(median(aloD), "alo_durable_rows/s")
	b.ReportMetric(median(eoD), "eo_durable_rows/s")
	b.ReportMetric(median(rawC), "loop_msgs/cpu-s")
	b.ReportMetric(median(aloC), "alo_rows/cpu-s")
	b.ReportMetric(median(eoC), "eo_rows/cpu-s")
	b.ReportMetric(median(aloRaw), "alo/loop")
	b.ReportMetric(median(eoAlo), "eo/alo")
	b.ReportMetric(median(eoAloD), "eo/alo_durable")
}

// copyLoop is the baseline: read n messages of from and produce their
// payload, key and event time to to under the bid schema, batching as the
// sink does, then wait for every acknowledgement.
func copyLoop(ctx context.Context, client pulsar.Client, from, to string, n int64) (int64, error) {
	r, err := client.CreateReader(pulsar.ReaderOptions{Topic: from, StartMessageID: pulsar.EarliestMessageID(), ReceiverQueueSize: 2000})
	if err != nil {
		return 0, err
	}
	defer r.Close()
	p, err := client.CreateProducer(pulsar.ProducerOptions{Topic: to, Schema: pulsar.NewAvroSchema(nexmark.BidAvro, nil),
		BatchingMaxMessages: sink.DefaultBatchingMaxMessages, BatchingMaxPublishDelay: sink.DefaultBatchingMaxDelay})
	if err != nil {
		return 0, err
	}
	defer p.Close()
	var got int64
	errs := make(chan error, 1)
	cb := func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
		if err != nil {
			select {
			case errs <- err:
			default:
			}
		}
	}
	for got < n {
		m, err := r.Next(ctx)
		if err != nil {
			return got, err
		}
		p.SendAsync(ctx, &pulsar.ProducerMessage{Payload: m.Payload(), Key: m.Key(), EventTime: m.EventTime()}, cb)
		got++
	}
	if err := p.FlushWithCtx(ctx); err != nil {
		return got, err
	}
	select {
	case err := <-errs:
		return got, err
	default:
	}
	return got, nil
}

// cpuSeconds is the CPU time (user + system) this process has used: the
// jobs, their scans and sinks, and the loop all run in it (the broker's
// CPU is not counted).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
