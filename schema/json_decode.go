package schema

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/hamba/avro/v2"
	jsoniter "github.com/json-iterator/go"
)

// jsonFn reads one JSON value. With b nil it only checks the value (first pass); with a builder it
// appends it (second pass). Both passes run the same code, so a value the first pass accepts is
// appended without error by the second.
type jsonFn func(it *jsoniter.Iterator, b array.Builder)

// jsonRowDecoder decodes JSON payloads (Pulsar's JSON schema: an Avro definition, JSON text) into
// table columns.
type jsonRowDecoder struct {
	it  *jsoniter.Iterator
	top func(it *jsoniter.Iterator, bs []array.Builder)
	buf []byte
}

func newJSONRowDecoder(w avro.Schema, tf []arrow.Field, cols []int) (rowDecoder, error) {
	w = deref(w)
	c := &jsonCompiler{}
	d := &jsonRowDecoder{it: jsoniter.NewIterator(jsoniter.ConfigCompatibleWithStandardLibrary)}
	if rec, ok := w.(*avro.RecordSchema); ok {
		obj, err := c.object(rec, tf, "")
		if err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		d.top = func(it *jsoniter.Iterator, bs []array.Builder) {
			obj(it, func(j int) array.Builder {
				if bs == nil {
					return nil
				}
				return bs[cols[j]]
			})
		}
		return d, nil
	}
	j := findField(tf, ValueColumn)
	var fn jsonFn
	if j >= 0 {
		var err error
		if fn, err = c.compile(w, tf[j], ValueColumn); err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
	}
	var fills []colFill
	for i, f := range tf {
		if i != j {
			fill, err := defaultFiller(f)
			if err != nil {
				return nil, fmt.Errorf("schema: %w", err)
			}
			fills = append(fills, colFill{cols[i], fill})
		}
	}
	d.top = func(it *jsoniter.Iterator, bs []array.Builder) {
		var b array.Builder
		if bs != nil && j >= 0 {
			b = bs[cols[j]]
		}
		if fn != nil {
			fn(it, b)
		} else {
			it.Skip()
		}
		if bs != nil {
			for _, f := range fills {
				f.fill(bs[f.col])
			}
		}
	}
	return d, nil
}

func (d *jsonRowDecoder) run(payload []byte, bs []array.Builder) error {
	it := d.it
	it.ResetBytes(payload)
	it.Error = nil
	d.top(it, bs)
	if it.Error != nil {
		return fmt.Errorf("schema: decode JSON: %w", it.Error)
	}
	// Only whitespace may follow: at the end of input jsoniter reports io.EOF.
	if it.WhatIsNext() != jsoniter.InvalidValue || it.Error != io.EOF {
		return errors.New("schema: decode JSON: trailing data after value")
	}
	return nil
}

func (d *jsonRowDecoder) decode(_, payload []byte) error {
	d.buf = payload
	return d.run(payload, nil)
}

func (d *jsonRowDecoder) emit(bs []array.Builder) {
	// Cannot fail: decode accepted the same bytes with the same code.
	_ = d.run(d.buf, bs)
}

type jsonCompiler struct{}

// object compiles a JSON object read into the fields tf; get returns the builder of field j (nil
// on the first pass).
func (c *jsonCompiler) object(rec *avro.RecordSchema, tf []arrow.Field, path string) (func(it *jsoniter.Iterator, get func(int) array.Builder), error) {
	fns := make([]jsonFn, len(tf))
	fills := make([]filler, len(tf))
	index := make(map[string]int, len(tf))
	for j, f := range tf {
		var w avro.Schema
		key := f.Name // the JSON key: the writer's field name when it differs from the column's
		if rec != nil {
			for _, wf := range rec.Fields() {
				if strings.EqualFold(columnName(wf), f.Name) {
					w, key = wf.Type(), wf.Name()
					break
				}
			}
		}
		fn, err := c.compile(w, f, join(path, f.Name))
		if err != nil {
			return nil, err
		}
		fns[j] = fn
		if fills[j], err = defaultFiller(f); err != nil {
			return nil, err
		}
		index[key] = j
		if _, dup := index[strings.ToLower(key)]; !dup {
			index[strings.ToLower(key)] = j
		}
	}
	return func(it *jsoniter.Iterator, get func(int) array.Builder) {
		if it.WhatIsNext() != jsoniter.ObjectValue {
			it.ReportError("read object", "expected a JSON object at "+orTop(path))
			return
		}
		var seenSmall uint64
		var seenBig []bool
		if len(tf) > 64 {
			seenBig = make([]bool, len(tf))
		}
		it.ReadObjectCB(func(it *jsoniter.Iterator, key string) bool {
			j, ok := index[key]
			if !ok {
				j, ok = index[strings.ToLower(key)]
			}
			if !ok {
				it.Skip()
				return it.Error == nil
			}
			if seenBig != nil {
				if seenBig[j] {
					it.ReportError("read object", "duplicate key "+key)
					return false
				}
				seenBig[j] = true
			} else {
				if seenSmall&(1<<j) != 0 {
					it.ReportError("read object", "duplicate key "+key)
					return false
				}
				seenSmall |= 1 << j
			}
			fns[j](it, get(j))
			return it.Error == nil
		})
		if it.Error != nil {
			return
		}
		for j := range tf {
			seen := seenSmall&(1<<j) != 0
			if seenBig != nil {
				seen = seenBig[j]
			}
			if !seen {
				if b := get(j); b != nil {
					fills[j](b)
				}
			}
		}
	}, nil
}

func orTop(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

// writerUnit returns the unit (ns) a writer number carries for timestamp/time targets: millis
// unless the writer says micros.
func writerUnit(w avro.Schema) int64 {
	if l := logicalOf(w); l != nil {
		switch l.Type() {
		case avro.TimestampMicros, avro.LocalTimestampMicros, avro.TimeMicros:
			return 1e3
		}
	}
	return 1e6
}

// compile returns the reader of a JSON value into Arrow type dt; w is the writer's Avro schema for
// this value when known (it gives units of numeric timestamps), or nil.
func (c *jsonCompiler) compile(w avro.Schema, f arrow.Field, path string) (jsonFn, error) {
	dt := f.Type
	isJSON := false
	if v, ok := f.Metadata.GetValue(MetaType); ok && v == "json" {
		isJSON = true
	}
	if w != nil {
		w = deref(w)
		if u, ok := w.(*avro.UnionSchema); ok {
			inner, _, _ := nullableBranch(u)
			w = inner // nil for other unions: values are read by target type alone
			if w != nil {
				w = deref(w)
			}
		}
	}
	fail := func(it *jsoniter.Iterator, what string) {
		it.ReportError("read "+path, fmt.Sprintf("expected %s", what))
	}
	// withNull wraps a reader so JSON null appends null whatever the type.
	withNull := func(fn jsonFn) jsonFn {
		return func(it *jsoniter.Iterator, b array.Builder) {
			if it.ReadNil() {
				if b != nil {
					b.AppendNull()
				}
				return
			}
			fn(it, b)
		}
	}
	switch dt.ID() {
	case arrow.NULL:
		return func(it *jsoniter.Iterator, b array.Builder) {
			it.Skip()
			if b != nil {
				b.AppendNull()
			}
		}, nil
	case arrow.BOOL:
		return withNull(func(it *jsoniter.Iterator, b array.Builder) {
			if it.WhatIsNext() != jsoniter.BoolValue {
				fail(it, "a boolean")
				return
			}
			v := it.ReadBool()
			if b != nil {
				b.(*array.BooleanBuilder).Append(v)
			}
		}), nil
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		lo, hi, _ := intRange(dt)
		app := int64Appender(dt)
		unsigned64 := dt.ID() == arrow.UINT64
		return withNull(func(it *jsoniter.Iterator, b array.Builder) {
			if it.WhatIsNext() != jsoniter.NumberValue {
				fail(it, "an integer")
				return
			}
			var v uint64
			if unsigned64 {
				v = it.ReadUint64()
			} else {
				x := it.ReadInt64()
				if it.Error == nil && (x < lo || x > hi) {
					it.ReportError("read "+path, fmt.Sprintf("%d out of range for %s", x, dt))
				}
				v = uint64(x)
			}
			if it.Error == nil && b != nil {
				app(b, v)
			}
		}), nil
	case arrow.FLOAT32, arrow.FLOAT64:
		return withNull(func(it *jsoniter.Iterator, b array.Builder) {
			var v float64
			switch it.WhatIsNext() {
			case jsoniter.NumberValue:
				v = it.ReadFloat64()
			case jsoniter.StringValue: // NaN and infinities, as Jackson may write them
				switch s := it.ReadString(); s {
				case "NaN":
					v = math.NaN()
				case "Infinity":
					v = math.Inf(1)
				case "-Infinity":
					v = math.Inf(-1)
				default:
					fail(it, "a number")
				}
			default:
				fail(it, "a number")
			}
			if it.Error != nil || b == nil {
				return
			}
			if fb, ok := b.(*array.Float32Builder); ok {
				fb.Append(float32(v))
			} else {
				b.(*array.Float64Builder).Append(v)
			}
		}), nil
	case arrow.STRING:
		return withNull(func(it *jsoniter.Iterator, b array.Builder) {
			if it.WhatIsNext() == jsoniter.StringValue {
				s := it.ReadString()
				if b != nil && it.Error == nil {
					b.(*array.StringBuilder).Append(s)
				}
				return
			}
			if !isJSON {
				fail(it, "a string")
				return
			}
			// JSON columns keep the raw JSON text of objects, arrays, numbers and booleans.
			raw := it.SkipAndReturnBytes()
			if b != nil && it.Error == nil {
				b.(*array.StringBuilder).BinaryBuilder.Append(raw)
			}
		}), nil
	case arrow.BINARY, arrow.FIXED_SIZE_BINARY:
		size := -1
		if fs, ok := dt.(*arrow.FixedSizeBinaryType); ok {
			size = fs.ByteWidth
		}
		return withNull(func(it *jsoniter.Iterator, b array.Builder) {
			if it.WhatIsNext() != jsoniter.StringValue {
				fail(it, "a base64 string")
				return
			}
			v, err := base64.StdEncoding.DecodeString(it.ReadString())
			if err != nil || (size >= 0 && len(v) != size) {
				fail(it, "a base64 string of the right length")
				return
			}
			if b == nil || it.Error != nil {
				return
			}
			if fb, ok := b.(*array.FixedSizeBinaryBuilder); ok {
				fb.Append(v)
			} else {
				b.(*array.BinaryBuilder).Append(v)
			}
		}), nil
	case arrow.TIMESTAMP, arrow.DATE32, arrow.DATE64, arrow.TIME32, arrow.TIME64:
		return c.temporal(w, dt, path, withNull)
	case arrow.DECIMAL128:
		t := dt.(*arrow.Decimal128Type)
		return withNull(func(it *jsoniter.Iterator, b array.Builder) {
			var s string
			switch it.WhatIsNext() {
			case jsoniter.NumberValue:
				s = string(it.ReadNumber())
			case jsoniter.StringValue:
				s = it.ReadString()
			default:
				fail(it, "a decimal")
				return
			}
			n, err := decimal128.FromString(s, t.Precision, t.Scale)
			if err != nil {
				it.ReportError("read "+path, err.Error())
				return
			}
			if b != nil && it.Error == nil {
				b.(*array.Decimal128Builder).Append(n)
			}
		}), nil
	case arrow.STRUCT:
		var rec *avro.RecordSchema
		if r, ok := w.(*avro.RecordSchema); ok {
			rec = r
		}
		obj, err := c.object(rec, dt.(*arrow.StructType).Fields(), path)
		if err != nil {
			return nil, err
		}
		return withNull(func(it *jsoniter.Iterator, b array.Builder) {
			if b == nil {
				obj(it, func(int) array.Builder { return nil })
				return
			}
			sb := b.(*array.StructBuilder)
			sb.Append(true)
			obj(it, sb.FieldBuilder)
		}), nil
	case arrow.LIST:
		var wi avro.Schema
		if a, ok := w.(*avro.ArraySchema); ok {
			wi = a.Items()
		}
		item, err := c.compile(wi, dt.(*arrow.ListType).ElemField(), path+"[]")
		if err != nil {
			return nil, err
		}
		return withNull(func(it *jsoniter.Iterator, b array.Builder) {
			if it.WhatIsNext() != jsoniter.ArrayValue {
				fail(it, "an array")
				return
			}
			var vb array.Builder
			if b != nil {
				lb := b.(*array.ListBuilder)
				lb.Append(true)
				vb = lb.ValueBuilder()
			}
			it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
				item(it, vb)
				return it.Error == nil
			})
		}), nil
	case arrow.MAP:
		mt := dt.(*arrow.MapType)
		if mt.KeyType().ID() != arrow.STRING {
			return nil, fmt.Errorf("field %s: JSON maps need string keys, not %s", path, mt.KeyType())
		}
		var wv avro.Schema
		if m, ok := w.(*avro.MapSchema); ok {
			wv = m.Values()
		}
		val, err := c.compile(wv, mt.ItemField(), path+"{}")
		if err != nil {
			return nil, err
		}
		return withNull(func(it *jsoniter.Iterator, b array.Builder) {
			if it.WhatIsNext() != jsoniter.ObjectValue {
				fail(it, "an object")
				return
			}
			var kb *array.StringBuilder
			var ib array.Builder
			if b != nil {
				mb := b.(*array.MapBuilder)
				mb.Append(true)
				kb = mb.KeyBuilder().(*array.StringBuilder)
				ib = mb.ItemBuilder()
			}
			it.ReadMapCB(func(it *jsoniter.Iterator, k string) bool {
				if kb != nil {
					kb.Append(k)
				}
				val(it, ib)
				return it.Error == nil
			})
		}), nil
	}
	return nil, fmt.Errorf("field %s: cannot read JSON into %s", path, dt)
}

// temporal reads timestamps, dates and times from numbers (in the writer's unit: epoch days for
// dates, millis unless the writer says micros otherwise) or from ISO-8601 strings.
func (c *jsonCompiler) temporal(w avro.Schema, dt arrow.DataType, path string, withNull func(jsonFn) jsonFn) (jsonFn, error) {
	app := int64Appender(dt)
	wUnit := writerUnit(w)
	var tUnit int64
	switch t := dt.(type) {
	case *arrow.TimestampType:
		tUnit = unitNanos(t.Unit)
	case *arrow.Time32Type:
		tUnit = unitNanos(t.Unit)
	case *arrow.Time64Type:
		tUnit = unitNanos(t.Unit)
	}
	mul, div := int64(1), int64(1)
	if tUnit > 0 {
		mul, div = scale(wUnit, tUnit)
	} else if dt.ID() == arrow.DATE64 {
		mul = msPerDay
	}
	lo, hi, _ := intRange(dt)
	return withNull(func(it *jsoniter.Iterator, b array.Builder) {
		var v int64
		switch it.WhatIsNext() {
		case jsoniter.NumberValue:
			v = it.ReadInt64()
			if it.Error != nil {
				return
			}
			if v > math.MaxInt64/mul || v < math.MinInt64/mul {
				it.ReportError("read "+path, "value out of range")
				return
			}
			v = floorDiv(v*mul, div)
		case jsoniter.StringValue:
			s := it.ReadString()
			var err error
			v, err = parseTemporal(s, dt, tUnit)
			if err != nil {
				it.ReportError("read "+path, err.Error())
				return
			}
		default:
			it.ReportError("read "+path, "expected a number or a date/time string")
			return
		}
		if v < lo || v > hi {
			it.ReportError("read "+path, "value out of range")
			return
		}
		if b != nil && it.Error == nil {
			app(b, uint64(v))
		}
	}), nil
}

func parseTemporal(s string, dt arrow.DataType, tUnit int64) (int64, error) {
	switch dt.ID() {
	case arrow.DATE32, arrow.DATE64:
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			return 0, err
		}
		days := floorDiv(t.Unix(), 86400)
		if dt.ID() == arrow.DATE64 {
			return days * msPerDay, nil
		}
		return days, nil
	case arrow.TIME32, arrow.TIME64:
		t, err := time.Parse("15:04:05.999999999", s)
		if err != nil {
			return 0, err
		}
		ns := int64(t.Hour())*3600e9 + int64(t.Minute())*60e9 + int64(t.Second())*1e9 + int64(t.Nanosecond())
		return ns / tUnit, nil
	}
	var t time.Time
	var err error
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"} {
		if t, err = time.Parse(layout, s); err == nil {
			break
		}
	}
	if err != nil {
		return 0, err
	}
	sec := t.Unix()
	if sec > math.MaxInt64/1000000000-1 || sec < math.MinInt64/1000000000+1 {
		// Beyond what nanoseconds hold; coarser units may still fit.
		m := 1000000000 / tUnit
		if sec > math.MaxInt64/m || sec < math.MinInt64/m {
			return 0, fmt.Errorf("timestamp %s out of range", s)
		}
		return sec * m, nil
	}
	return floorDiv(t.UnixNano(), tUnit), nil
}
