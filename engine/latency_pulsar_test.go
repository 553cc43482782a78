package engine

// End-to-end latency of a continuous tumbling-window query through the
// local Pulsar broker (issue #5): a producer publishes Nexmark bids at a
// steady rate with event time = publish wall time; the engine runs
//
//	SELECT window_start, window_end, COUNT(*), MAX(price) FROM bid
//	GROUP BY TUMBLE(dateTime, '1 SECONDS')
//
// continuously in process, and each window result's arrival is compared
// with the publish times of the bids it counts. Run with
//
//	go test ./engine -run '^$' -bench Latency -benchtime 1x   (or make bench-latency)
//
// Knobs (environment): MAGNETAR_LATENCY_RATE bids/s (default 10000),
// MAGNETAR_LATENCY_WINDOWS measured windows (60), MAGNETAR_LATENCY_DELAY
// watermark delay (200ms), MAGNETAR_LATENCY_PARTITIONS (0 and 2; a comma
// list), MAGNETAR_LATENCY_LINGER scan lingers to compare (default "default,5ms":
// the catalog's 50 ms and the per-query SET linger = '5ms'),
// MAGNETAR_LATENCY_PRODUCER_DELAY the producer's batching delay (5ms),
// MAGNETAR_LATENCY_ONE_KEY=1 sends every bid with one key (one partition
// of a partitioned topic stays empty), MAGNETAR_LATENCY_IDLE sets
// magnetar.idle_timeout (without it an empty partition holds the
// watermark, and every window, back for good).

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/pulsar-client-go/pulsar"
	pulsarlog "github.com/apache/pulsar-client-go/pulsar/log"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/admin"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/admin/config"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"
	cpulsar "github.com/magnetar-sql/magnetar/catalog/pulsar"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
	"github.com/magnetar-sql/magnetar/nexmark"
)

// latencyWindow is the tumbling window size of the latency benchmark.
const latencyWindow = time.Second

// latencyWarmup windows at the start are not measured: the first is
// partial, and the readers and the broker's JIT warm up meanwhile.
const latencyWarmup = 3

type latencyConfig struct {
	rate          float64
	windows       int
	delay         time.Duration
	partitions    int
	linger        string // "" or "default": catalog default; else SET linger
	producerDelay time.Duration
	idle          string // SET magnetar.idle_timeout ("": none)
	oneKey        bool   // every bid with the same key: one partition gets them all
}

func envOr(name, def string) string {
	if v := strings.TrimSpace(os.Getenv(name)); v != "" {
		return v
	}
	return def
}

func BenchmarkLatencyPulsar(b *testing.B) {
	serviceURL, adminURL := testbroker.Require(b)
	rate, err := strconv.ParseFloat(envOr("MAGNETAR_LATENCY_RATE", "10000"), 64)
	if err != nil || rate <= 0 {
		b.Fatalf("MAGNETAR_LATENCY_RATE: want a positive number")
	}
	windows, err := strconv.Atoi(envOr("MAGNETAR_LATENCY_WINDOWS", "60"))
	if err != nil || windows <= 0 {
		b.Fatalf("MAGNETAR_LATENCY_WINDOWS: want a positive integer")
	}
	delay, err := time.ParseDuration(envOr("MAGNETAR_LATENCY_DELAY", "200ms"))
	if err != nil || delay < 0 {
		b.Fatalf("MAGNETAR_LATENCY_DELAY: want a Go duration")
	}
	pdelay, err := time.ParseDuration(envOr("MAGNETAR_LATENCY_PRODUCER_DELAY", "5ms"))
	if err != nil || pdelay <= 0 {
		b.Fatalf("MAGNETAR_LATENCY_PRODUCER_DELAY: want a positive Go duration")
	}
	for _, ps := range strings.Split(envOr("MAGNETAR_LATENCY_PARTITIONS", "0,2"), ",") {
		parts, err := strconv.Atoi(strings.TrimSpace(ps))
		if err != nil || parts < 0 {
			b.Fatalf("MAGNETAR_LATENCY_PARTITIONS: %q is not a partition count", ps)
		}
		for _, linger := range strings.Split(envOr("MAGNETAR_LATENCY_LINGER", "default,5ms"), ",") {
			linger = strings.TrimSpace(linger)
			cfg := latencyConfig{rate: rate, windows: windows, delay: delay, partitions: parts, linger: linger, producerDelay: pdelay,
				idle: os.Getenv("MAGNETAR_LATENCY_IDLE"), oneKey: os.Getenv("MAGNETAR_LATENCY_ONE_KEY") == "1"}
			name := fmt.Sprintf("partitions=%d/linger=%s", parts, linger)
			b.Run(name, func(b *testing.B) {
				for range b.N {
					runLatency(b, serviceURL, adminURL, cfg)
				}
			})
		}
	}
}

// windowTrace is what the benchmark knows about one window (keys: window
// start in ms since the epoch).
type windowTrace struct {
	bids         int64
	firstSend    time.Time // publish (SendAsync) of the window's first bid
	lastSend     time.Time // ... and of its last bid
	triggerSend  time.Time // first bid with event time ≥ end + delay: it lets the watermark pass the window
	triggerRecv  time.Time // when a bare reader received the trigger (all partitions' triggers)
	triggerAck   time.Time // when the broker acknowledged the trigger to the producer
	partsSeen    int       // partitions whose trigger the bare reader has seen
	resultArrive time.Time
	resultCount  int64
}

type latencyRun struct {
	mu      sync.Mutex
	windows map[int64]*windowTrace
}

func (r *latencyRun) window(startMs int64) *windowTrace {
	w := r.windows[startMs]
	if w == nil {
		w = &windowTrace{}
		r.windows[startMs] = w
	}
	return w
}

func runLatency(b *testing.B, serviceURL, adminURL string, cfg latencyConfig) {
	ns := testbroker.Namespace(b, adminURL)
	topic := testbroker.Topic(ns, nexmark.BidTable)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.windows+latencyWarmup+30)*latencyWindow+2*time.Minute)
	defer cancel()

	adm, err := admin.New(&config.Config{WebServiceURL: adminURL})
	if err != nil {
		b.Fatal(err)
	}
	tn, err := utils.GetTopicName(topic)
	if err != nil {
		b.Fatal(err)
	}
	if err := adm.Topics().CreateWithContext(ctx, *tn, cfg.partitions); err != nil {
		b.Fatalf("create %s: %v", topic, err)
	}
	client, err := pulsar.NewClient(pulsar.ClientOptions{URL: serviceURL, Logger: pulsarlog.DefaultNopLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	sch, err := pulsar.NewAvroSchemaWithValidation(nexmark.BidAvro, nil)
	if err != nil {
		b.Fatal(err)
	}
	prod, err := client.CreateProducer(pulsar.ProducerOptions{
		Topic: topic, Schema: sch,
		BatchingMaxPublishDelay: cfg.producerDelay,
		BatchingMaxMessages:     2000,
		MaxPendingMessages:      20000,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer prod.Close()

	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cat, err := cpulsar.New(ctx, cpulsar.Config{ServiceURL: serviceURL, AdminURL: adminURL, Allocator: mem})
	if err != nil {
		b.Fatal(err)
	}
	s := New(cat, Options{Mem: mem}).NewSession()
	settings := [][2]string{
		{"magnetar.mode", "continuous"},
		{"magnetar.event_time", "dateTime"},
		{"magnetar.watermark_delay", cfg.delay.String()},
	}
	if cfg.idle != "" {
		settings = append(settings, [2]string{"magnetar.idle_timeout", cfg.idle})
	}
	if cfg.linger != "" && cfg.linger != "default" {
		settings = append(settings, [2]string{"linger", cfg.linger})
	}
	for _, kv := range settings {
		if err := s.Set(kv[0], kv[1]); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Run(ctx, "USE `"+ns+"`", func(*Result) error { return nil }); err != nil {
		b.Fatal(err)
	}

	run := &latencyRun{windows: map[int64]*windowTrace{}}
	sizeMs := latencyWindow.Milliseconds()
	delayMs := cfg.delay.Milliseconds()

	// Bare readers, one per partition, time the trigger bids' delivery by
	// the broker to a client that does nothing else.
	var wg sync.WaitGroup
	rctx, rcancel := context.WithCancel(ctx)
	defer func() { rcancel(); wg.Wait() }()
	ptopics := []string{topic}
	if cfg.partitions > 0 {
		ptopics = ptopics[:0]
		for p := range cfg.partitions {
			ptopics = append(ptopics, fmt.Sprintf("%s-partition-%d", topic, p))
		}
	}
	nparts := len(ptopics)
	for _, pt := range ptopics {
		rd, err := client.CreateReader(pulsar.ReaderOptions{Topic: pt, StartMessageID: pulsar.EarliestMessageID(), ReceiverQueueSize: 2000})
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer rd.Close()
			covered := int64(math.MinInt64) // window ends (ms) this partition has triggered
			for {
				msg, err := rd.Next(rctx)
				if err != nil {
					return
				}
				now := time.Now()
				ev := msg.EventTime().UnixMilli()
				end := floorDiv(ev-delayMs, sizeMs) * sizeMs // largest window end ≤ ev − delay
				if covered == math.MinInt64 {
					covered = end - sizeMs
				}
				if end <= covered {
					continue
				}
				run.mu.Lock()
				for e := covered + sizeMs; e <= end; e += sizeMs {
					w := run.window(e - sizeMs)
					w.partsSeen++
					if w.partsSeen == nparts {
						w.triggerRecv = now
					}
				}
				run.mu.Unlock()
				covered = end
			}
		}()
	}

	// The query. Results arrive on their own goroutine.
	resErr := make(chan error, 1)
	qctx, qcancel := context.WithCancel(ctx)
	defer qcancel()
	started := make(chan struct{})
	go func() {
		q := "SELECT window_start, window_end, COUNT(*), MAX(price) FROM bid GROUP BY TUMBLE(dateTime, '1 SECONDS')"
		resErr <- s.Run(qctx, q, func(r *Result) error {
			close(started)
			for {
				m, err := r.Rows.Next(qctx)
				if err != nil {
					return err
				}
				arrive := time.Now()
				switch m.Kind {
				case exec.MsgEnd:
					return fmt.Errorf("continuous query ended")
				case exec.MsgBatch:
					rec := m.Batch.Rec
					starts, err := timestampMillis(rec.Column(0))
					if err != nil {
						m.Release()
						return err
					}
					counts, ok := rec.Column(2).(*array.Int64)
					if !ok {
						m.Release()
						return fmt.Errorf("COUNT(*) is %s", rec.Column(2).DataType())
					}
					run.mu.Lock()
					for i := range starts {
						if m.Batch.Op(i).IsRetraction() {
							continue
						}
						w := run.window(starts[i])
						if w.resultArrive.IsZero() {
							w.resultArrive = arrive
						}
						w.resultCount += counts.Value(i)
					}
					run.mu.Unlock()
				}
				m.Release()
			}
		})
	}()
	select {
	case <-started:
	case err := <-resErr:
		b.Fatalf("query: %v", err)
	}

	// The producer: steady rate, paced against the schedule; each bid's
	// event time is the wall time of its publish.
	load0 := loadAvg()
	cpu0 := processCPU()
	g := nexmark.NewGenerator(nexmark.Config{})
	var (
		bid     nexmark.Bid
		scratch []byte
		sendErr error
		errOnce sync.Once
	)
	// Measure windows whose start is after the warm-up.
	t0 := time.Now()
	firstMeasured := (t0.UnixMilli()/sizeMs + latencyWarmup) * sizeMs
	lastMeasured := firstMeasured + int64(cfg.windows-1)*sizeMs
	stopAt := time.UnixMilli(lastMeasured + sizeMs + delayMs).Add(latencyWindow) // a margin past the last trigger
	var sent int64
	for n := int64(0); ; n++ {
		if n&255 == 0 {
			if time.Now().After(stopAt) || ctx.Err() != nil {
				break
			}
			if sendErr != nil {
				break
			}
		}
		if ahead := time.Duration(float64(n)/cfg.rate*1e9) - time.Since(t0); ahead > time.Millisecond {
			time.Sleep(ahead)
		}
		for {
			ev, _ := g.Next()
			if ev.Bid != nil {
				bid = *ev.Bid
				break
			}
		}
		now := time.Now()
		bid.DateTime = now
		ms := now.UnixMilli()
		scratch = nexmark.AppendBidAvro(scratch[:0], &bid)
		payload := slices.Clone(scratch)

		run.mu.Lock()
		w := run.window(floorDiv(ms, sizeMs) * sizeMs)
		if w.bids == 0 {
			w.firstSend = now
		}
		w.bids++
		w.lastSend = now
		// This bid triggers every window whose end + delay it reaches first.
		var triggers []*windowTrace
		for e := floorDiv(ms-delayMs, sizeMs) * sizeMs; ; e -= sizeMs {
			tw := run.window(e - sizeMs)
			if !tw.triggerSend.IsZero() {
				break
			}
			tw.triggerSend = now
			triggers = append(triggers, tw)
			if e < ms-delayMs-10*sizeMs {
				break
			}
		}
		run.mu.Unlock()

		key := strconv.FormatInt(bid.Auction, 10)
		if cfg.oneKey {
			key = "hot"
		}
		prod.SendAsync(ctx, &pulsar.ProducerMessage{Payload: payload, Key: key, EventTime: now},
			func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
				if err != nil {
					errOnce.Do(func() { sendErr = err })
					return
				}
				if triggers != nil {
					acked := time.Now()
					run.mu.Lock()
					for _, tw := range triggers {
						tw.triggerAck = acked
					}
					run.mu.Unlock()
				}
			})
		sent++
	}
	elapsed := time.Since(t0)
	if err := prod.FlushWithCtx(ctx); err != nil {
		b.Fatalf("flush: %v", err)
	}
	if sendErr != nil {
		b.Fatalf("send: %v", sendErr)
	}
	// Wait for the last measured window's result (the producer ran a
	// window past its trigger), then stop the query.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		run.mu.Lock()
		done := !run.window(lastMeasured).resultArrive.IsZero()
		run.mu.Unlock()
		if done {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	load1 := loadAvg()
	cpuUsed := processCPU() - cpu0
	select {
	case err := <-resErr: // the query ended before it was stopped
		b.Fatalf("query: %v", err)
	default:
	}
	qcancel()
	<-resErr
	rcancel()
	wg.Wait()

	// Figures.
	var last, first, engine, deliver, afterRecv, quiet, acks []float64
	missing, wrong := 0, 0
	run.mu.Lock()
	for st := firstMeasured; st <= lastMeasured; st += sizeMs {
		w := run.windows[st]
		if w == nil || w.resultArrive.IsZero() {
			missing++
			if w != nil {
				b.Logf("window %s: no result; %d bids, trigger sent %s, received %s", time.UnixMilli(st).UTC().Format("15:04:05"),
					w.bids, w.triggerSend.UTC().Format("15:04:05.000"), w.triggerRecv.UTC().Format("15:04:05.000"))
			}
			continue
		}
		if w.resultCount != w.bids {
			wrong++
			b.Errorf("window %s: result counts %d bids, %d were published", time.UnixMilli(st).UTC().Format("15:04:05"), w.resultCount, w.bids)
		}
		closeAt := time.UnixMilli(st + sizeMs + delayMs)
		last = append(last, ms(w.resultArrive.Sub(w.lastSend)))
		first = append(first, ms(w.resultArrive.Sub(w.firstSend)))
		engine = append(engine, ms(w.resultArrive.Sub(closeAt)))
		quiet = append(quiet, ms(time.UnixMilli(st+sizeMs).Sub(w.lastSend)))
		if !w.triggerRecv.IsZero() && !w.triggerSend.IsZero() {
			deliver = append(deliver, ms(w.triggerRecv.Sub(w.triggerSend)))
			if !w.triggerAck.IsZero() {
				acks = append(acks, ms(w.triggerAck.Sub(w.triggerSend)))
			}
			afterRecv = append(afterRecv, ms(w.resultArrive.Sub(w.triggerRecv)))
		}
	}
	run.mu.Unlock()
	if missing > 0 {
		b.Errorf("%d of %d measured windows had no result", missing, cfg.windows)
	}
	if len(last) == 0 {
		b.Fatal("no window results")
	}
	cat.Close()
	if n := mem.CurrentAlloc(); n != 0 {
		b.Errorf("%d bytes of Arrow memory not released", n)
	}

	b.ReportMetric(pct(last, 50), "last-p50-ms")
	b.ReportMetric(pct(last, 99), "last-p99-ms")
	b.ReportMetric(pct(engine, 50), "over-close-p50-ms")
	b.ReportMetric(pct(engine, 99), "over-close-p99-ms")
	b.ReportMetric(float64(sent)/elapsed.Seconds(), "bids/s")
	b.ReportMetric(cpuUsed.Seconds()/(float64(sent)/1e6), "cpu-s/M-bids")
	b.Logf("rate %.0f bids/s (asked %.0f), delay %s, %d partition(s), linger %s, producer batching delay %s, idle timeout %q, one key %v, %d windows of %s, load %s → %s",
		float64(sent)/elapsed.Seconds(), cfg.rate, cfg.delay, nparts, cfg.linger, cfg.producerDelay, cfg.idle, cfg.oneKey, len(last), latencyWindow, load0, load1)
	b.Logf("process CPU (producer, bare readers and engine together): %.2f s, %.2f cores; target: last bid → result ≤ delay + 200 ms = %d ms",
		cpuUsed.Seconds(), cpuUsed.Seconds()/elapsed.Seconds(), (cfg.delay + 200*time.Millisecond).Milliseconds())
	b.Logf("%-48s %8s %8s %8s %8s", "ms, over windows", "p50", "p99", "min", "max")
	for _, r := range []struct {
		name string
		v    []float64
	}{
		{"last bid publish → result", last},
		{"first bid publish → result", first},
		{"window end + delay → result (engine added)", engine},
		{"last bid publish → window end (producer quiet)", quiet},
		{"trigger publish → broker ack to the producer", acks},
		{"trigger publish → bare reader receive", deliver},
		{"bare reader receive → result", afterRecv},
	} {
		if len(r.v) == 0 {
			continue
		}
		b.Logf("%-48s %8.1f %8.1f %8.1f %8.1f", r.name, pct(r.v, 50), pct(r.v, 99), slices.Min(r.v), slices.Max(r.v))
	}
}

// floorDiv is a / b rounded towards −∞ (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// pct is the p-th percentile (nearest rank) of v.
func pct(v []float64, p float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// timestampMillis returns a TIMESTAMP column's values in ms since the epoch.
func timestampMillis(a arrow.Array) ([]int64, error) {
	ts, ok := a.(*array.Timestamp)
	if !ok {
		return nil, fmt.Errorf("window_start is %s, not TIMESTAMP", a.DataType())
	}
	unit := a.DataType().(*arrow.TimestampType).Unit
	out := make([]int64, ts.Len())
	for i := range out {
		out[i] = ts.Value(i).ToTime(unit).UnixMilli()
	}
	return out, nil
}

// processCPU is this process's user+system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAvg is the 1-minute load average ("?" when unknown).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// BenchmarkCatchUpPulsar measures a continuous scan reading a backlog
// (MAGNETAR_CATCHUP_BIDS Nexmark bids, default 300000, produced first): rows
// per second, process CPU per million rows and rows per batch. A scan that
// flushes batches early for latency must keep its batches large here.
//
//	go test ./engine -run '^$' -bench CatchUp -benchtime 1x
func BenchmarkCatchUpPulsar(b *testing.B) {
	serviceURL, adminURL := testbroker.Require(b)
	n, err := strconv.ParseInt(envOr("MAGNETAR_CATCHUP_BIDS", "300000"), 10, 64)
	if err != nil || n <= 0 {
		b.Fatalf("MAGNETAR_CATCHUP_BIDS: want a positive integer")
	}
	ns := testbroker.Namespace(b, adminURL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// Nexmark's mix is 46 bids in 50 events.
	st, err := nexmark.Produce(ctx, nexmark.Config{Events: n * 50 / 46}, nexmark.ProduceOptions{ServiceURL: serviceURL, AdminURL: adminURL, Namespace: ns})
	if err != nil {
		b.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cat, err := cpulsar.New(ctx, cpulsar.Config{ServiceURL: serviceURL, AdminURL: adminURL, Allocator: mem})
	if err != nil {
		b.Fatal(err)
	}
	defer cat.Close()
	for _, linger := range strings.Split(envOr("MAGNETAR_LATENCY_LINGER", "default,5ms"), ",") {
		linger = strings.TrimSpace(linger)
		b.Run("linger="+linger, func(b *testing.B) {
			for range b.N {
				s := New(cat, Options{Mem: mem}).NewSession()
				if err := s.Set("magnetar.mode", "continuous"); err != nil {
					b.Fatal(err)
				}
				if linger != "default" {
					if err := s.Set("linger", linger); err != nil {
						b.Fatal(err)
					}
				}
				if err := s.Run(ctx, "USE `"+ns+"`", func(*Result) error { return nil }); err != nil {
					b.Fatal(err)
				}
				var rows, batches int64
				var elapsed, cpu time.Duration
				err := s.Run(ctx, "SELECT auction, price FROM bid", func(r *Result) error {
					t0, c0 := time.Now(), processCPU()
					for rows < st.Bids {
						m, err := r.Rows.Next(ctx)
						if err != nil {
							return err
						}
						if m.Kind == exec.MsgBatch {
							rows += m.Batch.Rec.NumRows()
							batches++
						}
						m.Release()
					}
					elapsed, cpu = time.Since(t0), processCPU()-c0
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
				b.ReportMetric(cpu.Seconds()/(float64(rows)/1e6), "cpu-s/M-rows")
				b.ReportMetric(float64(rows)/float64(batches), "rows/batch")
				b.Logf("%d rows in %d batches, %s, load %s", rows, batches, elapsed.Round(time.Millisecond), loadAvg())
			}
		})
	}
	cat.Close()
	if n := mem.CurrentAlloc(); n != 0 {
		b.Errorf("%d bytes of Arrow memory not released", n)
	}
}
