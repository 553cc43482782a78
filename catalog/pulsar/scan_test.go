package pulsar

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/admin"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/admin/config"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/expr"
)

const orderAvro = `{"type":"record","name":"Order","fields":[` +
	`{"name":"id","type":"long"},` +
	`{"name":"item","type":"string"},` +
	`{"name":"price","type":["null","double"],"default":null}]}`

func orderMsgs(t testing.TB, from, n int) []*pulsar.ProducerMessage {
	var out []*pulsar.ProducerMessage
	for i := from; i < from+n; i++ {
		var price any
		if i%5 != 0 {
			price = float64(i) + 0.5
		}
		out = append(out, &pulsar.ProducerMessage{
			Key:        fmt.Sprintf("k%d", i%7),
			Payload:    encode(t, orderAvro, map[string]any{"id": int64(i), "item": fmt.Sprintf("item-%d", i), "price": price}),
			Properties: map[string]string{"src": "test", "n": strconv.Itoa(i)},
			EventTime:  time.UnixMilli(1_700_000_000_000 + int64(i)),
		})
	}
	return out
}

// TestScanAvro reads back an Avro topic written by pulsar-client-go, with
// every metadata column.
func TestScanAvro(t *testing.T) {
	e := newEnv(t, Config{})
	p := e.producer(e.topic("orders"), orderAvro, true)
	sendAll(t, e.ctx, p, orderMsgs(t, 0, 50))

	tb := e.table("orders")
	if got := fmt.Sprint(tb.Schema()); !strings.Contains(got, "id: type=int64") || !strings.Contains(got, "item: type=utf8") || !strings.Contains(got, "price: type=float64, nullable") {
		t.Fatalf("schema = %s", got)
	}
	if tb.Partitions() != 0 || tb.SchemaVersion() != 0 {
		t.Fatalf("partitions=%d version=%d", tb.Partitions(), tb.SchemaVersion())
	}
	rows, src := scanRows(t, e.ctx, tb, catalog.ScanRequest{})
	if len(rows) != 50 {
		t.Fatalf("got %d rows, want 50", len(rows))
	}
	want := map[string]bool{}
	for i := range 50 {
		price := "NULL"
		if i%5 != 0 {
			price = strconv.FormatFloat(float64(i)+0.5, 'g', -1, 64)
		}
		want[fmt.Sprintf("%d|item-%d|%s", i, i, price)] = true
	}
	for _, r := range rows {
		if !want[r] {
			t.Errorf("unexpected row %q", r)
		}
		delete(want, r)
	}
	if len(want) > 0 {
		t.Errorf("missing rows: %v", want)
	}
	if st := src.Stats(); st.MessagesRead != 50 || st.Rows != 50 || st.DecodeErrors != 0 {
		t.Errorf("stats = %+v", st)
	}

	// Metadata columns.
	nv := tb.Schema().NumFields()
	cols := []int{0}
	for m := range metaFields {
		cols = append(cols, nv+m)
	}
	rows, _ = scanRows(t, e.ctx, tb, catalog.ScanRequest{Columns: cols})
	for _, r := range rows {
		c := strings.Split(r, "|")
		id, _ := strconv.Atoi(c[0])
		if c[1] != fmt.Sprintf("k%d", id%7) {
			t.Errorf("row %d: __key = %s", id, c[1])
		}
		if c[2] != e.topic("orders") || c[3] != "-1" {
			t.Errorf("row %d: __topic = %s __partition = %s", id, c[2], c[3])
		}
		if parts := strings.Split(c[4], ":"); len(parts) != 4 || parts[2] != "-1" {
			t.Errorf("row %d: __message_id = %s", id, c[4])
		}
		if pt, err := time.Parse(time.RFC3339Nano, c[5]); err != nil || time.Since(pt) > time.Hour {
			t.Errorf("row %d: __publish_time = %s (%v)", id, c[5], err)
		}
		if et, err := time.Parse(time.RFC3339Nano, c[6]); err != nil || et.UnixMilli() != 1_700_000_000_000+int64(id) {
			t.Errorf("row %d: __event_time = %s (%v)", id, c[6], err)
		}
		if c[7] == "NULL" || c[8] != "NULL" {
			t.Errorf("row %d: __producer = %s __sequence_id = %s", id, c[7], c[8])
		}
		if !strings.Contains(c[9], "n") || !strings.Contains(c[9], strconv.Itoa(id)) || !strings.Contains(c[9], "src") {
			t.Errorf("row %d: __properties = %s", id, c[9])
		}
		if c[10] != "0" {
			t.Errorf("row %d: __schema_version = %s", id, c[10])
		}
	}

	// Only metadata columns: the payloads are still decoded (and counted), no table column is kept.
	rows, _ = scanRows(t, e.ctx, tb, catalog.ScanRequest{Columns: []int{nv + metaKey}})
	keys := map[string]int{}
	for _, r := range rows {
		keys[r]++
	}
	if len(rows) != 50 || len(keys) != 7 || keys["k0"] != 8 {
		t.Errorf("__key only: %d rows, keys %v", len(rows), keys)
	}

	// Projection order and duplicates, and a limit.
	rows, _ = scanRows(t, e.ctx, tb, catalog.ScanRequest{Columns: []int{1, 0, 1}, Limit: 7})
	if len(rows) != 7 {
		t.Fatalf("limit 7: got %d rows", len(rows))
	}
	for _, r := range rows {
		c := strings.Split(r, "|")
		if c[0] != "item-"+c[1] || c[2] != c[0] {
			t.Errorf("projected row %q", r)
		}
	}
}

// TestPartitioned reads a partitioned topic as one table and pushes
// __partition predicates down exactly.
func TestPartitioned(t *testing.T) {
	e := newEnv(t, Config{})
	tn, _ := parseTopic(e.topic("parts"))
	if err := e.cat.admin.Topics().Create(*tn, 3); err != nil {
		t.Fatal(err)
	}
	p := e.producer(e.topic("parts"), orderAvro, true)
	sendAll(t, e.ctx, p, orderMsgs(t, 0, 300))

	names, err := e.cat.Tables(e.ctx, e.ns)
	if err != nil || len(names) != 1 || names[0] != "parts" {
		t.Fatalf("Tables = %v, %v", names, err)
	}
	tb := e.table("parts")
	if tb.Partitions() != 3 {
		t.Fatalf("partitions = %d", tb.Partitions())
	}
	part := colIndex(t, tb, ColPartition)
	rows, src := scanRows(t, e.ctx, tb, catalog.ScanRequest{Columns: []int{0, part}})
	if len(rows) != 300 || src.Stats().Partitions != 3 {
		t.Fatalf("got %d rows from %d partitions", len(rows), src.Stats().Partitions)
	}
	perPart := map[string]int{}
	ids := map[string]bool{}
	for _, r := range rows {
		c := strings.Split(r, "|")
		perPart[c[1]]++
		ids[c[0]] = true
	}
	if len(ids) != 300 || len(perPart) != 3 {
		t.Fatalf("distinct ids %d, partitions %v", len(ids), perPart)
	}

	eq := &call{Name: "=", Args: []expr.Expr{colRef(tb, part), intLit(1)}}
	if s := tb.SupportsFilter(eq); s != catalog.Exact {
		t.Fatalf("SupportsFilter(__partition = 1) = %v", s)
	}
	rows, src = scanRows(t, e.ctx, tb, catalog.ScanRequest{Columns: []int{0, part}, Filters: []expr.Expr{eq}})
	if len(rows) != perPart["1"] || src.Stats().MessagesRead != int64(perPart["1"]) {
		t.Fatalf("__partition = 1: %d rows, %d read, want %d", len(rows), src.Stats().MessagesRead, perPart["1"])
	}
	for _, r := range rows {
		if !strings.HasSuffix(r, "|1") {
			t.Fatalf("row %q not in partition 1", r)
		}
	}
	in := &inList{Arg: colRef(tb, part), List: []expr.Expr{intLit(0), intLit(2)}}
	if s := tb.SupportsFilter(in); s != catalog.Exact {
		t.Fatalf("SupportsFilter(IN) = %v", s)
	}
	rows, _ = scanRows(t, e.ctx, tb, catalog.ScanRequest{Columns: []int{0, part}, Filters: []expr.Expr{in}})
	if len(rows) != perPart["0"]+perPart["2"] {
		t.Fatalf("IN (0,2): %d rows, want %d", len(rows), perPart["0"]+perPart["2"])
	}
}

// TestSnapshotConsistency scans while a producer keeps writing: the scan
// returns exactly a prefix of the messages, ending between what was
// acknowledged before Open and what was acknowledged after it.
func TestSnapshotConsistency(t *testing.T) {
	e := newEnv(t, Config{})
	p := e.producer(e.topic("live"), orderAvro, false)
	sendAll(t, e.ctx, p, orderMsgs(t, 0, 200))

	ctx, stop := context.WithCancel(e.ctx)
	acked := make(chan int, 1)
	var lastAck atomic.Int64
	lastAck.Store(199)
	go func() {
		defer close(acked)
		for i := 200; ctx.Err() == nil; i++ {
			if _, err := p.Send(ctx, orderMsgs(t, i, 1)[0]); err != nil {
				return
			}
			lastAck.Store(int64(i))
		}
	}()
	time.Sleep(200 * time.Millisecond)
	tb := e.table("live")
	before := lastAck.Load()
	op, err := tb.Scan(e.ctx, catalog.ScanRequest{Limit: -1, Columns: []int{0}})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Open(e.ctx); err != nil {
		t.Fatal(err)
	}
	after := lastAck.Load()
	var ids []int64
	for {
		m, err := op.Next(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind != 0 {
			break
		}
		ids = append(ids, int64Values(m.Batch.Rec, 0)...)
		m.Release()
	}
	op.Close()
	// Keep producing a little after the scan ended, then stop.
	time.Sleep(100 * time.Millisecond)
	stop()
	<-acked
	n := int64(len(ids))
	if n < before+1 || n > after+1 {
		t.Fatalf("snapshot has %d rows; acknowledged before open %d, after open %d", n, before+1, after+1)
	}
	seen := make([]bool, n)
	for _, id := range ids {
		if id < 0 || id >= n || seen[id] {
			t.Fatalf("row id %d outside the prefix 0..%d or duplicated", id, n-1)
		}
		seen[id] = true
	}
	if lastAck.Load() <= n {
		t.Fatalf("producer stopped too early (%d) to test the snapshot end", lastAck.Load())
	}
}

// TestUnboundedTail sees messages produced after the scan started.
func TestUnboundedTail(t *testing.T) {
	e := newEnv(t, Config{Linger: 20 * time.Millisecond})
	p := e.producer(e.topic("tail"), orderAvro, true)
	sendAll(t, e.ctx, p, orderMsgs(t, 0, 10))
	tb := e.table("tail")

	for _, tc := range []struct {
		start string
		want  int
	}{{"earliest", 20}, {"latest", 10}} {
		op, err := tb.Scan(e.ctx, catalog.ScanRequest{Limit: -1, Columns: []int{0}, Mode: catalog.Unbounded, Options: map[string]string{"start": tc.start}})
		if err != nil {
			t.Fatal(err)
		}
		if err := op.Open(e.ctx); err != nil {
			t.Fatal(err)
		}
		base := 10 + 10*boolInt(tc.start == "latest")
		go func() {
			time.Sleep(300 * time.Millisecond)
			sendAll(t, e.ctx, p, orderMsgs(t, base, 10))
		}()
		ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
		got := map[int64]bool{}
		for len(got) < tc.want {
			m, err := op.Next(ctx)
			if err != nil {
				t.Fatalf("start=%s: after %d rows: %v", tc.start, len(got), err)
			}
			if m.Kind == 0 {
				for _, id := range int64Values(m.Batch.Rec, 0) {
					got[id] = true
				}
			}
			m.Release()
		}
		cancel()
		op.Close()
		if tc.start == "latest" && (got[0] || !got[int64(base)]) {
			t.Errorf("start=latest read old messages or missed new ones: %v", got)
		}
		if len(got) != tc.want {
			t.Errorf("start=%s: %d rows, want %d", tc.start, len(got), tc.want)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestUnboundedBrokerTimeout: when the broker stays unreachable, an
// unbounded scan fails after Config.BrokerTimeout instead of waiting
// forever. The admin side is pointed at a dead address; the data side
// stays connected and idle.
func TestUnboundedBrokerTimeout(t *testing.T) {
	e := newEnv(t, Config{})
	p := e.producer(e.topic("quiet"), orderAvro, false)
	sendAll(t, e.ctx, p, orderMsgs(t, 0, 1))
	tb := e.table("quiet")
	deadAdmin, err := admin.New(&config.Config{WebServiceURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.cat.cfg
	cfg.RefreshInterval, cfg.BrokerTimeout = 50*time.Millisecond, 300*time.Millisecond
	dead := &Catalog{cfg: cfg, admin: deadAdmin, client: e.cat.client, http: e.cat.http, log: e.cat.log,
		topics: map[string]*cached[topicList]{}, tables: map[string]*cached[*Table]{}, versionsByTopic: map[string]*versionCache{}, dlq: map[string]pulsar.Producer{}}
	t2 := *tb
	t2.cat = dead
	op, err := t2.Scan(e.ctx, catalog.ScanRequest{Limit: -1, Columns: []int{0}, Mode: catalog.Unbounded})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Open(e.ctx); err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	start := time.Now()
	for {
		m, err := op.Next(e.ctx)
		if err != nil {
			if !strings.Contains(err.Error(), "broker unreachable") {
				t.Fatalf("error = %v", err)
			}
			break
		}
		m.Release()
		if time.Since(start) > 20*time.Second {
			t.Fatal("no error after 20s")
		}
	}
}
