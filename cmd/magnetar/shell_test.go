package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// binary is the magnetar command built once for the CLI tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "magnetar-cli")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "magnetar")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs `magnetar shell args...` with stdin, outside any terminal.
func runCLI(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"shell"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "MAGNETAR_SERVICE_URL=", "MAGNETAR_ADMIN_URL=", "NO_COLOR=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run: %v", err)
	}
	return cliResult{out.String(), errb.String(), code}
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

func TestCLICSVAndStatusOnStderr(t *testing.T) {
	r := runCLI(t, "", "--catalog", "memory", "--format", "csv", "-e",
		"CREATE TABLE t (id BIGINT, name VARCHAR(20));\n"+
			"INSERT INTO t VALUES (1, 'plain'), (2, 'a, \"quoted\" one'), (3, NULL);\n"+
			"SELECT id, name FROM t;")
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	want := "id,name\n1,plain\n2,\"a, \"\"quoted\"\" one\"\n3,\n"
	if r.stdout != want {
		t.Errorf("stdout = %q, want %q\n%s", r.stdout, want, r)
	}
	if !strings.Contains(r.stderr, "CREATE TABLE") || !strings.Contains(r.stderr, "INSERT 3") {
		t.Errorf("status lines not on stderr:\n%s", r)
	}
}

func TestCLIJSON(t *testing.T) {
	r := runCLI(t, "", "--catalog", "memory", "--format", "json", "-e",
		"SELECT 1 AS i, 2.5 AS d, 'x' AS s, NULL AS n")
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	if want := `{"i":1,"d":2.5,"s":"x","n":null}` + "\n"; r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}
}

func TestCLITable(t *testing.T) {
	r := runCLI(t, "", "--catalog", "memory", "-e", "SELECT 42 AS answer, 'hi' AS word")
	if r.code != 0 {
		t.Fatalf("%s", r)
	}
	for _, frag := range []string{"| answer | word    |", "| BIGINT | VARCHAR |", "|     42 | hi      |"} {
		if !strings.Contains(r.stdout, frag) {
			t.Errorf("table lacks %q:\n%s", frag, r)
		}
	}
	if !regexp.MustCompile(`(?m)^1 row \([0-9.]+ m?s\)$`).MatchString(r.stdout) {
		t.Errorf("no row count and time:\n%s", r)
	}
}

func TestCLISyntaxErrorLineColumnCaret(t *testing.T) {
	r := runCLI(t, "", "--catalog", "memory", "-e", "SELECT 1;\nSELECT *\n  FRM t;")
	if r.code == 0 {
		t.Fatalf("want a non-zero exit:\n%s", r)
	}
	lines := strings.Split(r.stderr, "\n")
	if len(lines) < 3 || !strings.Contains(lines[0], "line 3 column 3") ||
		lines[1] != "  FRM t;" || lines[2] != "  ^" {
		t.Errorf("want the position, the line and a caret under FRM:\n%s", r)
	}
	// The first statement ran before the error.
	if !strings.Contains(r.stdout, "|      1 |") {
		t.Errorf("first statement's result missing:\n%s", r)
	}
}

func TestCLIContinueOnErrorAndStdin(t *testing.T) {
	script := "SELEC 1;\nSELECT 'after' AS s;\n"
	r := runCLI(t, script, "--catalog", "memory", "--format", "csv")
	if r.code == 0 || r.stdout != "" {
		t.Errorf("without --continue-on-error the script stops at the error:\n%s", r)
	}
	r = runCLI(t, script, "--catalog", "memory", "--format", "csv", "--continue-on-error")
	if r.code != 0 || r.stdout != "s\nafter\n" || !strings.Contains(r.stderr, "line 1 column 1") {
		t.Errorf("with --continue-on-error:\n%s", r)
	}
}

func TestCLIFileErrorNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.sql")
	if err := os.WriteFile(path, []byte("-- comment\nSELECT 1;\n\nSELECT FROM;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "", "--catalog", "memory", "-f", path)
	if r.code == 0 || !strings.Contains(r.stderr, path+": line 4 column") {
		t.Errorf("error should name the file and line 4:\n%s", r)
	}
}

func TestCLINoBroker(t *testing.T) {
	r := runCLI(t, "", "--service-url", "pulsar://127.0.0.1:1", "--admin-url", "http://127.0.0.1:1", "-e", "SELECT 1")
	want := "magnetar: no Pulsar broker at http://127.0.0.1:1 (set --service-url/--admin-url or MAGNETAR_SERVICE_URL/MAGNETAR_ADMIN_URL, or run `make pulsar-up`; `--catalog memory` runs without a broker)\n"
	if r.code != 1 || r.stderr != want {
		t.Errorf("got:\n%s\nwant stderr %q", r, want)
	}
}

func TestCLIUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--format", "xml", "-e", "SELECT 1"},
		{"-e", "SELECT 1", "-f", "x.sql"},
		{"--sample", "nexmark"},
	} {
		if r := runCLI(t, "", args...); r.code != 2 || r.stderr == "" {
			t.Errorf("%q: want exit 2 and a message:\n%s", args, r)
		}
	}
}

func TestCLINexmarkSample(t *testing.T) {
	r := runCLI(t, "", "--catalog", "memory", "--sample", "nexmark", "--sample-events", "1000", "--format", "csv", "-e",
		"SELECT count(*) AS n FROM nexmark.bid")
	if r.code != 0 || r.stdout != "n\n920\n" {
		t.Errorf("1000 events hold 920 bids:\n%s", r)
	}
}

// TestInteractiveTmux drives the interactive shell in a real terminal
// (a tmux pane): a statement typed over two lines, continuation prompt,
// result table, one history entry per statement, \q.
func TestInteractiveTmux(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux not installed")
	}
	home := t.TempDir()
	socket := "magnetar-test-" + fmt.Sprint(os.Getpid())
	tm := func(args ...string) string {
		out, err := exec.Command(tmux, append([]string{"-L", socket, "-f", "/dev/null"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %q: %v\n%s", args, err, out)
		}
		return string(out)
	}
	cmdline := fmt.Sprintf("env HOME=%s XDG_CONFIG_HOME=%s/.config TERM=xterm NO_COLOR=1 %s shell --catalog memory", home, home, binary)
	tm("new-session", "-d", "-x", "120", "-y", "40", cmdline)
	t.Cleanup(func() { _ = exec.Command(tmux, "-L", socket, "kill-server").Run() })

	// typeText types literally; tmux would take a trailing ';' for its own
	// command separator, so semicolons go as a hex key.
	typeText := func(text string) {
		for i, part := range strings.Split(text, ";") {
			if i > 0 {
				tm("send-keys", "-H", "3b")
			}
			if part != "" {
				tm("send-keys", "-l", part)
			}
		}
	}
	screen := func() string { return tm("capture-pane", "-p") }
	waitFor := func(what string) string {
		deadline := time.Now().Add(20 * time.Second)
		for {
			s := screen()
			if strings.Contains(s, what) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("screen never showed %q:\n%s", what, s)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("magnetar default [bounded]>")
	typeText("SELECT 1 AS a,")
	tm("send-keys", "Enter")
	waitFor("->")
	typeText("  'two' AS b;")
	tm("send-keys", "Enter")
	s := waitFor("1 row")
	for _, frag := range []string{
		"magnetar default [bounded]> SELECT 1 AS a,",
		"                         ->   'two' AS b;",
		"| a      | b       |",
		"|      1 | two     |",
	} {
		if !strings.Contains(s, frag) {
			t.Errorf("screen lacks %q:\n%s", frag, s)
		}
	}
	// Ctrl-C cancels a running continuous query, not the shell.
	typeText(`\mode continuous`)
	tm("send-keys", "Enter")
	typeText("CREATE TABLE t (x BIGINT); INSERT INTO t VALUES (7); SELECT x FROM t;")
	tm("send-keys", "Enter")
	waitFor("| +I |      7 |")
	tm("send-keys", "C-c")
	s = waitFor("cancelled")
	if !strings.HasSuffix(strings.TrimRight(s, "\n "), "magnetar default [continuous]>") {
		t.Errorf("no prompt after Ctrl-C:\n%s", s)
	}
	typeText(`\q`)
	tm("send-keys", "Enter")
	hist := filepath.Join(home, ".config", "magnetar", "history")
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(hist)
		if err == nil && strings.Contains(string(data), `\q`) {
			if !strings.Contains(string(data), "SELECT 1 AS a,   'two' AS b;\n") {
				t.Errorf("history lacks the statement as one entry:\n%s", data)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("history file %s not written: %v", hist, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
