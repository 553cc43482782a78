package engine

import (
	"fmt"
	"sort"
	"testing"
)

// TestPulsarLookupJoinEmptyTable: the table side of a continuous lookup
// join may be empty (no message at all, or partitions without messages):
// its bootstrap still ends, every bid is padded by a left join, and a
// continuous read of the table starts on its first row.
func TestPulsarLookupJoinEmptyTable(t *testing.T) {
	for _, ddl := range []string{"", " PARTITION BY KEY(id) PARTITIONS 3"} {
		t.Run(fmt.Sprintf("partitioned=%v", ddl != ""), func(t *testing.T) {
			e := newUpsertEnv(t, ddl)
			mustRun(t, e.s, "CREATE TABLE bid (auction BIGINT, price INT)")
			r := e.continuous("SELECT b.auction, b.price, a.item FROM bid b LEFT JOIN auction a AS OF TIMESTAMP PROCTIME() ON b.auction = a.id")
			mustRun(t, e.s, "INSERT INTO bid VALUES (1, 100), (2, 200)")
			got := r.wait(t, 2)
			sort.Strings(got)
			same(t, got, []string{"+I 1\t100\tNULL", "+I 2\t200\tNULL"})

			// One key: with 3 partitions, two stay empty.
			u := e.continuous("SELECT id, item FROM auction")
			mustRun(t, e.s, "INSERT INTO auction VALUES (1, 'lamp', 10)")
			same(t, u.wait(t, 1), []string{"+I 1\tlamp"})
			mustRun(t, e.s, "INSERT INTO auction VALUES (1, 'lamp2', 10)")
			same(t, u.wait(t, 3)[1:], []string{"-U 1\tlamp", "+U 1\tlamp2"})
		})
	}
}
