package pulsar

import (
	"fmt"
	"testing"

	"github.com/apache/pulsar-client-go/pulsar"
)

func TestReadLastAndHasNext(t *testing.T) {
	e := newEnv(t, Config{})
	topic := e.topic("readend")
	// An empty topic has no last message.
	p := e.producer(topic, "", false)
	msg, err := ReadLast(e.ctx, e.cat.client, topic)
	if err != nil || msg != nil {
		t.Fatalf("empty topic: %v %v", msg, err)
	}
	for i := range 5 {
		if _, err := p.Send(e.ctx, &pulsar.ProducerMessage{Payload: fmt.Appendf(nil, "m%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	msg, err = ReadLast(e.ctx, e.cat.client, topic)
	if err != nil || msg == nil || string(msg.Payload()) != "m4" {
		t.Fatalf("last message: %v %v", msg, err)
	}

	r, err := e.cat.client.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		more, err := HasNext(r)
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			break
		}
		if _, err := r.Next(e.ctx); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 5 {
		t.Fatalf("read %d messages, want 5", n)
	}
	// A reader that can no longer ask the broker is an error, not an
	// end (the client's own HasNext answers false).
	r.Close()
	if r.HasNext() {
		t.Fatal("closed reader: client HasNext true")
	}
	if more, err := HasNext(r); err == nil {
		t.Fatalf("closed reader: HasNext = %v with no error", more)
	}
}
