package flightserver

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/magnetar-sql/magnetar/engine"
	"github.com/magnetar-sql/magnetar/sql"
	"google.golang.org/grpc/metadata"
)

// Metadata keys carrying what a statement reports besides rows. Values are
// UTF-8 text, percent-encoded like grpc-message (bytes outside printable
// ASCII and '%' as %XX), one value per status or warning, in order.
const (
	// StatusKey holds the status line of each statement without rows
	// ("CREATE TABLE", "INSERT 3", "USE db", "JOB q1 STARTED ...").
	StatusKey = "x-magnetar-status"
	// WarningKey holds each warning: known before the statement ran, or
	// only once its rows were read (late rows dropped, undecodable
	// messages skipped).
	WarningKey = "x-magnetar-warning"
)

// outcome is what statements report besides rows.
type outcome struct {
	statuses []string
	warnings []string
}

// add notes a result's status and warnings; call it once its rows are
// read (AllWarnings then includes the ones found while reading).
func (o *outcome) add(r *engine.Result) {
	if r.Rows == nil && r.Status != "" {
		o.statuses = append(o.statuses, r.Status)
	}
	o.warnings = append(o.warnings, r.AllWarnings()...)
}

// Size bounds of the metadata: HTTP/2 peers limit the size of a header
// list (grpc-java, hence the JDBC driver, to 8 KiB by default, counting
// name, value and 32 bytes per entry), and a header block over the limit
// fails the whole call (RST_STREAM) after the statements have run. A
// script of a thousand INSERTs must not do that, so each key gets a
// budget, values past it are replaced by one "(N more not shown)", and a
// value longer than mdValueMax is cut.
const (
	mdValueMax      = 1 << 10
	mdStatusBudget  = 1536
	mdWarningBudget = 2560
	mdEntryOverhead = 32 // per entry, as HTTP/2 counts header list size
)

// md is the outcome as gRPC metadata (nil when empty).
func (o *outcome) md() metadata.MD {
	if len(o.statuses) == 0 && len(o.warnings) == 0 {
		return nil
	}
	md := metadata.MD{}
	appendBounded(md, StatusKey, o.statuses, mdStatusBudget)
	appendBounded(md, WarningKey, o.warnings, mdWarningBudget)
	return md
}

// appendBounded appends vals, escaped, under key while they fit in budget
// bytes; when they do not all fit, a note of how many were left out comes
// before the last value, which is always kept (clients show the last
// status as the outcome of a script).
func appendBounded(md metadata.MD, key string, vals []string, budget int) {
	const noteRoom = 64 // "(N more not shown)" and its entry
	esc := make([]string, len(vals))
	total := 0
	for i, v := range vals {
		esc[i] = escapeCut(v, mdValueMax)
		total += len(key) + len(esc[i]) + mdEntryOverhead
	}
	if total <= budget {
		md.Append(key, esc...)
		return
	}
	last := len(esc) - 1
	room := budget - noteRoom - (len(key) + len(esc[last]) + mdEntryOverhead)
	used, i := 0, 0
	for ; i < last; i++ {
		cost := len(key) + len(esc[i]) + mdEntryOverhead
		if used+cost > room {
			break
		}
		md.Append(key, esc[i])
		used += cost
	}
	md.Append(key, fmt.Sprintf("(%d more not shown)", last-i), esc[last])
}

// escapeCut is escapeMD(s) cut to at most max bytes, at a character
// boundary, with "..." marking the cut.
func escapeCut(s string, max int) string {
	e := escapeMD(s)
	if len(e) <= max {
		return e
	}
	n, cut := 0, 0 // escaped length of s[:cut]
	for cut < len(s) {
		_, size := utf8.DecodeRuneInString(s[cut:])
		w := len(escapeMD(s[cut : cut+size]))
		if n+w > max-3 {
			break
		}
		n += w
		cut += size
	}
	return escapeMD(s[:cut]) + "..."
}

// escapeMD percent-encodes what may not appear in an HTTP/2 header value.
func escapeMD(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// trailerBox carries a DoGet's trailer from the goroutine streaming the
// result to the handler, which sets it on the stream.
type trailerBox struct {
	mu sync.Mutex
	md metadata.MD
}

type trailerKey struct{}

func withTrailerBox(ctx context.Context) (context.Context, *trailerBox) {
	b := &trailerBox{}
	return context.WithValue(ctx, trailerKey{}, b), b
}

func (b *trailerBox) set(md metadata.MD) {
	b.mu.Lock()
	b.md = md
	b.mu.Unlock()
}

func (b *trailerBox) get() metadata.MD {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.md
}

// setTrailer hands md to the DoGet handler of ctx, if any.
func setTrailer(ctx context.Context, md metadata.MD) {
	if b, ok := ctx.Value(trailerKey{}).(*trailerBox); ok {
		b.set(md)
	}
}

// checkScript refuses a text of several statements in which one but the
// last returns rows: a query result has one stream, and discarding the
// rows of earlier queries (or running a continuous query that never ends
// before the others) would surprise every client. Statements without rows
// before the last one are run in order, so "CREATE ...; INSERT ...;
// SELECT ..." works as a script. Texts that do not parse are left to the
// engine, which reports the syntax error.
func checkScript(text string) error {
	if !strings.Contains(text, ";") {
		return nil // one statement: nothing to check, no second parse
	}
	stmts, err := sql.Parse(text)
	if err != nil || len(stmts) < 2 {
		return nil
	}
	for i, st := range stmts[:len(stmts)-1] {
		if isQuery(st.Node) {
			return &sql.Error{
				Msg: fmt.Sprintf("statement %d of %d returns rows: in a text of several statements only the last one may (send queries one at a time)",
					i+1, len(stmts)),
				Line: st.Line, Column: st.Column,
			}
		}
	}
	return nil
}
