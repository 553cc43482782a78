package flightclient

import (
	"context"
	"testing"
	"time"

	"github.com/magnetar-sql/magnetar/shell"
)

// The caller's context ends between two reads of a continuous result,
// then the result is closed: gRPC fills the stream's trailer from its own
// goroutine when the context ends, which must not race with Close reading
// it (run with -race).
func TestCancelledResultClosedAfterwards(t *testing.T) {
	srv := startServer(t, nil)
	c := connect(t, srv.addr, nil)
	ctx := tctx(t)
	noop := func(*shell.Result) error { return nil }
	if err := c.Run(ctx, "CREATE TABLE ev (k VARCHAR(5), v BIGINT); INSERT INTO ev VALUES ('a', 1), ('b', 2)", noop); err != nil {
		t.Fatal(err)
	}
	if err := c.Set("magnetar.mode", "continuous"); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	err := c.Run(rctx, "SELECT k, v FROM ev", func(r *shell.Result) error {
		msg, err := r.Rows.Next(rctx)
		if err != nil {
			return err
		}
		msg.Release()
		cancel()
		// Let gRPC's goroutine see the cancellation (not a timing
		// assertion: the race detector flags the unordered accesses
		// whenever both happen).
		time.Sleep(50 * time.Millisecond)
		return r.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the server to stop the query", func() bool { return srv.RunningQueries() == 0 })
}
