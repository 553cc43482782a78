package exec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Operator snapshots of the hash and window aggregates use a small binary
// format rather than gob: accumulator states are typed slices and per-group
// maps (some keyed by decimal128.Num, which gob cannot encode), and a
// compact varint encoding keeps large states small. A snapshot is framed
// as magic, operator tag, payload length and payload, so that it reads back
// exactly its own bytes even from a stream holding more.

// snapMagic starts every framed snapshot; the last byte is the version.
var snapMagic = [4]byte{'M', 'G', 'S', 1}

// maxSnapshotBytes bounds the payload length a frame may announce, so a
// corrupt length cannot make Restore allocate without limit.
const maxSnapshotBytes = 1 << 40

var errSnapshotCorrupt = errors.New("snapshot is truncated or corrupt")

// snapEnc appends values to a byte slice.
type snapEnc struct{ b []byte }

func (e *snapEnc) uvarint(u uint64) { e.b = binary.AppendUvarint(e.b, u) }
func (e *snapEnc) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *snapEnc) f64(f float64)    { e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(f)) }
func (e *snapEnc) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *snapEnc) raw(p []byte)     { e.uvarint(uint64(len(p))); e.b = append(e.b, p...) }
func (e *snapEnc) byte1(c byte)     { e.b = append(e.b, c) }
func (e *snapEnc) bool1(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}
func (e *snapEnc) dec(d decimal128.Num) {
	e.b = binary.LittleEndian.AppendUint64(e.b, d.LowBits())
	e.b = binary.LittleEndian.AppendUint64(e.b, uint64(d.HighBits()))
}

// snapDec reads what snapEnc wrote; the first error sticks and later reads
// return zero values.
type snapDec struct {
	b   []byte
	err error
}

func (d *snapDec) fail() {
	if d.err == nil {
		d.err = errSnapshotCorrupt
	}
	d.b = nil
}

func (d *snapDec) uvarint() uint64 {
	u, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return u
}

func (d *snapDec) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *snapDec) take(n int) []byte {
	if n < 0 || n > len(d.b) {
		d.fail()
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *snapDec) f64() float64 {
	p := d.take(8)
	if p == nil {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(p))
}

func (d *snapDec) byte1() byte {
	p := d.take(1)
	if p == nil {
		return 0
	}
	return p[0]
}

func (d *snapDec) bool1() bool { return d.byte1() != 0 }

func (d *snapDec) str() string { return string(d.take(d.count(1))) }

func (d *snapDec) raw() []byte { return d.take(d.count(1)) }

func (d *snapDec) dec() decimal128.Num {
	p := d.take(16)
	if p == nil {
		return decimal128.Num{}
	}
	return decimal128.New(int64(binary.LittleEndian.Uint64(p[8:])), binary.LittleEndian.Uint64(p))
}

// count reads a length whose elements take at least minBytes each, and
// rejects one the remaining input cannot hold (a corrupt length must not
// allocate a huge slice).
func (d *snapDec) count(minBytes int) int {
	u := d.uvarint()
	if d.err != nil {
		return 0
	}
	if minBytes > 0 && u > uint64(len(d.b)/minBytes) {
		d.fail()
		return 0
	}
	if u > math.MaxInt32 {
		d.fail()
		return 0
	}
	return int(u)
}

// expect reads a tag byte and fails unless it is want.
func (d *snapDec) expect(want byte, what string) error {
	if got := d.byte1(); d.err == nil && got != want {
		d.err = fmt.Errorf("snapshot: expected %s state (tag %d), found tag %d", what, want, got)
	}
	return d.err
}

func (e *snapEnc) int64s(s []int64) {
	e.uvarint(uint64(len(s)))
	for _, v := range s {
		e.varint(v)
	}
}

func (d *snapDec) int64s() []int64 {
	n := d.count(1)
	s := make([]int64, n)
	for i := range s {
		s[i] = d.varint()
	}
	return s
}

func (e *snapEnc) bools(s []bool) {
	e.uvarint(uint64(len(s)))
	for _, v := range s {
		e.bool1(v)
	}
}

func (d *snapDec) bools() []bool {
	n := d.count(1)
	s := make([]bool, n)
	for i := range s {
		s[i] = d.bool1()
	}
	return s
}

// writeFrame writes a framed snapshot of operator kind tag.
func writeFrame(w io.Writer, tag string, payload []byte) error {
	var h snapEnc
	h.b = append(h.b, snapMagic[:]...)
	h.str(tag)
	h.uvarint(uint64(len(payload)))
	if _, err := w.Write(h.b); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

// readFrame reads one framed snapshot of operator kind tag, consuming no
// byte past it.
func readFrame(r io.Reader, tag string) ([]byte, error) {
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, fmt.Errorf("read snapshot header: %w", err)
	}
	if magic != snapMagic {
		return nil, fmt.Errorf("not a snapshot of this version (header %q)", magic[:])
	}
	br := oneByteReader{r}
	n, err := binary.ReadUvarint(br)
	if err != nil || n > 64 {
		return nil, fmt.Errorf("read snapshot header: %w", errSnapshotCorrupt)
	}
	got := make([]byte, n)
	if _, err := io.ReadFull(r, got); err != nil {
		return nil, fmt.Errorf("read snapshot header: %w", err)
	}
	if string(got) != tag {
		return nil, fmt.Errorf("snapshot is of a %q, not a %q", got, tag)
	}
	size, err := binary.ReadUvarint(br)
	if err != nil || size > maxSnapshotBytes {
		return nil, fmt.Errorf("read snapshot header: %w", errSnapshotCorrupt)
	}
	var buf bytes.Buffer
	if _, err := io.CopyN(&buf, r, int64(size)); err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	return buf.Bytes(), nil
}

// oneByteReader reads one byte at a time, so that a varint read from a
// stream does not consume bytes after it.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) ReadByte() (byte, error) {
	var b [1]byte
	_, err := io.ReadFull(o.r, b[:])
	return b[0], err
}

// Message kinds' encoding in snapshots of queued output.
func (e *snapEnc) messages(ms []Message) error {
	e.uvarint(uint64(len(ms)))
	for _, m := range ms {
		e.byte1(byte(m.Kind))
		switch m.Kind {
		case MsgWatermark:
			e.varint(m.Watermark)
		case MsgBarrier:
			e.uvarint(m.Barrier)
		case MsgBatch:
			var buf bytes.Buffer
			w := ipc.NewWriter(&buf, ipc.WithSchema(m.Batch.Rec.Schema()))
			if err := w.Write(m.Batch.Rec); err != nil {
				return fmt.Errorf("snapshot queued output: %w", err)
			}
			if err := w.Close(); err != nil {
				return fmt.Errorf("snapshot queued output: %w", err)
			}
			e.raw(buf.Bytes())
			e.uvarint(uint64(len(m.Batch.Ops)))
			for _, op := range m.Batch.Ops {
				e.byte1(byte(op))
			}
		}
	}
	return nil
}

// messages reads queued output written by snapEnc.messages; the batches
// are allocated from mem and owned by the caller.
func (d *snapDec) messages(mem memory.Allocator) ([]Message, error) {
	n := d.count(1)
	var out []Message
	fail := func(err error) ([]Message, error) {
		for _, m := range out {
			m.Release()
		}
		return nil, err
	}
	for i := 0; i < n && d.err == nil; i++ {
		k := MessageKind(d.byte1())
		switch k {
		case MsgWatermark:
			out = append(out, WatermarkMsg(d.varint()))
		case MsgBarrier:
			out = append(out, Message{Kind: MsgBarrier, Barrier: d.uvarint()})
		case MsgEnd:
			out = append(out, EndMsg)
		case MsgBatch:
			p := d.raw()
			if d.err != nil {
				return fail(d.err)
			}
			r, err := ipc.NewReader(bytes.NewReader(p), ipc.WithAllocator(mem))
			if err != nil {
				return fail(fmt.Errorf("restore queued output: %w", err))
			}
			if !r.Next() {
				err := r.Err()
				r.Release()
				if err == nil {
					err = errSnapshotCorrupt
				}
				return fail(fmt.Errorf("restore queued output: %w", err))
			}
			rec := r.RecordBatch()
			rec.Retain()
			r.Release()
			var ops []ChangeKind
			if c := d.count(1); c > 0 {
				ops = make([]ChangeKind, c)
				for j := range ops {
					ops[j] = ChangeKind(d.byte1())
				}
			}
			out = append(out, BatchMsg(rec, ops))
		default:
			return fail(errSnapshotCorrupt)
		}
	}
	if d.err != nil {
		return fail(d.err)
	}
	return out, nil
}
