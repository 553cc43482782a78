package exec

import (
	"bytes"
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

var (
	lkTableSchema = arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "v", Type: arrow.BinaryTypes.String},
		{Name: "k", Type: arrow.BinaryTypes.String}, {Name: "del", Type: arrow.FixedWidthTypes.Boolean}}, nil)
	lkBidSchema = arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}, {Name: "p", Type: arrow.PrimitiveTypes.Int64}}, nil)
)

// schemaSource is an input of a given schema that is never read.
type schemaSource struct{ s *arrow.Schema }

func (s schemaSource) Schema() *arrow.Schema               { return s.s }
func (schemaSource) Open(context.Context) error            { return nil }
func (schemaSource) Next(context.Context) (Message, error) { return EndMsg, nil }
func (schemaSource) Close() error                          { return nil }
func (schemaSource) Children() []Operator                  { return nil }
func (schemaSource) String() string                        { return "schemaSource" }

// lkUpsert is a table batch upserting id → v (one row).
func lkUpsert(mem memory.Allocator, id int64, v string) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, lkTableSchema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).Append(id)
	b.Field(1).(*array.StringBuilder).Append(v)
	b.Field(2).(*array.StringBuilder).Append(string(rune('0' + id)))
	b.Field(3).(*array.BooleanBuilder).Append(false)
	return b.NewRecordBatch()
}

func lkBids(mem memory.Allocator, a, p int64, n int) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, lkBidSchema)
	defer b.Release()
	for range n {
		b.Field(0).(*array.Int64Builder).Append(a)
		b.Field(1).(*array.Int64Builder).Append(p)
	}
	return b.NewRecordBatch()
}

type lkDriver struct {
	t   *testing.T
	mem memory.Allocator
	j   *LookupJoin
}

func newLkDriver(t *testing.T, mem memory.Allocator) *lkDriver {
	j, err := NewLookupJoin(schemaSource{lkBidSchema}, schemaSource{lkTableSchema}, LeftJoin,
		[]expr.Expr{&expr.Column{Index: 0, Name: "a", T: arrow.PrimitiveTypes.Int64}},
		[]expr.Expr{&expr.Column{Index: 0, Name: "id", T: arrow.PrimitiveTypes.Int64}},
		UpsertSpec{KeyCol: 2, FlagCol: 3, KeyCols: []int{0}}, nil, mem)
	if err != nil {
		t.Fatal(err)
	}
	j.SetRetractable(true)
	j.boot = true
	return &lkDriver{t: t, mem: mem, j: j}
}

func (d *lkDriver) table(id int64, v string) {
	rec := lkUpsert(d.mem, id, v)
	defer rec.Release()
	if err := d.j.apply(context.Background(), Batch{Rec: rec}); err != nil {
		d.t.Fatal(err)
	}
}

// bids sends n copies of bid (a, p) with change kind op and returns the
// table value v of each output row.
func (d *lkDriver) bids(op ChangeKind, a, p int64, n int) []string {
	rec := lkBids(d.mem, a, p, n)
	defer rec.Release()
	ops := make([]ChangeKind, n)
	for i := range ops {
		ops[i] = op
	}
	out, err := d.j.probeRetract(context.Background(), Batch{Rec: rec, Ops: ops})
	if err != nil {
		d.t.Fatal(err)
	}
	if out.Rec == nil {
		return nil
	}
	defer out.Rec.Release()
	var vs []string
	col := out.Rec.Column(3).(*array.String)
	for i := 0; i < col.Len(); i++ {
		vs = append(vs, col.Value(i))
	}
	return vs
}

// check asserts the table holds its live keys plus retired slots.
func (d *lkDriver) check(retired int) {
	d.t.Helper()
	if got, want := d.j.table.live, d.j.keys.entries()+retired; got != want {
		d.t.Fatalf("table rows = %d, want %d (keys %d + retired %d)", got, want, d.j.keys.entries(), retired)
	}
	if len(d.j.mat.retired) != retired {
		d.t.Fatalf("retired slots = %d, want %d", len(d.j.mat.retired), retired)
	}
}

// TestLookupMatRetiredSlots: a table row replaced while emitted rows refer
// to it stays (out of the index) until its last retraction, which still
// emits its values, and is freed then, also across a snapshot/restore.
func TestLookupMatRetiredSlots(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	d := newLkDriver(t, mem)
	d.table(1, "a")
	if got := d.bids(Insert, 1, 10, 2); len(got) != 2 || got[0] != "a" || got[1] != "a" {
		t.Fatalf("inserts joined %q, want a, a", got)
	}
	d.table(1, "b")
	d.check(1)
	if got := d.bids(Insert, 1, 11, 1); len(got) != 1 || got[0] != "b" {
		t.Fatalf("insert joined %q, want b", got)
	}
	if got := d.bids(Delete, 1, 10, 1); len(got) != 1 || got[0] != "a" {
		t.Fatalf("retraction emitted %q, want a", got)
	}
	d.check(1)

	var snap bytes.Buffer
	if err := d.j.State().Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	d2 := newLkDriver(t, mem)
	if err := d2.j.State().Restore(&snap); err != nil {
		t.Fatal(err)
	}
	d2.check(1)
	for _, dr := range []*lkDriver{d, d2} {
		if got := dr.bids(Delete, 1, 10, 1); len(got) != 1 || got[0] != "a" {
			t.Fatalf("last retraction emitted %q, want a", got)
		}
		dr.check(0)
		dr.table(1, "c") // b is referenced by 1|11: retired
		dr.check(1)
		if got := dr.bids(UpdateBefore, 1, 11, 1); len(got) != 1 || got[0] != "b" {
			t.Fatalf("retraction emitted %q, want b", got)
		}
		dr.check(0)
		if n := dr.j.mat.rows.Entries(); n != 0 {
			t.Fatalf("%d live rows remembered, want 0", n)
		}
	}
}
