package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// unixPath returns the socket path of a unix:PATH (or unix://PATH) address
// and whether addr is one.
func unixPath(addr string) (string, bool) {
	rest, ok := strings.CutPrefix(addr, "unix:")
	if !ok {
		return "", false
	}
	if p, ok := strings.CutPrefix(rest, "//"); ok {
		rest = p
	}
	return rest, true
}

// listenOn opens the server's listener: HOST:PORT over TCP, or unix:PATH
// for a Unix socket, which spares the kernel's TCP work when the client is
// on the same machine (docs/benchmarks.md, Flight SQL transfer). The socket
// is made readable and writable by its owner only, since a server without
// --auth-file authenticates no one. A socket file left by a server that
// died is replaced; one a live server answers on is an error. It returns
// the listener and the address clients dial (unix:///abs/path for gRPC).
func listenOn(addr string) (net.Listener, string, error) {
	path, ok := unixPath(addr)
	if !ok {
		lis, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, "", err
		}
		return lis, lis.Addr().String(), nil
	}
	if path == "" {
		return nil, "", errors.New("--listen unix: needs a socket path (unix:/run/magnetar.sock)")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, "", fmt.Errorf("socket path %s: %w", path, err)
	}
	if st, err := os.Lstat(abs); err == nil {
		if st.Mode().Type() != fs.ModeSocket {
			return nil, "", fmt.Errorf("%s exists and is not a socket", abs)
		}
		if c, err := net.DialTimeout("unix", abs, time.Second); err == nil {
			c.Close()
			return nil, "", fmt.Errorf("a server is already listening on %s", abs)
		}
		if err := os.Remove(abs); err != nil {
			return nil, "", fmt.Errorf("remove stale socket %s: %w", abs, err)
		}
	}
	lis, err := net.Listen("unix", abs)
	if err != nil {
		return nil, "", err
	}
	if err := os.Chmod(abs, 0o600); err != nil {
		lis.Close()
		return nil, "", fmt.Errorf("socket %s: %w", abs, err)
	}
	return lis, "unix://" + abs, nil
}
