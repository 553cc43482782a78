package engine

import (
	"testing"
	"time"

	"github.com/magnetar-sql/magnetar/exec/exectest"
)

// TestPulsarContinuousTTLAndLateTopic runs continuous queries over a topic:
// an aggregate with a state TTL (measured on the table's event_time
// option) starts a key afresh after the TTL, and a window query writes its
// late rows to a side topic while it runs.
func TestPulsarContinuousTTLAndLateTopic(t *testing.T) {
	eng, ns := newPulsarEngine(t, 2*time.Minute)
	setup := eng.NewSession()
	mustRun(t, setup, "USE `"+ns+"`")
	mustRun(t, setup, "CREATE TABLE clicks (uid VARCHAR(10), ts TIMESTAMP(6), amount INT) ENGINE_ATTRIBUTE='event_time=ts'")
	mustRun(t, setup, "CREATE TABLE views (uid VARCHAR(10), ts TIMESTAMP(6), amount INT) ENGINE_ATTRIBUTE='event_time=ts'")

	t.Run("aggregate TTL", func(t *testing.T) {
		s := eng.NewSession()
		mustRun(t, s, "USE `"+ns+"`; SET magnetar.state_ttl = '1 MINUTE'; SET magnetar.mode = 'continuous'")
		got := runChanges(t, eng, s, "SELECT uid, count(*), sum(amount) FROM clicks GROUP BY uid", []string{
			"INSERT INTO `" + ns + "`.clicks VALUES ('ann', '2024-01-01 00:00:00', 1)",
			"INSERT INTO `" + ns + "`.clicks VALUES ('bob', '2024-01-01 00:10:00', 2)",
			"INSERT INTO `" + ns + "`.clicks VALUES ('ann', '2024-01-01 00:10:01', 3)",
		}, 3)
		if err := exectest.Equal(got, []string{"+I ann|1|1", "+I bob|1|2", "+I ann|1|3"}); err != nil {
			t.Error(err)
		}
	})

	t.Run("late topic", func(t *testing.T) {
		s := eng.NewSession()
		mustRun(t, s, "USE `"+ns+"`; SET magnetar.late_topic = 'late_views'; SET magnetar.mode = 'continuous'")
		got := runChanges(t, eng, s, "SELECT window_start, count(*) FROM views GROUP BY TUMBLE(ts, '10 SECONDS')", []string{
			"INSERT INTO `" + ns + "`.views VALUES ('ann', '2024-01-01 00:00:01', 1)",
			"INSERT INTO `" + ns + "`.views VALUES ('bob', '2024-01-01 00:00:30', 2)", // closes [0 s, 10 s)
			"INSERT INTO `" + ns + "`.views VALUES ('late', '2024-01-01 00:00:02', 3)",
			"INSERT INTO `" + ns + "`.views VALUES ('cid', '2024-01-01 00:00:45', 4)", // closes [30 s, 40 s)
		}, 2)
		if err := exectest.Equal(got, []string{"+I 2024-01-01T00:00:00Z|1", "+I 2024-01-01T00:00:30Z|1"}); err != nil {
			t.Error(err)
		}
		// The late row was written while the query ran (and flushed when it
		// stopped); read it back.
		b := eng.NewSession()
		mustRun(t, b, "USE `"+ns+"`")
		late, _ := drain(t, b, "SELECT uid, ts, amount FROM late_views")
		if err := exectest.Equal(late, []string{"late|2024-01-01T00:00:02Z|3"}); err != nil {
			t.Error(err)
		}
	})
}
