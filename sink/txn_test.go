package sink_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/pulsar-client-go/pulsar"
	plog "github.com/apache/pulsar-client-go/pulsar/log"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
	"github.com/magnetar-sql/magnetar/sink"
	"github.com/sirupsen/logrus"
)

// txnClient is a transaction-enabled client on the test broker.
func txnClient(t *testing.T) pulsar.Client {
	t.Helper()
	serviceURL, _ := testbroker.Require(t)
	logger := logrus.New()
	logger.SetLevel(logrus.WarnLevel)
	c, err := pulsar.NewClient(pulsar.ClientOptions{URL: serviceURL, EnableTransaction: true,
		OperationTimeout: 30 * time.Second, Logger: plog.NewLoggerWithLogrus(logger)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// readUntil reads topic from the start with a plain reader (or, with
// consumer set, an exclusive subscription) until the payload last, and
// returns every payload before it.
func readUntil(t *testing.T, ctx context.Context, client pulsar.Client, topic, last string, consumer bool) []string {
	t.Helper()
	var next func(context.Context) (pulsar.Message, error)
	if consumer {
		c, err := client.Subscribe(pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "audit",
			SubscriptionInitialPosition: pulsar.SubscriptionPositionEarliest})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		next = c.Receive
	} else {
		r, err := client.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		next = r.Next
	}
	var got []string
	for {
		m, err := next(ctx)
		if err != nil {
			t.Fatalf("read %s after %d messages: %v", topic, len(got), err)
		}
		if p := string(m.Payload()); p == last {
			return got
		} else {
			got = append(got, p)
		}
	}
}

// TestAbortedTransactionInvisible is the fix of the vendored client
// (third_party/pulsar-client-go, apache/pulsar-client-go#1498): messages of
// an aborted transaction reach no reader and no consumer, batched or not,
// also when a batch would otherwise have mixed two transactions, and plain
// messages after a transactional batch carry no transaction id.
func TestAbortedTransactionInvisible(t *testing.T) {
	e := newEnv(t)
	client := txnClient(t)
	e.register("t", pulsar.NewStringSchema(nil))
	tb := e.table("t")
	vs := arrow.NewSchema([]arrow.Field{{Name: "value", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	w, err := sink.NewPulsarWriter(client, tb.Topic(), tb.SchemaInfo(), vs, sink.Options{BatchingMaxMessages: 10})
	if err != nil {
		t.Fatal(err)
	}
	write := func(prefix string, n int) []string {
		t.Helper()
		b := array.NewRecordBuilder(e.mem, vs)
		var vals []string
		for i := 0; i < n; i++ {
			vals = append(vals, fmt.Sprintf("%s%d", prefix, i))
		}
		b.Field(0).(*array.StringBuilder).AppendValues(vals, nil)
		rec := b.NewRecordBatch()
		b.Release()
		err := w.Write(e.ctx, exec.Batch{Rec: rec})
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(e.ctx); err != nil {
			t.Fatal(err)
		}
		return vals
	}
	newTxn := func() pulsar.Transaction {
		t.Helper()
		txn, err := client.NewTransaction(time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return txn
	}

	// Batched: 25 rows in an aborted transaction, a plain row, 25 rows in
	// a committed one.
	aborted := newTxn()
	w.SetTransaction(aborted)
	write("aborted", 25)
	if err := aborted.Abort(e.ctx); err != nil {
		t.Fatal(err)
	}
	w.SetTransaction(nil)
	want := write("plain", 1)
	committed := newTxn()
	w.SetTransaction(committed)
	want = append(want, write("committed", 25)...)
	if err := committed.Commit(e.ctx); err != nil {
		t.Fatal(err)
	}
	w.SetTransaction(nil)

	// Two transactions' messages handed to one batching producer without a
	// flush between them: they must not share a batch.
	p, err := client.CreateProducer(pulsar.ProducerOptions{Topic: tb.Topic(), Schema: pulsar.NewStringSchema(nil),
		BatchingMaxMessages: 100, BatchingMaxPublishDelay: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ta, tc := newTxn(), newTxn()
	sendErr := make(chan error, 4)
	cb := func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) { sendErr <- err }
	p.SendAsync(e.ctx, &pulsar.ProducerMessage{Payload: []byte("mixed-aborted"), Transaction: ta}, cb)
	p.SendAsync(e.ctx, &pulsar.ProducerMessage{Payload: []byte("mixed-committed"), Transaction: tc}, cb)
	if err := p.FlushWithCtx(e.ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := <-sendErr; err != nil {
			t.Fatal(err)
		}
	}
	if err := ta.Abort(e.ctx); err != nil {
		t.Fatal(err)
	}
	if err := tc.Commit(e.ctx); err != nil {
		t.Fatal(err)
	}
	want = append(want, "mixed-committed")

	// Unbatched sends take the single-message path.
	single, err := client.CreateProducer(pulsar.ProducerOptions{Topic: tb.Topic(), Schema: pulsar.NewStringSchema(nil), DisableBatching: true})
	if err != nil {
		t.Fatal(err)
	}
	defer single.Close()
	ta, tc = newTxn(), newTxn()
	for _, m := range []*pulsar.ProducerMessage{
		{Payload: []byte("single-aborted"), Transaction: ta},
		{Payload: []byte("single-committed"), Transaction: tc},
	} {
		if _, err := single.Send(e.ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := ta.Abort(e.ctx); err != nil {
		t.Fatal(err)
	}
	if err := tc.Commit(e.ctx); err != nil {
		t.Fatal(err)
	}
	want = append(want, "single-committed")
	// A plain message after the transactional ones on the batching
	// writer: the batch metadata no longer names the last transaction.
	want = append(want, write("after", 3)...)
	if err := w.Close(e.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := single.Send(e.ctx, &pulsar.ProducerMessage{Payload: []byte("end")}); err != nil {
		t.Fatal(err)
	}

	for _, consumer := range []bool{false, true} {
		got := readUntil(t, e.ctx, client, tb.Topic(), "end", consumer)
		if !slices.Equal(got, want) {
			t.Errorf("consumer=%v read %d messages %q,\nwant %d %q", consumer, len(got), got, len(want), want)
		}
	}
}
