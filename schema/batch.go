package schema

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BatchBuilder accumulates decoded rows of a target schema and hands them out as record batches.
// It is the batch-level form of [Decoder.Append] for source operators: when every column of the
// target is a flat type (integers, floats, booleans, dates, times, timestamps, strings, binary)
// it keeps its own column buffers, allocated from its allocator, and decoders with a flat fast
// path (Avro records of scalar fields) write straight into them, bypassing Arrow's builders and
// their per-value overheads.
//
// The first row of a batch decides where the batch lives: in the column buffers when its decoder
// has the flat path, else in a RecordBuilder (decoders without a flat path, and every batch of a
// target with nested columns, run at their usual speed). Later rows of another kind still fit:
// flat decoders append to the RecordBuilder, other decoders' rows are copied into the column
// buffers through a one-row RecordBuilder. So rows from decoders compiled for different writer
// schemas of the same target may be mixed in one batch.
//
// Append is atomic: a payload that fails to decode leaves no partial row. Each batch reserves
// the row and data capacity the previous one needed, so steady-state batches do not regrow their
// buffers. A BatchBuilder is not safe for concurrent use.
type BatchBuilder struct {
	mem    memory.Allocator // the caller's allocator
	cmem   *recycler        // column buffers: mem, with buffers of released batches reused
	schema *arrow.Schema
	cols   []fastCol            // one per target column; nil when some column is not flat
	rb     *array.RecordBuilder // batches that live in a builder; the one-row copy buffer otherwise
	inRB   bool                 // the current batch lives in rb

	n, cap int // rows in the batch, row capacity of the column buffers
}

// NewBatchBuilder returns a BatchBuilder for target allocating from mem. Call Release when done.
func NewBatchBuilder(mem memory.Allocator, target *arrow.Schema) *BatchBuilder {
	b := &BatchBuilder{mem: mem, schema: target}
	cols := make([]fastCol, target.NumFields())
	for j, f := range target.Fields() {
		if !cols[j].init(f.Type) {
			return b
		}
	}
	b.cols = cols
	b.cmem = newRecycler(mem)
	b.alloc(256, nil)
	return b
}

// Schema is the target schema of the batches.
func (b *BatchBuilder) Schema() *arrow.Schema { return b.schema }

// Len is the number of rows appended since the last NewRecordBatch.
func (b *BatchBuilder) Len() int {
	return b.n
}

func (b *BatchBuilder) builder() *array.RecordBuilder {
	if b.rb == nil {
		b.rb = array.NewRecordBuilder(b.mem, b.schema)
	}
	return b.rb
}

// Append decodes one message with d (compiled by NewDecoder for this builder's target schema)
// and appends its row; on error nothing is appended.
func (b *BatchBuilder) Append(d Decoder, key, payload []byte) error {
	var fd *avroFlatDecoder
	if dd, ok := d.(*decoder); ok {
		if dd.checkedBatch != b {
			if err := checkColumns(b.schema, dd.target); err != nil {
				return err
			}
			if dd.ncols != b.schema.NumFields() {
				return fmt.Errorf("schema: batch has %d columns, decoder fills %d", b.schema.NumFields(), dd.ncols)
			}
			dd.checkedBatch = b
		}
		fd, _ = dd.rd.(*avroFlatDecoder)
	}
	if b.cols != nil && b.n == 0 {
		b.inRB = fd == nil
	}
	switch {
	case b.cols == nil || b.inRB:
		if err := d.Append(b.builder(), key, payload); err != nil {
			return err
		}
		b.n++
		return nil
	case fd != nil:
		return fd.appendBatch(b, payload)
	default:
		return b.appendCopy(d, key, payload)
	}
}

// appendCopy decodes with d's builder path into the (empty) RecordBuilder and copies the row
// into the column buffers.
func (b *BatchBuilder) appendCopy(d Decoder, key, payload []byte) error {
	if err := d.Append(b.builder(), key, payload); err != nil {
		return err
	}
	rec := b.rb.NewRecordBatch()
	defer rec.Release()
	if b.n >= b.cap {
		b.grow()
	}
	for j := range b.cols {
		if err := b.cols[j].copyFrom(b, rec.Column(j)); err != nil {
			return err
		}
	}
	b.n++
	return nil
}

// NewRecordBatch returns the rows appended so far as a record batch and starts a new one with
// the same capacity.
func (b *BatchBuilder) NewRecordBatch() arrow.RecordBatch {
	if b.cols == nil || b.inRB {
		b.n = 0
		return b.builder().NewRecordBatch()
	}
	n := b.n
	arrs := make([]arrow.Array, len(b.cols))
	hint := make([]int, len(b.cols))
	for j := range b.cols {
		arrs[j], hint[j] = b.cols[j].finish(n)
	}
	rec := array.NewRecordBatch(b.schema, arrs, int64(n))
	for _, a := range arrs {
		a.Release()
	}
	// The next batch gets the room this one needed; a batch cut short (a linger timeout) only
	// halves it, so that one small batch does not make the next full one regrow every buffer.
	rows := max(n, b.cap/2, 64)
	if n > 0 && rows > n {
		for j := range hint {
			hint[j] = hint[j] * rows / n
		}
	}
	b.n = 0
	b.alloc(rows, hint)
	return rec
}

// Release frees the buffers of the batch being built.
func (b *BatchBuilder) Release() {
	if b.rb != nil {
		b.rb.Release()
		b.rb = nil
	}
	for j := range b.cols {
		b.cols[j].release()
	}
	if b.cmem != nil {
		b.cmem.close()
	}
	b.cap, b.n = 0, 0
}

// alloc gives every column fresh buffers for rows rows; dataHint is the string data each column
// needed last time (nil: none known).
func (b *BatchBuilder) alloc(rows int, dataHint []int) {
	b.cap = rows
	for j := range b.cols {
		data := 0
		if dataHint != nil {
			data = dataHint[j] + dataHint[j]/8
		}
		b.cols[j].alloc(b.cmem, rows, data)
	}
}

// grow doubles the row capacity of every column, keeping the rows written.
func (b *BatchBuilder) grow() {
	b.cap *= 2
	for j := range b.cols {
		b.cols[j].growRows(b.cap)
	}
}

type colClass uint8

const (
	ccFixed  colClass = iota // 1, 2, 4 or 8 bytes per value
	ccBool                   // bit-packed
	ccBinary                 // int32 offsets and data
)

// fastCol is one column of a BatchBuilder in fast mode: buffers from the allocator and typed views
// of them that the decoders write through.
type fastCol struct {
	class colClass
	width int
	dt    arrow.DataType
	mem   memory.Allocator

	vals  *memory.Buffer // values, bool bits or offsets
	data  *memory.Buffer // string data
	valid *memory.Buffer // validity bitmap; nil until the batch has a null

	b    []byte   // vals.Buf()
	u64  []uint64 // width 8 view of b
	u32  []uint32 // width 4 view of b (and binary offsets)
	d    []byte   // data.Buf()
	bits []byte   // valid.Buf()
}

// init sets the column up for type dt, or reports that dt has no fast form.
func (c *fastCol) init(dt arrow.DataType) bool {
	c.dt = dt
	switch dt.ID() {
	case arrow.INT8, arrow.UINT8:
		c.class, c.width = ccFixed, 1
	case arrow.INT16, arrow.UINT16:
		c.class, c.width = ccFixed, 2
	case arrow.INT32, arrow.UINT32, arrow.FLOAT32, arrow.DATE32, arrow.TIME32:
		c.class, c.width = ccFixed, 4
	case arrow.INT64, arrow.UINT64, arrow.FLOAT64, arrow.DATE64, arrow.TIME64, arrow.TIMESTAMP, arrow.DURATION:
		c.class, c.width = ccFixed, 8
	case arrow.BOOL:
		c.class = ccBool
	case arrow.STRING, arrow.BINARY:
		c.class = ccBinary
	default:
		return false
	}
	return true
}

func (c *fastCol) valBytes(rows int) int {
	switch c.class {
	case ccBool:
		return int(bitutil.BytesForBits(int64(rows)))
	case ccBinary:
		return 4 * (rows + 1)
	}
	return c.width * rows
}

func (c *fastCol) alloc(mem memory.Allocator, rows, data int) {
	c.mem = mem
	c.vals = memory.NewResizableBuffer(mem)
	c.vals.Reserve(c.valBytes(rows))
	c.valid, c.bits = nil, nil
	if c.class == ccBinary {
		c.data = memory.NewResizableBuffer(mem)
		c.data.Reserve(max(data, 64))
		c.d = c.data.Buf()
	}
	c.views()
	if c.class == ccBinary {
		c.u32[0] = 0
	}
}

func (c *fastCol) views() {
	c.b = c.vals.Buf()
	c.u64, c.u32 = nil, nil
	if len(c.b) >= 8 {
		c.u64 = unsafe.Slice((*uint64)(unsafe.Pointer(&c.b[0])), len(c.b)/8)
	}
	if len(c.b) >= 4 {
		c.u32 = unsafe.Slice((*uint32)(unsafe.Pointer(&c.b[0])), len(c.b)/4)
	}
}

func (c *fastCol) growRows(rows int) {
	c.vals.Reserve(c.valBytes(rows))
	c.views()
	if c.valid != nil {
		c.valid.Reserve(int(bitutil.BytesForBits(int64(rows))))
		c.bits = c.valid.Buf()
	}
}

// growData makes room for at least need bytes of string data.
func (c *fastCol) growData(need int) {
	c.data.Reserve(max(need, 2*len(c.d)))
	c.d = c.data.Buf()
}

// setNull makes row n of a batch with row capacity rows null (creating the validity bitmap, all
// valid so far, on the first null).
func (c *fastCol) setNull(n, rows int) {
	if c.bits == nil {
		c.valid = memory.NewResizableBuffer(c.mem)
		c.valid.Reserve(int(bitutil.BytesForBits(int64(rows))))
		c.bits = c.valid.Buf()
		for i := range c.bits {
			c.bits[i] = 0xff
		}
	}
	bitutil.ClearBit(c.bits, n)
	switch c.class {
	case ccFixed:
		c.putFixed(n, 0)
	case ccBool:
		bitutil.ClearBit(c.b, n)
	case ccBinary:
		c.u32[n+1] = c.u32[n]
	}
}

// setValid marks row n valid when the column has a validity bitmap.
func (c *fastCol) setValid(n int) {
	if c.bits != nil {
		c.bits[n>>3] |= 1 << uint(n&7)
	}
}

func (c *fastCol) putFixed(n int, v uint64) {
	switch c.width {
	case 8:
		c.u64[n] = v
	case 4:
		c.u32[n] = uint32(v)
	case 2:
		binary.LittleEndian.PutUint16(c.b[2*n:], uint16(v))
	default:
		c.b[n] = byte(v)
	}
}

// putBytes sets row n of a binary column to s; it fails when the batch's data would exceed what
// 32-bit offsets address.
func (c *fastCol) putBytes(n int, s []byte) error {
	off := int(c.u32[n])
	end := off + len(s)
	if end > len(c.d) {
		if end > math.MaxInt32 {
			return fmt.Errorf("schema: batch string data exceeds %d bytes", math.MaxInt32)
		}
		c.growData(end)
	}
	copy(c.d[off:end], s)
	c.u32[n+1] = uint32(end)
	return nil
}

// copyFrom appends row 0 of a (a one-row array of the column's type) as row b.n.
func (c *fastCol) copyFrom(b *BatchBuilder, a arrow.Array) error {
	n := b.n
	if a.IsNull(0) {
		c.setNull(n, b.cap)
		return nil
	}
	c.setValid(n)
	switch c.class {
	case ccFixed:
		buf := a.Data().Buffers()[1].Bytes()
		off := a.Data().Offset() * c.width
		var v uint64
		switch c.width {
		case 8:
			v = binary.LittleEndian.Uint64(buf[off:])
		case 4:
			v = uint64(binary.LittleEndian.Uint32(buf[off:]))
		case 2:
			v = uint64(binary.LittleEndian.Uint16(buf[off:]))
		default:
			v = uint64(buf[off])
		}
		c.putFixed(n, v)
	case ccBool:
		bitutil.SetBitTo(c.b, n, a.(*array.Boolean).Value(0))
	case ccBinary:
		switch x := a.(type) {
		case *array.String:
			return c.putBytes(n, unsafe.Slice(unsafe.StringData(x.Value(0)), len(x.Value(0))))
		case *array.Binary:
			return c.putBytes(n, x.Value(0))
		}
		return fmt.Errorf("schema: column of type %s holds a %T", c.dt, a)
	}
	return nil
}

// finish turns the first n rows into an array, handing the buffers over to it, and returns how
// much string data the column used.
func (c *fastCol) finish(n int) (arrow.Array, int) {
	c.vals.ResizeNoShrink(c.valBytes(n))
	bufs := []*memory.Buffer{nil, c.vals}
	nulls := 0
	if c.valid != nil {
		c.valid.ResizeNoShrink(int(bitutil.BytesForBits(int64(n))))
		nulls = n - bitutil.CountSetBits(c.bits, 0, n)
		bufs[0] = c.valid
	}
	dataLen := 0
	if c.class == ccBinary {
		dataLen = int(c.u32[n])
		c.data.ResizeNoShrink(dataLen)
		bufs = append(bufs, c.data)
	}
	data := array.NewData(c.dt, n, bufs, nil, nulls, 0)
	arr := array.MakeFromData(data)
	data.Release()
	c.release()
	return arr, dataLen
}

func (c *fastCol) release() {
	for _, p := range []**memory.Buffer{&c.vals, &c.data, &c.valid} {
		if *p != nil {
			(*p).Release()
			*p = nil
		}
	}
	c.b, c.u64, c.u32, c.d, c.bits = nil, nil, nil, nil, nil
}
