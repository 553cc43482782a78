package flightclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/flight"
	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"github.com/magnetar-sql/magnetar/shell"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// updateWords are the first keywords of statements known to return no
// rows; they go through ExecuteUpdate, which reports inserted rows. Other
// statements (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, VALUES, TABLE and
// anything unknown) are sent as queries and the server's answer decides: a
// result without columns is a statement without rows.
var updateWords = map[string]bool{
	"CREATE": true, "DROP": true, "ALTER": true, "INSERT": true, "REPLACE": true,
	"UPDATE": true, "DELETE": true, "USE": true, "SET": true, "BEGIN": true,
	"START": true, "COMMIT": true, "ROLLBACK": true, "TRUNCATE": true,
	"STOP": true, "RESUME": true, "KILL": true,
}

// Run executes the statements in text in order on the server, calling fn
// with each result. Results with rows stream from the server while fn
// drains them; cancelling ctx cancels the stream. Located errors are
// *sql.Error with Line/Column relative to text.
func (c *Client) Run(ctx context.Context, text string, fn func(*shell.Result) error) error {
	pieces, rest := shell.Split(text)
	if strings.TrimSpace(rest.Text) != "" {
		pieces = append(pieces, rest)
	}
	for _, p := range pieces {
		if err := c.runOne(ctx, p.Text, fn); err != nil {
			return shift(err, p.Line, p.Column)
		}
	}
	return nil
}

func (c *Client) runOne(ctx context.Context, text string, fn func(*shell.Result) error) error {
	words := firstWords(text, 3)
	first := ""
	if len(words) > 0 {
		first = words[0]
	}
	if updateWords[first] {
		return c.update(ctx, text, words, fn)
	}
	return c.query(ctx, text, words, fn)
}

// update runs a statement without rows and reports its status line.
func (c *Client) update(ctx context.Context, text string, words []string, fn func(*shell.Result) error) error {
	// An update cannot be taken back once it ran in a session that is not
	// ours, so make sure the server still knows ours first.
	if err := c.checkSession(ctx); err != nil {
		return err
	}
	n, hdr, err := c.executeUpdate(c.callCtx(ctx), text)
	if err != nil {
		return c.callError(ctx, err)
	}
	return c.finishStatus(ctx, words, n, hdr, fn)
}

// executeUpdate is flightsql.Client.ExecuteUpdate, except that it reads
// the stream to its end and returns the response headers too: the server
// sends the statement's status line and warnings there (gRPC hands
// headers to call options only once a stream ended, which
// ExecuteUpdate's never does).
func (c *Client) executeUpdate(ctx context.Context, text string) (int64, metadata.MD, error) {
	cmd, err := anypb.New(&pb.CommandStatementUpdate{Query: text})
	if err != nil {
		return 0, nil, err
	}
	b, err := proto.Marshal(cmd)
	if err != nil {
		return 0, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.fc.Client.DoPut(ctx)
	if err != nil {
		return 0, nil, err
	}
	if err := stream.Send(&flight.FlightData{FlightDescriptor: &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: b}}); err != nil && !errors.Is(err, io.EOF) {
		return 0, nil, err
	}
	if err := stream.CloseSend(); err != nil {
		return 0, nil, err
	}
	var n int64
	for {
		res, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, nil, err
		}
		var upd pb.DoPutUpdateResult
		if err := proto.Unmarshal(res.GetAppMetadata(), &upd); err != nil {
			return 0, nil, fmt.Errorf("update result: %w", err)
		}
		n = upd.GetRecordCount()
	}
	hdr, err := stream.Header()
	if err != nil {
		return 0, nil, err
	}
	return n, hdr, nil
}

// finishStatus refreshes the mirrored session state after statements that
// change it, and hands fn the status line and warnings: the server's (md),
// or, from a server that sends none, a status line rebuilt from the
// statement's first words and row count.
func (c *Client) finishStatus(ctx context.Context, words []string, n int64, md metadata.MD, fn func(*shell.Result) error) error {
	if len(words) > 0 && (words[0] == "USE" || words[0] == "SET") {
		if err := c.refresh(ctx); err != nil {
			return err
		}
	}
	st := statusLine(words, n, c.Database())
	if sts := mdValues(md, StatusKey); len(sts) > 0 {
		st = sts[len(sts)-1]
	}
	return fn(&shell.Result{Status: st, Warnings: append(c.takeNotes(), mdValues(md, WarningKey)...)})
}

// checkSession makes sure the server still has our session, adopting and
// restoring a new one if not.
func (c *Client) checkSession(ctx context.Context) error {
	id, err := c.ping(ctx)
	if err != nil {
		return c.callError(ctx, err)
	}
	_, err = c.adopt(ctx, id)
	return err
}

// query runs a statement through GetFlightInfo and streams its rows.
func (c *Client) query(ctx context.Context, text string, words []string, fn func(*shell.Result) error) error {
	var hdr, trl metadata.MD
	info, err := c.fc.Execute(c.callCtx(ctx), text, grpc.Header(&hdr), grpc.Trailer(&trl))
	// A query that ran in a fresh session (the server lost ours) ran in
	// the wrong database, and may have failed for it: drop it, restore
	// the session and run it again. A failed call may carry the session
	// in its trailers only.
	if adopted, aerr := c.adopt(ctx, newSession(metadata.Join(hdr, trl))); adopted {
		if err == nil {
			c.cancelInfo(info)
		}
		if aerr != nil {
			return aerr
		}
		info, err = c.fc.Execute(c.callCtx(ctx), text)
	}
	if err != nil {
		return c.callError(ctx, err)
	}
	sc, err := flight.DeserializeSchema(info.GetSchema(), c.mem)
	if err != nil {
		c.cancelInfo(info)
		return fmt.Errorf("result schema: %w", err)
	}
	if sc.NumFields() == 0 {
		// No rows: the statement ran. Fetch the (empty) stream so the
		// server can forget the finished statement at once; its trailer
		// has the status line and warnings.
		md, err := c.drainEmpty(ctx, info)
		if err != nil {
			return err
		}
		return c.finishStatus(ctx, words, 0, md, fn)
	}
	rows := newRows(c, info, sc)
	notes := c.takeNotes()
	return fn(&shell.Result{Schema: rows.Schema(), Rows: rows, Close: rows.Close, Warnings: notes,
		RunWarnings: func() []string { return append(append([]string(nil), notes...), rows.warnings()...) }})
}

func (c *Client) drainEmpty(ctx context.Context, info *flight.FlightInfo) (metadata.MD, error) {
	var all metadata.MD
	for _, ep := range info.GetEndpoint() {
		var trl metadata.MD
		rdr, err := c.fc.DoGet(c.callCtx(ctx), ep.GetTicket(), grpc.Trailer(&trl))
		if err != nil {
			return nil, c.callError(ctx, err)
		}
		for rdr.Next() {
		}
		err = rdr.Err()
		rdr.Release()
		if err != nil {
			return nil, c.callError(ctx, err)
		}
		all = metadata.Join(all, trl)
	}
	return all, nil
}

// callError reports a failed call: the context's own error when the
// caller cancelled (so the shell says "cancelled"), the server's otherwise.
func (c *Client) callError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return remoteError(err)
}

// statusLine rebuilds the status line the engine shows locally for a
// statement without rows ("CREATE TABLE", "INSERT 3", "USE db", "SET"):
// Flight SQL carries only the inserted row count back.
func statusLine(words []string, n int64, db string) string {
	if len(words) == 0 {
		return "OK"
	}
	switch words[0] {
	case "INSERT", "REPLACE":
		return fmt.Sprintf("INSERT %d", n)
	case "UPDATE", "DELETE":
		return fmt.Sprintf("%s %d", words[0], n)
	case "USE":
		return "USE " + db
	case "CREATE", "DROP", "ALTER", "STOP", "RESUME":
		obj := ""
		for _, w := range words[1:] {
			if w == "OR" || w == "REPLACE" || w == "TEMPORARY" {
				continue
			}
			obj = w
			break
		}
		if obj == "SCHEMA" {
			obj = "DATABASE"
		}
		if obj == "" {
			return words[0]
		}
		if words[0] == "CREATE" && obj == "TABLE" && n > 0 {
			return fmt.Sprintf("CREATE TABLE %d", n) // CREATE TABLE ... AS SELECT
		}
		return words[0] + " " + obj
	}
	return words[0]
}

// firstWords returns up to n leading words of a statement, upper-cased,
// skipping blanks, comments and opening parentheses.
func firstWords(text string, n int) []string {
	var out []string
	i := 0
	for i < len(text) && len(out) < n {
		ch := text[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '(':
			i++
		case ch == '#' || (ch == '-' && strings.HasPrefix(text[i:], "--")):
			if j := strings.IndexByte(text[i:], '\n'); j >= 0 {
				i += j + 1
			} else {
				i = len(text)
			}
		case ch == '/' && strings.HasPrefix(text[i:], "/*"):
			if j := strings.Index(text[i+2:], "*/"); j >= 0 {
				i += j + 4
			} else {
				i = len(text)
			}
		case isWordByte(ch):
			j := i
			for j < len(text) && isWordByte(text[j]) {
				j++
			}
			out = append(out, strings.ToUpper(text[i:j]))
			i = j
		default:
			// Anything else (a quoted name, an operator) ends the keywords.
			return out
		}
	}
	return out
}

func isWordByte(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}
