package sink_test

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/sink"
)

// An update-before is dropped only when an update-after (or insert) of the
// same key follows it (in its batch, or opening the next one when it ends
// its batch); a lone one is a delete, else the upsert topic keeps a row
// the query retracted (an inner lookup join whose table row went away
// emits -U with no +U).
func TestUpsertLoneUpdateBeforeIsDelete(t *testing.T) {
	e := newEnv(t)
	def := `{"type":"record","name":"R","fields":[{"name":"id","type":"long"},{"name":"v","type":"string"}]}`
	e.register("u", pulsar.NewJSONSchema(def, nil))
	tb := e.table("u")
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "v", Type: arrow.BinaryTypes.String},
	}, nil)
	w, err := sink.NewPulsarWriter(e.cat.Client(), tb.Topic(), tb.SchemaInfo(), sch, sink.Options{KeyColumns: []string{"id"}, Upsert: true})
	if err != nil {
		t.Fatal(err)
	}
	write := func(ids []int64, vs []string, ops ...exec.ChangeKind) {
		t.Helper()
		b := array.NewRecordBuilder(e.mem, sch)
		b.Field(0).(*array.Int64Builder).AppendValues(ids, nil)
		b.Field(1).(*array.StringBuilder).AppendValues(vs, nil)
		rec := b.NewRecordBatch()
		b.Release()
		err := w.Write(e.ctx, exec.Batch{Rec: rec, Ops: ops})
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	I, UB, UA := exec.Insert, exec.UpdateBefore, exec.UpdateAfter
	// 1 is updated (its -U dropped); 2 is retracted alone: a delete.
	write([]int64{1, 2, 1, 1, 2}, []string{"a", "b", "a", "c", "b"}, I, I, UB, UA, UB)
	// A -U ending a batch whose +U opens the next one: the pair only
	// straddled two batches, no delete.
	write([]int64{1}, []string{"c"}, UB)
	write([]int64{1}, []string{"e"}, UA)
	// A key that changes: -U of 3, +U of 4.
	write([]int64{3}, []string{"x"}, I)
	write([]int64{3, 4}, []string{"x", "y"}, UB, UA)
	// A lone -U ending the last batch: Close sends its delete.
	write([]int64{4}, []string{"y"}, UB)
	if err := w.Close(e.ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range e.readAll(tb.Topic()) {
		p := strings.ReplaceAll(m.payload, " ", "")
		if p == "" {
			p = "<delete>"
		}
		got = append(got, m.key+"="+p)
	}
	want := []string{
		`1={"id":1,"v":"a"}`, `2={"id":2,"v":"b"}`, `1={"id":1,"v":"c"}`, `2=<delete>`,
		`1={"id":1,"v":"e"}`,
		`3={"id":3,"v":"x"}`, `3=<delete>`, `4={"id":4,"v":"y"}`, `4=<delete>`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("messages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
