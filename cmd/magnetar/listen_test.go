package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServeOnUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "m.sock")
	addr := startServe(t, "--listen", "unix:"+sock)
	if addr != "unix://"+sock {
		t.Fatalf("address %q", addr)
	}
	st, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o600 {
		t.Errorf("socket mode %v, want owner-only", perm)
	}
	// The shell reaches the server through the socket.
	res := runCLI(t, "CREATE TABLE t (x BIGINT);\nINSERT INTO t VALUES (20), (22);\nSELECT SUM(x) AS s FROM t;",
		"--connect", "unix:"+sock, "--format", "csv")
	if res.code != 0 || !strings.Contains(res.stdout, "s\n42\n") {
		t.Fatalf("shell over the socket: %s", res)
	}
	// A second server on the same path is refused; the first keeps it.
	var stderr bytes.Buffer
	if code := serve(context.Background(), []string{"--catalog", "memory", "--listen", "unix:" + sock}, &stderr, nil); code != 1 ||
		!strings.Contains(stderr.String(), "already listening") {
		t.Fatalf("second server: exit %d: %s", code, stderr.String())
	}
	if res := runCLI(t, "SELECT 1 AS one;", "--connect", "unix:"+sock, "--format", "csv"); res.code != 0 {
		t.Fatalf("first server after the refused one: %s", res)
	}
}

func TestListenOnUnixPaths(t *testing.T) {
	dir := t.TempDir()
	// A socket left behind by a dead server is replaced.
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	lis, addr, err := listenOn("unix://" + stale)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	if addr != "unix://"+stale {
		t.Errorf("address %q", addr)
	}
	lis.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("socket file left after close: %v", err)
	}
	// A regular file is never removed.
	file := filepath.Join(dir, "data.txt")
	if err := os.WriteFile(file, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := listenOn("unix:" + file); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("regular file: %v", err)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "keep" {
		t.Fatalf("regular file changed: %q %v", b, err)
	}
	if _, _, err := listenOn("unix:"); err == nil {
		t.Fatal("empty socket path accepted")
	}
	// TCP addresses still work.
	lis, addr, err = listenOn("127.0.0.1:0")
	if err != nil || !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("tcp: %q %v", addr, err)
	}
	lis.Close()
}
