package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
)

// Restarts after transient failures: a job whose run fails because the
// broker went away (send timeouts, lost connections, lookups failing while a
// broker restarts, transactions lost with it) starts again from its last
// checkpoint after a backoff, instead of failing for good.
const (
	retryFirst = time.Second
	retryMax   = 10 * time.Second
	// retryLimit bounds consecutive restarts that make no checkpoint: with
	// the backoff cap that is about ten minutes of outage (the cap keeps a
	// job within 10s of a broker that is back).
	retryLimit = 60
)

// runWithRetry runs the job until it stops or fails with an error that a
// restart does not cure; it returns that error (nil when stopped).
func (j *job) runWithRetry(ctx context.Context) error {
	wait, attempts := retryFirst, 0
	for {
		before := j.checkpointID()
		err := j.run(ctx)
		if err == nil || ctx.Err() != nil || !transient(err) {
			return err
		}
		if j.checkpointID() > before {
			wait, attempts = retryFirst, 0 // it made progress: a new outage
		}
		attempts++
		if attempts > retryLimit {
			return fmt.Errorf("gave up after %d restarts without a checkpoint: %w", retryLimit, err)
		}
		j.m.log.Warn("jobs: job interrupted, restarting from its last checkpoint",
			"job", j.name(), "attempt", attempts, "in", wait, "err", err)
		j.mu.Lock()
		j.retryErr = describe(err)
		j.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, retryMax)
	}
}

func (j *job) checkpointID() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.stats.Checkpoints
}

func (j *job) name() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.def.Name
}

// transient reports whether a failure comes from the broker or the network
// being unavailable for a while, rather than from the job itself (its plan,
// its data, its configuration), which a restart would only repeat.
func transient(err error) bool {
	var te txnOpError
	if errors.Is(err, errTxnUnsettled) || errors.Is(err, errTxnStuck) || errors.As(err, &te) ||
		// A transactional send whose topic registration with the
		// coordinator failed (the client joins the cause to this).
		errors.Is(err, pulsar.ErrTransaction) {
		return true
	}
	// The client reports most server errors as UnknownError with the
	// server's code as text: a coordinator or namespace unloaded while its
	// broker stops, or not loaded yet while it starts. (Issue #6: "new
	// transaction: TransactionCoordinatorNotFound" failed an exactly-once job
	// for good in the middle of a broker restart.)
	msg := err.Error()
	for _, code := range []string{"TransactionCoordinatorNotFound", "ServiceNotReady", "MetadataError",
		"PersistenceError", "TooManyRequests"} {
		if strings.Contains(msg, code) {
			return true
		}
	}
	var perr *pulsar.Error
	if errors.As(err, &perr) {
		switch perr.Result() {
		case pulsar.TimeoutError, pulsar.LookupError, pulsar.ConnectError, pulsar.ReadError,
			pulsar.BrokerMetadataError, pulsar.BrokerPersistenceError, pulsar.NotConnectedError,
			pulsar.TooManyLookupRequestException, pulsar.ServiceUnitNotReady, pulsar.ProducerQueueIsFull,
			pulsar.ClientMemoryBufferIsFull, pulsar.MaxConcurrentOperationsReached,
			pulsar.ProducerBlockedQuotaExceededError, pulsar.ProducerBlockedQuotaExceededException,
			// A transaction the coordinator lost or timed out while the
			// broker was away; the checkpoint interval is checked against
			// the timeout before a job starts.
			pulsar.TransactionNoFoundError, pulsar.InvalidStatus:
			return true
		}
		return false
	}
	var nerr net.Error
	if errors.As(err, &nerr) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	// Errors that reach us as text (admin REST answers, wrapped with %v).
	s := strings.ToLower(err.Error())
	for _, sub := range []string{"connection refused", "connection reset", "connection closed", "broken pipe",
		"i/o timeout", "service unavailable", "http 503", "http 502", "http 504", "not ready", "being unloaded"} {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
