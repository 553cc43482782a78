package exec

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

var kvSchema = arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64}, {Name: "v", Type: arrow.BinaryTypes.String}}, nil)

func kvRec(mem memory.Allocator, ks []int64, vs []string) arrow.RecordBatch {
	kb := array.NewInt64Builder(mem)
	defer kb.Release()
	vb := array.NewStringBuilder(mem)
	defer vb.Release()
	kb.AppendValues(ks, nil)
	vb.AppendValues(vs, nil)
	k, v := kb.NewArray(), vb.NewArray()
	defer k.Release()
	defer v.Release()
	return array.NewRecordBatch(kvSchema, []arrow.Array{k, v}, int64(len(ks)))
}

// schemaOnly is an input that is never read.
type schemaOnly struct{}

func (schemaOnly) Schema() *arrow.Schema                 { return kvSchema }
func (schemaOnly) Open(context.Context) error            { return nil }
func (schemaOnly) Next(context.Context) (Message, error) { return EndMsg, nil }
func (schemaOnly) Close() error                          { return nil }
func (schemaOnly) Children() []Operator                  { return nil }
func (schemaOnly) String() string                        { return "schemaOnly" }

// symDriver drives a HashJoin's symmetric mode message by message (no
// goroutines: the interleaving of the inputs is the test's).
type symDriver struct {
	t   *testing.T
	mem memory.Allocator
	j   *HashJoin
	out []string
}

func newSymDriver(t *testing.T, mem memory.Allocator, ttlUS int64, intKey bool) *symDriver {
	var keys []expr.Expr
	keys = append(keys, &expr.Column{Index: 0, Name: "k", T: arrow.PrimitiveTypes.Int64})
	if !intKey {
		keys = append(keys, &expr.Column{Index: 0, Name: "k", T: arrow.PrimitiveTypes.Int64})
	}
	op, err := NewHashJoin(schemaOnly{}, schemaOnly{}, keys, keys, InnerJoin, nil, mem)
	if err != nil {
		t.Fatal(err)
	}
	j := op.(*HashJoin)
	j.ttl = ttlUS
	if err := j.startSymmetric(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return &symDriver{t: t, mem: mem, j: j}
}

// send passes m to side and records the joined rows it produces.
func (d *symDriver) send(side int, m Message) {
	d.t.Helper()
	if err := d.j.symMessage(context.Background(), side, m); err != nil {
		d.t.Fatal(err)
	}
	for _, p := range d.j.pending {
		if p.Kind == MsgBatch {
			for i := 0; i < int(p.Batch.Rec.NumRows()); i++ {
				row := fmt.Sprintf("%s %d|%s|%d|%s", p.Batch.Op(i),
					p.Batch.Rec.Column(0).(*array.Int64).Value(i), p.Batch.Rec.Column(1).(*array.String).Value(i),
					p.Batch.Rec.Column(2).(*array.Int64).Value(i), p.Batch.Rec.Column(3).(*array.String).Value(i))
				d.out = append(d.out, row)
			}
		}
		p.Release()
	}
	d.j.pending = nil
}

func (d *symDriver) rows(side int, ops []ChangeKind, ks []int64, vs ...string) {
	d.t.Helper()
	d.send(side, BatchMsg(kvRec(d.mem, ks, vs), ops))
}

func (d *symDriver) wm(side int, us int64) { d.send(side, WatermarkMsg(us)) }

func (d *symDriver) take() []string {
	out := d.out
	d.out = nil
	slices.Sort(out)
	return out
}

func wantRows(t *testing.T, got []string, want ...string) {
	t.Helper()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// A pair matches when its rows' touches (their input's watermark on
// arrival) are within the TTL of each other, in whichever order the two
// inputs deliver them; expiry frees the rows and emits nothing.
func TestSymJoinStateTTL(t *testing.T) {
	for _, intKey := range []bool{true, false} {
		for _, rightFirst := range []bool{false, true} {
			t.Run(fmt.Sprintf("intKey=%v/rightFirst=%v", intKey, rightFirst), func(t *testing.T) {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				defer mem.AssertSize(t, 0)
				d := newSymDriver(t, mem, 5, intKey)
				defer d.j.Close()
				d.rows(0, nil, []int64{1}, "early") // before the left's first watermark: touched at 10
				d.wm(0, 10)
				d.wm(1, 10)
				d.rows(0, nil, []int64{1, 2}, "a", "b") // touch 10
				left := func() {
					d.wm(0, 20)
					d.rows(0, nil, []int64{2}, "c") // touch 20
				}
				right := func() {
					d.wm(1, 14)
					d.rows(1, nil, []int64{1, 2}, "x", "y") // touch 14: matches early, a, b; not c (20 - 14 > 5)
				}
				if rightFirst {
					right()
					left()
				} else {
					left()
					right()
				}
				wantRows(t, d.take(), "+I 1|early|1|x", "+I 1|a|1|x", "+I 2|b|2|y")
				st := d.j.State()
				if st.Entries() < 4 { // the right rows expire at left watermark 20 if it comes after them
					t.Fatalf("entries = %d, want at least 4", st.Entries())
				}
				before := st.SizeBytes()
				d.wm(1, 30) // the left rows touched at 10 and 20 expire
				d.wm(0, 30) // so do the right ones (14)
				if st.Entries() != 0 || st.SizeBytes() >= before {
					t.Fatalf("after expiry: %d entries, %d bytes (before %d)", st.Entries(), st.SizeBytes(), before)
				}
				d.rows(1, nil, []int64{1}, "z")
				d.rows(0, []ChangeKind{Delete}, []int64{1}, "a") // its row expired: dropped, no error
				d.rows(0, nil, []int64{1}, "d")
				wantRows(t, d.take(), "+I 1|d|1|z")
			})
		}
	}
}

// Expired entries are compacted out of the arrays and the index; the live
// ones keep matching and retracting.
func TestSymJoinStateTTLCompaction(t *testing.T) {
	for _, intKey := range []bool{true, false} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		d := newSymDriver(t, mem, 5, intKey)
		d.wm(0, 0)
		d.wm(1, 0)
		for b := 0; b < 10; b++ {
			var ks []int64
			var vs []string
			for i := 0; i < 100; i++ {
				ks, vs = append(ks, int64(b*100+i)), append(vs, "old")
			}
			d.rows(0, nil, ks, vs...)
		}
		d.wm(0, 10)
		d.rows(0, nil, []int64{5, 7}, "new5", "new7") // touch 10
		big := d.j.State().SizeBytes()
		d.wm(1, 8) // the 1000 rows touched at 0 expire and are compacted away
		s := d.j.sides[0]
		if len(s.refs) != 2 || len(s.batches) != 1 || s.base != 0 {
			t.Fatalf("intKey=%v: after compaction %d entries, %d batches, base %d", intKey, len(s.refs), len(s.batches), s.base)
		}
		if got := d.j.State().SizeBytes(); got*2 > big {
			t.Fatalf("intKey=%v: size %d after compaction, %d before", intKey, got, big)
		}
		d.rows(1, nil, []int64{5, 6, 7}, "r5", "r6", "r7")
		d.rows(0, []ChangeKind{Delete}, []int64{7}, "new7")
		wantRows(t, d.take(), "+I 5|new5|5|r5", "+I 7|new7|7|r7", "-D 7|new7|7|r7")
		d.j.Close()
		mem.AssertSize(t, 0)
	}
}
