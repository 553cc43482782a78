package flightserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/util"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/engine"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/sql"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// OpColumn is the name of the change-kind column of updating results.
const OpColumn = "__op"

// query is one statement's result between GetFlightInfo and the end of its
// DoGet stream. The engine closes a result as soon as the callback given to
// Session.Run returns, so the goroutine running the statement waits inside
// that callback until the stream is over (released) or the query cancelled.
type query struct {
	id      string
	user    string
	created time.Time

	ctx    context.Context // cancelled when the query ends for any reason
	cancel context.CancelCauseFunc

	res *engine.Result // nil for statements without rows
	// out collects the statuses and warnings of the statements run, sent
	// in the trailer of the DoGet (written by the statement's goroutine
	// before the result is parked, then by the streaming goroutine).
	out      outcome
	schema   *arrow.Schema // wire schema (with __op when updating)
	updating bool

	// noRows marks a finished statement without rows kept for its ticket.
	noRows bool

	mu      sync.Mutex
	claimed bool // a DoGet took the stream
	closing bool // cancelled before any DoGet: the result is being closed

	release  chan struct{} // closed when the stream is done with res
	relOnce  sync.Once
	finished chan struct{} // closed when Run returned (res closed)
	runErr   error         // Run's error, valid after finished
}

func (q *query) done() { q.relOnce.Do(func() { close(q.release) }) }

// claim marks the query as being streamed; only one DoGet may.
func (q *query) claim() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.claimed || q.closing {
		return false
	}
	q.claimed = true
	return true
}

type queryRegistry struct {
	mu   sync.Mutex
	byID map[string]*query
	wg   sync.WaitGroup
}

func newQueryRegistry() *queryRegistry { return &queryRegistry{byID: map[string]*query{}} }

func (r *queryRegistry) add(q *query) {
	r.mu.Lock()
	r.byID[q.id] = q
	r.mu.Unlock()
}

func (r *queryRegistry) get(id string) *query {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byID[id]
}

func (r *queryRegistry) remove(q *query) {
	r.mu.Lock()
	if r.byID[q.id] == q {
		delete(r.byID, q.id)
	}
	r.mu.Unlock()
}

func (r *queryRegistry) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byID)
}

func (r *queryRegistry) expired(now time.Time, ttl time.Duration) []*query {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*query
	for _, q := range r.byID {
		q.mu.Lock()
		unclaimed := !q.claimed
		q.mu.Unlock()
		if unclaimed && now.Sub(q.created) > ttl {
			out = append(out, q)
		}
	}
	return out
}

func (r *queryRegistry) cancelAll() {
	r.mu.Lock()
	qs := make([]*query, 0, len(r.byID))
	for _, q := range r.byID {
		qs = append(qs, q)
	}
	r.mu.Unlock()
	for _, q := range qs {
		q.cancel(errors.New("server shutting down"))
	}
}

func (r *queryRegistry) wait() { r.wg.Wait() }

// startQuery runs text in the client's session until its result with rows
// (the last statement, see checkScript) is open, and parks that result.
// Statements without rows before it are executed; if there is no result
// with rows the query has res == nil and is already finished.
func (s *Server) startQuery(ctx context.Context, cs *clientSession, text string) (*query, error) {
	if err := checkScript(text); err != nil {
		return nil, err
	}
	qctx, cancel := context.WithCancelCause(context.Background())
	q := &query{
		id: newID(), user: cs.user, created: time.Now(),
		ctx: qctx, cancel: cancel,
		release:  make(chan struct{}),
		finished: make(chan struct{}),
	}
	ready := make(chan struct{})
	var readyOnce sync.Once
	signal := func() { readyOnce.Do(func() { close(ready) }) }

	s.queries.wg.Add(1)
	s.queries.add(q)
	go func() {
		defer s.queries.wg.Done()
		defer s.queries.remove(q)
		defer close(q.finished)
		defer cancel(nil)
		cs.mu.Lock()
		locked := true
		err := cs.sess.Run(qctx, text, func(r *engine.Result) error {
			if r.Rows == nil {
				q.out.add(r)
				return nil
			}
			if q.res != nil {
				// checkScript lets only the last statement return rows.
				return &sql.Error{Msg: "only the last statement of a text may return rows", Line: r.Statement.Line, Column: r.Statement.Column}
			}
			q.res = r
			q.updating = cs.sess.Mode() == catalog.Unbounded && updatingPlan(r.Rows)
			q.schema = wireSchema(r.Schema, q.updating)
			signal()
			// Other statements of this session may run while the rows
			// stream: pulling them does not touch session state.
			cs.mu.Unlock()
			locked = false
			select {
			case <-q.release:
			case <-qctx.Done():
				// The engine closes the result when we return: a stream
				// still pulling must stop first (its context derives
				// from qctx, so it does promptly).
				q.mu.Lock()
				claimed := q.claimed
				q.closing = !claimed
				q.mu.Unlock()
				if claimed {
					<-q.release
				}
			}
			cs.mu.Lock()
			locked = true
			return nil
		})
		if locked {
			cs.mu.Unlock()
		}
		q.runErr = err
		signal()
	}()

	select {
	case <-ready:
	case <-ctx.Done():
		q.cancel(context.Cause(ctx))
		<-q.finished
		return nil, ctx.Err()
	}
	if q.res == nil {
		<-q.finished
		if q.runErr != nil {
			return nil, q.runErr
		}
		// Nothing to stream, but the client will still ask for the
		// ticket: keep the finished query until then.
		q.schema = arrow.NewSchema(nil, nil)
		q.noRows = true
		s.queries.add(q)
	}
	return q, nil
}

// updatingPlan reports whether an operator tree may emit retractions when
// its sources are unbounded. The engine does not say so in its Result, so
// the tree is inspected: grouped aggregation, sorts, top-N and windows
// revise what they emitted; scans, filters, projections, unions and
// limits over append-only input do not.
func updatingPlan(op exec.Operator) bool {
	switch op.(type) {
	case *exec.HashAggregate, *exec.Sort:
		return true
	}
	name := op.String()
	for _, p := range []string{"TopN", "Window", "HashAggregate", "Sort"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	for _, c := range op.Children() {
		if c != nil && updatingPlan(c) {
			return true
		}
	}
	return false
}

// wireSchema is the schema sent to clients: the result's, plus __op for
// updating results.
func wireSchema(sc *arrow.Schema, updating bool) *arrow.Schema {
	if !updating {
		return sc
	}
	fields := append(append([]arrow.Field(nil), sc.Fields()...),
		arrow.Field{Name: OpColumn, Type: arrow.BinaryTypes.String})
	md := sc.Metadata()
	return arrow.NewSchema(fields, &md)
}

// stream pulls the query's rows into a channel of chunks until the end of
// data, an error, the client going away (ctx) or a cancellation of the
// query. The query is released (and its result closed) when it stops.
func (s *Server) stream(ctx context.Context, q *query) <-chan flight.StreamChunk {
	ch := make(chan flight.StreamChunk, 8)
	pctx, stop := context.WithCancel(q.ctx)
	unhook := context.AfterFunc(ctx, stop)
	go func() {
		defer close(ch)
		defer q.done()
		// The trailer is complete before the result is released: its
		// warnings include those found while reading the rows.
		defer func() {
			if q.res != nil {
				q.out.add(q.res)
			}
			setTrailer(ctx, q.out.md())
		}()
		defer func() {
			if q.res == nil {
				s.queries.remove(q)
			}
		}()
		defer stop()
		defer unhook()
		if q.res == nil {
			return
		}
		send := func(c flight.StreamChunk) bool {
			select {
			case ch <- c:
				return true
			case <-pctx.Done():
				if c.Data != nil {
					c.Data.Release()
				}
				return false
			}
		}
		for {
			msg, err := q.res.Rows.Next(pctx)
			if err != nil {
				if pctx.Err() == nil {
					send(flight.StreamChunk{Err: toStatus(fmt.Errorf("query: %w", err))})
				} else if cause := context.Cause(q.ctx); cause != nil && ctx.Err() == nil {
					// Cancelled by the server (CancelFlightInfo, shutdown):
					// tell the client why rather than cutting the stream.
					select {
					case ch <- flight.StreamChunk{Err: status.Errorf(codes.Canceled, "query cancelled: %s", cause)}:
					case <-ctx.Done():
					}
				}
				return
			}
			switch msg.Kind {
			case exec.MsgEnd:
				return
			case exec.MsgBatch:
				rec := msg.Batch.Rec
				if rec.NumRows() == 0 {
					rec.Release()
					continue
				}
				if q.updating {
					rec = withOps(s.mem, q.schema, msg.Batch)
				} else if rec, err = conform(rec, q.schema); err != nil {
					send(flight.StreamChunk{Err: status.Error(codes.Internal, err.Error())})
					return
				}
				parts := split(rec)
				for i, part := range parts {
					if !send(flight.StreamChunk{Data: part}) {
						for _, p := range parts[i+1:] {
							p.Release()
						}
						return
					}
				}
			default:
				// Watermarks and barriers stay inside the server.
			}
		}
	}()
	return ch
}

// maxChunkBytes bounds the size of one streamed batch: gRPC clients refuse
// messages over 4 MiB by default (Go and Java alike), and memory tables or
// operators can hold much larger batches.
const maxChunkBytes = 2 << 20

// split cuts a large batch into zero-copy slices of at most about
// maxChunkBytes each; ownership of rec passes to the returned slices.
func split(rec arrow.RecordBatch) []arrow.RecordBatch {
	size := util.TotalRecordSize(rec)
	rows := rec.NumRows()
	if size <= maxChunkBytes || rows < 2 {
		return []arrow.RecordBatch{rec}
	}
	parts := (size + maxChunkBytes - 1) / maxChunkBytes
	per := (rows + parts - 1) / parts
	out := make([]arrow.RecordBatch, 0, parts)
	for off := int64(0); off < rows; off += per {
		end := min(off+per, rows)
		out = append(out, rec.NewSlice(off, end))
	}
	rec.Release()
	return out
}

// conform gives a batch the schema announced to the client. Operators may
// return batches whose schema differs from the planned one in nullability
// or metadata only, which the IPC writer would reject.
func conform(rec arrow.RecordBatch, sc *arrow.Schema) (arrow.RecordBatch, error) {
	if rec.Schema() == sc || rec.Schema().Equal(sc) {
		return rec, nil
	}
	if int(rec.NumCols()) != sc.NumFields() {
		rec.Release()
		return nil, fmt.Errorf("internal error: batch has %d columns, result schema %d", rec.NumCols(), sc.NumFields())
	}
	for i, f := range sc.Fields() {
		if !arrow.TypeEqual(f.Type, rec.Column(i).DataType()) {
			err := fmt.Errorf("internal error: column %s is %s in a batch, %s in the result schema", f.Name, rec.Column(i).DataType(), f.Type)
			rec.Release()
			return nil, err
		}
	}
	out := array.NewRecordBatch(sc, rec.Columns(), rec.NumRows())
	rec.Release()
	return out, nil
}

// withOps appends the __op column to a batch, releasing the input record.
func withOps(mem memory.Allocator, sc *arrow.Schema, b exec.Batch) arrow.RecordBatch {
	n := int(b.Rec.NumRows())
	bld := array.NewStringBuilder(mem)
	defer bld.Release()
	bld.Reserve(n)
	bld.ReserveData(2 * n)
	for i := 0; i < n; i++ {
		bld.Append(b.Op(i).String())
	}
	ops := bld.NewArray()
	defer ops.Release()
	cols := append(append([]arrow.Array(nil), b.Rec.Columns()...), ops)
	out := array.NewRecordBatch(sc, cols, int64(n))
	b.Rec.Release()
	return out
}
