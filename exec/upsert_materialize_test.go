package exec_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
)

// upsertSchema is an upsert source's shape: visible columns, then the
// message key and the tombstone flag.
var upsertSchema = exectest.Schema("id", arrow.PrimitiveTypes.Int64, "v", arrow.BinaryTypes.String,
	"__key", arrow.BinaryTypes.String, "__tombstone", arrow.FixedWidthTypes.Boolean)

var upsertSpec = exec.UpsertSpec{KeyCol: 2, FlagCol: 3, KeyCols: []int{0}}

// marker is the source's bootstrap marker row.
var marker = []any{nil, nil, nil, nil}

func up(id int, v string) []any { return []any{id, v, fmt.Sprint(id), false} }
func del(id int) []any          { return []any{id, nil, fmt.Sprint(id), true} }

// upsertBatches cuts rows into batches of size n.
func upsertBatches(mem memory.Allocator, s *arrow.Schema, n int, rows [][]any) []exec.Message {
	var out []exec.Message
	for len(rows) > 0 {
		k := min(n, len(rows))
		out = append(out, exec.BatchMsg(exectest.Record(mem, s, rows[:k]...), nil))
		rows = rows[k:]
	}
	return out
}

func runUpsert(t *testing.T, mem memory.Allocator, msgs []exec.Message) []exec.Message {
	t.Helper()
	op, err := exec.NewUpsertMaterialize(exectest.NewSource(upsertSchema, msgs...), upsertSpec, mem)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exectest.CollectMessages(context.Background(), op)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestUpsertMaterializeBounded: without a marker the input's end ends the
// bootstrap: only the latest row of every live key comes out, as +I.
func TestUpsertMaterializeBounded(t *testing.T) {
	rows := [][]any{
		up(1, "a"), up(2, "b"), up(1, "a2"), del(2), del(3), // 3 never existed
		up(4, "d"), del(4), up(4, "d2"), // re-insert after delete
		{5, "keyless", nil, false}, // no message key: keyed by id
		up(5, "e"),                 // the same key 5
		{nil, "nokey", nil, false}, // no key at all: ignored
	}
	for _, n := range []int{1, 3, 100} {
		t.Run(fmt.Sprint("batch", n), func(t *testing.T) {
			mem := stMem(t)
			out := runUpsert(t, mem, upsertBatches(mem, upsertSchema, n, rows))
			defer exectest.ReleaseMessages(out)
			want := []string{"+I 1|a2|1|false", "+I 4|d2|4|false", "+I 5|e|5|false"}
			if err := exectest.Equal(sorted(exectest.Changelog(out)), want); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func sorted(s []string) []string { return sortStrings(append([]string(nil), s...)) }

// TestUpsertMaterializeChangelog: after the marker, every change is
// emitted: +I new key, -U/+U update, -D delete, nothing for an absent key.
func TestUpsertMaterializeChangelog(t *testing.T) {
	boot := [][]any{up(1, "a"), up(2, "b"), up(2, "b2"), del(1), up(3, "c"), marker}
	live := [][]any{
		up(2, "b3"), del(9), up(4, "d"), del(3), up(3, "c2"), del(4),
	}
	// Batch size 1 shows each change; one batch shows the net change per
	// key (4 inserted and deleted within it: nothing).
	wantOne := []string{
		"+I 2|b2|2|false", "+I 3|c|3|false",
		"-U 2|b2|2|false", "+U 2|b3|2|false",
		"+I 4|d|4|false",
		"-D 3|c|3|false",
		"+I 3|c2|3|false",
		"-D 4|d|4|false",
	}
	wantBig := []string{
		"+I 2|b2|2|false", "+I 3|c|3|false",
		"-U 2|b2|2|false", "+U 2|b3|2|false",
		"-U 3|c|3|false", "+U 3|c2|3|false",
	}
	for _, tc := range []struct {
		n    int
		want []string
	}{{1, wantOne}, {100, wantBig}} {
		t.Run(fmt.Sprint("batch", tc.n), func(t *testing.T) {
			mem := stMem(t)
			msgs := append(upsertBatches(mem, upsertSchema, tc.n, boot), exec.WatermarkMsg(7))
			msgs = append(msgs, upsertBatches(mem, upsertSchema, tc.n, live)...)
			out := runUpsert(t, mem, msgs)
			defer exectest.ReleaseMessages(out)
			if err := exectest.Equal(exectest.Changelog(out), tc.want); err != nil {
				t.Fatal(err)
			}
			folded, err := exectest.Fold(out)
			if err != nil {
				t.Fatal(err)
			}
			if err := exectest.Equal(folded, []string{"2|b3|2|false", "3|c2|3|false"}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestUpsertMaterializeHoldsWatermarks: a watermark during the bootstrap
// comes out after the snapshot rows, not before.
func TestUpsertMaterializeHoldsWatermarks(t *testing.T) {
	mem := stMem(t)
	msgs := []exec.Message{
		exec.BatchMsg(exectest.Record(mem, upsertSchema, up(1, "a")), nil),
		exec.WatermarkMsg(5),
		exec.BatchMsg(exectest.Record(mem, upsertSchema, up(2, "b"), marker), nil),
		exec.WatermarkMsg(9),
	}
	out := runUpsert(t, mem, msgs)
	defer exectest.ReleaseMessages(out)
	var got []string
	for _, m := range out {
		switch m.Kind {
		case exec.MsgBatch:
			got = append(got, fmt.Sprintf("rows %d", m.Batch.Rec.NumRows()))
		case exec.MsgWatermark:
			got = append(got, fmt.Sprintf("wm %d", m.Watermark))
		}
	}
	if err := exectest.Equal(got, []string{"rows 2", "wm 5", "wm 9"}); err != nil {
		t.Fatal(err)
	}
}

// TestUpsertMaterializeRestore: a snapshot taken mid-stream and restored
// into a new operator continues with the same changelog.
func TestUpsertMaterializeRestore(t *testing.T) {
	mem := stMem(t)
	first := [][]any{up(1, "a"), up(2, "b"), marker, up(1, "a2")}
	second := [][]any{del(2), up(1, "a3"), up(3, "c")}
	ctx := context.Background()

	op, err := exec.NewUpsertMaterialize(exectest.NewSource(upsertSchema, upsertBatches(mem, upsertSchema, 2, first)...), upsertSpec, mem)
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Open(ctx); err != nil {
		t.Fatal(err)
	}
	var before []exec.Message
	for {
		m, err := op.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind == exec.MsgEnd {
			break
		}
		before = append(before, m)
	}
	var snap bytes.Buffer
	if err := op.State().Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	if n := op.State().Entries(); n != 2 {
		t.Fatalf("entries = %d, want 2", n)
	}
	op.Close()
	exectest.ReleaseMessages(before)

	op2, err := exec.NewUpsertMaterialize(exectest.NewSource(upsertSchema, upsertBatches(mem, upsertSchema, 10, second)...), upsertSpec, mem)
	if err != nil {
		t.Fatal(err)
	}
	if err := op2.State().Restore(&snap); err != nil {
		t.Fatal(err)
	}
	out, err := exectest.CollectMessages(ctx, op2)
	defer exectest.ReleaseMessages(out)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"-D 2|b|2|false", "-U 1|a2|1|false", "+U 1|a3|1|false", "+I 3|c|3|false"}
	if err := exectest.Equal(exectest.Changelog(out), want); err != nil {
		t.Fatal(err)
	}
}

// TestUpsertMaterializeMultiKey: keyless rows of a two-column key use the
// sink's JSON-array key text, so they meet rows keyed by message key.
func TestUpsertMaterializeMultiKey(t *testing.T) {
	mem := stMem(t)
	s := exectest.Schema("a", arrow.PrimitiveTypes.Int64, "b", arrow.BinaryTypes.String, "v", arrow.PrimitiveTypes.Int64,
		"__key", arrow.BinaryTypes.String, "__tombstone", arrow.FixedWidthTypes.Boolean)
	src := exectest.NewSource(s, exec.BatchMsg(exectest.Record(mem, s,
		[]any{1, "x", 10, nil, false},
		[]any{1, "x", 11, `["1","x"]`, false},
		[]any{2, "y", 20, nil, false},
		[]any{nil, nil, nil, `["2","y"]`, true},
	), nil))
	op, err := exec.NewUpsertMaterialize(src, exec.UpsertSpec{KeyCol: 3, FlagCol: 4, KeyCols: []int{0, 1}}, mem)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exectest.CollectMessages(context.Background(), op)
	defer exectest.ReleaseMessages(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := exectest.Equal(exectest.Changelog(out), []string{`+I 1|x|11|["1","x"]|false`}); err != nil {
		t.Fatal(err)
	}
}

// TestUpsertMaterializeRejectsRetractions: the input is a source's rows.
func TestUpsertMaterializeRejectsRetractions(t *testing.T) {
	mem := stMem(t)
	src := exectest.NewSource(upsertSchema, exec.BatchMsg(exectest.Record(mem, upsertSchema, up(1, "a")), []exec.ChangeKind{exec.Delete}))
	op, err := exec.NewUpsertMaterialize(src, upsertSpec, mem)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exectest.Collect(context.Background(), op); err == nil {
		t.Fatal("want an error for a retraction")
	}
}
