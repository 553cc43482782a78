package flightserver

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	pb "github.com/apache/arrow-go/v18/arrow/flight/gen/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// flightService is the Flight service of the server: arrow's Flight SQL
// router, except that DoGet of query results is written here. The router
// drops (never releases) the batch it was writing when the client goes
// away mid-stream, which leaks one batch per cancelled stream; continuous
// queries always end that way.
type flightService struct {
	flight.FlightServer
	s *Server
}

// DoGet streams statement and prepared-statement results itself and
// leaves metadata commands to the router.
func (f *flightService) DoGet(tkt *flight.Ticket, stream flight.FlightService_DoGetServer) error {
	var a anypb.Any
	if err := proto.Unmarshal(tkt.GetTicket(), &a); err != nil {
		return f.FlightServer.DoGet(tkt, stream)
	}
	msg, err := a.UnmarshalNew()
	if err != nil {
		return f.FlightServer.DoGet(tkt, stream)
	}
	// The statuses and warnings of the statement go in the trailer, set
	// last (after the producer is drained), whether the stream ends well
	// or not.
	ctx, box := withTrailerBox(stream.Context())
	defer func() {
		if md := box.get(); md.Len() > 0 {
			stream.SetTrailer(md)
		}
	}()
	// Ending the handler for any reason stops the producer, before the
	// batches still queued are drained.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		sc *arrow.Schema
		ch <-chan flight.StreamChunk
	)
	switch cmd := msg.(type) {
	case *pb.TicketStatementQuery:
		sc, ch, err = f.s.DoGetStatement(ctx, cmd)
	case *pb.CommandPreparedStatementQuery:
		sc, ch, err = f.s.DoGetPreparedStatement(ctx, cmd)
	default:
		return f.FlightServer.DoGet(tkt, stream)
	}
	if err != nil {
		return err
	}
	// The producer closes ch once ctx ends, so draining terminates; every
	// batch is released whatever happens.
	defer func() {
		cancel()
		for c := range ch {
			if c.Data != nil {
				c.Data.Release()
			}
		}
	}()
	write, closeWriter := f.writer(stream, sc)
	// Closing sends the schema of a result without batches, and waits
	// for gRPC to be done with batches sent by reference.
	defer closeWriter()
	for c := range ch {
		if c.Err != nil {
			if c.Data != nil {
				c.Data.Release()
			}
			return c.Err
		}
		err := write(c.Data)
		c.Data.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// writer returns the function writing result batches on a DoGet stream:
// the zero-copy writer of wire.go, or arrow's Flight writer when the
// server was told to use it (benchmarks compare the two).
func (f *flightService) writer(stream flight.FlightService_DoGetServer, sc *arrow.Schema) (write func(arrow.RecordBatch) error, closeWriter func() error) {
	if f.s.arrowWriter {
		wr := flight.NewRecordWriter(stream, ipc.WithSchema(sc), ipc.WithAllocator(f.s.mem))
		return wr.Write, wr.Close
	}
	pw := newWirePayloadWriter(stream)
	wr := ipc.NewWriterWithPayloadWriter(pw, ipc.WithSchema(sc), ipc.WithAllocator(f.s.mem))
	return func(rec arrow.RecordBatch) error { return pw.Write(wr, rec) }, func() error {
		err := wr.Close()
		pw.finish(stream.Context())
		return err
	}
}
