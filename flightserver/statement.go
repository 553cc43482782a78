package flightserver

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/engine"
	"github.com/magnetar-sql/magnetar/sql"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// toStatus maps an error to a gRPC status: SQL errors are the client's
// (InvalidArgument), tenant refusals PermissionDenied, missing objects
// NotFound, cancellations Canceled.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var se *sql.Error
	switch {
	// The planner reports catalog errors as located *sql.Error values that
	// keep the text but not the chain, hence the second test.
	case errors.Is(err, ErrForbidden) || strings.Contains(err.Error(), ErrForbidden.Error()):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.As(err, &se):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, catalog.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, catalog.ErrExists):
		return status.Error(codes.AlreadyExists, err.Error())
	}
	// Engine errors that are not *sql.Error are still mostly about the
	// statement (types, functions); report them as such.
	return status.Error(codes.InvalidArgument, err.Error())
}

// flightInfo describes a parked query: its schema and one endpoint whose
// ticket names it.
func (s *Server) flightInfo(q *query, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	tkt, err := flightsql.CreateStatementQueryTicket([]byte(q.id))
	if err != nil {
		return nil, status.Errorf(codes.Internal, "ticket: %s", err)
	}
	return &flight.FlightInfo{
		Schema:           flight.SerializeSchema(q.schema, s.mem),
		FlightDescriptor: desc,
		Endpoint:         []*flight.FlightEndpoint{{Ticket: &flight.Ticket{Ticket: tkt}}},
		TotalRecords:     -1,
		TotalBytes:       -1,
		Ordered:          true,
	}, nil
}

// GetFlightInfoStatement runs a query up to its first batch and parks it.
func (s *Server) GetFlightInfoStatement(ctx context.Context, cmd flightsql.StatementQuery, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	return s.queryInfo(ctx, cmd.GetQuery(), desc)
}

func (s *Server) queryInfo(ctx context.Context, text string, desc *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	cs := s.session(ctx)
	q, err := s.startQuery(ctx, cs, text)
	if err != nil {
		return nil, toStatus(err)
	}
	info, err := s.flightInfo(q, desc)
	if err != nil {
		q.cancel(err)
		return nil, err
	}
	return info, nil
}

// GetSchemaStatement describes a query without running it.
func (s *Server) GetSchemaStatement(ctx context.Context, cmd flightsql.StatementQuery, _ *flight.FlightDescriptor) (*flight.SchemaResult, error) {
	sc, err := s.describe(ctx, s.session(ctx), cmd.GetQuery())
	if err != nil {
		return nil, toStatus(err)
	}
	return &flight.SchemaResult{Schema: flight.SerializeSchema(sc, s.mem)}, nil
}

// DoGetStatement streams a parked query.
func (s *Server) DoGetStatement(ctx context.Context, tkt flightsql.StatementQueryTicket) (*arrow.Schema, <-chan flight.StreamChunk, error) {
	q := s.queries.get(string(tkt.GetStatementHandle()))
	if q == nil {
		return nil, nil, status.Error(codes.NotFound, "unknown or expired statement handle")
	}
	if q.user != userName(userFrom(ctx)) {
		return nil, nil, status.Error(codes.PermissionDenied, "statement handle belongs to another user")
	}
	if !q.claim() {
		return nil, nil, status.Error(codes.FailedPrecondition, "statement result is already being read, or was cancelled")
	}
	return q.schema, s.stream(ctx, q), nil
}

// DoPutCommandStatementUpdate runs statements without rows (DDL, INSERT,
// USE, SET) and returns the number of rows they inserted.
//
// The statements' status lines and warnings go in the response headers
// (StatusKey, WarningKey): the statements are done before the response
// is written, and clients such as arrow's Go ExecuteUpdate read only the
// first message of the stream, so they would never see its trailer.
func (s *Server) DoPutCommandStatementUpdate(ctx context.Context, cmd flightsql.StatementUpdate) (int64, error) {
	n, err := s.execUpdate(ctx, s.session(ctx), cmd.GetQuery())
	return n, toStatus(err)
}

func (s *Server) execUpdate(ctx context.Context, cs *clientSession, text string) (int64, error) {
	var out outcome
	n, err := s.runUpdate(ctx, cs, text, &out)
	setUpdateHeader(ctx, &out)
	return n, err
}

// runUpdate runs text as an update, noting statuses and warnings in out.
func (s *Server) runUpdate(ctx context.Context, cs *clientSession, text string, out *outcome) (int64, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	var total int64
	err := cs.sess.Run(ctx, text, func(r *engine.Result) error {
		// A query sent as an update: its rows are not wanted. Closing
		// without pulling also keeps a continuous query from running on.
		total += affectedRows(r.Status)
		out.add(r)
		return nil
	})
	return total, err
}

// setUpdateHeader sends out in the response headers of an update, once
// per call: gRPC appends the values of every SetHeader, which the size
// bounds of outcome.md would not cover.
func setUpdateHeader(ctx context.Context, out *outcome) {
	if md := out.md(); md != nil {
		// Not every caller is a gRPC call with headers still to send
		// (SetSessionOptions runs USE through here after its own).
		_ = grpc.SetHeader(ctx, md)
	}
}

// affectedRows reads the row count of a status such as "INSERT 3".
func affectedRows(st string) int64 {
	f := strings.Fields(st)
	if len(f) < 2 {
		return 0
	}
	switch strings.ToUpper(f[0]) {
	case "INSERT", "UPDATE", "DELETE", "REPLACE":
		n, err := strconv.ParseInt(f[len(f)-1], 10, 64)
		if err == nil {
			return n
		}
	}
	return 0
}

// CancelFlightInfo cancels the queries named by the tickets of a
// FlightInfo this server returned.
func (s *Server) CancelFlightInfo(ctx context.Context, req *flight.CancelFlightInfoRequest) (flight.CancelFlightInfoResult, error) {
	st, err := s.cancelInfo(ctx, req.GetInfo())
	return flight.CancelFlightInfoResult{Status: st}, err
}

func (s *Server) cancelInfo(ctx context.Context, info *flight.FlightInfo) (flight.CancelStatus, error) {
	if info == nil {
		return flight.CancelStatusUnspecified, status.Error(codes.InvalidArgument, "no FlightInfo to cancel")
	}
	st := flight.CancelStatusNotCancellable
	uname := userName(userFrom(ctx))
	for _, ep := range info.GetEndpoint() {
		id, err := handleOfTicket(ep.GetTicket())
		if err != nil {
			continue
		}
		q := s.queries.get(id)
		if q == nil {
			continue
		}
		if q.user != uname {
			return flight.CancelStatusUnspecified, status.Error(codes.PermissionDenied, "statement belongs to another user")
		}
		q.cancel(errors.New("cancelled by the client"))
		st = flight.CancelStatusCancelled
	}
	return st, nil
}

// CancelQuery is the older cancellation action, kept for older clients.
func (s *Server) CancelQuery(ctx context.Context, req flightsql.ActionCancelQueryRequest) (flightsql.CancelResult, error) {
	st, err := s.cancelInfo(ctx, req.GetInfo())
	if err != nil {
		return flightsql.CancelResultUnspecified, err
	}
	if st == flight.CancelStatusCancelled {
		return flightsql.CancelResultCancelled, nil
	}
	return flightsql.CancelResultNotCancellable, nil
}

func handleOfTicket(t *flight.Ticket) (string, error) {
	if t == nil {
		return "", errors.New("no ticket")
	}
	var a anypb.Any
	if err := proto.Unmarshal(t.GetTicket(), &a); err != nil {
		return "", fmt.Errorf("ticket: %w", err)
	}
	m, err := a.UnmarshalNew()
	if err != nil {
		return "", fmt.Errorf("ticket: %w", err)
	}
	tq, ok := m.(interface{ GetStatementHandle() []byte })
	if !ok {
		return "", errors.New("not a statement ticket")
	}
	return string(tq.GetStatementHandle()), nil
}
