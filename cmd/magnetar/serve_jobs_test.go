package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/magnetar-sql/magnetar/internal/testbroker"
	"github.com/magnetar-sql/magnetar/jobs"
)

// syncBuffer is a bytes.Buffer safe for the server's concurrent logging.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServeHelpDocumentsJobFlags(t *testing.T) {
	var stderr bytes.Buffer
	if code := serve(context.Background(), []string{"--help"}, &stderr, nil); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, want := range []string{"-jobs-namespace", "-checkpoint-interval", "-txn-timeout",
		jobs.EnvNamespace, jobs.EnvCheckpointInterval, jobs.EnvTxnTimeout} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("serve --help does not mention %s:\n%s", want, stderr.String())
		}
	}
}

func TestServeJobFlagErrors(t *testing.T) {
	t.Setenv(jobs.EnvCheckpointInterval, "")
	t.Setenv(jobs.EnvTxnTimeout, "")
	for _, args := range [][]string{
		{"--checkpoint-interval", "-1s"},
		{"--checkpoint-interval", "0s"},
		{"--txn-timeout", "-5s"},
		{"--checkpoint-interval", "10s", "--txn-timeout", "5s"},
		{"--checkpoint-interval", "2m"}, // above the default transaction timeout
		{"--jobs-namespace", "nosuch"},
		{"--jobs-namespace", "a/b/c"},
		{"--checkpoint-interval", "soon"},
	} {
		var stderr bytes.Buffer
		if code := serve(context.Background(), append([]string{"--catalog", "memory"}, args...), &stderr, nil); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr.String())
		}
	}
}

func TestJobFlagsOverrideEnvironment(t *testing.T) {
	t.Setenv(jobs.EnvNamespace, "envt/envns")
	t.Setenv(jobs.EnvCheckpointInterval, "3s")
	t.Setenv(jobs.EnvTxnTimeout, "30s")
	if got := (jobFlags{}).resolve(); got != (jobFlags{"envt/envns", 3 * time.Second, 30 * time.Second}) {
		t.Errorf("environment only: %+v", got)
	}
	got := (jobFlags{namespace: "a/b", checkpoint: time.Second}).resolve()
	if got != (jobFlags{"a/b", time.Second, 30 * time.Second}) {
		t.Errorf("flags over environment: %+v", got)
	}
	t.Setenv(jobs.EnvNamespace, "")
	t.Setenv(jobs.EnvCheckpointInterval, "")
	t.Setenv(jobs.EnvTxnTimeout, "")
	if got := (jobFlags{}).resolve(); got != (jobFlags{jobs.DefaultNamespace, jobs.DefaultCheckpointInterval, defaultTxnTimeout}) {
		t.Errorf("defaults: %+v", got)
	}
}

// TestServeJobFlags: a server over the broker keeps its jobs in the
// namespace --jobs-namespace names (the jobs topic appears there) and
// runs them with the flags' intervals, which win over the environment.
func TestServeJobFlags(t *testing.T) {
	serviceURL, adminURL := testbroker.Require(t)
	ns := testbroker.Namespace(t, adminURL)
	t.Setenv(jobs.EnvNamespace, "public/not-this-one")
	t.Setenv(jobs.EnvCheckpointInterval, "7s")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan int, 1)
	var stderr syncBuffer
	args := []string{"--listen", "127.0.0.1:0", "--service-url", serviceURL, "--admin-url", adminURL,
		"--jobs-namespace", ns, "--checkpoint-interval", "250ms", "--txn-timeout", "20s"}
	go func() { done <- serve(ctx, args, &stderr, ready) }()
	select {
	case <-ready:
	case code := <-done:
		t.Fatalf("serve exited with %d: %s", code, stderr.String())
	}
	log := stderr.String()
	for _, want := range []string{"namespace=" + ns, "checkpoint_interval=250ms", "txn_timeout=20s"} {
		if !strings.Contains(log, want) {
			t.Errorf("job manager log lacks %s:\n%s", want, log)
		}
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, adminURL+"/admin/v2/persistent/"+ns, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var topics []string
	err = json.NewDecoder(resp.Body).Decode(&topics)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tp := range topics {
		found = found || tp == "persistent://"+ns+"/jobs"
	}
	if !found {
		t.Errorf("no jobs topic in %s: %v", ns, topics)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
}
