package schema

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/hamba/avro/v2"
)

// Encoder turns Arrow rows into message payloads (for sinks).
type Encoder interface {
	// Encode appends the payload of row `row` of rec to dst and returns the extended slice.
	Encode(rec arrow.Record, row int, dst []byte) ([]byte, error)
}

// KeyEncoder is implemented by encoders of KEY_VALUE SEPARATED schemas: the key goes into the
// message key and Encode returns the value only.
type KeyEncoder interface {
	Encoder
	EncodeKey(rec arrow.Record, row int, dst []byte) ([]byte, error)
}

// NewEncoder compiles an encoder writing payloads in schema info from rows of src. Columns are
// matched to schema fields by name; a schema field with no column is written as its default or
// null, and is an error when it has neither.
func NewEncoder(info Info, src *arrow.Schema) (Encoder, error) {
	cols := make([]int, src.NumFields())
	for i := range cols {
		cols[i] = i
	}
	enc, err := newRowEncoder(info, src.Fields(), cols)
	if err != nil {
		return nil, err
	}
	ce := &checkedEncoder{enc: enc, src: src}
	if ke, ok := enc.(KeyEncoder); ok {
		return &checkedKeyEncoder{checkedEncoder: ce, ke: ke}, nil
	}
	return ce, nil
}

// checkedEncoder checks each new record schema against the one the encoder was compiled for.
type checkedEncoder struct {
	enc     Encoder
	src     *arrow.Schema
	checked *arrow.Schema
}

func (e *checkedEncoder) check(rec arrow.Record, row int) error {
	if row < 0 || row >= int(rec.NumRows()) {
		return fmt.Errorf("schema: row %d out of range", row)
	}
	if s := rec.Schema(); s != e.checked {
		if err := checkColumns(s, e.src); err != nil {
			return err
		}
		e.checked = s
	}
	return nil
}

func (e *checkedEncoder) Encode(rec arrow.Record, row int, dst []byte) ([]byte, error) {
	if err := e.check(rec, row); err != nil {
		return dst, err
	}
	return e.enc.Encode(rec, row, dst)
}

type checkedKeyEncoder struct {
	*checkedEncoder
	ke KeyEncoder
}

func (e *checkedKeyEncoder) EncodeKey(rec arrow.Record, row int, dst []byte) ([]byte, error) {
	if err := e.check(rec, row); err != nil {
		return dst, err
	}
	return e.ke.EncodeKey(rec, row, dst)
}

// rowEncoder encodes one row from the columns cols (indices into the record) described by fields.
type rowEncoder struct {
	enc func(rec arrow.Record, row int, dst []byte) ([]byte, error)
}

func (e *rowEncoder) Encode(rec arrow.Record, row int, dst []byte) ([]byte, error) {
	return e.enc(rec, row, dst)
}

func newRowEncoder(info Info, fields []arrow.Field, cols []int) (Encoder, error) {
	switch k := kind(info); k {
	case TypeAvro:
		s, err := parseAvro(info.Schema)
		if err != nil {
			return nil, fmt.Errorf("schema: AVRO schema: %w", err)
		}
		enc, err := newAvroEncoder(s, fields, cols)
		if err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		return &rowEncoder{enc}, nil
	case TypeJSON:
		s, err := parseAvro(info.Schema)
		if err != nil {
			return nil, fmt.Errorf("schema: JSON schema: %w", err)
		}
		enc, err := newJSONEncoder(s, fields, cols)
		if err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		return &rowEncoder{enc}, nil
	case TypeKeyValue:
		return newKVEncoder(info, fields, cols)
	default:
		enc, err := newPrimitiveEncoder(k, fields, cols)
		if err != nil {
			return nil, err
		}
		return &rowEncoder{enc}, nil
	}
}

// encFn appends the Avro encoding of arr[row].
type encFn func(arr arrow.Array, row int, dst []byte) ([]byte, error)

func appendLong(dst []byte, v int64) []byte {
	return binary.AppendUvarint(dst, uint64(v<<1)^uint64(v>>63))
}

func newAvroEncoder(w avro.Schema, fields []arrow.Field, cols []int) (func(arrow.Record, int, []byte) ([]byte, error), error) {
	w = deref(w)
	rec, ok := w.(*avro.RecordSchema)
	if !ok {
		j := findField(fields, ValueColumn)
		if j < 0 {
			return nil, fmt.Errorf("no %s column for a non-record schema", ValueColumn)
		}
		fn, err := avroEnc(w, fields[j].Type, ValueColumn)
		if err != nil {
			return nil, err
		}
		c := cols[j]
		return func(r arrow.Record, row int, dst []byte) ([]byte, error) {
			return fn(r.Column(c), row, dst)
		}, nil
	}
	type part struct {
		col   int // -1: constant
		fn    encFn
		konst []byte
		name  string
	}
	var parts []part
	for _, f := range rec.Fields() {
		j := findField(fields, columnName(f))
		if j < 0 {
			k, err := avroDefault(f)
			if err != nil {
				return nil, err
			}
			parts = append(parts, part{col: -1, konst: k, name: f.Name()})
			continue
		}
		fn, err := avroEnc(f.Type(), fields[j].Type, f.Name())
		if err != nil {
			return nil, err
		}
		parts = append(parts, part{col: cols[j], fn: fn, name: f.Name()})
	}
	return func(r arrow.Record, row int, dst []byte) ([]byte, error) {
		var err error
		for _, p := range parts {
			if p.col < 0 {
				dst = append(dst, p.konst...)
				continue
			}
			if dst, err = p.fn(r.Column(p.col), row, dst); err != nil {
				return dst, fmt.Errorf("schema: encode field %s: %w", p.name, err)
			}
		}
		return dst, nil
	}, nil
}

// avroDefault returns the encoding of a field's default (null for a nullable field without one).
func avroDefault(f *avro.Field) ([]byte, error) {
	t := deref(f.Type())
	if !f.HasDefault() {
		if _, nullIdx, ok := nullableBranch(t); ok {
			return appendLong(nil, int64(nullIdx)), nil
		}
		if t.Type() == avro.Null {
			return nil, nil
		}
		return nil, fmt.Errorf("field %s has no column and no default", f.Name())
	}
	if u, ok := t.(*avro.UnionSchema); ok {
		// A union default is of the first branch.
		b, err := avro.Marshal(u.Types()[0], f.Default())
		if err != nil {
			return nil, fmt.Errorf("field %s: default: %w", f.Name(), err)
		}
		return append([]byte{0}, b...), nil
	}
	b, err := avro.Marshal(t, f.Default())
	if err != nil {
		return nil, fmt.Errorf("field %s: default: %w", f.Name(), err)
	}
	return b, nil
}

var errNull = errors.New("null value for a non-nullable field")

// avroEnc compiles the encoding of Arrow type dt as Avro schema w.
func avroEnc(w avro.Schema, dt arrow.DataType, path string) (encFn, error) {
	w = deref(w)
	bad := func() (encFn, error) {
		return nil, fmt.Errorf("field %s: cannot write %s as Avro %s", path, dt, w.String())
	}
	if u, ok := w.(*avro.UnionSchema); ok {
		if ut, isDense := dt.(*arrow.DenseUnionType); isDense {
			return avroDenseUnionEnc(u, ut, path)
		}
		inner, nullIdx, isNullable := nullableBranch(u)
		if inner == nil {
			return nil, fmt.Errorf("unsupported union %s in field %s", u.String(), path)
		}
		fn, err := avroEnc(inner, dt, path)
		if err != nil {
			return nil, err
		}
		if !isNullable {
			return func(a arrow.Array, i int, dst []byte) ([]byte, error) {
				return fn(a, i, append(dst, 0))
			}, nil
		}
		nullB := appendLong(nil, int64(nullIdx))[0]
		valB := appendLong(nil, int64(1-nullIdx))[0]
		return func(a arrow.Array, i int, dst []byte) ([]byte, error) {
			if a.IsNull(i) {
				return append(dst, nullB), nil
			}
			return fn(a, i, append(dst, valB))
		}, nil
	}
	if w.Type() == avro.Null {
		return func(a arrow.Array, i int, dst []byte) ([]byte, error) { return dst, nil }, nil
	}
	notNull := func(fn encFn) encFn {
		return func(a arrow.Array, i int, dst []byte) ([]byte, error) {
			if a.IsNull(i) {
				return dst, errNull
			}
			return fn(a, i, dst)
		}
	}
	var lt avro.LogicalType
	if l := logicalOf(w); l != nil {
		lt = l.Type()
	}
	if lt == avro.Decimal {
		t, ok := dt.(*arrow.Decimal128Type)
		l := logicalOf(w).(*avro.DecimalLogicalSchema)
		if !ok || int32(l.Scale()) != t.Scale {
			return bad()
		}
		size := -1
		if f, ok := w.(*avro.FixedSchema); ok {
			size = f.Size()
		}
		return notNull(func(a arrow.Array, i int, dst []byte) ([]byte, error) {
			return appendDecimal(dst, a.(*array.Decimal128).Value(i), size)
		}), nil
	}
	switch w.Type() {
	case avro.Boolean:
		if dt.ID() != arrow.BOOL {
			return bad()
		}
		return notNull(func(a arrow.Array, i int, dst []byte) ([]byte, error) {
			if a.(*array.Boolean).Value(i) {
				return append(dst, 1), nil
			}
			return append(dst, 0), nil
		}), nil
	case avro.Int, avro.Long:
		get, unitNs, ok := intGetter(dt)
		if !ok {
			return bad()
		}
		// Target unit of the writer (ns per unit); 0 for plain numbers, -1 for days.
		var wUnit int64
		switch lt {
		case avro.TimestampMillis, avro.LocalTimestampMillis, avro.TimeMillis:
			wUnit = 1e6
		case avro.TimestampMicros, avro.LocalTimestampMicros, avro.TimeMicros:
			wUnit = 1e3
		case avro.Date:
			wUnit = -1
		}
		if (wUnit == 0) != (unitNs == 0) || (wUnit == -1) != (unitNs == -1) {
			return bad()
		}
		isTimeW := lt == avro.TimeMillis || lt == avro.TimeMicros
		isTimeA := dt.ID() == arrow.TIME32 || dt.ID() == arrow.TIME64
		if wUnit > 0 && isTimeW != isTimeA {
			return bad()
		}
		mul, div := int64(1), int64(1)
		switch {
		case wUnit > 0:
			mul, div = scale(unitNs, wUnit)
		case wUnit == -1 && dt.ID() == arrow.DATE64:
			div = msPerDay
		}
		isInt := w.Type() == avro.Int
		return notNull(func(a arrow.Array, i int, dst []byte) ([]byte, error) {
			v := get(a, i)
			if mul != 1 {
				if v > math.MaxInt64/mul || v < math.MinInt64/mul {
					return dst, fmt.Errorf("value %d overflows", v)
				}
				v *= mul
			}
			if div != 1 {
				v = floorDiv(v, div)
			}
			if isInt && (v < math.MinInt32 || v > math.MaxInt32) {
				return dst, fmt.Errorf("value %d out of range for Avro int", v)
			}
			return appendLong(dst, v), nil
		}), nil
	case avro.Float, avro.Double:
		var get func(a arrow.Array, i int) float64
		switch dt.ID() {
		case arrow.FLOAT32:
			get = func(a arrow.Array, i int) float64 { return float64(a.(*array.Float32).Value(i)) }
		case arrow.FLOAT64:
			get = func(a arrow.Array, i int) float64 { return a.(*array.Float64).Value(i) }
		default:
			g, unit, ok := intGetter(dt)
			if !ok || unit != 0 {
				return bad()
			}
			get = func(a arrow.Array, i int) float64 { return float64(g(a, i)) }
		}
		if w.Type() == avro.Float {
			return notNull(func(a arrow.Array, i int, dst []byte) ([]byte, error) {
				return binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(get(a, i)))), nil
			}), nil
		}
		return notNull(func(a arrow.Array, i int, dst []byte) ([]byte, error) {
			return binary.LittleEndian.AppendUint64(dst, math.Float64bits(get(a, i))), nil
		}), nil
	case avro.String, avro.Bytes:
		get, ok := bytesGetter(dt)
		if !ok {
			return bad()
		}
		return notNull(func(a arrow.Array, i int, dst []byte) ([]byte, error) {
			b := get(a, i)
			return append(appendLong(dst, int64(len(b))), b...), nil
		}), nil
	case avro.Fixed:
		size := w.(*avro.FixedSchema).Size()
		get, ok := bytesGetter(dt)
		if !ok {
			return bad()
		}
		return notNull(func(a arrow.Array, i int, dst []byte) ([]byte, error) {
			b := get(a, i)
			if len(b) != size {
				return dst, fmt.Errorf("%d bytes for fixed(%d)", len(b), size)
			}
			return append(dst, b...), nil
		}), nil
	case avro.Enum:
		get, ok := bytesGetter(dt)
		if !ok {
			return bad()
		}
		idx := map[string]int64{}
		for i, s := range w.(*avro.EnumSchema).Symbols() {
			idx[s] = int64(i)
		}
		return notNull(func(a arrow.Array, i int, dst []byte) ([]byte, error) {
			s := get(a, i)
			n, ok := idx[string(s)]
			if !ok {
				return dst, fmt.Errorf("%q is not a symbol of enum %s", s, w.(*avro.EnumSchema).FullName())
			}
			return appendLong(dst, n), nil
		}), nil
	case avro.Record:
		st, ok := dt.(*arrow.StructType)
		if !ok {
			return bad()
		}
		type part struct {
			j     int
			fn    encFn
			konst []byte
		}
		var parts []part
		for _, f := range w.(*avro.RecordSchema).Fields() {
			j := findField(st.Fields(), columnName(f))
			if j < 0 {
				k, err := avroDefault(f)
				if err != nil {
					return nil, fmt.Errorf("field %s: %w", path, err)
				}
				parts = append(parts, part{j: -1, konst: k})
				continue
			}
			fn, err := avroEnc(f.Type(), st.Field(j).Type, join(path, f.Name()))
			if err != nil {
				return nil, err
			}
			parts = append(parts, part{j: j, fn: fn})
		}
		return notNull(func(a arrow.Array, i int, dst []byte) ([]byte, error) {
			s := a.(*array.Struct)
			var err error
			for _, p := range parts {
				if p.j < 0 {
					dst = append(dst, p.konst...)
				} else if dst, err = p.fn(s.Field(p.j), i, dst); err != nil {
					return dst, err
				}
			}
			return dst, nil
		}), nil
	case avro.Array:
		lt, ok := dt.(*arrow.ListType)
		if !ok {
			return bad()
		}
		item, err := avroEnc(w.(*avro.ArraySchema).Items(), lt.Elem(), path+"[]")
		if err != nil {
			return nil, err
		}
		return notNull(func(a arrow.Array, i int, dst []byte) ([]byte, error) {
			l := a.(*array.List)
			start, end := l.ValueOffsets(i)
			if end > start {
				dst = appendLong(dst, end-start)
				vals := l.ListValues()
				var err error
				for k := start; k < end; k++ {
					if dst, err = item(vals, int(k), dst); err != nil {
						return dst, err
					}
				}
			}
			return append(dst, 0), nil
		}), nil
	case avro.Map:
		mt, ok := dt.(*arrow.MapType)
		if !ok {
			return bad()
		}
		keyGet, ok := bytesGetter(mt.KeyType())
		if !ok {
			return bad()
		}
		val, err := avroEnc(w.(*avro.MapSchema).Values(), mt.ItemType(), path+"{}")
		if err != nil {
			return nil, err
		}
		return notNull(func(a arrow.Array, i int, dst []byte) ([]byte, error) {
			m := a.(*array.Map)
			start, end := m.ValueOffsets(i)
			if end > start {
				dst = appendLong(dst, end-start)
				keys, items := m.Keys(), m.Items()
				var err error
				for k := int(start); k < int(end); k++ {
					kb := keyGet(keys, k)
					dst = append(appendLong(dst, int64(len(kb))), kb...)
					if dst, err = val(items, k, dst); err != nil {
						return dst, err
					}
				}
			}
			return append(dst, 0), nil
		}), nil
	}
	return bad()
}

// intGetter reads integer-like Arrow values as int64 and reports their unit in ns (0 for plain
// numbers, -1 for days).
func intGetter(dt arrow.DataType) (func(a arrow.Array, i int) int64, int64, bool) {
	switch t := dt.(type) {
	case *arrow.Int8Type:
		return func(a arrow.Array, i int) int64 { return int64(a.(*array.Int8).Value(i)) }, 0, true
	case *arrow.Int16Type:
		return func(a arrow.Array, i int) int64 { return int64(a.(*array.Int16).Value(i)) }, 0, true
	case *arrow.Int32Type:
		return func(a arrow.Array, i int) int64 { return int64(a.(*array.Int32).Value(i)) }, 0, true
	case *arrow.Int64Type:
		return func(a arrow.Array, i int) int64 { return a.(*array.Int64).Value(i) }, 0, true
	case *arrow.Uint8Type:
		return func(a arrow.Array, i int) int64 { return int64(a.(*array.Uint8).Value(i)) }, 0, true
	case *arrow.Uint16Type:
		return func(a arrow.Array, i int) int64 { return int64(a.(*array.Uint16).Value(i)) }, 0, true
	case *arrow.Uint32Type:
		return func(a arrow.Array, i int) int64 { return int64(a.(*array.Uint32).Value(i)) }, 0, true
	case *arrow.Uint64Type:
		// Travels as the bits of an Avro long.
		return func(a arrow.Array, i int) int64 { return int64(a.(*array.Uint64).Value(i)) }, 0, true
	case *arrow.TimestampType:
		return func(a arrow.Array, i int) int64 { return int64(a.(*array.Timestamp).Value(i)) }, unitNanos(t.Unit), true
	case *arrow.Time32Type:
		return func(a arrow.Array, i int) int64 { return int64(a.(*array.Time32).Value(i)) }, unitNanos(t.Unit), true
	case *arrow.Time64Type:
		return func(a arrow.Array, i int) int64 { return int64(a.(*array.Time64).Value(i)) }, unitNanos(t.Unit), true
	case *arrow.Date32Type:
		return func(a arrow.Array, i int) int64 { return int64(a.(*array.Date32).Value(i)) }, -1, true
	case *arrow.Date64Type:
		return func(a arrow.Array, i int) int64 { return int64(a.(*array.Date64).Value(i)) }, -1, true
	}
	return nil, 0, false
}

func bytesGetter(dt arrow.DataType) (func(a arrow.Array, i int) []byte, bool) {
	switch dt.ID() {
	case arrow.STRING:
		return func(a arrow.Array, i int) []byte { return stringBytes(a.(*array.String), i) }, true
	case arrow.LARGE_STRING:
		return func(a arrow.Array, i int) []byte { return []byte(a.(*array.LargeString).Value(i)) }, true
	case arrow.BINARY:
		return func(a arrow.Array, i int) []byte { return a.(*array.Binary).Value(i) }, true
	case arrow.LARGE_BINARY:
		return func(a arrow.Array, i int) []byte { return a.(*array.LargeBinary).Value(i) }, true
	case arrow.FIXED_SIZE_BINARY:
		return func(a arrow.Array, i int) []byte { return a.(*array.FixedSizeBinary).Value(i) }, true
	}
	return nil, false
}

// appendDecimal writes a decimal as Avro bytes (size -1: minimal two's complement) or fixed(size).
func appendDecimal(dst []byte, n decimal128.Num, size int) ([]byte, error) {
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], uint64(n.HighBits()))
	binary.BigEndian.PutUint64(buf[8:], n.LowBits())
	neg := n.Sign() < 0
	ext := byte(0)
	if neg {
		ext = 0xff
	}
	if size >= 0 {
		if size >= 16 {
			for k := 0; k < size-16; k++ {
				dst = append(dst, ext)
			}
			return append(dst, buf[:]...), nil
		}
		for _, c := range buf[:16-size] {
			if c != ext {
				return dst, fmt.Errorf("decimal does not fit fixed(%d)", size)
			}
		}
		if (buf[16-size]&0x80 != 0) != neg {
			return dst, fmt.Errorf("decimal does not fit fixed(%d)", size)
		}
		return append(dst, buf[16-size:]...), nil
	}
	// Minimal length: drop sign-extension bytes while the sign bit stays right.
	k := 0
	for k < 15 && buf[k] == ext && (buf[k+1]&0x80 != 0) == neg {
		k++
	}
	b := buf[k:]
	return append(appendLong(dst, int64(len(b))), b...), nil
}

// stringBytes returns the bytes of s[i] without copying.
func stringBytes(s *array.String, i int) []byte {
	offs := s.ValueOffsets()
	return s.ValueBytes()[offs[i]-offs[0] : offs[i+1]-offs[0]]
}

// avroDenseUnionEnc writes a dense union column as an Avro union, matching children to branches
// by name; a null child value is written as the null branch.
func avroDenseUnionEnc(u *avro.UnionSchema, dt *arrow.DenseUnionType, path string) (encFn, error) {
	nullIdx := int64(-1)
	for i, t := range u.Types() {
		if t.Type() == avro.Null {
			nullIdx = int64(i)
		}
	}
	fns := make([]encFn, len(dt.Fields()))
	heads := make([][]byte, len(dt.Fields()))
	for k, f := range dt.Fields() {
		found := false
		for i, t := range u.Types() {
			if t.Type() != avro.Null && branchName(t) == f.Name {
				fn, err := avroEnc(t, f.Type, path+"."+f.Name)
				if err != nil {
					return nil, err
				}
				fns[k], heads[k], found = fn, appendLong(nil, int64(i)), true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("field %s: union child %s is not a branch of %s", path, f.Name, u.String())
		}
	}
	return func(a arrow.Array, i int, dst []byte) ([]byte, error) {
		ua := a.(*array.DenseUnion)
		k := ua.ChildID(i)
		child, off := ua.Field(k), int(ua.ValueOffset(i))
		if child.IsNull(off) {
			if nullIdx < 0 {
				return dst, errNull
			}
			return appendLong(dst, nullIdx), nil
		}
		return fns[k](child, off, append(dst, heads[k]...))
	}, nil
}
