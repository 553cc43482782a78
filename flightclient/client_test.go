package flightclient

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/catalog"
	catmem "github.com/magnetar-sql/magnetar/catalog/memory"
	"github.com/magnetar-sql/magnetar/engine"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/flightserver"
	"github.com/magnetar-sql/magnetar/shell"
	"github.com/magnetar-sql/magnetar/sql"
)

// testServer is `magnetar serve` in-process over a memory catalog on a
// random loopback port; its allocator must be back to zero at the end.
type testServer struct {
	*flightserver.Server
	addr string
	cat  *catmem.Catalog
}

func startServer(t testing.TB, mod func(*flightserver.Config)) *testServer {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cat := catmem.New()
	cfg := flightserver.Config{Catalog: cat, Mem: mem}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := flightserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Shutdown()
		if n := srv.RunningQueries(); n != 0 {
			t.Errorf("%d queries still running on the server after shutdown", n)
		}
		cat.Close()
		mem.AssertSize(t, 0)
	})
	return &testServer{Server: srv, addr: lis.Addr().String(), cat: cat}
}

// connect dials the server with a checked allocator that must be empty
// once the client is closed.
func connect(t testing.TB, addr string, mod func(*Config)) *Client {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cfg := Config{Addr: addr, Mem: mem}
	if mod != nil {
		mod(&cfg)
	}
	c, err := Dial(tctx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
		mem.AssertSize(t, 0)
	})
	return c
}

func tctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// localSession adapts an engine session the way cmd/magnetar does, to
// compare remote output with local output.
type localSession struct{ s *engine.Session }

func (l localSession) Run(ctx context.Context, text string, fn func(*shell.Result) error) error {
	return l.s.Run(ctx, text, func(r *engine.Result) error {
		return fn(&shell.Result{Schema: r.Schema, Rows: r.Rows, Status: r.Status, Warnings: r.Warnings,
			RunWarnings: r.AllWarnings, Progress: r.Progress, Close: r.Close})
	})
}
func (l localSession) Database() string             { return l.s.Database() }
func (l localSession) Mode() catalog.Mode           { return l.s.Mode() }
func (l localSession) Set(name, value string) error { return l.s.Set(name, value) }

// syncBuffer is written by the shell while a test polls it.
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

type run struct {
	out, err string
	code     int
}

func newShell(sess shell.Session, cat catalog.Catalog, format shell.Format, out, errw *syncBuffer) *shell.Shell {
	return shell.New(shell.Config{Session: sess, Catalog: cat, Format: format,
		Stdin: strings.NewReader(""), Stdout: out, Stderr: errw})
}

// runBoth runs a script through a local engine session and through a
// client of a fresh server, both over empty memory catalogs.
func runBoth(t *testing.T, format shell.Format, script string) (local, remote run) {
	t.Helper()
	cat := catmem.New()
	defer cat.Close()
	var lo, le syncBuffer
	sh := newShell(localSession{engine.New(cat, engine.Options{}).NewSession()}, cat, format, &lo, &le)
	code := sh.RunScript(tctx(t), "", script)
	local = run{lo.String(), le.String(), code}

	srv := startServer(t, nil)
	c := connect(t, srv.addr, nil)
	var ro, re syncBuffer
	sh = newShell(c, c.Catalog(), format, &ro, &re)
	code = sh.RunScript(tctx(t), "", script)
	remote = run{ro.String(), re.String(), code}
	return local, remote
}

const roundTrip = `CREATE TABLE t (id BIGINT PRIMARY KEY, name VARCHAR(20), score DOUBLE);
INSERT INTO t VALUES (1, 'plain', 1.5), (2, 'a, "quoted" one', NULL), (3, NULL, -2);
SELECT id, name, score FROM t ORDER BY id;
SELECT name, COUNT(*) AS n FROM t GROUP BY name ORDER BY name;
SHOW TABLES;`

func TestRoundTripMatchesLocal(t *testing.T) {
	for _, f := range []shell.Format{shell.FormatCSV, shell.FormatJSON} {
		t.Run(string(f), func(t *testing.T) {
			local, remote := runBoth(t, f, roundTrip)
			if local.code != 0 {
				t.Fatalf("local run failed: %+v", local)
			}
			if remote != local {
				t.Errorf("remote output differs from local\nremote: %+v\nlocal:  %+v", remote, local)
			}
			if !strings.Contains(remote.out, "2,\"a, \"\"quoted\"\" one\",\n") && f == shell.FormatCSV {
				t.Errorf("csv rows missing: %q", remote.out)
			}
			if !strings.Contains(remote.err, "CREATE TABLE\nINSERT 3\n") {
				t.Errorf("status lines: %q", remote.err)
			}
		})
	}
}

func TestSyntaxErrorHasLineAndColumn(t *testing.T) {
	script := "CREATE TABLE t (x BIGINT);\nSELECT x\n  FRM t;"
	local, remote := runBoth(t, shell.FormatCSV, script)
	t.Logf("remote stderr:\n%s", remote.err)
	if remote.code != 1 {
		t.Fatalf("exit %d, want 1: %+v", remote.code, remote)
	}
	if remote != local {
		t.Errorf("remote differs from local\nremote: %+v\nlocal:  %+v", remote, local)
	}
	if !strings.Contains(remote.err, "ERROR: line 3 column") || !strings.Contains(remote.err, "  FRM t;\n") ||
		!strings.Contains(remote.err, "^\n") {
		t.Errorf("no located error with caret: %q", remote.err)
	}

	// Binding errors are located too (the server names the column).
	local, remote = runBoth(t, shell.FormatCSV, "CREATE TABLE t (x BIGINT);\nSELECT nope FROM t;")
	if remote != local || !strings.Contains(remote.err, "line 2 column 8") {
		t.Errorf("bind error\nremote: %+v\nlocal:  %+v", remote, local)
	}
}

func TestRunReturnsSQLError(t *testing.T) {
	srv := startServer(t, nil)
	c := connect(t, srv.addr, nil)
	err := c.Run(tctx(t), "SELECT 1;\n SELECT * FRM x", func(r *shell.Result) error { return nil })
	var se *sql.Error
	if !errors.As(err, &se) {
		t.Fatalf("err = %#v, want *sql.Error", err)
	}
	if se.Line != 2 || se.Column < 2 || se.Near == "" {
		t.Errorf("error %+v: want line 2 (shifted to the second statement) and the near text", se)
	}
	err = c.Run(tctx(t), "SELECT * FROM missing_table", func(r *shell.Result) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "missing_table") {
		t.Errorf("missing table: %v", err)
	}
}

func TestUseChangesDatabase(t *testing.T) {
	srv := startServer(t, nil)
	c := connect(t, srv.addr, nil)
	start := c.Database()
	if start == "" {
		t.Fatal("no current database after connecting")
	}
	var out, errw syncBuffer
	sh := newShell(c, c.Catalog(), shell.FormatCSV, &out, &errw)
	if code := sh.RunScript(tctx(t), "", "CREATE DATABASE d2; USE d2; CREATE TABLE only_here (x BIGINT);"); code != 0 {
		t.Fatalf("exit %d: %s", code, errw.String())
	}
	if c.Database() != "d2" {
		t.Errorf("Database() = %q after USE d2", c.Database())
	}
	if !strings.Contains(errw.String(), "USE d2\n") {
		t.Errorf("status: %q", errw.String())
	}
	// The session lives on the server: unqualified names resolve in d2.
	if code := sh.RunScript(tctx(t), "", "INSERT INTO only_here VALUES (7); SELECT x FROM only_here;"); code != 0 {
		t.Fatalf("exit %d: %s", code, errw.String())
	}
	if out.String() != "x\n7\n" {
		t.Errorf("stdout %q", out.String())
	}
	// Another client has its own session, in the default database.
	other := connect(t, srv.addr, nil)
	if other.Database() != start {
		t.Errorf("second client starts in %q, want %q", other.Database(), start)
	}
	// A failing USE leaves the database as it was.
	if code := sh.RunScript(tctx(t), "", "USE nowhere;"); code != 1 || c.Database() != "d2" {
		t.Errorf("USE nowhere: exit %d, database %q", code, c.Database())
	}
}

func TestSetModeMirrored(t *testing.T) {
	srv := startServer(t, nil)
	c := connect(t, srv.addr, nil)
	if c.Mode() != catalog.Bounded {
		t.Fatalf("initial mode %v", c.Mode())
	}
	var out, errw syncBuffer
	sh := newShell(c, c.Catalog(), shell.FormatCSV, &out, &errw)
	if code := sh.RunScript(tctx(t), "", "SET magnetar.mode = 'continuous';"); code != 0 {
		t.Fatalf("exit %d: %s", code, errw.String())
	}
	if c.Mode() != catalog.Unbounded {
		t.Errorf("mode %v after SET continuous", c.Mode())
	}
	if err := sh.Meta(tctx(t), `\mode bounded`); err != nil {
		t.Fatal(err)
	}
	if c.Mode() != catalog.Bounded {
		t.Errorf(`mode %v after \mode bounded`, c.Mode())
	}
	if err := c.Set("magnetar.mode", "sideways"); err == nil {
		t.Error("invalid mode accepted")
	}
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runUntil runs a script in the background, cancels it once stdout holds
// want, and returns the output and exit code.
func runUntil(t *testing.T, sh *shell.Shell, out, errw *syncBuffer, script, want string) int {
	t.Helper()
	ctx, cancel := context.WithCancel(tctx(t))
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- sh.RunScript(ctx, "", script) }()
	waitFor(t, "rows "+want+" in "+out.String()+errw.String(), func() bool { return strings.Contains(out.String(), want) })
	select {
	case code := <-done:
		t.Fatalf("continuous query ended by itself (exit %d): %s", code, errw.String())
	default:
	}
	cancel()
	select {
	case code := <-done:
		return code
	case <-time.After(15 * time.Second):
		t.Fatal("continuous query not cancelled")
	}
	return 0
}

func TestContinuousQueryCancelledByContext(t *testing.T) {
	srv := startServer(t, nil)
	c := connect(t, srv.addr, nil)
	var out, errw syncBuffer
	sh := newShell(c, c.Catalog(), shell.FormatCSV, &out, &errw)
	if code := sh.RunScript(tctx(t), "", "CREATE TABLE ev (k VARCHAR(5), v BIGINT); INSERT INTO ev VALUES ('a', 1), ('b', 2);"); code != 0 {
		t.Fatalf("setup: %s", errw.String())
	}
	if err := sh.Meta(tctx(t), `\mode continuous`); err != nil {
		t.Fatal(err)
	}
	code := runUntil(t, sh, &out, &errw, "SELECT k, v FROM ev;", "b,2\n")
	if code != 130 {
		t.Errorf("exit %d after cancel, want 130", code)
	}
	if !strings.Contains(errw.String(), "cancelled") {
		t.Errorf("stderr %q", errw.String())
	}
	waitFor(t, "the server to stop the query", func() bool { return srv.RunningQueries() == 0 })
	// The session still works after the cancelled stream.
	if err := sh.Meta(tctx(t), `\mode bounded`); err != nil {
		t.Fatal(err)
	}
	var out2, errw2 syncBuffer
	sh2 := newShell(c, c.Catalog(), shell.FormatCSV, &out2, &errw2)
	if code := sh2.RunScript(tctx(t), "", "SELECT COUNT(*) AS n FROM ev;"); code != 0 || out2.String() != "n\n2\n" {
		t.Errorf("after cancel: exit %d out %q err %q", code, out2.String(), errw2.String())
	}
}

func TestChangelogMatchesLocal(t *testing.T) {
	setup := "CREATE TABLE ev (k VARCHAR(5), v BIGINT); INSERT INTO ev VALUES ('a', 1), ('b', 2);" +
		" INSERT INTO ev VALUES ('a', 3);"
	query := "SELECT k, SUM(v) AS total FROM ev GROUP BY k;"
	want := "a,4\n"

	cat := catmem.New()
	defer cat.Close()
	var lo, le syncBuffer
	lsh := shell.New(shell.Config{Session: localSession{engine.New(cat, engine.Options{}).NewSession()},
		Format: shell.FormatCSV, Changelog: shell.ChangelogOn, Stdin: strings.NewReader(""), Stdout: &lo, Stderr: &le})
	if code := lsh.RunScript(tctx(t), "", setup); code != 0 {
		t.Fatal(le.String())
	}
	if err := lsh.Meta(tctx(t), `\mode continuous`); err != nil {
		t.Fatal(err)
	}
	lo = syncBuffer{}
	runUntil(t, lsh, &lo, &le, query, want)

	srv := startServer(t, nil)
	c := connect(t, srv.addr, nil)
	var ro, re syncBuffer
	rsh := shell.New(shell.Config{Session: c, Catalog: c.Catalog(),
		Format: shell.FormatCSV, Changelog: shell.ChangelogOn, Stdin: strings.NewReader(""), Stdout: &ro, Stderr: &re})
	if code := rsh.RunScript(tctx(t), "", setup); code != 0 {
		t.Fatal(re.String())
	}
	if err := rsh.Meta(tctx(t), `\mode continuous`); err != nil {
		t.Fatal(err)
	}
	ro = syncBuffer{}
	runUntil(t, rsh, &ro, &re, query, want)

	t.Logf("remote changelog:\n%s", ro.String())
	if ro.String() != lo.String() {
		t.Errorf("remote changelog differs from local\nremote:\n%s\nlocal:\n%s", ro.String(), lo.String())
	}
	if !strings.HasPrefix(ro.String(), "op,k,total\n") || !strings.Contains(ro.String(), "+I,") {
		t.Errorf("no changelog column: %q", ro.String())
	}
	if strings.Contains(ro.String(), OpColumn) {
		t.Errorf("%s column shown: %q", OpColumn, ro.String())
	}
	waitFor(t, "the server to stop the query", func() bool { return srv.RunningQueries() == 0 })
}

func TestMetaCommandsUseRemoteCatalog(t *testing.T) {
	script := "CREATE TABLE orders (id BIGINT PRIMARY KEY, item VARCHAR(20) NOT NULL, price DOUBLE);" +
		" CREATE TABLE bids (auction BIGINT, price DOUBLE);"
	cat := catmem.New()
	defer cat.Close()
	var lo, le syncBuffer
	lsh := newShell(localSession{engine.New(cat, engine.Options{}).NewSession()}, cat, shell.FormatTable, &lo, &le)
	srv := startServer(t, nil)
	c := connect(t, srv.addr, nil)
	var ro, re syncBuffer
	rsh := newShell(c, c.Catalog(), shell.FormatTable, &ro, &re)
	for _, sh := range []*shell.Shell{lsh, rsh} {
		if code := sh.RunScript(tctx(t), "", script); code != 0 {
			t.Fatalf("setup: %s %s", le.String(), re.String())
		}
	}
	for _, cmd := range []string{`\d`, `\d orders`, `\l`} {
		lo, ro = syncBuffer{}, syncBuffer{}
		lerr, rerr := lsh.Meta(tctx(t), cmd), rsh.Meta(tctx(t), cmd)
		if lerr != nil || rerr != nil {
			t.Fatalf("%s: local %v, remote %v", cmd, lerr, rerr)
		}
		if ro.String() != lo.String() {
			t.Errorf("%s remote differs from local\nremote:\n%s\nlocal:\n%s", cmd, ro.String(), lo.String())
		}
	}
	ro = syncBuffer{}
	if err := rsh.Meta(tctx(t), `\d`); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ro.String(), "orders") || !strings.Contains(ro.String(), "bids") {
		t.Errorf(`\d: %q`, ro.String())
	}
	if err := rsh.Meta(tctx(t), `\d nope`); err == nil || !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf(`\d nope: %v`, err)
	}
}

func TestRemoteCatalog(t *testing.T) {
	srv := startServer(t, nil)
	c := connect(t, srv.addr, nil)
	ctx := tctx(t)
	if err := c.Run(ctx, "CREATE DATABASE `a_b`; CREATE TABLE `a_b`.t_1 (x BIGINT); CREATE DATABASE axb;"+
		" CREATE TABLE axb.t_1 (y VARCHAR(3)); CREATE TABLE axb.tx1 (z BIGINT)",
		func(*shell.Result) error { return nil }); err != nil {
		t.Fatal(err)
	}
	cat := c.Catalog()
	dbs, err := cat.Databases(ctx)
	if err != nil || !containsFold(dbs, "a_b") || !containsFold(dbs, "axb") {
		t.Fatalf("databases %q, %v", dbs, err)
	}
	// '_' is a LIKE wildcard: the names must be matched exactly.
	tabs, err := cat.Tables(ctx, "a_b")
	if err != nil || strings.Join(tabs, ",") != "t_1" {
		t.Errorf("tables of a_b: %q, %v", tabs, err)
	}
	tab, err := cat.Table(ctx, "axb", "t_1")
	if err != nil {
		t.Fatal(err)
	}
	if sc := tab.Schema(); sc.NumFields() != 1 || sc.Field(0).Name != "y" {
		t.Errorf("schema of axb.t_1: %v", sc)
	}
	for _, f := range tab.Schema().Fields() {
		for _, k := range f.Metadata.Keys() {
			if strings.HasPrefix(k, flightSQLPrefix) {
				t.Errorf("Flight SQL metadata left on %s: %s", f.Name, k)
			}
		}
	}
	if _, err := cat.Tables(ctx, "no_such_db"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("tables of a missing database: %v", err)
	}
	if _, err := cat.Table(ctx, "axb", "t%"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("pattern characters matched as wildcards: %v", err)
	}
	if err := cat.CreateDatabase(ctx, "x", false); !errors.Is(err, ErrRemote) {
		t.Errorf("CreateDatabase: %v", err)
	}
	if _, err := tab.Scan(ctx, catalog.ScanRequest{}); !errors.Is(err, ErrRemote) {
		t.Errorf("Scan: %v", err)
	}
}

func TestAuth(t *testing.T) {
	auth, err := flightserver.NewAuth([]flightserver.User{
		{Name: "alice", Password: "pw", Tenants: []string{"*"}},
		{Name: "etl", Tokens: []string{"t0k3n"}, Tenants: []string{"*"}},
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, func(cfg *flightserver.Config) { cfg.Auth = auth })
	ctx := tctx(t)

	alice := connect(t, srv.addr, func(c *Config) { c.User, c.Password = "alice", "pw" })
	if err := alice.Run(ctx, "CREATE TABLE t (x BIGINT); INSERT INTO t VALUES (1)", func(*shell.Result) error { return nil }); err != nil {
		t.Fatal(err)
	}
	etl := connect(t, srv.addr, func(c *Config) { c.Token = "t0k3n" })
	n := 0
	if err := etl.Run(ctx, "SELECT x FROM t", func(r *shell.Result) error {
		for {
			msg, err := r.Rows.Next(ctx)
			if err != nil {
				return err
			}
			if msg.Kind == exec.MsgEnd {
				return nil
			}
			n += int(msg.Batch.Rec.NumRows())
			msg.Release()
		}
	}); err != nil || n != 1 {
		t.Fatalf("token client read %d rows: %v", n, err)
	}

	if _, err := Dial(ctx, Config{Addr: srv.addr, User: "alice", Password: "wrong"}); err == nil ||
		!strings.Contains(err.Error(), "not authenticated") {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := Dial(ctx, Config{Addr: srv.addr}); err == nil || !strings.Contains(err.Error(), "not authenticated") {
		t.Errorf("no credentials: %v", err)
	}
}

func TestDialUnreachable(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	_, err = Dial(tctx(t), Config{Addr: addr, ConnectTimeout: 2 * time.Second})
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("dial to a closed port: %v", err)
	}
}

func TestLostSessionRestored(t *testing.T) {
	srv := startServer(t, func(cfg *flightserver.Config) {
		cfg.SessionIdleTimeout = 100 * time.Millisecond
		cfg.ParkTimeout = 40 * time.Millisecond // the janitor runs every 10 ms
	})
	c := connect(t, srv.addr, nil)
	var out, errw syncBuffer
	sh := newShell(c, c.Catalog(), shell.FormatCSV, &out, &errw)
	if code := sh.RunScript(tctx(t), "", "CREATE DATABASE d2; USE d2; CREATE TABLE t2 (x BIGINT);"); code != 0 {
		t.Fatal(errw.String())
	}
	// Idle past the timeout: the server forgets the session. The update
	// must still land in d2, the query read from d2.
	time.Sleep(300 * time.Millisecond)
	if code := sh.RunScript(tctx(t), "", "INSERT INTO t2 VALUES (1);"); code != 0 {
		t.Fatalf("insert after the session was lost: %s", errw.String())
	}
	time.Sleep(300 * time.Millisecond)
	if code := sh.RunScript(tctx(t), "", "SELECT x FROM t2;"); code != 0 {
		t.Fatalf("query after the session was lost: %s", errw.String())
	}
	if out.String() != "x\n1\n" || c.Database() != "d2" {
		t.Errorf("stdout %q, database %q", out.String(), c.Database())
	}
	if n := strings.Count(errw.String(), "WARNING: the server lost this session"); n != 2 {
		t.Errorf("want two lost-session warnings, stderr:\n%s", errw.String())
	}
	waitFor(t, "the dropped query to go", func() bool { return srv.RunningQueries() == 0 })
}

func TestServerShutdownEndsStreamWithReason(t *testing.T) {
	srv := startServer(t, nil)
	c := connect(t, srv.addr, nil)
	var out, errw syncBuffer
	sh := newShell(c, c.Catalog(), shell.FormatCSV, &out, &errw)
	if code := sh.RunScript(tctx(t), "", "CREATE TABLE ev (k BIGINT); INSERT INTO ev VALUES (1);"); code != 0 {
		t.Fatal(errw.String())
	}
	if err := sh.Meta(tctx(t), `\mode continuous`); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() { done <- sh.RunScript(tctx(t), "", "SELECT k FROM ev;") }()
	waitFor(t, "the first row", func() bool { return strings.Contains(out.String(), "+I,1\n") })
	srv.Shutdown()
	select {
	case code := <-done:
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("stream not ended by the server's shutdown")
	}
	if !strings.Contains(errw.String(), "ERROR: ") || strings.Contains(errw.String(), "cancelled\n") {
		t.Errorf("the server's reason is not shown: %q", errw.String())
	}
	t.Logf("stderr: %s", errw.String())
}

// Warnings found while the rows are read (here rows a window aggregate
// ignored because their window had closed) come in the DoGet trailer and
// are printed as in local mode; status lines come from the server.
func TestWarningsMatchLocal(t *testing.T) {
	script := `CREATE TABLE r (k INT, et TIMESTAMP);
INSERT INTO r VALUES (1, '2024-01-01 10:00:01'), (1, '2024-01-01 10:00:30');
INSERT INTO r VALUES (1, '2024-01-01 10:00:02'), (1, '2024-01-01 10:00:03'), (1, '2024-01-01 10:00:31');
SELECT window_start, count(*) AS n FROM r GROUP BY TUMBLE(et, '10 SECONDS');
USE ` + "`default`" + `;`
	for _, f := range []shell.Format{shell.FormatCSV, shell.FormatTable} {
		t.Run(string(f), func(t *testing.T) {
			local, remote := runBoth(t, f, script)
			if local.code != 0 {
				t.Fatalf("local run failed: %+v", local)
			}
			if !strings.Contains(local.err, "WARNING: 2 late row(s)") {
				t.Fatalf("the script no longer warns locally: %q", local.err)
			}
			if f == shell.FormatTable {
				// Table output shows timings that differ between runs.
				local.out, remote.out = stripTimes(local.out), stripTimes(remote.out)
				local.err, remote.err = stripTimes(local.err), stripTimes(remote.err)
			}
			if remote != local {
				t.Errorf("remote output differs from local\nremote: %+v\nlocal:  %+v", remote, local)
			}
		})
	}
}

// stripTimes removes "(1.2 ms)"-style timings.
func stripTimes(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, " (")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i:], ')')
		if j < 0 || !strings.ContainsAny(s[i:i+j], "0123456789") || !strings.Contains(s[i:i+j], "s") {
			b.WriteString(s[:i+2])
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		s = s[i+j+1:]
	}
}

func TestUnescapeMetadata(t *testing.T) {
	for in, want := range map[string]string{
		"plain":            "plain",
		"100%25 sure":      "100% sure",
		"caf%C3%A9%0Aline": "café\nline",
		"bad %zz and %4":   "bad %zz and %4",
	} {
		if got := unescapeMD(in); got != want {
			t.Errorf("unescapeMD(%q) = %q, want %q", in, got, want)
		}
	}
}
