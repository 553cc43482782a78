package engine

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPulsarWindowOwnTimeColumn: a window on __publish_time of a table
// without a declared event time gets its watermark on __publish_time, not
// on COALESCE(__event_time, __publish_time). The messages carry event
// times far from their publish times (first far in the future, then far
// in the past): a watermark on the event times would drop the second
// message as late, though its publish time is in order.
func TestPulsarWindowOwnTimeColumn(t *testing.T) {
	eng, ns := newPulsarEngine(t, 2*time.Minute)
	s := eng.NewSession()
	mustRun(t, s, "USE `"+ns+"`")
	// INSERT sets the message event time from the event_time option; the
	// option is removed afterwards, so the table declares no event time.
	mustRun(t, s, "CREATE TABLE ev (k INT, et TIMESTAMP(6)) ENGINE_ATTRIBUTE='event_time=et'")
	mustRun(t, s, "INSERT INTO ev VALUES (1, '2099-01-01 00:00:00')")
	mustRun(t, s, "INSERT INTO ev VALUES (2, '2001-01-01 00:00:00')")
	mustRun(t, s, "ALTER TABLE ev ENGINE_ATTRIBUTE='event_time='")
	// One message per batch, so the watermark moves message by message.
	mustRun(t, s, "SET batch_size = '1'")

	total := func(q string) (int, []string) {
		t.Helper()
		rows, warnings := drain(t, s, q)
		n := 0
		for _, r := range rows {
			f := strings.Split(r, "|")
			c, err := strconv.Atoi(f[len(f)-1])
			if err != nil {
				t.Fatalf("%s: row %q", q, r)
			}
			n += c
		}
		return n, warnings
	}
	explain := func(q string) string {
		t.Helper()
		rows, _ := drain(t, s, "EXPLAIN "+q)
		return strings.Join(rows, "\n")
	}

	pub := "SELECT window_start, count(*) FROM ev GROUP BY TUMBLE(__publish_time, '1 HOURS')"
	if n, w := total(pub); n != 2 {
		t.Errorf("window on __publish_time counts %d rows (warnings %q), want 2", n, w)
	}
	if p := explain(pub); !strings.Contains(p, "Watermark time=__publish_time") || strings.Contains(p, "coalesce") {
		t.Errorf("window on __publish_time: watermark not on __publish_time:\n%s", p)
	}
	// The same for __event_time: no publish times in its watermark.
	if p := explain("SELECT window_start, count(*) FROM ev GROUP BY TUMBLE(__event_time, '1 HOURS')"); !strings.Contains(p, "Watermark time=__event_time") || strings.Contains(p, "coalesce") {
		t.Errorf("window on __event_time: watermark not on __event_time:\n%s", p)
	}
	// A payload column keeps the table's default event time (producers
	// set the message event time from it).
	if p := explain("SELECT window_start, count(*) FROM ev GROUP BY TUMBLE(et, '1 HOURS')"); !strings.Contains(p, "coalesce(__event_time") {
		t.Errorf("window on et: watermark not on the default event time:\n%s", p)
	}
	// A declared event time still wins: here the event times, so the
	// second message is late.
	mustRun(t, s, "SET magnetar.event_time = '__event_time'")
	if n, w := total(pub); n != 1 || !strings.Contains(strings.Join(w, " "), "1 late row(s) dropped") {
		t.Errorf("declared event time: %d rows (warnings %q), want 1 and a late row", n, w)
	}
}
