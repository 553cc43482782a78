package pulsar_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/magnetar-sql/magnetar/catalog"
	cpulsar "github.com/magnetar-sql/magnetar/catalog/pulsar"
	"github.com/magnetar-sql/magnetar/engine"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
	"github.com/magnetar-sql/magnetar/nexmark"
	"github.com/magnetar-sql/magnetar/schema"
	"github.com/magnetar-sql/magnetar/sink"
)

// sqlEnv is an engine session over a Pulsar catalog in a fresh namespace.
type sqlEnv struct {
	t   *testing.T
	ctx context.Context
	cat *cpulsar.Catalog
	s   *engine.Session
	ns  string
}

func newSQLEnv(t *testing.T) *sqlEnv {
	t.Helper()
	serviceURL, adminURL := testbroker.Require(t)
	ns := testbroker.Namespace(t, adminURL)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cat, err := cpulsar.New(ctx, cpulsar.Config{
		ServiceURL: serviceURL, AdminURL: adminURL, DefaultDatabase: ns, Allocator: mem,
		RefreshInterval: time.Second,
		Logger:          slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cat.Close()
		mem.AssertSize(t, 0)
	})
	e := engine.New(cat, engine.Options{Mem: mem})
	return &sqlEnv{t: t, ctx: ctx, cat: cat, s: e.NewSession(), ns: ns}
}

// run executes text and returns the last result's status and rows (cells
// joined by tabs, sorted).
func (e *sqlEnv) run(text string) (string, []string) {
	e.t.Helper()
	status, rows, err := e.try(text)
	if err != nil {
		e.t.Fatalf("%s: %v", text, err)
	}
	return status, rows
}

// tabRow renders row i of rec as its cells (NULL, else expr.FormatValue)
// joined by tabs.
func tabRow(rec arrow.RecordBatch, i int) string {
	cells := make([]string, rec.NumCols())
	for j := range cells {
		if rec.Column(j).IsNull(i) {
			cells[j] = "NULL"
		} else {
			cells[j] = expr.FormatValue(rec.Column(j), i)
		}
	}
	return strings.Join(cells, "\t")
}

func (e *sqlEnv) try(text string) (string, []string, error) {
	var status string
	var rows []string
	err := e.s.Run(e.ctx, text, func(r *engine.Result) error {
		status, rows = r.Status, nil
		if r.Rows == nil {
			return nil
		}
		for {
			m, err := r.Rows.Next(e.ctx)
			if err != nil {
				return err
			}
			if m.Kind == exec.MsgEnd {
				break
			}
			if m.Kind != exec.MsgBatch {
				continue
			}
			for i := 0; i < int(m.Batch.Rec.NumRows()); i++ {
				rows = append(rows, tabRow(m.Batch.Rec, i))
			}
			m.Release()
		}
		sort.Strings(rows)
		return nil
	})
	return status, rows, err
}

// scan reads table name with the catalog (metadata columns included) and
// returns its rows as in run.
func (e *sqlEnv) scan(name string, cols ...string) []string {
	e.t.Helper()
	tb, err := e.cat.Table(e.ctx, e.ns, name)
	if err != nil {
		e.t.Fatal(err)
	}
	all := append(tb.Schema().Fields(), tb.MetadataColumns()...)
	var idx []int
	for _, c := range cols {
		found := false
		for i, f := range all {
			if f.Name == c {
				idx, found = append(idx, i), true
			}
		}
		if !found {
			e.t.Fatalf("no column %s", c)
		}
	}
	op, err := tb.Scan(e.ctx, catalog.ScanRequest{Columns: idx, Limit: -1, Mode: catalog.Bounded})
	if err != nil {
		e.t.Fatal(err)
	}
	defer op.Close()
	if err := op.Open(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	var rows []string
	for {
		m, err := op.Next(e.ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		if m.Kind == exec.MsgEnd {
			break
		}
		if m.Kind != exec.MsgBatch {
			continue
		}
		for i := 0; i < int(m.Batch.Rec.NumRows()); i++ {
			rows = append(rows, tabRow(m.Batch.Rec, i))
		}
		m.Release()
	}
	sort.Strings(rows)
	return rows
}

func wantRows(t *testing.T, got []string, want ...string) {
	t.Helper()
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestInsertValuesSelectBack(t *testing.T) {
	e := newSQLEnv(t)
	e.run("CREATE TABLE items (id BIGINT, name VARCHAR(20), price DOUBLE, ts TIMESTAMP(6))")
	tb, err := e.cat.Table(e.ctx, e.ns, "items")
	if err != nil {
		t.Fatal(err)
	}
	ver := tb.(*cpulsar.Table).SchemaVersion()
	status, _ := e.run("INSERT INTO items VALUES (1, 'apple', 1.5, '2024-01-02 03:04:05'), (2, NULL, 2.25, NULL), (3, 'cherry', NULL, '2024-01-03 00:00:00.5')")
	if status != "INSERT 3" {
		t.Fatalf("status %q", status)
	}
	rows := e.scan("items", "id", "name", "price", "ts", "__schema_version")
	v := fmt.Sprint(ver)
	wantRows(t, rows,
		"1\tapple\t1.5\t2024-01-02 03:04:05\t"+v,
		"2\tNULL\t2.25\tNULL\t"+v,
		"3\tcherry\tNULL\t2024-01-03 00:00:00.500000\t"+v)
	// INSERT ... SELECT from the table into itself doubles it, still in the same schema version.
	e.run("INSERT INTO items SELECT id + 10, name, price, ts FROM items")
	vers := map[string]int{}
	for _, r := range e.scan("items", "__schema_version") {
		vers[r]++
	}
	if len(vers) != 1 || vers[v] != 6 {
		t.Fatalf("schema versions %v, want 6 rows of %s", vers, v)
	}
}

func TestInsertRejectsMismatchedColumns(t *testing.T) {
	e := newSQLEnv(t)
	e.run("CREATE TABLE a (id BIGINT, name VARCHAR(10))")
	tb, err := e.cat.Table(e.ctx, e.ns, "a")
	if err != nil {
		t.Fatal(err)
	}
	pt := tb.(*cpulsar.Table)
	// A writer for rows whose "name" is a DOUBLE is refused before anything is sent.
	_, err = pt.NewWriter(e.ctx, doubleNameSchema(), sinkOptions())
	if err == nil || !strings.Contains(err.Error(), `column "name" is DOUBLE but field name`) || !strings.Contains(err.Error(), "VARCHAR") {
		t.Fatalf("err = %v", err)
	}
	_, err = pt.NewWriter(e.ctx, extraColumnSchema(), sinkOptions())
	if err == nil || !strings.Contains(err.Error(), `column "other" is not a field`) {
		t.Fatalf("err = %v", err)
	}
	_, rows := e.run("SELECT count(*) FROM a")
	wantRows(t, rows, "0")
}

func TestCreateTableAsSelect(t *testing.T) {
	e := newSQLEnv(t)
	e.run("CREATE TABLE src (k VARCHAR(10), v BIGINT, d DECIMAL(10,2))")
	e.run("INSERT INTO src VALUES ('a', 1, 1.25), ('b', 2, 2.50), ('a', 3, NULL)")
	status, _ := e.run("CREATE TABLE agg AS SELECT k, sum(v) AS total, count(*) AS n, max(d) AS top FROM src GROUP BY k")
	if status != "CREATE TABLE 2" {
		t.Fatalf("status %q", status)
	}
	_, rows := e.run("SELECT k, total, n, top FROM agg")
	wantRows(t, rows, "a\t4\t2\t1.25", "b\t2\t1\t2.50")
	// The registered schema is the query's: column names and types survive
	// the round trip through the registry.
	tb, err := e.cat.Table(e.ctx, e.ns, "agg")
	if err != nil {
		t.Fatal(err)
	}
	info := tb.(*cpulsar.Table).SchemaInfo()
	if info.Type != schema.TypeAvro {
		t.Fatalf("schema type %s", info.Type)
	}
	var got []string
	for _, f := range tb.Schema().Fields() {
		got = append(got, f.Name+" "+expr.TypeName(f.Type))
	}
	want := []string{"k VARCHAR", "total " + expr.TypeName(tb.Schema().Field(1).Type), "n BIGINT", "top DECIMAL(10,2)"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("columns %v, want %v", got, want)
	}
}

func TestUpsertAndDeleteOnKeyedTable(t *testing.T) {
	e := newSQLEnv(t)
	e.run("CREATE TABLE kv (id BIGINT PRIMARY KEY, name VARCHAR(10))")
	tb, err := e.cat.Table(e.ctx, e.ns, "kv")
	if err != nil {
		t.Fatal(err)
	}
	pt := tb.(*cpulsar.Table)
	w, err := pt.OpenWriter(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	rec := buildKV(mem, []int64{1, 2, 1, 2, 3}, []string{"one", "two", "uno", "two", "three"})
	ops := []exec.ChangeKind{exec.Insert, exec.Insert, exec.UpdateBefore, exec.Delete, exec.UpdateAfter}
	ops[2] = exec.UpdateAfter // +U 1 uno
	// A lone -U (no +U of its key follows in the batch): the row is gone,
	// a delete (sink.PulsarWriter.Write).
	rec2 := buildKV(mem, []int64{1}, []string{"uno"})
	if err := w.Write(e.ctx, exec.Batch{Rec: rec, Ops: ops}); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(e.ctx, exec.Batch{Rec: rec2, Ops: []exec.ChangeKind{exec.UpdateBefore}}); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	rec2.Release()
	if err := w.Close(e.ctx); err != nil {
		t.Fatal(err)
	}
	mem.AssertSize(t, 0)
	// Raw rows (deletes are tombstones without a payload: the scan gives
	// them as rows with the key column recovered from the message key and
	// NULL elsewhere; see upsert.go).
	rows := e.scan("kv", "__key", "id", "name")
	wantRows(t, rows, "1\t1\tNULL", "1\t1\tone", "1\t1\tuno", "2\t2\tNULL", "2\t2\ttwo", "3\t3\tthree")
	// Raw messages: keys, the tombstone's empty payload and op property; no
	// -U where a +U of its key follows.
	got := readRaw(t, e.ctx, e.cat.Client(), pt.Topic())
	want := []string{"1 payload op=", "2 payload op=", "1 payload op=", "2 empty op=-D", "3 payload op=", "1 empty op=-D"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("messages %v, want %v", got, want)
	}
}

func readRaw(t *testing.T, ctx context.Context, client pulsar.Client, topic string) []string {
	t.Helper()
	r, err := client.CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []string
	for r.HasNext() {
		m, err := r.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		kind := "payload"
		if len(m.Payload()) == 0 {
			kind = "empty"
		}
		out = append(out, fmt.Sprintf("%s %s op=%s", m.Key(), kind, m.Properties()["magnetar.op"]))
	}
	return out
}

var _ catalog.Insertable = (*cpulsar.Table)(nil)

func doubleNameSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "name", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
}

func extraColumnSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "other", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
}

func sinkOptions() sink.Options { return sink.Options{} }

func buildKV(mem memory.Allocator, ids []int64, names []string) arrow.RecordBatch {
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, sch)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues(ids, nil)
	b.Field(1).(*array.StringBuilder).AppendValues(names, nil)
	return b.NewRecordBatch()
}

// BenchmarkPassThroughInsert measures INSERT INTO out SELECT * FROM bid
// (bounded, Nexmark bids) through the engine against a bare pulsar-client-go
// read-and-produce loop copying the same topic, in the same run. Run with
// -benchtime=1x; BENCH_BIDS sets the bid count (default 200000).
func BenchmarkPassThroughInsert(b *testing.B) {
	serviceURL, adminURL := testbroker.Require(b)
	ns := testbroker.Namespace(b, adminURL)
	ctx := context.Background()
	bids := int64(200_000)
	if v := os.Getenv("BENCH_BIDS"); v != "" {
		fmt.Sscan(v, &bids)
	}
	events := (bids*50 + 45) / 46
	if _, err := nexmark.Produce(ctx, nexmark.Config{Events: events}, nexmark.ProduceOptions{ServiceURL: serviceURL, AdminURL: adminURL, Namespace: ns}); err != nil {
		b.Fatal(err)
	}
	cat, err := cpulsar.New(ctx, cpulsar.Config{ServiceURL: serviceURL, AdminURL: adminURL, DefaultDatabase: ns,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		b.Fatal(err)
	}
	defer cat.Close()
	s := engine.New(cat, engine.Options{}).NewSession()
	run := func(q string) string {
		var status string
		if err := s.Run(ctx, q, func(r *engine.Result) error { status = r.Status; return nil }); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
		return status
	}
	var engineRate, rawRate float64
	for i := 0; i < b.N; i++ {
		out := fmt.Sprintf("out%d", i)
		run(fmt.Sprintf("CREATE TABLE %s (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR(100), url VARCHAR(200), dateTime TIMESTAMP(6), extra VARCHAR(200))", out))
		start := time.Now()
		status := run(fmt.Sprintf("INSERT INTO %s SELECT * FROM bid", out))
		el := time.Since(start)
		var n int64
		fmt.Sscanf(status, "INSERT %d", &n)
		if n < bids*99/100 {
			b.Fatalf("status %q, want %d rows", status, bids)
		}
		engineRate = float64(n) / el.Seconds()

		start = time.Now()
		m, err := rawCopy(ctx, cat.Client(), testbroker.Topic(ns, "bid"), testbroker.Topic(ns, fmt.Sprintf("raw%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		rawRate = float64(m) / time.Since(start).Seconds()
		if m != n {
			b.Fatalf("raw copy moved %d messages, engine %d rows", m, n)
		}
	}
	b.ReportMetric(engineRate, "engine_rows/s")
	b.ReportMetric(rawRate, "raw_msgs/s")
	b.ReportMetric(engineRate/rawRate, "engine/raw")
}

// rawCopy is the baseline: read every message of from and produce its
// payload, key and event time to to under the same Avro schema, batching as
// the sink does, then wait for every acknowledgement.
func rawCopy(ctx context.Context, client pulsar.Client, from, to string) (int64, error) {
	r, err := client.CreateReader(pulsar.ReaderOptions{Topic: from, StartMessageID: pulsar.EarliestMessageID(), ReceiverQueueSize: 10000})
	if err != nil {
		return 0, err
	}
	defer r.Close()
	p, err := client.CreateProducer(pulsar.ProducerOptions{Topic: to, Schema: pulsar.NewAvroSchema(nexmark.BidAvro, nil),
		BatchingMaxMessages: sink.DefaultBatchingMaxMessages, BatchingMaxPublishDelay: sink.DefaultBatchingMaxDelay})
	if err != nil {
		return 0, err
	}
	defer p.Close()
	var n int64
	var firstErr error
	cb := func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	for r.HasNext() {
		m, err := r.Next(ctx)
		if err != nil {
			return n, err
		}
		p.SendAsync(ctx, &pulsar.ProducerMessage{Payload: m.Payload(), Key: m.Key(), EventTime: m.EventTime()}, cb)
		n++
	}
	if err := p.FlushWithCtx(ctx); err != nil {
		return n, err
	}
	return n, firstErr
}
