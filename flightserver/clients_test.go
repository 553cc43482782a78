package flightserver

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Tests with clients written by others: the Arrow Flight SQL JDBC driver
// (Maven Central) and ADBC's Flight SQL driver for Python (PyPI). Their
// installs are cached outside the repository, in the user cache directory
// (~/.cache/magnetar), and reused by later runs.

// jdbcDriverVersion must match testdata/clients/java/pom.xml.
const jdbcDriverVersion = "18.3.0"

func cacheDir(t *testing.T) string {
	t.Helper()
	base, err := os.UserCacheDir()
	if err != nil {
		t.Skipf("no user cache directory: %v", err)
	}
	dir := filepath.Join(base, "magnetar")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func run(t *testing.T, ctx context.Context, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func repoPath(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// jdbcDriver fetches the JDBC driver jar (with mvn) once.
func jdbcDriver(t *testing.T, ctx context.Context) string {
	dir := filepath.Join(cacheDir(t), "jdbc-"+jdbcDriverVersion)
	jar := filepath.Join(dir, "flight-sql-jdbc-driver-"+jdbcDriverVersion+".jar")
	if _, err := os.Stat(jar); err == nil {
		return dir
	}
	run(t, ctx, repoPath(t, "testdata/clients/java"), "mvn", "-q", "-B",
		"dependency:copy-dependencies", "-DoutputDirectory="+dir)
	if _, err := os.Stat(jar); err != nil {
		t.Fatalf("mvn did not fetch %s: %v", jar, err)
	}
	return dir
}

func TestJDBCClient(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the JDBC client test")
	}
	for _, tool := range []string{"java", "mvn"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	drv := jdbcDriver(t, ctx)
	// With authentication on, so the driver's user/password handshake,
	// bearer token and session cookie are all exercised.
	ts := startServer(t, func(c *Config) { c.Auth = testAuth(t) })
	host, port, _ := strings.Cut(ts.addr, ":")
	out := run(t, ctx, repoPath(t, "testdata/clients/java"), "java",
		"--add-opens=java.base/java.nio=ALL-UNNAMED",
		"-cp", filepath.Join(drv, "*"),
		"FlightSqlJdbcClient.java", host, port, "root", "root-pw")
	t.Log(out)
	if !strings.Contains(out, "ok: done") {
		t.Fatal("JDBC client did not finish")
	}
	eventually(t, "JDBC queries to close", func() bool { return ts.RunningQueries() == 0 })
}

// pythonVenv makes a virtualenv with adbc-driver-flightsql and pyarrow once.
func pythonVenv(t *testing.T, ctx context.Context) string {
	dir := filepath.Join(cacheDir(t), "venv")
	py := filepath.Join(dir, "bin", "python")
	probe := exec.CommandContext(ctx, py, "-c", "import adbc_driver_flightsql.dbapi, pyarrow")
	if probe.Run() == nil {
		return py
	}
	run(t, ctx, "", "python3", "-m", "venv", dir)
	run(t, ctx, "", py, "-m", "pip", "install", "-q", "adbc-driver-flightsql", "pyarrow")
	return py
}

func TestPythonADBCClient(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the Python client test")
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	py := pythonVenv(t, ctx)
	ts := startServer(t, nil)
	out := run(t, ctx, "", py, repoPath(t, "testdata/clients/python/adbc_client.py"), "grpc://"+ts.addr)
	t.Log(out)
	if !strings.Contains(out, "ok: done") {
		t.Fatal("Python client did not finish")
	}
	eventually(t, "Python queries to close", func() bool { return ts.RunningQueries() == 0 })
}
