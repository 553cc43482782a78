package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/magnetar-sql/magnetar/exec/exectest"
)

// TestPulsarLookupJoinOverAggregate: a continuous lookup join whose stream
// is an aggregate's changelog. When the table row changes between a
// group's +U and its next -U, the -U still carries the table row the +U
// was joined with, so the output folds cleanly (it would not if the -U
// were joined with the table's current row).
func TestPulsarLookupJoinOverAggregate(t *testing.T) {
	e := newUpsertEnv(t, "")
	mustRun(t, e.s, "CREATE TABLE bid (auction BIGINT, price INT)")
	mustRun(t, e.s, "INSERT INTO auction VALUES (1, 'lamp', 10)")
	const q = `SELECT b.auction, b.total, a.item
		FROM (SELECT auction, sum(price) AS total FROM bid GROUP BY auction) b
		JOIN auction a AS OF TIMESTAMP PROCTIME() ON b.auction = a.id`
	r := e.continuous(q)
	mustRun(t, e.s, "INSERT INTO bid VALUES (1, 1)")
	same(t, r.wait(t, 1), []string{"+I 1\t1\tlamp"})

	mustRun(t, e.s, "INSERT INTO auction VALUES (1, 'lamp v2', 11)")
	// Processing time: bid until an update sees the new row.
	n, total := 1, 1
	deadline := time.Now().Add(time.Minute)
	for {
		mustRun(t, e.s, "INSERT INTO bid VALUES (1, 1)")
		total++
		n += 2 // -U old total, +U new total
		lines := r.wait(t, n)
		if _, err := exectest.FoldLines(lines); err != nil {
			t.Fatalf("%v\nchangelog:\n%s", err, strings.Join(lines, "\n"))
		}
		last := lines[n-1]
		if last == fmt.Sprintf("+U 1\t%d\tlamp v2", total) {
			if prev := lines[n-2]; prev != fmt.Sprintf("-U 1\t%d\tlamp", total-1) {
				t.Fatalf("the update that first saw the new table row retracted %q, want the row emitted before (lamp)", prev)
			}
			break
		}
		if last != fmt.Sprintf("+U 1\t%d\tlamp", total) {
			t.Fatalf("update joined as %q", last)
		}
		if time.Now().After(deadline) {
			t.Fatal("the table change never reached the join")
		}
		time.Sleep(200 * time.Millisecond)
	}
	folded, err := exectest.FoldLines(r.wait(t, n))
	if err != nil {
		t.Fatal(err)
	}
	same(t, folded, []string{fmt.Sprintf("1\t%d\tlamp v2", total)})
}
