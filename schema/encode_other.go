package schema

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/hamba/avro/v2"
)

// jsonEnc appends the JSON text of arr[row].
type jsonEnc func(a arrow.Array, i int, dst []byte) ([]byte, error)

// newJSONEncoder writes a JSON object with the fields of the writer record that have a column,
// in the representation the JSON decoder reads back (numbers for times in the writer's unit, epoch
// days for dates, base64 for bytes).
func newJSONEncoder(w avro.Schema, fields []arrow.Field, cols []int) (func(arrow.Record, int, []byte) ([]byte, error), error) {
	w = deref(w)
	rec, ok := w.(*avro.RecordSchema)
	if !ok {
		j := findField(fields, ValueColumn)
		if j < 0 {
			return nil, fmt.Errorf("no %s column for a non-record schema", ValueColumn)
		}
		fn, err := jsonEncoder(w, fields[j], ValueColumn)
		if err != nil {
			return nil, err
		}
		c := cols[j]
		return func(r arrow.Record, row int, dst []byte) ([]byte, error) { return fn(r.Column(c), row, dst) }, nil
	}
	obj, err := jsonObject(rec, fields, "")
	if err != nil {
		return nil, err
	}
	return func(r arrow.Record, row int, dst []byte) ([]byte, error) {
		return obj(func(j int) arrow.Array { return r.Column(cols[j]) }, row, dst)
	}, nil
}

func jsonObject(rec *avro.RecordSchema, fields []arrow.Field, path string) (func(get func(int) arrow.Array, row int, dst []byte) ([]byte, error), error) {
	type part struct {
		j    int
		key  []byte
		fn   jsonEnc
		name string
	}
	var parts []part
	for _, f := range rec.Fields() {
		j := findField(fields, columnName(f))
		if j < 0 {
			continue // the decoder fills in the default
		}
		fn, err := jsonEncoder(f.Type(), fields[j], join(path, f.Name()))
		if err != nil {
			return nil, err
		}
		parts = append(parts, part{j: j, key: append(appendJSONString(nil, []byte(f.Name())), ':'), fn: fn, name: f.Name()})
	}
	return func(get func(int) arrow.Array, row int, dst []byte) ([]byte, error) {
		dst = append(dst, '{')
		var err error
		for k, p := range parts {
			if k > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, p.key...)
			if dst, err = p.fn(get(p.j), row, dst); err != nil {
				return dst, fmt.Errorf("schema: encode field %s: %w", p.name, err)
			}
		}
		return append(dst, '}'), nil
	}, nil
}

func appendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for len(s) > 0 {
		c := s[0]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			s = s[1:]
			continue
		}
		r, n := utf8.DecodeRune(s)
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[:n]...)
		}
		s = s[n:]
	}
	return append(dst, '"')
}

func jsonEncoder(w avro.Schema, f arrow.Field, path string) (jsonEnc, error) {
	if w != nil {
		w = deref(w)
		if u, ok := w.(*avro.UnionSchema); ok {
			if inner, _, _ := nullableBranch(u); inner != nil {
				w = deref(inner)
			}
		}
	}
	fn, err := jsonEncoderNotNull(w, f, path)
	if err != nil {
		return nil, err
	}
	return func(a arrow.Array, i int, dst []byte) ([]byte, error) {
		if a.IsNull(i) {
			return append(dst, "null"...), nil
		}
		return fn(a, i, dst)
	}, nil
}

func jsonEncoderNotNull(w avro.Schema, f arrow.Field, path string) (jsonEnc, error) {
	dt := f.Type
	switch dt.ID() {
	case arrow.NULL:
		return func(a arrow.Array, i int, dst []byte) ([]byte, error) { return append(dst, "null"...), nil }, nil
	case arrow.BOOL:
		return func(a arrow.Array, i int, dst []byte) ([]byte, error) {
			return strconv.AppendBool(dst, a.(*array.Boolean).Value(i)), nil
		}, nil
	case arrow.UINT64:
		return func(a arrow.Array, i int, dst []byte) ([]byte, error) {
			return strconv.AppendUint(dst, a.(*array.Uint64).Value(i), 10), nil
		}, nil
	case arrow.FLOAT32, arrow.FLOAT64:
		bits := 64
		if dt.ID() == arrow.FLOAT32 {
			bits = 32
		}
		return func(a arrow.Array, i int, dst []byte) ([]byte, error) {
			var v float64
			if bits == 32 {
				v = float64(a.(*array.Float32).Value(i))
			} else {
				v = a.(*array.Float64).Value(i)
			}
			switch {
			case math.IsNaN(v):
				return append(dst, `"NaN"`...), nil
			case math.IsInf(v, 1):
				return append(dst, `"Infinity"`...), nil
			case math.IsInf(v, -1):
				return append(dst, `"-Infinity"`...), nil
			}
			return strconv.AppendFloat(dst, v, 'g', -1, bits), nil
		}, nil
	case arrow.STRING, arrow.LARGE_STRING:
		get, _ := bytesGetter(dt)
		isJSON := false
		if v, ok := f.Metadata.GetValue(MetaType); ok && v == "json" {
			isJSON = true
		}
		return func(a arrow.Array, i int, dst []byte) ([]byte, error) {
			b := get(a, i)
			if isJSON && len(b) > 0 && b[0] != '"' && json.Valid(b) {
				return append(dst, b...), nil
			}
			return appendJSONString(dst, b), nil
		}, nil
	case arrow.BINARY, arrow.LARGE_BINARY, arrow.FIXED_SIZE_BINARY:
		get, _ := bytesGetter(dt)
		return func(a arrow.Array, i int, dst []byte) ([]byte, error) {
			dst = append(dst, '"')
			dst = base64.StdEncoding.AppendEncode(dst, get(a, i))
			return append(dst, '"'), nil
		}, nil
	case arrow.DECIMAL128:
		scale := dt.(*arrow.Decimal128Type).Scale
		return func(a arrow.Array, i int, dst []byte) ([]byte, error) {
			return append(dst, a.(*array.Decimal128).Value(i).ToString(scale)...), nil
		}, nil
	case arrow.STRUCT:
		var rec *avro.RecordSchema
		if r, ok := w.(*avro.RecordSchema); ok {
			rec = r
		} else {
			// Without a writer record, write every child.
			var fs []*avro.Field
			for _, c := range dt.(*arrow.StructType).Fields() {
				af, err := avro.NewField(c.Name, avro.NewNullSchema())
				if err != nil {
					return nil, fmt.Errorf("field %s: %w", path, err)
				}
				fs = append(fs, af)
			}
			r, err := avro.NewRecordSchema("r", "", fs)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", path, err)
			}
			rec = r
		}
		obj, err := jsonObject(rec, dt.(*arrow.StructType).Fields(), path)
		if err != nil {
			return nil, err
		}
		return func(a arrow.Array, i int, dst []byte) ([]byte, error) {
			s := a.(*array.Struct)
			return obj(s.Field, i, dst)
		}, nil
	case arrow.LIST:
		var wi avro.Schema
		if as, ok := w.(*avro.ArraySchema); ok {
			wi = as.Items()
		}
		item, err := jsonEncoder(wi, dt.(*arrow.ListType).ElemField(), path+"[]")
		if err != nil {
			return nil, err
		}
		return func(a arrow.Array, i int, dst []byte) ([]byte, error) {
			l := a.(*array.List)
			start, end := l.ValueOffsets(i)
			dst = append(dst, '[')
			var err error
			for k := start; k < end; k++ {
				if k > start {
					dst = append(dst, ',')
				}
				if dst, err = item(l.ListValues(), int(k), dst); err != nil {
					return dst, err
				}
			}
			return append(dst, ']'), nil
		}, nil
	case arrow.MAP:
		mt := dt.(*arrow.MapType)
		keyGet, ok := bytesGetter(mt.KeyType())
		if !ok || mt.KeyType().ID() == arrow.BINARY {
			return nil, fmt.Errorf("field %s: JSON maps need string keys", path)
		}
		var wv avro.Schema
		if ms, ok := w.(*avro.MapSchema); ok {
			wv = ms.Values()
		}
		val, err := jsonEncoder(wv, mt.ItemField(), path+"{}")
		if err != nil {
			return nil, err
		}
		return func(a arrow.Array, i int, dst []byte) ([]byte, error) {
			m := a.(*array.Map)
			start, end := m.ValueOffsets(i)
			dst = append(dst, '{')
			var err error
			for k := int(start); k < int(end); k++ {
				if k > int(start) {
					dst = append(dst, ',')
				}
				dst = append(appendJSONString(dst, keyGet(m.Keys(), k)), ':')
				if dst, err = val(m.Items(), k, dst); err != nil {
					return dst, err
				}
			}
			return append(dst, '}'), nil
		}, nil
	}
	get, unitNs, ok := intGetter(dt)
	if !ok {
		return nil, fmt.Errorf("field %s: cannot write %s as JSON", path, dt)
	}
	mul, div := int64(1), int64(1)
	switch {
	case unitNs > 0:
		mul, div = scale(unitNs, writerUnit(w))
	case unitNs == -1 && dt.ID() == arrow.DATE64:
		div = msPerDay
	}
	return func(a arrow.Array, i int, dst []byte) ([]byte, error) {
		v := get(a, i)
		if mul != 1 {
			if v > math.MaxInt64/mul || v < math.MinInt64/mul {
				return dst, fmt.Errorf("value %d overflows", v)
			}
			v *= mul
		}
		return strconv.AppendInt(dst, floorDiv(v, div), 10), nil
	}, nil
}

// newPrimitiveEncoder writes the value column in Pulsar's primitive encodings.
func newPrimitiveEncoder(k string, fields []arrow.Field, cols []int) (func(arrow.Record, int, []byte) ([]byte, error), error) {
	if _, ok := primitiveType(k); !ok {
		return nil, fmt.Errorf("schema: unsupported Pulsar schema type %q", k)
	}
	j := findField(fields, ValueColumn)
	if j < 0 {
		return nil, fmt.Errorf("schema: no %s column for a %s schema", ValueColumn, k)
	}
	c, dt := cols[j], fields[j].Type
	be := binary.BigEndian
	var fn func(a arrow.Array, i int, dst []byte) ([]byte, error)
	switch k {
	case TypeNone, TypeBytes, TypeString:
		get, ok := bytesGetter(dt)
		if !ok {
			return nil, fmt.Errorf("schema: cannot write %s as %s", dt, k)
		}
		fn = func(a arrow.Array, i int, dst []byte) ([]byte, error) { return append(dst, get(a, i)...), nil }
	case TypeBoolean:
		if dt.ID() != arrow.BOOL {
			return nil, fmt.Errorf("schema: cannot write %s as %s", dt, k)
		}
		fn = func(a arrow.Array, i int, dst []byte) ([]byte, error) {
			if a.(*array.Boolean).Value(i) {
				return append(dst, 1), nil
			}
			return append(dst, 0), nil
		}
	case TypeFloat, TypeDouble:
		var get func(a arrow.Array, i int) float64
		switch dt.ID() {
		case arrow.FLOAT32:
			get = func(a arrow.Array, i int) float64 { return float64(a.(*array.Float32).Value(i)) }
		case arrow.FLOAT64:
			get = func(a arrow.Array, i int) float64 { return a.(*array.Float64).Value(i) }
		default:
			return nil, fmt.Errorf("schema: cannot write %s as %s", dt, k)
		}
		if k == TypeFloat {
			fn = func(a arrow.Array, i int, dst []byte) ([]byte, error) {
				return be.AppendUint32(dst, math.Float32bits(float32(get(a, i)))), nil
			}
		} else {
			fn = func(a arrow.Array, i int, dst []byte) ([]byte, error) {
				return be.AppendUint64(dst, math.Float64bits(get(a, i))), nil
			}
		}
	default:
		get, unitNs, ok := intGetter(dt)
		if !ok {
			return nil, fmt.Errorf("schema: cannot write %s as %s", dt, k)
		}
		var conv func(v int64) ([]byte, error)
		if isNum := k == TypeInt8 || k == TypeInt16 || k == TypeInt32 || k == TypeInt64; isNum && unitNs != 0 {
			return nil, fmt.Errorf("schema: cannot write %s as %s", dt, k)
		}
		toUnit := func(v, unit int64) (int64, error) { // Arrow value → count of `unit` ns
			m, d := scale(unitNs, unit)
			if m != 1 && (v > math.MaxInt64/m || v < math.MinInt64/m) {
				return 0, fmt.Errorf("value %d overflows", v)
			}
			return floorDiv(v*m, d), nil
		}
		days := func(v int64) int64 {
			if dt.ID() == arrow.DATE64 {
				return floorDiv(v, msPerDay)
			}
			return v
		}
		put8 := func(v int64) []byte { return be.AppendUint64(nil, uint64(v)) }
		switch k {
		case TypeInt8, TypeInt16, TypeInt32, TypeInt64:
			bits := map[string]uint{TypeInt8: 8, TypeInt16: 16, TypeInt32: 32, TypeInt64: 64}[k]
			conv = func(v int64) ([]byte, error) {
				if bits < 64 && (v < -(1<<(bits-1)) || v >= 1<<(bits-1)) {
					return nil, fmt.Errorf("value %d out of range for %s", v, k)
				}
				var b [8]byte
				be.PutUint64(b[:], uint64(v))
				return b[8-bits/8:], nil
			}
		case TypeDate, TypeLocalDate:
			if unitNs != -1 {
				return nil, fmt.Errorf("schema: cannot write %s as %s", dt, k)
			}
			conv = func(v int64) ([]byte, error) {
				d := days(v)
				if k == TypeLocalDate {
					return put8(d), nil
				}
				if d > math.MaxInt64/msPerDay || d < math.MinInt64/msPerDay {
					return nil, fmt.Errorf("date %d overflows", d)
				}
				return put8(d * msPerDay), nil
			}
		case TypeTime, TypeLocalTime, TypeTimestamp, TypeInstant, TypeLocalDateTime:
			if unitNs <= 0 {
				return nil, fmt.Errorf("schema: cannot write %s as %s", dt, k)
			}
			conv = func(v int64) ([]byte, error) {
				switch k {
				case TypeTime, TypeTimestamp:
					ms, err := toUnit(v, 1e6)
					return put8(ms), err
				case TypeLocalTime:
					ns, err := toUnit(v, 1)
					return put8(ns), err
				case TypeInstant:
					us, err := toUnit(v, 1e3)
					b := be.AppendUint64(nil, uint64(floorDiv(us, 1e6)))
					return be.AppendUint32(b, uint32(floorMod(us, 1e6)*1000)), err
				default: // LOCAL_DATE_TIME
					us, err := toUnit(v, 1e3)
					b := be.AppendUint64(nil, uint64(floorDiv(us, usPerDay)))
					return be.AppendUint64(b, uint64(floorMod(us, usPerDay)*1000)), err
				}
			}
		default:
			return nil, fmt.Errorf("schema: cannot encode %s", k)
		}
		fn = func(a arrow.Array, i int, dst []byte) ([]byte, error) {
			b, err := conv(get(a, i))
			if err != nil {
				return dst, err
			}
			return append(dst, b...), nil
		}
	}
	return func(r arrow.Record, row int, dst []byte) ([]byte, error) {
		a := r.Column(c)
		if a.IsNull(row) {
			return dst, fmt.Errorf("schema: null %s value", k)
		}
		return fn(a, row, dst)
	}, nil
}

// kvEncoder encodes the key and value halves of a KEY_VALUE schema.
type kvEncoder struct {
	separated  bool
	key, value Encoder
	keyNull    func(rec arrow.Record, row int) bool
}

func newKVEncoder(info Info, fields []arrow.Field, cols []int) (Encoder, error) {
	kv, err := splitKeyValue(info)
	if err != nil {
		return nil, err
	}
	keyRec := isRecord(kv.key)
	var kf, vf []arrow.Field
	var kc, vc []int
	for i, f := range fields {
		lower := strings.ToLower(f.Name)
		switch {
		case keyRec && strings.HasPrefix(lower, KeyPrefix):
			f.Name = f.Name[len(KeyPrefix):]
			kf, kc = append(kf, f), append(kc, cols[i])
		case !keyRec && lower == KeyColumn:
			f.Name = ValueColumn
			kf, kc = append(kf, f), append(kc, cols[i])
		default:
			vf, vc = append(vf, f), append(vc, cols[i])
		}
	}
	e := &kvEncoder{separated: kv.separated}
	if e.key, err = newRowEncoder(kv.key, kf, kc); err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	if e.value, err = newRowEncoder(kv.value, vf, vc); err != nil {
		return nil, fmt.Errorf("value: %w", err)
	}
	e.keyNull = func(rec arrow.Record, row int) bool {
		if len(kc) == 0 {
			return true
		}
		for _, c := range kc {
			if !rec.Column(c).IsNull(row) {
				return false
			}
		}
		return true
	}
	return e, nil
}

func (e *kvEncoder) EncodeKey(rec arrow.Record, row int, dst []byte) ([]byte, error) {
	if e.keyNull(rec, row) {
		return dst, nil
	}
	return e.key.Encode(rec, row, dst)
}

func (e *kvEncoder) Encode(rec arrow.Record, row int, dst []byte) ([]byte, error) {
	if e.separated {
		return e.value.Encode(rec, row, dst)
	}
	var k []byte
	if !e.keyNull(rec, row) {
		var err error
		if k, err = e.key.Encode(rec, row, []byte{}); err != nil {
			return dst, fmt.Errorf("key: %w", err)
		}
	}
	v, err := e.value.Encode(rec, row, []byte{})
	if err != nil {
		return dst, fmt.Errorf("value: %w", err)
	}
	return append(dst, JoinKeyValue(k, v)...), nil
}
