package flightclient

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/sql"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ServerError is an error the server returned (a gRPC status) that is not
// located in the SQL text.
type ServerError struct {
	Code codes.Code
	Msg  string
}

// Error shows the server's message; codes that say something about the
// connection rather than the statement are named.
func (e *ServerError) Error() string {
	switch e.Code {
	case codes.Unavailable:
		return "server unavailable: " + e.Msg
	case codes.Unauthenticated:
		return "not authenticated: " + e.Msg
	case codes.Internal, codes.Unknown:
		return "server error: " + e.Msg
	}
	return e.Msg
}

// GRPCStatus lets status.FromError see the original status.
func (e *ServerError) GRPCStatus() *status.Status { return status.New(e.Code, e.Msg) }

// Unwrap maps status codes onto the errors local sessions return, so that
// errors.Is works the same in both modes.
func (e *ServerError) Unwrap() error {
	switch e.Code {
	case codes.NotFound:
		return catalog.ErrNotFound
	case codes.AlreadyExists:
		return catalog.ErrExists
	}
	// Canceled is not mapped to context.Canceled: cancellations by the
	// caller are reported as ctx.Err() already, and one made by the server
	// (shutdown, CancelFlightInfo) should show the server's reason.
	return nil
}

// locRE finds the position the server's SQL errors start with, possibly
// after a "what failed: " prefix.
var locRE = regexp.MustCompile(`^((?:[^:\n]*: )*?)line (\d+) column (\d+): ((?s).*)$`)

// nearRE splits ` near "…"` and an optional ` (hint)` off the message end,
// as sql.Error.Error writes them (the text after near is Go-quoted).
var nearRE = regexp.MustCompile(`^((?s).*?) near ("(?:[^"\\]|\\.)*")((?: \((?s).*\))?)$`)

// remoteError turns a gRPC error into a *sql.Error when its message is
// located ("line L column C: ..."), a *ServerError otherwise. Errors that
// are not gRPC statuses are returned as they are.
func remoteError(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	msg := st.Message()
	if se := parseLocated(msg); se != nil {
		return se
	}
	return &ServerError{Code: st.Code(), Msg: msg}
}

// parseLocated reads back what sql.Error.Error wrote, or returns nil.
func parseLocated(msg string) *sql.Error {
	m := locRE.FindStringSubmatch(msg)
	if m == nil {
		return nil
	}
	line, err1 := strconv.Atoi(m[2])
	col, err2 := strconv.Atoi(m[3])
	if err1 != nil || err2 != nil || line < 1 || col < 1 {
		return nil
	}
	se := &sql.Error{Msg: m[4], Line: line, Column: col}
	if n := nearRE.FindStringSubmatch(m[4]); n != nil {
		if near, err := strconv.Unquote(n[2]); err == nil {
			se.Msg, se.Near = n[1], near
			if h := n[3]; h != "" {
				se.Hint = strings.TrimSuffix(strings.TrimPrefix(h, " ("), ")")
			}
		}
	}
	return se
}

// shift moves an error located in one statement of a script to its place
// in the whole script (the statement starts at line, column).
func shift(err error, line, column int) error {
	var se *sql.Error
	if !errors.As(err, &se) || se.Line <= 0 || (line == 1 && column == 1) {
		return err
	}
	moved := *se
	if moved.Line == 1 {
		moved.Column += column - 1
	}
	moved.Line += line - 1
	return &moved
}
