package jobs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/apache/pulsar-client-go/pulsar"
)

func TestTransient(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("sink: send to t: %w", pulsar.ErrSendTimeout), true},
		{fmt.Errorf("sink: send to t: %w", pulsar.ErrMessageTooLarge), false},
		{fmt.Errorf("sink: send to t: %w", pulsar.ErrSchema), false},
		{fmt.Errorf("target: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), true},
		{fmt.Errorf("checkpoint 3: %w", context.DeadlineExceeded), true},
		{errors.New(`GET http://127.0.0.1:8080/admin/v2/...: HTTP 503: Service Unavailable`), true},
		{errors.New(`new transaction: TransactionCoordinatorNotFound: UnknownError`), true},
		{errors.New(`producer: ServiceNotReady: UnknownError`), true},
		{fmt.Errorf("sink: send to t: %w", errors.Join(pulsar.ErrTransaction, errors.New("UnknownError: UnknownError"))), true},
		{fmt.Errorf("checkpoint 5: %w", txnOpError{errors.New("UnknownError: UnknownError")}), true},
		{errors.New(`column "when" cannot be NULL`), false},
		{errors.New(`table "dst" has 2 columns but the query gives 3`), false},
	} {
		if got := transient(c.err); got != c.want {
			t.Errorf("transient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
