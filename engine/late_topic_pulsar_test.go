package engine

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestPulsarLateTopic runs a windowed query over a topic with late rows
// and SET magnetar.late_topic: the late rows land in a topic created in
// the source's schema, read back with SELECT, as many as the warning says
// were dropped.
func TestPulsarLateTopic(t *testing.T) {
	eng, ns := newPulsarEngine(t, 2*time.Minute)
	s := eng.NewSession()
	mustRun(t, s, "USE `"+ns+"`")
	mustRun(t, s, "CREATE TABLE clicks (k INT, et TIMESTAMP(6), note VARCHAR(20)) ENGINE_ATTRIBUTE='event_time=et'")
	// In topic order: the rows at :02, :03 and :12 come after the watermark
	// passed them (no delay, no lateness).
	var rows []string
	var wantLate []string
	for i, sec := range []int{1, 30, 2, 3, 31, 40, 12, 41} {
		note := fmt.Sprintf("n%d", i)
		rows = append(rows, fmt.Sprintf("(%d, '2024-01-01 10:00:%02d', '%s')", i, sec, note))
		if sec == 2 || sec == 3 || sec == 12 {
			wantLate = append(wantLate, fmt.Sprintf("%d|2024-01-01T10:00:%02dZ|%s", i, sec, note))
		}
	}
	for _, r := range rows {
		mustRun(t, s, "INSERT INTO clicks VALUES "+r)
	}
	// One message per batch, so the watermark moves row by row.
	mustRun(t, s, "SET batch_size = '1'")
	mustRun(t, s, "SET magnetar.late_topic = 'late_clicks'")
	q := "SELECT window_start, count(*) FROM clicks GROUP BY TUMBLE(et, '10 SECONDS')"
	got, warnings := drain(t, s, q)
	want := []string{"2024-01-01T10:00:00Z|1", "2024-01-01T10:00:30Z|2", "2024-01-01T10:00:40Z|2"}
	if err := equalRows(got, want); err != nil {
		t.Errorf("windows: %v", err)
	}
	sort.Strings(warnings)
	dropped, written := -1, -1
	for _, w := range warnings {
		fmt.Sscanf(w, "%d late row(s) dropped", &dropped)
		if strings.Contains(w, "written to "+ns+".late_clicks") {
			fmt.Sscanf(w, "%d late row(s) written", &written)
		}
	}
	if dropped != len(wantLate) || written != dropped {
		t.Fatalf("warnings %q: want %d late rows dropped and written", warnings, len(wantLate))
	}
	late, _ := drain(t, s, "SELECT k, et, note FROM late_clicks")
	if err := equalRows(late, wantLate); err != nil {
		t.Errorf("late topic: %v", err)
	}
	if len(late) != dropped {
		t.Errorf("late topic has %d rows, the warning says %d were dropped", len(late), dropped)
	}
	// The table option names the late topic when the session does not.
	mustRun(t, s, "SET magnetar.late_topic = ''")
	mustRun(t, s, "ALTER TABLE clicks ENGINE_ATTRIBUTE='late_topic=late_opt'")
	drain(t, s, q)
	if late, _ := drain(t, s, "SELECT k, et, note FROM late_opt"); equalRows(late, wantLate) != nil {
		t.Errorf("late_opt holds %q, want %q", late, wantLate)
	}
	// The late topic is an ordinary table in the source's schema, with its
	// event time.
	all, _ := drain(t, s, "SHOW COLUMNS FROM late_clicks")
	var cols []string
	for _, c := range all {
		if !strings.HasPrefix(c, "__") {
			cols = append(cols, strings.SplitN(c, "|", 3)[:2]...)
		}
	}
	if strings.Join(cols, " ") != "et TIMESTAMP(6) k INT note VARCHAR" {
		t.Errorf("late_clicks columns %q, want k, et, note as in clicks", cols)
	}
	if ddl, _ := drain(t, s, "SHOW CREATE TABLE late_clicks"); !strings.Contains(strings.Join(ddl, " "), "event_time=et") {
		t.Errorf("late_clicks lost the event time: %q", ddl)
	}
}

// equalRows compares sorted row lists.
func equalRows(got, want []string) error {
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		return fmt.Errorf("got %q, want %q", got, want)
	}
	return nil
}
