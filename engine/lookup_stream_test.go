package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	memcat "github.com/magnetar-sql/magnetar/catalog/memory"
	"github.com/magnetar-sql/magnetar/exec/exectest"
)

// lookupWindowQuery counts clicks per user tier and window: a tumbling
// window over a lookup join, so the watermark must come from the clicks
// scan below the join.
const lookupWindowQuery = `SELECT window_start, u.tier, count(*), sum(c.amount)
	FROM clicks c JOIN users u AS OF TIMESTAMP PROCTIME() ON c.uid = u.uid
	WHERE c.uid <> 'flush' GROUP BY TUMBLE(c.ts, '10 SECONDS'), u.tier`

// TestLookupJoinWindowContinuousMatchesBounded: the continuous run of a
// window over a lookup join (memory tables) folds to the bounded answer,
// and the watermark is placed on the stream's scan, below the join.
func TestLookupJoinWindowContinuousMatchesBounded(t *testing.T) {
	clicks, _ := streamData()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cat := memcat.New()
	eng := New(cat, Options{Mem: mem})
	feeder := eng.NewSession()
	mustRun(t, feeder, streamSchema)
	mustRun(t, feeder, "CREATE TABLE users (uid VARCHAR(10) PRIMARY KEY, tier INT)")
	mustRun(t, feeder, "INSERT INTO users VALUES ('ann', 1), ('bob', 2), ('cid', 1), ('dan', 3)") // eve: none
	mustRun(t, feeder, clicks[0])

	s := eng.NewSession()
	mustRun(t, s, "SET magnetar.watermark_delay = '5 SECONDS'")
	mustRun(t, s, "SET magnetar.mode = 'continuous'")
	plan, _, err := runSQL(context.Background(), s, "EXPLAIN "+lookupWindowQuery)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	join := strings.Index(text, "LookupInnerJoin")
	wm := strings.Index(text, "Watermark")
	if join < 0 || wm < join {
		t.Fatalf("want the watermark below the lookup join:\n%s", text)
	}

	got := runContinuousFolded(t, s, feeder, lookupWindowQuery,
		append(clicks[1:], "INSERT INTO clicks VALUES ('flush', '2030-01-01 00:00:00', 0)"))

	bs := eng.NewSession()
	mustRun(t, bs, "SET magnetar.watermark_delay = '5 SECONDS'")
	want, err := runFolded(context.Background(), bs, lookupWindowQuery)
	if err != nil {
		t.Fatalf("bounded run: %v", err)
	}
	if len(want) < 5 {
		t.Fatalf("bounded answer too small to mean anything: %q", want)
	}
	if err := exectest.Equal(got, want); err != nil {
		t.Errorf("continuous (folded) vs bounded: %v", err)
	}
	cat.Close()
	if n := mem.CurrentAlloc(); n != 0 {
		t.Errorf("%d bytes of Arrow memory not released", n)
	}
}
