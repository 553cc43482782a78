package flightserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/magnetar-sql/magnetar/catalog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// ErrForbidden is wrapped by refusals to touch another tenant's data.
var ErrForbidden = errors.New("tenant access denied")

// EnvAuthFile names the auth file when --auth-file is not given.
const EnvAuthFile = "MAGNETAR_AUTH_FILE"

// EnvAuth holds the auth file's JSON content itself (for containers that
// pass secrets as variables).
const EnvAuth = "MAGNETAR_AUTH"

// User is one account of the auth file.
type User struct {
	Name string `json:"name"`
	// Password is the password in clear, or "sha256:<hex>" of it.
	Password string `json:"password,omitempty"`
	// Tokens are static bearer tokens for this user (for clients that
	// cannot do the Basic handshake).
	Tokens []string `json:"tokens,omitempty"`
	// Tenants the user may see and query; "*" means all. Empty means
	// none: a user must be granted tenants explicitly.
	Tenants []string `json:"tenants"`
}

func (u *User) allTenants() bool {
	for _, t := range u.Tenants {
		if t == "*" {
			return true
		}
	}
	return false
}

// allows reports whether the user may touch database db.
func (u *User) allows(db string) bool {
	if u == nil {
		return true
	}
	ten := tenantOf(db)
	for _, t := range u.Tenants {
		if t == "*" || strings.EqualFold(t, ten) {
			return true
		}
	}
	return false
}

// tenantOf is the tenant of a database: "tenant/namespace" for Pulsar, the
// whole name for catalogs with flat database names.
func tenantOf(db string) string {
	t, _, _ := strings.Cut(db, "/")
	return t
}

func (u *User) checkPassword(pw string) bool {
	if u.Password == "" {
		return false
	}
	if h, ok := strings.CutPrefix(u.Password, "sha256:"); ok {
		want, err := hex.DecodeString(h)
		if err != nil {
			return false
		}
		got := sha256.Sum256([]byte(pw))
		return subtle.ConstantTimeCompare(want, got[:]) == 1
	}
	return subtle.ConstantTimeCompare([]byte(u.Password), []byte(pw)) == 1
}

// Auth authenticates callers: users with passwords (Basic, or a handshake
// that issues a bearer token) and static bearer tokens.
type Auth struct {
	users  map[string]*User
	static map[string]*User // static token → user

	mu     sync.Mutex
	issued map[string]issuedToken
	ttl    time.Duration
}

type issuedToken struct {
	user    *User
	expires time.Time
}

// authFile is the JSON layout of the auth file:
//
//	{"users": [{"name": "alice", "password": "secret", "tenants": ["public"]},
//	           {"name": "etl", "tokens": ["t0k3n"], "tenants": ["*"]}]}
type authFile struct {
	Users []User `json:"users"`
	// TokenTTL is how long handshake tokens last (Go duration, default 24h).
	TokenTTL string `json:"token_ttl,omitempty"`
}

// NewAuth builds an Auth from users.
func NewAuth(users []User, tokenTTL time.Duration) (*Auth, error) {
	if tokenTTL <= 0 {
		tokenTTL = 24 * time.Hour
	}
	a := &Auth{users: map[string]*User{}, static: map[string]*User{}, issued: map[string]issuedToken{}, ttl: tokenTTL}
	for i := range users {
		u := users[i]
		if u.Name == "" {
			return nil, errors.New("auth: a user without a name")
		}
		if _, dup := a.users[u.Name]; dup {
			return nil, fmt.Errorf("auth: user %q listed twice", u.Name)
		}
		a.users[u.Name] = &u
		for _, t := range u.Tokens {
			if t == "" {
				continue
			}
			if _, dup := a.static[t]; dup {
				return nil, fmt.Errorf("auth: a token of user %q is used twice", u.Name)
			}
			a.static[t] = &u
		}
	}
	return a, nil
}

// ParseAuth reads the auth file format.
func ParseAuth(data []byte) (*Auth, error) {
	var f authFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	var ttl time.Duration
	if f.TokenTTL != "" {
		d, err := time.ParseDuration(f.TokenTTL)
		if err != nil {
			return nil, fmt.Errorf("auth: token_ttl: %w", err)
		}
		ttl = d
	}
	return NewAuth(f.Users, ttl)
}

// LoadAuth reads the auth file at path; with an empty path it uses
// MAGNETAR_AUTH_FILE, then MAGNETAR_AUTH. It returns nil, nil when none is
// configured (no authentication).
func LoadAuth(path string) (*Auth, error) {
	if path == "" {
		path = os.Getenv(EnvAuthFile)
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
		return ParseAuth(data)
	}
	if v := os.Getenv(EnvAuth); v != "" {
		return ParseAuth([]byte(v))
	}
	return nil, nil
}

func (a *Auth) basic(user, pw string) (*User, error) {
	u, ok := a.users[user]
	if !ok || !u.checkPassword(pw) {
		return nil, errors.New("invalid user name or password")
	}
	return u, nil
}

func (a *Auth) issue(u *User) string {
	tok := newID() + newID()
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	// Drop expired tokens while here, so the map does not grow forever.
	for t, it := range a.issued {
		if now.After(it.expires) {
			delete(a.issued, t)
		}
	}
	a.issued[tok] = issuedToken{user: u, expires: now.Add(a.ttl)}
	return tok
}

func (a *Auth) bearer(tok string) (*User, error) {
	if u, ok := a.static[tok]; ok {
		return u, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	it, ok := a.issued[tok]
	if !ok || time.Now().After(it.expires) {
		delete(a.issued, tok)
		return nil, errors.New("invalid or expired token")
	}
	return it.user, nil
}

type userKey struct{}

// userFrom returns the authenticated user of a call; nil without auth.
func userFrom(ctx context.Context) *User {
	u, _ := ctx.Value(userKey{}).(*User)
	return u
}

func userName(u *User) string {
	if u == nil {
		return ""
	}
	return u.Name
}

// authenticate checks a call's credentials. For the Handshake with Basic
// credentials it returns the token to hand back.
func (s *Server) authenticate(ctx context.Context, handshake bool) (*User, string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	if len(vals) == 0 {
		return nil, "", status.Error(codes.Unauthenticated, "authentication required")
	}
	scheme, cred, _ := strings.Cut(strings.TrimSpace(vals[0]), " ")
	cred = strings.TrimSpace(cred)
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		u, err := s.auth.bearer(cred)
		if err != nil {
			return nil, "", status.Error(codes.Unauthenticated, err.Error())
		}
		return u, cred, nil
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			raw, err = base64.RawStdEncoding.DecodeString(cred)
		}
		if err != nil {
			return nil, "", status.Error(codes.Unauthenticated, "malformed Basic credentials")
		}
		name, pw, ok := strings.Cut(string(raw), ":")
		if !ok {
			return nil, "", status.Error(codes.Unauthenticated, "malformed Basic credentials")
		}
		u, err := s.auth.basic(name, pw)
		if err != nil {
			return nil, "", status.Error(codes.Unauthenticated, err.Error())
		}
		tok := ""
		if handshake {
			tok = s.auth.issue(u)
		}
		return u, tok, nil
	}
	return nil, "", status.Errorf(codes.Unauthenticated, "unsupported authorization scheme %q", scheme)
}

// unaryIntercept authenticates a call (when auth is on) and attaches the
// caller's session.
func (s *Server) unaryIntercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if s.auth != nil {
		u, _, err := s.authenticate(ctx, false)
		if err != nil {
			return nil, err
		}
		ctx = context.WithValue(ctx, userKey{}, u)
	}
	return h(s.unarySession(ctx), req)
}

type wrappedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (a *wrappedStream) Context() context.Context { return a.ctx }

func (s *Server) streamIntercept(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if s.auth != nil {
		handshake := strings.HasSuffix(info.FullMethod, "/Handshake")
		u, tok, err := s.authenticate(ss.Context(), handshake)
		if err != nil {
			return err
		}
		if handshake {
			// The token goes in the response headers, where the Java, C++
			// and Go clients all look for it.
			if err := ss.SetHeader(metadata.Pairs("authorization", "Bearer "+tok)); err != nil {
				return status.Errorf(codes.Internal, "handshake: %s", err)
			}
		}
		ss = &wrappedStream{ServerStream: ss, ctx: context.WithValue(ss.Context(), userKey{}, u)}
	}
	return h(srv, &wrappedStream{ServerStream: ss, ctx: s.streamSession(ss)})
}

// tenantCatalog shows a user only the databases of their tenants and
// refuses everything else with ErrForbidden.
type tenantCatalog struct {
	catalog.Catalog
	user *User
}

func (c *tenantCatalog) check(db string) error {
	if !c.user.allows(db) {
		return fmt.Errorf("database %q: %w (tenant %q, user %q)", db, ErrForbidden, tenantOf(db), c.user.Name)
	}
	return nil
}

func (c *tenantCatalog) DefaultDatabase() string {
	d := c.Catalog.DefaultDatabase()
	if c.user.allows(d) {
		return d
	}
	// Start in the first database the user may use, if one exists now.
	dbs, err := c.Databases(context.Background())
	if err == nil && len(dbs) > 0 {
		return dbs[0]
	}
	return d
}

func (c *tenantCatalog) Databases(ctx context.Context) ([]string, error) {
	dbs, err := c.Catalog.Databases(ctx)
	if err != nil {
		return nil, err
	}
	out := dbs[:0:0]
	for _, d := range dbs {
		if c.user.allows(d) {
			out = append(out, d)
		}
	}
	return out, nil
}

func (c *tenantCatalog) Tables(ctx context.Context, db string) ([]string, error) {
	if err := c.check(db); err != nil {
		return nil, err
	}
	return c.Catalog.Tables(ctx, db)
}

func (c *tenantCatalog) Table(ctx context.Context, db, name string) (catalog.Table, error) {
	if err := c.check(db); err != nil {
		return nil, err
	}
	return c.Catalog.Table(ctx, db, name)
}

func (c *tenantCatalog) CreateDatabase(ctx context.Context, db string, ifNotExists bool) error {
	if err := c.check(db); err != nil {
		return err
	}
	return c.Catalog.CreateDatabase(ctx, db, ifNotExists)
}

func (c *tenantCatalog) CreateTable(ctx context.Context, db string, def catalog.TableDef, ifNotExists bool) error {
	if err := c.check(db); err != nil {
		return err
	}
	return c.Catalog.CreateTable(ctx, db, def, ifNotExists)
}

func (c *tenantCatalog) DropTable(ctx context.Context, db, name string, ifExists bool) error {
	if err := c.check(db); err != nil {
		return err
	}
	return c.Catalog.DropTable(ctx, db, name, ifExists)
}
