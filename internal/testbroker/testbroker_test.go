package testbroker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	plog "github.com/apache/pulsar-client-go/pulsar/log"
	"github.com/apache/pulsar-client-go/pulsaradmin"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"
	"github.com/sirupsen/logrus"

	"github.com/magnetar-sql/magnetar/internal/testbroker"
)

func newClient(t *testing.T, serviceURL string, txn bool) pulsar.Client {
	t.Helper()
	// The client logs every producer and consumer at info level: keep test output readable.
	logger := logrus.New()
	logger.SetLevel(logrus.WarnLevel)
	client, err := pulsar.NewClient(pulsar.ClientOptions{
		Logger:            plog.NewLoggerWithLogrus(logger),
		URL:               serviceURL,
		OperationTimeout:  30 * time.Second,
		ConnectionTimeout: 10 * time.Second,
		EnableTransaction: txn,
	})
	if err != nil {
		t.Fatalf("pulsar client: %v", err)
	}
	t.Cleanup(client.Close)
	return client
}

// TestProduceConsume sends 10 messages through the broker and reads them back in order.
func TestProduceConsume(t *testing.T) {
	serviceURL, adminURL := testbroker.Require(t)
	ns := testbroker.Namespace(t, adminURL)
	topic := testbroker.Topic(ns, "roundtrip")
	client := newClient(t, serviceURL, false)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	producer, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic})
	if err != nil {
		t.Fatalf("create producer: %v", err)
	}
	defer producer.Close()
	var want []string
	for i := range 10 {
		payload := fmt.Sprintf("message-%02d", i)
		want = append(want, payload)
		if _, err := producer.Send(ctx, &pulsar.ProducerMessage{Key: fmt.Sprint(i % 3), Payload: []byte(payload)}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}

	// Subscribing after producing: Earliest makes the new subscription start at the first message.
	consumer, err := client.Subscribe(pulsar.ConsumerOptions{
		Topic:                       topic,
		SubscriptionName:            "roundtrip",
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest,
	})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	defer consumer.Close()
	var got []string
	for range want {
		msg, err := consumer.Receive(ctx)
		if err != nil {
			t.Fatalf("receive after %d messages: %v", len(got), err)
		}
		got = append(got, string(msg.Payload()))
		if err := consumer.Ack(msg); err != nil {
			t.Fatalf("ack: %v", err)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("consumed %q, want %q", got, want)
	}
}

type bid struct {
	Auction int64  `avro:"auction"`
	Bidder  int64  `avro:"bidder"`
	Price   int64  `avro:"price"`
	Channel string `avro:"channel"`
}

const bidSchema = `{"type":"record","name":"Bid","namespace":"nexmark","fields":[
	{"name":"auction","type":"long"},
	{"name":"bidder","type":"long"},
	{"name":"price","type":"long"},
	{"name":"channel","type":"string"}]}`

// TestAvroSchemaRegistry produces with an Avro schema, reads the registered schema back through
// pulsaradmin, and consumes the records decoded with that schema.
func TestAvroSchemaRegistry(t *testing.T) {
	serviceURL, adminURL := testbroker.Require(t)
	ns := testbroker.Namespace(t, adminURL)
	topic := testbroker.Topic(ns, "bids")
	client := newClient(t, serviceURL, false)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	producer, err := client.CreateProducer(pulsar.ProducerOptions{
		Topic:  topic,
		Schema: pulsar.NewAvroSchema(bidSchema, map[string]string{"magnetar.table": "bids"}),
	})
	if err != nil {
		t.Fatalf("create producer: %v", err)
	}
	defer producer.Close()
	want := []bid{{1000, 2001, 17, "web"}, {1001, 2002, 1_000_000, "app"}, {1000, 2003, 0, ""}}
	for _, b := range want {
		if _, err := producer.Send(ctx, &pulsar.ProducerMessage{Value: b}); err != nil {
			t.Fatalf("send %+v: %v", b, err)
		}
	}

	admin, err := pulsaradmin.NewClient(&pulsaradmin.Config{WebServiceURL: adminURL})
	if err != nil {
		t.Fatalf("pulsaradmin: %v", err)
	}
	info, err := admin.Schemas().GetSchemaInfoWithVersion(topic)
	if err != nil {
		t.Fatalf("get schema of %s: %v", topic, err)
	}
	if info.SchemaInfo.Type != "AVRO" {
		t.Errorf("schema type %q, want AVRO", info.SchemaInfo.Type)
	}
	if info.Version != 0 {
		t.Errorf("schema version %d, want 0 (first version)", info.Version)
	}
	if got := info.SchemaInfo.Properties["magnetar.table"]; got != "bids" {
		t.Errorf("schema property magnetar.table = %q, want bids (properties %v)", got, info.SchemaInfo.Properties)
	}
	var def struct {
		Type   string `json:"type"`
		Name   string `json:"name"`
		Fields []struct {
			Name string `json:"name"`
			Type any    `json:"type"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(info.SchemaInfo.Schema, &def); err != nil {
		t.Fatalf("registered schema is not JSON: %v: %s", err, info.SchemaInfo.Schema)
	}
	var fields []string
	for _, f := range def.Fields {
		fields = append(fields, fmt.Sprintf("%s:%v", f.Name, f.Type))
	}
	wantFields := []string{"auction:long", "bidder:long", "price:long", "channel:string"}
	// The Go client registers the schema as parsed by hamba/avro: the name becomes the full name.
	if def.Type != "record" || def.Name != "nexmark.Bid" || !slices.Equal(fields, wantFields) {
		t.Errorf("registered schema %s %s %v, want record nexmark.Bid %v", def.Type, def.Name, fields, wantFields)
	}

	consumer, err := client.Subscribe(pulsar.ConsumerOptions{
		Topic:                       topic,
		SubscriptionName:            "avro",
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest,
		Schema:                      pulsar.NewAvroSchema(bidSchema, nil),
	})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	defer consumer.Close()
	var got []bid
	for range want {
		msg, err := consumer.Receive(ctx)
		if err != nil {
			t.Fatalf("receive after %d messages: %v", len(got), err)
		}
		var b bid
		if err := msg.GetSchemaValue(&b); err != nil {
			t.Fatalf("decode: %v", err)
		}
		got = append(got, b)
		if err := consumer.Ack(msg); err != nil {
			t.Fatalf("ack: %v", err)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("consumed %+v, want %+v", got, want)
	}
}

// txnBufferStats reads the broker's transaction buffer state of a topic (pulsaradmin has no
// transactions API).
func txnBufferStats(t *testing.T, adminURL, topic string) (stats struct {
	State                    string `json:"state"`
	MaxReadPosition          string `json:"maxReadPosition"`
	OngoingTxnSize           int    `json:"ongoingTxnSize"`
	TotalAbortedTransactions int    `json:"totalAbortedTransactions"`
}) {
	t.Helper()
	url := adminURL + "/admin/v3/transactions/transactionBufferStats/" + strings.TrimPrefix(topic, "persistent://")
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d %v: %.300s", url, resp.StatusCode, err, body)
	}
	if err := json.Unmarshal(body, &stats); err != nil {
		t.Fatalf("GET %s: %v: %.300s", url, err, body)
	}
	return stats
}

// TestTransactions checks that the broker's transaction coordinator and transaction buffer serve:
// a transaction opens, holds back everything after its first message until it commits, and
// aborts.
func TestTransactions(t *testing.T) {
	serviceURL, adminURL := testbroker.Require(t)
	ns := testbroker.Namespace(t, adminURL)
	topic := testbroker.Topic(ns, "txn")
	client := newClient(t, serviceURL, true)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	consumer, err := client.Subscribe(pulsar.ConsumerOptions{
		Topic:                       topic,
		SubscriptionName:            "txn",
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest,
	})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	defer consumer.Close()
	producer, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic})
	if err != nil {
		t.Fatalf("create producer: %v", err)
	}
	defer producer.Close()
	send := func(txn pulsar.Transaction, payload string) {
		t.Helper()
		if _, err := producer.Send(ctx, &pulsar.ProducerMessage{Payload: []byte(payload), Transaction: txn}); err != nil {
			t.Fatalf("send %q: %v", payload, err)
		}
	}

	txn, err := client.NewTransaction(time.Minute)
	if err != nil {
		t.Fatalf("open transaction: %v", err)
	}
	send(txn, "a")
	send(nil, "n") // after the open transaction's first message: invisible until it ends
	if st := txnBufferStats(t, adminURL, topic); st.State != "Ready" || st.OngoingTxnSize != 1 {
		t.Fatalf("transaction buffer with one open transaction: %+v", st)
	}
	if err := txn.Commit(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if st := txnBufferStats(t, adminURL, topic); st.OngoingTxnSize != 0 {
		t.Fatalf("transaction buffer after commit: %+v", st)
	}
	var got []string
	for len(got) < 2 {
		msg, err := consumer.Receive(ctx)
		if err != nil {
			t.Fatalf("receive after %q: %v", got, err)
		}
		got = append(got, string(msg.Payload()))
		if err := consumer.Ack(msg); err != nil {
			t.Fatalf("ack: %v", err)
		}
	}
	if want := []string{"a", "n"}; !slices.Equal(got, want) {
		t.Fatalf("consumed %q, want %q", got, want)
	}

	aborted, err := client.NewTransaction(time.Minute)
	if err != nil {
		t.Fatalf("open second transaction: %v", err)
	}
	send(aborted, "x")
	if err := aborted.Abort(ctx); err != nil {
		t.Fatalf("abort: %v", err)
	}
	if st := aborted.GetState(); st != pulsar.TxnAborted {
		t.Fatalf("transaction state after abort: %v", st)
	}
	if st := txnBufferStats(t, adminURL, topic); st.TotalAbortedTransactions != 1 || st.OngoingTxnSize != 0 {
		t.Fatalf("transaction buffer after abort: %+v", st)
	}
}

// TestAbortedTxnMessagesNotDelivered: a message sent in an aborted transaction never reaches a
// consumer; the next plain message does. pulsar-client-go v0.19 broke this
// (https://github.com/apache/pulsar-client-go/issues/1498: the transaction id went on CommandSend
// but not into MessageMetadata, so the broker delivered aborted messages); Magnetar builds against
// the patched copy in third_party/pulsar-client-go until a release has the fix.
func TestAbortedTxnMessagesNotDelivered(t *testing.T) {
	serviceURL, adminURL := testbroker.Require(t)
	ns := testbroker.Namespace(t, adminURL)
	topic := testbroker.Topic(ns, "aborted")
	client := newClient(t, serviceURL, true)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	producer, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic})
	if err != nil {
		t.Fatalf("create producer: %v", err)
	}
	defer producer.Close()
	txn, err := client.NewTransaction(time.Minute)
	if err != nil {
		t.Fatalf("open transaction: %v", err)
	}
	if _, err := producer.Send(ctx, &pulsar.ProducerMessage{Payload: []byte("aborted"), Transaction: txn}); err != nil {
		t.Fatalf("send: %v", err)
	}
	if err := txn.Abort(ctx); err != nil {
		t.Fatalf("abort: %v", err)
	}
	if _, err := producer.Send(ctx, &pulsar.ProducerMessage{Payload: []byte("plain")}); err != nil {
		t.Fatalf("send: %v", err)
	}
	consumer, err := client.Subscribe(pulsar.ConsumerOptions{
		Topic:                       topic,
		SubscriptionName:            "s",
		SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest,
	})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	defer consumer.Close()
	msg, err := consumer.Receive(ctx)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	if got := string(msg.Payload()); got != "plain" {
		t.Fatalf("first message %q, want %q: an aborted transaction's message was delivered "+
			"(is go.mod's replace of pulsar-client-go by third_party/ gone?)", got, "plain")
	}
}

// TestNamespaceCleanup checks that Namespace's namespace exists with infinite retention and is
// gone after the subtest's cleanups ran.
func TestNamespaceCleanup(t *testing.T) {
	_, adminURL := testbroker.Require(t)
	admin, err := pulsaradmin.NewClient(&pulsaradmin.Config{WebServiceURL: adminURL})
	if err != nil {
		t.Fatalf("pulsaradmin: %v", err)
	}
	var ns string
	t.Run("create", func(t *testing.T) {
		ns = testbroker.Namespace(t, adminURL)
		ret, err := admin.Namespaces().GetRetention(ns)
		if err != nil {
			t.Fatalf("get retention of %s: %v", ns, err)
		}
		if ret.RetentionTimeInMinutes != -1 || ret.RetentionSizeInMB != -1 {
			t.Fatalf("retention of %s = %+v, want -1/-1", ns, ret)
		}
	})
	list, err := admin.Namespaces().GetNamespaces("public")
	if err != nil {
		t.Fatalf("list namespaces: %v", err)
	}
	if slices.Contains(list, ns) {
		t.Fatalf("namespace %s still exists after cleanup", ns)
	}
}

// TestLedgerRollover checks the broker's small-ledger setting (managedLedgerMaxEntriesPerLedger=5000,
// no minimum rollover time) that tests of multi-segment reads rely on: 5001 unbatched messages
// span two ledgers, and every message is still readable from the start.
func TestLedgerRollover(t *testing.T) {
	const n = 5001
	serviceURL, adminURL := testbroker.Require(t)
	ns := testbroker.Namespace(t, adminURL)
	topic := testbroker.Topic(ns, "segments")
	client := newClient(t, serviceURL, false)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	// One message per entry: the ledger limit counts entries, and a batch is one entry.
	producer, err := client.CreateProducer(pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	if err != nil {
		t.Fatalf("create producer: %v", err)
	}
	defer producer.Close()
	errs := make(chan error, n)
	for i := range n {
		producer.SendAsync(ctx, &pulsar.ProducerMessage{Payload: []byte(fmt.Sprint(i))},
			func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) { errs <- err })
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("send: %v", err)
		}
	}

	admin, err := pulsaradmin.NewClient(&pulsaradmin.Config{WebServiceURL: adminURL})
	if err != nil {
		t.Fatalf("pulsaradmin: %v", err)
	}
	name, err := utils.GetTopicName(topic)
	if err != nil {
		t.Fatalf("topic name: %v", err)
	}
	stats, err := admin.Topics().GetInternalStats(*name)
	if err != nil {
		t.Fatalf("internal stats: %v", err)
	}
	if len(stats.Ledgers) < 2 || stats.Ledgers[0].Entries != 5000 {
		t.Fatalf("ledgers %+v, want the first closed at 5000 entries and a second one", stats.Ledgers)
	}

	reader, err := client.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
	if err != nil {
		t.Fatalf("create reader: %v", err)
	}
	defer reader.Close()
	for i := range n {
		msg, err := reader.Next(ctx)
		if err != nil {
			t.Fatalf("read message %d: %v", i, err)
		}
		if got := string(msg.Payload()); got != fmt.Sprint(i) {
			t.Fatalf("message %d has payload %q", i, got)
		}
	}
}
