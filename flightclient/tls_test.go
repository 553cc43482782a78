package flightclient

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/magnetar-sql/magnetar/flightserver"
	"github.com/magnetar-sql/magnetar/shell"
)

// selfSigned makes a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "magnetar test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	srv := startServer(t, func(cfg *flightserver.Config) {
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	})
	c := connect(t, srv.addr, func(cfg *Config) { cfg.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12} })
	var out, errw syncBuffer
	sh := newShell(c, c.Catalog(), shell.FormatCSV, &out, &errw)
	if code := sh.RunScript(tctx(t), "", "CREATE TABLE t (x BIGINT); INSERT INTO t VALUES (42); SELECT x FROM t;"); code != 0 {
		t.Fatal(errw.String())
	}
	if out.String() != "x\n42\n" {
		t.Errorf("stdout %q", out.String())
	}
	// Without the CA the server is not trusted; plaintext fails too.
	if _, err := Dial(tctx(t), Config{Addr: srv.addr, TLS: &tls.Config{MinVersion: tls.VersionTLS12}, ConnectTimeout: 2 * time.Second}); err == nil {
		t.Error("untrusted certificate accepted")
	}
	if _, err := Dial(tctx(t), Config{Addr: srv.addr, ConnectTimeout: 2 * time.Second}); err == nil ||
		!strings.Contains(err.Error(), srv.addr) {
		t.Errorf("plaintext to a TLS server: %v", err)
	}
}
