package flightserver

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	catmem "github.com/magnetar-sql/magnetar/catalog/memory"
	"github.com/magnetar-sql/magnetar/sql"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// testServer is a server on a random loopback port over a memory catalog,
// with a checked allocator that must be back to zero once the server is
// shut down and the catalog closed.
type testServer struct {
	*Server
	addr string
	cat  *catmem.Catalog
	mem  *memory.CheckedAllocator
}

func startServer(t testing.TB, mod func(*Config)) *testServer {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cat := catmem.New()
	cfg := Config{Catalog: cat, Mem: mem}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	ts := &testServer{Server: srv, addr: lis.Addr().String(), cat: cat, mem: mem}
	t.Cleanup(func() {
		srv.Shutdown()
		if n := srv.RunningQueries(); n != 0 {
			t.Errorf("%d queries still running after shutdown", n)
		}
		cat.Close()
		mem.AssertSize(t, 0)
	})
	return ts
}

type clientOpts struct {
	tls   *tls.Config
	noJar bool
	// connect is the context of the first (unary) call that picks up the
	// session cookie; it carries credentials when auth is on.
	connect context.Context
}

// dial connects the flightsql Go client, with cookies (sessions) unless
// noJar.
func dial(t testing.TB, addr string, o clientOpts) *flightsql.Client {
	t.Helper()
	var mw []flight.ClientMiddleware
	if !o.noJar {
		mw = append(mw, flight.NewClientCookieMiddleware())
	}
	creds := insecure.NewCredentials()
	if o.tls != nil {
		creds = credentials.NewTLS(o.tls)
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	cl, err := flightsql.NewClient(addr, nil, mw, opts...)
	if err != nil {
		t.Fatal(err)
	}
	cl.Alloc = memory.NewCheckedAllocator(memory.NewGoAllocator())
	if !o.noJar {
		// Connect with a unary call, as JDBC does: the Go cookie
		// middleware only sees the headers of unary calls and of streams
		// read to the end, which ExecuteUpdate's DoPut is not.
		cctx := o.connect
		if cctx == nil {
			cctx = context.Background()
		}
		if _, err := cl.GetSqlInfo(cctx, []flightsql.SqlInfo{flightsql.SqlInfoFlightSqlServerName}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		cl.Close()
		cl.Alloc.(*memory.CheckedAllocator).AssertSize(t, 0)
	})
	return cl
}

func tctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustUpdate(t testing.TB, ctx context.Context, cl *flightsql.Client, q string) int64 {
	t.Helper()
	n, err := cl.ExecuteUpdate(ctx, q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// fetch reads a FlightInfo's stream into rows of strings (ValueStr of each
// cell, "NULL" for nulls) and returns the schema too.
func fetch(t testing.TB, ctx context.Context, cl *flightsql.Client, info *flight.FlightInfo) (*arrow.Schema, [][]string) {
	t.Helper()
	rdr, err := cl.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	var rows [][]string
	for rdr.Next() {
		rows = append(rows, recordRows(rdr.RecordBatch())...)
	}
	if err := rdr.Err(); err != nil {
		t.Fatal(err)
	}
	return rdr.Schema(), rows
}

func runQuery(t testing.TB, ctx context.Context, cl *flightsql.Client, q string) (*arrow.Schema, [][]string) {
	t.Helper()
	info, err := cl.Execute(ctx, q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return fetch(t, ctx, cl, info)
}

func recordRows(rec arrow.RecordBatch) [][]string {
	rows := make([][]string, rec.NumRows())
	for i := range rows {
		row := make([]string, rec.NumCols())
		for c := range row {
			col := rec.Column(c)
			if col.IsNull(i) {
				row[c] = "NULL"
			} else {
				row[c] = col.ValueStr(i)
			}
		}
		rows[i] = row
	}
	return rows
}

func joinRows(rows [][]string) string {
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = strings.Join(r, ",")
	}
	return strings.Join(parts, "|")
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustParse(t testing.TB, text string) []sql.Statement {
	t.Helper()
	st, err := sql.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
