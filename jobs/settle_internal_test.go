package jobs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeCoordinator answers the admin API's transactionMetadata and
// abortTransaction like a broker whose coordinator goes through the given
// statuses ("" answers 404: unknown), one per metadata request, the last
// repeated; an abort moves it to ABORTING, then unknown.
type fakeCoordinator struct {
	mu       sync.Mutex
	statuses []string
	code     int // non-zero: every metadata request answers this
	aborts   int
	paths    []string
}

func (f *fakeCoordinator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paths = append(f.paths, r.Method+" "+r.URL.Path)
	switch {
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/admin/v3/transactions/abortTransaction/7/42"):
		f.aborts++
		f.statuses = []string{"ABORTING", ""}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodGet && r.URL.Path == "/admin/v3/transactions/transactionMetadata/7/42":
		if f.code != 0 {
			w.WriteHeader(f.code)
			return
		}
		st := f.statuses[0]
		if len(f.statuses) > 1 {
			f.statuses = f.statuses[1:]
		}
		if st == "" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"reason":"not found"}`)
			return
		}
		_, _ = io.WriteString(w, `{"txnId":"(7,42)","status":"`+st+`"}`)
	default:
		w.WriteHeader(http.StatusTeapot)
	}
}

func TestSettleTxn(t *testing.T) {
	old := settleWait
	settleWait = 2 * time.Second
	defer func() { settleWait = old }()
	for _, tc := range []struct {
		name     string
		statuses []string
		code     int
		aborts   int
		unsettle bool // errTxnUnsettled expected
	}{
		{name: "open is aborted", statuses: []string{"OPEN"}, aborts: 1},
		{name: "unknown needs nothing", statuses: []string{""}},
		{name: "committing settles", statuses: []string{"COMMITTING", "COMMITTING", ""}},
		{name: "still committing restarts the run", statuses: []string{"COMMITTING"}, unsettle: true},
		{name: "coordinator not ready restarts the run", code: http.StatusServiceUnavailable, unsettle: true},
		{name: "refused is skipped", code: http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeCoordinator{statuses: tc.statuses, code: tc.code}
			srv := httptest.NewServer(f)
			defer srv.Close()
			m := &Manager{cfg: Config{AdminURL: srv.URL}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			err := m.settleTxn(context.Background(), "j", "7:42")
			if tc.unsettle != errors.Is(err, errTxnUnsettled) || (!tc.unsettle && err != nil) {
				t.Fatalf("err %v, want unsettled=%v", err, tc.unsettle)
			}
			if tc.unsettle && !transient(err) {
				t.Errorf("%v is not transient: the job would fail instead of restarting", err)
			}
			if f.aborts != tc.aborts {
				t.Errorf("%d aborts, want %d (requests %v)", f.aborts, tc.aborts, f.paths)
			}
		})
	}
	// An unreachable admin API costs the wait for the timeout, not the job.
	m := &Manager{cfg: Config{AdminURL: "http://127.0.0.1:1"}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := m.settleTxn(context.Background(), "j", "7:42"); err != nil {
		t.Errorf("unreachable admin API: %v", err)
	}
}

// TestTxnCallBounded: a coordinator call that does not return (the v0.19
// client queues calls without a deadline while it reconnects) fails the
// run transiently, so the job restarts rather than hanging while reported
// running.
func TestTxnCallBounded(t *testing.T) {
	old := txnOpTimeout
	txnOpTimeout = 50 * time.Millisecond
	defer func() { txnOpTimeout = old }()
	release := make(chan struct{})
	defer close(release)
	err := txnCall(context.Background(), "commit", func() error { <-release; return nil })
	if !errors.Is(err, errTxnStuck) || !transient(err) {
		t.Fatalf("stuck call: %v (transient %v)", err, transient(err))
	}
	want := errors.New("refused")
	if err := txnCall(context.Background(), "commit", func() error { return want }); !errors.Is(err, want) {
		t.Fatalf("call's own error: %v", err)
	}
}
