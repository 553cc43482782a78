package schema

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/hamba/avro/v2"
)

var (
	errTruncated = errors.New("truncated Avro payload")
	errVarint    = errors.New("malformed Avro varint")
	errTrailing  = errors.New("trailing bytes after Avro record")
)

// maxZeroSizeItems bounds arrays and maps whose items take no bytes (null, empty records), which a
// corrupt count could otherwise make loop for ages.
const maxZeroSizeItems = 1 << 20

// maxDepth bounds the nesting of recursive records while skipping.
const maxDepth = 512

// avroRow is the scratch state of one Avro decoder: the payload being read, a sticky error, and the
// tape the first pass fills and the second pass drains.
type avroRow struct {
	buf   []byte
	pos   int
	err   error
	tape  []uint64
	ti    int
	depth int
}

// step is the first pass for one value: read it, check it, push it on the tape.
type step func(r *avroRow)

// emitFn is the second pass for one value: pop it from the tape and append it to b.
type emitFn func(r *avroRow, b array.Builder)

func (r *avroRow) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.pos = len(r.buf)
}

func (r *avroRow) push(v uint64) { r.tape = append(r.tape, v) }

func (r *avroRow) next() uint64 {
	v := r.tape[r.ti]
	r.ti++
	return v
}

// nextBytes pops an offset/length reference into the payload.
func (r *avroRow) nextBytes() []byte {
	v := r.next()
	off, n := v>>32, v&0xffffffff
	return r.buf[off : off+n]
}

func (r *avroRow) long() int64 {
	buf, pos := r.buf, r.pos
	var v uint64
	for s := uint(0); s < 70; s += 7 {
		if pos >= len(buf) {
			r.fail(errTruncated)
			return 0
		}
		c := buf[pos]
		pos++
		v |= uint64(c&0x7f) << s
		if c < 0x80 {
			r.pos = pos
			return int64(v>>1) ^ -int64(v&1)
		}
	}
	r.fail(errVarint)
	return 0
}

func (r *avroRow) int() int64 {
	v := r.long()
	if v < math.MinInt32 || v > math.MaxInt32 {
		r.fail(errors.New("Avro int out of range"))
		return 0
	}
	return v
}

// bytesRef reads a length-prefixed byte string and returns it as an offset/length reference.
func (r *avroRow) bytesRef() uint64 {
	n := r.long()
	if r.err != nil {
		return 0
	}
	if n < 0 || n > int64(len(r.buf)-r.pos) {
		r.fail(errTruncated)
		return 0
	}
	ref := uint64(r.pos)<<32 | uint64(n)
	r.pos += int(n)
	return ref
}

func (r *avroRow) fixedRef(n int) uint64 {
	if n > len(r.buf)-r.pos {
		r.fail(errTruncated)
		return 0
	}
	ref := uint64(r.pos)<<32 | uint64(n)
	r.pos += n
	return ref
}

// blockCount reads the count of the next array or map block; 0 ends the sequence.
func (r *avroRow) blockCount(minItem int) int {
	n := r.long()
	if r.err != nil {
		return 0
	}
	if n < 0 {
		n = -n
		r.long() // block size in bytes
		if n < 0 || r.err != nil {
			r.fail(errors.New("bad Avro block count"))
			return 0
		}
	}
	rem := int64(len(r.buf) - r.pos)
	if (minItem > 0 && n > rem/int64(minItem)) || (minItem == 0 && n > maxZeroSizeItems) {
		r.fail(errTruncated)
		return 0
	}
	return int(n)
}

// avroRowDecoder decodes a top-level Avro value into table columns.
type avroRowDecoder struct {
	row      avroRow
	read     step
	emits    []colEmit
	defaults []colFill
}

type colEmit struct {
	col  int
	emit emitFn
}

type colFill struct {
	col  int
	fill filler
}

func (d *avroRowDecoder) decode(_, payload []byte) error {
	if len(payload) > math.MaxUint32 {
		return errors.New("schema: Avro payload too large")
	}
	r := &d.row
	r.buf, r.pos, r.err, r.tape, r.ti, r.depth = payload, 0, nil, r.tape[:0], 0, 0
	d.read(r)
	if r.err != nil {
		return fmt.Errorf("schema: decode Avro: %w", r.err)
	}
	if r.pos != len(payload) {
		return fmt.Errorf("schema: decode Avro: %w (%d of %d bytes read)", errTrailing, r.pos, len(payload))
	}
	return nil
}

func (d *avroRowDecoder) emit(bs []array.Builder) {
	r := &d.row
	for _, e := range d.emits {
		e.emit(r, bs[e.col])
	}
	for _, f := range d.defaults {
		f.fill(bs[f.col])
	}
}

func newAvroRowDecoder(w avro.Schema, tf []arrow.Field, cols []int) (rowDecoder, error) {
	c := &avroCompiler{skips: map[string]*step{}}
	d := &avroRowDecoder{}
	w = deref(w)
	if rec, ok := w.(*avro.RecordSchema); ok {
		if fd, err := newAvroFlatDecoder(rec, tf, cols); err != nil || fd != nil {
			return fd, err
		}
		read, fields, defaults, err := c.record(rec, tf, "")
		if err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		d.read = read
		for _, f := range fields {
			d.emits = append(d.emits, colEmit{cols[f.j], f.emit})
		}
		for _, f := range defaults {
			d.defaults = append(d.defaults, colFill{cols[f.j], f.fill})
		}
		return d, nil
	}
	j := findField(tf, ValueColumn)
	var dt arrow.DataType
	if j >= 0 {
		dt = tf[j].Type
	}
	read, emit, err := c.compile(w, dt, ValueColumn)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	d.read = read
	if j >= 0 {
		d.emits = append(d.emits, colEmit{cols[j], emit})
	}
	for i, f := range tf {
		if i == j {
			continue
		}
		fill, err := defaultFiller(f)
		if err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		d.defaults = append(d.defaults, colFill{cols[i], fill})
	}
	return d, nil
}

// findField finds a target field by name, exactly or else ignoring case (SQL names are case
// insensitive).
func findField(fs []arrow.Field, name string) int {
	for i, f := range fs {
		if f.Name == name {
			return i
		}
	}
	for i, f := range fs {
		if strings.EqualFold(f.Name, name) {
			return i
		}
	}
	return -1
}

type avroCompiler struct {
	skips map[string]*step // skip steps of records, shared so recursive records terminate
}

type fieldEmit struct {
	j    int
	emit emitFn
}

type fieldFill struct {
	j    int
	fill filler
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// record compiles a writer record read into target fields tf.
func (c *avroCompiler) record(rec *avro.RecordSchema, tf []arrow.Field, path string) (step, []fieldEmit, []fieldFill, error) {
	var steps []step
	var names []string
	var emits []fieldEmit
	used := make([]bool, len(tf))
	for _, wf := range rec.Fields() {
		p := join(path, wf.Name())
		j := findField(tf, columnName(wf))
		if j >= 0 && used[j] {
			j = -1
		}
		var dt arrow.DataType
		if j >= 0 {
			dt = tf[j].Type
			used[j] = true
		}
		st, em, err := c.compile(wf.Type(), dt, p)
		if err != nil {
			return nil, nil, nil, err
		}
		steps = append(steps, st)
		names = append(names, p)
		if j >= 0 {
			emits = append(emits, fieldEmit{j, em})
		}
	}
	var fills []fieldFill
	for j, f := range tf {
		if used[j] {
			continue
		}
		fill, err := defaultFiller(f)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		fills = append(fills, fieldFill{j, fill})
	}
	read := func(r *avroRow) {
		for i, s := range steps {
			s(r)
			if r.err != nil {
				r.err = fmt.Errorf("field %s: %w", names[i], r.err)
				return
			}
		}
	}
	return read, emits, fills, nil
}

func mismatch(w avro.Schema, dt arrow.DataType, path string) error {
	return fmt.Errorf("field %s: cannot read Avro %s as %s", path, w.String(), dt)
}

// compile returns the two passes reading writer schema w into a value of Arrow type dt. With dt
// nil the value is skipped and emit is nil.
func (c *avroCompiler) compile(w avro.Schema, dt arrow.DataType, path string) (step, emitFn, error) {
	w = deref(w)
	if dt == nil {
		st, err := c.skip(w, path)
		return st, nil, err
	}
	switch w.Type() {
	case avro.Union:
		return c.union(w.(*avro.UnionSchema), dt, path)
	case avro.Null:
		return func(*avroRow) {}, func(_ *avroRow, b array.Builder) { b.AppendNull() }, nil
	}
	if dt.ID() == arrow.DECIMAL128 {
		return c.decimal(w, dt.(*arrow.Decimal128Type), path)
	}
	switch w.Type() {
	case avro.Boolean:
		if dt.ID() != arrow.BOOL {
			return nil, nil, mismatch(w, dt, path)
		}
		return func(r *avroRow) {
				if r.pos >= len(r.buf) {
					r.fail(errTruncated)
					return
				}
				v := r.buf[r.pos]
				if v > 1 {
					r.fail(errors.New("bad Avro boolean"))
					return
				}
				r.pos++
				r.push(uint64(v))
			}, func(r *avroRow, b array.Builder) {
				b.(*array.BooleanBuilder).Append(r.next() != 0)
			}, nil
	case avro.Int, avro.Long:
		return c.integer(w, dt, path)
	case avro.Float, avro.Double:
		var rd func(r *avroRow) float64
		if w.Type() == avro.Float {
			rd = func(r *avroRow) float64 {
				if len(r.buf)-r.pos < 4 {
					r.fail(errTruncated)
					return 0
				}
				v := math.Float32frombits(binary.LittleEndian.Uint32(r.buf[r.pos:]))
				r.pos += 4
				return float64(v)
			}
		} else {
			rd = func(r *avroRow) float64 {
				if len(r.buf)-r.pos < 8 {
					r.fail(errTruncated)
					return 0
				}
				v := math.Float64frombits(binary.LittleEndian.Uint64(r.buf[r.pos:]))
				r.pos += 8
				return v
			}
		}
		em, ok := floatEmit(dt)
		if !ok {
			return nil, nil, mismatch(w, dt, path)
		}
		return func(r *avroRow) { r.push(math.Float64bits(rd(r))) }, em, nil
	case avro.String, avro.Bytes:
		em, ok := bytesEmit(dt, -1)
		if !ok {
			return nil, nil, mismatch(w, dt, path)
		}
		return func(r *avroRow) { r.push(r.bytesRef()) }, em, nil
	case avro.Fixed:
		size := w.(*avro.FixedSchema).Size()
		em, ok := bytesEmit(dt, size)
		if !ok {
			return nil, nil, mismatch(w, dt, path)
		}
		return func(r *avroRow) { r.push(r.fixedRef(size)) }, em, nil
	case avro.Enum:
		if dt.ID() != arrow.STRING {
			return nil, nil, mismatch(w, dt, path)
		}
		syms := w.(*avro.EnumSchema).Symbols()
		bs := make([][]byte, len(syms))
		for i, s := range syms {
			bs[i] = []byte(s)
		}
		n := int64(len(syms))
		return func(r *avroRow) {
				i := r.long()
				if r.err == nil && (i < 0 || i >= n) {
					r.fail(fmt.Errorf("Avro enum index %d out of range", i))
				}
				r.push(uint64(i))
			}, func(r *avroRow, b array.Builder) {
				b.(*array.StringBuilder).BinaryBuilder.Append(bs[r.next()])
			}, nil
	case avro.Record:
		st, ok := dt.(*arrow.StructType)
		if !ok {
			return nil, nil, mismatch(w, dt, path)
		}
		read, emits, fills, err := c.record(w.(*avro.RecordSchema), st.Fields(), path)
		if err != nil {
			return nil, nil, err
		}
		return read, func(r *avroRow, b array.Builder) {
			sb := b.(*array.StructBuilder)
			sb.Append(true)
			for _, e := range emits {
				e.emit(r, sb.FieldBuilder(e.j))
			}
			for _, f := range fills {
				f.fill(sb.FieldBuilder(f.j))
			}
		}, nil
	case avro.Array:
		lt, ok := dt.(*arrow.ListType)
		if !ok {
			return nil, nil, mismatch(w, dt, path)
		}
		items := w.(*avro.ArraySchema).Items()
		ist, iem, err := c.compile(items, lt.Elem(), path+"[]")
		if err != nil {
			return nil, nil, err
		}
		min := minSize(items, map[string]bool{})
		return func(r *avroRow) {
				at := len(r.tape)
				r.push(0)
				total := 0
				for {
					n := r.blockCount(min)
					if n == 0 || r.err != nil {
						break
					}
					for i := 0; i < n && r.err == nil; i++ {
						ist(r)
					}
					total += n
					if min == 0 && total > maxZeroSizeItems {
						r.fail(errors.New("Avro array too long"))
					}
				}
				r.tape[at] = uint64(total)
			}, func(r *avroRow, b array.Builder) {
				lb := b.(*array.ListBuilder)
				n := int(r.next())
				lb.Append(true)
				vb := lb.ValueBuilder()
				for i := 0; i < n; i++ {
					iem(r, vb)
				}
			}, nil
	case avro.Map:
		mt, ok := dt.(*arrow.MapType)
		if !ok || mt.KeyType().ID() != arrow.STRING {
			return nil, nil, mismatch(w, dt, path)
		}
		vals := w.(*avro.MapSchema).Values()
		vst, vem, err := c.compile(vals, mt.ItemType(), path+"{}")
		if err != nil {
			return nil, nil, err
		}
		min := 1 + minSize(vals, map[string]bool{})
		return func(r *avroRow) {
				at := len(r.tape)
				r.push(0)
				total := 0
				for {
					n := r.blockCount(min)
					if n == 0 || r.err != nil {
						break
					}
					for i := 0; i < n && r.err == nil; i++ {
						r.push(r.bytesRef())
						vst(r)
					}
					total += n
				}
				r.tape[at] = uint64(total)
			}, func(r *avroRow, b array.Builder) {
				mb := b.(*array.MapBuilder)
				n := int(r.next())
				mb.Append(true)
				kb := mb.KeyBuilder().(*array.StringBuilder)
				ib := mb.ItemBuilder()
				for i := 0; i < n; i++ {
					kb.BinaryBuilder.Append(r.nextBytes())
					vem(r, ib)
				}
			}, nil
	}
	return nil, nil, mismatch(w, dt, path)
}

func (c *avroCompiler) union(u *avro.UnionSchema, dt arrow.DataType, path string) (step, emitFn, error) {
	if ut, isDense := dt.(*arrow.DenseUnionType); isDense {
		return c.denseUnion(u, ut, path)
	}
	inner, nullIdx, ok := nullableBranch(u)
	if inner == nil {
		return nil, nil, fmt.Errorf("unsupported union %s in field %s", u.String(), path)
	}
	ist, iem, err := c.compile(inner, dt, path)
	if err != nil {
		return nil, nil, err
	}
	if !ok { // single-branch union
		return func(r *avroRow) {
			if i := r.long(); r.err == nil && i != 0 {
				r.fail(fmt.Errorf("Avro union index %d out of range", i))
				return
			}
			ist(r)
		}, iem, nil
	}
	nullI := int64(nullIdx)
	valI := 1 - nullI
	return func(r *avroRow) {
			i := r.long()
			switch {
			case r.err != nil:
			case i == nullI:
				r.push(0)
			case i == valI:
				r.push(1)
				ist(r)
			default:
				r.fail(fmt.Errorf("Avro union index %d out of range", i))
			}
		}, func(r *avroRow, b array.Builder) {
			if r.next() == 0 {
				b.AppendNull()
				return
			}
			iem(r, b)
		}, nil
}

// unit returns the size of a time unit in nanoseconds.
func unitNanos(u arrow.TimeUnit) int64 {
	switch u {
	case arrow.Second:
		return 1e9
	case arrow.Millisecond:
		return 1e6
	case arrow.Microsecond:
		return 1e3
	}
	return 1
}

// integer compiles Avro int/long (with their logical types) into integer-like or float targets.
func (c *avroCompiler) integer(w avro.Schema, dt arrow.DataType, path string) (step, emitFn, error) {
	isInt := w.Type() == avro.Int
	var lt avro.LogicalType
	if l := logicalOf(w); l != nil {
		lt = l.Type()
	}
	// Unit of the writer value in nanoseconds (0: plain number, -1: days).
	var wUnit int64
	switch lt {
	case avro.TimestampMillis, avro.LocalTimestampMillis, avro.TimeMillis:
		wUnit = 1e6
	case avro.TimestampMicros, avro.LocalTimestampMicros, avro.TimeMicros:
		wUnit = 1e3
	case avro.Date:
		wUnit = -1
	}
	isTime := lt == avro.TimeMillis || lt == avro.TimeMicros
	isTS := wUnit > 0 && !isTime
	mul, div := int64(1), int64(1)
	switch dt.ID() {
	case arrow.FLOAT32, arrow.FLOAT64:
		if wUnit != 0 {
			return nil, nil, mismatch(w, dt, path)
		}
		em, _ := floatEmit(dt)
		rd := (*avroRow).long
		if isInt {
			rd = (*avroRow).int
		}
		return func(r *avroRow) { r.push(math.Float64bits(float64(rd(r)))) }, em, nil
	case arrow.TIMESTAMP:
		if !isTS {
			return nil, nil, mismatch(w, dt, path)
		}
		mul, div = scale(wUnit, unitNanos(dt.(*arrow.TimestampType).Unit))
	case arrow.TIME32, arrow.TIME64:
		if !isTime {
			return nil, nil, mismatch(w, dt, path)
		}
		var u arrow.TimeUnit
		if t, ok := dt.(*arrow.Time32Type); ok {
			u = t.Unit
		} else {
			u = dt.(*arrow.Time64Type).Unit
		}
		mul, div = scale(wUnit, unitNanos(u))
	case arrow.DATE32, arrow.DATE64:
		if wUnit != -1 {
			return nil, nil, mismatch(w, dt, path)
		}
		if dt.ID() == arrow.DATE64 {
			mul = 86400000
		}
	default:
		if wUnit != 0 {
			return nil, nil, mismatch(w, dt, path)
		}
	}
	lo, hi, ok := intRange(dt)
	app := int64Appender(dt)
	if !ok || app == nil {
		return nil, nil, mismatch(w, dt, path)
	}
	em := func(r *avroRow, b array.Builder) { app(b, r.next()) }
	// Specialise the common cases: a long into Int64 and an int into Int32 need no checks.
	if mul == 1 && div == 1 {
		switch {
		case !isInt && dt.ID() == arrow.INT64:
			return func(r *avroRow) { r.push(uint64(r.long())) }, func(r *avroRow, b array.Builder) {
				b.(*array.Int64Builder).Append(int64(r.next()))
			}, nil
		case !isInt && dt.ID() == arrow.TIMESTAMP:
			return func(r *avroRow) { r.push(uint64(r.long())) }, func(r *avroRow, b array.Builder) {
				b.(*array.TimestampBuilder).Append(arrow.Timestamp(r.next()))
			}, nil
		case isInt && dt.ID() == arrow.INT32:
			return func(r *avroRow) { r.push(uint64(r.int())) }, func(r *avroRow, b array.Builder) {
				b.(*array.Int32Builder).Append(int32(r.next()))
			}, nil
		}
	}
	return func(r *avroRow) {
		var v int64
		if isInt {
			v = r.int()
		} else {
			v = r.long()
		}
		if r.err != nil {
			return
		}
		if mul != 1 {
			if v > math.MaxInt64/mul || v < math.MinInt64/mul {
				r.fail(fmt.Errorf("value %d overflows %s", v, dt))
				return
			}
			v *= mul
		}
		if div != 1 {
			q := v / div
			if v%div != 0 && v < 0 {
				q-- // floor, so instants before the epoch round down
			}
			v = q
		}
		if v < lo || v > hi {
			r.fail(fmt.Errorf("value %d out of range for %s", v, dt))
			return
		}
		r.push(uint64(v))
	}, em, nil
}

// scale returns the multiplier or divisor converting from writer to target unit (both in ns).
func scale(wUnit, tUnit int64) (mul, div int64) {
	if wUnit >= tUnit {
		return wUnit / tUnit, 1
	}
	return 1, tUnit / wUnit
}

func floatEmit(dt arrow.DataType) (emitFn, bool) {
	switch dt.ID() {
	case arrow.FLOAT32:
		return func(r *avroRow, b array.Builder) {
			b.(*array.Float32Builder).Append(float32(math.Float64frombits(r.next())))
		}, true
	case arrow.FLOAT64:
		return func(r *avroRow, b array.Builder) {
			b.(*array.Float64Builder).Append(math.Float64frombits(r.next()))
		}, true
	}
	return nil, false
}

// bytesEmit appends a payload reference to a String, Binary or (when size matches) FixedSizeBinary
// builder. size is -1 for variable-length writer values.
func bytesEmit(dt arrow.DataType, size int) (emitFn, bool) {
	switch dt.ID() {
	case arrow.STRING:
		return func(r *avroRow, b array.Builder) {
			b.(*array.StringBuilder).BinaryBuilder.Append(r.nextBytes())
		}, true
	case arrow.BINARY:
		return func(r *avroRow, b array.Builder) {
			b.(*array.BinaryBuilder).Append(r.nextBytes())
		}, true
	case arrow.FIXED_SIZE_BINARY:
		if size < 0 || dt.(*arrow.FixedSizeBinaryType).ByteWidth != size {
			return nil, false
		}
		return func(r *avroRow, b array.Builder) {
			b.(*array.FixedSizeBinaryBuilder).Append(r.nextBytes())
		}, true
	}
	return nil, false
}

// decimal compiles an Avro decimal (bytes or fixed) into Decimal128. The first pass converts and
// checks the value and pushes its two halves.
func (c *avroCompiler) decimal(w avro.Schema, dt *arrow.Decimal128Type, path string) (step, emitFn, error) {
	l, ok := logicalOf(w).(*avro.DecimalLogicalSchema)
	if !ok || int32(l.Scale()) != dt.Scale {
		return nil, nil, mismatch(w, dt, path)
	}
	var ref func(r *avroRow) uint64
	switch w.Type() {
	case avro.Bytes:
		ref = (*avroRow).bytesRef
	case avro.Fixed:
		size := w.(*avro.FixedSchema).Size()
		ref = func(r *avroRow) uint64 { return r.fixedRef(size) }
	default:
		return nil, nil, mismatch(w, dt, path)
	}
	prec := dt.Precision
	return func(r *avroRow) {
			v := ref(r)
			if r.err != nil {
				return
			}
			off, n := v>>32, v&0xffffffff
			num, ok := decimalFromBE(r.buf[off : off+n])
			if !ok || !num.FitsInPrecision(prec) {
				r.fail(fmt.Errorf("decimal does not fit %s", dt))
				return
			}
			r.push(uint64(num.HighBits()))
			r.push(num.LowBits())
		}, func(r *avroRow, b array.Builder) {
			hi := int64(r.next())
			lo := r.next()
			b.(*array.Decimal128Builder).Append(decimal128.New(hi, lo))
		}, nil
}

// decimalFromBE converts a big-endian two's complement integer of any length to a Num.
func decimalFromBE(b []byte) (decimal128.Num, bool) {
	neg := len(b) > 0 && b[0]&0x80 != 0
	ext := byte(0)
	if neg {
		ext = 0xff
	}
	for len(b) > 16 {
		if b[0] != ext {
			return decimal128.Num{}, false
		}
		b = b[1:]
	}
	if len(b) == 16 && (b[0]&0x80 != 0) != neg {
		return decimal128.Num{}, false
	}
	var buf [16]byte
	if neg {
		for i := range buf {
			buf[i] = 0xff
		}
	}
	copy(buf[16-len(b):], b)
	return decimal128.New(int64(binary.BigEndian.Uint64(buf[:8])), binary.BigEndian.Uint64(buf[8:])), true
}

// minSize is the fewest bytes a value of w takes, to bound block counts.
func minSize(w avro.Schema, visiting map[string]bool) int {
	w = deref(w)
	switch w.Type() {
	case avro.Null:
		return 0
	case avro.Float:
		return 4
	case avro.Double:
		return 8
	case avro.Fixed:
		return w.(*avro.FixedSchema).Size()
	case avro.Record:
		rec := w.(*avro.RecordSchema)
		if visiting[rec.FullName()] {
			return 0
		}
		visiting[rec.FullName()] = true
		defer delete(visiting, rec.FullName())
		n := 0
		for _, f := range rec.Fields() {
			n += minSize(f.Type(), visiting)
		}
		return n
	}
	return 1
}

// skip compiles a first pass that checks and skips a value of w without pushing anything.
func (c *avroCompiler) skip(w avro.Schema, path string) (step, error) {
	w = deref(w)
	switch w.Type() {
	case avro.Null:
		return func(*avroRow) {}, nil
	case avro.Boolean:
		return func(r *avroRow) { r.fixedRef(1) }, nil
	case avro.Int:
		return func(r *avroRow) { r.int() }, nil
	case avro.Long:
		return func(r *avroRow) { r.long() }, nil
	case avro.Float:
		return func(r *avroRow) { r.fixedRef(4) }, nil
	case avro.Double:
		return func(r *avroRow) { r.fixedRef(8) }, nil
	case avro.String, avro.Bytes:
		return func(r *avroRow) { r.bytesRef() }, nil
	case avro.Fixed:
		n := w.(*avro.FixedSchema).Size()
		return func(r *avroRow) { r.fixedRef(n) }, nil
	case avro.Enum:
		n := int64(len(w.(*avro.EnumSchema).Symbols()))
		return func(r *avroRow) {
			if i := r.long(); r.err == nil && (i < 0 || i >= n) {
				r.fail(fmt.Errorf("Avro enum index %d out of range", i))
			}
		}, nil
	case avro.Union:
		var branches []step
		for _, t := range w.(*avro.UnionSchema).Types() {
			s, err := c.skip(t, path)
			if err != nil {
				return nil, err
			}
			branches = append(branches, s)
		}
		return func(r *avroRow) {
			i := r.long()
			if r.err != nil {
				return
			}
			if i < 0 || i >= int64(len(branches)) {
				r.fail(fmt.Errorf("Avro union index %d out of range", i))
				return
			}
			branches[i](r)
		}, nil
	case avro.Array, avro.Map:
		var item step
		var err error
		var min int
		if a, ok := w.(*avro.ArraySchema); ok {
			item, err = c.skip(a.Items(), path+"[]")
			min = minSize(a.Items(), map[string]bool{})
		} else {
			m := w.(*avro.MapSchema)
			var v step
			v, err = c.skip(m.Values(), path+"{}")
			item = func(r *avroRow) { r.bytesRef(); v(r) }
			min = 1 + minSize(m.Values(), map[string]bool{})
		}
		if err != nil {
			return nil, err
		}
		return func(r *avroRow) {
			total := 0
			for {
				n := r.long()
				if r.err != nil || n == 0 {
					return
				}
				if n < 0 {
					// A block with a byte size can be skipped in one jump.
					size := r.long()
					if r.err != nil {
						return
					}
					if size < 0 || size > int64(len(r.buf)-r.pos) || n == math.MinInt64 {
						r.fail(errTruncated)
						return
					}
					r.pos += int(size)
					continue
				}
				rem := int64(len(r.buf) - r.pos)
				if (min > 0 && n > rem/int64(min)) || total+int(min0(n)) > maxZeroSizeItems && min == 0 {
					r.fail(errTruncated)
					return
				}
				total += int(n)
				for i := int64(0); i < n && r.err == nil; i++ {
					item(r)
				}
			}
		}, nil
	case avro.Record:
		rec := w.(*avro.RecordSchema)
		if s, ok := c.skips[rec.FullName()]; ok {
			// A recursive reference: call through the pointer filled in below, with a depth guard.
			return func(r *avroRow) {
				r.depth++
				if r.depth > maxDepth {
					r.fail(errors.New("Avro record nesting too deep"))
					return
				}
				(*s)(r)
				r.depth--
			}, nil
		}
		var self step
		c.skips[rec.FullName()] = &self
		var fields []step
		for _, f := range rec.Fields() {
			s, err := c.skip(f.Type(), join(path, f.Name()))
			if err != nil {
				return nil, err
			}
			fields = append(fields, s)
		}
		self = func(r *avroRow) {
			for _, f := range fields {
				f(r)
				if r.err != nil {
					return
				}
			}
		}
		delete(c.skips, rec.FullName())
		return self, nil
	}
	return nil, fmt.Errorf("field %s: cannot skip Avro type %s", path, w.Type())
}

func min0(n int64) int64 {
	if n > maxZeroSizeItems {
		return maxZeroSizeItems + 1
	}
	return n
}

// nullBranch marks a null union value on the tape.
const nullBranch = math.MaxUint64

// denseUnion reads an Avro union into a dense union column; writer branches are matched to the
// column's children by name.
func (c *avroCompiler) denseUnion(u *avro.UnionSchema, dt *arrow.DenseUnionType, path string) (step, emitFn, error) {
	branches := u.Types()
	steps := make([]step, len(branches))
	emits := make([]emitFn, len(branches))
	codes := make([]arrow.UnionTypeCode, len(branches))
	childIdx := make([]int, len(branches))
	isNull := make([]bool, len(branches))
	for i, t := range branches {
		if t.Type() == avro.Null {
			isNull[i] = true
			steps[i] = func(*avroRow) {}
			continue
		}
		k := findField(dt.Fields(), branchName(t))
		if k < 0 {
			return nil, nil, fmt.Errorf("field %s: union branch %s is not a child of %s", path, branchName(t), dt)
		}
		st, em, err := c.compile(t, dt.Fields()[k].Type, path+"."+branchName(t))
		if err != nil {
			return nil, nil, err
		}
		steps[i], emits[i], codes[i], childIdx[i] = st, em, dt.TypeCodes()[k], k
	}
	n := int64(len(branches))
	return func(r *avroRow) {
			i := r.long()
			if r.err != nil {
				return
			}
			if i < 0 || i >= n {
				r.fail(fmt.Errorf("Avro union index %d out of range", i))
				return
			}
			if isNull[i] {
				r.push(nullBranch)
				return
			}
			r.push(uint64(i))
			steps[i](r)
		}, func(r *avroRow, b array.Builder) {
			i := r.next()
			if i == nullBranch {
				b.AppendNull()
				return
			}
			ub := b.(*array.DenseUnionBuilder)
			ub.Append(codes[i])
			emits[i](r, ub.Child(childIdx[i]))
		}, nil
}
