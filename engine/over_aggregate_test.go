package engine

import "testing"

// TestContinuousOverMatchesBounded: OVER aggregations run continuously
// over the stream tables, fed batch by batch with rows out of order, emit
// the bounded answer (append-only: nothing to retract).
func TestContinuousOverMatchesBounded(t *testing.T) {
	for name, q := range map[string]string{
		"rows": `SELECT uid, ts, amount, SUM(amount) OVER w, COUNT(*) OVER w, MIN(amount) OVER w FROM clicks
			WHERE uid <> 'flush' WINDOW w AS (PARTITION BY uid ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)`,
		"unbounded": `SELECT uid, ts, AVG(amount) OVER (PARTITION BY uid ORDER BY ts), MAX(amount) OVER (ORDER BY ts)
			FROM clicks WHERE uid <> 'flush'`,
		"range": `SELECT uid, ts, SUM(amount) OVER (PARTITION BY uid ORDER BY ts RANGE BETWEEN INTERVAL 5 SECOND PRECEDING AND CURRENT ROW)
			FROM clicks WHERE uid <> 'flush'`,
	} {
		t.Run(name, func(t *testing.T) {
			checkContinuousMatchesBounded(t, q, "SET magnetar.watermark_delay = '5 SECONDS'")
		})
	}
}
