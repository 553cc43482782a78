package exec_test

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
)

// listSchema is a stream with a list column (an Avro array).
var listSchema = arrow.NewSchema([]arrow.Field{
	{Name: "lk", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "tags", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
}, nil)

// listRow is a one-row batch (k, [tag]) of listSchema with change kind op.
func listRow(mem memory.Allocator, op exec.ChangeKind, k, tag int64) exec.Message {
	b := array.NewRecordBuilder(mem, listSchema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).Append(k)
	lb := b.Field(1).(*array.ListBuilder)
	lb.Append(true)
	lb.ValueBuilder().(*array.Int64Builder).Append(tag)
	return exec.BatchMsg(b.NewRecordBatch(), []exec.ChangeKind{op})
}

// TestSymmetricJoinRetractsRowDifferingInList: two left rows with the same
// key differing only in a list column; retracting the older one must
// remove that row from the join state, not its look-alike: a later right
// row joins the live row only.
func TestSymmetricJoinRetractsRowDifferingInList(t *testing.T) {
	mem := newMem(t)
	barrier := exec.Message{Kind: exec.MsgBarrier, Barrier: 1}
	for _, typ := range []exec.JoinType{exec.InnerJoin, exec.LeftJoin} {
		l := []exec.Message{exec.WatermarkMsg(1), listRow(mem, exec.Insert, 1, 10), listRow(mem, exec.Insert, 1, 20),
			listRow(mem, exec.Delete, 1, 10), barrier}
		r := []exec.Message{exec.WatermarkMsg(1), barrier,
			exec.BatchMsg(exectest.Record(mem, joinR, []any{1, 7}), nil)}
		j := must(exec.NewHashJoin(exectest.NewSource(listSchema, l...), exectest.NewSource(joinR, r...),
			[]expr.Expr{col(listSchema, "lk")}, []expr.Expr{col(joinR, "rk")}, typ, nil, mem))
		msgs, err := exectest.CollectMessages(context.Background(), j)
		if err != nil {
			t.Fatal(err)
		}
		log := exectest.Changelog(msgs)
		folded, err := exectest.Fold(msgs)
		exectest.ReleaseMessages(msgs)
		if err != nil {
			t.Fatalf("%s join: %v\n%q", typ, err, log)
		}
		if err := exectest.Equal(folded, []string{"1|[20]|1|7"}); err != nil {
			t.Errorf("%s join: %v\n%q", typ, err, log)
		}
	}
}
