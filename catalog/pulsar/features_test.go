package pulsar

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/magnetar-sql/magnetar/schema"
)

// TestSchemaEvolution reads messages written under three schema versions
// as rows of the latest schema.
func TestSchemaEvolution(t *testing.T) {
	e := newEnv(t, Config{})
	defs := []string{
		`{"type":"record","name":"User","fields":[{"name":"id","type":"long"}]}`,
		`{"type":"record","name":"User","fields":[{"name":"id","type":"long"},{"name":"name","type":"string","default":"anon"}]}`,
		`{"type":"record","name":"User","fields":[{"name":"id","type":"long"},{"name":"name","type":"string","default":"anon"},{"name":"score","type":["null","double"],"default":null}]}`,
	}
	vals := [][]map[string]any{
		{{"id": int64(1)}, {"id": int64(2)}},
		{{"id": int64(3), "name": "c"}, {"id": int64(4), "name": "d"}},
		{{"id": int64(5), "name": "e", "score": 1.5}, {"id": int64(6), "name": "f", "score": nil}},
	}
	for v, def := range defs {
		// Version 1 without batching: pulsar-client-go then sends no
		// schema version, and the scan has to find the writer schema.
		p := e.producer(e.topic("users"), def, v > 0)
		var msgs []*pulsar.ProducerMessage
		for _, val := range vals[v] {
			msgs = append(msgs, &pulsar.ProducerMessage{Payload: encode(t, def, val)})
		}
		sendAll(t, e.ctx, p, msgs)
		p.Close()
	}
	tb := e.table("users")
	if tb.SchemaVersion() != 2 || tb.Schema().NumFields() != 3 {
		t.Fatalf("version %d, schema %s", tb.SchemaVersion(), tb.Schema())
	}
	rows, src := scanRows(t, e.ctx, tb, catalog.ScanRequest{Columns: []int{0, 1, 2, colIndex(t, tb, ColSchemaVersion)}})
	want := []string{"1|anon|NULL|NULL", "2|anon|NULL|NULL", "3|c|NULL|1", "4|d|NULL|1", "5|e|1.5|2", "6|f|NULL|2"}
	if got := sorted(rows); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rows = %v, want %v (stats %+v, warnings %v)", got, want, src.Stats(), src.Warnings())
	}
	if src.Stats().DecodeErrors != 0 {
		t.Fatalf("decode errors: %v", src.Warnings())
	}
}

// TestPublishTimePushdown: filters on __publish_time read fewer messages
// and give the same rows.
func TestPublishTimePushdown(t *testing.T) {
	e := newEnv(t, Config{PublishTimeSlack: time.Millisecond})
	p := e.producer(e.topic("timed"), orderAvro, true)
	sendAll(t, e.ctx, p, orderMsgs(t, 0, 1000))
	time.Sleep(100 * time.Millisecond)
	mid := time.Now()
	time.Sleep(100 * time.Millisecond)
	sendAll(t, e.ctx, p, orderMsgs(t, 1000, 1000))
	tb := e.table("timed")
	pt := colIndex(t, tb, ColPublishTime)

	all, full := scanRows(t, e.ctx, tb, catalog.ScanRequest{Columns: []int{0, pt}})
	if len(all) != 2000 || full.Stats().MessagesRead != 2000 {
		t.Fatalf("full scan: %d rows, %d read", len(all), full.Stats().MessagesRead)
	}
	// Reference results, filtered here.
	var after, before []string
	for _, r := range all {
		c := strings.Split(r, "|")
		ts, err := time.Parse(time.RFC3339Nano, c[1])
		if err != nil {
			t.Fatal(err)
		}
		if ts.Before(mid) {
			before = append(before, c[0])
		} else {
			after = append(after, c[0])
		}
	}
	if len(after) != 1000 {
		t.Fatalf("%d rows after the midpoint, want 1000", len(after))
	}
	ids := func(rows []string) []string {
		var out []string
		for _, r := range rows {
			out = append(out, strings.Split(r, "|")[0])
		}
		return sorted(out)
	}
	for _, tc := range []struct {
		name string
		f    expr.Expr
		want []string
	}{
		{">= mid", &call{Name: ">=", Args: []expr.Expr{colRef(tb, pt), tsLit(mid)}}, after},
		{"mid > (flipped)", &call{Name: ">", Args: []expr.Expr{tsLit(mid), colRef(tb, pt)}}, before},
		{"< mid", &call{Name: "<", Args: []expr.Expr{colRef(tb, pt), tsLit(mid)}}, before},
		{"between", &call{Name: "between", Args: []expr.Expr{colRef(tb, pt), tsLit(mid), tsLit(time.Now().Add(time.Hour))}}, after},
	} {
		if s := tb.SupportsFilter(tc.f); s != catalog.Inexact {
			t.Fatalf("%s: SupportsFilter = %v", tc.name, s)
		}
		rows, src := scanRows(t, e.ctx, tb, catalog.ScanRequest{Columns: []int{0, pt}, Filters: []expr.Expr{tc.f}})
		if got := ids(rows); fmt.Sprint(got) != fmt.Sprint(sorted(tc.want)) {
			t.Errorf("%s: %d rows, want %d", tc.name, len(got), len(tc.want))
		}
		read := src.Stats().MessagesRead
		if read >= 1500 {
			t.Errorf("%s: read %d messages, want well under 2000", tc.name, read)
		}
		t.Logf("%s: %d rows, %d messages read (full scan reads 2000)", tc.name, len(rows), read)
	}
	// A conjunction with an unsupported part is Inexact and still pushes down.
	and := &call{Name: "and", Args: []expr.Expr{
		&call{Name: ">=", Args: []expr.Expr{colRef(tb, pt), tsLit(mid)}},
		&call{Name: ">", Args: []expr.Expr{colRef(tb, 0), intLit(5)}},
	}}
	if s := tb.SupportsFilter(and); s != catalog.Inexact {
		t.Fatalf("AND: SupportsFilter = %v", s)
	}
	if s := tb.SupportsFilter(&call{Name: ">", Args: []expr.Expr{colRef(tb, 0), intLit(5)}}); s != catalog.Unsupported {
		t.Fatalf("id > 5: SupportsFilter = %v", s)
	}

	// Time travel: as_of ends the snapshot at the midpoint.
	rows, src := scanRows(t, e.ctx, tb, catalog.ScanRequest{Columns: []int{0, pt}, Options: map[string]string{"as_of": fmt.Sprint(mid.UnixMicro())}})
	if got := ids(rows); fmt.Sprint(got) != fmt.Sprint(sorted(before)) {
		t.Errorf("as_of: %d rows, want %d", len(got), len(before))
	}
	if src.Stats().MessagesRead >= 1500 {
		t.Errorf("as_of read %d messages", src.Stats().MessagesRead)
	}
}

// TestLedgerSplit reads a topic spanning several ledgers with parallel
// readers (the test broker rolls ledgers every 5000 entries).
func TestLedgerSplit(t *testing.T) {
	if testing.Short() {
		t.Skip("produces 12000 messages")
	}
	e := newEnv(t, Config{ScanParallelism: 4, SegmentSplit: true})
	p := e.producer(e.topic("big"), orderAvro, false)
	const n = 12000
	for i := 0; i < n; i += 2000 {
		sendAll(t, e.ctx, p, orderMsgs(t, i, 2000))
	}
	tb := e.table("big")
	rows, src := scanRows(t, e.ctx, tb, catalog.ScanRequest{Columns: []int{0}})
	st := src.Stats()
	if st.Segments < 3 {
		t.Fatalf("segments = %d, want >= 3 (ledgers of 5000 entries)", st.Segments)
	}
	checkIDs(t, rows, n)
	if st.MessagesRead > n+int64(st.Segments) {
		t.Errorf("read %d messages for %d rows", st.MessagesRead, n)
	}
	readM, totalM, readB, totalB := src.Progress()
	if readM != st.MessagesRead || totalM < n || readB <= 0 || totalB < readB {
		t.Errorf("progress = %d/%d msgs, %d/%d bytes", readM, totalM, readB, totalB)
	}
	rows, src = scanRows(t, e.ctx, tb, catalog.ScanRequest{Columns: []int{0}, Options: map[string]string{"segment_split": "false"}})
	if src.Stats().Segments != 1 {
		t.Fatalf("segment_split=false: %d segments", src.Stats().Segments)
	}
	checkIDs(t, rows, n)
	t.Logf("split: %d segments", st.Segments)
}

func checkIDs(t *testing.T, rows []string, n int) {
	t.Helper()
	if len(rows) != n {
		t.Fatalf("%d rows, want %d", len(rows), n)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r] {
			t.Fatalf("duplicate row %s", r)
		}
		seen[r] = true
	}
	for i := range n {
		if !seen[fmt.Sprint(i)] {
			t.Fatalf("missing id %d", i)
		}
	}
}

// TestCorruptMessages: undecodable payloads are counted, named in
// warnings, skipped, and copied to a dead-letter topic.
func TestCorruptMessages(t *testing.T) {
	e := newEnv(t, Config{})
	p := e.producer(e.topic("dirty"), orderAvro, false)
	msgs := orderMsgs(t, 0, 10)
	bad := []*pulsar.ProducerMessage{
		{Payload: []byte{0x02}, Key: "bad1"},                  // truncated after the id
		{Payload: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, // runaway varint
		{Payload: append(encode(t, orderAvro, map[string]any{"id": int64(99), "item": "x", "price": nil})[:2], 0x7f)},
	}
	msgs = append(msgs[:5], append(bad, msgs[5:]...)...)
	sendAll(t, e.ctx, p, msgs)
	tb := e.table("dirty")
	dlq := e.topic("dirty-dlq")
	rows, src := scanRows(t, e.ctx, tb, catalog.ScanRequest{Columns: []int{0}, Options: map[string]string{"dead_letter_topic": dlq}})
	checkIDs(t, rows, 10)
	st := src.Stats()
	if st.DecodeErrors != 3 || st.MessagesRead != 13 {
		t.Fatalf("stats = %+v", st)
	}
	w := src.Warnings()
	if len(w) != 2 || !strings.HasPrefix(w[0], "3 message(s)") || strings.Count(w[0], ":-1:") != 3 || !strings.Contains(w[1], "3 undecodable") {
		t.Fatalf("warnings = %q", w)
	}
	r, err := e.cat.client.CreateReader(pulsar.ReaderOptions{Topic: dlq, StartMessageID: pulsar.EarliestMessageID()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := range 3 {
		m, err := r.Next(e.ctx)
		if err != nil {
			t.Fatalf("dead letter %d: %v", i, err)
		}
		if string(m.Payload()) != string(bad[i].Payload) || m.Properties()["magnetar.error"] == "" || m.Properties()["magnetar.source_message_id"] == "" {
			t.Errorf("dead letter %d: payload %x props %v", i, m.Payload(), m.Properties())
		}
	}
}

// TestCreateDropTable round-trips DDL through the catalog.
func TestCreateDropTable(t *testing.T) {
	e := newEnv(t, Config{})
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ts", Type: tsType},
		{Name: "amount", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
	}, nil)
	for _, parts := range []int{0, 2} {
		name := fmt.Sprintf("created%d", parts)
		def := catalog.TableDef{Name: name, Schema: sch, PrimaryKey: []string{"id"}, Partitions: parts,
			Options: map[string]string{"event_time": "ts", "watermark_delay": "5s"}, Comment: "made by a test"}
		if err := e.cat.CreateTable(e.ctx, e.ns, def, false); err != nil {
			t.Fatalf("CreateTable: %v", err)
		}
		if err := e.cat.CreateTable(e.ctx, e.ns, def, false); !errors.Is(err, catalog.ErrExists) {
			t.Fatalf("second CreateTable: %v", err)
		}
		if err := e.cat.CreateTable(e.ctx, e.ns, def, true); err != nil {
			t.Fatalf("CreateTable IF NOT EXISTS: %v", err)
		}
		tb := e.table(name)
		if tb.Partitions() != parts {
			t.Errorf("%s: partitions %d", name, tb.Partitions())
		}
		for i, f := range sch.Fields() {
			g := tb.Schema().Field(i)
			if g.Name != f.Name || !arrow.TypeEqual(g.Type, f.Type) || g.Nullable != f.Nullable {
				t.Errorf("%s: column %d = %v, want %v", name, i, g, f)
			}
		}
		d := tb.Def()
		if d.Options["event_time"] != "ts" || d.Options["watermark_delay"] != "5s" || fmt.Sprint(d.PrimaryKey) != "[id]" || d.Comment != "made by a test" {
			t.Errorf("%s: def = %+v", name, d)
		}
		rows, _ := scanRows(t, e.ctx, tb, catalog.ScanRequest{})
		if len(rows) != 0 {
			t.Errorf("%s: new table has rows %v", name, rows)
		}
		// A row written with the registered schema reads back.
		reg, err := e.cat.admin.Schemas().GetSchemaInfo(tb.Topic())
		if err != nil {
			t.Fatal(err)
		}
		p := e.producer(tb.Topic(), "", false)
		ts := time.UnixMicro(1_700_000_000_123_456).UTC()
		sendAll(t, e.ctx, p, []*pulsar.ProducerMessage{{Payload: encode(t, string(reg.Schema), map[string]any{"id": int64(7), "name": "seven", "ts": ts, "amount": nil})}})
		rows, _ = scanRows(t, e.ctx, tb, catalog.ScanRequest{})
		if fmt.Sprint(rows) != "[7|seven|2023-11-14T22:13:20.123456Z|NULL]" {
			t.Errorf("%s: rows = %v", name, rows)
		}
		p.Close()
		if err := e.cat.DropTable(e.ctx, e.ns, name, false); err != nil {
			t.Fatalf("DropTable: %v", err)
		}
		if _, err := e.cat.Table(e.ctx, e.ns, name); !isNotFoundErr(err) {
			t.Fatalf("Table after drop: %v", err)
		}
		if err := e.cat.DropTable(e.ctx, e.ns, name, true); err != nil {
			t.Fatalf("DropTable IF EXISTS: %v", err)
		}
		if err := e.cat.DropTable(e.ctx, e.ns, name, false); !isNotFoundErr(err) {
			t.Fatalf("DropTable of a dropped table: %v", err)
		}
	}
	// CreateDatabase: a new namespace with infinite retention.
	db := e.ns + "-db"
	t.Cleanup(func() { _ = e.cat.admin.Namespaces().DeleteNamespace(db) })
	if err := e.cat.CreateDatabase(e.ctx, db, false); err != nil {
		t.Fatalf("CreateDatabase: %v", err)
	}
	if err := e.cat.CreateDatabase(e.ctx, db, false); !errors.Is(err, catalog.ErrExists) {
		t.Fatalf("second CreateDatabase: %v", err)
	}
	ret, err := e.cat.admin.Namespaces().GetRetention(db)
	if err != nil || ret.RetentionTimeInMinutes != -1 || ret.RetentionSizeInMB != -1 {
		t.Fatalf("retention = %+v, %v", ret, err)
	}
	dbs, err := e.cat.Databases(e.ctx)
	if err != nil || !contains(dbs, db) || !contains(dbs, e.ns) {
		t.Fatalf("Databases = %v, %v", dbs, err)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TestTopicCreatedElsewhere: a topic created by another client after the
// listing was cached resolves at once.
func TestTopicCreatedElsewhere(t *testing.T) {
	e := newEnv(t, Config{RefreshInterval: time.Hour})
	if names, err := e.cat.Tables(e.ctx, e.ns); err != nil || len(names) != 0 {
		t.Fatalf("Tables = %v, %v", names, err)
	}
	p := e.producer(e.topic("late"), orderAvro, false)
	sendAll(t, e.ctx, p, orderMsgs(t, 0, 3))
	tb := e.table("late")
	rows, _ := scanRows(t, e.ctx, tb, catalog.ScanRequest{Columns: []int{0}})
	checkIDs(t, rows, 3)
	if _, err := e.cat.Table(e.ctx, e.ns, "missing"); !isNotFoundErr(err) {
		t.Fatalf("missing table: %v", err)
	}
	if _, err := e.cat.Table(e.ctx, "public/no-such-ns-x", "t"); !isNotFoundErr(err) {
		t.Fatalf("missing database: %v", err)
	}
}

// TestNoBroker: New fails fast with a one-line error.
func TestNoBroker(t *testing.T) {
	start := time.Now()
	_, err := New(t.Context(), Config{AdminURL: "http://127.0.0.1:1", ServiceURL: "pulsar://127.0.0.1:1"})
	if err == nil || !errors.Is(err, ErrUnreachable) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("took %s", time.Since(start))
	}
	t.Log(err)
}

// TestKeyValueTopic reads a KEY_VALUE (INLINE) topic: pulsaradmin drops
// the schema data of such schemas, so the catalog fetches it itself.
func TestKeyValueTopic(t *testing.T) {
	e := newEnv(t, Config{})
	topic := e.topic("kv")
	tn, _ := parseTopic(topic)
	if err := e.cat.admin.Topics().Create(*tn, 0); err != nil {
		t.Fatal(err)
	}
	keyDef := `{"type":"record","name":"K","fields":[{"name":"id","type":"long"}]}`
	valDef := `{"type":"record","name":"V","fields":[{"name":"v","type":"string"}]}`
	err := e.cat.admin.Schemas().CreateSchemaByPayload(topic, utils.PostSchemaPayload{
		SchemaType: "KEY_VALUE",
		Schema:     `{"key":` + keyDef + `,"value":` + valDef + `}`,
		Properties: map[string]string{"key.schema.type": "AVRO", "value.schema.type": "AVRO", "key.schema.name": "K", "value.schema.name": "V",
			"key.schema.properties": "{}", "value.schema.properties": "{}", "kv.encoding.type": "INLINE"},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := e.producer(topic, "", false)
	var msgs []*pulsar.ProducerMessage
	for i := range 3 {
		k := encode(t, keyDef, map[string]any{"id": int64(i)})
		v := encode(t, valDef, map[string]any{"v": fmt.Sprint("val", i)})
		msgs = append(msgs, &pulsar.ProducerMessage{Payload: schema.JoinKeyValue(k, v)})
	}
	sendAll(t, e.ctx, p, msgs)
	tb := e.table("kv")
	if got := fmt.Sprint(tb.Schema().Field(0).Name, ",", tb.Schema().Field(1).Name); got != "key_id,v" {
		t.Fatalf("columns %s", got)
	}
	rows, _ := scanRows(t, e.ctx, tb, catalog.ScanRequest{})
	if got := fmt.Sprint(sorted(rows)); got != "[0|val0 1|val1 2|val2]" {
		t.Fatalf("rows = %s", got)
	}
}
