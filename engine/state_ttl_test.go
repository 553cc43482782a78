package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	memcat "github.com/magnetar-sql/magnetar/catalog/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
)

func newTTLSession(t *testing.T) (*Engine, *Session, func()) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cat := memcat.New()
	eng := New(cat, Options{Mem: mem})
	s := eng.NewSession()
	mustRun(t, s, `CREATE TABLE clicks (uid VARCHAR(10), ts TIMESTAMP(6), amount INT);
CREATE TABLE pays (uid VARCHAR(10), ts TIMESTAMP(6), total INT)`)
	return eng, s, func() {
		cat.Close()
		if n := mem.CurrentAlloc(); n != 0 {
			t.Errorf("%d bytes of Arrow memory not released", n)
		}
	}
}

// newContinuousTTLSession is newTTLSession in continuous mode, with event
// time ts and the state TTL ttl ("" for none).
func newContinuousTTLSession(t *testing.T, ttl string) (*Engine, *Session, func()) {
	t.Helper()
	eng, s, done := newTTLSession(t)
	mustRun(t, s, "SET magnetar.event_time = 'ts'")
	mustRun(t, s, fmt.Sprintf("SET magnetar.state_ttl = '%s'", ttl))
	mustRun(t, s, "SET magnetar.mode = 'continuous'")
	return eng, s, done
}

func explainText(t *testing.T, s *Session, q string) string {
	t.Helper()
	var lines []string
	err := eachBatch(context.Background(), s, "EXPLAIN "+q, func(b exec.Batch) error {
		lines = append(lines, exectest.Rows([]arrow.RecordBatch{b.Rec})...)
		return nil
	})
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", q, err)
	}
	return strings.Join(lines, "\n")
}

func TestStateTTLPlans(t *testing.T) {
	_, s, done := newTTLSession(t)
	defer done()
	if err := s.Set("magnetar.state_ttl", "soon"); err == nil {
		t.Error("SET magnetar.state_ttl = 'soon' should be an error")
	}
	mustRun(t, s, "SET magnetar.state_ttl = '1 HOUR'")
	agg := "SELECT uid, count(*) FROM clicks GROUP BY uid"
	join := "SELECT c.uid, c.amount, p.total FROM clicks c JOIN pays p ON c.uid = p.uid"
	// Bounded queries ignore the TTL.
	if plan := explainText(t, s, agg); strings.Contains(plan, "StateTTL") {
		t.Errorf("bounded plan has a TTL:\n%s", plan)
	}
	mustRun(t, s, "SET magnetar.mode = 'continuous'")
	// Memory tables have no default event time to measure the TTL with.
	err := s.Run(context.Background(), "EXPLAIN "+agg, func(*Result) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "no event time") {
		t.Fatalf("want an error about the missing event time, got %v", err)
	}
	mustRun(t, s, "SET magnetar.event_time = 'ts'")
	dedup := `SELECT uid, ts, amount FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY uid ORDER BY ts) AS rn FROM clicks) t WHERE rn = 1`
	for _, q := range []string{agg, join, dedup} {
		plan := explainText(t, s, q)
		if !strings.Contains(plan, "StateTTL ttl=1h0m0s") || !strings.Contains(plan, "keep_late") {
			t.Errorf("plan of %s lacks the TTL or its watermark clock:\n%s", q, plan)
		}
	}
	// EXPLAIN ANALYZE shows it on the operators (a bounded run: no TTL).
	mustRun(t, s, "SET magnetar.state_ttl = ''")
	if plan := explainText(t, s, join); strings.Contains(plan, "StateTTL") {
		t.Errorf("TTL unset but planned:\n%s", plan)
	}
}

// runChanges runs a continuous query while feed inserts rows, and returns
// the changelog once want lines arrived (or the run failed).
func runChanges(t *testing.T, eng *Engine, s *Session, q string, feed []string, want int) []string {
	t.Helper()
	lines := make(chan string, 100)
	run := startContinuous(t, s, q, func(ctx context.Context, m exec.Message) error {
		for _, l := range exectest.Changelog([]exec.Message{m}) {
			select {
			case lines <- l:
			case <-ctx.Done():
				// Nobody reads any more: stop (or stop waits forever).
				return ctx.Err()
			}
		}
		return nil
	})
	defer run.stop()
	feeder := eng.NewSession()
	var got []string
	for _, ins := range feed {
		mustRun(t, feeder, ins)
		// Wait for the insert's output so the steps stay in order.
		for len(got) < want {
			select {
			case l := <-lines:
				got = append(got, l)
				continue
			case <-time.After(200 * time.Millisecond):
			case <-run.ctx.Done():
				t.Fatalf("timed out with %q", got)
			}
			break
		}
	}
	for len(got) < want {
		select {
		case l := <-lines:
			got = append(got, l)
		case <-run.ctx.Done():
			t.Fatalf("timed out with %q", got)
		}
	}
	if err := run.stop(); err != nil {
		t.Fatalf("continuous run: %v", err)
	}
	return got
}

// An unwindowed continuous aggregate forgets a key untouched for the TTL
// (in event time): its next row starts a new group, emitted as +I.
func TestStateTTLAggregateContinuous(t *testing.T) {
	for _, ttl := range []string{"", "1 MINUTE"} {
		t.Run("ttl="+ttl, func(t *testing.T) {
			eng, s, done := newContinuousTTLSession(t, ttl)
			defer done()
			got := runChanges(t, eng, s, "SELECT uid, count(*), sum(amount) FROM clicks GROUP BY uid", []string{
				"INSERT INTO clicks VALUES ('ann', '2024-01-01 00:00:00', 1)",
				"INSERT INTO clicks VALUES ('bob', '2024-01-01 00:10:00', 2)", // watermark 00:10: ann goes
				"INSERT INTO clicks VALUES ('ann', '2024-01-01 00:10:01', 3)",
			}, map[string]int{"": 4, "1 MINUTE": 3}[ttl])
			want := []string{"+I ann|1|1", "+I bob|1|2", "+I ann|1|3"}
			if ttl == "" {
				want = []string{"+I ann|1|1", "+I bob|1|2", "-U ann|1|1", "+U ann|2|4"}
			}
			if err := exectest.Equal(got, want); err != nil {
				t.Error(err)
			}
		})
	}
}

// A regular continuous join forgets rows untouched for the TTL: a row
// arriving more than the TTL (in watermark time) after its partner does
// not join it.
func TestStateTTLJoinContinuous(t *testing.T) {
	// Without a TTL nothing makes the join's inputs carry watermarks over
	// memory tables, and the join waits for its build side to end: a TTL of
	// 100 days is the control.
	for _, ttl := range []string{"100 DAYS", "1 MINUTE"} {
		t.Run("ttl="+ttl, func(t *testing.T) {
			eng, s, done := newContinuousTTLSession(t, ttl)
			defer done()
			q := "SELECT c.uid, c.amount, p.total FROM clicks c JOIN pays p ON c.uid = p.uid"
			feed := []string{
				"INSERT INTO pays VALUES ('ann', '2024-01-01 00:00:00', 10)",
				"INSERT INTO clicks VALUES ('ann', '2024-01-01 00:00:05', 1)", // joins (5 s apart)
				"INSERT INTO clicks VALUES ('zed', '2024-01-01 00:10:00', 0)", // clicks' watermark to 00:10
				"INSERT INTO pays VALUES ('zed', '2024-01-01 00:10:00', 0)",   // pays' too: ann's pay expires
				"INSERT INTO clicks VALUES ('ann', '2024-01-01 00:10:01', 2)", // no partner left with a TTL
				"INSERT INTO pays VALUES ('bob', '2024-01-01 00:10:02', 20)",  // marker: its click follows
				"INSERT INTO clicks VALUES ('bob', '2024-01-01 00:10:03', 30)",
			}
			want := []string{"+I ann|1|10", "+I zed|0|0", "+I bob|30|20"}
			if ttl == "100 DAYS" {
				want = []string{"+I ann|1|10", "+I zed|0|0", "+I ann|2|10", "+I bob|30|20"}
			}
			got := runChanges(t, eng, s, q, feed, len(want))
			sort.Strings(got)
			sort.Strings(want)
			if err := exectest.Equal(got, want); err != nil {
				t.Error(err)
			}
		})
	}
}

// Rows read in one batch (a backlog) expire keys as a live stream would:
// the TTL clock cuts a batch that moves the watermark more than a tenth
// of the TTL and emits the watermark in between.
func TestStateTTLAggregateOneBatch(t *testing.T) {
	eng, s, done := newContinuousTTLSession(t, "1 MINUTE")
	defer done()
	if plan := explainText(t, s, "SELECT uid, count(*) FROM clicks GROUP BY uid"); !strings.Contains(plan, "split_every=6s") {
		t.Errorf("plan lacks the clock's split:\n%s", plan)
	}
	got := runChanges(t, eng, s, "SELECT uid, count(*), sum(amount) FROM clicks GROUP BY uid", []string{
		"INSERT INTO clicks VALUES ('ann', '2024-01-01 00:00:00', 1)",
		"INSERT INTO clicks VALUES ('bob', '2024-01-01 00:10:00', 2), ('ann', '2024-01-01 00:10:01', 3)",
	}, 3)
	if err := exectest.Equal(got, []string{"+I ann|1|1", "+I bob|1|2", "+I ann|1|3"}); err != nil {
		t.Error(err)
	}
}
