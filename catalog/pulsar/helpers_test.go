package pulsar

import (
	"context"
	"errors"
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
	"github.com/hamba/avro/v2"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
)

// env is one test's catalog over its own namespace.
type env struct {
	t     testing.TB
	cat   *Catalog
	ns    string
	admin string
	mem   *memory.CheckedAllocator
	ctx   context.Context
}

func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	serviceURL, adminURL := testbroker.Require(t)
	ns := testbroker.Namespace(t, adminURL)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cfg.ServiceURL, cfg.AdminURL, cfg.DefaultDatabase, cfg.Allocator = serviceURL, adminURL, ns, mem
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	cat, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		cat.Close()
		mem.AssertSize(t, 0)
	})
	return &env{t: t, cat: cat, ns: ns, admin: adminURL, mem: mem, ctx: ctx}
}

func (e *env) topic(name string) string { return testbroker.Topic(e.ns, name) }

// producer creates a producer with an Avro schema (registered by the client).
func (e *env) producer(topic, avroDef string, batching bool) pulsar.Producer {
	e.t.Helper()
	opts := pulsar.ProducerOptions{Topic: topic, DisableBatching: !batching, BatchingMaxPublishDelay: 2 * time.Millisecond}
	if avroDef != "" {
		sch, err := pulsar.NewAvroSchemaWithValidation(avroDef, nil)
		if err != nil {
			e.t.Fatalf("avro schema: %v", err)
		}
		opts.Schema = sch
	}
	p, err := e.cat.client.CreateProducer(opts)
	if err != nil {
		e.t.Fatalf("producer on %s: %v", topic, err)
	}
	e.t.Cleanup(p.Close)
	return p
}

// encode encodes v with the Avro schema def.
func encode(t testing.TB, def string, v any) []byte {
	t.Helper()
	s, err := avro.Parse(def)
	if err != nil {
		t.Fatalf("parse avro: %v", err)
	}
	b, err := avro.Marshal(s, v)
	if err != nil {
		t.Fatalf("marshal avro: %v", err)
	}
	return b
}

// sendAll sends msgs asynchronously and waits for every acknowledgement.
func sendAll(t testing.TB, ctx context.Context, p pulsar.Producer, msgs []*pulsar.ProducerMessage) {
	t.Helper()
	errs := make(chan error, len(msgs))
	for _, m := range msgs {
		p.SendAsync(ctx, m, func(_ pulsar.MessageID, _ *pulsar.ProducerMessage, err error) { errs <- err })
	}
	for range msgs {
		if err := <-errs; err != nil {
			t.Fatalf("send: %v", err)
		}
	}
}

// table resolves name in the env's namespace.
func (e *env) table(name string) *Table {
	e.t.Helper()
	tb, err := e.cat.Table(e.ctx, e.ns, name)
	if err != nil {
		e.t.Fatalf("Table(%s): %v", name, err)
	}
	return tb.(*Table)
}

// colIndex finds a column (visible or metadata) by name.
func colIndex(t testing.TB, tb *Table, name string) int {
	t.Helper()
	for i, f := range tb.Schema().Fields() {
		if f.Name == name {
			return i
		}
	}
	for i, f := range tb.MetadataColumns() {
		if f.Name == name {
			return tb.Schema().NumFields() + i
		}
	}
	t.Fatalf("no column %s", name)
	return -1
}

// scanRows runs a scan to the end and returns its rows as strings (cells
// joined by "|"), and the operator for stats.
func scanRows(t testing.TB, ctx context.Context, tb *Table, req catalog.ScanRequest) ([]string, *source) {
	t.Helper()
	if req.Limit == 0 {
		req.Limit = -1
	}
	op, err := tb.Scan(ctx, req)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	src := op.(*source)
	if err := op.Open(ctx); err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer op.Close()
	var rows []string
	for {
		m, err := op.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if m.Kind == exec.MsgEnd {
			break
		}
		if m.Kind != exec.MsgBatch {
			continue
		}
		rows = append(rows, recordRows(m.Batch.Rec)...)
		m.Release()
	}
	return rows, src
}

func recordRows(rec arrow.RecordBatch) []string {
	out := make([]string, rec.NumRows())
	for i := range out {
		cells := make([]string, rec.NumCols())
		for c := range cells {
			col := rec.Column(c)
			if col.IsNull(i) {
				cells[c] = "NULL"
			} else {
				cells[c] = col.ValueStr(i)
			}
		}
		out[i] = strings.Join(cells, "|")
	}
	return out
}

func sorted(rows []string) []string {
	out := append([]string(nil), rows...)
	sort.Strings(out)
	return out
}

// call is a stand-in for the expr package's function-call node, with its
// documented shape.
type call struct {
	Name string
	Args []expr.Expr
}

func (c *call) Type() arrow.DataType { return arrow.FixedWidthTypes.Boolean }
func (c *call) String() string       { return fmt.Sprintf("%s%v", c.Name, c.Args) }
func (c *call) Children() []expr.Expr {
	return c.Args
}
func (c *call) WithChildren(ch []expr.Expr) expr.Expr { return &call{Name: c.Name, Args: ch} }

// inList mirrors the documented InList node.
type inList struct {
	Arg  expr.Expr
	List []expr.Expr
	Not  bool
}

func (c *inList) Type() arrow.DataType  { return arrow.FixedWidthTypes.Boolean }
func (c *inList) String() string        { return "in" }
func (c *inList) Children() []expr.Expr { return append([]expr.Expr{c.Arg}, c.List...) }
func (c *inList) WithChildren(ch []expr.Expr) expr.Expr {
	return &inList{Arg: ch[0], List: ch[1:], Not: c.Not}
}

func colRef(tb *Table, idx int) *expr.Column {
	var f arrow.Field
	if idx < tb.Schema().NumFields() {
		f = tb.Schema().Field(idx)
	} else {
		f = tb.MetadataColumns()[idx-tb.Schema().NumFields()]
	}
	return &expr.Column{Index: idx, Name: f.Name, T: f.Type}
}

func tsLit(t time.Time) *expr.Literal {
	return &expr.Literal{Value: arrow.Timestamp(t.UnixMicro()), T: tsType}
}

func intLit(v int64) *expr.Literal {
	return &expr.Literal{Value: v, T: arrow.PrimitiveTypes.Int64}
}

func isNotFoundErr(err error) bool { return errors.Is(err, catalog.ErrNotFound) }

// int64Column collects an int64 column of all rows.
func int64Values(rec arrow.RecordBatch, c int) []int64 {
	a := rec.Column(c).(*array.Int64)
	return append([]int64(nil), a.Int64Values()...)
}
