package engine

import (
	"context"
	"fmt"

	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/planner"
	"github.com/magnetar-sql/magnetar/sink"
	"github.com/magnetar-sql/magnetar/sql"
	"github.com/pingcap/tidb/pkg/parser/ast"
)

// checkUpdatesFit refuses, before a job starts, a continuous INSERT whose
// query emits updates and retractions (an unwindowed aggregate, an outer
// join, a Top-N, early-firing windows ...) into a topic table without a
// PRIMARY KEY: the writer can only append, and the job would fail at its
// first update. Flink refuses such a plan the same way ("doesn't support
// consuming update changes"). Errors of binding are left to the job
// manager, which reports them with the job's name.
func (s *Session) checkUpdatesFit(ctx context.Context, st *sql.Statement, x *ast.InsertStmt) error {
	if x.Select == nil {
		return nil
	}
	ts, ok := x.Table.TableRefs.Left.(*ast.TableSource)
	if !ok {
		return nil
	}
	tn, ok := ts.Source.(*ast.TableName)
	if !ok {
		return nil
	}
	db := s.db
	if tn.Schema.O != "" {
		db = tn.Schema.O
	}
	tb, err := s.e.cat.Table(ctx, db, tn.Name.O)
	if err != nil {
		return nil
	}
	w, ok := tb.(interface{ WriterOptions() (sink.Options, error) })
	if !ok {
		return nil // the memory catalog applies changelogs itself
	}
	if o, err := w.WriterOptions(); err != nil || o.Upsert {
		return nil
	}
	sel, ok := x.Select.(ast.StmtNode) // SELECT or UNION: both are statements
	if !ok {
		return nil
	}
	q := *st
	q.Node = sel
	n, err := s.Plan(ctx, &q)
	if err != nil || !planner.EmitsUpdates(n, catalog.Unbounded) {
		return nil
	}
	return &sql.Error{
		Msg:  fmt.Sprintf("INSERT INTO %s: the query emits updates and retractions (an aggregate without a window, an outer join, a Top-N, an early-firing window ...) but %s has no PRIMARY KEY to upsert them on", tn.Name.O, tn.Name.O),
		Hint: "write into a table with a PRIMARY KEY (CREATE TABLE ... (k ..., PRIMARY KEY (k))), or make the query append-only (GROUP BY a window such as TUMBLE(ts, '1 MINUTE'))",
		Line: st.Line, Column: st.Column,
	}
}
