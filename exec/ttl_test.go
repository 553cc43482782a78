package exec_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
)

// ttlAgg builds COUNT(*), SUM(v), COUNT(DISTINCT v), MAX(v) GROUP BY k in
// changelog mode with a state TTL over msgs.
func ttlAgg(t *testing.T, mem memory.Allocator, ttl time.Duration, msgs ...exec.Message) *exec.HashAggregate {
	s := exectest.Schema("k", i64, "v", i64)
	op := must(exec.NewHashAggregate(exectest.NewSource(s, msgs...), []expr.Expr{col(s, "k")}, []string{"k"}, []exec.AggCall{
		{Func: "count_star", Name: "n"},
		{Func: "sum", Args: []expr.Expr{col(s, "v")}, Name: "s"},
		{Func: "count", Args: []expr.Expr{col(s, "v")}, Distinct: true, Name: "d"},
		{Func: "max", Args: []expr.Expr{col(s, "v")}, Name: "mx"},
	}, mem, exec.AggOptions{Emit: exec.EmitChangelog}))
	h := op.(*exec.HashAggregate)
	h.SetStateTTL(ttl)
	return h
}

func kvBatch(mem memory.Allocator, rows ...[]any) exec.Message {
	return exec.BatchMsg(exectest.Record(mem, exectest.Schema("k", i64, "v", i64), rows...), nil)
}

// step pulls one message, appending its changelog lines to log.
func step(t *testing.T, op exec.Operator, log *[]string) exec.Message {
	t.Helper()
	m, err := op.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	*log = append(*log, exectest.Changelog([]exec.Message{m})...)
	if m.Kind == exec.MsgBatch {
		m.Release()
	}
	return m
}

func TestHashAggregateStateTTL(t *testing.T) {
	mem := newMem(t)
	h := ttlAgg(t, mem, 5*time.Microsecond,
		kvBatch(mem, []any{1, 7}, []any{2, 1}), // before any watermark: touched by the first
		exec.WatermarkMsg(10),
		exec.WatermarkMsg(12),
		kvBatch(mem, []any{2, 2}), // touch 12
		exec.WatermarkMsg(16),     // key 1 (10 + 5 < 16) goes, key 2 (12 + 5) stays
		kvBatch(mem, []any{1, 7}, []any{2, 2}),
		exec.WatermarkMsg(100),
	)
	if err := h.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var log []string
	st := h.State()
	for i := 0; i < 4; i++ {
		step(t, h, &log)
	}
	if st.Entries() != 2 {
		t.Fatalf("entries before expiry = %d, want 2", st.Entries())
	}
	before := st.SizeBytes()
	if m := step(t, h, &log); m.Kind != exec.MsgWatermark || m.Watermark != 16 {
		t.Fatalf("watermark 16 not forwarded: %+v", m)
	}
	if st.Entries() != 1 || st.SizeBytes() >= before {
		t.Fatalf("after expiry: %d entries, %d bytes (before %d); want 1 entry and fewer bytes", st.Entries(), st.SizeBytes(), before)
	}
	step(t, h, &log)
	step(t, h, &log)
	if st.Entries() != 0 || h.ExpiredGroups() != 3 {
		t.Fatalf("after watermark 100: %d entries, %d expired; want 0, 3", st.Entries(), h.ExpiredGroups())
	}
	// Key 1 starts afresh (+I, its distinct value counted again); key 2 is
	// updated; expiry itself emits nothing.
	check(t, log, []string{
		"+I 1|1|7|1|7", "+I 2|1|1|1|1",
		"-U 2|1|1|1|1", "+U 2|2|3|2|2",
		"-U 2|2|3|2|2", "+I 1|1|7|1|7", "+U 2|3|5|2|2",
	})
}

// Many expired groups are compacted out of the hash table, and the groups
// that stay keep their state under their new numbers.
func TestHashAggregateStateTTLCompaction(t *testing.T) {
	mem := newMem(t)
	var many [][]any
	for k := 0; k < 300; k++ {
		many = append(many, []any{k, k % 3})
	}
	h := ttlAgg(t, mem, 10*time.Microsecond,
		exec.WatermarkMsg(0),
		kvBatch(mem, many...),
		exec.WatermarkMsg(8),
		kvBatch(mem, []any{299, 5}, []any{150, 9}), // touched at 8
		exec.WatermarkMsg(11),                      // the other 298 go
		kvBatch(mem, []any{299, 5}, []any{150, 1}, []any{7, 4}),
	)
	if err := h.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var log []string
	st := h.State()
	for i := 0; i < 4; i++ {
		step(t, h, &log)
	}
	full := st.SizeBytes()
	step(t, h, &log)
	if st.Entries() != 2 {
		t.Fatalf("entries = %d, want 2", st.Entries())
	}
	if got := st.SizeBytes(); got*10 > full {
		t.Fatalf("size after compaction %d, want under a tenth of %d", got, full)
	}
	log = nil
	step(t, h, &log)
	check(t, log, []string{
		"-U 299|2|7|2|5", "-U 150|2|9|2|9",
		"+U 299|3|12|2|5", "+U 150|3|10|3|9", "+I 7|1|4|1|4",
	})
}

// A snapshot keeps the groups' last touches: the restored operator expires
// them as the original would.
func TestHashAggregateStateTTLSnapshot(t *testing.T) {
	mem := newMem(t)
	first := []exec.Message{
		exec.WatermarkMsg(10),
		kvBatch(mem, []any{1, 1}, []any{2, 2}),
		exec.WatermarkMsg(13),
		kvBatch(mem, []any{2, 3}),
	}
	h := ttlAgg(t, mem, 5*time.Microsecond, first...)
	if err := h.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	var log []string
	for range first {
		step(t, h, &log)
	}
	var buf bytes.Buffer
	if err := h.State().Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	h.Close()
	h2 := ttlAgg(t, mem, 5*time.Microsecond,
		exec.WatermarkMsg(16), // key 1 (touched at 10) goes, key 2 (13) stays
		kvBatch(mem, []any{1, 1}, []any{2, 3}),
	)
	if err := h2.State().Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if err := h2.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	log = nil
	step(t, h2, &log)
	if h2.State().Entries() != 1 {
		t.Fatalf("restored entries after watermark 16 = %d, want 1", h2.State().Entries())
	}
	step(t, h2, &log)
	check(t, log, []string{"-U 2|2|5|2|3", "+I 1|1|1|1|1", "+U 2|3|8|2|3"})
}

func ExampleHashAggregate_SetStateTTL() {
	mem := memory.NewGoAllocator()
	s := exectest.Schema("k", i64)
	agg, _ := exec.NewHashAggregate(exectest.NewSource(s), []expr.Expr{&expr.Column{Index: 0, Name: "k", T: i64}}, []string{"k"},
		[]exec.AggCall{{Func: "count_star", Name: "n"}}, mem, exec.AggOptions{Emit: exec.EmitChangelog})
	agg.(*exec.HashAggregate).SetStateTTL(time.Hour)
	fmt.Println(agg)
	// Output: HashAggregate(group=[k#0], aggs=[count(*)], emit=changelog, ttl=1h0m0s)
}

// A snapshot taken with a TTL restores into an aggregate without one (the
// setting was removed), and the other way round.
func TestHashAggregateStateTTLSnapshotCompat(t *testing.T) {
	mem := newMem(t)
	for _, ttls := range [][2]time.Duration{{5 * time.Microsecond, 0}, {0, 5 * time.Microsecond}} {
		h := ttlAgg(t, mem, ttls[0], exec.WatermarkMsg(10), kvBatch(mem, []any{1, 1}))
		if err := h.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		var log []string
		step(t, h, &log)
		step(t, h, &log)
		var buf bytes.Buffer
		if err := h.State().Snapshot(&buf); err != nil {
			t.Fatal(err)
		}
		h.Close()
		h2 := ttlAgg(t, mem, ttls[1], exec.WatermarkMsg(100), kvBatch(mem, []any{1, 2}))
		if err := h2.State().Restore(bytes.NewReader(buf.Bytes())); err != nil {
			t.Fatalf("ttl %v -> %v: %v", ttls[0], ttls[1], err)
		}
		if err := h2.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		log = nil
		step(t, h2, &log)
		step(t, h2, &log)
		h2.Close()
		// Kept: without a TTL for good; with one, the restored groups count
		// as touched by the first watermark after the restore (100).
		check(t, log, []string{"-U 1|1|1|1|1", "+U 1|2|3|2|2"})
	}
}

// An aggregate over a changelog drops the retractions of rows whose group
// expired (they were forgotten with it) instead of failing on a negative
// count; retractions of live rows apply as usual.
func TestHashAggregateStateTTLOrphanRetractions(t *testing.T) {
	mem := newMem(t)
	s := exectest.Schema("k", i64, "v", i64)
	ops := func(k ...exec.ChangeKind) []exec.ChangeKind { return k }
	h := ttlAgg(t, mem, 5*time.Microsecond,
		exec.WatermarkMsg(0),
		kvBatch(mem, []any{1, 4}, []any{2, 6}),
		exec.WatermarkMsg(3),
		kvBatch(mem, []any{2, 1}),
		exec.WatermarkMsg(7), // key 1 (touched at 0) expires; key 2 (3) stays
		// -U 1|4 is an orphan; then +U 1|5 starts key 1 afresh and the
		// -D 1|5 right after it retracts a live row; -D 2|6 is live too.
		exec.BatchMsg(exectest.Record(mem, s, []any{1, 4}, []any{1, 5}, []any{1, 5}, []any{2, 6}),
			ops(exec.UpdateBefore, exec.UpdateAfter, exec.Delete, exec.Delete)),
		exec.BatchMsg(exectest.Record(mem, s, []any{1, 9}), ops(exec.Delete)), // orphan again
	)
	if err := h.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var log []string
	for i := 0; i < 7; i++ {
		step(t, h, &log)
	}
	check(t, log, []string{
		"+I 1|1|4|1|4", "+I 2|1|6|1|6",
		"-U 2|1|6|1|6", "+U 2|2|7|2|6",
		"-U 2|2|7|2|6", "+U 2|1|1|1|1",
	})
	if h.OrphanRetractions() != 2 {
		t.Errorf("orphan retractions = %d, want 2", h.OrphanRetractions())
	}
}
