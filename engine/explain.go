package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/sql"
	"github.com/pingcap/tidb/pkg/parser/ast"
)

// explain renders the optimized logical plan, or with ANALYZE runs the
// query with every operator metered and renders the operator tree with
// rows, batches and time per operator.
func (s *Session) explain(ctx context.Context, st *sql.Statement, x *ast.ExplainStmt) (*Result, error) {
	if _, ok := x.Stmt.(ast.ResultSetNode); !ok {
		return nil, sql.Errorf(st, "explain", "unsupported: EXPLAIN of %s", stmtName(x.Stmt))
	}
	inner := *st
	inner.Node = x.Stmt
	n, err := s.Plan(ctx, &inner)
	if err != nil {
		return nil, err
	}
	if !x.Analyze {
		return s.planRows(strings.Split(strings.TrimRight(planText(n), "\n"), "\n")), nil
	}
	op, err := s.builder(true).Build(ctx, n)
	if err != nil {
		return nil, err
	}
	defer op.Close()
	if err := op.Open(ctx); err != nil {
		return nil, err
	}
	for {
		m, err := op.Next(ctx)
		if err != nil {
			return nil, err
		}
		m.Release()
		if m.Kind == exec.MsgEnd {
			break
		}
	}
	var lines []string
	var walk func(o exec.Operator, depth int)
	walk = func(o exec.Operator, depth int) {
		line := strings.Repeat("  ", depth) + o.String()
		if m, ok := o.(*exec.Metered); ok {
			st := m.Stats()
			line += fmt.Sprintf("  (rows=%d batches=%d time=%s self=%s)", st.Rows, st.Batches, st.Time, st.SelfTime)
		}
		lines = append(lines, line)
		for _, c := range o.Children() {
			walk(c, depth+1)
		}
	}
	walk(op, 0)
	return s.planRows(lines), nil
}

func (s *Session) planRows(lines []string) *Result {
	rows := make([][]string, len(lines))
	for i, l := range lines {
		rows[i] = []string{l}
	}
	return s.rowsResult([]string{"plan"}, rows)
}
