package faulttest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/linkedin/goavro/v2"
	cpulsar "github.com/magnetar-sql/magnetar/catalog/pulsar"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// binary is the magnetar binary TestMain builds once.
var binary string

func TestMain(m *testing.M) {
	code, err := buildAndRun(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faulttest:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func buildAndRun(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "magnetar-faulttest-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	root, err := moduleRoot()
	if err != nil {
		return 0, err
	}
	binary = filepath.Join(dir, "magnetar")
	cmd := exec.Command("go", "build", "-o", binary, "./cmd/magnetar")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("build magnetar: %v\n%s", err, out)
	}
	return m.Run(), nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

// envInt reads a positive integer from the environment, else def.
func envInt(key string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(key)); err == nil && n > 0 {
		return n
	}
	return def
}

// broker names a Pulsar broker by its URLs.
type broker struct{ service, admin string }

func (b broker) env() []string {
	return []string{"MAGNETAR_SERVICE_URL=" + b.service, "MAGNETAR_ADMIN_URL=" + b.admin}
}

// server is one `magnetar serve` process.
type server struct {
	t      testing.TB
	cmd    *exec.Cmd
	addr   string // Flight SQL address host:port
	log    *logFile
	exited chan struct{}
}

// logFile collects the stderr lines of every server run of a test, so
// assertions can look for job errors across restarts.
type logFile struct {
	mu     sync.Mutex
	lines  []string
	dumped bool // shown once when the test failed
}

func (l *logFile) add(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
}

// grep returns the lines containing every one of the substrings.
func (l *logFile) grep(subs ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
next:
	for _, s := range l.lines {
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				continue next
			}
		}
		out = append(out, s)
	}
	return out
}

var reServing = regexp.MustCompile(`serving Flight SQL" address=grpc://(\S+)`)

// startServer runs `magnetar serve` with the jobs of namespace jobsNS and
// waits until it listens. extraEnv adds variables (checkpoint interval, ...).
func startServer(t testing.TB, b broker, jobsNS string, log *logFile, extraEnv ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--listen", "127.0.0.1:0")
	cmd.Env = append(append(append(os.Environ(), b.env()...), "MAGNETAR_JOBS_NAMESPACE="+jobsNS), extraEnv...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start magnetar serve: %v", err)
	}
	s := &server{t: t, cmd: cmd, log: log, exited: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			log.add(line)
			if m := reServing.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			s.dumpGoroutines()
		}
		s.kill()
		if t.Failed() && !log.dumped {
			log.dumped = true
			t.Logf("server log (job lines):\n%s", strings.Join(log.grep("jobs"), "\n"))
			if stacks := goroutinesIn(log, "magnetar/jobs."); stacks != "" {
				t.Logf("server goroutines in package jobs at the failure:\n%s", stacks)
			}
		}
	})
	select {
	case s.addr = <-addr:
	case <-s.exited:
		t.Fatalf("magnetar serve exited before listening; log:\n%s", strings.Join(log.grep(""), "\n"))
	case <-time.After(60 * time.Second):
		s.kill()
		t.Fatalf("magnetar serve did not listen within 60s; log:\n%s", strings.Join(log.grep(""), "\n"))
	}
	return s
}

// dumpGoroutines makes a still running server print every goroutine's
// stack (SIGQUIT: the Go runtime dumps them to stderr and exits), so a
// failed test shows where a job hangs.
func (s *server) dumpGoroutines() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
	}
}

// goroutinesIn returns the goroutine stacks of a SIGQUIT dump in the log
// that have a frame containing sub.
func goroutinesIn(l *logFile, sub string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out, cur []string
	flush := func() {
		if strings.Contains(strings.Join(cur, "\n"), sub) {
			out = append(out, cur...)
			out = append(out, "")
		}
		cur = nil
	}
	for _, line := range l.lines {
		if strings.HasPrefix(line, "goroutine ") {
			flush()
			cur = []string{line}
			continue
		}
		if cur != nil {
			if line == "" {
				flush()
				continue
			}
			cur = append(cur, line)
		}
	}
	flush()
	return strings.Join(out, "\n")
}

// kill sends SIGKILL (a crash: no final checkpoint) and waits for the exit.
func (s *server) kill() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

// stop sends SIGTERM (a clean shutdown: final checkpoints) and waits.
func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(60 * time.Second):
		s.t.Errorf("magnetar serve did not stop within 60s of SIGTERM; killing it")
		s.kill()
	}
}

// client is a Flight SQL client holding one server session (cookie).
type client struct {
	t  testing.TB
	cl *flightsql.Client
}

func dial(t testing.TB, ctx context.Context, addr string) *client {
	t.Helper()
	cl, err := flightsql.NewClient(addr, nil, []flight.ClientMiddleware{flight.NewClientCookieMiddleware()},
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cl.Alloc = mem
	t.Cleanup(func() {
		cl.Close()
		mem.AssertSize(t, 0)
	})
	// A unary call first: the cookie middleware picks the session cookie up
	// from unary calls (and fully read streams), not from ExecuteUpdate's
	// DoPut, so SET statements would otherwise land in throw-away sessions.
	if _, err := cl.GetSqlInfo(ctx, []flightsql.SqlInfo{flightsql.SqlInfoFlightSqlServerName}); err != nil {
		t.Fatalf("flight sql handshake: %v", err)
	}
	return &client{t: t, cl: cl}
}

func (c *client) exec(ctx context.Context, q string) {
	c.t.Helper()
	if _, err := c.cl.ExecuteUpdate(ctx, q); err != nil {
		c.t.Fatalf("%s: %v", q, err)
	}
}

// jobRow is one row of SHOW JOBS.
type jobRow struct {
	Name, Status, Error string
	RowsIn, RowsOut     int64
	Checkpoints         int64
}

// showJobs runs SHOW JOBS over Flight SQL.
func (c *client) showJobs(ctx context.Context) ([]jobRow, error) {
	info, err := c.cl.Execute(ctx, "SHOW JOBS")
	if err != nil {
		return nil, err
	}
	rdr, err := c.cl.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		return nil, err
	}
	defer rdr.Release()
	var out []jobRow
	for rdr.Next() {
		rec := rdr.RecordBatch()
		s := rec.Schema()
		col := func(name string) int {
			idx := s.FieldIndices(name)
			if len(idx) == 0 {
				return -1
			}
			return idx[0]
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			var r jobRow
			str := func(name string) string {
				k := col(name)
				if k < 0 || rec.Column(k).IsNull(i) {
					return ""
				}
				return rec.Column(k).(*array.String).Value(i)
			}
			num := func(name string) int64 {
				k := col(name)
				if k < 0 || rec.Column(k).IsNull(i) {
					return 0
				}
				return rec.Column(k).(*array.Int64).Value(i)
			}
			r.Name, r.Status, r.Error = str("name"), str("status"), str("error")
			r.RowsIn, r.RowsOut, r.Checkpoints = num("rows_in"), num("rows_out"), num("checkpoints")
			out = append(out, r)
		}
	}
	return out, rdr.Err()
}

func (c *client) job(ctx context.Context, name string) (jobRow, bool, error) {
	rows, err := c.showJobs(ctx)
	if err != nil {
		return jobRow{}, false, err
	}
	for _, r := range rows {
		if r.Name == name {
			return r, true, nil
		}
	}
	return jobRow{}, false, nil
}

// genProc is a running `magnetar gen nexmark`.
type genProc struct {
	t    testing.TB
	cmd  *exec.Cmd
	out  *strings.Builder
	done chan error
}

// genNexmark starts `magnetar gen nexmark` into namespace ns. With seconds
// > 0 it spreads the events over that many seconds (a live stream).
func genNexmark(t testing.TB, b broker, ns string, events, seconds int, seed int) *genProc {
	t.Helper()
	args := []string{"gen", "nexmark", "--events", strconv.Itoa(events), "--seed", strconv.Itoa(seed), "--namespace", ns}
	if seconds > 0 {
		args = append(args, "--rate", strconv.Itoa(events/seconds+1))
	}
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), b.env()...)
	g := &genProc{t: t, cmd: cmd, out: &strings.Builder{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = g.out, g.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("magnetar gen: %v", err)
	}
	go func() { g.done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return g
}

// wait waits for the generator and fails the test if it failed.
func (g *genProc) wait() {
	g.t.Helper()
	if err := <-g.done; err != nil {
		g.t.Fatalf("magnetar gen: %v\n%s", err, g.out.String())
	}
	g.t.Logf("gen: %s", lastLine(g.out.String()))
}

// kill stops the generator mid-stream.
func (g *genProc) kill() {
	_ = g.cmd.Process.Kill()
	<-g.done
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// adminGet GETs an admin REST path and decodes the JSON answer into v.
func adminGet(ctx context.Context, b broker, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.admin+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d: %.200s", path, resp.StatusCode, body)
	}
	return json.Unmarshal(body, v)
}

// waitTopic waits until a topic exists with a registered schema.
func waitTopic(t testing.TB, ctx context.Context, b broker, ns, topic string) {
	t.Helper()
	for {
		var v map[string]any
		if err := adminGet(ctx, b, "/admin/v2/schemas/"+ns+"/"+topic+"/schema", &v); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("topic %s/%s has no schema: %v", ns, topic, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// msgKey is a message position within a non-partitioned topic; it names a
// source row (the job copies __message_id into the output).
type msgKey struct {
	Ledger, Entry int64
	Batch         int32
}

func keyOf(id pulsar.MessageID) msgKey {
	return msgKey{id.LedgerID(), id.EntryID(), id.BatchIdx()}
}

// parseKey parses the catalog's "ledger:entry:partition:batchIdx".
func parseKey(s string) (msgKey, error) {
	f := strings.Split(s, ":")
	if len(f) != 4 {
		return msgKey{}, fmt.Errorf("bad message id %q", s)
	}
	l, err1 := strconv.ParseInt(f[0], 10, 64)
	e, err2 := strconv.ParseInt(f[1], 10, 64)
	bi, err3 := strconv.ParseInt(f[3], 10, 32)
	if err1 != nil || err2 != nil || err3 != nil {
		return msgKey{}, fmt.Errorf("bad message id %q", s)
	}
	return msgKey{l, e, int32(bi)}, nil
}

// sourceKeys reads every message id of a topic up to its current end.
func sourceKeys(t testing.TB, ctx context.Context, pc pulsar.Client, topic string) map[msgKey]bool {
	t.Helper()
	r, err := pc.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	keys := map[msgKey]bool{}
	for hasNext(t, r) {
		m, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("read %s: %v", topic, err)
		}
		keys[keyOf(m.ID())] = true
	}
	return keys
}

// outMsg is one message of a job's output topic.
type outMsg struct {
	id       msgKey // position in the output topic
	src      msgKey // source message the row came from
	producer string // producer name: one per job run
	publish  time.Time
	received time.Time
}

// outputCodec fetches the Avro schema of the output topic.
func outputCodec(t testing.TB, ctx context.Context, b broker, ns, topic string) *goavro.Codec {
	t.Helper()
	var v struct {
		Data string `json:"data"`
	}
	if err := adminGet(ctx, b, "/admin/v2/schemas/"+ns+"/"+topic+"/schema", &v); err != nil {
		t.Fatal(err)
	}
	codec, err := goavro.NewCodec(v.Data)
	if err != nil {
		t.Fatalf("output schema %s: %v", v.Data, err)
	}
	return codec
}

// decodeOut decodes an output message whose record has the string field src.
func decodeOut(codec *goavro.Codec, m pulsar.Message) (outMsg, error) {
	native, _, err := codec.NativeFromBinary(m.Payload())
	if err != nil {
		return outMsg{}, err
	}
	rec, ok := native.(map[string]any)
	if !ok {
		return outMsg{}, fmt.Errorf("output record is %T", native)
	}
	var s string
	switch v := rec["src"].(type) {
	case string:
		s = v
	case map[string]any:
		s, _ = v["string"].(string)
	}
	src, err := parseKey(s)
	if err != nil {
		return outMsg{}, err
	}
	return outMsg{id: keyOf(m.ID()), src: src, producer: m.ProducerName(), publish: m.PublishTime(), received: time.Now()}, nil
}

// tail follows a topic from the start and keeps every decoded message.
type tail struct {
	mu   sync.Mutex
	msgs []outMsg
	err  error
	stop func()
	done chan struct{}
}

func startTail(t testing.TB, pc pulsar.Client, topic string, codec *goavro.Codec) *tail {
	t.Helper()
	r, err := pc.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tl := &tail{stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(tl.done)
		defer r.Close()
		for {
			m, err := r.Next(ctx)
			if err != nil {
				if ctx.Err() == nil {
					tl.mu.Lock()
					tl.err = err
					tl.mu.Unlock()
				}
				return
			}
			om, err := decodeOut(codec, m)
			tl.mu.Lock()
			if err != nil {
				tl.err = err
			} else {
				tl.msgs = append(tl.msgs, om)
			}
			tl.mu.Unlock()
		}
	}()
	t.Cleanup(tl.close)
	return tl
}

func (tl *tail) close() {
	tl.stop()
	<-tl.done
}

func (tl *tail) snapshot() ([]outMsg, error) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return append([]outMsg(nil), tl.msgs...), tl.err
}

// distinctSources counts the distinct source rows seen in msgs.
func distinctSources(msgs []outMsg) int {
	seen := map[msgKey]bool{}
	for _, m := range msgs {
		seen[m.src] = true
	}
	return len(seen)
}

// hasNext is the reader's HasNext that fails the test when the broker
// cannot say (the client's own answers false then: an audit would read a
// short topic).
func hasNext(t testing.TB, r pulsar.Reader) bool {
	t.Helper()
	more, err := cpulsar.HasNext(r)
	if err != nil {
		t.Fatal(err)
	}
	return more
}
