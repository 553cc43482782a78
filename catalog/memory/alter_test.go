package memory

import (
	"context"
	"errors"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/schema"
)

func TestAddColumns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	c := New()
	c.SetAllocator(mem)
	defer c.Close()
	b := mkBatch(mem, []int64{1, 2}, []string{"a", "b"})
	if err := c.AddTable(DefaultDatabase, catalog.TableDef{Name: "t", Schema: testSchema}, []arrow.RecordBatch{b}); err != nil {
		t.Fatal(err)
	}
	b.Release()
	tab, _ := c.Table(ctx, DefaultDatabase, "t")
	old, err := tab.(catalog.Insertable).OpenWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A scan opened before the change keeps its columns.
	before, err := tab.Scan(ctx, catalog.ScanRequest{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	withDefault := arrow.Field{Name: "n", Type: arrow.PrimitiveTypes.Int32,
		Metadata: arrow.NewMetadata([]string{schema.MetaAvroDefault}, []string{"5"})}
	cols := []arrow.Field{{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true}, withDefault}
	if err := c.AddColumns(ctx, DefaultDatabase, "t", cols); err != nil {
		t.Fatal(err)
	}
	if rows, ncols := drain(t, before); rows != 2 || ncols != 2 {
		t.Fatalf("scan opened before: %d rows, %d columns", rows, ncols)
	}
	if got := tab.Schema().NumFields(); got != 4 {
		t.Fatalf("schema has %d columns", got)
	}
	op, err := tab.Scan(ctx, catalog.ScanRequest{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Open(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := op.Next(ctx)
	if err != nil || m.Kind != exec.MsgBatch {
		t.Fatalf("Next: %v %v", m.Kind, err)
	}
	rec := m.Batch.Rec
	if rec.Column(2).NullN() != 2 || rec.Column(3).(*array.Int32).Value(1) != 5 || rec.Column(3).NullN() != 0 {
		t.Fatalf("added columns: %v", rec)
	}
	m.Release()
	op.Close()
	// The old writer's batches no longer fit.
	b = mkBatch(mem, []int64{3}, []string{"c"})
	if err := old.Write(ctx, exec.Batch{Rec: b}); err == nil {
		t.Fatal("old-schema batch accepted after ADD COLUMN")
	}
	b.Release()
	// Errors.
	if err := c.AddColumns(ctx, DefaultDatabase, "t", []arrow.Field{{Name: "SCORE", Type: arrow.PrimitiveTypes.Int8, Nullable: true}}); !errors.Is(err, catalog.ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := c.AddColumns(ctx, DefaultDatabase, "t", []arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int8}}); err == nil {
		t.Fatal("NOT NULL without default accepted")
	}
	if err := c.AddColumns(ctx, DefaultDatabase, "nope", cols); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("missing table: %v", err)
	}
	if got := tab.Schema().NumFields(); got != 4 {
		t.Fatalf("failed changes altered the schema: %d columns", got)
	}
}
