package faulttest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/linkedin/goavro/v2"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
)

// Job settings for the fault tests: short checkpoints so a kill replays
// little, and a transaction timeout that lets a killed run's transaction be
// aborted within the test (Pulsar holds readers back at the first message of
// an open transaction until it ends).
const (
	checkpointInterval = 2 * time.Second
	txnTimeout         = 15 * time.Second
)

func jobEnv() []string {
	return []string{
		"MAGNETAR_JOBS_CHECKPOINT_INTERVAL=" + checkpointInterval.String(),
		"MAGNETAR_JOBS_TXN_TIMEOUT=" + txnTimeout.String(),
	}
}

func TestSIGKILLAtLeastOnce(t *testing.T) { killTest(t, "at_least_once") }

func TestSIGKILLExactlyOnce(t *testing.T) { killTest(t, "exactly_once") }

// restart is one kill and restart of the server.
type restart struct {
	at time.Time // when the new process was started
	// firstPublished is when the new run published its first message (its
	// producer's clock: the process is on this machine), firstVisible when a
	// reader received it; zero when the run published nothing.
	firstPublished, firstVisible time.Time
}

// killTest runs a copy job in `magnetar serve` over a live Nexmark stream,
// SIGKILLs the server three times at random moments and restarts it, and
// checks the output against the input once everything is consumed.
func killTest(t *testing.T, delivery string) {
	serviceURL, adminURL := testbroker.Require(t)
	b := broker{serviceURL, adminURL}
	ns := testbroker.Namespace(t, adminURL)
	events := envInt("MAGNETAR_FAULT_EVENTS", 150000)
	seconds := envInt("MAGNETAR_FAULT_SECONDS", 30)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("%s: %d events over %ds, kill seed %d", delivery, events, seconds, seed)

	gen := genNexmark(t, b, ns, events, seconds, 11)
	waitTopic(t, ctx, b, ns, "bid")

	log := &logFile{}
	srv := startServer(t, b, ns, log, jobEnv()...)
	c := dial(t, ctx, srv.addr)
	c.exec(ctx, "USE `"+ns+"`")
	c.exec(ctx, "CREATE TABLE copied (src VARCHAR(64), price BIGINT)")
	c.exec(ctx, "SET magnetar.mode = 'continuous'")
	c.exec(ctx, "SET magnetar.job_name = 'copy'")
	c.exec(ctx, "SET magnetar.delivery = '"+delivery+"'")
	c.exec(ctx, "INSERT INTO copied SELECT __message_id AS src, price FROM bid")
	started := time.Now()

	pc, err := pulsar.NewClient(pulsar.ClientOptions{URL: serviceURL})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	outTopic := testbroker.Topic(ns, "copied")
	tl := startTail(t, pc, outTopic, outputCodec(t, ctx, b, ns, "copied"))

	// Three kills at random moments while the generator still writes.
	var restarts []restart
	span := max(time.Duration(seconds)*time.Second/3, 3*time.Second)
	for i := 0; i < 3; i++ {
		wait := 2*time.Second + time.Duration(rng.Int64N(int64(span-2*time.Second)))
		time.Sleep(wait)
		srv.kill()
		t.Logf("kill %d after %v in run (%v since the job started)", i+1, wait.Round(time.Millisecond), time.Since(started).Round(time.Millisecond))
		restarts = append(restarts, restart{at: time.Now()})
		srv = startServer(t, b, ns, log, jobEnv()...)
	}
	gen.wait()
	expected := sourceKeys(t, ctx, pc, testbroker.Topic(ns, "bid"))
	t.Logf("input: %d bids", len(expected))

	// The job is done when every source row shows up in the output.
	c = dial(t, ctx, srv.addr)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		msgs, err := tl.snapshot()
		if err != nil {
			t.Fatalf("output reader: %v", err)
		}
		if distinctSources(msgs) >= len(expected) {
			break
		}
		if time.Now().After(deadline) {
			j, _, _ := c.job(ctx, "copy")
			t.Fatalf("after 3 minutes the output covers %d of %d source rows; job %+v; log:\n%s",
				distinctSources(msgs), len(expected), j, strings.Join(log.grep("jobs"), "\n"))
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("all input consumed %v after the job started", time.Since(started).Round(time.Millisecond))
	j, ok, err := c.job(ctx, "copy")
	if err != nil || !ok {
		t.Fatalf("SHOW JOBS: %v (found %v)", err, ok)
	}
	if j.Status != "running" || j.Error != "" {
		t.Errorf("job after the kills: status %q error %q, want running", j.Status, j.Error)
	}
	if failed := log.grep("job failed"); len(failed) > 0 {
		t.Errorf("the server logged job failures:\n%s", strings.Join(failed, "\n"))
	}
	srv.stop()
	seen, _ := tl.snapshot()
	tl.close()
	measureRecovery(t, restarts, seen)
	if delivery == "exactly_once" {
		waitNoOpenTxns(t, ctx, b, ns, "copied")
	}
	msgs := readAll(t, ctx, pc, outTopic, outputCodec(t, ctx, b, ns, "copied"))

	missing, extra, dups := compare(expected, msgs)
	if missing > 0 || extra > 0 {
		t.Errorf("output: %d source rows missing, %d rows that are no source row", missing, extra)
	}
	t.Logf("output: %d messages for %d source rows (%d duplicates as a reader sees them)", len(msgs), len(expected), dups)
	if delivery != "exactly_once" {
		return
	}
	// Exactly-once is what a plain reader sees: every source row once.
	// Aborted transactions (the killed runs' last ones) are filtered by the
	// broker since the client marks transactional messages
	// (third_party/pulsar-client-go), and a checkpoint's record commits
	// with its output, so a kill between the two cannot replay it.
	if dups > 0 {
		t.Errorf("exactly-once output: %d duplicate rows", dups)
	}
	logTxnStats(t, ctx, b, ns, "copied")
}

// logTxnStats logs the output topic's transaction buffer counters (how many
// transactions the killed or failed runs left to abort).
func logTxnStats(t testing.TB, ctx context.Context, b broker, ns, name string) {
	t.Helper()
	var st struct {
		Ongoing int64 `json:"ongoingTxnSize"`
		Aborted int64 `json:"totalAbortedTransactions"`
	}
	if err := adminGet(ctx, b, "/admin/v3/transactions/transactionBufferStats/"+ns+"/"+name, &st); err != nil {
		t.Logf("transaction buffer stats of %s: %v", name, err)
		return
	}
	t.Logf("%s: transactions aborted %d, open %d", name, st.Aborted, st.Ongoing)
}

// waitNoOpenTxns waits until the topic's transaction buffer holds no open
// transaction (the killed runs' transactions have timed out).
func waitNoOpenTxns(t testing.TB, ctx context.Context, b broker, ns, name string) {
	t.Helper()
	deadline := time.Now().Add(txnTimeout + time.Minute)
	for {
		var st struct {
			OngoingTxnSize int64 `json:"ongoingTxnSize"`
		}
		err := adminGet(ctx, b, "/admin/v3/transactions/transactionBufferStats/"+ns+"/"+name, &st)
		if err == nil && st.OngoingTxnSize == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("transactions on %s still open (%+v, %v)", name, st, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// readAll reads a whole output topic.
func readAll(t testing.TB, ctx context.Context, pc pulsar.Client, topic string, codec *goavro.Codec) []outMsg {
	t.Helper()
	r, err := pc.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []outMsg
	for hasNext(t, r) {
		m, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("read %s: %v", topic, err)
		}
		om, err := decodeOut(codec, m)
		if err != nil {
			t.Fatalf("decode %s %v: %v", topic, m.ID(), err)
		}
		out = append(out, om)
	}
	return out
}

// compare counts expected source rows missing from msgs, rows of msgs that
// are not expected, and duplicates.
func compare(expected map[msgKey]bool, msgs []outMsg) (missing, extra, dups int) {
	count := map[msgKey]int{}
	for _, m := range msgs {
		count[m.src]++
	}
	for k := range expected {
		if count[k] == 0 {
			missing++
		}
	}
	for k, n := range count {
		if !expected[k] {
			extra += n
			continue
		}
		dups += n - 1
	}
	return missing, extra, dups
}

// measureRecovery fills in, per restart, the first message the new run
// published and when a reader saw it, and logs the recovery times.
func measureRecovery(t testing.TB, restarts []restart, msgs []outMsg) {
	t.Helper()
	for i := range restarts {
		r := &restarts[i]
		end := time.Now().Add(time.Hour)
		if i+1 < len(restarts) {
			end = restarts[i+1].at
		}
		for _, m := range msgs {
			if m.publish.After(r.at) && m.publish.Before(end) && (r.firstPublished.IsZero() || m.publish.Before(r.firstPublished)) {
				r.firstPublished, r.firstVisible = m.publish, m.received
			}
		}
	}
	var parts []string
	for i, r := range restarts {
		if r.firstPublished.IsZero() {
			parts = append(parts, fmt.Sprintf("restart %d: no output before the next kill", i+1))
			continue
		}
		d := r.firstPublished.Sub(r.at)
		parts = append(parts, fmt.Sprintf("restart %d: first new output published after %v, seen by a reader after %v",
			i+1, d.Round(time.Millisecond), r.firstVisible.Sub(r.at).Round(time.Millisecond)))
		if d > 10*time.Second {
			t.Logf("restart %d took %v, more than the 10s target", i+1, d.Round(time.Millisecond))
		}
	}
	sort.Strings(parts)
	t.Logf("recovery: %s", strings.Join(parts, "; "))
}
