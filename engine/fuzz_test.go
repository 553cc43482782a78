package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	memcat "github.com/magnetar-sql/magnetar/catalog/memory"
	"github.com/magnetar-sql/magnetar/exec"
)

const fuzzSetup = `CREATE TABLE t (id BIGINT PRIMARY KEY, name VARCHAR(20), price DOUBLE, qty INT, d DECIMAL(6,2), ts DATETIME, ok BOOLEAN);
INSERT INTO t VALUES (1, 'apple', 1.5, 10, 1.25, '2024-01-01 00:00:00', TRUE), (2, 'banana', 0.25, 20, NULL, '2024-01-02 12:00:00', FALSE), (3, NULL, NULL, NULL, 3.50, NULL, NULL);
CREATE TABLE u (id INT, t_id BIGINT, note VARCHAR(10));
INSERT INTO u VALUES (1, 1, 'x'), (2, 3, NULL)`

var fuzzSeeds = []string{
	"SELECT * FROM t",
	"SELECT id, name FROM t WHERE price > 1 ORDER BY name DESC LIMIT 2",
	"SELECT name, COUNT(*), SUM(qty), AVG(price) FROM t GROUP BY name HAVING COUNT(*) > 0",
	"SELECT t.name, u.note FROM t LEFT JOIN u ON t.id = u.t_id AND u.note <> 'y'",
	"SELECT * FROM t RIGHT JOIN u USING (id)",
	"SELECT id FROM t WHERE id IN (SELECT t_id FROM u) AND NOT EXISTS (SELECT 1 FROM u WHERE u.id = t.id)",
	"WITH x AS (SELECT id, qty * 2 AS q FROM t) SELECT q FROM x UNION SELECT id FROM u",
	"SELECT id, ROW_NUMBER() OVER (PARTITION BY ok ORDER BY price), LAG(qty) OVER (ORDER BY id) FROM t",
	"SELECT CASE WHEN qty > 5 THEN 'big' ELSE 'small' END, COALESCE(name, '?'), d * 2 FROM t",
	"SELECT DATE_ADD(ts, INTERVAL 1 DAY), CAST(price AS DECIMAL(5,1)), SUBSTRING(name, 2) FROM t",
	"SELECT (SELECT MAX(id) FROM u), 1/0, 9223372036854775807 + 1",
	"EXPLAIN SELECT DISTINCT name FROM t WHERE 1 = 1",
	"INSERT INTO u SELECT id, id, name FROM t",
	"CREATE TABLE z AS SELECT * FROM t; SELECT * FROM z; DROP TABLE z",
	"SELECT pricee FROM t",
	"SELECT 1 + , FROM",
}

// FuzzEngine feeds SQL through parse, bind, optimize, build and run on a
// small memory catalog. Errors are fine; panics (which the engine turns
// into "internal error") and hangs are not.
func FuzzEngine(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if len(q) > 2000 || strings.Contains(strings.ToLower(q), "continuous") {
			return
		}
		cat := memcat.New()
		defer cat.Close()
		s := New(cat, Options{}).NewSession()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.Run(ctx, fuzzSetup, func(*Result) error { return nil }); err != nil {
			t.Fatalf("setup: %v", err)
		}
		err := s.Run(ctx, q, func(r *Result) error {
			if r.Rows == nil {
				return nil
			}
			for rows := 0; rows < 100000; {
				m, err := r.Rows.Next(ctx)
				if err != nil {
					return err
				}
				if m.Kind == exec.MsgEnd {
					return nil
				}
				if m.Kind == exec.MsgBatch {
					rows += int(m.Batch.Rec.NumRows())
				}
				m.Release()
			}
			return nil
		})
		if err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatalf("query %q: %v", q, err)
		}
	})
}
