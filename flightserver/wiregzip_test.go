package flightserver

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
)

// A client that compresses its calls gets compressed responses: gRPC
// compresses the buffers sent by reference before queueing the message
// and frees them at once. Rows must be intact, streams abandoned
// half-way must release their batches, and the allocator must end at
// zero (startServer).
func TestWireLargeBatchesCompressed(t *testing.T) {
	ts := startServer(t, nil)
	addWireTable(t, ts)
	ctx := tctx(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cl, err := flightsql.NewClient(ts.addr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.UseCompressor(gzip.Name)))
	if err != nil {
		t.Fatal(err)
	}
	cl.Alloc = mem
	defer func() {
		cl.Close()
		mem.AssertSize(t, 0)
	}()
	checkWireRows(t, ctx, cl, "SELECT id, name, score FROM wide", func(int) bool { return true })

	sctx, cancel := context.WithCancel(ctx)
	info, err := cl.Execute(sctx, "SELECT id, name, score FROM wide")
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := cl.DoGet(sctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	if !rdr.Next() {
		t.Fatalf("no batch: %v", rdr.Err())
	}
	cancel()
	for rdr.Next() {
	}
	rdr.Release()
	eventually(t, "the abandoned query to end", func() bool { return ts.RunningQueries() == 0 })
}
