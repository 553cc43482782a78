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
//
// Status lines and warnings come from the server in gRPC metadata
// (x-magnetar-status, x-magnetar-warning: the response headers of an
// update, the trailer of a result stream), so the shell prints exactly
// what it prints in local mode, including warnings known only once the
// rows were read. A server that sends none gets status lines rebuilt from
// the statement's first words and the row count.
package flightclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"
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
	// StatusKey is the metadata key of the status lines of statements
	// without rows (flightserver.StatusKey).
	StatusKey = "x-magnetar-status"
	// WarningKey is the metadata key of statement warnings
	// (flightserver.WarningKey).
	WarningKey = "x-magnetar-warning"
)

// mdValues returns the values of a metadata key, percent-decoded (the
// server percent-encodes what HTTP/2 headers cannot carry).
func mdValues(md metadata.MD, key string) []string {
	vals := md.Get(key)
	if len(vals) == 0 {
		return nil
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = unescapeMD(v)
	}
	return out
}

func unescapeMD(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b = append(b, byte(v))
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return string(b)
}

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

	// auth is the authorization header value ("" without credentials).
	auth string

	mu   sync.Mutex
	sid  string // the server session, sent with every call
	db   string
	mode catalog.Mode
	// notes are warnings for the next result (a lost session).
	notes []string

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
		append(TransportOptions(), grpc.WithTransportCredentials(creds))...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.Addr, err)
	}
	fc.Alloc = cfg.Mem
	c := &Client{fc: fc, mem: cfg.Mem, addr: cfg.Addr}
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
		c.auth = tok[len(tok)-1]
	case cfg.Token != "":
		c.auth = "Bearer " + cfg.Token
	}
	// Any first call gets a session; its id comes back in the headers of
	// this unary call (the cookie middleware would miss those of streams
	// not read to the end, such as ExecuteUpdate's).
	id, err := c.ping(ctx)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", c.addr, remoteError(err))
	}
	if id == "" {
		return fmt.Errorf("connect to %s: the server opened no session (is it `magnetar serve`?)", c.addr)
	}
	c.mu.Lock()
	c.sid = id
	c.mu.Unlock()
	return c.refresh(ctx)
}

// ping makes a cheap unary call and returns the id of the session the
// server created for it, or "" when the call's session was known.
func (c *Client) ping(ctx context.Context) (string, error) {
	var hdr metadata.MD
	_, err := c.fc.GetSqlInfo(c.callCtx(ctx), []flightsql.SqlInfo{flightsql.SqlInfoFlightSqlServerName}, grpc.Header(&hdr))
	return newSession(hdr), err
}

// newSession reads the id of a session the server just created from a
// call's response headers (the server names a session only when new).
func newSession(hdr metadata.MD) string {
	if ids := hdr.Get(SessionHeader); len(ids) > 0 {
		return ids[0]
	}
	return ""
}

// callCtx attaches the session and credentials to a call.
func (c *Client) callCtx(ctx context.Context) context.Context {
	c.mu.Lock()
	sid := c.sid
	c.mu.Unlock()
	pairs := make([]string, 0, 4)
	if sid != "" {
		pairs = append(pairs, SessionHeader, sid)
	}
	if c.auth != "" {
		pairs = append(pairs, "authorization", c.auth)
	}
	return metadata.AppendToOutgoingContext(ctx, pairs...)
}

// adopt switches to a session the server created because it no longer
// knew ours (it restarted, or the session idled out): the database and
// mode are restored on it and the user is told. It reports whether the
// session changed.
func (c *Client) adopt(ctx context.Context, id string) (bool, error) {
	c.mu.Lock()
	if id == "" || id == c.sid {
		c.mu.Unlock()
		return false, nil
	}
	c.sid = id
	db, mode := c.db, c.mode
	c.mu.Unlock()
	modeName := "bounded"
	if mode == catalog.Unbounded {
		modeName = "continuous"
	}
	vals, err := flight.NewSessionOptionValues(map[string]any{schemaOption: db, ModeSetting: modeName})
	if err != nil {
		return true, err
	}
	note := fmt.Sprintf("the server lost this session (restart or idle timeout); database %s and %s mode were restored, other SET settings were not", db, modeName)
	res, err := c.fc.SetSessionOptions(c.callCtx(ctx), &flight.SetSessionOptionsRequest{SessionOptions: vals})
	if err != nil {
		return true, fmt.Errorf("restore the session: %w", remoteError(err))
	}
	if len(res.GetErrors()) > 0 {
		note = fmt.Sprintf("the server lost this session (restart or idle timeout) and database %s could not be restored", db)
	}
	if err := c.refresh(ctx); err != nil {
		return true, err
	}
	c.mu.Lock()
	c.notes = append(c.notes, note)
	c.mu.Unlock()
	return true, nil
}

// takeNotes returns and clears the pending warnings.
func (c *Client) takeNotes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.notes
	c.notes = nil
	return n
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
	if err := c.checkSession(ctx); err != nil {
		return err
	}
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
