package schema

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The batch form of the flat path: one pass over the payload writes each field straight into the
// BatchBuilder's column buffers at row n. Nothing is committed until the row count moves on, so a
// payload that fails half-way leaves no row behind (the next row overwrites what it wrote), and no
// second pass or slot array is needed.

type batchOp uint8

const (
	// Ops that start with a varint.
	bopLong8     batchOp = iota // long → 8-byte column
	bopBytes                    // string/bytes → string/binary column
	bopScaled8                  // long, or range-checked int, times mul → 8-byte column (millis → micros)
	bopInt4                     // int → 4-byte column (int32, date32)
	bopSkipLong                 // long nobody reads
	bopSkipInt                  // int nobody reads (still range-checked)
	bopSkipBytes                // string/bytes nobody reads
	// Fixed-size ops.
	bopBool    // boolean → bool column
	bopFloat4  // float → float32 column
	bopFloat8  // float → float64 column
	bopDouble8 // double → float64 column
	bopSkipBool
	bopSkip4 // float
	bopSkip8 // double
)

// bopLastVarint is the last op that starts with a varint.
const bopLastVarint = bopSkipBytes

type batchField struct {
	op      batchOp
	isInt   bool
	nullIdx int64 // null branch of a [null, T] union, or -1
	mul     int64
	lo, hi  int64 // range of values that survive the multiplication by mul
	col     int
	c       *fastCol // bound column; nil when skipped
	name    string
}

// batchConst is what a target column the writer lacks gets on every row.
type batchConst struct {
	col  int
	c    *fastCol
	null bool
	v    uint64
	s    []byte
}

// compileBatch derives the batch ops from the flat fields.
func (d *avroFlatDecoder) compileBatch() {
	d.bf = make([]batchField, len(d.fields))
	for i, f := range d.fields {
		bf := batchField{nullIdx: f.nullIdx, mul: f.mul, lo: math.MinInt64, hi: math.MaxInt64, col: f.col, name: f.name,
			isInt: f.read == frInt}
		if f.mul != 1 {
			bf.lo, bf.hi = math.MinInt64/f.mul, math.MaxInt64/f.mul
		}
		switch {
		case f.col < 0:
			bf.op = [...]batchOp{frLong: bopSkipLong, frInt: bopSkipInt, frBytes: bopSkipBytes, frBool: bopSkipBool,
				frFloat: bopSkip4, frDouble: bopSkip8}[f.read]
		case f.mul != 1 || (f.read == frInt && f.kind == fkInt64):
			bf.op = bopScaled8 // isInt makes it check the int range
		case f.kind == fkInt64 || f.kind == fkTimestamp || f.kind == fkTime64:
			bf.op = bopLong8
		case f.kind == fkInt32 || f.kind == fkDate32:
			bf.op = bopInt4
		case f.kind == fkString || f.kind == fkBinary:
			bf.op = bopBytes
		case f.kind == fkBool:
			bf.op = bopBool
		case f.kind == fkFloat32:
			bf.op = bopFloat4
		case f.kind == fkFloat64 && f.read == frFloat:
			bf.op = bopFloat8
		default:
			bf.op = bopDouble8
		}
		d.bf[i] = bf
	}
}

// bindBatch points the ops at b's columns and works out the constants of defaulted columns.
func (d *avroFlatDecoder) bindBatch(b *BatchBuilder) error {
	if d.bf == nil {
		d.compileBatch()
	}
	for i := range d.bf {
		if f := &d.bf[i]; f.col >= 0 {
			f.c = &b.cols[f.col]
		}
	}
	if d.consts == nil {
		for _, df := range d.defaults {
			k, err := constOf(df, b.schema.Field(df.col).Type)
			if err != nil {
				return err
			}
			d.consts = append(d.consts, k)
		}
	}
	for i := range d.consts {
		d.consts[i].c = &b.cols[d.consts[i].col]
	}
	d.bbound = b
	return nil
}

// constOf runs a filler once on a builder of type dt and keeps the value it appended.
func constOf(df colFill, dt arrow.DataType) (batchConst, error) {
	bld := array.NewBuilder(memory.DefaultAllocator, dt)
	defer bld.Release()
	df.fill(bld)
	a := bld.NewArray()
	defer a.Release()
	k := batchConst{col: df.col}
	if a.IsNull(0) {
		k.null = true
		return k, nil
	}
	switch x := a.(type) {
	case *array.String:
		k.s = []byte(x.Value(0))
	case *array.Binary:
		k.s = append([]byte{}, x.Value(0)...)
	case *array.Boolean:
		if x.Value(0) {
			k.v = 1
		}
	default:
		bufs := a.Data().Buffers()
		w := dt.(arrow.FixedWidthDataType).BitWidth() / 8
		raw := bufs[1].Bytes()[a.Data().Offset()*w:]
		switch w {
		case 8:
			k.v = binary.LittleEndian.Uint64(raw)
		case 4:
			k.v = uint64(binary.LittleEndian.Uint32(raw))
		case 2:
			k.v = uint64(binary.LittleEndian.Uint16(raw))
		case 1:
			k.v = uint64(raw[0])
		default:
			return k, fmt.Errorf("schema: default of %s has no fast form", dt)
		}
	}
	return k, nil
}

func (d *avroFlatDecoder) batchFail(f *batchField, err error) error {
	return fmt.Errorf("schema: decode Avro: field %s: %w", f.name, err)
}

// varintErr turns the negative position of uvarint into its error.
func varintErr(np int) error {
	if np == -1 {
		return errTruncated
	}
	return errVarint
}

// appendBatch decodes payload p as row b.n of b.
func (d *avroFlatDecoder) appendBatch(b *BatchBuilder, p []byte) error {
	if d.bbound != b {
		if err := d.bindBatch(b); err != nil {
			return err
		}
	}
	if b.n >= b.cap {
		b.grow()
	}
	n := b.n
	bit := byte(1) << uint(n&7)
	pos := 0
	bf := d.bf // a local copy: stores into the columns cannot change it, so it stays in registers
	for i := range bf {
		f := &bf[i]
		c := f.c
		if f.nullIdx >= 0 {
			var u uint64
			if pos < len(p) && p[pos] < 0x80 {
				u = uint64(p[pos])
				pos++
			} else if u, pos = uvarintLong(p, pos); pos < 0 {
				return d.batchFail(f, varintErr(pos))
			}
			br := int64(u>>1) ^ -int64(u&1)
			if br == f.nullIdx {
				if c != nil {
					c.setNull(n, b.cap)
				}
				continue
			}
			if br != 1-f.nullIdx {
				return d.batchFail(f, fmt.Errorf("Avro union index %d out of range", br))
			}
		}
		if f.op <= bopLastVarint {
			// Every op up to bopLastVarint starts with a zig-zag varint. Away from the end of the
			// payload, read it from one 8-byte load (uvarintLong inlined): no loop, no call.
			var u uint64
			if len(p)-pos >= 8 {
				x := binary.LittleEndian.Uint64(p[pos:])
				if stop := uint(bits.TrailingZeros64(^x & 0x8080808080808080)); stop == 7 {
					u = x & 0x7f
					pos++
				} else if stop < 64 {
					x &= 1<<(stop+1) - 1
					x = x&0x007f007f007f007f | (x&0x7f007f007f007f00)>>1
					x = x&0x00003fff00003fff | (x&0x3fff00003fff0000)>>2
					x = x&0x000000000fffffff | (x&0x0fffffff00000000)>>4
					u = x
					pos += int(stop>>3) + 1
				} else if u, pos = uvarintLong(p, pos); pos < 0 {
					return d.batchFail(f, varintErr(pos))
				}
			} else if pos < len(p) && p[pos] < 0x80 {
				u = uint64(p[pos])
				pos++
			} else if u, pos = uvarintLong(p, pos); pos < 0 {
				return d.batchFail(f, varintErr(pos))
			}
			v := int64(u>>1) ^ -int64(u&1)
			switch f.op {
			case bopLong8:
				c.u64[n] = uint64(v)
			case bopBytes:
				if v < 0 || v > int64(len(p)-pos) {
					return d.batchFail(f, errTruncated)
				}
				l := int(v)
				off := int(c.u32[n])
				end := off + l
				if end+16 > len(c.d) {
					if end > math.MaxInt32 {
						return fmt.Errorf("schema: batch string data exceeds %d bytes", math.MaxInt32)
					}
					c.growData(end + 16)
				}
				if l <= 16 && len(p)-pos >= 16 {
					// Short strings: two 8-byte moves instead of a memmove call; the bytes written
					// past end are overwritten by the next value or left as padding.
					dst := c.d[off : off+16]
					src := p[pos : pos+16]
					binary.LittleEndian.PutUint64(dst, binary.LittleEndian.Uint64(src))
					binary.LittleEndian.PutUint64(dst[8:], binary.LittleEndian.Uint64(src[8:]))
				} else {
					copy(c.d[off:end], p[pos:pos+l])
				}
				c.u32[n+1] = uint32(end)
				pos += l
			case bopScaled8:
				if f.isInt && (v < math.MinInt32 || v > math.MaxInt32) {
					return d.batchFail(f, errIntRange)
				}
				if v > f.hi || v < f.lo {
					return d.batchFail(f, fmt.Errorf("value %d overflows", v))
				}
				c.u64[n] = uint64(v * f.mul)
			case bopInt4:
				if v < math.MinInt32 || v > math.MaxInt32 {
					return d.batchFail(f, errIntRange)
				}
				c.u32[n] = uint32(v)
			case bopSkipInt:
				if v < math.MinInt32 || v > math.MaxInt32 {
					return d.batchFail(f, errIntRange)
				}
				continue
			case bopSkipBytes:
				if v < 0 || v > int64(len(p)-pos) {
					return d.batchFail(f, errTruncated)
				}
				pos += int(v)
				continue
			case bopSkipLong:
				continue
			}
		} else {
			switch f.op {
			case bopBool:
				if pos >= len(p) {
					return d.batchFail(f, errTruncated)
				}
				if p[pos] > 1 {
					return d.batchFail(f, errors.New("bad Avro boolean"))
				}
				bitutil.SetBitTo(c.b, n, p[pos] == 1)
				pos++
			case bopFloat4:
				if len(p)-pos < 4 {
					return d.batchFail(f, errTruncated)
				}
				c.u32[n] = binary.LittleEndian.Uint32(p[pos:])
				pos += 4
			case bopFloat8:
				if len(p)-pos < 4 {
					return d.batchFail(f, errTruncated)
				}
				c.u64[n] = math.Float64bits(float64(math.Float32frombits(binary.LittleEndian.Uint32(p[pos:]))))
				pos += 4
			case bopDouble8:
				if len(p)-pos < 8 {
					return d.batchFail(f, errTruncated)
				}
				c.u64[n] = binary.LittleEndian.Uint64(p[pos:])
				pos += 8
			case bopSkipBool:
				if pos >= len(p) {
					return d.batchFail(f, errTruncated)
				}
				if p[pos] > 1 {
					return d.batchFail(f, errors.New("bad Avro boolean"))
				}
				pos++
				continue
			case bopSkip4, bopSkip8:
				w := 4
				if f.op == bopSkip8 {
					w = 8
				}
				if len(p)-pos < w {
					return d.batchFail(f, errTruncated)
				}
				pos += w
				continue
			}
		}
		if c.bits != nil {
			c.bits[n>>3] |= bit
		}
	}
	if pos != len(p) {
		return fmt.Errorf("schema: decode Avro: %w (%d of %d bytes read)", errTrailing, pos, len(p))
	}
	for i := range d.consts {
		k := &d.consts[i]
		c := k.c
		switch {
		case k.null:
			c.setNull(n, b.cap)
			continue
		case c.class == ccFixed:
			c.putFixed(n, k.v)
		case c.class == ccBool:
			bitutil.SetBitTo(c.b, n, k.v != 0)
		default:
			if err := c.putBytes(n, k.s); err != nil {
				return err
			}
		}
		c.setValid(n)
	}
	b.n = n + 1
	return nil
}

// uvarint reads the raw (not yet zig-zag decoded) varint at p[pos:] and returns it with the
// position after it; the position is -1 when p is truncated and -2 when the varint is malformed.
// One-byte varints (lengths, union branches, small numbers) are the common case and inline.
func uvarint(p []byte, pos int) (uint64, int) {
	if pos < len(p) {
		if c := p[pos]; c < 0x80 {
			return uint64(c), pos + 1
		}
	}
	return uvarintLong(p, pos)
}

// uvarintLong reads a varint of up to 8 bytes without a loop: it loads 8 bytes, finds the first
// byte without the continuation bit, and packs the 7-bit groups together in three steps.
func uvarintLong(p []byte, pos int) (uint64, int) {
	if pos >= 0 && len(p)-pos >= 8 {
		x := binary.LittleEndian.Uint64(p[pos:])
		if stop := uint(bits.TrailingZeros64(^x & 0x8080808080808080)); stop < 64 {
			x &= 1<<(stop+1) - 1
			x = x&0x007f007f007f007f | (x&0x7f007f007f007f00)>>1
			x = x&0x00003fff00003fff | (x&0x3fff00003fff0000)>>2
			x = x&0x000000000fffffff | (x&0x0fffffff00000000)>>4
			return x, pos + int(stop>>3) + 1
		}
	}
	var v uint64
	for i := 0; i < 10 && pos+i < len(p); i++ {
		c := p[pos+i]
		v |= uint64(c&0x7f) << (7 * uint(i))
		if c < 0x80 {
			return v, pos + i + 1
		}
	}
	if len(p)-pos >= 10 {
		return 0, -2
	}
	return 0, -1
}
