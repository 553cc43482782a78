package exec_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
)

// keyed is an upsert row whose message key is not its id's text (another
// producer's key format): rows of two message keys can share an id.
func keyed(id int, v, key string) []any { return []any{id, v, key, false} }
func delKey(id int, key string) []any   { return []any{id, nil, key, true} }

// TestLookupJoinSharedJoinKey: two live rows of the table (message keys
// k1 and k2) with the same id. A lookup finds the latest written one;
// deleting or replacing it leaves the other one findable (it was lost:
// the join key's index entry went with the deleted row), also after a
// snapshot and restore.
func TestLookupJoinSharedJoinKey(t *testing.T) {
	cases := []struct {
		name  string
		table [][]any
		want  []string
	}{
		{"latest wins", [][]any{keyed(1, "a", "k1"), keyed(1, "b", "k2")}, []string{"1|10|1|b|k2|false"}},
		{"delete latest", [][]any{keyed(1, "a", "k1"), keyed(1, "b", "k2"), delKey(1, "k2")}, []string{"1|10|1|a|k1|false"}},
		{"delete older", [][]any{keyed(1, "a", "k1"), keyed(1, "b", "k2"), delKey(1, "k1")}, []string{"1|10|1|b|k2|false"}},
		{"latest moves away", [][]any{keyed(1, "a", "k1"), keyed(1, "b", "k2"), keyed(2, "b2", "k2")}, []string{"1|10|1|a|k1|false"}},
		{"older updated", [][]any{keyed(1, "a", "k1"), keyed(1, "b", "k2"), keyed(1, "a2", "k1")}, []string{"1|10|1|a2|k1|false"}},
		{"both deleted", [][]any{keyed(1, "a", "k1"), keyed(1, "b", "k2"), delKey(1, "k2"), delKey(1, "k1")}, nil},
		{"three, two deleted", [][]any{keyed(1, "a", "k1"), keyed(1, "b", "k2"), keyed(1, "c", "k3"), delKey(1, "k3"), delKey(1, "k1")}, []string{"1|10|1|b|k2|false"}},
	}
	for _, tc := range cases {
		for _, n := range []int{1, 2, 100} {
			for _, restore := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/batch%d/restore=%v", tc.name, n, restore), func(t *testing.T) {
					mem := stMem(t)
					ctx := context.Background()
					right := exectest.NewSource(upsertSchema, upsertBatches(mem, upsertSchema, n, tc.table)...)
					left := exectest.NewSource(bidSchema, bids(mem, []any{1, 10}))
					j := newLookup(t, left, right, exec.InnerJoin, nil, mem)
					if restore {
						// Build the table, snapshot it, restore it into a new
						// join and probe that one.
						pre := newLookup(t, exectest.NewSource(bidSchema), right, exec.InnerJoin, nil, mem)
						out, err := exectest.CollectMessages(ctx, pre)
						exectest.ReleaseMessages(out)
						if err != nil {
							t.Fatal(err)
						}
						var snap bytes.Buffer
						if err := pre.State().Snapshot(&snap); err != nil {
							t.Fatal(err)
						}
						j = newLookup(t, left, exectest.NewSource(upsertSchema), exec.InnerJoin, nil, mem)
						if err := j.State().Restore(&snap); err != nil {
							t.Fatal(err)
						}
					}
					out, err := exectest.CollectMessages(ctx, j)
					defer exectest.ReleaseMessages(out)
					if err != nil {
						t.Fatal(err)
					}
					if err := exectest.Equal(exectest.Rows(batchesOf(out)), tc.want); err != nil {
						t.Fatal(err)
					}
				})
			}
		}
	}
}
