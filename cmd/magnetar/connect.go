package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/chzyer/readline"
	"github.com/magnetar-sql/magnetar/flightclient"
)

// Environment variables holding remote credentials, for scripts that must
// not put secrets on the command line.
const (
	envPassword = "MAGNETAR_PASSWORD"
	envToken    = "MAGNETAR_TOKEN"
)

// connectFlags are the settings of `magnetar shell --connect`.
type connectFlags struct {
	addr, user, passwordFile, tokenFile string
	tls                                 bool
}

// dialServer connects the shell to `magnetar serve` at f.connect.addr. On
// failure it has reported the problem and returns nil and the exit code.
func dialServer(ctx context.Context, f shellFlags, interactive bool, stderr io.Writer) (*flightclient.Client, int) {
	cf := f.connect
	cfg := flightclient.Config{Addr: cf.addr, User: cf.user}
	if cf.user != "" {
		pw, err := readSecret(cf.passwordFile, envPassword)
		if err != nil {
			fmt.Fprintf(stderr, "magnetar shell: --password-file: %v\n", err)
			return nil, 2
		}
		if pw == "" && cf.passwordFile == "" && os.Getenv(envPassword) == "" {
			if !interactive {
				fmt.Fprintf(stderr, "magnetar shell: --user %s needs a password: --password-file or %s\n", cf.user, envPassword)
				return nil, 2
			}
			b, err := readline.Password(fmt.Sprintf("password for %s@%s: ", cf.user, cf.addr))
			if err != nil {
				fmt.Fprintf(stderr, "magnetar shell: read password: %v\n", err)
				return nil, 1
			}
			pw = string(b)
		}
		cfg.Password = pw
	} else {
		tok, err := readSecret(cf.tokenFile, envToken)
		if err != nil {
			fmt.Fprintf(stderr, "magnetar shell: --token-file: %v\n", err)
			return nil, 2
		}
		cfg.Token = tok
	}
	// A CA file or a client certificate only make sense over TLS.
	if cf.tls || f.tlsCA != "" || f.tlsCert != "" {
		tc, err := clientTLS(f)
		if err != nil {
			fmt.Fprintf(stderr, "magnetar shell: TLS: %v\n", err)
			return nil, 2
		}
		cfg.TLS = tc
	}
	c, err := flightclient.Dial(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "magnetar: %v (is `magnetar serve` running there?)\n", err)
		return nil, 1
	}
	return c, 0
}

// readSecret reads a secret from a file, else from an environment
// variable; "" when neither is set.
func readSecret(path, env string) (string, error) {
	if path == "" {
		return os.Getenv(env), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(data), "\r\n"), nil
}

// clientTLS is the TLS configuration for --connect: the system roots, or
// --tls-ca-file; a client certificate from --tls-cert-file/--tls-key-file.
func clientTLS(f shellFlags) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: f.tlsInsecure} //nolint:gosec // opt-in for tests
	if f.tlsCA != "" {
		pem, err := os.ReadFile(f.tlsCA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificates", f.tlsCA)
		}
		tc.RootCAs = pool
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return nil, errors.New("--tls-cert-file and --tls-key-file go together")
	}
	if f.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
