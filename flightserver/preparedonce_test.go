package flightserver

import (
	"testing"
	"time"
)

// A prepared script runs its statements at prepare time; when the result
// parked for the first execution expired before that execution came, the
// execution must not run the statements before the last a second time.
func TestPreparedScriptExpiredRunsOnce(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.ParkTimeout = 40 * time.Millisecond })
	cl := dial(t, ts.addr, clientOpts{})
	ctx := tctx(t)
	mustUpdate(t, ctx, cl, "CREATE TABLE once_t (x INT)")

	ps, err := cl.Prepare(ctx, "INSERT INTO once_t VALUES (1); SELECT COUNT(*) AS n FROM once_t")
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close(ctx)
	eventually(t, "the parked result to expire", func() bool { return ts.RunningQueries() == 0 })

	for i, want := range []string{"1", "2"} {
		info, err := ps.Execute(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, rows := fetch(t, ctx, cl, info)
		if got := joinRows(rows); got != want {
			t.Errorf("execution %d: count %s, want %s (the INSERT ran once at prepare, then once per later execution)", i+1, got, want)
		}
	}
}
