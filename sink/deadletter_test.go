package sink_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
	"github.com/magnetar-sql/magnetar/sink"
)

// TestDeadLetterTooLarge: a row over the broker's maxMessageSize (5 MB by
// default) goes, whole, to the dead-letter topic with the reason, in the
// writer's transaction; the other rows go to the topic and the write does
// not fail. Without a dead-letter topic the same row fails the write.
func TestDeadLetterTooLarge(t *testing.T) {
	e := newEnv(t)
	client := txnClient(t)
	e.register("big", pulsar.NewStringSchema(nil))
	tb := e.table("big")
	dlqTopic := testbroker.Topic(e.ns, "big_dlq")
	vs := arrow.NewSchema([]arrow.Field{{Name: "value", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	huge := strings.Repeat("x", 6<<20)
	write := func(w *sink.PulsarWriter) error {
		t.Helper()
		b := array.NewRecordBuilder(e.mem, vs)
		b.Field(0).(*array.StringBuilder).AppendValues([]string{"small1", huge, "small2"}, nil)
		rec := b.NewRecordBatch()
		b.Release()
		defer rec.Release()
		if err := w.Write(e.ctx, exec.Batch{Rec: rec}); err != nil {
			return err
		}
		return w.Close(e.ctx)
	}

	plain, err := sink.NewPulsarWriter(client, tb.Topic(), tb.SchemaInfo(), vs, sink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := write(plain); err == nil || !strings.Contains(err.Error(), "MaxMessageSize") {
		t.Fatalf("oversized row without a dead-letter topic: err %v, want the size error", err)
	}

	txn, err := client.NewTransaction(time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	w, err := sink.NewPulsarWriter(client, tb.Topic(), tb.SchemaInfo(), vs, sink.Options{DeadLetterTopic: dlqTopic, Txn: txn})
	if err != nil {
		t.Fatal(err)
	}
	if err := write(w); err != nil {
		t.Fatalf("oversized row with a dead-letter topic: %v", err)
	}
	if w.DeadLettered() != 1 || w.Sent() != 2 {
		t.Fatalf("sent %d, dead-lettered %d; want 2 and 1", w.Sent(), w.DeadLettered())
	}
	// Nothing is readable before the commit (a reader stops at the open
	// transaction), everything after it.
	if err := txn.Commit(e.ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range e.readAll(tb.Topic()) {
		got = append(got, m.payload)
	}
	// The plain writer sent the rows around the one that failed it.
	if strings.Join(got, ",") != "small1,small2,small1,small2" {
		t.Errorf("topic holds %d messages %.40q, want small1 and small2 twice", len(got), got)
	}
	r, err := client.CreateReader(pulsar.ReaderOptions{Topic: dlqTopic, StartMessageID: pulsar.EarliestMessageID()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	m, err := r.Next(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := m.Properties()
	if string(m.Payload()) != huge || p[sink.PropDeadLetterTopic] != tb.Topic() || p[sink.PropDeadLetterBytes] != strconv.Itoa(len(huge)) ||
		!strings.Contains(p[sink.PropDeadLetterReason], "MaxMessageSize") {
		t.Errorf("dead letter: %d bytes, properties %v", len(m.Payload()), p)
	}
}
