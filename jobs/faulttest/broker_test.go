package faulttest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
)

// Switches of the second broker (the shared one keeps 6650/8080).
const (
	envBrokerRestart = "MAGNETAR_FAULT_BROKER_RESTART"
	envBrokerPort    = "MAGNETAR_FAULT_BROKER_PORT"      // default: a free port
	envBrokerHTTP    = "MAGNETAR_FAULT_BROKER_HTTP_PORT" // default: a free port
	// envOutage is the least outage in seconds (default 70): longer than
	// the sink's 60s send timeout, so the job's writes fail and the job
	// must restart itself, not only lean on the client's reconnects.
	envOutage = "MAGNETAR_FAULT_BROKER_OUTAGE"
)

// ownBroker is a standalone broker this test starts with scripts/pulsar.sh
// on its own ports and data directory.
type ownBroker struct {
	broker
	script string
	env    []string
}

func (o *ownBroker) run(t testing.TB, verb string) time.Duration {
	t.Helper()
	start := time.Now()
	cmd := exec.Command(o.script, verb)
	cmd.Env = append(os.Environ(), o.env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pulsar.sh %s: %v\n%s", verb, err, out)
	}
	if strings.Contains(string(out), "SIGKILL") {
		// The broker's metadata store may lose its last writes then.
		t.Logf("pulsar.sh %s: %s", verb, strings.TrimSpace(string(out)))
	}
	return time.Since(start)
}

// startOwnBroker starts a second broker, or skips when the environment says
// so; it is stopped and its data deleted when the test ends.
func startOwnBroker(t *testing.T) *ownBroker {
	t.Helper()
	if os.Getenv(envBrokerRestart) == "0" {
		t.Skip(envBrokerRestart + "=0: not starting a second broker")
	}
	// Where no broker runs for the other tests, none is started here either.
	testbroker.Require(t)
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	// Free ports unless told: two runs of this test (a developer's and a
	// `make test` beside it) must not meet on one broker.
	port := envInt(envBrokerPort, freePort(t))
	httpPort := envInt(envBrokerHTTP, freePort(t))
	for httpPort == port {
		httpPort = freePort(t)
	}
	admin := "http://127.0.0.1:" + strconv.Itoa(httpPort)
	if resp, err := http.Get(admin + "/admin/v2/brokers/health"); err == nil {
		resp.Body.Close()
		t.Fatalf("something already answers on %s; set %s/%s to free ports", admin, envBrokerPort, envBrokerHTTP)
	}
	data, err := os.MkdirTemp("", "magnetar-fault-broker-")
	if err != nil {
		t.Fatal(err)
	}
	o := &ownBroker{
		broker: broker{service: "pulsar://127.0.0.1:" + strconv.Itoa(port), admin: admin},
		script: filepath.Join(root, "scripts", "pulsar.sh"),
		env: []string{
			"MAGNETAR_PULSAR_PORT=" + strconv.Itoa(port),
			"MAGNETAR_PULSAR_HTTP_PORT=" + strconv.Itoa(httpPort),
			"MAGNETAR_PULSAR_DATA=" + data,
			"MAGNETAR_PULSAR_HEAP=512m",
		},
	}
	t.Cleanup(func() {
		o.run(t, "down")
		if t.Failed() {
			t.Logf("second broker's data and logs kept in %s", data)
			return
		}
		_ = os.RemoveAll(data)
	})
	d := o.run(t, "up")
	t.Logf("second broker up in %v (%s)", d.Round(100*time.Millisecond), admin)
	return o
}

// freePort returns a TCP port nothing listens on right now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestBrokerRestart stops and starts the broker under two running copy
// jobs, one at-least-once and one exactly-once: both must come back by
// themselves and copy everything, the input written before, during (what the
// generator got in) and after the outage; the exactly-once job's committed
// output must hold every row once.
func TestBrokerRestart(t *testing.T) {
	o := startOwnBroker(t)
	b := o.broker
	ns := testbroker.Namespace(t, b.admin)
	events := envInt("MAGNETAR_FAULT_EVENTS", 150000) / 2
	seconds := envInt("MAGNETAR_FAULT_SECONDS", 30)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	gen := genNexmark(t, b, ns, events, seconds, 11)
	waitTopic(t, ctx, b, ns, "bid")
	log := &logFile{}
	srv := startServer(t, b, ns, log, jobEnv()...)
	c := dial(t, ctx, srv.addr)
	c.exec(ctx, "USE `"+ns+"`")
	c.exec(ctx, "SET magnetar.mode = 'continuous'")
	// Both guarantees through one outage. Exactly-once once lost committed
	// output here (2026-11-25, issue #6: 34,521 of 62,106 rows missing
	// while the job still ran); see the jobs package doc for the cause.
	deliveries := []string{"at_least_once", "exactly_once"}
	for _, d := range deliveries {
		c.exec(ctx, "CREATE TABLE copied_"+d+" (src VARCHAR(64), price BIGINT)")
		c.exec(ctx, "SET magnetar.job_name = 'copy_"+d+"'")
		c.exec(ctx, "SET magnetar.delivery = '"+d+"'")
		c.exec(ctx, "INSERT INTO copied_"+d+" SELECT __message_id AS src, price FROM bid")
	}

	// Mid-run: the generator writes and the jobs copy when the broker goes
	// away (the generator is stopped first: it has no retry of its own).
	time.Sleep(time.Duration(seconds) * time.Second / 3)
	gen.kill()
	down := time.Now()
	o.run(t, "down")
	if rest := time.Duration(envInt(envOutage, 70))*time.Second - time.Since(down); rest > 0 {
		time.Sleep(rest)
	}
	o.run(t, "up")
	back := time.Now()
	t.Logf("broker down for %v", back.Sub(down).Round(100*time.Millisecond))

	// More input after the outage, then everything must be copied.
	genNexmark(t, b, ns, events/2, 0, 12).wait()
	pc, err := pulsar.NewClient(pulsar.ClientOptions{URL: b.service})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	expected := sourceKeys(t, ctx, pc, testbroker.Topic(ns, "bid"))
	c = dial(t, ctx, srv.addr)
	for _, d := range deliveries {
		table := "copied_" + d
		var schema map[string]any
		if err := adminGet(ctx, b, "/admin/v2/schemas/"+ns+"/"+table+"/schema", &schema); err != nil {
			t.Fatalf("%s's schema is gone after the broker restart (%v): the broker lost metadata, see above", table, err)
		}
		codec := outputCodec(t, ctx, b, ns, table)
		deadline := time.Now().Add(4 * time.Minute)
		var msgs []outMsg
		for {
			msgs = readAll(t, ctx, pc, testbroker.Topic(ns, table), codec)
			if distinctSources(msgs) >= len(expected) || time.Now().After(deadline) {
				break
			}
			time.Sleep(2 * time.Second)
		}
		missing, extra, dups := compare(expected, msgs)
		j, _, err := c.job(ctx, "copy_"+d)
		if missing > 0 || extra > 0 {
			t.Errorf("%s after the broker restart: %d of %d source rows missing, %d unknown rows; job %+v (%v)",
				d, missing, len(expected), extra, j, err)
		}
		if err != nil || j.Status != "running" {
			t.Errorf("%s job after the broker restart: %+v (%v), want running", d, j, err)
		}
		var first time.Time
		for _, m := range msgs {
			if m.publish.After(back) && (first.IsZero() || m.publish.Before(first)) {
				first = m.publish
			}
		}
		after := "no output after the broker was back"
		if !first.IsZero() {
			after = fmt.Sprintf("first output %v after the broker was back", first.Sub(back).Round(time.Millisecond))
		}
		t.Logf("%s: %d messages for %d source rows (%d duplicates as a reader sees them); %s", d, len(msgs), len(expected), dups, after)
		if d != "exactly_once" {
			continue
		}
		if dups > 0 {
			t.Errorf("exactly_once output: %d duplicate rows as a plain reader sees them", dups)
		}
		waitNoOpenTxns(t, ctx, b, ns, table)
		logTxnStats(t, ctx, b, ns, table)
	}
	for _, l := range log.grep("jobs:") {
		t.Logf("server log: %s", l)
	}
	srv.stop()
}
