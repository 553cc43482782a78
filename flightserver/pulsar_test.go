package flightserver

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	pulsarclient "github.com/apache/pulsar-client-go/pulsar"
	"github.com/magnetar-sql/magnetar/catalog/pulsar"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TestPulsarCatalog serves a Pulsar catalog (tenant/namespace databases,
// topics as tables): DDL, inserts, a bounded query, a continuous query
// tailing the topic, listings and a tenant allow-list. Skipped without a
// broker unless MAGNETAR_REQUIRE_PULSAR=1.
func TestPulsarCatalog(t *testing.T) {
	serviceURL, adminURL := testbroker.Require(t)
	ns := testbroker.Namespace(t, adminURL)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cat, err := pulsar.New(ctx, pulsar.Config{ServiceURL: serviceURL, AdminURL: adminURL, RefreshInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	auth, err := ParseAuth([]byte(`{"users": [
		{"name": "pub", "password": "pw", "tenants": ["public"]},
		{"name": "other", "password": "pw", "tenants": ["elsewhere"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Catalog: cat, Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Shutdown()

	cl := dial(t, lis.Addr().String(), clientOpts{noJar: true})
	pub := basic(ctx, "pub", "pw")
	tab := fmt.Sprintf("`%s`.readings", ns)
	mustUpdate(t, pub, cl, `CREATE TABLE `+tab+` (id BIGINT, sensor VARCHAR(16), v DOUBLE)`)
	if n := mustUpdate(t, pub, cl, `INSERT INTO `+tab+` VALUES (1, 'a', 0.5), (2, 'b', 1.5)`); n != 2 {
		t.Errorf("inserted %d", n)
	}
	_, rows := runQuery(t, pub, cl, `SELECT id, sensor, v FROM `+tab+` WHERE id >= 1`)
	if joinRows(rows) != "1,a,0.5|2,b,1.5" {
		t.Errorf("bounded rows %v", rows)
	}

	info, err := cl.GetTables(pub, &flightsql.GetTablesOpts{DbSchemaFilterPattern: &ns, IncludeSchema: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, rows := fetch(t, pub, cl, info); len(rows) != 1 || rows[0][2] != "readings" {
		t.Errorf("tables %v", rows)
	}
	other := basic(ctx, "other", "pw")
	if _, err := cl.Execute(other, `SELECT id FROM `+tab); status.Code(err) != codes.PermissionDenied {
		t.Errorf("other tenant's user: %v", err)
	}

	// Continuous: a session (cookie) in continuous mode tails the topic.
	tail := dial(t, lis.Addr().String(), clientOpts{connect: pub})
	sctx, tcancel := context.WithCancel(pub)
	defer tcancel()
	mustUpdate(t, sctx, tail, `SET magnetar.mode = 'continuous'`)
	info, err = tail.Execute(sctx, `SELECT id, sensor FROM `+tab)
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := tail.DoGet(sctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for len(got) < 2 && rdr.Next() {
		got = append(got, recordRows(rdr.RecordBatch())...)
	}
	mustUpdate(t, pub, cl, `INSERT INTO `+tab+` VALUES (3, 'c', 2.5)`)
	for len(got) < 3 && rdr.Next() {
		got = append(got, recordRows(rdr.RecordBatch())...)
	}
	if g := joinRows(got); g != "1,a|2,b|3,c" {
		t.Errorf("tailed %s (%v)", g, rdr.Err())
	}
	tcancel()
	rdr.Release()
	eventually(t, "continuous Pulsar query to close", func() bool { return srv.RunningQueries() == 0 })

	// A message that is not the table's Avro: skipped, and the warning
	// comes in the DoGet trailer.
	pc, err := pulsarclient.NewClient(pulsarclient.ClientOptions{URL: serviceURL})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	prod, err := pc.CreateProducer(pulsarclient.ProducerOptions{Topic: "persistent://" + ns + "/readings"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prod.Send(ctx, &pulsarclient.ProducerMessage{Payload: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}); err != nil {
		t.Fatal(err)
	}
	prod.Close()
	info, err = cl.Execute(pub, `SELECT id FROM `+tab)
	if err != nil {
		t.Fatal(err)
	}
	var trl metadata.MD
	rdr, err = cl.DoGet(pub, info.Endpoint[0].Ticket, grpc.Trailer(&trl))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rdr.Next() {
		n += int(rdr.RecordBatch().NumRows())
	}
	if err := rdr.Err(); err != nil {
		t.Fatal(err)
	}
	rdr.Release()
	if n != 3 {
		t.Errorf("%d rows after the corrupt message, want 3", n)
	}
	if w := trl.Get(WarningKey); len(w) == 0 || !strings.Contains(strings.Join(w, "|"), "1 message(s)") {
		t.Errorf("warnings %q, want one about the undecodable message", w)
	}
}
