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
// # Several statements in one text
//
// A query text may hold several statements separated by semicolons if
// only the last one returns rows: the others (DDL, INSERT, USE, SET, ...)
// run in order when the FlightInfo is asked for, and the result is the
// last statement's, so "CREATE TABLE ...; INSERT ...; SELECT ..." works
// from JDBC's execute() or executeQuery(). A text in which an earlier
// statement returns rows (SELECT, SHOW, EXPLAIN, DESCRIBE) is refused with
// InvalidArgument before anything runs, naming it: "line 2 column 1:
// statement 2 of 3 returns rows: ...". Flight SQL has one result stream
// per statement, and JDBC drivers do not ask for more results, so rows of
// an earlier query could only be dropped silently (and a continuous one
// would never let the next statement run). An update text
// (DoPutCommandStatementUpdate) runs every statement and returns the sum
// of the rows they inserted.
//
// JDBC prepares every statement and reads the result schema to tell a
// query from an update, and that schema exists only once the statements
// before the last have run (they may create the table it reads). So
// preparing a text of several statements ending in a query runs it then,
// and the first execution streams that run's result; later executions
// run the text again. Such texts take no ? parameters. GetSchema of a
// text of several statements plans the last one without running the
// others.
//
// # Type information
//
// GetXdbcTypeInfo lists the SQL types CREATE TABLE takes with their XDBC
// (JDBC/ODBC) codes, ordered by code; BOOLEAN is XDBC_BIT. (The Arrow
// Flight SQL JDBC driver 18.3 does not call it: its getTypeInfo is empty.)
//
// # Status lines and warnings
//
// What the shell prints besides rows travels in gRPC metadata, one value
// per line, UTF-8 percent-encoded as in grpc-message (bytes outside
// printable ASCII and "%" as %XX): x-magnetar-status holds the status line
// of each statement without rows ("CREATE TABLE", "INSERT 3", "USE db",
// the job started by a continuous INSERT ... SELECT) and
// x-magnetar-warning each warning, including those known only once the
// rows were read (late rows dropped by watermarks or ignored by windows,
// undecodable messages skipped). They come in the trailer of DoGet (the
// statuses of the statements run before the result, and the warnings) and
// in the response headers of DoPutCommandStatementUpdate (sent when the
// statements are done, so clients that read only the first message see
// them; gRPC's Go client fills a grpc.Header call option only once the
// stream ended). The shell's --connect mode prints them exactly as in
// local mode. HTTP/2 peers bound the size of a header block (grpc-java,
// hence JDBC, to 8 KiB), so each key carries at most a few KiB: a longer
// list keeps its first values, then "(N more not shown)", then its last
// value; a value over 1 KiB is cut and ends in "...".
//
// # Transfer
//
// DoGet writes result batches with its own FlightData encoder (wire.go):
// Arrow buffers of 16 KiB or more go to gRPC by reference (the batch is
// released when gRPC has written or dropped them; a stream whose
// connection is gone releases them then), so the only copy on the server
// is into the socket buffer. The server pings connections silent for a
// minute and closes those that do not answer, so streams of clients that
// vanished end. Batches are at most about 2 MiB on the wire, a
// goroutine pulls the next batch from the query while the previous one is
// written, and nothing is compressed (on loopback or a LAN compression
// costs more CPU than it saves). Go clients read fastest with
// flightclient.TransportOptions (a codec that decodes FlightData with one
// copy); see docs/benchmarks.md, "Flight SQL transfer".
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
