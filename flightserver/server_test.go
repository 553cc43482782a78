package flightserver

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const createPeople = `CREATE TABLE people (id BIGINT PRIMARY KEY, name VARCHAR(32), score DOUBLE)`
const insertPeople = `INSERT INTO people VALUES (1, 'ann', 1.5), (2, 'bob', NULL), (3, 'cy', 3.25)`

func TestGoClientQueryAndUpdate(t *testing.T) {
	ts := startServer(t, nil)
	ctx := tctx(t)
	cl := dial(t, ts.addr, clientOpts{})

	if n := mustUpdate(t, ctx, cl, createPeople); n != 0 {
		t.Errorf("CREATE TABLE affected %d rows", n)
	}
	if n := mustUpdate(t, ctx, cl, insertPeople); n != 3 {
		t.Errorf("INSERT affected %d rows, want 3", n)
	}
	sc, rows := runQuery(t, ctx, cl, `SELECT id, name, score FROM people WHERE id >= 2`)
	if got := fmt.Sprint(sc.Field(0).Type, sc.Field(1).Type, sc.Field(2).Type); got != "int64 utf8 float64" {
		t.Errorf("types %s", got)
	}
	if sc.HasField(OpColumn) {
		t.Errorf("bounded result has %s", OpColumn)
	}
	if got, want := joinRows(rows), "2,bob,NULL|3,cy,3.25"; got != want {
		t.Errorf("rows %q, want %q", got, want)
	}

	// A statement without rows sent as a query runs and returns nothing.
	sc, rows = runQuery(t, ctx, cl, `INSERT INTO people VALUES (4, 'dee', 0)`)
	if len(sc.Fields()) != 0 || len(rows) != 0 {
		t.Errorf("INSERT as query: %v %v", sc, rows)
	}
	_, rows = runQuery(t, ctx, cl, `SELECT COUNT(*) FROM people`)
	if joinRows(rows) != "4" {
		t.Errorf("count %v", rows)
	}

	// SQL errors come back as InvalidArgument with the position.
	_, err := cl.Execute(ctx, `SELECT nope FROM people`)
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown column: %v", err)
	}
	_, err = cl.ExecuteUpdate(ctx, `CREATE TABLE people (x INT)`)
	if err == nil {
		t.Error("duplicate CREATE TABLE succeeded")
	}
	// GetExecuteSchema describes without running.
	sr, err := cl.GetExecuteSchema(ctx, `SELECT name, id + 1 AS nxt FROM people`)
	if err != nil {
		t.Fatal(err)
	}
	dsc, err := flight.DeserializeSchema(sr.GetSchema(), memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	if dsc.NumFields() != 2 || dsc.Field(1).Name != "nxt" {
		t.Errorf("schema %v", dsc)
	}
	eventually(t, "queries to finish", func() bool { return ts.RunningQueries() == 0 })
}

func TestSessionStateFollowsCookie(t *testing.T) {
	ts := startServer(t, nil)
	ctx := tctx(t)
	cl := dial(t, ts.addr, clientOpts{})
	mustUpdate(t, ctx, cl, `CREATE DATABASE other`)
	mustUpdate(t, ctx, cl, `USE other`)
	mustUpdate(t, ctx, cl, `CREATE TABLE t (x INT)`)
	mustUpdate(t, ctx, cl, `INSERT INTO t VALUES (7)`)
	// Same client: still in "other".
	_, rows := runQuery(t, ctx, cl, `SELECT x FROM t`)
	if joinRows(rows) != "7" {
		t.Errorf("rows %v", rows)
	}
	// Another client starts in the default database.
	cl2 := dial(t, ts.addr, clientOpts{})
	if _, err := cl2.Execute(ctx, `SELECT x FROM t`); err == nil {
		t.Error("second client sees the first client's current database")
	}
	_, rows = runQuery(t, ctx, cl2, "SELECT x FROM `other`.t")
	if joinRows(rows) != "7" {
		t.Errorf("rows %v", rows)
	}
	// A client without cookies gets a fresh session every call.
	cl3 := dial(t, ts.addr, clientOpts{noJar: true})
	mustUpdate(t, ctx, cl3, `USE other`)
	if _, err := cl3.Execute(ctx, `SELECT x FROM t`); err == nil {
		t.Error("cookie-less client kept a session")
	}
}

func TestMetadata(t *testing.T) {
	ts := startServer(t, nil)
	ctx := tctx(t)
	cl := dial(t, ts.addr, clientOpts{})
	mustUpdate(t, ctx, cl, createPeople)
	mustUpdate(t, ctx, cl, `CREATE DATABASE sales`)
	mustUpdate(t, ctx, cl, "CREATE TABLE `sales`.orders (oid BIGINT, cust VARCHAR(10), PRIMARY KEY (cust, oid))")

	info, err := cl.GetCatalogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, rows := fetch(t, ctx, cl, info); joinRows(rows) != "magnetar" {
		t.Errorf("catalogs %v", rows)
	}
	info, err = cl.GetDBSchemas(ctx, &flightsql.GetDBSchemasOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if _, rows := fetch(t, ctx, cl, info); joinRows(rows) != "magnetar,default|magnetar,sales" {
		t.Errorf("schemas %v", rows)
	}
	pat := "sal%"
	info, err = cl.GetDBSchemas(ctx, &flightsql.GetDBSchemasOpts{DbSchemaFilterPattern: &pat})
	if err != nil {
		t.Fatal(err)
	}
	if _, rows := fetch(t, ctx, cl, info); joinRows(rows) != "magnetar,sales" {
		t.Errorf("filtered schemas %v", rows)
	}

	info, err = cl.GetTables(ctx, &flightsql.GetTablesOpts{IncludeSchema: true})
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := cl.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rdr.Next() {
		rec := rdr.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			names = append(names, rec.Column(1).ValueStr(i)+"."+rec.Column(2).ValueStr(i)+":"+rec.Column(3).ValueStr(i))
			sc, err := flight.DeserializeSchema(rec.Column(4).(*array.Binary).Value(i), memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Column(2).ValueStr(i) == "people" {
				if sc.NumFields() != 3 || sc.Field(1).Name != "name" || sc.Field(1).Type.ID() != arrow.STRING {
					t.Errorf("people schema %v", sc)
				}
				fmd := sc.Field(0).Metadata
				md := flightsql.ColumnMetadata{Data: &fmd}
				if tn, _ := md.TypeName(); tn != "BIGINT" {
					t.Errorf("type name metadata %q", tn)
				}
			}
		}
	}
	rdr.Release()
	if got := strings.Join(names, " "); got != "default.people:TABLE sales.orders:TABLE" {
		t.Errorf("tables %s", got)
	}

	info, err = cl.GetTableTypes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, rows := fetch(t, ctx, cl, info); joinRows(rows) != "TABLE" {
		t.Errorf("table types %v", rows)
	}

	db := "sales"
	info, err = cl.GetPrimaryKeys(ctx, flightsql.TableRef{DBSchema: &db, Table: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	if _, rows := fetch(t, ctx, cl, info); joinRows(rows) != "magnetar,sales,orders,cust,1,NULL|magnetar,sales,orders,oid,2,NULL" {
		t.Errorf("primary keys %v", rows)
	}

	info, err = cl.GetSqlInfo(ctx, []flightsql.SqlInfo{flightsql.SqlInfoFlightSqlServerName, flightsql.SqlInfoFlightSqlServerReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	_, rows := fetch(t, ctx, cl, info)
	if got := joinRows(rows); !strings.Contains(got, "Magnetar") || !strings.Contains(got, "false") {
		t.Errorf("sql info %s", got)
	}
}

func TestPreparedStatements(t *testing.T) {
	ts := startServer(t, nil)
	ctx := tctx(t)
	cl := dial(t, ts.addr, clientOpts{})
	mustUpdate(t, ctx, cl, createPeople)

	ins, err := cl.Prepare(ctx, `INSERT INTO people (id, name, score) VALUES (?, ?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	ps := ins.ParameterSchema()
	if ps.NumFields() != 3 || ps.Field(0).Type.ID() != arrow.INT64 || ps.Field(1).Type.ID() != arrow.STRING || ps.Field(2).Type.ID() != arrow.FLOAT64 {
		t.Fatalf("insert parameter schema %v", ps)
	}
	if upd, ok := ins.IsUpdate(); !ok || !upd {
		t.Errorf("INSERT not reported as an update")
	}
	bld := array.NewRecordBuilder(memory.DefaultAllocator, ps)
	bld.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2, 3}, nil)
	// A hostile value stays a value.
	bld.Field(1).(*array.StringBuilder).AppendValues([]string{"ann", "o'brien \\", "x'); DROP TABLE people; --"}, nil)
	bld.Field(2).(*array.Float64Builder).AppendValues([]float64{1, 2.5, 0}, []bool{true, true, false})
	rec := bld.NewRecordBatch()
	bld.Release()
	ins.SetParameters(rec)
	n, err := ins.ExecuteUpdate(ctx)
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("inserted %d rows, want 3", n)
	}
	if err := ins.Close(ctx); err != nil {
		t.Fatal(err)
	}

	sel, err := cl.Prepare(ctx, `SELECT name, score FROM people WHERE id >= ? AND name <> '?' LIMIT ?`)
	if err != nil {
		t.Fatal(err)
	}
	defer sel.Close(ctx)
	if ds := sel.DatasetSchema(); ds == nil || ds.NumFields() != 2 || ds.Field(0).Name != "name" {
		t.Fatalf("dataset schema %v", sel.DatasetSchema())
	}
	ps = sel.ParameterSchema()
	if ps.NumFields() != 2 || ps.Field(0).Type.ID() != arrow.INT64 || ps.Field(1).Type.ID() != arrow.INT64 {
		t.Fatalf("select parameter schema %v", ps)
	}
	bind := func(from, limit int64) {
		b := array.NewRecordBuilder(memory.DefaultAllocator, ps)
		defer b.Release()
		b.Field(0).(*array.Int64Builder).Append(from)
		b.Field(1).(*array.Int64Builder).Append(limit)
		r := b.NewRecordBatch()
		sel.SetParameters(r)
		r.Release()
	}
	bind(2, 10)
	info, err := sel.Execute(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, rows := fetch(t, ctx, cl, info)
	if got, want := joinRows(rows), `o'brien \,2.5|x'); DROP TABLE people; --,NULL`; got != want {
		t.Errorf("rows %q, want %q", got, want)
	}
	bind(1, 1)
	info, err = sel.Execute(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, rows := fetch(t, ctx, cl, info); joinRows(rows) != "ann,1" {
		t.Errorf("rebound rows %v", rows)
	}

	// Executing without values is refused.
	unbound, err := cl.Prepare(ctx, `SELECT name FROM people WHERE id = ?`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unbound.Execute(ctx); status.Code(err) != codes.InvalidArgument {
		t.Errorf("unbound execute: %v", err)
	}
	unbound.Close(ctx)
}

func TestSubstituteIsSafe(t *testing.T) {
	text := `SELECT '?' AS q, a FROM t WHERE b = ? /* ? */ AND c = ?`
	stmts := mustParse(t, text)
	params := findParams(context.Background(), stmts, nil, "")
	if len(params) != 2 {
		t.Fatalf("found %d params, want 2", len(params))
	}
	out, err := substitute(text, params, []string{quoteString(`x' OR '1'='1`), quoteString(`\'; DROP TABLE t; --`)})
	if err != nil {
		t.Fatal(err)
	}
	want := `SELECT '?' AS q, a FROM t WHERE b = 'x'' OR ''1''=''1' /* ? */ AND c = '\\''; DROP TABLE t; --'`
	if out != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
	if st := mustParse(t, out); len(st) != 1 {
		t.Errorf("%d statements after substitution", len(st))
	}
	if _, err := substitute(text, params, []string{"1", "1; DROP TABLE t"}); err == nil {
		t.Error("a raw literal that adds a statement was accepted")
	}
}

func TestContinuousQueryTailsAndCancels(t *testing.T) {
	ts := startServer(t, nil)
	ctx := tctx(t)
	writer := dial(t, ts.addr, clientOpts{})
	mustUpdate(t, ctx, writer, `CREATE TABLE ev (k BIGINT, v VARCHAR(8))`)
	mustUpdate(t, ctx, writer, `INSERT INTO ev VALUES (1, 'a'), (2, 'b')`)

	reader := dial(t, ts.addr, clientOpts{})
	mustUpdate(t, ctx, reader, `SET magnetar.mode = 'continuous'`)
	info, err := reader.Execute(ctx, `SELECT k, v FROM ev WHERE k <> 3`)
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	rdr, err := reader.DoGet(sctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	if rdr.Schema().HasField(OpColumn) {
		t.Errorf("append-only continuous query has %s", OpColumn)
	}
	var got [][]string
	readUntil := func(n int) {
		for len(got) < n && rdr.Next() {
			got = append(got, recordRows(rdr.RecordBatch())...)
		}
	}
	readUntil(2)
	for i := 0; i < 3; i++ {
		mustUpdate(t, ctx, writer, fmt.Sprintf(`INSERT INTO ev VALUES (%d, 'n%d')`, 3+i, i))
	}
	readUntil(4)
	if joinRows(got) != "1,a|2,b|4,n1|5,n2" {
		t.Errorf("tailed rows %v", got)
	}
	if ts.RunningQueries() != 1 {
		t.Errorf("running queries %d, want 1", ts.RunningQueries())
	}
	cancel()
	for rdr.Next() {
	}
	rdr.Release()
	eventually(t, "continuous query to close after cancel", func() bool { return ts.RunningQueries() == 0 })

	// CancelFlightInfo stops a continuous query from the server side.
	info, err = reader.Execute(ctx, `SELECT k FROM ev`)
	if err != nil {
		t.Fatal(err)
	}
	rdr, err = reader.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	if !rdr.Next() {
		t.Fatal(rdr.Err())
	}
	res, err := reader.CancelFlightInfo(ctx, &flight.CancelFlightInfoRequest{Info: info})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != flight.CancelStatusCancelled {
		t.Errorf("cancel status %v", res.Status)
	}
	for rdr.Next() {
	}
	if status.Code(rdr.Err()) != codes.Canceled {
		t.Errorf("stream after CancelFlightInfo: %v", rdr.Err())
	}
	rdr.Release()
	eventually(t, "cancelled query to close", func() bool { return ts.RunningQueries() == 0 })
}

func TestUpdatingResultHasOpColumn(t *testing.T) {
	ts := startServer(t, nil)
	ctx := tctx(t)
	cl := dial(t, ts.addr, clientOpts{})
	mustUpdate(t, ctx, cl, `CREATE TABLE ev (k VARCHAR(4), n BIGINT)`)
	mustUpdate(t, ctx, cl, `INSERT INTO ev VALUES ('a', 1), ('b', 2)`)
	mustUpdate(t, ctx, cl, `SET magnetar.mode = 'continuous'`)
	info, err := cl.Execute(ctx, `SELECT k, SUM(n) AS s FROM ev GROUP BY k`)
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rdr, err := cl.DoGet(sctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	sc := rdr.Schema()
	if sc.NumFields() != 3 || sc.Field(2).Name != OpColumn {
		t.Fatalf("schema %v", sc)
	}
	var got [][]string
	for len(got) < 2 && rdr.Next() {
		got = append(got, recordRows(rdr.RecordBatch())...)
	}
	w := dial(t, ts.addr, clientOpts{})
	mustUpdate(t, ctx, w, `INSERT INTO ev VALUES ('a', 10)`)
	for len(got) < 4 && rdr.Next() {
		got = append(got, recordRows(rdr.RecordBatch())...)
	}
	if g := joinRows(got); g != "a,1,+I|b,2,+I|a,1,-U|a,11,+U" {
		t.Errorf("changelog %s", g)
	}
	cancel()
	eventually(t, "aggregate query to close", func() bool { return ts.RunningQueries() == 0 })
}

func TestClientVanishesAndUnfetchedQueriesExpire(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.ParkTimeout = 50 * time.Millisecond })
	ctx := tctx(t)
	cl := dial(t, ts.addr, clientOpts{})
	mustUpdate(t, ctx, cl, `CREATE TABLE ev (k BIGINT)`)
	mustUpdate(t, ctx, cl, `INSERT INTO ev VALUES (1)`)
	mustUpdate(t, ctx, cl, `SET magnetar.mode = 'continuous'`)

	// Never fetched: closed by the janitor.
	if _, err := cl.Execute(ctx, `SELECT k FROM ev`); err != nil {
		t.Fatal(err)
	}
	eventually(t, "unfetched query to expire", func() bool { return ts.RunningQueries() == 0 })

	// Fetched by a client whose connection then drops.
	gone := dial(t, ts.addr, clientOpts{})
	mustUpdate(t, ctx, gone, `SET magnetar.mode = 'continuous'`)
	info, err := gone.Execute(ctx, `SELECT k FROM ev`)
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := gone.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	if !rdr.Next() {
		t.Fatal(rdr.Err())
	}
	rdr.Release()
	gone.Close()
	eventually(t, "query of a vanished client to close", func() bool { return ts.RunningQueries() == 0 })
}

func TestManyConcurrentClients(t *testing.T) {
	ts := startServer(t, nil)
	ctx := tctx(t)
	setup := dial(t, ts.addr, clientOpts{})
	mustUpdate(t, ctx, setup, `CREATE TABLE nums (n BIGINT, sq BIGINT)`)
	var vals []string
	for i := 0; i < 200; i++ {
		vals = append(vals, fmt.Sprintf("(%d, %d)", i, i*i))
	}
	mustUpdate(t, ctx, setup, `INSERT INTO nums VALUES `+strings.Join(vals, ", "))

	const clients = 50
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			cl := dial(t, ts.addr, clientOpts{})
			lo := c * 3
			info, err := cl.Execute(ctx, fmt.Sprintf(`SELECT n, sq FROM nums WHERE n >= %d AND n < %d`, lo, lo+4))
			if err != nil {
				errs <- err
				return
			}
			rdr, err := cl.DoGet(ctx, info.Endpoint[0].Ticket)
			if err != nil {
				errs <- err
				return
			}
			defer rdr.Release()
			var rows [][]string
			for rdr.Next() {
				rows = append(rows, recordRows(rdr.RecordBatch())...)
			}
			var want []string
			for n := lo; n < lo+4; n++ {
				want = append(want, fmt.Sprintf("%d,%d", n, n*n))
			}
			if got := joinRows(rows); got != strings.Join(want, "|") {
				errs <- fmt.Errorf("client %d: got %s", c, got)
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	eventually(t, "queries to finish", func() bool { return ts.RunningQueries() == 0 })
}

func TestStalledClientDoesNotBlockOthers(t *testing.T) {
	ts := startServer(t, nil)
	ctx := tctx(t)
	setup := dial(t, ts.addr, clientOpts{})
	mustUpdate(t, ctx, setup, `CREATE TABLE ev (k BIGINT, pad VARCHAR(200))`)
	// Enough rows that the stalled stream fills its buffers.
	for i := 0; i < 20; i++ {
		var vals []string
		for j := 0; j < 500; j++ {
			vals = append(vals, fmt.Sprintf("(%d, '%s')", i*500+j, strings.Repeat("x", 150)))
		}
		mustUpdate(t, ctx, setup, `INSERT INTO ev VALUES `+strings.Join(vals, ", "))
	}

	// The stalled client starts two streams (one bounded, one continuous)
	// in its session and reads nothing.
	stalled := dial(t, ts.addr, clientOpts{})
	sctx, cancel := context.WithCancel(ctx)
	info, err := stalled.Execute(sctx, `SELECT k, pad FROM ev`)
	if err != nil {
		t.Fatal(err)
	}
	r1, err := stalled.DoGet(sctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, ctx, stalled, `SET magnetar.mode = 'continuous'`)
	info, err = stalled.Execute(sctx, `SELECT k FROM ev`)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := stalled.DoGet(sctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}

	// Others, and the stalled client's own session, keep working.
	other := dial(t, ts.addr, clientOpts{})
	for i := 0; i < 10; i++ {
		if _, rows := runQuery(t, ctx, other, fmt.Sprintf(`SELECT pad FROM ev WHERE k = %d`, i*997)); len(rows) != 1 {
			t.Fatalf("other client: %v", rows)
		}
	}
	mustUpdate(t, ctx, stalled, `SET magnetar.mode = 'bounded'`)
	if _, rows := runQuery(t, ctx, stalled, `SELECT COUNT(*) FROM ev`); joinRows(rows) != "10000" {
		t.Errorf("stalled client's own session: %v", rows)
	}
	// The finished queries leave the registry shortly after their
	// streams end; the two stalled ones stay.
	eventually(t, "only the 2 stalled streams to remain", func() bool { return ts.RunningQueries() == 2 })
	cancel()
	r1.Release()
	r2.Release()
	eventually(t, "stalled streams to close", func() bool { return ts.RunningQueries() == 0 })
}

// TestNoGoroutineLeak runs and abandons many continuous queries in every
// way a client can (cancel, disconnect, never fetch) and checks that once
// the server is shut down no goroutine is left behind.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		ts := startServer(t, func(c *Config) { c.ParkTimeout = 20 * time.Millisecond })
		ctx := tctx(t)
		setup := dial(t, ts.addr, clientOpts{})
		mustUpdate(t, ctx, setup, `CREATE TABLE ev (k BIGINT)`)
		mustUpdate(t, ctx, setup, `INSERT INTO ev VALUES (1), (2)`)
		clients := []*flightsql.Client{setup}
		defer func() {
			for _, c := range clients {
				c.Close()
			}
		}()
		for i := 0; i < 10; i++ {
			cl := dial(t, ts.addr, clientOpts{})
			clients = append(clients, cl)
			mustUpdate(t, ctx, cl, `SET magnetar.mode = 'continuous'`)
			info, err := cl.Execute(ctx, `SELECT k FROM ev`)
			if err != nil {
				t.Fatal(err)
			}
			switch i % 3 {
			case 0: // never fetched
			case 1, 2:
				sctx, cancel := context.WithCancel(ctx)
				rdr, err := cl.DoGet(sctx, info.Endpoint[0].Ticket)
				if err != nil {
					t.Fatal(err)
				}
				if !rdr.Next() {
					t.Fatal(rdr.Err())
				}
				if i%3 == 1 {
					cancel() // the client cancels the call
				} else {
					cl.Close() // the connection drops
				}
				rdr.Release()
				cancel()
			}
		}
		eventually(t, "all queries to close", func() bool { return ts.RunningQueries() == 0 })
		ts.Shutdown()
	}()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSessionOptions(t *testing.T) {
	ts := startServer(t, nil)
	ctx := tctx(t)
	cl := dial(t, ts.addr, clientOpts{})
	mustUpdate(t, ctx, cl, `CREATE DATABASE other`)
	mustUpdate(t, ctx, cl, "CREATE TABLE `other`.t (x INT)")
	opts, err := flight.NewSessionOptionValues(map[string]any{"schema": "other", "magnetar.mode": "continuous"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := cl.SetSessionOptions(ctx, &flight.SetSessionOptionsRequest{SessionOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.GetErrors()) != 0 {
		t.Errorf("errors %v", res.GetErrors())
	}
	got, err := cl.GetSessionOptions(ctx, &flight.GetSessionOptionsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	o := got.GetSessionOptions()
	if o["schema"].GetStringValue() != "other" || o["magnetar.mode"].GetStringValue() != "continuous" {
		t.Errorf("options %v", o)
	}
	bad, _ := flight.NewSessionOptionValues(map[string]any{"schema": "nowhere"})
	res, err = cl.SetSessionOptions(ctx, &flight.SetSessionOptionsRequest{SessionOptions: bad})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := res.GetErrors()["schema"]; !ok {
		t.Error("unknown database accepted")
	}
}
