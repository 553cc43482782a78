package sink_test

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
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
	"github.com/magnetar-sql/magnetar/sink"
)

type env struct {
	t   *testing.T
	ctx context.Context
	cat *cpulsar.Catalog
	ns  string
	mem *memory.CheckedAllocator
}

func newEnv(t *testing.T) *env {
	t.Helper()
	serviceURL, adminURL := testbroker.Require(t)
	ns := testbroker.Namespace(t, adminURL)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cat, err := cpulsar.New(ctx, cpulsar.Config{ServiceURL: serviceURL, AdminURL: adminURL, DefaultDatabase: ns,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() {
		cat.Close()
		mem.AssertSize(t, 0)
	})
	return &env{t: t, ctx: ctx, cat: cat, ns: ns, mem: mem}
}

func (e *env) table(name string) *cpulsar.Table {
	e.t.Helper()
	e.cat.Refresh()
	tb, err := e.cat.Table(e.ctx, e.ns, name)
	if err != nil {
		e.t.Fatal(err)
	}
	return tb.(*cpulsar.Table)
}

// register creates topic name with a schema registered by a client producer.
func (e *env) register(name string, s pulsar.Schema) {
	e.t.Helper()
	p, err := e.cat.Client().CreateProducer(pulsar.ProducerOptions{Topic: testbroker.Topic(e.ns, name), Schema: s})
	if err != nil {
		e.t.Fatal(err)
	}
	p.Close()
}

type raw struct {
	key       string
	payload   string
	eventTime time.Time
	topic     string
	version   string
}

func (e *env) readAll(topic string) []raw {
	e.t.Helper()
	r, err := e.cat.Client().CreateReader(pulsar.ReaderOptions{Topic: topic, StartMessageID: pulsar.EarliestMessageID()})
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Close()
	var out []raw
	for r.HasNext() {
		m, err := r.Next(e.ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, raw{m.Key(), string(m.Payload()), m.EventTime(), m.Topic(), fmt.Sprint(m.SchemaVersion())})
	}
	return out
}

func TestJSONSchemaTopicKeysAndEventTime(t *testing.T) {
	e := newEnv(t)
	def := `{"type":"record","name":"R","fields":[{"name":"id","type":"long"},{"name":"name","type":["null","string"]},{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}}]}`
	e.register("j", pulsar.NewJSONSchema(def, nil))
	tb := e.table("j")
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_us},
	}, nil)
	w, err := sink.NewPulsarWriter(e.cat.Client(), tb.Topic(), tb.SchemaInfo(), sch, sink.Options{KeyColumns: []string{"id"}, EventTimeColumn: "ts", Compression: "zstd"})
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(e.mem, sch)
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{7, 8}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"x", ""}, []bool{true, false})
	b.Field(2).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1_700_000_000_123_000, 1_700_000_001_000_000}, nil)
	rec := b.NewRecordBatch()
	b.Release()
	err = w.Write(e.ctx, exec.Batch{Rec: rec})
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(e.ctx); err != nil {
		t.Fatal(err)
	}
	msgs := e.readAll(tb.Topic())
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
	for i, want := range []struct{ key, payload string }{
		{"7", `{"id":7,"name":"x","ts":1700000000123}`},
		{"8", `{"id":8,"name":null,"ts":1700000001000}`},
	} {
		m := msgs[i]
		if m.key != want.key || strings.ReplaceAll(m.payload, " ", "") != want.payload {
			t.Errorf("message %d: key %q payload %s, want %q %s", i, m.key, m.payload, want.key, want.payload)
		}
	}
	if got := msgs[0].eventTime.UnixMilli(); got != 1_700_000_000_123 {
		t.Errorf("event time %d", got)
	}
	// The schema is the registered one: no new version appeared.
	e.cat.Refresh()
	if v := e.table("j").SchemaVersion(); v != tb.SchemaVersion() {
		t.Errorf("schema version %d after writing, was %d", v, tb.SchemaVersion())
	}
}

func TestPrimitiveSchemaAndPartitionRouting(t *testing.T) {
	e := newEnv(t)
	err := e.cat.CreateTable(e.ctx, e.ns, catalog.TableDef{Name: "p", Partitions: 3, Schema: arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.BinaryTypes.String}, {Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)}, false)
	if err != nil {
		t.Fatal(err)
	}
	tb := e.table("p")
	sch := tb.Schema()
	w, err := sink.NewPulsarWriter(e.cat.Client(), tb.Topic(), tb.SchemaInfo(), sch, sink.Options{KeyColumns: []string{"k"}, Compression: "lz4", BatchingMaxMessages: 50})
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(e.mem, sch)
	const n = 600
	for i := 0; i < n; i++ {
		b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("key%d", i%20))
		b.Field(1).(*array.Int64Builder).Append(int64(i))
	}
	rec := b.NewRecordBatch()
	b.Release()
	err = w.Write(e.ctx, exec.Batch{Rec: rec})
	rec.Release()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(e.ctx); err != nil {
		t.Fatal(err)
	}
	partOf := map[string]string{}
	parts := map[string]bool{}
	total := 0
	for p := 0; p < 3; p++ {
		for _, m := range e.readAll(fmt.Sprintf("%s-partition-%d", tb.Topic(), p)) {
			total++
			if prev, ok := partOf[m.key]; ok && prev != m.topic {
				t.Fatalf("key %s in %s and %s", m.key, prev, m.topic)
			}
			partOf[m.key] = m.topic
			parts[m.topic] = true
		}
	}
	if total != n || len(partOf) != 20 || len(parts) < 2 {
		t.Fatalf("%d messages, %d keys over %d partitions", total, len(partOf), len(parts))
	}

	// A STRING topic takes one VARCHAR column named value.
	e.register("s", pulsar.NewStringSchema(nil))
	st := e.table("s")
	vs := arrow.NewSchema([]arrow.Field{{Name: "value", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	sw, err := sink.NewPulsarWriter(e.cat.Client(), st.Topic(), st.SchemaInfo(), vs, sink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sb := array.NewRecordBuilder(e.mem, vs)
	sb.Field(0).(*array.StringBuilder).AppendValues([]string{"hello", "world"}, nil)
	srec := sb.NewRecordBatch()
	sb.Release()
	err = sw.Write(e.ctx, exec.Batch{Rec: srec})
	srec.Release()
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.Close(e.ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range e.readAll(st.Topic()) {
		got = append(got, m.payload)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "hello,world" {
		t.Fatalf("payloads %v", got)
	}
}

func TestOptionErrors(t *testing.T) {
	e := newEnv(t)
	err := e.cat.CreateTable(e.ctx, e.ns, catalog.TableDef{Name: "o", Schema: arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.BinaryTypes.String}}, nil)}, false)
	if err != nil {
		t.Fatal(err)
	}
	tb := e.table("o")
	for _, c := range []struct {
		opts sink.Options
		want string
	}{
		{sink.Options{Compression: "brotli"}, "unknown compression"},
		{sink.Options{KeyColumns: []string{"nope"}}, `key column "nope"`},
		{sink.Options{Upsert: true}, "needs key columns"},
		{sink.Options{EventTimeColumn: "k"}, "want TIMESTAMP"},
	} {
		_, err := sink.NewPulsarWriter(e.cat.Client(), tb.Topic(), tb.SchemaInfo(), tb.Schema(), c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err %v, want %q", c.opts, err, c.want)
		}
	}
	// Retractions into an append-only writer are refused.
	w, err := sink.NewPulsarWriter(e.cat.Client(), tb.Topic(), tb.SchemaInfo(), tb.Schema(), sink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(e.mem, tb.Schema())
	b.Field(0).(*array.StringBuilder).Append("a")
	rec := b.NewRecordBatch()
	b.Release()
	err = w.Write(e.ctx, exec.Batch{Rec: rec, Ops: []exec.ChangeKind{exec.Delete}})
	rec.Release()
	if err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("err %v", err)
	}
	if err := w.Close(e.ctx); err != nil {
		t.Fatal(err)
	}
}
