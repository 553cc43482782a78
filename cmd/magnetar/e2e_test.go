package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/magnetar-sql/magnetar/internal/testbroker"
	"github.com/magnetar-sql/magnetar/nexmark"
)

// buildBinary returns the magnetar binary TestMain built for this package.
func buildBinary(t *testing.T) string {
	t.Helper()
	return binary
}

func run(t *testing.T, bin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// TestGenerateThenQuery is the foundation's end-to-end path: the generator
// writes Nexmark topics with registered Avro schemas into a real broker, and
// the shell's query over the bid topic's history agrees with what the
// generator produced for the same seed.
func TestGenerateThenQuery(t *testing.T) {
	serviceURL, adminURL := testbroker.Require(t)
	ns := testbroker.Namespace(t, adminURL)
	bin := buildBinary(t)
	env := []string{"MAGNETAR_SERVICE_URL=" + serviceURL, "MAGNETAR_ADMIN_URL=" + adminURL}

	const events, seed = 5000, 7
	if _, errOut, code := run(t, bin, env, "gen", "nexmark", "--events", strconv.Itoa(events),
		"--seed", strconv.Itoa(seed), "--namespace", ns); code != 0 {
		t.Fatalf("gen exit %d: %s", code, errOut)
	}

	// What the generator made, computed independently of the engine.
	const threshold = 1000
	var bidsAbove, bids int
	g := nexmark.NewGenerator(nexmark.Config{Seed: seed, Events: events})
	var firstAbove []string
	for {
		ev, ok := g.Next()
		if !ok {
			break
		}
		if ev.Bid != nil {
			bids++
			if ev.Bid.Price > threshold {
				bidsAbove++
				if len(firstAbove) < 5 {
					firstAbove = append(firstAbove, fmt.Sprintf("%d,%d,%d", ev.Bid.Auction, ev.Bid.Bidder, ev.Bid.Price))
				}
			}
		}
	}

	q := fmt.Sprintf("SELECT count(*) AS n, min(price) AS lo FROM `%s`.`bid` WHERE price > %d", ns, threshold)
	out, errOut, code := run(t, bin, env, "shell", "-e", q, "--format", "csv")
	if code != 0 {
		t.Fatalf("shell exit %d: %s", code, errOut)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("csv %q: %v", out, err)
	}
	if recs[0][0] != "n" || recs[1][0] != strconv.Itoa(bidsAbove) {
		t.Fatalf("count of bids above %d: got %v, generator made %d (of %d bids)", threshold, recs, bidsAbove, bids)
	}
	if lo, _ := strconv.Atoi(recs[1][1]); lo <= threshold {
		t.Fatalf("min(price) %d not above %d", lo, threshold)
	}

	// The query shape: filter, project, limit, in topic order.
	q = fmt.Sprintf("SELECT auction, bidder, price FROM `%s`.`bid` WHERE price > %d LIMIT 5", ns, threshold)
	out, errOut, code = run(t, bin, env, "shell", "-e", q, "--format", "csv")
	if code != 0 {
		t.Fatalf("shell exit %d: %s", code, errOut)
	}
	want := "auction,bidder,price\n" + strings.Join(firstAbove, "\n") + "\n"
	if out != want {
		t.Fatalf("first rows:\n got %q\nwant %q", out, want)
	}
}

// TestNoBrokerMessage checks the one-line refusal when nothing answers.
func TestNoBrokerMessage(t *testing.T) {
	bin := buildBinary(t)
	_, errOut, code := run(t, bin, []string{"MAGNETAR_SERVICE_URL=pulsar://127.0.0.1:1", "MAGNETAR_ADMIN_URL=http://127.0.0.1:1"},
		"shell", "-e", "SELECT 1")
	if code == 0 {
		t.Fatal("want non-zero exit without a broker")
	}
	if !strings.Contains(errOut, "make pulsar-up") || !strings.Contains(errOut, "--catalog memory") || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
		t.Fatalf("want one line naming make pulsar-up and --catalog memory, got %q", errOut)
	}
}
