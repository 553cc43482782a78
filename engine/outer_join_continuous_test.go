package engine

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/expr"
)

// A continuous LEFT JOIN emits a changelog: a click without a payment yet
// is emitted NULL-padded, retracted when its payment arrives and replaced
// by the joined row. With a state TTL, rows untouched for the TTL (in
// watermark time) are forgotten silently: a click arriving after its
// user's payment expired stays NULL-padded. (Over memory tables only the
// TTL gives the inputs watermarks, which make the join stream; 100 days is
// the control.)
func TestLeftJoinContinuous(t *testing.T) {
	for _, ttl := range []string{"100 DAYS", "1 MINUTE"} {
		t.Run("ttl="+ttl, func(t *testing.T) {
			eng, s, done := newContinuousTTLSession(t, ttl)
			defer done()
			q := "SELECT c.uid, c.amount, p.total FROM clicks c LEFT JOIN pays p ON c.uid = p.uid"
			if plan := explainText(t, s, q); !strings.Contains(plan, "StateTTL") {
				t.Errorf("no state TTL on the left join:\n%s", plan)
			}
			feed := []string{
				"INSERT INTO pays VALUES ('bob', '2024-01-01 00:00:00', 5)",   // no click: nothing out
				"INSERT INTO clicks VALUES ('ann', '2024-01-01 00:00:01', 1)", // +I ann|1|NULL
				"INSERT INTO pays VALUES ('ann', '2024-01-01 00:00:05', 10)",  // -D ann|1|NULL, +I ann|1|10
				"INSERT INTO clicks VALUES ('zed', '2024-01-01 00:10:00', 0)", // clicks' watermark to 00:10
				"INSERT INTO pays VALUES ('zed', '2024-01-01 00:10:00', 0)",   // pays' too: with the TTL ann's pay expires
				"INSERT INTO clicks VALUES ('ann', '2024-01-01 00:10:01', 2)",
			}
			late := "+I ann|2|NULL"
			if ttl == "100 DAYS" {
				late = "+I ann|2|10"
			}
			want := []string{"+I ann|1|NULL", "-D ann|1|NULL", "+I ann|1|10",
				"+I zed|0|NULL", "-D zed|0|NULL", "+I zed|0|0", late}
			got := runChanges(t, eng, s, q, feed, len(want))
			// The changelog in arrival order never retracts an absent row.
			if _, err := exectest.FoldLines(got); err != nil {
				t.Fatalf("%v in %q", err, got)
			}
			sort.Strings(got)
			sort.Strings(want)
			if err := exectest.Equal(got, want); err != nil {
				t.Error(err)
			}
		})
	}
}

// In a bounded query an outer join emits its final rows, not a changelog,
// even where a window above it puts watermarks on its build (right) side.
func TestOuterJoinBoundedUnderWindow(t *testing.T) {
	_, s, done := newTTLSession(t)
	defer done()
	mustRun(t, s, `INSERT INTO clicks VALUES ('ann', '2024-01-01 00:00:01', 1), ('bob', '2024-01-01 00:00:02', 2), ('cid', '2024-01-01 00:02:02', 2)`)
	mustRun(t, s, `INSERT INTO pays VALUES ('ann', '2024-01-01 00:00:03', 10), ('dan', '2024-01-01 00:01:03', 20)`)
	mustRun(t, s, "SET magnetar.event_time = 'ts'")
	for q, want := range map[string][]string{
		"SELECT window_start, count(*), count(c.amount) FROM clicks c RIGHT JOIN pays p ON c.uid = p.uid GROUP BY TUMBLE(p.ts, '1 MINUTE')": {
			"+I 2024-01-01 00:00:00|1|1", "+I 2024-01-01 00:01:00|1|0"},
		"SELECT window_start, count(*), count(p.total) FROM clicks c LEFT JOIN pays p ON c.uid = p.uid GROUP BY TUMBLE(c.ts, '1 MINUTE')": {
			"+I 2024-01-01 00:00:00|2|1", "+I 2024-01-01 00:02:00|1|0"},
	} {
		var got []string
		err := eachBatch(context.Background(), s, q, func(b exec.Batch) error {
			for i := 0; i < int(b.Rec.NumRows()); i++ {
				cells := make([]string, b.Rec.NumCols())
				for c := range cells {
					cells[c] = expr.FormatValue(b.Rec.Column(c), i)
				}
				got = append(got, b.Op(i).String()+" "+strings.Join(cells, "|"))
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		sort.Strings(got)
		if err := exectest.Equal(got, want); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}
