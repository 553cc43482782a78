package faulttest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/linkedin/goavro/v2"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
	"github.com/magnetar-sql/magnetar/nexmark"
)

// TestSIGKILLStatefulAtLeastOnce kills the server three times under a
// GROUP BY job writing an upsert table: the job restores its operator state
// from the last checkpoint, so once the input is consumed the newest value
// of every key equals the count and sum computed from the generator.
func TestSIGKILLStatefulAtLeastOnce(t *testing.T) {
	serviceURL, adminURL := testbroker.Require(t)
	b := broker{serviceURL, adminURL}
	ns := testbroker.Namespace(t, adminURL)
	events := envInt("MAGNETAR_FAULT_EVENTS", 150000)
	seconds := envInt("MAGNETAR_FAULT_SECONDS", 30)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 2))
	t.Logf("%d events over %ds, kill seed %d", events, seconds, seed)

	// What the job must converge to, from the generator itself.
	type agg struct{ n, sum int64 }
	want := map[int64]agg{}
	g := nexmark.NewGenerator(nexmark.Config{Seed: 11, Events: int64(events)})
	for {
		ev, ok := g.Next()
		if !ok {
			break
		}
		if ev.Bid != nil {
			a := want[ev.Bid.Auction]
			a.n++
			a.sum += ev.Bid.Price
			want[ev.Bid.Auction] = a
		}
	}

	gen := genNexmark(t, b, ns, events, seconds, 11)
	waitTopic(t, ctx, b, ns, "bid")
	log := &logFile{}
	srv := startServer(t, b, ns, log, jobEnv()...)
	c := dial(t, ctx, srv.addr)
	c.exec(ctx, "USE `"+ns+"`")
	c.exec(ctx, "CREATE TABLE per_auction (auction BIGINT PRIMARY KEY, n BIGINT, total BIGINT)")
	c.exec(ctx, "SET magnetar.mode = 'continuous'")
	c.exec(ctx, "SET magnetar.job_name = 'agg'")
	c.exec(ctx, "INSERT INTO per_auction SELECT auction, count(*), sum(price) FROM bid GROUP BY auction")

	span := max(time.Duration(seconds)*time.Second/3, 3*time.Second)
	for i := 0; i < 3; i++ {
		wait := 2*time.Second + time.Duration(rng.Int64N(int64(span-2*time.Second)))
		time.Sleep(wait)
		srv.kill()
		t.Logf("kill %d after %v in run", i+1, wait.Round(time.Millisecond))
		srv = startServer(t, b, ns, log, jobEnv()...)
	}
	gen.wait()

	pc, err := pulsar.NewClient(pulsar.ClientOptions{URL: serviceURL})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	codec := outputCodec(t, ctx, b, ns, "per_auction")
	deadline := time.Now().Add(3 * time.Minute)
	var wrong []string
	var msgs int
	for {
		latest, n := latestRows(t, ctx, pc, testbroker.Topic(ns, "per_auction"), codec)
		msgs = n
		wrong = wrong[:0]
		for k, a := range want {
			got, ok := latest[k]
			if !ok || got[0] != a.n || got[1] != a.sum {
				wrong = append(wrong, fmt.Sprintf("auction %d: got %v (present %v), want n=%d total=%d", k, got, ok, a.n, a.sum))
			}
		}
		for k := range latest {
			if _, ok := want[k]; !ok {
				wrong = append(wrong, fmt.Sprintf("auction %d: not in the input", k))
			}
		}
		if len(wrong) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	if len(wrong) > 0 {
		if len(wrong) > 10 {
			wrong = append(wrong[:10], fmt.Sprintf("... %d more", len(wrong)-10))
		}
		c = dial(t, ctx, srv.addr)
		j, _, _ := c.job(ctx, "agg")
		t.Fatalf("after 3 minutes %d auctions are wrong; job %+v:\n%s", len(wrong), j, strings.Join(wrong, "\n"))
	}
	t.Logf("%d auctions converged to the generator's counts and sums (%d upsert messages)", len(want), msgs)
	c = dial(t, ctx, srv.addr)
	if j, ok, err := c.job(ctx, "agg"); err != nil || !ok || j.Status != "running" || j.Error != "" {
		t.Errorf("job after the kills: %+v (found %v, %v), want running without error", j, ok, err)
	}
	if failed := log.grep("job failed"); len(failed) > 0 {
		t.Errorf("the server logged job failures:\n%s", strings.Join(failed, "\n"))
	}
	srv.stop()
}

// latestRows reads an upsert topic of (auction, n, total) records and
// returns the newest (n, total) per auction, with the message count.
func latestRows(t testing.TB, ctx context.Context, pc pulsar.Client, topic string, codec *goavro.Codec) (map[int64][2]int64, int) {
	t.Helper()
	r, err := pc.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := map[int64][2]int64{}
	n := 0
	for hasNext(t, r) {
		m, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("read %s: %v", topic, err)
		}
		n++
		if len(m.Payload()) == 0 {
			continue // a tombstone: GROUP BY without deletes writes none
		}
		native, _, err := codec.NativeFromBinary(m.Payload())
		if err != nil {
			t.Fatalf("decode %s %v: %v", topic, m.ID(), err)
		}
		rec, _ := native.(map[string]any)
		k, ok1 := avroLong(rec["auction"])
		cnt, ok2 := avroLong(rec["n"])
		sum, ok3 := avroLong(rec["total"])
		if !ok1 || !ok2 || !ok3 {
			t.Fatalf("%s %v: unexpected record %v", topic, m.ID(), rec)
		}
		out[k] = [2]int64{cnt, sum}
	}
	return out, n
}

// avroLong reads a long that may sit in a nullable union.
func avroLong(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case map[string]any:
		return avroLong(x["long"])
	}
	return 0, false
}
