package pulsar

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
)

// HasNext reports whether r has a message before the end its topic had when
// last asked. Reader.HasNext answers false both at the end and when the
// broker cannot give the last message id (the client only logs that), and a
// false "end" reads like an empty topic: a job restarted without its
// checkpoint (issue #6, CI at 8e7f3b2). HasNext trusts a false only when the
// broker answers GetLastMessageID right after it, twice.
func HasNext(r pulsar.Reader) (bool, error) {
	for range 2 {
		if r.HasNext() {
			return true, nil
		}
		if _, err := r.GetLastMessageID(); err != nil {
			return false, fmt.Errorf("last message id of %s: %w", r.Topic(), err)
		}
	}
	return false, nil
}

// ReadLast returns the last readable message of a non-partitioned topic,
// or nil when it has none. It does not use a reader started at the latest
// message inclusively: the client seeks such a reader right after
// subscribing, and the broker can lose the consumer in that seek ("Consumer
// not found" on every later call). Instead it asks for the last message id
// and reads from there. A failed attempt is retried with a fresh reader
// until ctx ends or attempts run out.
func ReadLast(ctx context.Context, c pulsar.Client, topic string) (pulsar.Message, error) {
	var err error
	wait := 100 * time.Millisecond
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("last message of %s: %w (after %v)", topic, ctx.Err(), err)
			case <-time.After(wait):
			}
			wait = min(2*wait, 2*time.Second)
		}
		var msg pulsar.Message
		if msg, err = readLastOnce(ctx, c, topic); err == nil {
			return msg, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("last message of %s: %w", topic, err)
}

// errNoLast marks a reader that never delivered the last message id.
var errNoLast = errors.New("the last message was not delivered")

func readLastOnce(ctx context.Context, c pulsar.Client, topic string) (pulsar.Message, error) {
	probe, err := c.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.LatestMessageID()})
	if err != nil {
		return nil, err
	}
	last, err := probe.GetLastMessageID()
	probe.Close()
	if err != nil {
		return nil, err
	}
	if last.EntryID() < 0 { // an empty topic (or everything trimmed)
		return nil, nil
	}
	r, err := c.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: last, StartMessageIDInclusive: true})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		msg, err := r.Next(rctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				return nil, fmt.Errorf("%w: %v", errNoLast, last)
			}
			return nil, err
		}
		id := msg.ID()
		if id.LedgerID() == last.LedgerID() && id.EntryID() == last.EntryID() &&
			(last.BatchIdx() < 0 || id.BatchIdx() >= last.BatchIdx()) {
			return msg, nil
		}
	}
}
