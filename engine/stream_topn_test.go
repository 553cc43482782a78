package engine

import (
	"context"
	"strings"
	"testing"

	memcat "github.com/magnetar-sql/magnetar/catalog/memory"
	"github.com/magnetar-sql/magnetar/planner"
	"github.com/magnetar-sql/magnetar/sql"
)

// topNQueries are continuous ORDER BY ... LIMIT queries (global streaming
// Top-N) whose folded changelog must equal the bounded answer.
var topNQueries = []struct{ name, sql string }{
	{"top_offset", `SELECT uid, amount FROM clicks WHERE uid <> 'flush' ORDER BY amount DESC LIMIT 5 OFFSET 2`},
	// Ties on uid keep the earliest rows, in both modes.
	{"top_ties", `SELECT uid, ts FROM clicks WHERE uid <> 'flush' ORDER BY uid LIMIT 7 OFFSET 3`},
	{"top_of_aggregate", `SELECT uid, count(*) AS n, sum(amount) AS s FROM clicks WHERE uid <> 'flush'
		GROUP BY uid ORDER BY s DESC, uid LIMIT 2 OFFSET 1`},
	{"top_projected", `SELECT amount * 2 AS a2 FROM clicks WHERE uid <> 'flush' ORDER BY ts, amount LIMIT 4`},
	// Per-partition ranks 2..3 and 2..4: a streaming Top-N with an offset.
	{"ranks_offset", `SELECT uid, amount FROM (SELECT uid, amount, ROW_NUMBER() OVER (PARTITION BY uid ORDER BY amount DESC) AS rn
		FROM clicks WHERE uid <> 'flush') t WHERE rn > 1 AND rn <= 3`},
	// The literal first: 1 < rn is rn > 1 and 3 >= rn is rn <= 3 (not >=).
	{"ranks_literal_first", `SELECT uid, amount FROM (SELECT uid, amount, ROW_NUMBER() OVER (PARTITION BY uid ORDER BY amount DESC) AS rn
		FROM clicks WHERE uid <> 'flush') t WHERE 1 < rn AND 3 >= rn`},
	{"ranks_between", `SELECT uid, amount FROM (SELECT uid, amount, ROW_NUMBER() OVER (PARTITION BY uid ORDER BY amount DESC) AS rn
		FROM clicks WHERE uid <> 'flush') t WHERE rn BETWEEN 2 AND 4`},
}

func TestContinuousTopNMatchesBounded(t *testing.T) {
	for _, q := range topNQueries {
		t.Run(q.name, func(t *testing.T) { checkContinuousMatchesBounded(t, q.sql) })
	}
}

// explainContinuous returns the optimized plan of q in continuous mode
// after the given SET statements.
func explainContinuous(t *testing.T, q string, sets ...string) string {
	t.Helper()
	cat := memcat.New()
	defer cat.Close()
	s := New(cat, Options{}).NewSession()
	mustRun(t, s, streamSchema)
	mustRun(t, s, "SET magnetar.mode = 'continuous'")
	for _, set := range sets {
		mustRun(t, s, set)
	}
	stmts, err := sql.Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := s.Plan(context.Background(), &stmts[0])
	if err != nil {
		t.Fatal(err)
	}
	return planner.Explain(plan)
}

// TestContinuousTopNPlan: a continuous ORDER BY ... LIMIT is a global
// streaming Top-N (no partition), with the offset; the state TTL applies
// to it and to the per-partition Top-N, with a clock watermark below.
func TestContinuousTopNPlan(t *testing.T) {
	got := explainContinuous(t, `SELECT uid, amount FROM clicks ORDER BY amount DESC LIMIT 5 OFFSET 2`)
	if !strings.Contains(got, "StreamTopN partition=[] order=[amount#1 DESC] n=5 offset=2") || strings.Contains(got, "TopN amount") {
		t.Errorf("plan:\n%s", got)
	}
	if strings.Contains(got, "StateTTL") {
		t.Errorf("no TTL set, but:\n%s", got)
	}
	got = explainContinuous(t, `SELECT uid, amount FROM (SELECT uid, amount, ROW_NUMBER() OVER (PARTITION BY uid ORDER BY amount DESC) AS rn
		FROM clicks) t WHERE rn BETWEEN 2 AND 4`)
	if !strings.Contains(got, "StreamTopN partition=[uid#0] order=[amount#1 DESC] n=3 offset=1") {
		t.Errorf("ranks 2..4 plan:\n%s", got)
	}
	for _, q := range []string{
		`SELECT uid, amount FROM clicks ORDER BY amount DESC LIMIT 5`,
		`SELECT uid, amount FROM (SELECT uid, amount, ROW_NUMBER() OVER (PARTITION BY uid ORDER BY amount DESC) AS rn FROM clicks) t WHERE rn <= 3`,
	} {
		got := explainContinuous(t, q, "SET magnetar.state_ttl = '1 HOUR'", "SET magnetar.event_time = 'ts'")
		lines := strings.Split(got, "\n")
		ttl, top, wm := -1, -1, -1
		for i, l := range lines {
			switch {
			case strings.Contains(l, "StateTTL ttl=1h0m0s") && ttl < 0:
				ttl = i
			case strings.Contains(l, "StreamTopN") && top < 0:
				top = i
			case strings.Contains(l, "Watermark") && strings.Contains(l, "keep_late") && wm < 0:
				wm = i
			}
		}
		if ttl < 0 || top != ttl+1 || wm < top {
			t.Errorf("%s: want StateTTL right above StreamTopN and a clock watermark below:\n%s", q, got)
		}
	}
	// Bounded runs keep the TopN sort.
	cat := memcat.New()
	defer cat.Close()
	s := New(cat, Options{}).NewSession()
	mustRun(t, s, streamSchema)
	stmts, err := sql.Parse(`SELECT uid, amount FROM clicks ORDER BY amount DESC LIMIT 5 OFFSET 2`)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := s.Plan(context.Background(), &stmts[0])
	if err != nil {
		t.Fatal(err)
	}
	if b := planner.Explain(plan); !strings.Contains(b, "TopN amount#1 DESC offset=2 limit=5") {
		t.Errorf("bounded plan:\n%s", b)
	}
}
