package flightserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const lateScript = `CREATE TABLE r (k INT, et TIMESTAMP);
INSERT INTO r VALUES (1, '2024-01-01 10:00:01'), (1, '2024-01-01 10:00:30');
INSERT INTO r VALUES (1, '2024-01-01 10:00:02'), (1, '2024-01-01 10:00:03'), (1, '2024-01-01 10:00:31')`

// Statuses of statements without rows come in the headers of the update;
// warnings found while reading rows in the trailer of the DoGet.
func TestStatusAndWarningsMetadata(t *testing.T) {
	ts := startServer(t, nil)
	cl := dial(t, ts.addr, clientOpts{})
	ctx := tctx(t)

	n, hdr := updateWithHeaders(t, ctx, cl, lateScript)
	if n != 5 {
		t.Errorf("%d rows inserted, want 5", n)
	}
	if got := strings.Join(hdr.Get(StatusKey), "|"); got != "CREATE TABLE|INSERT 2|INSERT 3" {
		t.Errorf("statuses %q", got)
	}

	info, err := cl.Execute(ctx, "SELECT window_start, count(*) AS n FROM r GROUP BY TUMBLE(et, '10 SECONDS')")
	if err != nil {
		t.Fatal(err)
	}
	var trl metadata.MD
	rdr, err := cl.DoGet(ctx, info.Endpoint[0].Ticket, grpc.Trailer(&trl))
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for rdr.Next() {
		rows += int(rdr.RecordBatch().NumRows())
	}
	if err := rdr.Err(); err != nil {
		t.Fatal(err)
	}
	rdr.Release()
	if rows != 2 {
		t.Errorf("%d windows, want 2", rows)
	}
	w := trl.Get(WarningKey)
	if len(w) != 1 || !strings.HasPrefix(w[0], "2 late row(s) dropped") {
		t.Errorf("warnings %q", w)
	}
	if len(trl.Get(StatusKey)) != 0 {
		t.Errorf("a query has no status line: %q", trl.Get(StatusKey))
	}
}

// A text of several statements runs those without rows and returns the
// last one's rows; the trailer has the others' statuses. A query anywhere
// but last is refused, naming its position, before anything runs.
func TestMultiStatement(t *testing.T) {
	ts := startServer(t, nil)
	cl := dial(t, ts.addr, clientOpts{})
	ctx := tctx(t)

	info, err := cl.Execute(ctx, "CREATE TABLE a (x INT);\nINSERT INTO a VALUES (1), (2);\nSELECT x * 10 AS y FROM a ORDER BY y")
	if err != nil {
		t.Fatal(err)
	}
	var trl metadata.MD
	rdr, err := cl.DoGet(ctx, info.Endpoint[0].Ticket, grpc.Trailer(&trl))
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for rdr.Next() {
		got = append(got, recordRows(rdr.RecordBatch())...)
	}
	if err := rdr.Err(); err != nil {
		t.Fatal(err)
	}
	rdr.Release()
	if joinRows(got) != "10|20" {
		t.Errorf("rows %q", joinRows(got))
	}
	if s := strings.Join(trl.Get(StatusKey), "|"); s != "CREATE TABLE|INSERT 2" {
		t.Errorf("statuses %q", s)
	}

	for _, q := range []string{
		"SELECT 1 AS one;\nSELECT 2 AS two",
		"INSERT INTO a VALUES (3);\nSHOW TABLES;\nINSERT INTO a VALUES (4)",
	} {
		_, err := cl.Execute(ctx, q)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "returns rows") {
			t.Errorf("%q: %v, want InvalidArgument", q, err)
		}
	}
	_, err = cl.Execute(ctx, "INSERT INTO a VALUES (3);\nSHOW TABLES;\nINSERT INTO a VALUES (4)")
	if !strings.Contains(err.Error(), "line 2 column 1: statement 2 of 3 returns rows") {
		t.Errorf("error does not name the statement: %v", err)
	}
	// Nothing of the refused texts ran.
	_, rows := runQuery(t, ctx, cl, "SELECT COUNT(*) FROM a")
	if joinRows(rows) != "2" {
		t.Errorf("count %q, want 2", joinRows(rows))
	}
	// Statements without rows only: the result has no columns, the
	// trailer every status.
	info, err = cl.Execute(ctx, "INSERT INTO a VALUES (5); INSERT INTO a VALUES (6), (7)")
	if err != nil {
		t.Fatal(err)
	}
	trl = nil
	rdr, err = cl.DoGet(ctx, info.Endpoint[0].Ticket, grpc.Trailer(&trl))
	if err != nil {
		t.Fatal(err)
	}
	for rdr.Next() {
	}
	if err := rdr.Err(); err != nil {
		t.Fatal(err)
	}
	rdr.Release()
	if s := strings.Join(trl.Get(StatusKey), "|"); s != "INSERT 1|INSERT 2" {
		t.Errorf("statuses %q", s)
	}
}

func TestEscapeMetadata(t *testing.T) {
	if got := escapeMD("100% café\n"); got != "100%25 caf%C3%A9%0A" {
		t.Errorf("escapeMD: %q", got)
	}
}

// updateWithHeaders runs an update as flightsql.Client.ExecuteUpdate does,
// but reads the stream to its end and returns the response headers.
func updateWithHeaders(t *testing.T, ctx context.Context, cl *flightsql.Client, q string) (int64, metadata.MD) {
	t.Helper()
	cmd, err := anypb.New(&pb.CommandStatementUpdate{Query: q})
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := cl.Client.DoPut(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&flight.FlightData{FlightDescriptor: &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: b}}); err != nil {
		t.Fatal(err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	var n int64
	for {
		res, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var upd pb.DoPutUpdateResult
		if err := proto.Unmarshal(res.GetAppMetadata(), &upd); err != nil {
			t.Fatal(err)
		}
		n = upd.GetRecordCount()
	}
	hdr, err := stream.Header()
	if err != nil {
		t.Fatal(err)
	}
	return n, hdr
}

// A prepared text of several statements runs when prepared (its result
// schema needs the statements before the last), its first execution
// streams that run's result, and later executions run it again.
func TestPreparedMultiStatement(t *testing.T) {
	ts := startServer(t, nil)
	cl := dial(t, ts.addr, clientOpts{})
	ctx := tctx(t)

	ps, err := cl.Prepare(ctx, "CREATE TABLE m (x INT);\nINSERT INTO m VALUES (1), (2);\nSELECT SUM(x) AS s FROM m")
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close(ctx)
	if sc := ps.DatasetSchema(); sc == nil || sc.NumFields() != 1 || sc.Field(0).Name != "s" {
		t.Fatalf("dataset schema %v", sc)
	}
	info, err := ps.Execute(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, rows := fetch(t, ctx, cl, info); joinRows(rows) != "3" {
		t.Errorf("first execution %q, want 3", joinRows(rows))
	}
	// The second execution runs the text again: the table exists now.
	if _, err := ps.Execute(ctx); status.Code(err) != codes.AlreadyExists && !strings.Contains(fmt.Sprint(err), "exists") {
		t.Errorf("second execution: %v, want the CREATE TABLE to fail", err)
	}
	_, rows := runQuery(t, ctx, cl, "SELECT COUNT(*) FROM m")
	if joinRows(rows) != "2" {
		t.Errorf("rows inserted %q, want 2 (the text ran once)", joinRows(rows))
	}

	if _, err := cl.Prepare(ctx, "SELECT 1 AS a; INSERT INTO m VALUES (3)"); status.Code(err) != codes.InvalidArgument {
		t.Errorf("query before the last statement prepared: %v", err)
	}
	if _, err := cl.Prepare(ctx, "INSERT INTO m VALUES (?); SELECT x FROM m"); status.Code(err) != codes.InvalidArgument {
		t.Errorf("parameters in a text of several statements: %v", err)
	}
}
