package nexmark

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	pulsarlog "github.com/apache/pulsar-client-go/pulsar/log"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/admin"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/admin/config"
	"github.com/linkedin/goavro/v2"

	"github.com/magnetar-sql/magnetar/internal/testbroker"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// registeredCodec fetches topic's latest schema from the registry and builds
// a goavro codec from it, as a reader that knows nothing of this package would.
func registeredCodec(t *testing.T, adm admin.Client, topic string) (*goavro.Codec, int64) {
	t.Helper()
	info, err := adm.Schemas().GetSchemaInfoWithVersion(topic)
	if err != nil {
		t.Fatalf("schema of %s: %v", topic, err)
	}
	if info.SchemaInfo.Type != "AVRO" {
		t.Fatalf("schema type of %s is %s, want AVRO", topic, info.SchemaInfo.Type)
	}
	if !strings.Contains(string(info.SchemaInfo.Schema), "timestamp-millis") {
		t.Fatalf("registered schema lost the logical type: %s", info.SchemaInfo.Schema)
	}
	codec, err := goavro.NewCodec(string(info.SchemaInfo.Schema))
	if err != nil {
		t.Fatalf("registered schema of %s: %v", topic, err)
	}
	return codec, info.Version
}

// readAll reads n messages of topic from the earliest one.
func readAll(t *testing.T, client pulsar.Client, topic string, n int) []pulsar.Message {
	t.Helper()
	r, err := client.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
	if err != nil {
		t.Fatalf("reader on %s: %v", topic, err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	msgs := make([]pulsar.Message, 0, n)
	for len(msgs) < n {
		m, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("read %s after %d of %d messages: %v", topic, len(msgs), n, err)
		}
		msgs = append(msgs, m)
	}
	// Nothing more than the n messages.
	if r.HasNext() {
		t.Fatalf("%s holds more than %d messages", topic, n)
	}
	return msgs
}

func TestProduceIntegration(t *testing.T) {
	serviceURL, adminURL := testbroker.Require(t)
	ns := testbroker.Namespace(t, adminURL)

	cfg := Config{Seed: 42, Events: 5000}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := Produce(ctx, cfg, ProduceOptions{ServiceURL: serviceURL, AdminURL: adminURL, Namespace: ns, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if st.Persons != 100 || st.Auctions != 300 || st.Bids != 4600 || st.Bytes == 0 {
		t.Fatalf("stats %+v, want 100 persons, 300 auctions, 4600 bids", st)
	}
	t.Logf("produced %d events in %v (%.0f events/s)", st.Events(), st.Elapsed, st.EventsPerSecond())

	// What the generator says the topic must hold.
	var wantBids []*Bid
	g := NewGenerator(cfg)
	for e, ok := g.Next(); ok; e, ok = g.Next() {
		if e.Bid != nil {
			wantBids = append(wantBids, e.Bid)
		}
	}

	adm, err := admin.New(&config.Config{WebServiceURL: adminURL})
	if err != nil {
		t.Fatal(err)
	}
	client, err := pulsar.NewClient(pulsar.ClientOptions{URL: serviceURL, Logger: pulsarlog.NewLoggerWithSlog(quiet)})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	topic := Topic(ns, BidTable)
	codec, version := registeredCodec(t, adm, topic)
	msgs := readAll(t, client, topic, len(wantBids))
	var gotOver1000, wantOver1000 int
	for i, m := range msgs {
		if v := m.SchemaVersion(); len(v) != 8 || int64(binary.BigEndian.Uint64(v)) != version {
			t.Fatalf("message %d schema version %x, want %d", i, v, version)
		}
		native, rest, err := codec.NativeFromBinary(m.Payload())
		if err != nil || len(rest) != 0 {
			t.Fatalf("message %d: decode: %v (%d bytes left)", i, err, len(rest))
		}
		rec := native.(map[string]any)
		w := wantBids[i]
		if rec["auction"] != w.Auction || rec["price"] != w.Price || rec["url"] != w.URL ||
			!rec["dateTime"].(time.Time).Equal(w.DateTime) {
			t.Fatalf("message %d = %v, want %+v", i, rec, w)
		}
		if m.Key() != strconv.FormatInt(w.Auction, 10) {
			t.Fatalf("message %d key %q, want the auction id %d", i, m.Key(), w.Auction)
		}
		if !m.EventTime().Equal(w.DateTime) {
			t.Fatalf("message %d event time %v, want %v", i, m.EventTime(), w.DateTime)
		}
		if rec["price"].(int64) > 1000 {
			gotOver1000++
		}
		if w.Price > 1000 {
			wantOver1000++
		}
	}
	if gotOver1000 != wantOver1000 || gotOver1000 == 0 {
		t.Fatalf("%d bids over 1000 read back, generator made %d", gotOver1000, wantOver1000)
	}

	// The other two tables are there and decode with their registered schemas.
	for _, tc := range []struct {
		table string
		n     int
	}{{PersonTable, 100}, {AuctionTable, 300}} {
		topic := Topic(ns, tc.table)
		codec, _ := registeredCodec(t, adm, topic)
		for i, m := range readAll(t, client, topic, tc.n) {
			native, _, err := codec.NativeFromBinary(m.Payload())
			if err != nil {
				t.Fatalf("%s message %d: %v", tc.table, i, err)
			}
			if id := native.(map[string]any)["id"].(int64); m.Key() != strconv.FormatInt(id, 10) || id != int64(1000+i) {
				t.Fatalf("%s message %d: id %d key %q", tc.table, i, id, m.Key())
			}
		}
	}
}

func TestProducePartitioned(t *testing.T) {
	serviceURL, adminURL := testbroker.Require(t)
	ns := testbroker.Namespace(t, adminURL)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := Config{Seed: 1, Events: 1000}
	st, err := Produce(ctx, cfg, ProduceOptions{ServiceURL: serviceURL, AdminURL: adminURL, Namespace: ns, Partitions: 2, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if st.Events() != 1000 || st.Bids != 920 {
		t.Fatalf("stats %+v", st)
	}
	adm, err := admin.New(&config.Config{WebServiceURL: adminURL})
	if err != nil {
		t.Fatal(err)
	}
	client, err := pulsar.NewClient(pulsar.ClientOptions{URL: serviceURL, Logger: pulsarlog.NewLoggerWithSlog(quiet)})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	topic := Topic(ns, BidTable)
	parts, err := client.TopicPartitions(topic)
	if err != nil || len(parts) != 2 {
		t.Fatalf("partitions of %s: %v, %v", topic, parts, err)
	}
	codec, _ := registeredCodec(t, adm, topic)
	// Every auction's bids sit in one partition (keyed by auction).
	partitionOf := map[int64]int{}
	total := 0
	for pi, part := range parts {
		r, err := client.CreateReader(pulsar.ReaderOptions{Topic: part, StartMessageID: pulsar.EarliestMessageID()})
		if err != nil {
			t.Fatal(err)
		}
		for r.HasNext() {
			m, err := r.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			native, _, err := codec.NativeFromBinary(m.Payload())
			if err != nil {
				t.Fatal(err)
			}
			auction := native.(map[string]any)["auction"].(int64)
			if prev, ok := partitionOf[auction]; ok && prev != pi {
				t.Fatalf("auction %d has bids in partitions %d and %d", auction, prev, pi)
			}
			partitionOf[auction] = pi
			total++
		}
		r.Close()
	}
	if total != 920 {
		t.Fatalf("read %d bids from the partitions, want 920", total)
	}
}

func TestProduceNoBroker(t *testing.T) {
	// A port nothing listens on: Produce must fail fast with ErrUnreachable.
	start := time.Now()
	_, err := Produce(context.Background(), Config{Events: 10}, ProduceOptions{
		ServiceURL: "pulsar://127.0.0.1:1", AdminURL: "http://127.0.0.1:1", Logger: quiet,
	})
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("took %v to give up", d)
	}
}

// BenchmarkProduce measures end-to-end produce throughput into the local
// broker; run with -benchtime=1x (each iteration sends 200k events).
func BenchmarkProduce(b *testing.B) {
	serviceURL, adminURL := testbroker.Require(b)
	ns := testbroker.Namespace(b, adminURL)
	const events = 200000
	var total Stats
	for i := 0; b.Loop(); i++ {
		st, err := Produce(context.Background(), Config{Seed: uint64(i), Events: events},
			ProduceOptions{ServiceURL: serviceURL, AdminURL: adminURL, Namespace: ns, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		total.Persons += st.Persons
		total.Auctions += st.Auctions
		total.Bids += st.Bids
		total.Bytes += st.Bytes
		total.Elapsed += st.Elapsed
	}
	b.ReportMetric(total.EventsPerSecond(), "events/s")
	b.ReportMetric(float64(total.Bytes)/total.Elapsed.Seconds()/1e6, "MB/s")
}
