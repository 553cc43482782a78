package flightclient

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/magnetar-sql/magnetar/exec"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// rows is a query result on the server, read as an exec.Operator: the
// first Next opens the DoGet stream (so the shell can print a header before
// a continuous query's first row), later ones return batches as they
// arrive. Cancelling the context given to Next cancels the stream.
type rows struct {
	c    *Client
	info *flight.FlightInfo
	// schema is the result's schema without the change-kind column, which
	// is column opIdx of the wire schema (-1 when there is none).
	schema *arrow.Schema
	opIdx  int

	ep     int            // next endpoint to read
	rdr    *flight.Reader // current stream
	cancel context.CancelFunc
	done   bool // every endpoint read to its end
	closed bool

	// trailers of the streams read: the server's warnings (WarningKey).
	trl metadata.MD
	// cur receives the trailer of the current stream; gRPC writes it from
	// its own goroutine when a stream is cancelled, so each stream has
	// its own, read only once the stream ended in Next (the reads there
	// are ordered after gRPC's write).
	cur *metadata.MD
}

var _ exec.Operator = (*rows)(nil)

func newRows(c *Client, info *flight.FlightInfo, wire *arrow.Schema) *rows {
	r := &rows{c: c, info: info, schema: wire, opIdx: -1}
	if i := opColumnIndex(wire); i >= 0 {
		r.opIdx = i
		fields := wire.Fields()
		md := wire.Metadata()
		r.schema = arrow.NewSchema(fields[:i], &md)
	}
	return r
}

// opColumnIndex finds the change-kind column the server appends to
// updating results: the last column, a non-null string named __op.
func opColumnIndex(sc *arrow.Schema) int {
	n := sc.NumFields()
	if n < 2 {
		return -1
	}
	f := sc.Field(n - 1)
	if f.Name != OpColumn || f.Nullable || f.Type.ID() != arrow.STRING {
		return -1
	}
	return n - 1
}

// Schema is the result's schema as the shell shows it (no __op).
func (r *rows) Schema() *arrow.Schema { return r.schema }

// Open does nothing: the statement already runs on the server.
func (r *rows) Open(context.Context) error { return nil }

// Children is empty: the plan is on the server.
func (r *rows) Children() []exec.Operator { return nil }

func (r *rows) String() string { return "RemoteResult(" + r.c.addr + ")" }

// Next returns the next batch from the server, or the end of data.
func (r *rows) Next(ctx context.Context) (exec.Message, error) {
	if r.closed {
		return exec.Message{}, fmt.Errorf("remote result: Next after Close")
	}
	for {
		if err := ctx.Err(); err != nil {
			return exec.Message{}, err
		}
		if r.rdr == nil {
			eps := r.info.GetEndpoint()
			if r.ep >= len(eps) {
				r.done = true
				return exec.EndMsg, nil
			}
			sctx, cancel := context.WithCancel(ctx)
			r.cur = new(metadata.MD)
			rdr, err := r.c.fc.DoGet(r.c.callCtx(sctx), eps[r.ep].GetTicket(), grpc.Trailer(r.cur))
			r.ep++
			if err != nil {
				cancel()
				return exec.Message{}, r.c.callError(ctx, err)
			}
			r.rdr, r.cancel = rdr, cancel
		}
		if r.rdr.Next() {
			rec := r.rdr.RecordBatch()
			if rec.NumRows() == 0 {
				continue
			}
			return r.message(rec)
		}
		err := r.rdr.Err()
		r.endStream(true)
		if err != nil {
			return exec.Message{}, r.c.callError(ctx, err)
		}
	}
}

// message turns a batch read from the stream (owned by the reader) into
// a message the caller owns, moving change kinds into Ops.
func (r *rows) message(rec arrow.RecordBatch) (exec.Message, error) {
	if r.opIdx < 0 {
		rec.Retain()
		return exec.BatchMsg(rec, nil), nil
	}
	col, ok := rec.Column(r.opIdx).(*array.String)
	if !ok {
		return exec.Message{}, fmt.Errorf("remote result: %s column is %s, want VARCHAR", OpColumn, rec.Column(r.opIdx).DataType())
	}
	n := int(rec.NumRows())
	ops := make([]exec.ChangeKind, n)
	appendOnly := true
	for i := 0; i < n; i++ {
		k, ok := changeKind(col.Value(i))
		if !ok || col.IsNull(i) {
			return exec.Message{}, fmt.Errorf("remote result: unknown change kind %q in row %d", col.Value(i), i)
		}
		ops[i] = k
		appendOnly = appendOnly && k == exec.Insert
	}
	if appendOnly {
		ops = nil
	}
	out := array.NewRecordBatch(r.schema, rec.Columns()[:r.opIdx], int64(n))
	return exec.BatchMsg(out, ops), nil
}

func changeKind(s string) (exec.ChangeKind, bool) {
	switch s {
	case "+I":
		return exec.Insert, true
	case "-D":
		return exec.Delete, true
	case "-U":
		return exec.UpdateBefore, true
	case "+U":
		return exec.UpdateAfter, true
	}
	return 0, false
}

// warnings are the warnings the server sent in the trailers of the
// streams read to their end.
func (r *rows) warnings() []string { return mdValues(r.trl, WarningKey) }

// endStream releases the current stream; ended says it was read to its
// end or failed, when its trailer is complete (a stream closed before
// has none worth reading, and gRPC may still be writing it).
func (r *rows) endStream(ended bool) {
	if r.rdr != nil {
		r.rdr.Release()
		r.rdr = nil
		if ended {
			r.trl = metadata.Join(r.trl, *r.cur)
		}
		r.cur = nil
	}
	if r.cancel != nil {
		r.cancel()
		r.cancel = nil
	}
}

// Close stops the stream (which stops the query on the server) and, for a
// result never fetched, asks the server to drop it.
func (r *rows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	neverFetched := r.rdr == nil && r.ep == 0 && !r.done
	r.endStream(false)
	if neverFetched {
		r.c.cancelInfo(r.info)
	}
	return nil
}

// cancelInfo asks the server to drop a parked result; failures only mean
// the server forgets it later by itself.
func (c *Client) cancelInfo(info *flight.FlightInfo) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _ = c.fc.CancelFlightInfo(c.callCtx(ctx), &flight.CancelFlightInfoRequest{Info: info})
}
