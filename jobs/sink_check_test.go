package jobs_test

import (
	"strings"
	"testing"

	"github.com/magnetar-sql/magnetar/sql"
	"github.com/pingcap/tidb/pkg/parser/ast"
)

// A continuous INSERT whose query emits updates (an unwindowed GROUP BY, a
// LEFT JOIN of two streams) into a table without a PRIMARY KEY is refused
// before a job exists, with the reason and the fix; into a keyed table,
// or with an append-only query, it becomes a job.
func TestContinuousInsertOfUpdatesNeedsAPrimaryKey(t *testing.T) {
	e := newEnv(t)
	e.run(`CREATE TABLE src (id BIGINT, v VARCHAR(10)); CREATE TABLE dim (id BIGINT, name VARCHAR(10));
		CREATE TABLE plain (k BIGINT, n BIGINT); CREATE TABLE keyed (k BIGINT PRIMARY KEY, n BIGINT);
		CREATE TABLE pairs (id BIGINT, name VARCHAR(10))`)
	m := e.manager()
	defer m.Close()
	e.run("SET magnetar.mode = 'continuous'")
	start := func(q string) error {
		t.Helper()
		stmts, err := sql.Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.s.StartJob(e.ctx, &stmts[0], stmts[0].Node.(*ast.InsertStmt))
		return err
	}
	for _, q := range []string{
		"INSERT INTO plain SELECT id % 3, count(*) FROM src GROUP BY id % 3",
		"INSERT INTO pairs SELECT s.id, d.name FROM src s LEFT JOIN dim d ON s.id = d.id",
	} {
		err := start(q)
		if err == nil || !strings.Contains(err.Error(), "emits updates and retractions") || !strings.Contains(err.Error(), "has no PRIMARY KEY") {
			t.Errorf("%s: %v", q, err)
		}
	}
	if jobs := m.Jobs(); len(jobs) != 0 {
		t.Fatalf("refused statements left jobs: %+v", jobs)
	}
	e.run("SET magnetar.job_name = 'keyed'")
	if err := start("INSERT INTO keyed SELECT id % 3, count(*) FROM src GROUP BY id % 3"); err != nil {
		t.Fatalf("into a keyed table: %v", err)
	}
	e.run("SET magnetar.job_name = 'inner'")
	if err := start("INSERT INTO pairs SELECT s.id, d.name FROM src s JOIN dim d ON s.id = d.id"); err != nil {
		t.Fatalf("an inner join (append-only): %v", err)
	}
	if n := len(m.Jobs()); n != 2 {
		t.Fatalf("%d jobs, want 2", n)
	}
}
