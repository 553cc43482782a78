package flightserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func testAuth(t testing.TB) *Auth {
	t.Helper()
	sum := sha256.Sum256([]byte("alice-pw"))
	a, err := ParseAuth([]byte(`{"users": [
		{"name": "alice", "password": "sha256:` + hex.EncodeToString(sum[:]) + `", "tenants": ["default"]},
		{"name": "bob", "tokens": ["bob-token"], "tenants": ["sales"]},
		{"name": "root", "password": "root-pw", "tenants": ["*"]}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func bearer(ctx context.Context, tok string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

func basic(ctx context.Context, user, pw string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pw)))
}

func TestAuthRefusesAndAccepts(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Auth = testAuth(t) })
	ctx := tctx(t)
	cl := dial(t, ts.addr, clientOpts{noJar: true})

	// No credentials, wrong password, unknown token: Unauthenticated.
	if _, err := cl.Execute(ctx, `SHOW DATABASES`); status.Code(err) != codes.Unauthenticated {
		t.Errorf("anonymous call: %v", err)
	}
	if _, err := cl.Client.AuthenticateBasicToken(ctx, "alice", "nope"); status.Code(err) != codes.Unauthenticated {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := cl.GetCatalogs(bearer(ctx, "forged")); status.Code(err) != codes.Unauthenticated {
		t.Errorf("forged token: %v", err)
	}

	// root (all tenants) sets up two tenants' data, with Basic on the call.
	root := basic(ctx, "root", "root-pw")
	mustUpdate(t, root, cl, createPeople)
	mustUpdate(t, root, cl, insertPeople)
	mustUpdate(t, root, cl, `CREATE DATABASE sales`)
	mustUpdate(t, root, cl, "CREATE TABLE `sales`.orders (oid BIGINT)")
	mustUpdate(t, root, cl, "INSERT INTO `sales`.orders VALUES (10)")

	// alice: handshake (Basic → bearer token), sees only her tenant.
	alice, err := cl.Client.AuthenticateBasicToken(ctx, "alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	_, rows := runQuery(t, alice, cl, `SELECT name FROM people WHERE id = 1`)
	if joinRows(rows) != "ann" {
		t.Errorf("alice rows %v", rows)
	}
	info, err := cl.GetDBSchemas(alice, &flightsql.GetDBSchemasOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if _, rows := fetch(t, alice, cl, info); joinRows(rows) != "magnetar,default" {
		t.Errorf("alice databases %v", rows)
	}
	info, err = cl.GetTables(alice, &flightsql.GetTablesOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if _, rows := fetch(t, alice, cl, info); joinRows(rows) != "magnetar,default,people,TABLE" {
		t.Errorf("alice tables %v", rows)
	}
	if _, err := cl.Execute(alice, "SELECT oid FROM `sales`.orders"); status.Code(err) != codes.PermissionDenied {
		t.Errorf("alice reading sales: %v", err)
	}
	if _, err := cl.ExecuteUpdate(alice, "INSERT INTO `sales`.orders VALUES (11)"); status.Code(err) != codes.PermissionDenied {
		t.Errorf("alice writing sales: %v", err)
	}
	if _, err := cl.ExecuteUpdate(alice, "USE sales"); status.Code(err) != codes.PermissionDenied {
		t.Errorf("alice USE sales: %v", err)
	}

	// bob: static token, the other tenant; starts in his own database.
	bob := bearer(ctx, "bob-token")
	_, rows = runQuery(t, bob, cl, `SELECT oid FROM orders`)
	if joinRows(rows) != "10" {
		t.Errorf("bob rows %v", rows)
	}
	if _, err := cl.Execute(bob, "SELECT name FROM `default`.people"); status.Code(err) != codes.PermissionDenied {
		t.Errorf("bob reading default: %v", err)
	}

	// A ticket is only good for the user it was issued to.
	info, err = cl.Execute(alice, `SELECT id FROM people`)
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := cl.DoGet(bob, info.Endpoint[0].Ticket)
	if err == nil {
		for rdr.Next() {
		}
		err = rdr.Err()
		rdr.Release()
	}
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("bob fetching alice's ticket: %v", err)
	}
	if _, rows := fetch(t, alice, cl, info); len(rows) != 3 {
		t.Errorf("alice's own ticket: %v", rows)
	}
}

func TestLoadAuthFromFileAndEnv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "auth.json")
	if err := os.WriteFile(path, []byte(`{"users":[{"name":"u","password":"p","tenants":["t"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvAuthFile, "")
	t.Setenv(EnvAuth, "")
	if a, err := LoadAuth(""); a != nil || err != nil {
		t.Errorf("no configuration: %v, %v", a, err)
	}
	t.Setenv(EnvAuthFile, path)
	a, err := LoadAuth("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.basic("u", "p"); err != nil {
		t.Error(err)
	}
	if _, err := a.basic("u", "x"); err == nil {
		t.Error("wrong password accepted")
	}
	t.Setenv(EnvAuthFile, "")
	t.Setenv(EnvAuth, `{"users":[{"name":"v","tokens":["tk"],"tenants":["*"]}]}`)
	if a, err = LoadAuth(""); err != nil {
		t.Fatal(err)
	}
	if u, err := a.bearer("tk"); err != nil || u.Name != "v" {
		t.Errorf("env token: %v %v", u, err)
	}
	if _, err := ParseAuth([]byte(`{"users":[{"name":"a"},{"name":"a"}]}`)); err == nil {
		t.Error("duplicate user accepted")
	}
}

// selfSigned makes a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "magnetar test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	ts := startServer(t, func(c *Config) {
		c.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		c.Auth = testAuth(t)
	})
	ctx := tctx(t)
	cl := dial(t, ts.addr, clientOpts{noJar: true, tls: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}})
	root, err := cl.Client.AuthenticateBasicToken(ctx, "root", "root-pw")
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, root, cl, createPeople)
	mustUpdate(t, root, cl, insertPeople)
	_, rows := runQuery(t, root, cl, `SELECT name FROM people WHERE score > 2`)
	if joinRows(rows) != "cy" {
		t.Errorf("rows over TLS %v", rows)
	}
	// A plaintext client cannot talk to a TLS server.
	plain := dial(t, ts.addr, clientOpts{noJar: true})
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := plain.Execute(basic(pctx, "root", "root-pw"), `SELECT 1`); err == nil {
		t.Error("plaintext call to a TLS server succeeded")
	}
}
