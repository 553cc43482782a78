package jobs

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
)

var (
	scanSchema = exectest.Schema("k", arrow.PrimitiveTypes.Int64, "v", arrow.PrimitiveTypes.Int64)
	// rawSchema is what the inner scan returns: the columns, then the
	// hidden partition and message id.
	rawSchema = arrow.NewSchema(append(scanSchema.Fields(),
		arrow.Field{Name: "__partition", Type: arrow.PrimitiveTypes.Int32},
		arrow.Field{Name: "__message_id", Type: arrow.BinaryTypes.String}), nil)
)

// rawBatch builds inner-scan rows k=v=entry for entries lo..hi of ledger 1
// of partition part.
func rawBatch(mem memory.Allocator, part int32, lo, hi int) exec.Message {
	var rows [][]any
	for e := lo; e <= hi; e++ {
		rows = append(rows, []any{int64(e % 3), int64(e)})
	}
	rec := exectest.Record(mem, scanSchema, rows...)
	defer rec.Release()
	pb := array.NewInt32Builder(mem)
	defer pb.Release()
	ib := array.NewStringBuilder(mem)
	defer ib.Release()
	for e := lo; e <= hi; e++ {
		pb.Append(part)
		ib.Append(fmt.Sprintf("1:%d:%d:-1", e, part))
	}
	p, id := pb.NewArray(), ib.NewArray()
	defer p.Release()
	defer id.Release()
	cols := append(append([]arrow.Array(nil), rec.Columns()...), p, id)
	return exec.BatchMsg(array.NewRecordBatch(rawSchema, cols, rec.NumRows()), nil)
}

func colExpr(name string) expr.Expr {
	i := scanSchema.FieldIndices(name)[0]
	return &expr.Column{Index: i, Name: name, T: scanSchema.Field(i).Type}
}

func newMem(t *testing.T) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

func aggOver(t *testing.T, child exec.Operator, mem memory.Allocator) exec.Operator {
	t.Helper()
	agg, err := exec.NewHashAggregate(child, []expr.Expr{colExpr("k")}, []string{"k"},
		[]exec.AggCall{{Func: "count_star", Name: "n"}, {Func: "sum", Args: []expr.Expr{colExpr("v")}, Name: "s"}},
		mem, exec.AggOptions{Emit: exec.EmitChangelog})
	if err != nil {
		t.Fatal(err)
	}
	return agg
}

// TestCheckpointPlan: single-input pipelines over one tracked scan and
// barrier-aligning multi-input operators over several are checkpointable;
// operators that do not align, scans missing from the tree and unsaved
// state are not.
func TestCheckpointPlan(t *testing.T) {
	mem := newMem(t)
	scan := func(reg *scanRegistry) exec.Operator {
		s := newPositionScan(exectest.NewSource(rawSchema), scanSchema, reg)
		reg.add(s)
		return s
	}
	reg := &scanRegistry{mem: mem}
	f, err := exec.NewFilter(scan(reg), &expr.Literal{T: arrow.FixedWidthTypes.Boolean, Value: true}, mem)
	if err != nil {
		t.Fatal(err)
	}
	top, err := exec.NewProject(aggOver(t, f, mem), []expr.Expr{colExpr("k")}, []string{"k"}, mem)
	if err != nil {
		t.Fatal(err)
	}
	sr, err := checkpointPlan(exec.NewMetered(top), reg)
	if err != nil || len(sr.ops) != 1 || len(sr.scans) != 1 {
		t.Fatalf("checkpointPlan: %v %+v", err, sr)
	}
	top.Close()

	reg = &scanRegistry{mem: mem}
	s0, s1 := scan(reg), scan(reg)
	u := exec.NewUnion([]exec.Operator{s0, s1})
	sr, err = checkpointPlan(aggOver(t, u, mem), reg)
	if err != nil || len(sr.ops) != 1 || len(sr.scans) != 2 || sr.scans[0] != s0 || sr.scans[1] != s1 {
		t.Fatalf("union of two scans: %v %+v", err, sr)
	}
	u.Close()

	reg = &scanRegistry{mem: mem}
	stray := scan(reg)
	if _, err := checkpointPlan(aggOver(t, scan(reg), mem), reg); err == nil {
		t.Error("a plan missing a registered scan passed")
	}
	stray.Close()

	reg = &scanRegistry{mem: mem}
	nl, err := exec.NewNestedLoopJoin(scan(reg), scan(reg), exec.InnerJoin, nil, mem)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := checkpointPlan(nl, reg); err == nil || !strings.Contains(err.Error(), "does not align barriers") {
		t.Errorf("a nested loop join passed: %v", err)
	}
	nl.Close()

	// A limit keeps its count in a snapshot; a sort (bounded queries
	// only) keeps rows it cannot snapshot.
	reg = &scanRegistry{mem: mem}
	l := exec.NewLimit(aggOver(t, scan(reg), mem), 0, 10)
	if _, err := checkpointPlan(l, reg); err != nil {
		t.Errorf("a limit refused: %v", err)
	}
	l.Close()
	reg = &scanRegistry{mem: mem}
	so, err := exec.NewSort(scan(reg), []exec.SortKey{{Expr: colExpr("k")}}, mem)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := checkpointPlan(so, reg); err == nil || !strings.Contains(err.Error(), "cannot be checkpointed") {
		t.Errorf("a sort passed: %v", err)
	}
	so.Close()
}

// TestStateBlobRoundTrip: states saved by snapshotStates restore into the
// same plan and are refused by another.
func TestStateBlobRoundTrip(t *testing.T) {
	mem := newMem(t)
	ctx := context.Background()
	reg := &scanRegistry{mem: mem}
	in := exectest.NewSource(rawSchema, rawBatch(mem, -1, 1, 10))
	a := aggOver(t, newPositionScan(in, scanSchema, reg), mem)
	if err := a.Open(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := a.Next(ctx)
	if err != nil || m.Kind != exec.MsgBatch {
		t.Fatalf("%v %v", m.Kind, err)
	}
	m.Release()
	blob, err := snapshotStates([]exec.Operator{a})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	b := aggOver(t, exectest.NewSource(scanSchema), mem)
	defer b.Close()
	if err := restoreStates([]exec.Operator{b}, blob); err != nil {
		t.Fatal(err)
	}
	if n := b.(exec.Stateful).State().Entries(); n != 3 {
		t.Fatalf("restored %d groups, want 3", n)
	}
	other, err := exec.NewHashAggregate(exectest.NewSource(scanSchema), []expr.Expr{colExpr("v")}, []string{"v"},
		[]exec.AggCall{{Func: "count_star", Name: "n"}}, mem, exec.AggOptions{Emit: exec.EmitChangelog})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := restoreStates([]exec.Operator{other}, blob); err == nil {
		t.Error("restored into another plan")
	}
	if err := restoreStates([]exec.Operator{b, b}, blob); err == nil {
		t.Error("restored into a plan with more stateful operators")
	}
	if err := restoreStates([]exec.Operator{b}, blob[:len(blob)-3]); err == nil {
		t.Error("restored a truncated blob")
	}
}

// TestPositionScan: rows at or before the resume positions are dropped,
// positions follow the rows returned, hidden columns are removed, and a
// barrier comes out while the input is idle.
func TestPositionScan(t *testing.T) {
	mem := newMem(t)
	ctx := context.Background()
	reg := &scanRegistry{mem: mem, resume: map[int32]Pos{0: {Ledger: 1, Entry: 4, Batch: -1}}}
	idle := &idleSource{Source: exectest.NewSource(rawSchema, rawBatch(mem, 0, 1, 3), rawBatch(mem, 0, 4, 6), rawBatch(mem, 1, 1, 2))}
	s := newPositionScan(idle, scanSchema, reg)
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var rows []string
	for len(rows) < 4 {
		m, err := s.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind != exec.MsgBatch {
			t.Fatalf("message %v before the data", m.Kind)
		}
		if !m.Batch.Rec.Schema().Equal(scanSchema) {
			t.Fatalf("schema %s", m.Batch.Rec.Schema())
		}
		rows = append(rows, exectest.Rows([]arrow.RecordBatch{m.Batch.Rec})...)
		m.Release()
	}
	if got := strings.Join(rows, ","); got != "2|5,0|6,1|1,2|2" {
		t.Fatalf("rows %s", got)
	}
	// The source is now idle (it blocks): a barrier still comes out.
	if !s.requestBarrier(7) || s.requestBarrier(8) {
		t.Fatal("barrier requests: want the first accepted, the second refused while pending")
	}
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	m, err := s.Next(tctx)
	if err != nil || m.Kind != exec.MsgBarrier || m.Barrier != 7 {
		t.Fatalf("got %v %d %v, want barrier 7", m.Kind, m.Barrier, err)
	}
	pos, ok := s.positionsAt(7)
	if !ok || len(pos) != 2 || pos[0] != (Pos{1, 6, -1}) || pos[1] != (Pos{1, 2, -1}) {
		t.Fatalf("positions at the barrier %v", pos)
	}
	if s.rowsRead.Load() != 8 || s.rowsIn.Load() != 4 {
		t.Fatalf("read %d, returned %d rows", s.rowsRead.Load(), s.rowsIn.Load())
	}
}

// idleSource blocks once its messages are out, like a tailing scan.
type idleSource struct{ *exectest.Source }

func (s *idleSource) Next(ctx context.Context) (exec.Message, error) {
	m, err := s.Source.Next(ctx)
	if err == nil && m.Kind == exec.MsgEnd {
		<-ctx.Done()
		return exec.Message{}, ctx.Err()
	}
	return m, err
}
