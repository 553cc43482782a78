package pulsar_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/hamba/avro/v2"
	cpulsar "github.com/magnetar-sql/magnetar/catalog/pulsar"
	"github.com/magnetar-sql/magnetar/engine"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
)

const ratioAvro = `{"type":"record","name":"Tick","fields":[{"name":"id","type":"long"}]}`

// Ratio-test shape: ratioMsgs messages in ratioSlices slices, each slice
// produced after a pause, without batching so that every message is an
// entry and the test broker (5000 entries per ledger) rolls ledgers at
// different times.
const (
	ratioMsgs   = 20_000
	ratioSlices = 10
	ratioPause  = 250 * time.Millisecond
)

// TestPublishTimeTailReadRatio checks the pushdown claim end to end: a SQL
// query on the last 10 % of a topic's publish-time range returns the true
// count and reads at most 20 % of the topic's messages (ScanStats of the
// scan operator in the engine's operator tree).
//
// The catalog's PublishTimeSlack widens the read by that much before the
// lower bound (publish times from different producers may go backwards),
// so the 20 % bound holds when the slack is under 10 % of the topic's time
// span. The topic here spans about three seconds and t90 falls about 25 ms
// (a tenth of a pause) after the ninth slice, so the test sets a 10 ms
// slack; the default 5 s slack is exercised for correctness only.
func TestPublishTimeTailReadRatio(t *testing.T) {
	serviceURL, adminURL := testbroker.Require(t)
	ns := testbroker.Namespace(t, adminURL)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	topic := testbroker.Topic(ns, "ticks")
	produceSlices(t, ctx, serviceURL, topic)

	for _, tc := range []struct {
		name      string
		slack     time.Duration
		checkRead bool
	}{
		{"slack=10ms", 10 * time.Millisecond, true},
		{"slack=default", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			cat, err := cpulsar.New(ctx, cpulsar.Config{ServiceURL: serviceURL, AdminURL: adminURL, DefaultDatabase: ns, Allocator: mem, PublishTimeSlack: tc.slack})
			if err != nil {
				t.Fatal(err)
			}
			defer cat.Close()
			s := engine.New(cat, engine.Options{Mem: mem}).NewSession()

			// Truth: every publish time, from an unfiltered scan.
			var pubs []int64
			full := runSQL(t, ctx, s, "SELECT __publish_time FROM ticks", func(rec arrow.RecordBatch) {
				col := rec.Column(0).(*array.Timestamp)
				for i := range col.Len() {
					pubs = append(pubs, int64(col.Value(i)))
				}
			})
			if len(pubs) != ratioMsgs || full.MessagesRead != ratioMsgs {
				t.Fatalf("full scan: %d rows, %d messages read, want %d", len(pubs), full.MessagesRead, ratioMsgs)
			}
			lo, hi := pubs[0], pubs[0]
			for _, p := range pubs {
				lo, hi = min(lo, p), max(hi, p)
			}
			t90 := lo + (hi-lo)*9/10
			var want int64
			for _, p := range pubs {
				if p >= t90 {
					want++
				}
			}

			lit := time.UnixMicro(t90).UTC().Format("2006-01-02 15:04:05.000000")
			var got int64
			st := runSQL(t, ctx, s, fmt.Sprintf("SELECT count(*) FROM ticks WHERE __publish_time >= '%s'", lit), func(rec arrow.RecordBatch) {
				got += rec.Column(0).(*array.Int64).Value(0)
			})
			if got != want {
				t.Fatalf("count = %d, want %d", got, want)
			}
			t.Logf("span %s, t90 %s: count %d (%.1f %%), messages read %d of %d (%.1f %%), ledgers skipped %d",
				time.Duration(hi-lo)*time.Microsecond, lit, got, 100*float64(got)/ratioMsgs,
				st.MessagesRead, ratioMsgs, 100*float64(st.MessagesRead)/ratioMsgs, st.LedgersSkipped)
			if tc.checkRead && st.MessagesRead > ratioMsgs/5 {
				t.Fatalf("read %d messages for the last 10 %% of the publish-time range, want at most %d (20 %%); stats %+v", st.MessagesRead, ratioMsgs/5, st)
			}
			// The ledgers that closed before t90 are skipped by their close
			// time, not only by the message-id lookup.
			if tc.checkRead && st.LedgersSkipped == 0 {
				t.Fatalf("no ledger skipped by close time; stats %+v", st)
			}
		})
	}
}

// produceSlices writes ratioMsgs messages to topic in ratioSlices slices
// with a pause after each, so that publish times spread over a few seconds.
func produceSlices(t *testing.T, ctx context.Context, serviceURL, topic string) {
	t.Helper()
	client, err := pulsar.NewClient(pulsar.ClientOptions{URL: serviceURL})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	sch, err := pulsar.NewAvroSchemaWithValidation(ratioAvro, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic, Schema: sch, DisableBatching: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	codec := avro.MustParse(ratioAvro)
	per := ratioMsgs / ratioSlices
	for sl := range ratioSlices {
		errs := make(chan error, per)
		for i := sl * per; i < (sl+1)*per; i++ {
			b, err := avro.Marshal(codec, map[string]any{"id": int64(i)})
			if err != nil {
				t.Fatal(err)
			}
			p.SendAsync(ctx, &pulsar.ProducerMessage{Payload: b}, func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) { errs <- err })
		}
		for range per {
			if err := <-errs; err != nil {
				t.Fatalf("send: %v", err)
			}
		}
		time.Sleep(ratioPause)
	}
}

// runSQL runs one query, hands each batch to fn and returns the stats of
// the Pulsar scan in the operator tree.
func runSQL(t *testing.T, ctx context.Context, s *engine.Session, q string, fn func(arrow.RecordBatch)) cpulsar.ScanStats {
	t.Helper()
	var st cpulsar.ScanStats
	found := false
	err := s.Run(ctx, q, func(r *engine.Result) error {
		for {
			m, err := r.Rows.Next(ctx)
			if err != nil {
				return err
			}
			if m.Kind == exec.MsgEnd {
				break
			}
			if m.Kind == exec.MsgBatch {
				fn(m.Batch.Rec)
			}
			m.Release()
		}
		var walk func(o exec.Operator)
		walk = func(o exec.Operator) {
			if u, ok := o.(interface{ Unwrap() exec.Operator }); ok {
				o = u.Unwrap()
			}
			if sr, ok := o.(cpulsar.StatsReporter); ok {
				st, found = sr.Stats(), true
				return
			}
			for _, c := range o.Children() {
				walk(c)
			}
		}
		walk(r.Rows)
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if !found {
		t.Fatalf("%s: no Pulsar scan in the operator tree", q)
	}
	return st
}
