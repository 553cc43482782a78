package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	memcat "github.com/magnetar-sql/magnetar/catalog/memory"
	"github.com/magnetar-sql/magnetar/exec"
)

// gen produces random, mostly valid SELECTs over the fuzz tables t and u,
// so the fuzzer exercises binding, optimizing and execution rather than
// the parser's error paths.
type gen struct{ r *rand.Rand }

var genCols = []string{"t.id", "t.name", "t.price", "t.qty", "t.d", "t.ts", "t.ok", "u.id", "u.t_id", "u.note"}

func (g *gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g *gen) lit() string {
	return g.pick("1", "0", "-7", "2.5", "1e3", "'apple'", "'x'", "NULL", "TRUE", "FALSE", "9223372036854775807", "'2024-01-02 00:00:00'", "''")
}

func (g *gen) expr(d int) string {
	if d <= 0 || g.r.IntN(3) == 0 {
		if g.r.IntN(3) == 0 {
			return g.lit()
		}
		return g.pick(genCols...)
	}
	a, b := g.expr(d-1), g.expr(d-1)
	switch g.r.IntN(14) {
	case 0, 1, 2:
		return "(" + a + " " + g.pick("+", "-", "*", "/", "DIV", "%", "=", "<>", "<", ">=", "AND", "OR", "<=>", "XOR") + " " + b + ")"
	case 3:
		return g.pick("UPPER", "LOWER", "LENGTH", "ABS", "ROUND", "CEIL", "REVERSE", "TRIM", "DATE", "YEAR", "SQRT") + "(" + a + ")"
	case 4:
		return g.pick("CONCAT", "COALESCE", "IFNULL", "NULLIF", "GREATEST", "LEAST", "LEFT", "MOD", "POWER") + "(" + a + ", " + b + ")"
	case 5:
		return "CAST(" + a + " AS " + g.pick("SIGNED", "CHAR", "DECIMAL(8,2)", "DOUBLE", "DATE", "DATETIME", "UNSIGNED", "JSON") + ")"
	case 6:
		return "CASE WHEN " + a + " THEN " + b + " ELSE " + g.expr(d-1) + " END"
	case 7:
		return a + " IN (" + b + ", " + g.lit() + ")"
	case 8:
		return a + " BETWEEN " + b + " AND " + g.lit()
	case 9:
		return a + g.pick(" IS NULL", " IS NOT NULL", " IS TRUE", " IS NOT FALSE")
	case 10:
		return a + " LIKE " + g.pick("'a%'", "'%'", "'_'", b)
	case 11:
		return "DATE_ADD(" + a + ", INTERVAL " + g.pick("1", "-2", b) + " " + g.pick("DAY", "HOUR", "MONTH", "SECOND") + ")"
	case 12:
		return "NOT " + a
	default:
		return "IF(" + a + ", " + b + ", " + g.lit() + ")"
	}
}

func (g *gen) query(d int) string {
	var b strings.Builder
	join := g.r.IntN(2) == 0
	grouped := g.r.IntN(3) == 0
	b.WriteString("SELECT ")
	if g.r.IntN(5) == 0 {
		b.WriteString("DISTINCT ")
	}
	n := 1 + g.r.IntN(3)
	var items []string
	for i := 0; i < n; i++ {
		switch {
		case grouped && i > 0:
			items = append(items, g.pick("COUNT(*)", "SUM", "AVG", "MIN", "MAX", "COUNT(DISTINCT")+g.aggArg())
		case g.r.IntN(8) == 0:
			items = append(items, g.pick("ROW_NUMBER()", "RANK()", "SUM(t.qty)", "LAG(t.price)", "COUNT(*)")+" OVER (PARTITION BY "+g.expr(1)+" ORDER BY "+g.expr(1)+")")
		default:
			items = append(items, g.expr(d))
		}
	}
	b.WriteString(strings.Join(items, ", "))
	b.WriteString(" FROM t")
	if join {
		b.WriteString(g.pick(" JOIN", " LEFT JOIN", " RIGHT JOIN", " CROSS JOIN"))
		b.WriteString(" u")
		if g.r.IntN(4) != 0 {
			b.WriteString(" ON " + g.pick("t.id = u.t_id", "t.id < u.id", g.expr(2)))
		}
	} else {
		b.WriteString(", u")
	}
	if g.r.IntN(2) == 0 {
		b.WriteString(" WHERE " + g.expr(d))
		if g.r.IntN(3) == 0 {
			b.WriteString(g.pick(" AND t.id IN (SELECT t_id FROM u WHERE note IS NOT NULL)",
				" AND EXISTS (SELECT 1 FROM u u2 WHERE u2.t_id = t.id)",
				" AND NOT EXISTS (SELECT 1 FROM u u2 WHERE u2.id > t.qty)",
				" OR t.price > (SELECT AVG(price) FROM t)"))
		}
	}
	if grouped {
		b.WriteString(" GROUP BY 1")
		if g.r.IntN(2) == 0 {
			b.WriteString(" HAVING COUNT(*) > " + g.pick("0", "1"))
		}
	}
	if g.r.IntN(2) == 0 {
		b.WriteString(" ORDER BY 1" + g.pick("", " DESC"))
	}
	if g.r.IntN(3) == 0 {
		b.WriteString(fmt.Sprintf(" LIMIT %d", g.r.IntN(4)))
	}
	q := b.String()
	if g.r.IntN(6) == 0 {
		q = "SELECT * FROM (" + q + ") AS s"
	}
	return q
}

func (g *gen) aggArg() string {
	e := g.pick("t.qty", "t.price", "t.name", "t.d", "u.id", "t.ts")
	return "(" + e + ")"
}

// runChecked runs q and fails on internal errors (recovered panics).
func runChecked(t *testing.T, q string) {
	t.Helper()
	cat := memcat.New()
	defer cat.Close()
	s := New(cat, Options{}).NewSession()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Run(ctx, fuzzSetup, func(*Result) error { return nil }); err != nil {
		t.Fatalf("setup: %v", err)
	}
	err := s.Run(ctx, q, func(r *Result) error {
		if r.Rows == nil {
			return nil
		}
		for {
			m, err := r.Rows.Next(ctx)
			if err != nil {
				return err
			}
			m.Release()
			if m.Kind == exec.MsgEnd {
				return nil
			}
		}
	})
	if err != nil && (strings.Contains(err.Error(), "internal error") || strings.Contains(err.Error(), "context deadline")) {
		t.Fatalf("query %q: %v", q, err)
	}
}

// FuzzGenerated runs grammar-generated queries; the fuzzer mutates the seed.
func FuzzGenerated(f *testing.F) {
	for i := uint64(0); i < 20; i++ {
		f.Add(i)
	}
	f.Fuzz(func(t *testing.T, seed uint64) {
		g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
		runChecked(t, g.query(3))
	})
}

// TestGeneratedQueries runs a fixed batch of generated queries in every
// plain `go test` run.
func TestGeneratedQueries(t *testing.T) {
	g := &gen{r: rand.New(rand.NewPCG(1, 2))}
	n := 300
	if testing.Short() {
		n = 50
	}
	for i := 0; i < n; i++ {
		runChecked(t, g.query(3))
	}
}
