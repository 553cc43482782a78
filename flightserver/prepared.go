package flightserver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/planner"
	"github.com/magnetar-sql/magnetar/sql"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// prepared is a prepared statement: text, its parameters and the values
// last bound to them (one row per execution).
type prepared struct {
	id      string
	user    string
	session *clientSession
	text    string
	params  []param
	query   bool          // returns rows
	dataset *arrow.Schema // result schema of a query
	// pending is a text of several statements run at prepare time (see
	// prepareScript), parked for its first execution; lastOnly is the
	// text of its last statement, what that execution runs if the
	// parked result is lost.
	pending  *query
	lastOnly string

	mu       sync.Mutex
	bound    [][]string // literal rows
	lastUsed time.Time
}

type preparedRegistry struct {
	mu   sync.Mutex
	byID map[string]*prepared
}

func newPreparedRegistry() *preparedRegistry { return &preparedRegistry{byID: map[string]*prepared{}} }

func (r *preparedRegistry) closeAll() {
	r.mu.Lock()
	r.byID = map[string]*prepared{}
	r.mu.Unlock()
}

func (r *preparedRegistry) expire(now time.Time, idle time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, p := range r.byID {
		p.mu.Lock()
		old := now.Sub(p.lastUsed) > idle
		p.mu.Unlock()
		if old {
			delete(r.byID, id)
		}
	}
}

func (s *Server) lookupPrepared(ctx context.Context, handle []byte) (*prepared, error) {
	s.prepared.mu.Lock()
	p := s.prepared.byID[string(handle)]
	s.prepared.mu.Unlock()
	if p == nil {
		return nil, status.Error(codes.NotFound, "unknown or closed prepared statement")
	}
	if p.user != userName(userFrom(ctx)) {
		return nil, status.Error(codes.PermissionDenied, "prepared statement belongs to another user")
	}
	p.mu.Lock()
	p.lastUsed = time.Now()
	p.mu.Unlock()
	return p, nil
}

// isQuery reports whether a statement returns rows.
func isQuery(n ast.StmtNode) bool {
	switch n.(type) {
	case *ast.SelectStmt, *ast.SetOprStmt, *ast.ShowStmt, *ast.ExplainStmt:
		return true
	}
	return false
}

// describe returns the schema of the result of text (an empty schema if
// no statement returns rows; several statements: see describeScript). Plain queries are planned, not run;
// SHOW, EXPLAIN and continuous queries (whose changelog column depends on
// the built operators) are opened and closed at once.
func (s *Server) describe(ctx context.Context, cs *clientSession, text string) (*arrow.Schema, error) {
	stmts, err := sql.Parse(text)
	if err != nil {
		return nil, err
	}
	if len(stmts) > 1 {
		return s.describeScript(ctx, cs, stmts, text)
	}
	for i := range stmts {
		if !isQuery(stmts[i].Node) {
			continue
		}
		if len(stmts) == 1 {
			switch stmts[i].Node.(type) {
			case *ast.SelectStmt, *ast.SetOprStmt:
				cs.mu.Lock()
				bounded := cs.sess.Mode() != catalog.Unbounded
				var n planner.Node
				if bounded {
					n, err = cs.sess.Plan(ctx, &stmts[i])
				}
				cs.mu.Unlock()
				if bounded {
					if err != nil {
						return nil, err
					}
					return planner.ArrowSchema(n.Schema()), nil
				}
			}
		}
		break
	}
	hasQuery := false
	for i := range stmts {
		hasQuery = hasQuery || isQuery(stmts[i].Node)
	}
	if !hasQuery {
		return arrow.NewSchema(nil, nil), nil
	}
	q, err := s.startQuery(ctx, cs, text)
	if err != nil {
		return nil, err
	}
	q.cancel(errors.New("described only"))
	<-q.finished
	return q.schema, nil
}

// CreatePreparedStatement parses a statement, finds its ? parameters and
// their likely types, and describes its result.
func (s *Server) CreatePreparedStatement(ctx context.Context, req flightsql.ActionCreatePreparedStatementRequest) (flightsql.ActionCreatePreparedStatementResult, error) {
	var res flightsql.ActionCreatePreparedStatementResult
	text := req.GetQuery()
	stmts, err := sql.Parse(text)
	if err != nil {
		return res, toStatus(err)
	}
	if len(stmts) == 0 {
		return res, status.Error(codes.InvalidArgument, "empty statement")
	}
	cs := s.session(ctx)
	cs.mu.Lock()
	db := cs.sess.Database()
	cs.mu.Unlock()
	cat := s.catalogFor(ctx)
	p := &prepared{
		id: newID(), user: cs.user, session: cs, text: text,
		params: findParams(ctx, stmts, cat, db),
		// The last statement's rows are the result (see checkScript).
		query:    isQuery(stmts[len(stmts)-1].Node),
		lastUsed: time.Now(),
	}
	if len(stmts) > 1 {
		if err := s.prepareScript(ctx, cs, p, stmts[len(stmts)-1].Text); err != nil {
			return res, toStatus(err)
		}
		res.DatasetSchema = p.dataset
	} else if p.query {
		zeros := make([]string, len(p.params))
		for i, pa := range p.params {
			zeros[i] = zeroLiteral(pa.typ)
		}
		probe, err := substitute(text, p.params, zeros)
		if err != nil {
			return res, toStatus(err)
		}
		if p.dataset, err = s.describe(ctx, cs, probe); err != nil {
			return res, toStatus(err)
		}
		res.DatasetSchema = p.dataset
	}
	fields := make([]arrow.Field, len(p.params))
	for i, pa := range p.params {
		fields[i] = arrow.Field{Name: fmt.Sprintf("p%d", i+1), Type: pa.typ, Nullable: true}
	}
	res.ParameterSchema = arrow.NewSchema(fields, nil)
	isUpdate := !p.query
	res.IsUpdate = &isUpdate
	res.Handle = []byte(p.id)
	s.prepared.mu.Lock()
	s.prepared.byID[p.id] = p
	s.prepared.mu.Unlock()
	return res, nil
}

// ClosePreparedStatement forgets a prepared statement.
func (s *Server) ClosePreparedStatement(ctx context.Context, req flightsql.ActionClosePreparedStatementRequest) error {
	p, err := s.lookupPrepared(ctx, req.GetPreparedStatementHandle())
	if err != nil {
		return err
	}
	s.prepared.mu.Lock()
	delete(s.prepared.byID, p.id)
	s.prepared.mu.Unlock()
	if q, _ := p.takePending(""); q != nil {
		q.cancel(errors.New("prepared statement closed"))
	}
	return nil
}

// readParams reads the parameter rows a client sends with DoPut.
func readParams(p *prepared, rdr flight.MessageReader) ([][]string, error) {
	var rows [][]string
	for rdr.Next() {
		rec := rdr.RecordBatch()
		if int(rec.NumCols()) != len(p.params) {
			return nil, status.Errorf(codes.InvalidArgument, "statement has %d parameters, %d bound", len(p.params), rec.NumCols())
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			lits, err := rowLiterals(rec, i)
			if err != nil {
				return nil, status.Error(codes.InvalidArgument, err.Error())
			}
			rows = append(rows, lits)
		}
	}
	if err := rdr.Err(); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "reading parameters: %s", err)
	}
	return rows, nil
}

// DoPutPreparedStatementQuery binds parameter values for the next
// execution of a prepared query.
func (s *Server) DoPutPreparedStatementQuery(ctx context.Context, cmd flightsql.PreparedStatementQuery, rdr flight.MessageReader, _ flight.MetadataWriter) ([]byte, error) {
	p, err := s.lookupPrepared(ctx, cmd.GetPreparedStatementHandle())
	if err != nil {
		return nil, err
	}
	rows, err := readParams(p, rdr)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.bound = rows
	p.mu.Unlock()
	return []byte(p.id), nil
}

// boundText is the statement text with the values of bound row i.
func (p *prepared) boundText(i int) (string, error) {
	if len(p.params) == 0 {
		return p.text, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if i >= len(p.bound) {
		return "", status.Errorf(codes.InvalidArgument, "statement has %d parameters and none are bound", len(p.params))
	}
	t, err := substitute(p.text, p.params, p.bound[i])
	if err != nil {
		return "", status.Error(codes.InvalidArgument, err.Error())
	}
	return t, nil
}

// queryText is the text a prepared query runs with: one row of values
// (the last bound: a query returns one result set).
func (p *prepared) queryText() (string, error) {
	p.mu.Lock()
	n := len(p.bound)
	p.mu.Unlock()
	if n > 1 {
		return p.boundText(n - 1)
	}
	return p.boundText(0)
}

// GetFlightInfoPreparedStatement runs a prepared query with its bound
// values and parks the result, as GetFlightInfoStatement does.
func (s *Server) GetFlightInfoPreparedStatement(ctx context.Context, cmd flightsql.PreparedStatementQuery, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	p, err := s.lookupPrepared(ctx, cmd.GetPreparedStatementHandle())
	if err != nil {
		return nil, err
	}
	text, err := p.queryText()
	if err != nil {
		return nil, err
	}
	cs := s.sessions.get(p.session.id, p.user)
	if cs == nil {
		cs = p.session
	}
	q, text := p.takePending(text)
	if q == nil {
		if q, err = s.startQuery(ctx, cs, text); err != nil {
			return nil, toStatus(err)
		}
	}
	info, err := s.flightInfo(q, desc)
	if err != nil {
		q.cancel(err)
		return nil, err
	}
	return info, nil
}

// GetSchemaPreparedStatement returns the result schema found at prepare time.
func (s *Server) GetSchemaPreparedStatement(ctx context.Context, cmd flightsql.PreparedStatementQuery, _ *flight.FlightDescriptor) (*flight.SchemaResult, error) {
	p, err := s.lookupPrepared(ctx, cmd.GetPreparedStatementHandle())
	if err != nil {
		return nil, err
	}
	sc := p.dataset
	if sc == nil {
		sc = arrow.NewSchema(nil, nil)
	}
	return &flight.SchemaResult{Schema: flight.SerializeSchema(sc, s.mem)}, nil
}

// DoGetPreparedStatement runs a prepared query and streams it directly, for
// clients that use the command itself as a ticket.
func (s *Server) DoGetPreparedStatement(ctx context.Context, cmd flightsql.PreparedStatementQuery) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	p, err := s.lookupPrepared(ctx, cmd.GetPreparedStatementHandle())
	if err != nil {
		return nil, nil, err
	}
	text, err := p.queryText()
	if err != nil {
		return nil, nil, err
	}
	q, text := p.takePending(text)
	if q == nil {
		if q, err = s.startQuery(ctx, p.session, text); err != nil {
			return nil, nil, toStatus(err)
		}
	}
	if !q.claim() {
		return nil, nil, status.Error(codes.Canceled, "query cancelled")
	}
	return q.schema, s.stream(ctx, q), nil
}

// DoPutPreparedStatementUpdate runs a prepared statement without rows once
// per bound row (once if it has no parameters) and sums the rows inserted.
func (s *Server) DoPutPreparedStatementUpdate(ctx context.Context, cmd flightsql.PreparedStatementUpdate, rdr flight.MessageReader) (int64, error) {
	p, err := s.lookupPrepared(ctx, cmd.GetPreparedStatementHandle())
	if err != nil {
		return 0, err
	}
	rows, err := readParams(p, rdr)
	if err != nil {
		return 0, err
	}
	if len(rows) > 0 {
		p.mu.Lock()
		p.bound = rows
		p.mu.Unlock()
	}
	runs := 1
	if len(p.params) > 0 {
		p.mu.Lock()
		runs = len(p.bound)
		p.mu.Unlock()
		if runs == 0 {
			return 0, status.Errorf(codes.InvalidArgument, "statement has %d parameters and none are bound", len(p.params))
		}
	}
	// One header for all runs (a JDBC executeBatch sends many rows).
	var out outcome
	defer setUpdateHeader(ctx, &out)
	var total int64
	for i := 0; i < runs; i++ {
		text, err := p.boundText(i)
		if err != nil {
			return total, err
		}
		n, err := s.runUpdate(ctx, p.session, text, &out)
		total += n
		if err != nil {
			return total, toStatus(err)
		}
	}
	return total, nil
}
