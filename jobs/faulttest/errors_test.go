package faulttest

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
)

// errEnv is one server under test with a session in the test's namespace.
type errEnv struct {
	t   *testing.T
	ctx context.Context
	b   broker
	ns  string
	log *logFile
	srv *server
	c   *client
	pc  pulsar.Client
}

func newErrEnv(t *testing.T, extraEnv ...string) *errEnv {
	serviceURL, adminURL := testbroker.Require(t)
	b := broker{serviceURL, adminURL}
	ns := testbroker.Namespace(t, adminURL)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	pc, err := pulsar.NewClient(pulsar.ClientOptions{URL: serviceURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pc.Close)
	e := &errEnv{t: t, ctx: ctx, b: b, ns: ns, log: &logFile{}, pc: pc}
	e.restart(extraEnv...)
	return e
}

// restart (re)starts the server (stopping a running one cleanly) and opens
// a session in the namespace.
func (e *errEnv) restart(extraEnv ...string) {
	e.t.Helper()
	if e.srv != nil {
		e.srv.stop()
	}
	e.srv = startServer(e.t, e.b, e.ns, e.log, append(jobEnv(), extraEnv...)...)
	e.c = dial(e.t, e.ctx, e.srv.addr)
	e.c.exec(e.ctx, "USE `"+e.ns+"`")
}

// waitFailed waits for the job to be failed and returns its SHOW JOBS row.
func (e *errEnv) waitFailed(name string) jobRow {
	e.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		j, ok, err := e.c.job(e.ctx, name)
		if err != nil {
			e.t.Fatalf("SHOW JOBS: %v", err)
		}
		if ok && j.Status == "failed" {
			return j
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("job %s not failed after 2 minutes: %+v (found %v); log:\n%s", name, j, ok, strings.Join(e.log.grep("jobs"), "\n"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitRows waits until the job has checkpointed at least n output rows.
func (e *errEnv) waitRows(name string, n int64) {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		j, _, err := e.c.job(e.ctx, name)
		if err != nil {
			e.t.Fatalf("SHOW JOBS: %v", err)
		}
		if j.RowsOut >= n && j.Checkpoints > 0 {
			return
		}
		if j.Status == "failed" || time.Now().After(deadline) {
			e.t.Fatalf("job %s: %+v, want %d rows checkpointed", name, j, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// count counts the messages of a table's topic.
func (e *errEnv) count(table string) int {
	e.t.Helper()
	return len(sourceKeys(e.t, e.ctx, e.pc, testbroker.Topic(e.ns, table)))
}

// assertFailure checks the job's error text and that the log says the same.
func (e *errEnv) assertFailure(j jobRow, want ...string) {
	e.t.Helper()
	for _, w := range want {
		if !strings.Contains(strings.ToLower(j.Error), strings.ToLower(w)) {
			e.t.Errorf("SHOW JOBS error of %s = %q, want it to mention %q", j.Name, j.Error, w)
		}
	}
	if lines := e.log.grep("job failed", "job="+j.Name); len(lines) == 0 {
		e.t.Errorf("the server log has no job failed line for %s; log:\n%s", j.Name, strings.Join(e.log.grep("jobs"), "\n"))
	} else {
		e.t.Logf("log: %s", lines[len(lines)-1])
	}
	e.t.Logf("SHOW JOBS: %s %s: %s", j.Name, j.Status, j.Error)
}

// TestIncompatibleSchemaAtCreate: a query whose columns cannot go into the
// output table is refused when the job is created, with the reason.
func TestIncompatibleSchemaAtCreate(t *testing.T) {
	e := newErrEnv(t)
	e.c.exec(e.ctx, "CREATE TABLE src (id BIGINT, name VARCHAR(20))")
	e.c.exec(e.ctx, "CREATE TABLE dst (id BIGINT, created DATE)")
	e.c.exec(e.ctx, "SET magnetar.mode = 'continuous'")
	e.c.exec(e.ctx, "SET magnetar.job_name = 'bad'")
	_, err := e.c.cl.ExecuteUpdate(e.ctx, "INSERT INTO dst SELECT id, name, id FROM src")
	if err == nil || !strings.Contains(err.Error(), "columns") {
		t.Fatalf("job with 3 values for 2 columns: err %v, want a column count error", err)
	}
	t.Logf("refused: %v", err)
	if rows, err := e.c.showJobs(e.ctx); err != nil || len(rows) != 0 {
		t.Errorf("SHOW JOBS after a refused job: %+v, %v", rows, err)
	}
}

// TestIncompatibleSchemaOnResume: the output topic's schema is replaced by
// an incompatible one while the server is down; the resumed job fails with
// the reason in SHOW JOBS and the log, and the output written before stays.
func TestIncompatibleSchemaOnResume(t *testing.T) {
	e := newErrEnv(t)
	e.c.exec(e.ctx, "CREATE TABLE src (id BIGINT, name VARCHAR(20))")
	e.c.exec(e.ctx, "CREATE TABLE dst (id BIGINT, name VARCHAR(20))")
	e.c.exec(e.ctx, "INSERT INTO src VALUES (1, 'a'), (2, 'b'), (3, 'c')")
	e.c.exec(e.ctx, "SET magnetar.mode = 'continuous'")
	e.c.exec(e.ctx, "SET magnetar.job_name = 'copy'")
	e.c.exec(e.ctx, "INSERT INTO dst SELECT id, name FROM src")
	e.waitRows("copy", 3)
	e.srv.stop()

	// Replace dst's schema: delete every version, register another record.
	base := e.b.admin + "/admin/v2/schemas/" + e.ns + "/dst/schema"
	req, _ := http.NewRequestWithContext(e.ctx, http.MethodDelete, base, nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("delete schema: %v %v", resp, err)
	}
	body := `{"type":"AVRO","schema":"{\"type\":\"record\",\"name\":\"dst\",\"fields\":[{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"when\",\"type\":{\"type\":\"int\",\"logicalType\":\"date\"}}]}","properties":{}}`
	req, _ = http.NewRequestWithContext(e.ctx, http.MethodPost, base, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("post schema: %v %v", resp, err)
	}

	e.restart()
	e.c.exec(e.ctx, "INSERT INTO src VALUES (4, 'd')")
	j := e.waitFailed("copy")
	e.assertFailure(j, `"when"`, `"name"`, "does not convert")
	if n := e.count("dst"); n != 3 {
		t.Errorf("dst holds %d messages after the failure, want the 3 written before", n)
	}
}

// TestMessageTooLarge: a row whose message exceeds the broker's
// maxMessageSize (5 MB) fails the job with the reason; the rows checkpointed
// before stay in the output.
func TestMessageTooLarge(t *testing.T) {
	e := newErrEnv(t)
	e.c.exec(e.ctx, "CREATE TABLE src (id BIGINT, n INT)")
	e.c.exec(e.ctx, "CREATE TABLE wide (id BIGINT, pad VARCHAR(10000000))")
	e.c.exec(e.ctx, "INSERT INTO src VALUES (1, 10), (2, 10)")
	e.c.exec(e.ctx, "SET magnetar.mode = 'continuous'")
	e.c.exec(e.ctx, "SET magnetar.job_name = 'pad'")
	e.c.exec(e.ctx, "INSERT INTO wide SELECT id, REPEAT('x', n) FROM src")
	e.waitRows("pad", 2)
	e.c.exec(e.ctx, "INSERT INTO src VALUES (3, 6000000)")
	j := e.waitFailed("pad")
	e.assertFailure(j, "size")
	if n := e.count("wide"); n != 2 {
		t.Errorf("wide holds %d messages after the failure, want the 2 written before", n)
	}
	// Resuming fails again on the same row rather than skipping it.
	e.c.exec(e.ctx, "RESUME JOB pad")
	j = e.waitFailed("pad")
	e.assertFailure(j, "size")
}

// TestTransactionTimeout: an exactly-once job on a server whose transaction
// timeout does not exceed its checkpoint interval (every transaction would
// time out before its commit) fails with the reason; the checkpoints
// committed before stay.
func TestTransactionTimeout(t *testing.T) {
	e := newErrEnv(t)
	e.c.exec(e.ctx, "CREATE TABLE src (id BIGINT)")
	e.c.exec(e.ctx, "CREATE TABLE dst (id BIGINT)")
	e.c.exec(e.ctx, "INSERT INTO src VALUES (1), (2)")
	e.c.exec(e.ctx, "SET magnetar.mode = 'continuous'")
	e.c.exec(e.ctx, "SET magnetar.job_name = 'txn'")
	e.c.exec(e.ctx, "SET magnetar.delivery = 'exactly_once'")
	e.c.exec(e.ctx, "INSERT INTO dst SELECT id FROM src")
	e.waitRows("txn", 2)
	e.restart("MAGNETAR_JOBS_CHECKPOINT_INTERVAL=20s", "MAGNETAR_JOBS_TXN_TIMEOUT=3s")
	e.c.exec(e.ctx, "INSERT INTO src VALUES (3)")
	j := e.waitFailed("txn")
	e.assertFailure(j, "transaction timeout 3s", "checkpoint interval 20s")
	if n := e.count("dst"); n != 2 {
		t.Errorf("dst holds %d messages after the failure, want the 2 committed before", n)
	}
}
