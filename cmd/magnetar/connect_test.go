package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startServe runs `magnetar serve --catalog memory` in-process on a random
// port and returns its address; it stops when the test ends.
func startServe(t *testing.T, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan int, 1)
	var stderr bytes.Buffer
	args := append([]string{"--catalog", "memory", "--listen", "127.0.0.1:0"}, extra...)
	go func() { done <- serve(ctx, args, &stderr, ready) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exit %d", code)
		}
	})
	select {
	case addr := <-ready:
		return addr
	case code := <-done:
		t.Fatalf("serve exited with %d: %s", code, stderr.String())
	}
	return ""
}

// runShellEnv runs the shell binary with extra environment variables.
func runShellEnv(t *testing.T, env []string, stdin string, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"shell"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(append(os.Environ(), "MAGNETAR_SERVICE_URL=", "MAGNETAR_ADMIN_URL=", "NO_COLOR=1",
		"MAGNETAR_PASSWORD=", "MAGNETAR_TOKEN="), env...)
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

func TestCLIConnectMatchesLocal(t *testing.T) {
	addr := startServe(t)
	script := "CREATE TABLE t (id BIGINT, name VARCHAR(20));\n" +
		"INSERT INTO t VALUES (1, 'plain'), (2, 'a, \"quoted\" one'), (3, NULL);\n" +
		"SELECT id, name FROM t ORDER BY id;\n" +
		"SELECT COUNT(*) AS n, MAX(id) AS top FROM t;"
	for _, format := range []string{"csv", "json"} {
		local := runCLI(t, "", "--catalog", "memory", "--format", format, "-e", script)
		// Each format gets a fresh database on the same server.
		db := "db_" + format
		remote := runCLI(t, "CREATE DATABASE "+db+";\nUSE "+db+";\n"+script, "--connect", addr, "--format", format)
		if local.code != 0 || remote.code != 0 {
			t.Fatalf("local:\n%s\nremote:\n%s", local, remote)
		}
		if remote.stdout != local.stdout {
			t.Errorf("%s: stdout differs\nremote:\n%s\nlocal:\n%s", format, remote.stdout, local.stdout)
		}
		wantErr := "CREATE DATABASE\nUSE " + db + "\n" + local.stderr
		if remote.stderr != wantErr {
			t.Errorf("%s: stderr %q, want %q", format, remote.stderr, wantErr)
		}
	}
}

func TestCLIConnectSyntaxError(t *testing.T) {
	addr := startServe(t)
	script := "SELECT 1 AS one;\nSELECT *\n  FRM nowhere;"
	local := runCLI(t, "", "--catalog", "memory", "--format", "csv", "-e", script)
	remote := runCLI(t, "", "--connect", addr, "--format", "csv", "-e", script)
	if remote.code != 1 || remote.stdout != local.stdout || remote.stderr != local.stderr {
		t.Errorf("remote:\n%s\nlocal:\n%s", remote, local)
	}
	if !strings.Contains(remote.stderr, "ERROR: line 3 column") || !strings.Contains(remote.stderr, "^") {
		t.Errorf("no location: %s", remote)
	}
}

func TestCLIConnectAuth(t *testing.T) {
	dir := t.TempDir()
	authFile := filepath.Join(dir, "auth.json")
	users := `{"users": [{"name": "alice", "password": "s3cret", "tenants": ["*"]},
	                     {"name": "etl", "tokens": ["t0k3n"], "tenants": ["*"]}]}`
	if err := os.WriteFile(authFile, []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := startServe(t, "--auth-file", authFile)

	r := runCLI(t, "", "--connect", addr, "--format", "csv", "--user", "alice", "--password-file", pwFile,
		"-e", "CREATE TABLE t (x BIGINT); INSERT INTO t VALUES (5);")
	if r.code != 0 {
		t.Fatalf("password login: %s", r)
	}
	r = runShellEnv(t, []string{"MAGNETAR_TOKEN=t0k3n"}, "", "--connect", addr, "--format", "csv", "-e", "SELECT x FROM t;")
	if r.code != 0 || r.stdout != "x\n5\n" {
		t.Errorf("token login: %s", r)
	}
	r = runShellEnv(t, []string{"MAGNETAR_PASSWORD=wrong"}, "", "--connect", addr, "--user", "alice", "-e", "SELECT 1;")
	if r.code != 1 || !strings.Contains(r.stderr, "not authenticated") {
		t.Errorf("wrong password: %s", r)
	}
	r = runCLI(t, "", "--connect", addr, "-e", "SELECT 1;")
	if r.code != 1 || !strings.Contains(r.stderr, "not authenticated") {
		t.Errorf("no credentials: %s", r)
	}
	r = runCLI(t, "", "--connect", addr, "--user", "alice", "-e", "SELECT 1;")
	if r.code != 2 || !strings.Contains(r.stderr, "needs a password") {
		t.Errorf("no password outside a terminal: %s", r)
	}
}

func TestCLIConnectFlagErrors(t *testing.T) {
	if r := runCLI(t, "", "--user", "bob", "-e", "SELECT 1;"); r.code != 2 || !strings.Contains(r.stderr, "go with --connect") {
		t.Errorf("--user without --connect: %s", r)
	}
	r := runCLI(t, "", "--connect", "127.0.0.1:1", "-e", "SELECT 1;")
	if r.code != 1 || !strings.Contains(r.stderr, "127.0.0.1:1") {
		t.Errorf("nothing listening: %s", r)
	}
}

// A continuous query streams until Ctrl-C, which cancels the stream; the
// shell then exits 130 as for a local query.
func TestCLIConnectContinuousInterrupt(t *testing.T) {
	addr := startServe(t)
	if r := runCLI(t, "", "--connect", addr, "-e", "CREATE TABLE ev (k VARCHAR(4)); INSERT INTO ev VALUES ('a'), ('b');"); r.code != 0 {
		t.Fatalf("setup: %s", r)
	}
	cmd := exec.Command(binary, "shell", "--connect", addr, "--mode", "continuous", "--format", "csv", "-e", "SELECT k FROM ev;")
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	seen := map[string]bool{}
	deadline := time.After(20 * time.Second)
	// Continuous results show their change kinds by default.
	for !seen["+I,a"] || !seen["+I,b"] {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("stream ended before the rows: %s", errb.String())
			}
			seen[l] = true
		case <-deadline:
			t.Fatalf("rows not streamed: %v %s", seen, errb.String())
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for range lines {
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 130 {
			t.Errorf("exit %v after Ctrl-C, want 130; stderr %s", err, errb.String())
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("shell did not stop after Ctrl-C")
	}
	if !strings.Contains(errb.String(), "cancelled") {
		t.Errorf("stderr %q", errb.String())
	}
}
