package flightserver

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/stats"
)

// sendBigBatch writes one batch whose id buffer (80 KB) goes by reference
// and returns what the stream was given.
func sendBigBatch(t *testing.T, alloc memory.Allocator) (*wirePayloadWriter, []mem.BufferSlice) {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
	bld := array.NewRecordBuilder(alloc, sc)
	defer bld.Release()
	for i := range 10_000 {
		bld.Field(0).(*array.Int64Builder).Append(int64(i))
	}
	rec := bld.NewRecordBatch()
	defer rec.Release()
	cs := &captureStream{}
	pw := newWirePayloadWriter(cs)
	zw := ipc.NewWriterWithPayloadWriter(pw, ipc.WithSchema(sc), ipc.WithAllocator(alloc))
	if err := pw.Write(zw, rec); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if len(pw.live) == 0 {
		t.Fatal("nothing sent by reference")
	}
	return pw, cs.sent
}

// A stream reset by the client ends the stream's context at once, but
// gRPC's writer goroutine may still copy queued buffers to the socket
// until it handles the reset (longer when the socket is slow): the batch
// must stay allocated until gRPC frees the buffers, however long that
// takes after the context ended.
func TestWireBatchHeldAfterCancelUntilFreed(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	pw, sent := sendBigBatch(t, alloc)

	ctx, cancel := context.WithCancel(connStats{}.TagConn(context.Background(), nil))
	finished := make(chan struct{})
	go func() {
		pw.finish(ctx)
		close(finished)
	}()
	cancel()
	// Longer than the grace period finish used to give gRPC.
	time.Sleep(500 * time.Millisecond)
	select {
	case <-finished:
		t.Fatal("finish returned while gRPC still holds buffers of a live connection")
	default:
	}
	if alloc.CurrentAlloc() == 0 {
		t.Fatal("batch released while gRPC still holds its buffers")
	}
	for _, bs := range sent {
		bs.Free()
	}
	<-finished
}

// When the connection is gone, gRPC's writer has exited without freeing
// the buffers it had queued: finish releases the batch then.
func TestWireBatchReleasedWhenConnectionEnds(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	pw, sent := sendBigBatch(t, alloc)

	cctx := connStats{}.TagConn(context.Background(), nil)
	ctx, cancel := context.WithCancel(cctx)
	finished := make(chan struct{})
	go func() {
		pw.finish(ctx)
		close(finished)
	}()
	cancel()
	connStats{}.HandleConn(cctx, &stats.ConnEnd{})
	<-finished
	if n := alloc.CurrentAlloc(); n != 0 {
		t.Errorf("%d bytes still allocated", n)
	}
	// Buffers gRPC would never free: freeing them now changes nothing.
	for _, bs := range sent {
		bs.Free()
	}
}
