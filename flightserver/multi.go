package flightserver

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/planner"
	"github.com/magnetar-sql/magnetar/sql"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Texts of several statements (see checkScript and the package doc).

// prepareScript prepares a text of several statements. The schema of its
// result is known only once the statements before the last have run (the
// last one may read a table the first one creates), so the text runs now,
// as it would at its first execution, and the result is parked for that
// execution; later executions run the text again. JDBC prepares every
// statement it executes and reads the result schema to tell a query from
// an update, hence this rather than refusing.
func (s *Server) prepareScript(ctx context.Context, cs *clientSession, p *prepared, last string) error {
	if err := checkScript(p.text); err != nil {
		return err
	}
	if len(p.params) > 0 {
		return status.Error(codes.InvalidArgument, "parameters (?) are not supported in a text of several statements")
	}
	if !p.query {
		return nil // run by DoPutPreparedStatementUpdate
	}
	q, err := s.startQuery(ctx, cs, p.text)
	if err != nil {
		return err
	}
	p.dataset = q.schema
	p.pending = q
	p.lastOnly = last
	return nil
}

// takePending returns the result parked by prepareScript if it can still
// be streamed; otherwise nil and the text an execution runs: text, except
// at the first execution of a script whose parked result was lost
// (expired, cancelled), where the statements before the last already ran
// at prepare time and only the last one runs.
func (p *prepared) takePending(text string) (*query, string) {
	p.mu.Lock()
	q, last := p.pending, p.lastOnly
	p.pending, p.lastOnly = nil, ""
	p.mu.Unlock()
	if q == nil {
		return nil, text
	}
	q.mu.Lock()
	usable := !q.claimed && !q.closing && q.ctx.Err() == nil
	q.mu.Unlock()
	if !usable {
		if last != "" {
			return nil, last
		}
		return nil, text
	}
	return q, ""
}

// describeScript describes a text of several statements without running
// it: the last statement, a plain bounded query, is planned against the
// catalog as it is, so the tables it reads must exist already.
func (s *Server) describeScript(ctx context.Context, cs *clientSession, stmts []sql.Statement, text string) (*arrow.Schema, error) {
	if err := checkScript(text); err != nil {
		return nil, err
	}
	last := &stmts[len(stmts)-1]
	if !isQuery(last.Node) {
		return arrow.NewSchema(nil, nil), nil
	}
	switch last.Node.(type) {
	case *ast.SelectStmt, *ast.SetOprStmt:
	default:
		return nil, &sql.Error{Msg: "cannot describe SHOW or EXPLAIN after other statements without running them", Line: last.Line, Column: last.Column}
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.sess.Mode() == catalog.Unbounded {
		return nil, &sql.Error{Msg: "cannot describe a continuous query after other statements without running them", Line: last.Line, Column: last.Column}
	}
	n, err := cs.sess.Plan(ctx, last)
	if err != nil {
		return nil, fmt.Errorf("describe the last statement (the ones before it are not run): %w", err)
	}
	return planner.ArrowSchema(n.Schema()), nil
}
