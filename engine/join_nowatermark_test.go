package engine

import (
	"strings"
	"testing"
)

// A continuous equi-join over sources that carry no watermark (no window,
// no state TTL, no job: a plain query in the shell) emits matches as rows
// arrive on either side, inner and outer. Before, it waited for the end of
// its build side, which a stream never reaches, and printed nothing.
func TestContinuousJoinWithoutWatermarks(t *testing.T) {
	for _, tc := range []struct {
		join string
		want []string
	}{
		{"JOIN", []string{"+I ann|1|10", "+I bob|2|20"}},
		{"LEFT JOIN", []string{"+I ann|1|NULL", "-D ann|1|NULL", "+I ann|1|10", "+I bob|2|20"}},
	} {
		t.Run(tc.join, func(t *testing.T) {
			eng, s, done := newTTLSession(t)
			defer done()
			mustRun(t, s, "SET magnetar.mode = 'continuous'")
			q := "SELECT c.uid, c.amount, p.total FROM clicks c " + tc.join + " pays p ON c.uid = p.uid"
			if plan := explainText(t, s, q); strings.Contains(plan, "Watermark") || strings.Contains(plan, "StateTTL") {
				t.Fatalf("the plan has watermarks; this test is about a join without them:\n%s", plan)
			}
			feed := []string{
				"INSERT INTO clicks VALUES ('ann', '2024-01-01 00:00:01', 1)", // left first
				"INSERT INTO pays VALUES ('ann', '2024-01-01 00:00:05', 10)",  // its match
				"INSERT INTO pays VALUES ('bob', '2024-01-01 00:00:06', 20)",  // right first
				"INSERT INTO clicks VALUES ('bob', '2024-01-01 00:00:07', 2)", // its match
			}
			got := runChanges(t, eng, s, q, feed, len(tc.want))
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("changelog %q, want %q", got, tc.want)
			}
		})
	}
}
