package jobs

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/magnetar-sql/magnetar/exec"
)

// collectWriter keeps the ids written.
type collectWriter struct{ ids []int64 }

func (w *collectWriter) Write(_ context.Context, b exec.Batch) error {
	c := b.Rec.Column(0).(*array.Int64)
	for i := 0; i < c.Len(); i++ {
		w.ids = append(w.ids, c.Value(i))
	}
	return nil
}
func (w *collectWriter) Close(context.Context) error { return nil }

// TestWriteDropsRedelivered: rows at or before the last position written
// for their partition are dropped: the replay of a restored checkpoint, and
// a source message the scan delivers twice in one run (seen through a broker
// restart: an exactly-once output then held that row twice).
func TestWriteDropsRedelivered(t *testing.T) {
	mem := newMem(t)
	src := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: ColPartition, Type: arrow.PrimitiveTypes.Int32},
		{Name: ColMessageID, Type: arrow.BinaryTypes.String},
		{Name: ColPublishTime, Type: arrow.FixedWidthTypes.Timestamp_us},
	}, nil)
	target := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	mp, err := newMapper(src, target, &insertPlan{table: "dst", tracked: true}, mem)
	if err != nil {
		t.Fatal(err)
	}
	w := &collectWriter{}
	r := &runState{j: &job{m: &Manager{cfg: Config{Mem: mem}}}, mp: mp, w: w,
		positions: map[int32]Pos{1: {Ledger: 7, Entry: 2, Batch: -1}}} // restored checkpoint: partition 1 up to 7:2
	batch := func(rows ...[3]int64) exec.Batch { // id, partition, entry
		b := array.NewRecordBuilder(mem, src)
		defer b.Release()
		for _, row := range rows {
			b.Field(0).(*array.Int64Builder).Append(row[0])
			b.Field(1).(*array.Int32Builder).Append(int32(row[1]))
			b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("7:%d:%d:-1", row[2], row[1]))
			b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(row[0]))
		}
		return exec.Batch{Rec: b.NewRecordBatch()}
	}
	for _, b := range []exec.Batch{
		batch([3]int64{1, 1, 1}, [3]int64{2, 1, 2}, [3]int64{3, 1, 3}, [3]int64{10, 0, 1}),  // 1, 2 replayed
		batch([3]int64{3, 1, 3}, [3]int64{4, 1, 4}, [3]int64{10, 0, 1}, [3]int64{11, 0, 2}), // 3 and 10 again
	} {
		err := r.write(context.Background(), b)
		b.Rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	if got, want := fmt.Sprint(w.ids), "[3 10 4 11]"; got != want {
		t.Fatalf("written %s, want %s", got, want)
	}
	if r.rowsOut != 4 {
		t.Errorf("rows out %d, want 4", r.rowsOut)
	}
}
