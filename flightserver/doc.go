// Package flightserver serves Magnetar over Arrow Flight SQL, so that JDBC
// (the Arrow Flight SQL JDBC driver), ADBC (Go, Python, ...) and the Go
// flightsql client can run SQL and read Arrow record batches.
//
// # Queries
//
// GetFlightInfoStatement runs the statement through the engine up to the
// point where its rows can be pulled (parse, bind, plan, build, open) and
// parks the opened result under a random handle; the FlightInfo carries the
// result's schema and one endpoint whose ticket names the handle. DoGet on
// that ticket streams the result's batches as they are pulled. A bounded
// query ends with its data; a continuous query (SET magnetar.mode =
// 'continuous') streams until the client cancels the call or closes the
// connection, or CancelFlightInfo is called. Either way the operators are
// closed when the stream ends. A parked result nobody fetches is closed after
// Config.ParkTimeout.
//
// Statements without rows (DDL, INSERT, USE, SET) sent as queries run when
// the FlightInfo is asked for and return a result with no columns and no
// rows; DoPutCommandStatementUpdate runs them too and returns the number of
// rows inserted.
//
// # Changelog column
//
// An updating result (a continuous query with an operator that retracts what
// it emitted: grouped aggregates, sorts, top-N, windows) gets one more
// column, __op VARCHAR NOT NULL, last, holding each row's change kind: +I
// (insert), -U (update-before), +U (update-after) or -D (delete). Append-only
// results (every bounded query, continuous scans and filters) have exactly
// the columns of the SELECT list, so ordinary clients see ordinary tables.
//
// # Sessions
//
// The current database and settings (USE, SET) live in a per-client session
// kept by the server and named by the arrow_flight_session_id cookie (the
// name arrow's session middleware uses; JDBC and the Go/ADBC cookie
// middlewares send it back) or by an x-magnetar-session header. A call
// without either starts a new session and returns its cookie (in the
// headers of whatever call it is; note that arrow-go's Go cookie middleware
// only reads headers of unary calls and of streams read to the end, so a Go
// client should make a unary call such as GetSqlInfo first). Flight session
// options map onto the same state: "schema" is the current database,
// other names are SET. Idle sessions expire after Config.SessionIdleTimeout.
//
// # Security
//
// TLS comes from Config.TLS. When Config.Auth is set every call must carry
// either "authorization: Bearer <token>" (a token from the auth file, or one
// issued by the Handshake) or "authorization: Basic ..." credentials; the
// Handshake with Basic credentials returns a bearer token in the
// authorization response header. Unauthenticated calls fail with
// codes.Unauthenticated. Each user has a list of tenants (the part of a
// database name before "/"); other tenants' databases are hidden from
// listings and statements touching them fail with codes.PermissionDenied.
package flightserver
