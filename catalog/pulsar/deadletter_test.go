package pulsar_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
	"github.com/magnetar-sql/magnetar/sink"
)

// TestInsertDeadLetterOption: with the table option sink.dead_letter_topic,
// an INSERT whose row is over the broker's message limit writes the other
// rows and sends the big one, whole, to the dead-letter topic beside the
// table's; without the option the INSERT fails.
func TestInsertDeadLetterOption(t *testing.T) {
	e := newSQLEnv(t)
	e.run("CREATE TABLE docs (id BIGINT, body LONGTEXT) ENGINE_ATTRIBUTE='sink.dead_letter_topic=docs_dlq'")
	big := 6 << 20
	e.run(fmt.Sprintf("INSERT INTO docs VALUES (1, 'small'), (2, REPEAT('x', %d)), (3, 'also small')", big))
	if _, rows := e.run("SELECT id, length(body) FROM docs"); strings.Join(rows, ",") != "1\t5,3\t10" {
		t.Fatalf("docs holds %v, want the two small rows", rows)
	}

	serviceURL, _ := testbroker.Require(t)
	client, err := pulsar.NewClient(pulsar.ClientOptions{URL: serviceURL})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	r, err := client.CreateReader(pulsar.ReaderOptions{
		Topic: "persistent://" + e.ns + "/docs_dlq", StartMessageID: pulsar.EarliestMessageID(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	msg, err := r.Next(e.ctx)
	if err != nil {
		t.Fatalf("read dead-letter topic: %v", err)
	}
	if len(msg.Payload()) < big {
		t.Errorf("dead letter payload %d bytes, want the whole row (> %d)", len(msg.Payload()), big)
	}
	if got := msg.Properties()[sink.PropDeadLetterTopic]; !strings.HasSuffix(got, e.ns+"/docs") {
		t.Errorf("dead letter names topic %q", got)
	}
	if msg.Properties()[sink.PropDeadLetterReason] == "" {
		t.Error("dead letter has no reason")
	}

	e.run("CREATE TABLE strict (id BIGINT, body LONGTEXT)")
	_, _, err = e.try(fmt.Sprintf("INSERT INTO strict VALUES (1, REPEAT('x', %d))", big))
	if err == nil {
		t.Fatal("a too-large row without a dead-letter topic was accepted")
	}
}
