package flightserver

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/flightclient"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

const wireRows = 200_000

// addWireTable stores one batch of wireRows rows (about 6 MiB, so the
// server cuts it into slices, whose string offsets the IPC writer rebases
// in new buffers while the other buffers go by reference).
func addWireTable(t *testing.T, ts *testServer) {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	bld := array.NewRecordBuilder(ts.mem, sc)
	defer bld.Release()
	for i := 0; i < wireRows; i++ {
		bld.Field(0).(*array.Int64Builder).Append(int64(i))
		if i%7 == 0 {
			bld.Field(1).AppendNull()
		} else {
			bld.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("n%d", i))
		}
		if i%5 == 0 {
			bld.Field(2).AppendNull()
		} else {
			bld.Field(2).(*array.Float64Builder).Append(float64(i) / 4)
		}
	}
	rec := bld.NewRecordBatch()
	defer rec.Release()
	if err := ts.cat.AddTable("default", catalog.TableDef{Name: "wide", Schema: sc}, []arrow.RecordBatch{rec}); err != nil {
		t.Fatal(err)
	}
}

// checkWireRows reads a query's whole result and checks every value.
func checkWireRows(t *testing.T, ctx context.Context, cl *flightsql.Client, q string, keep func(int) bool) {
	t.Helper()
	info, err := cl.Execute(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := cl.DoGet(ctx, info.Endpoint[0].Ticket)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	next, batches := 0, 0
	for rdr.Next() {
		rec := rdr.RecordBatch()
		batches++
		ids := rec.Column(0).(*array.Int64)
		names := rec.Column(1).(*array.String)
		scores := rec.Column(2).(*array.Float64)
		for r := 0; r < int(rec.NumRows()); r++ {
			for !keep(next) {
				next++
			}
			i := next
			next++
			if ids.Value(r) != int64(i) {
				t.Fatalf("row %d: id %d", i, ids.Value(r))
			}
			if (i%7 == 0) != names.IsNull(r) || (i%7 != 0 && names.Value(r) != fmt.Sprintf("n%d", i)) {
				t.Fatalf("row %d: name %q null %v", i, names.Value(r), names.IsNull(r))
			}
			if (i%5 == 0) != scores.IsNull(r) || (i%5 != 0 && scores.Value(r) != float64(i)/4) {
				t.Fatalf("row %d: score %v null %v", i, scores.Value(r), scores.IsNull(r))
			}
		}
	}
	if err := rdr.Err(); err != nil {
		t.Fatal(err)
	}
	for next < wireRows && !keep(next) {
		next++
	}
	if next != wireRows {
		t.Errorf("%s: read up to row %d of %d", q, next, wireRows)
	}
	if batches < 2 {
		t.Errorf("%s: %d batches, want the big batch cut into several", q, batches)
	}
}

// TestWireLargeBatches reads large batches (sent partly by reference)
// with gRPC's default codec and with flightclient's, in full and
// filtered, and abandons a stream half-way; the server's allocator must be
// back to zero at the end (checked by startServer), so the references
// gRPC held on written batches were all dropped.
func TestWireLargeBatches(t *testing.T) {
	ts := startServer(t, nil)
	addWireTable(t, ts)
	ctx := tctx(t)
	for _, c := range []struct {
		name string
		opts []grpc.DialOption
	}{{"default", nil}, {"transport-options", flightclient.TransportOptions()}} {
		t.Run(c.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			opts := append(append([]grpc.DialOption(nil), c.opts...), grpc.WithTransportCredentials(insecure.NewCredentials()))
			cl, err := flightsql.NewClient(ts.addr, nil, nil, opts...)
			if err != nil {
				t.Fatal(err)
			}
			cl.Alloc = mem
			defer func() {
				cl.Close()
				mem.AssertSize(t, 0)
			}()
			checkWireRows(t, ctx, cl, "SELECT id, name, score FROM wide", func(int) bool { return true })
			checkWireRows(t, ctx, cl, "SELECT id, name, score FROM wide WHERE id % 3 <> 1",
				func(i int) bool { return i%3 != 1 })

			// One batch read, then the stream is cancelled.
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
		})
	}
}

// captureStream records what a payload writer sends.
type captureStream struct {
	grpc.ServerStream
	sent []mem.BufferSlice
}

func (c *captureStream) SendMsg(m any) error {
	bs, err := newWireCodec().Marshal(m)
	if err != nil {
		return err
	}
	c.sent = append(c.sent, bs)
	return nil
}

// flightCapture records what arrow's Flight writer sends.
type flightCapture struct{ sent [][]byte }

func (c *flightCapture) Send(fd *flight.FlightData) error {
	b, err := proto.Marshal(fd)
	c.sent = append(c.sent, b)
	return err
}

// The zero-copy writer sends the bytes arrow's Flight writer sends, with
// the batch's large buffers by reference, and holds the batch until gRPC
// frees them.
func TestWirePayloadWriterMatchesArrow(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	bld := array.NewRecordBuilder(alloc, sc)
	for i := 0; i < 50_000; i++ {
		bld.Field(0).(*array.Int64Builder).Append(int64(i))
		if i%3 == 0 {
			bld.Field(1).AppendNull()
		} else {
			bld.Field(1).(*array.StringBuilder).Append(fmt.Sprint(i))
		}
	}
	full := bld.NewRecordBatch()
	bld.Release()
	// A slice too: its string offsets are rebased in new buffers, copied.
	sliced := full.NewSlice(1000, 40_000)

	var want flightCapture
	aw := flight.NewRecordWriter(&want, ipc.WithSchema(sc), ipc.WithAllocator(alloc))
	cs := &captureStream{}
	pw := newWirePayloadWriter(cs)
	zw := ipc.NewWriterWithPayloadWriter(pw, ipc.WithSchema(sc), ipc.WithAllocator(alloc))
	for _, rec := range []arrow.RecordBatch{full, sliced} {
		if err := aw.Write(rec); err != nil {
			t.Fatal(err)
		}
		if err := pw.Write(zw, rec); err != nil {
			t.Fatal(err)
		}
	}
	aw.Close()
	zw.Close()

	if len(cs.sent) != len(want.sent) {
		t.Fatalf("%d messages, arrow's writer sent %d", len(cs.sent), len(want.sent))
	}
	idData := full.Column(0).Data().Buffers()[1].Bytes()
	byRef := 0
	for i, bs := range cs.sent {
		if got := bs.Materialize(); !bytes.Equal(got, want.sent[i]) {
			t.Errorf("message %d: %d bytes differ from arrow's %d", i, len(got), len(want.sent[i]))
		}
		for _, b := range bs {
			d := b.ReadOnlyData()
			if len(d) > 0 && &d[0] == &idData[0] || len(d) > 0 && &d[0] == &idData[8000] {
				byRef++
			}
		}
	}
	if byRef != 2 {
		t.Errorf("%d messages sent the id buffer by reference, want 2 (whole and sliced batch)", byRef)
	}
	full.Release()
	sliced.Release()
	if alloc.CurrentAlloc() == 0 {
		t.Error("batches released while gRPC still holds their buffers")
	}
	for _, bs := range cs.sent {
		bs.Free()
	}
	pw.finish(context.Background())
}
