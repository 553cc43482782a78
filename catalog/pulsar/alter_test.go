package pulsar_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"
	"github.com/hamba/avro/v2"
	"github.com/magnetar-sql/magnetar/catalog"
	cpulsar "github.com/magnetar-sql/magnetar/catalog/pulsar"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
)

// TestAlterTableAddColumn: rows inserted before ALTER TABLE ADD COLUMN read
// NULL (or the DEFAULT) in the new columns, rows inserted after carry them,
// on a plain and a partitioned table.
func TestAlterTableAddColumn(t *testing.T) {
	e := newSQLEnv(t)
	for _, tab := range []string{"plain", "parted"} {
		parts := ""
		if tab == "parted" {
			parts = " PARTITION BY KEY(id) PARTITIONS 2"
		}
		e.run("CREATE TABLE " + tab + " (id BIGINT, name VARCHAR(20))" + parts)
		e.run("INSERT INTO " + tab + " VALUES (1, 'one'), (2, 'two')")
		if st, _ := e.run("ALTER TABLE " + tab + " ADD COLUMN score DOUBLE"); st != "ALTER TABLE" {
			t.Fatalf("status %q", st)
		}
		e.run("ALTER TABLE " + tab + " ADD (tag VARCHAR(10) DEFAULT 'none', n INT NOT NULL DEFAULT 0)")
		e.run("INSERT INTO " + tab + " VALUES (3, 'three', 3.5, 'x', 30)")
		e.run("INSERT INTO " + tab + " (id, name, score) VALUES (4, 'four', 4.5)")
		_, rows := e.run("SELECT id, name, score, tag, n, __schema_version FROM " + tab)
		wantRows(t, rows,
			"1\tone\tNULL\tnone\t0\t0",
			"2\ttwo\tNULL\tnone\t0\t0",
			"3\tthree\t3.5\tx\t30\t2",
			"4\tfour\t4.5\tnone\t0\t2",
		)
		_, desc := e.run("DESCRIBE " + tab)
		joined := strings.Join(desc, "\n")
		for _, want := range []string{"score\tDOUBLE\tYES\t\tNULL", "tag\tVARCHAR\tYES\t\tnone", "n\tINT\tNO\t\t0"} {
			if !strings.Contains(joined, want) {
				t.Errorf("%s: DESCRIBE lacks %q:\n%s", tab, want, joined)
			}
		}
	}
	// Errors.
	for q, want := range map[string]string{
		"ALTER TABLE missing ADD c INT":        `unknown table "missing"`,
		"ALTER TABLE plain ADD Score INT":      `duplicate column name "Score"`,
		"ALTER TABLE plain ADD c INT NOT NULL": `is NOT NULL but has no DEFAULT`,
	} {
		if _, _, err := e.try(q); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", q, err, want)
		}
	}
	// The catalog call checks too (other callers than the engine).
	err := e.cat.AddColumns(e.ctx, e.ns, "plain", []arrow.Field{{Name: "NAME", Type: arrow.BinaryTypes.String, Nullable: true}})
	if !errors.Is(err, catalog.ErrExists) {
		t.Fatalf("AddColumns of an existing name: %v", err)
	}
	err = e.cat.AddColumns(e.ctx, e.ns, "missing", []arrow.Field{{Name: "x", Type: arrow.BinaryTypes.String, Nullable: true}})
	if !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("AddColumns on a missing table: %v", err)
	}
}

// TestAddColumnToProducedTopic: a topic whose schema a Java-style producer
// registered (namespace, docs, non-null fields) gains a column; the old
// schema's content is kept and old messages still decode.
func TestAddColumnToProducedTopic(t *testing.T) {
	e := newSQLEnv(t)
	def := `{"type":"record","name":"Order","namespace":"com.example.shop","doc":"an order","fields":[` +
		`{"name":"id","type":"long"},{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},` +
		`{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}}]}`
	topic := testbroker.Topic(e.ns, "orders")
	sch, err := pulsar.NewAvroSchemaWithValidation(def, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.cat.Client().CreateProducer(pulsar.ProducerOptions{Topic: topic, Schema: sch})
	if err != nil {
		t.Fatal(err)
	}
	as := avro.MustParse(def)
	payload, err := avro.Marshal(as, map[string]any{"id": int64(1), "amount": []byte{0x04, 0xd2}, "ts": time.UnixMilli(1_700_000_000_000)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Send(e.ctx, &pulsar.ProducerMessage{Payload: payload}); err != nil {
		t.Fatal(err)
	}
	p.Close()
	e.run("ALTER TABLE orders ADD note VARCHAR(100)")
	reg, err := e.cat.Admin().Schemas().GetSchemaInfo(topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`com.example.shop`, `"doc":"an order"`, `"logicalType":"timestamp-millis"`, `"name":"note"`} {
		if !strings.Contains(string(reg.Schema), want) {
			t.Errorf("new schema lacks %s: %s", want, reg.Schema)
		}
	}
	e.run("INSERT INTO orders VALUES (2, 3.5, '2024-01-02 03:04:05', 'second')")
	_, rows := e.run("SELECT id, amount, note FROM orders")
	wantRows(t, rows, "1\t12.34\tNULL", "2\t3.50\tsecond")
}

// TestAddColumnIncompatible: under ALWAYS_INCOMPATIBLE the registry refuses
// every new version, and the error says so.
func TestAddColumnIncompatible(t *testing.T) {
	e := newSQLEnv(t)
	e.run("CREATE TABLE t (id BIGINT)")
	ns, err := utils.GetNamespaceName(e.ns)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cat.Admin().Namespaces().SetSchemaCompatibilityStrategy(*ns, utils.SchemaCompatibilityStrategyAlwaysIncompatible); err != nil {
		t.Skipf("cannot set the compatibility strategy: %v", err)
	}
	_, _, err = e.try("ALTER TABLE t ADD c INT")
	if err == nil || !errors.Is(err, catalog.ErrIncompatible) || !strings.Contains(err.Error(), "rejected the new schema") {
		t.Fatalf("ALTER under ALWAYS_INCOMPATIBLE: %v", err)
	}
	_, desc := e.run("DESCRIBE t")
	if len(desc) != 1+len(cpulsar.MetadataFields()) {
		t.Fatalf("DESCRIBE after a refused ALTER: %v", desc)
	}
}

// TestTableOptionsPersist: options given in CREATE TABLE and changed by
// ALTER TABLE are read back by a new catalog instance, and shown by SHOW
// CREATE TABLE.
func TestTableOptionsPersist(t *testing.T) {
	e := newSQLEnv(t)
	e.run("CREATE TABLE ev (id BIGINT PRIMARY KEY, ts TIMESTAMP(6)) ENGINE_ATTRIBUTE='event_time=ts, watermark_delay=5 SECONDS' COMMENT='clicks' PARTITION BY KEY(id) PARTITIONS 2")
	e.run("ALTER TABLE ev ENGINE_ATTRIBUTE='watermark_delay=, allowed_lateness=1 MINUTE, sink.compression=lz4', COMMENT='all clicks'")
	e.run("ALTER TABLE ev ADD c INT") // a new schema version keeps the options
	// A fresh catalog (another process, or after a restart).
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	serviceURL, adminURL := testbroker.URLs()
	cat2, err := cpulsar.New(context.Background(), cpulsar.Config{ServiceURL: serviceURL, AdminURL: adminURL, DefaultDatabase: e.ns, Allocator: mem,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	defer cat2.Close()
	tb, err := cat2.Table(e.ctx, e.ns, "ev")
	if err != nil {
		t.Fatal(err)
	}
	d := tb.Def()
	want := map[string]string{"event_time": "ts", "allowed_lateness": "1 MINUTE", "sink.compression": "lz4", "primary_key": "id", "comment": "all clicks"}
	if len(d.Options) != len(want) {
		t.Errorf("options %v, want %v", d.Options, want)
	}
	for k, v := range want {
		if d.Options[k] != v {
			t.Errorf("option %s = %q, want %q (all: %v)", k, d.Options[k], v, d.Options)
		}
	}
	if d.Comment != "all clicks" || strings.Join(d.PrimaryKey, ",") != "id" || d.Partitions != 2 {
		t.Errorf("def %+v", d)
	}
	_, rows := e.run("SHOW CREATE TABLE ev")
	if len(rows) != 1 || !strings.Contains(rows[0], "ENGINE_ATTRIBUTE='allowed_lateness=1 MINUTE, event_time=ts, sink.compression=lz4' COMMENT='all clicks' PARTITION BY KEY(`id`) PARTITIONS 2") {
		t.Fatalf("SHOW CREATE TABLE: %v", rows)
	}
}
