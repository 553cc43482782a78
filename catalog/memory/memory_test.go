package memory

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
)

var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

func mkBatch(mem memory.Allocator, ids []int64, names []string) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, testSchema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues(ids, nil)
	b.Field(1).(*array.StringBuilder).AppendValues(names, nil)
	return b.NewRecordBatch()
}

func drain(t *testing.T, op exec.Operator) (rows int64, cols int) {
	t.Helper()
	ctx := context.Background()
	if err := op.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	for {
		m, err := op.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind == exec.MsgEnd {
			return rows, cols
		}
		rows += m.Batch.Rec.NumRows()
		cols = int(m.Batch.Rec.NumCols())
		m.Release()
	}
}

func TestCatalogLifecycle(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	c := New()
	defer c.Close()
	if err := c.CreateDatabase(ctx, "tenant/ns", false); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateDatabase(ctx, "tenant/ns", false); !errors.Is(err, catalog.ErrExists) {
		t.Fatalf("want ErrExists, got %v", err)
	}
	dbs, _ := c.Databases(ctx)
	if len(dbs) != 2 || dbs[0] != "default" || dbs[1] != "tenant/ns" {
		t.Fatalf("databases %v", dbs)
	}
	def := catalog.TableDef{Name: "T", Schema: testSchema}
	if err := c.CreateTable(ctx, "default", def, false); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateTable(ctx, "default", def, true); err != nil {
		t.Fatalf("if not exists: %v", err)
	}
	tab, err := c.Table(ctx, "DEFAULT", "t")
	if err != nil {
		t.Fatal(err)
	}
	w, err := tab.(catalog.Insertable).OpenWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		rec := mkBatch(mem, []int64{1, 2}, []string{"a", "b"})
		if err := w.Write(ctx, exec.Batch{Rec: rec}); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	op, err := tab.Scan(ctx, catalog.ScanRequest{Columns: []int{1}, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if rows, cols := drain(t, op); rows != 5 || cols != 1 {
		t.Fatalf("scan gave %d rows of %d cols, want 5 of 1", rows, cols)
	}
	op, _ = tab.Scan(ctx, catalog.ScanRequest{Limit: -1})
	if rows, cols := drain(t, op); rows != 6 || cols != 2 {
		t.Fatalf("scan gave %d rows of %d cols", rows, cols)
	}
	if _, err := c.Table(ctx, "default", "nope"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
	if err := c.DropTable(ctx, "default", "t", false); err != nil {
		t.Fatal(err)
	}
	if err := c.DropTable(ctx, "default", "t", true); err != nil {
		t.Fatal(err)
	}
	if err := c.DropTable(ctx, "default", "t", false); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
}

func TestWriterRejectsWrongSchema(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	c := New()
	defer c.Close()
	other := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int32}}, nil)
	_ = c.CreateTable(ctx, "default", catalog.TableDef{Name: "o", Schema: other}, false)
	tab, _ := c.Table(ctx, "default", "o")
	w, _ := tab.(catalog.Insertable).OpenWriter(ctx)
	rec := mkBatch(mem, []int64{1}, []string{"a"})
	defer rec.Release()
	if err := w.Write(ctx, exec.Batch{Rec: rec}); err == nil {
		t.Fatal("expected schema mismatch error")
	}
}

func TestUnboundedScanTails(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := New()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = c.CreateTable(ctx, "default", catalog.TableDef{Name: "s", Schema: testSchema}, false)
	tab, _ := c.Table(ctx, "default", "s")
	op, _ := tab.Scan(ctx, catalog.ScanRequest{Limit: 3, Mode: catalog.Unbounded})
	if err := op.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		w, _ := tab.(catalog.Insertable).OpenWriter(ctx)
		for i := 0; i < 3; i++ {
			rec := mkBatch(mem, []int64{int64(i)}, []string{"x"})
			_ = w.Write(ctx, exec.Batch{Rec: rec})
			rec.Release()
		}
	}()
	var got int64
	for {
		m, err := op.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind == exec.MsgEnd {
			break
		}
		got += m.Batch.Rec.NumRows()
		m.Release()
	}
	wg.Wait()
	if got != 3 {
		t.Fatalf("tailed %d rows, want 3", got)
	}
}
