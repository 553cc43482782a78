// Package testbroker connects integration tests to a real Pulsar broker, normally the standalone
// broker that scripts/pulsar.sh starts (`make pulsar-up`).
//
// Tests call Require first: it returns the broker's addresses, or skips the test when no broker
// answers — unless MAGNETAR_REQUIRE_PULSAR=1 (set by `make test`), in which case a missing broker
// fails the test instead of silently skipping it. Namespace gives each test its own namespace with
// infinite retention and removes it afterwards, so tests never see each other's topics.
package testbroker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// Environment variables read by Require, and the defaults matching scripts/pulsar.sh.
const (
	EnvServiceURL     = "MAGNETAR_SERVICE_URL"
	EnvAdminURL       = "MAGNETAR_ADMIN_URL"
	EnvRequire        = "MAGNETAR_REQUIRE_PULSAR"
	DefaultServiceURL = "pulsar://127.0.0.1:6650"
	DefaultAdminURL   = "http://127.0.0.1:8080"
)

// probeTimeout bounds the health probe. The broker's health check does a produce/consume round
// trip of its own, which takes well under a second on a warm broker.
const probeTimeout = 5 * time.Second

// probes caches the health probe per admin URL for the life of the test binary, so a package with
// many integration tests and no broker pays the timeout once.
var probes struct {
	sync.Mutex
	result map[string]error
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

// URLs returns the broker service URL and admin (web service) URL from the environment, or the
// defaults for the local standalone broker.
func URLs() (serviceURL, adminURL string) {
	serviceURL = os.Getenv(EnvServiceURL)
	if serviceURL == "" {
		serviceURL = DefaultServiceURL
	}
	adminURL = strings.TrimRight(os.Getenv(EnvAdminURL), "/")
	if adminURL == "" {
		adminURL = DefaultAdminURL
	}
	return serviceURL, adminURL
}

// Require returns the broker's service and admin URLs if a healthy broker answers. Otherwise it
// fails the test when MAGNETAR_REQUIRE_PULSAR=1 and skips it when not.
func Require(t testing.TB) (serviceURL, adminURL string) {
	t.Helper()
	serviceURL, adminURL = URLs()
	if err := probe(adminURL); err != nil {
		msg := fmt.Sprintf("integration test: no Pulsar broker at %s (%v) (run make pulsar-up or make test)", adminURL, err)
		if os.Getenv(EnvRequire) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return serviceURL, adminURL
}

// probe checks GET /admin/v2/brokers/health once per admin URL and remembers the answer.
func probe(adminURL string) error {
	probes.Lock()
	defer probes.Unlock()
	if err, ok := probes.result[adminURL]; ok {
		return err
	}
	if probes.result == nil {
		probes.result = make(map[string]error)
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	body, err := do(ctx, http.MethodGet, adminURL+"/admin/v2/brokers/health", "")
	if err == nil && strings.TrimSpace(body) != "ok" {
		err = fmt.Errorf("health check answered %q", body)
	}
	probes.result[adminURL] = err
	return err
}

// Namespace creates a fresh namespace public/t-<random> with infinite retention and registers its
// forced deletion (topics included) in t.Cleanup. Register it before creating clients: cleanups
// run last-in first-out, so clients then close before the namespace goes away.
func Namespace(t testing.TB, adminURL string) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("testbroker: random namespace name: %v", err)
	}
	ns := "public/t-" + hex.EncodeToString(b[:])
	base := strings.TrimRight(adminURL, "/") + "/admin/v2/namespaces/" + ns

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := do(ctx, http.MethodPut, base, ""); err != nil {
		t.Fatalf("testbroker: create namespace %s: %v", ns, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		// The broker sometimes refuses a forced delete while it is still
		// writing a transaction buffer snapshot (HTTP 500 naming
		// __transaction_buffer_snapshot); it succeeds moments later. A
		// namespace left behind is not a failure of the code under test.
		var err error
		for attempt := 0; attempt < 5; attempt++ {
			if _, err = do(ctx, http.MethodDelete, base+"?force=true", ""); err == nil {
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(attempt+1) * time.Second):
			}
		}
		t.Logf("testbroker: namespace %s left behind: %v", ns, err)
	})
	// Retention -1/-1 keeps acknowledged messages, as Magnetar's tables need.
	if _, err := do(ctx, http.MethodPost, base+"/retention", `{"retentionTimeInMinutes":-1,"retentionSizeInMB":-1}`); err != nil {
		t.Fatalf("testbroker: set retention on %s: %v", ns, err)
	}
	return ns
}

// Topic returns the full persistent topic name for name in namespace ns.
func Topic(ns, name string) string {
	return "persistent://" + ns + "/" + name
}

// do sends one admin REST request and returns the response body; non-2xx statuses are errors.
func do(ctx context.Context, method, url, jsonBody string) (string, error) {
	var body io.Reader
	if jsonBody != "" {
		body = strings.NewReader(jsonBody)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", method, url, err)
	}
	if jsonBody != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("%s %s: read body: %w", method, url, err)
	}
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("%s %s: HTTP %d: %s", method, url, resp.StatusCode, firstLine(string(data)))
	}
	return string(data), nil
}

// firstLine keeps error messages short: Pulsar puts whole Java stack traces in error bodies.
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
