package schema

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/hamba/avro/v2"
)

// The flat path: records whose fields are all scalars (optionally nullable), the common shape of
// event topics such as Nexmark's. One pass reads every field into a fixed slot, the other appends
// the slots to typed builders cached per RecordBuilder: no closures, no tape growth, no type
// assertions per value. Anything else goes through the general compiled tree.

type flatRead uint8

const (
	frLong flatRead = iota
	frInt
	frBytes
	frBool
	frFloat
	frDouble
)

type flatKind uint8

const (
	fkNone flatKind = iota // skipped
	fkInt64
	fkTimestamp
	fkInt32
	fkDate32
	fkTime64
	fkString
	fkBinary
	fkBool
	fkFloat32
	fkFloat64
)

type flatField struct {
	read    flatRead
	nullIdx int64 // index of the null branch of a [null, T] union, or -1
	mul     int64 // scale applied to integers (e.g. millis → micros); 1 for none
	kind    flatKind
	col     int // builder column; -1 when skipped
	name    string

	// Builders bound for the current RecordBuilder.
	i64 *array.Int64Builder
	ts  *array.TimestampBuilder
	i32 *array.Int32Builder
	d32 *array.Date32Builder
	t64 *array.Time64Builder
	bin *array.BinaryBuilder
	bl  *array.BooleanBuilder
	f32 *array.Float32Builder
	f64 *array.Float64Builder
	any array.Builder
}

type avroFlatDecoder struct {
	fields   []flatField
	defaults []colFill
	vals     []uint64 // one slot per writer field
	nulls    []bool
	buf      []byte
	bound    []array.Builder

	// The BatchBuilder form (avro_batch.go), compiled on first use.
	bf     []batchField
	consts []batchConst
	bbound *BatchBuilder
}

// forceGeneral disables the flat path (tests compare both paths).
var forceGeneral = false

// newAvroFlatDecoder returns nil when rec does not have the flat shape for target tf.
func newAvroFlatDecoder(rec *avro.RecordSchema, tf []arrow.Field, cols []int) (*avroFlatDecoder, error) {
	if forceGeneral {
		return nil, nil
	}
	d := &avroFlatDecoder{}
	used := make([]bool, len(tf))
	for _, wf := range rec.Fields() {
		w := deref(wf.Type())
		f := flatField{nullIdx: -1, mul: 1, col: -1, name: wf.Name()}
		if _, ok := w.(*avro.UnionSchema); ok {
			inner, nullIdx, ok := nullableBranch(w)
			if !ok {
				return nil, nil
			}
			f.nullIdx, w = int64(nullIdx), deref(inner)
		}
		var lt avro.LogicalType
		if l := logicalOf(w); l != nil {
			lt = l.Type()
		}
		switch w.Type() {
		case avro.Long:
			f.read = frLong
		case avro.Int:
			f.read = frInt
		case avro.String, avro.Bytes:
			f.read = frBytes
		case avro.Boolean:
			f.read = frBool
		case avro.Float:
			f.read = frFloat
		case avro.Double:
			f.read = frDouble
		default:
			return nil, nil
		}
		if lt == avro.Decimal {
			return nil, nil
		}
		j := findField(tf, columnName(wf))
		if j >= 0 && used[j] {
			j = -1
		}
		if j >= 0 {
			used[j] = true
			f.col = cols[j]
			dt := tf[j].Type
			ok := false
			switch {
			case (f.read == frLong || f.read == frInt) && lt == "" && dt.ID() == arrow.INT64:
				f.kind, ok = fkInt64, true // int → long is the commonest schema evolution
			case f.read == frInt && lt == "" && dt.ID() == arrow.INT32:
				f.kind, ok = fkInt32, true
			case f.read == frInt && lt == avro.Date && dt.ID() == arrow.DATE32:
				f.kind, ok = fkDate32, true
			case f.read == frLong && dt.ID() == arrow.TIMESTAMP && dt.(*arrow.TimestampType).Unit == arrow.Microsecond:
				switch lt {
				case avro.TimestampMillis, avro.LocalTimestampMillis:
					f.kind, f.mul, ok = fkTimestamp, 1000, true
				case avro.TimestampMicros, avro.LocalTimestampMicros:
					f.kind, ok = fkTimestamp, true
				}
			case dt.ID() == arrow.TIME64 && dt.(*arrow.Time64Type).Unit == arrow.Microsecond:
				switch {
				case f.read == frInt && lt == avro.TimeMillis:
					f.kind, f.mul, ok = fkTime64, 1000, true
				case f.read == frLong && lt == avro.TimeMicros:
					f.kind, ok = fkTime64, true
				}
			case f.read == frBytes && dt.ID() == arrow.STRING:
				f.kind, ok = fkString, true
			case f.read == frBytes && dt.ID() == arrow.BINARY:
				f.kind, ok = fkBinary, true
			case f.read == frBool && dt.ID() == arrow.BOOL:
				f.kind, ok = fkBool, true
			case f.read == frFloat && dt.ID() == arrow.FLOAT32:
				f.kind, ok = fkFloat32, true
			case (f.read == frFloat || f.read == frDouble) && dt.ID() == arrow.FLOAT64:
				f.kind, ok = fkFloat64, true
			}
			if !ok {
				return nil, nil // promotions and the rest: general path
			}
		}
		d.fields = append(d.fields, f)
	}
	for j, f := range tf {
		if used[j] {
			continue
		}
		fill, err := defaultFiller(f)
		if err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		d.defaults = append(d.defaults, colFill{cols[j], fill})
	}
	d.vals = make([]uint64, len(d.fields))
	d.nulls = make([]bool, len(d.fields))
	return d, nil
}

var errIntRange = errors.New("Avro int out of range")

func (d *avroFlatDecoder) decode(_, p []byte) error {
	if len(p) > math.MaxUint32 {
		return errors.New("schema: Avro payload too large")
	}
	pos := 0
	vals, nulls := d.vals, d.nulls
	for i := range d.fields {
		f := &d.fields[i]
		if f.nullIdx >= 0 {
			br, n := readVarint(p[pos:])
			if n <= 0 {
				return d.fail(f, errTruncatedOrBad(n))
			}
			pos += n
			if br == f.nullIdx {
				nulls[i] = true
				continue
			}
			if br != 1-f.nullIdx {
				return d.fail(f, fmt.Errorf("Avro union index %d out of range", br))
			}
		}
		nulls[i] = false
		switch f.read {
		case frLong, frInt:
			v, n := readVarint(p[pos:])
			if n <= 0 {
				return d.fail(f, errTruncatedOrBad(n))
			}
			pos += n
			if f.read == frInt && (v < math.MinInt32 || v > math.MaxInt32) {
				return d.fail(f, errIntRange)
			}
			if f.mul != 1 {
				if v > math.MaxInt64/f.mul || v < math.MinInt64/f.mul {
					return d.fail(f, fmt.Errorf("value %d overflows", v))
				}
				v *= f.mul
			}
			vals[i] = uint64(v)
		case frBytes:
			l, n := readVarint(p[pos:])
			if n <= 0 {
				return d.fail(f, errTruncatedOrBad(n))
			}
			pos += n
			if l < 0 || l > int64(len(p)-pos) {
				return d.fail(f, errTruncated)
			}
			vals[i] = uint64(pos)<<32 | uint64(l)
			pos += int(l)
		case frBool:
			if pos >= len(p) {
				return d.fail(f, errTruncated)
			}
			if p[pos] > 1 {
				return d.fail(f, errors.New("bad Avro boolean"))
			}
			vals[i] = uint64(p[pos])
			pos++
		case frFloat:
			if len(p)-pos < 4 {
				return d.fail(f, errTruncated)
			}
			vals[i] = math.Float64bits(float64(math.Float32frombits(binary.LittleEndian.Uint32(p[pos:]))))
			pos += 4
		case frDouble:
			if len(p)-pos < 8 {
				return d.fail(f, errTruncated)
			}
			vals[i] = binary.LittleEndian.Uint64(p[pos:])
			pos += 8
		}
	}
	if pos != len(p) {
		return fmt.Errorf("schema: decode Avro: %w (%d of %d bytes read)", errTrailing, pos, len(p))
	}
	d.buf = p
	return nil
}

func errTruncatedOrBad(n int) error {
	if n == 0 {
		return errTruncated
	}
	return errVarint
}

func (d *avroFlatDecoder) fail(f *flatField, err error) error {
	return fmt.Errorf("schema: decode Avro: field %s: %w", f.name, err)
}

// readVarint reads a zig-zag varint; n is the bytes read, 0 when truncated, -1 when malformed.
func readVarint(b []byte) (int64, int) {
	if len(b) > 0 && b[0] < 0x80 { // one byte: small numbers, union branches, short lengths
		return int64(b[0]>>1) ^ -int64(b[0]&1), 1
	}
	return readVarintSlow(b)
}

func readVarintSlow(b []byte) (int64, int) {
	var v uint64
	if len(b) >= 10 {
		// Fast path: no bounds checks inside the loop.
		for i := 0; i < 10; i++ {
			c := b[i]
			v |= uint64(c&0x7f) << (7 * uint(i))
			if c < 0x80 {
				return int64(v>>1) ^ -int64(v&1), i + 1
			}
		}
		return 0, -1
	}
	for i, c := range b {
		v |= uint64(c&0x7f) << (7 * uint(i))
		if c < 0x80 {
			return int64(v>>1) ^ -int64(v&1), i + 1
		}
	}
	return 0, 0
}

// bind caches the typed builders of bs in the fields.
func (d *avroFlatDecoder) bind(bs []array.Builder) {
	for i := range d.fields {
		f := &d.fields[i]
		if f.col < 0 {
			continue
		}
		b := bs[f.col]
		f.any = b
		switch f.kind {
		case fkInt64:
			f.i64 = b.(*array.Int64Builder)
		case fkTimestamp:
			f.ts = b.(*array.TimestampBuilder)
		case fkInt32:
			f.i32 = b.(*array.Int32Builder)
		case fkDate32:
			f.d32 = b.(*array.Date32Builder)
		case fkTime64:
			f.t64 = b.(*array.Time64Builder)
		case fkString:
			f.bin = b.(*array.StringBuilder).BinaryBuilder
		case fkBinary:
			f.bin = b.(*array.BinaryBuilder)
		case fkBool:
			f.bl = b.(*array.BooleanBuilder)
		case fkFloat32:
			f.f32 = b.(*array.Float32Builder)
		case fkFloat64:
			f.f64 = b.(*array.Float64Builder)
		}
	}
	d.bound = bs
}

func (d *avroFlatDecoder) emit(bs []array.Builder) {
	if len(d.bound) != len(bs) || len(bs) == 0 || &d.bound[0] != &bs[0] {
		d.bind(bs)
	}
	p := d.buf
	for i := range d.fields {
		f := &d.fields[i]
		if f.col < 0 {
			continue
		}
		if d.nulls[i] {
			f.any.AppendNull()
			continue
		}
		v := d.vals[i]
		switch f.kind {
		case fkInt64:
			f.i64.Append(int64(v))
		case fkTimestamp:
			f.ts.Append(arrow.Timestamp(v))
		case fkString, fkBinary:
			off, n := v>>32, v&0xffffffff
			f.bin.Append(p[off : off+n])
		case fkInt32:
			f.i32.Append(int32(v))
		case fkDate32:
			f.d32.Append(arrow.Date32(v))
		case fkTime64:
			f.t64.Append(arrow.Time64(v))
		case fkBool:
			f.bl.Append(v != 0)
		case fkFloat32:
			f.f32.Append(float32(math.Float64frombits(v)))
		case fkFloat64:
			f.f64.Append(math.Float64frombits(v))
		}
	}
	for _, f := range d.defaults {
		f.fill(bs[f.col])
	}
}
