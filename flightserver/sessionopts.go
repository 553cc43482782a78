package flightserver

import (
	"context"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/flight"
	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Flight session options map onto the SQL session: "schema" (or
// "database") is the current database (as USE), "catalog" must be
// "magnetar", any other name is a SET. ADBC drivers set the current
// database this way.

// SetSessionOptions applies options to the caller's session.
func (s *Server) SetSessionOptions(ctx context.Context, req *flight.SetSessionOptionsRequest) (*flight.SetSessionOptionsResult, error) {
	cs := s.session(ctx)
	res := &flight.SetSessionOptionsResult{Errors: map[string]*flight.SetSessionOptionsResultError{}}
	fail := func(name string, v pb.SetSessionOptionsResult_ErrorValue) {
		res.Errors[name] = &flight.SetSessionOptionsResultError{Value: v}
	}
	for name, val := range req.GetSessionOptions() {
		str, ok := optionString(val)
		if !ok {
			fail(name, flight.SetSessionOptionsResultErrorInvalidValue)
			continue
		}
		switch strings.ToLower(name) {
		case "catalog":
			if !strings.EqualFold(str, CatalogName) {
				fail(name, flight.SetSessionOptionsResultErrorInvalidValue)
			}
		case "schema", "database":
			if _, err := s.execUpdate(ctx, cs, "USE "+quoteIdent(str)); err != nil {
				fail(name, flight.SetSessionOptionsResultErrorInvalidValue)
			}
		default:
			cs.mu.Lock()
			err := cs.sess.Set(name, str)
			cs.mu.Unlock()
			if err != nil {
				fail(name, flight.SetSessionOptionsResultErrorInvalidValue)
			}
		}
	}
	return res, nil
}

// GetSessionOptions returns the current database and the settings.
func (s *Server) GetSessionOptions(ctx context.Context, _ *flight.GetSessionOptionsRequest) (*flight.GetSessionOptionsResult, error) {
	cs := s.session(ctx)
	cs.mu.Lock()
	db := cs.sess.Database()
	settings := cs.sess.Settings()
	cs.mu.Unlock()
	opts := map[string]any{"catalog": CatalogName, "schema": db}
	for k, v := range settings {
		opts[k] = v
	}
	vals, err := flight.NewSessionOptionValues(opts)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "session options: %s", err)
	}
	return &flight.GetSessionOptionsResult{SessionOptions: vals}, nil
}

// CloseSession forgets the caller's session.
func (s *Server) CloseSession(ctx context.Context, _ *flight.CloseSessionRequest) (*flight.CloseSessionResult, error) {
	s.sessions.remove(s.session(ctx))
	return &flight.CloseSessionResult{Status: flight.CloseSessionResultClosed}, nil
}

func optionString(v *flight.SessionOptionValue) (string, bool) {
	switch x := v.GetOptionValue().(type) {
	case *pb.SessionOptionValue_StringValue:
		return x.StringValue, true
	case *pb.SessionOptionValue_BoolValue:
		return strconv.FormatBool(x.BoolValue), true
	case *pb.SessionOptionValue_Int64Value:
		return strconv.FormatInt(x.Int64Value, 10), true
	case *pb.SessionOptionValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64), true
	}
	return "", false
}

// quoteIdent quotes a MySQL identifier.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
