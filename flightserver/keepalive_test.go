package flightserver

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// freezingProxy forwards TCP connections until frozen; then it stops
// reading and writing but keeps the sockets open, as a client whose
// machine vanished from the network does (no FIN, no RST).
type freezingProxy struct {
	lis    net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	frozen chan struct{}
	once   sync.Once
}

func newFreezingProxy(t *testing.T, target string) *freezingProxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezingProxy{lis: lis, target: target, frozen: make(chan struct{})}
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *freezingProxy) addr() string { return p.lis.Addr().String() }

func (p *freezingProxy) accept() {
	for {
		c, err := p.lis.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go p.pipe(c, s)
		go p.pipe(s, c)
	}
}

// pipe copies in chunks and, once frozen, stops reading for good.
func (p *freezingProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		select {
		case <-p.frozen:
			return
		default:
		}
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *freezingProxy) freeze() { p.once.Do(func() { close(p.frozen) }) }

func (p *freezingProxy) close() {
	p.freeze()
	p.lis.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// A client that vanishes mid-stream (its connection silent, not closed)
// must not hold the query, its goroutines and batches forever: the
// server's keepalive pings find the connection dead and close it.
func TestVanishedClientReleasesQuery(t *testing.T) {
	oldTime, oldTimeout := keepaliveTime, keepaliveTimeout
	keepaliveTime, keepaliveTimeout = time.Second, time.Second
	defer func() { keepaliveTime, keepaliveTimeout = oldTime, oldTimeout }()

	ts := startServer(t, nil)
	addWireTable(t, ts)
	px := newFreezingProxy(t, ts.addr)
	cl := dial(t, px.addr(), clientOpts{})
	ctx := tctx(t)

	// Far more than the flow-control windows and socket buffers hold.
	q := strings.Repeat("SELECT id, name, score FROM wide UNION ALL ", 9) + "SELECT id, name, score FROM wide"
	info, err := cl.Execute(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := cl.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	if !rdr.Next() {
		t.Fatalf("no batch: %v", rdr.Err())
	}
	px.freeze()
	eventually(t, "the query of the vanished client to end", func() bool { return ts.RunningQueries() == 0 })
	px.close()
	for rdr.Next() {
	}
	rdr.Release()
}
