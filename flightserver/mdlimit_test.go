package flightserver

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// javaHeaderLimit is the metadata size grpc-java (the Flight SQL JDBC
// driver) accepts by default and advertises in SETTINGS_MAX_HEADER_LIST_SIZE.
const javaHeaderLimit = 8 << 10

// dialLimited is dial with the header list size of grpc-java's default.
func dialLimited(t *testing.T, addr string) *flightsql.Client {
	t.Helper()
	cl, err := flightsql.NewClient(addr, nil, []flight.ClientMiddleware{flight.NewClientCookieMiddleware()},
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithMaxHeaderListSize(javaHeaderLimit))
	if err != nil {
		t.Fatal(err)
	}
	cl.Alloc = memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() {
		cl.Close()
		cl.Alloc.(*memory.CheckedAllocator).AssertSize(t, 0)
	})
	return cl
}

// A script of many statements has more statuses than a client takes in
// its headers or trailer: the call still succeeds, with the metadata cut
// short and saying how many values were left out.
func TestManyStatusesFitHeaderLimit(t *testing.T) {
	ts := startServer(t, nil)
	cl := dialLimited(t, ts.addr)
	ctx := tctx(t)

	var b strings.Builder
	b.WriteString("CREATE TABLE big (x INT);\n")
	const n = 600
	for i := range n {
		fmt.Fprintf(&b, "INSERT INTO big VALUES (%d);\n", i)
	}
	got, hdr := updateWithHeaders(t, ctx, cl, b.String())
	if got != n {
		t.Errorf("%d rows inserted, want %d", got, n)
	}
	checkCut(t, "update headers", hdr.Get(StatusKey), n+1)

	info, err := cl.Execute(ctx, strings.ReplaceAll(b.String(), "big", "big2")+"SELECT COUNT(*) AS c FROM big2")
	if err != nil {
		t.Fatal(err)
	}
	var trl metadata.MD
	rdr, err := cl.DoGet(ctx, info.Endpoint[0].Ticket, grpc.Trailer(&trl))
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	for rdr.Next() {
		rows = append(rows, recordRows(rdr.RecordBatch())...)
	}
	if err := rdr.Err(); err != nil {
		t.Fatalf("DoGet of a long script: %v", err)
	}
	rdr.Release()
	if joinRows(rows) != fmt.Sprint(n) {
		t.Errorf("count %q, want %d", joinRows(rows), n)
	}
	checkCut(t, "DoGet trailer", trl.Get(StatusKey), n+1)
}

func checkCut(t *testing.T, where string, vals []string, total int) {
	t.Helper()
	if len(vals) < 10 || len(vals) >= total {
		t.Fatalf("%s: %d statuses of %d", where, len(vals), total)
	}
	if vals[0] != "CREATE TABLE" || vals[1] != "INSERT 1" {
		t.Errorf("%s: first statuses %q", where, vals[:2])
	}
	// The last status (a client's outcome of the script) is kept, after
	// the note of what was left out.
	shown := len(vals) - 1
	want := fmt.Sprintf("(%d more not shown)", total-shown)
	if vals[len(vals)-2] != want || vals[len(vals)-1] != "INSERT 1" {
		t.Errorf("%s: last values %q, want %q then the last status", where, vals[len(vals)-2:], want)
	}
}

// One very long warning is cut, not dropped, and the cut keeps the
// percent-encoding whole.
func TestMetadataValueCut(t *testing.T) {
	o := outcome{warnings: []string{strings.Repeat("é", 5000)}}
	md := o.md()
	v := md.Get(WarningKey)
	if len(v) != 1 {
		t.Fatalf("%d warnings", len(v))
	}
	if len(v[0]) > mdValueMax {
		t.Errorf("value of %d bytes", len(v[0]))
	}
	if !strings.HasSuffix(v[0], "...") || strings.Contains(v[0][len(v[0])-6:], "%C3...") {
		t.Errorf("cut value ends %q", v[0][len(v[0])-12:])
	}
}

// A prepared INSERT executed with many parameter rows (JDBC's
// executeBatch) runs once per row: the statuses of all runs go in one
// bounded header, not one header value per run.
func TestPreparedBatchFitsHeaderLimit(t *testing.T) {
	ts := startServer(t, nil)
	cl := dialLimited(t, ts.addr)
	ctx := tctx(t)
	mustUpdate(t, ctx, cl, "CREATE TABLE pb (x BIGINT)")
	ps, err := cl.Prepare(ctx, "INSERT INTO pb VALUES (?)")
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close(ctx)
	const n = 300
	b := array.NewRecordBuilder(memory.DefaultAllocator, ps.ParameterSchema())
	defer b.Release()
	for i := range n {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	ps.SetParameters(rec)
	got, err := ps.ExecuteUpdate(ctx)
	if err != nil {
		t.Fatalf("batch of %d rows: %v", n, err)
	}
	if got != n {
		t.Errorf("%d rows inserted, want %d", got, n)
	}
}
