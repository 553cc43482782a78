package flightserver

import (
	"context"
	"sync"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the "proto" codec wireCodec wraps
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/stats"
	"google.golang.org/protobuf/encoding/protowire"
)

// Result batches go to the client without the three copies arrow's Flight
// writer makes (IPC body into a bytes.Buffer, that into the protobuf
// encoding, that into gRPC's pooled buffer): wirePayloadWriter encodes the
// FlightData message itself as a gRPC buffer slice whose large parts are
// the Arrow buffers of the batch, kept alive by references on the batch
// that gRPC drops once it has written them to the socket. Only the small
// parts (protobuf tags, IPC metadata, padding, small buffers) are copied.
// The one copy left on the server is gRPC's into its socket write buffer.

// FlightData field numbers (Flight.proto).
const (
	fdDataHeader  protowire.Number = 2
	fdAppMetadata protowire.Number = 3
	fdDataBody    protowire.Number = 1000
)

// rawFlightData is a FlightData message already encoded; wireCodec sends
// its buffers as they are. Ownership of bs passes to gRPC.
type rawFlightData struct{ bs mem.BufferSlice }

// wireCodec is gRPC's protobuf codec, except that it passes rawFlightData
// through.
type wireCodec struct{ proto encoding.CodecV2 }

func newWireCodec() wireCodec { return wireCodec{proto: encoding.GetCodecV2("proto")} }

func (c wireCodec) Marshal(v any) (mem.BufferSlice, error) {
	if r, ok := v.(*rawFlightData); ok {
		bs := r.bs
		r.bs = nil
		return bs, nil
	}
	return c.proto.Marshal(v)
}

func (c wireCodec) Unmarshal(data mem.BufferSlice, v any) error { return c.proto.Unmarshal(data, v) }

// Name is "proto": the messages on the wire are ordinary protobuf.
func (c wireCodec) Name() string { return "proto" }

// zeroCopyMin is the smallest body buffer sent by reference; smaller
// ones are copied (gRPC does not pool, hence never returns, buffers below
// its pooling threshold, and copying a few bytes is cheaper anyway).
const zeroCopyMin = 16 << 10

// wirePayloadWriter is an ipc.PayloadWriter that sends each IPC message as
// one FlightData on a gRPC stream.
type wirePayloadWriter struct {
	stream grpc.ServerStream
	pool   mem.BufferPool

	// rec is the batch being written (nil for the schema message); body
	// buffers inside its memory are sent by reference.
	rec    arrow.RecordBatch
	ranges [][2]uintptr

	parts [][]byte // body slices of the payload being written

	mu   sync.Mutex
	live map[*recordRelease]struct{} // batches gRPC still holds buffers of
	idle chan struct{}               // closed when live empties (finish waits)
}

func newWirePayloadWriter(stream grpc.ServerStream) *wirePayloadWriter {
	return &wirePayloadWriter{stream: stream, pool: mem.DefaultBufferPool(), live: map[*recordRelease]struct{}{}}
}

func (w *wirePayloadWriter) Start() error { return nil }
func (w *wirePayloadWriter) Close() error { return nil }

// Write writes one batch through wr (whose payload writer is w).
func (w *wirePayloadWriter) Write(wr *ipc.Writer, rec arrow.RecordBatch) error {
	w.rec = rec
	w.ranges = w.ranges[:0]
	for _, col := range rec.Columns() {
		w.addRanges(col.Data())
	}
	err := wr.Write(rec)
	w.rec = nil
	return err
}

// addRanges notes the memory of an array's buffers, children and
// dictionary.
func (w *wirePayloadWriter) addRanges(d arrow.ArrayData) {
	if d == nil {
		return
	}
	for _, b := range d.Buffers() {
		if b == nil || b.Len() == 0 {
			continue
		}
		bs := b.Bytes()
		p := uintptr(unsafe.Pointer(unsafe.SliceData(bs)))
		w.ranges = append(w.ranges, [2]uintptr{p, p + uintptr(len(bs))})
	}
	for _, c := range d.Children() {
		w.addRanges(c)
	}
	if dict, ok := d.Dictionary().(*array.Data); ok && dict != nil {
		w.addRanges(dict)
	}
}

// owned reports whether b lies inside the memory of the batch being written.
func (w *wirePayloadWriter) owned(b []byte) bool {
	if w.rec == nil {
		return false
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	end := p + uintptr(len(b))
	for _, r := range w.ranges {
		if p >= r[0] && end <= r[1] {
			return true
		}
	}
	return false
}

// recordPart records a body slice (ipc.Payload.SerializeBody writes the
// body buffers and their padding in order); nothing is copied here.
func (w *wirePayloadWriter) recordPart(b []byte) {
	if len(b) > 0 {
		w.parts = append(w.parts, b)
	}
}

type partRecorder struct{ w *wirePayloadWriter }

func (r partRecorder) Write(b []byte) (int, error) {
	r.w.recordPart(b)
	return len(b), nil
}

// WritePayload encodes a FlightData message: data_header (the IPC
// metadata) and data_body (the body buffers in order).
func (w *wirePayloadWriter) WritePayload(p ipc.Payload) error {
	meta := p.Meta()
	defer meta.Release()
	w.parts = w.parts[:0]
	if err := p.SerializeBody(partRecorder{w}); err != nil {
		return err
	}
	defer clear(w.parts) // keep no references to the batch's memory
	var bodyLen int
	for _, b := range w.parts {
		bodyLen += len(b)
	}

	var out mem.BufferSlice
	var cur *[]byte // pooled buffer being filled with copied bytes
	flush := func() {
		if cur != nil && len(*cur) > 0 {
			out = append(out, mem.NewBuffer(cur, w.pool))
		} else if cur != nil {
			w.pool.Put(cur)
		}
		cur = nil
	}
	grab := func(n int) {
		if cur == nil {
			cur = w.pool.Get(n)
			*cur = (*cur)[:0]
		}
	}
	head := protowire.SizeTag(fdDataHeader) + protowire.SizeBytes(meta.Len())
	if bodyLen > 0 {
		head += protowire.SizeTag(fdDataBody) + protowire.SizeVarint(uint64(bodyLen))
	}
	// The first copy buffer takes the header and the body parts copied
	// before the first one sent by reference (the whole body if none is).
	grab(head + w.copiedRun(0))
	b := protowire.AppendTag(*cur, fdDataHeader, protowire.BytesType)
	b = protowire.AppendBytes(b, meta.Bytes())
	if bodyLen > 0 {
		b = protowire.AppendTag(b, fdDataBody, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(bodyLen))
	}
	*cur = b
	var refs int
	rel := &recordRelease{rec: w.rec, w: w}
	for i, part := range w.parts {
		if w.byReference(part) {
			flush()
			ref := part
			out = append(out, mem.NewBuffer(&ref, rel))
			refs++
			continue
		}
		if cur == nil {
			grab(w.copiedRun(i))
		}
		*cur = append(*cur, part...)
	}
	flush()
	if refs > 0 {
		w.mu.Lock()
		rel.refs = refs
		for range refs {
			w.rec.Retain()
		}
		w.live[rel] = struct{}{}
		w.mu.Unlock()
	}
	return w.stream.SendMsg(&rawFlightData{bs: out})
}

// copiedRun is the length of the body parts from the i-th up to the next
// one sent by reference: what one copy buffer takes.
func (w *wirePayloadWriter) copiedRun(i int) int {
	n := 0
	for _, b := range w.parts[i:] {
		if w.byReference(b) {
			break
		}
		n += len(b)
	}
	return n
}

// byReference reports whether a body part goes to gRPC by reference.
func (w *wirePayloadWriter) byReference(b []byte) bool {
	return len(b) >= zeroCopyMin && w.owned(b)
}

// recordRelease is the mem.BufferPool of buffers that are a batch's own
// memory: gRPC "returns" each when written (or dropped), which releases
// one reference on the batch.
type recordRelease struct {
	rec  arrow.RecordBatch
	refs int // references still held by gRPC; guarded by w.mu
	w    *wirePayloadWriter
}

// Get is never called by gRPC on the pool of a buffer it was given.
func (r *recordRelease) Get(n int) *[]byte {
	b := make([]byte, n)
	return &b
}

func (r *recordRelease) Put(*[]byte) {
	w := r.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if r.refs == 0 {
		return // already released by finish
	}
	r.refs--
	r.rec.Release()
	if r.refs == 0 {
		delete(w.live, r)
		if len(w.live) == 0 && w.idle != nil {
			close(w.idle)
			w.idle = nil
		}
	}
}

// finishFallback bounds how long finish waits, once the stream is over,
// for gRPC to free buffers when the stream's connection cannot be watched
// (no connStats in the context): a last resort against a DoGet that
// never ends, long enough for any write gRPC still does to be over.
const finishFallback = 2 * time.Minute

// finish waits until gRPC has written or dropped every buffer sent by
// reference. When the stream is reset (client cancel, deadline), gRPC's
// writer goroutine frees the buffers it had queued once it handles the
// reset, which may be a while after ctx ended if it is blocked writing
// to a slow socket; until then it may still copy from them, so the
// batches are not released early. Only when the connection is gone
// (its writer has exited) does gRPC never free what it held: then the
// batches still referenced are released.
func (w *wirePayloadWriter) finish(ctx context.Context) {
	w.mu.Lock()
	if len(w.live) == 0 {
		w.mu.Unlock()
		return
	}
	idle := make(chan struct{})
	w.idle = idle
	w.mu.Unlock()
	select {
	case <-idle:
		return
	case <-ctx.Done():
	}
	var connDone <-chan struct{}
	if c, ok := ctx.Value(connKey{}).(*connState); ok {
		connDone = c.done
	}
	t := time.NewTimer(finishFallback)
	defer t.Stop()
	select {
	case <-idle:
		return
	case <-connDone:
	case <-t.C:
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for r := range w.live {
		for ; r.refs > 0; r.refs-- {
			r.rec.Release()
		}
	}
	clear(w.live)
	w.idle = nil
}

// connStats is the server's stats.Handler: it tells finish when a
// connection is over. gRPC reports ConnEnd after the connection's writer
// goroutine has exited, so no buffer is read after it.
type connStats struct{}

type connKey struct{}

// connState is a connection's lifetime; done closes at ConnEnd.
type connState struct {
	done chan struct{}
	once sync.Once
}

func (connStats) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return context.WithValue(ctx, connKey{}, &connState{done: make(chan struct{})})
}

func (connStats) HandleConn(ctx context.Context, s stats.ConnStats) {
	if _, ok := s.(*stats.ConnEnd); !ok {
		return
	}
	if c, ok := ctx.Value(connKey{}).(*connState); ok {
		c.once.Do(func() { close(c.done) })
	}
}

func (connStats) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }

func (connStats) HandleRPC(context.Context, stats.RPCStats) {}
