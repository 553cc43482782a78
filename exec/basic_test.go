package exec_test

import (
	"context"
	"errors"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
)

func TestValuesAndLimit(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("a", i64)
	mk := func() exec.Operator {
		return values(mem, s, [][]any{{1}, {2}, {3}}, [][]any{}, [][]any{{4}, {5}})
	}
	check(t, run(t, mk()), []string{"1", "2", "3", "4", "5"})
	check(t, run(t, exec.NewLimit(mk(), 0, -1)), []string{"1", "2", "3", "4", "5"})
	check(t, run(t, exec.NewLimit(mk(), 2, 2)), []string{"3", "4"})
	check(t, run(t, exec.NewLimit(mk(), 4, 10)), []string{"5"})
	check(t, run(t, exec.NewLimit(mk(), 0, 0)), nil)
	check(t, run(t, exec.NewLimit(mk(), 10, 1)), nil)
}

func TestLimitStopsPulling(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("a", i64)
	src := exectest.NewSource(s,
		exec.BatchMsg(exectest.Record(mem, s, []any{1}, []any{2}), nil),
		exec.BatchMsg(exectest.Record(mem, s, []any{3}), nil))
	lim := exec.NewLimit(src, 0, 2)
	ctx := context.Background()
	if err := lim.Open(ctx); err != nil {
		t.Fatal(err)
	}
	m, _ := lim.Next(ctx)
	m.Release()
	m, _ = lim.Next(ctx)
	if m.Kind != exec.MsgEnd {
		t.Fatalf("want End after limit, got %v", m.Kind)
	}
	// The second batch was never pulled; Close releases it.
	lim.Close()
	if !src.Closed() {
		t.Fatal("child not closed")
	}
}

func TestLimitKeepsOps(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("a", i64)
	src := exectest.NewSource(s,
		exec.BatchMsg(exectest.Record(mem, s, []any{1}, []any{1}, []any{2}), []exec.ChangeKind{exec.Insert, exec.Delete, exec.Insert}))
	msgs, err := exectest.CollectMessages(context.Background(), exec.NewLimit(src, 1, 1))
	defer exectest.ReleaseMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	check(t, exectest.Changelog(msgs), []string{"-D 1"})
}

func TestFilterOnBooleanColumn(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("a", i64, "ok", bln)
	src := exectest.NewSource(s,
		exec.WatermarkMsg(5),
		exec.BatchMsg(exectest.Record(mem, s, []any{1, true}, []any{2, false}, []any{3, nil}, []any{4, true}),
			[]exec.ChangeKind{exec.Insert, exec.Insert, exec.Insert, exec.Delete}),
		exec.Message{Kind: exec.MsgBarrier, Barrier: 7},
		exec.BatchMsg(exectest.Record(mem, s, []any{5, false}), nil),
		exec.BatchMsg(exectest.Record(mem, s, []any{6, true}), nil),
	)
	f := must(exec.NewFilter(src, col(s, "ok"), mem))
	msgs, err := exectest.CollectMessages(context.Background(), f)
	defer exectest.ReleaseMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	check(t, exectest.Changelog(msgs), []string{"+I 1|true", "-D 4|true", "+I 6|true"})
	kinds := []exec.MessageKind{}
	for _, m := range msgs {
		kinds = append(kinds, m.Kind)
	}
	want := []exec.MessageKind{exec.MsgWatermark, exec.MsgBatch, exec.MsgBarrier, exec.MsgBatch}
	if len(kinds) != len(want) {
		t.Fatalf("kinds %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("kinds %v, want %v", kinds, want)
		}
	}
	if msgs[0].Watermark != 5 || msgs[2].Barrier != 7 {
		t.Fatalf("control messages changed: %+v %+v", msgs[0], msgs[2])
	}
}

func TestFilterRejectsNonBoolean(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("a", i64)
	if _, err := exec.NewFilter(values(mem, s), col(s, "a"), mem); err == nil {
		t.Fatal("want error for BIGINT predicate")
	}
	// The Values operator was never opened; nothing to release.
}

func TestProjectColumns(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("a", i64, "b", str)
	p := must(exec.NewProject(values(mem, s, [][]any{{1, "x"}, {nil, "y"}}),
		[]expr.Expr{col(s, "b"), col(s, "a"), col(s, "b")}, []string{"b", "a", "b2"}, mem))
	if got := p.Schema().Field(2).Name; got != "b2" {
		t.Fatalf("name %q", got)
	}
	check(t, run(t, p), []string{"x|1|x", "y|NULL|y"})
}

func TestUnionAll(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("a", i64)
	u := exec.NewUnion([]exec.Operator{
		values(mem, s, [][]any{{1}, {2}}, [][]any{{3}}),
		values(mem, s),
		values(mem, s, [][]any{{4}}),
	})
	check(t, runSorted(t, u), []string{"1", "2", "3", "4"})
}

func TestUnionWatermarksAndBarriers(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("a", i64)
	a := exectest.NewSource(s, exec.WatermarkMsg(10), exec.Message{Kind: exec.MsgBarrier, Barrier: 1},
		exec.BatchMsg(exectest.Record(mem, s, []any{1}), nil), exec.WatermarkMsg(30))
	b := exectest.NewSource(s, exec.WatermarkMsg(20), exec.Message{Kind: exec.MsgBarrier, Barrier: 1},
		exec.BatchMsg(exectest.Record(mem, s, []any{2}), []exec.ChangeKind{exec.Delete}))
	msgs, err := exectest.CollectMessages(context.Background(), exec.NewUnion([]exec.Operator{a, b}))
	defer exectest.ReleaseMessages(msgs)
	if err != nil {
		t.Fatal(err)
	}
	var wms []int64
	barriers := 0
	for _, m := range msgs {
		switch m.Kind {
		case exec.MsgWatermark:
			wms = append(wms, m.Watermark)
		case exec.MsgBarrier:
			barriers++
		}
	}
	if barriers != 1 {
		t.Fatalf("want 1 aligned barrier, got %d", barriers)
	}
	// Watermarks never go backwards and never pass the slower input.
	for i := 1; i < len(wms); i++ {
		if wms[i] <= wms[i-1] {
			t.Fatalf("watermarks not increasing: %v", wms)
		}
	}
	if len(wms) == 0 || wms[0] != 10 {
		t.Fatalf("first watermark should be min(10,20)=10: %v", wms)
	}
	// b retracts a row 2 it never inserted; fold it over a prior +I 2.
	prior := exectest.Record(mem, s, []any{2})
	defer prior.Release()
	got, err := exectest.Fold(append([]exec.Message{exec.BatchMsg(prior, nil)}, msgs...))
	if err != nil {
		t.Fatal(err)
	}
	check(t, got, []string{"1"})
}

// failing is an operator whose Next fails.
type failing struct{ exectest.Source }

func (f *failing) Next(context.Context) (exec.Message, error) {
	return exec.Message{}, errors.New("boom")
}

func TestUnionPropagatesErrors(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("a", i64)
	u := exec.NewUnion([]exec.Operator{values(mem, s, [][]any{{1}}), &failing{*exectest.NewSource(s)}})
	recs, err := exectest.Collect(context.Background(), u)
	exectest.Release(recs) // batches that arrived before the error
	if err == nil || err.Error() != "boom" {
		t.Fatalf("want boom, got %v", err)
	}
}

func TestMetered(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("a", i64)
	inner := exec.NewMetered(values(mem, s, [][]any{{1}, {2}}, [][]any{{3}}))
	outer := exec.NewMetered(exec.NewLimit(inner, 0, 2))
	check(t, run(t, outer), []string{"1", "2"})
	st := outer.Stats()
	if st.Rows != 2 || st.Batches != 1 {
		t.Fatalf("outer stats %+v", st)
	}
	if in := inner.Stats(); in.Rows != 2 || in.Batches != 1 {
		t.Fatalf("inner stats %+v", in)
	}
	if st.SelfTime > st.Time {
		t.Fatalf("self time %v > time %v", st.SelfTime, st.Time)
	}
	if outer.String() != "Limit(offset=0, count=2)" {
		t.Fatalf("String %q", outer.String())
	}
}

var _ arrow.DataType = i64
