package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/catalog"
	memcat "github.com/magnetar-sql/magnetar/catalog/memory"
	"github.com/magnetar-sql/magnetar/exec"
)

func newTestSession(t *testing.T) (*Session, *memory.CheckedAllocator) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cat := memcat.New()
	t.Cleanup(func() {
		cat.Close()
		mem.AssertSize(t, 0)
	})
	return New(cat, Options{Mem: mem}).NewSession(), mem
}

func TestExplainAnalyze(t *testing.T) {
	s, _ := newTestSession(t)
	ctx := context.Background()
	if _, _, err := runSQL(ctx, s, "CREATE TABLE t (a INT, b VARCHAR(5)); INSERT INTO t VALUES (1,'x'),(2,'y'),(3,'x')"); err != nil {
		t.Fatal(err)
	}
	rows, _, err := runSQL(ctx, s, "EXPLAIN ANALYZE SELECT b, COUNT(*) FROM t WHERE a > 1 GROUP BY b")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(rows, "\n")
	for _, want := range []string{"rows=2 batches=1", "MemoryScan t", "rows=3"} {
		if !strings.Contains(text, want) {
			t.Errorf("EXPLAIN ANALYZE output lacks %q:\n%s", want, text)
		}
	}
	rows, _, err = runSQL(ctx, s, "EXPLAIN SELECT a FROM t WHERE a > 1")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || !strings.HasPrefix(rows[0], "Filter") || !strings.Contains(rows[1], "Scan default.t [a]") {
		t.Fatalf("EXPLAIN: %q", rows)
	}
}

func TestSessionSettings(t *testing.T) {
	s, _ := newTestSession(t)
	ctx := context.Background()
	if s.Mode() != catalog.Bounded || s.Database() != "default" {
		t.Fatal("new session should be bounded in default")
	}
	if _, _, err := runSQL(ctx, s, "SET magnetar.mode = 'continuous'; SET x.y = 5"); err != nil {
		t.Fatal(err)
	}
	if s.Mode() != catalog.Unbounded || s.Settings()["x.y"] != "5" {
		t.Fatalf("mode %v settings %v", s.Mode(), s.Settings())
	}
	var statuses []string
	err := s.Run(ctx, "CREATE DATABASE d; USE d; CREATE TABLE k (a INT); INSERT INTO k VALUES (1), (2)", func(r *Result) error {
		statuses = append(statuses, r.Status)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(statuses, "|") != "CREATE DATABASE|USE d|CREATE TABLE|INSERT 2" {
		t.Fatalf("statuses %q", statuses)
	}
}

// In continuous mode a scan tails the table and aggregates emit a
// changelog: a new group is +I, an updated one -U/+U.
func TestContinuousAggregateChangelog(t *testing.T) {
	s, _ := newTestSession(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, _, err := runSQL(ctx, s, "CREATE TABLE ev (k VARCHAR(5), v INT); INSERT INTO ev VALUES ('a', 1)"); err != nil {
		t.Fatal(err)
	}
	writer := s.e.NewSession()
	if err := s.Set(ModeSetting, "continuous"); err != nil {
		t.Fatal(err)
	}
	qctx, qcancel := context.WithCancel(ctx)
	defer qcancel()
	var got []string
	err := s.Run(qctx, "SELECT k, SUM(v) FROM ev GROUP BY k", func(r *Result) error {
		for len(got) < 3 {
			m, err := r.Rows.Next(qctx)
			if err != nil {
				return err
			}
			if m.Kind == exec.MsgEnd {
				t.Fatal("continuous query ended")
			}
			if m.Kind != exec.MsgBatch {
				continue
			}
			for i := 0; i < int(m.Batch.Rec.NumRows()); i++ {
				got = append(got, m.Batch.Op(i).String()+" "+formatCell(m.Batch.Rec.Column(0), i)+" "+formatCell(m.Batch.Rec.Column(1), i))
			}
			m.Release()
			if len(got) == 1 {
				// The first group is out; now add to it.
				if _, _, err := runSQL(ctx, writer, "INSERT INTO ev VALUES ('a', 5)"); err != nil {
					return err
				}
			}
		}
		qcancel()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "+I a 1,-U a 1,+U a 6" {
		t.Fatalf("changelog %q", got)
	}
}

func TestPanicsBecomeErrors(t *testing.T) {
	op := &safeOp{Operator: panicOp{}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if _, err := op.Next(context.Background()); err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("got %v", err)
	}
}

type panicOp struct{ exec.Operator }

func (panicOp) Next(context.Context) (exec.Message, error) { panic("boom") }

// Long OR chains nest one AST level per term; they must bind and run.
func TestLongPredicateChain(t *testing.T) {
	s, _ := newTestSession(t)
	ctx := context.Background()
	if _, _, err := runSQL(ctx, s, "CREATE TABLE t (a INT); INSERT INTO t VALUES (1), (500), (1001)"); err != nil {
		t.Fatal(err)
	}
	var terms []string
	for i := 0; i < 1000; i++ {
		terms = append(terms, fmt.Sprintf("a = %d", i))
	}
	rows, _, err := runSQL(ctx, s, "SELECT a FROM t WHERE "+strings.Join(terms, " OR ")+" ORDER BY a")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows, ",") != "1,500" {
		t.Fatalf("got %v", rows)
	}
}

// Job statements reach the jobs package; without a job manager they fail
// cleanly, and a continuous INSERT ... SELECT asks for one.
func TestJobStatementsWithoutManager(t *testing.T) {
	s, _ := newTestSession(t)
	ctx := context.Background()
	if _, _, err := runSQL(ctx, s, "SHOW JOBS"); err == nil || !strings.Contains(err.Error(), "jobs are not enabled") {
		t.Fatalf("SHOW JOBS: %v", err)
	}
	if _, _, err := runSQL(ctx, s, "CREATE TABLE a (x INT); CREATE TABLE b (x INT); SET magnetar.mode = 'continuous'"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runSQL(ctx, s, "INSERT INTO b SELECT x FROM a"); err == nil || !strings.Contains(err.Error(), "continuous INSERT needs jobs") {
		t.Fatalf("continuous INSERT: %v", err)
	}
}

func TestContinuousRejectsBlockingOperators(t *testing.T) {
	s, _ := newTestSession(t)
	ctx := context.Background()
	if _, _, err := runSQL(ctx, s, "CREATE TABLE a (x INT); SET magnetar.mode = 'continuous'"); err != nil {
		t.Fatal(err)
	}
	// (ORDER BY ... LIMIT is a streaming Top-N: stream_topn_test.go.)
	for _, q := range []string{"SELECT x FROM a ORDER BY x", "SELECT count(*) FROM a LIMIT 3", "SELECT ROW_NUMBER() OVER (ORDER BY x) FROM a"} {
		if _, _, err := runSQL(ctx, s, q); err == nil || !strings.Contains(err.Error(), "continuous query") {
			t.Errorf("%s: %v", q, err)
		}
	}
}
