// Package flightclient is the remote side of Magnetar's shell: a
// shell.Session and a read-only catalog.Catalog that talk Arrow Flight SQL to
// a running `magnetar serve`.
//
// Statements that return rows go through Execute (GetFlightInfo) and DoGet,
// so their batches reach the shell's renderer as the server streams them; a
// continuous query streams until the caller's context is cancelled, which
// cancels the gRPC stream. Other statements (DDL, INSERT, USE, SET) go
// through ExecuteUpdate. The SQL session (current database, settings) lives
// on the server, named by the x-magnetar-session header; the client keeps a
// copy of the database and mode for the prompt and refreshes it from the
// server's session options after USE and SET.
//
// Updating results carry their change kinds in a last string column named
// __op (+I, -U, +U, -D); the client strips it and turns it back into
// exec.Batch Ops, so the shell renders them exactly as in local mode.
// Server errors located in the SQL ("line L column C: ...") come back as
// *sql.Error so the shell can point at them.
package flightclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/catalog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// Header and setting names shared with the server (flightserver); they are
// repeated here so that a client does not link the server and the engine.
const (
	// SessionHeader names the server session a call belongs to.
	SessionHeader = "x-magnetar-session"
	// OpColumn is the change-kind column of updating results.
	OpColumn = "__op"
	// ModeSetting is the session setting holding bounded or continuous.
	ModeSetting = "magnetar.mode"
	// schemaOption is the Flight session option holding the database.
	schemaOption = "schema"
)

// Config says how to reach a server.
type Config struct {
	// Addr is HOST:PORT of `magnetar serve`.
	Addr string
	// TLS, when set, makes the connection use TLS (nil: plaintext).
	TLS *tls.Config
	// User and Password authenticate with the Basic handshake, which
	// returns a bearer token used for the following calls.
	User, Password string
	// Token is a bearer token (used when User is empty).
	Token string
	// Mem allocates the batches read; nil means memory.DefaultAllocator.
	Mem memory.Allocator
	// ConnectTimeout bounds the calls made by Dial (default 10 seconds).
	ConnectTimeout time.Duration
}

// Client is a connection to a server and one SQL session on it. It
// implements shell.Session; Catalog returns the server's catalog for \d and
// completion. A Client runs one statement at a time (as the shell does);
// Database, Mode and the catalog may be used concurrently with it.
type Client struct {
	fc   *flightsql.Client
	mem  memory.Allocator
	addr string

	// md is attached to every call: the session and the credentials.
	md metadata.MD

	mu   sync.Mutex
	db   string
	mode catalog.Mode

	cat *remoteCatalog
}

// Dial connects to the server, authenticates, opens a session and reads
// its current database and mode.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Addr == "" {
		return nil, errors.New("flightclient: no server address")
	}
	if cfg.Mem == nil {
		cfg.Mem = memory.DefaultAllocator
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	creds := insecure.NewCredentials()
	if cfg.TLS != nil {
		creds = credentials.NewTLS(cfg.TLS)
	}
	fc, err := flightsql.NewClientCtx(ctx, cfg.Addr, nil, nil,
		grpc.WithTransportCredentials(creds),
		// Results stream in messages of up to a few MiB.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.Addr, err)
	}
	fc.Alloc = cfg.Mem
	c := &Client{fc: fc, mem: cfg.Mem, addr: cfg.Addr, md: metadata.MD{}}
	c.cat = &remoteCatalog{c: c}
	if err := c.open(ctx, cfg); err != nil {
		fc.Close()
		return nil, err
	}
	return c, nil
}

// open authenticates and starts the session.
func (c *Client) open(ctx context.Context, cfg Config) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	switch {
	case cfg.User != "":
		actx, err := c.fc.Client.AuthenticateBasicToken(ctx, cfg.User, cfg.Password)
		if err != nil {
			return fmt.Errorf("log in to %s as %s: %w", c.addr, cfg.User, remoteError(err))
		}
		out, _ := metadata.FromOutgoingContext(actx)
		tok := out.Get("authorization")
		if len(tok) == 0 {
			return fmt.Errorf("log in to %s: the server returned no token", c.addr)
		}
		c.md.Set("authorization", tok[len(tok)-1])
	case cfg.Token != "":
		c.md.Set("authorization", "Bearer "+cfg.Token)
	}
	// Any first call gets a session; its id comes back in the headers of
	// this unary call (the cookie middleware would miss those of streams
	// not read to the end, such as ExecuteUpdate's).
	var hdr metadata.MD
	if _, err := c.fc.GetSqlInfo(c.callCtx(ctx), []flightsql.SqlInfo{flightsql.SqlInfoFlightSqlServerName}, grpc.Header(&hdr)); err != nil {
		return fmt.Errorf("connect to %s: %w", c.addr, remoteError(err))
	}
	ids := hdr.Get(SessionHeader)
	if len(ids) == 0 || ids[0] == "" {
		return fmt.Errorf("connect to %s: the server opened no session (is it `magnetar serve`?)", c.addr)
	}
	c.md.Set(SessionHeader, ids[0])
	return c.refresh(ctx)
}

// callCtx attaches the session and credentials to a call.
func (c *Client) callCtx(ctx context.Context) context.Context {
	pairs := make([]string, 0, 2*len(c.md))
	for k, vs := range c.md {
		for _, v := range vs {
			pairs = append(pairs, k, v)
		}
	}
	return metadata.AppendToOutgoingContext(ctx, pairs...)
}

// refresh reads the session's database and mode from the server.
func (c *Client) refresh(ctx context.Context) error {
	res, err := c.fc.GetSessionOptions(c.callCtx(ctx), &flight.GetSessionOptionsRequest{})
	if err != nil {
		return fmt.Errorf("read session options: %w", remoteError(err))
	}
	opts := res.GetSessionOptions()
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := opts[schemaOption]; ok {
		c.db = v.GetStringValue()
	}
	if v, ok := opts[ModeSetting]; ok {
		c.mode = parseMode(v.GetStringValue())
	}
	return nil
}

func parseMode(s string) catalog.Mode {
	switch strings.ToLower(s) {
	case "continuous", "unbounded", "streaming":
		return catalog.Unbounded
	}
	return catalog.Bounded
}

// Close ends the session on the server and the connection.
func (c *Client) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// The server forgets idle sessions anyway; closing is a courtesy.
	_, _ = c.fc.CloseSession(c.callCtx(ctx), &flight.CloseSessionRequest{})
	return c.fc.Close()
}

// Addr is the server address.
func (c *Client) Addr() string { return c.addr }

// Database is the session's current database (as last seen).
func (c *Client) Database() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.db
}

// Mode is the session's scan mode (as last seen).
func (c *Client) Mode() catalog.Mode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mode
}

// Set changes a session setting on the server.
func (c *Client) Set(name, value string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	vals, err := flight.NewSessionOptionValues(map[string]any{name: value})
	if err != nil {
		return fmt.Errorf("set %s: %w", name, err)
	}
	res, err := c.fc.SetSessionOptions(c.callCtx(ctx), &flight.SetSessionOptionsRequest{SessionOptions: vals})
	if err != nil {
		return fmt.Errorf("set %s: %w", name, remoteError(err))
	}
	for n, e := range res.GetErrors() {
		if e.GetValue() == flight.SetSessionOptionsResultErrorInvalidValue {
			return fmt.Errorf("invalid value %q for %s", value, n)
		}
		return fmt.Errorf("set %s: %s", n, e.GetValue())
	}
	return c.refresh(ctx)
}

// Catalog is the server's catalog, read through Flight SQL metadata calls.
func (c *Client) Catalog() catalog.Catalog { return c.cat }
