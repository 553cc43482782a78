package engine

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	memcat "github.com/magnetar-sql/magnetar/catalog/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
)

// drain runs q and returns its rows (sorted) and warnings.
func drain(t *testing.T, s *Session, q string) ([]string, []string) {
	t.Helper()
	var rows, warnings []string
	err := s.Run(context.Background(), q, func(r *Result) error {
		for {
			m, err := r.Rows.Next(context.Background())
			if err != nil {
				return err
			}
			if m.Kind == exec.MsgEnd {
				break
			}
			if m.Kind == exec.MsgBatch {
				rows = append(rows, exectest.Rows([]arrow.RecordBatch{m.Batch.Rec})...)
			}
			m.Release()
		}
		warnings = r.AllWarnings()
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	sort.Strings(rows)
	return rows, warnings
}

// Late rows go to the late table, created in the source's row schema,
// whether named by the session setting or by the table option (the
// setting wins).
func TestLateTopicMemory(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cat := memcat.New()
	defer func() {
		cat.Close()
		if n := mem.CurrentAlloc(); n != 0 {
			t.Errorf("%d bytes of Arrow memory not released", n)
		}
	}()
	s := New(cat, Options{Mem: mem}).NewSession()
	mustRun(t, s, `CREATE TABLE r (k INT, et TIMESTAMP, note VARCHAR(10));
INSERT INTO r VALUES (1, '2024-01-01 10:00:01', 'a'), (1, '2024-01-01 10:00:30', 'b');
INSERT INTO r VALUES (2, '2024-01-01 10:00:02', 'late1'), (3, '2024-01-01 10:00:03', 'late2'), (1, '2024-01-01 10:00:31', 'c')`)
	// The query reads k and et only: the late rows are still written whole.
	q := "SELECT window_start, count(*) FROM r GROUP BY TUMBLE(et, '10 SECONDS')"
	mustRun(t, s, "SET magnetar.late_topic = 'late_r'")
	if plan := explainText(t, s, q); !strings.Contains(plan, "late_topic=late_r") {
		t.Errorf("plan lacks the late topic:\n%s", plan)
	}
	rows, warnings := drain(t, s, q)
	if err := exectest.Equal(rows, []string{"2024-01-01T10:00:00Z|1", "2024-01-01T10:00:30Z|2"}); err != nil {
		t.Error(err)
	}
	sort.Strings(warnings)
	if len(warnings) != 2 || !strings.HasPrefix(warnings[0], "2 late row(s) dropped") ||
		warnings[1] != "2 late row(s) written to default.late_r" {
		t.Errorf("warnings %q, want 2 late rows dropped and written", warnings)
	}
	late, _ := drain(t, s, "SELECT * FROM late_r")
	want := []string{"2|2024-01-01T10:00:02Z|late1", "3|2024-01-01T10:00:03Z|late2"}
	if err := exectest.Equal(late, want); err != nil {
		t.Errorf("late table: %v", err)
	}
	// The table option, when the session does not say otherwise.
	mustRun(t, s, "SET magnetar.late_topic = ''")
	mustRun(t, s, "ALTER TABLE r ENGINE_ATTRIBUTE='late_topic=late_opt'")
	drain(t, s, q)
	if late, _ := drain(t, s, "SELECT note FROM late_opt"); len(late) != 2 {
		t.Errorf("late_opt has %q, want the 2 late rows", late)
	}
	// The setting wins over the option; rows append to an existing table.
	mustRun(t, s, "SET magnetar.late_topic = 'late_r'")
	drain(t, s, q)
	if late, _ := drain(t, s, "SELECT * FROM late_r"); len(late) != 4 {
		t.Errorf("late_r has %q, want 4 rows", late)
	}
	// Not into the source itself.
	mustRun(t, s, "SET magnetar.late_topic = 'default.r'")
	if err := s.Run(context.Background(), q, func(*Result) error { return nil }); err == nil || !strings.Contains(err.Error(), "cannot go to r itself") {
		t.Errorf("want an error for late rows into their own table, got %v", err)
	}
	// A table of other columns cannot take them.
	mustRun(t, s, "CREATE TABLE other (x INT); SET magnetar.late_topic = 'other'")
	if err := s.Run(context.Background(), q, func(*Result) error { return nil }); err == nil || !strings.Contains(err.Error(), "cannot take the rows") {
		t.Errorf("want an error for a late table of other columns, got %v", err)
	}
}
