package schema

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// primitiveType maps a Pulsar primitive schema type to the Arrow type of its `value` column.
func primitiveType(k string) (arrow.DataType, bool) {
	switch k {
	case TypeNone, TypeBytes:
		return arrow.BinaryTypes.Binary, true
	case TypeString:
		return arrow.BinaryTypes.String, true
	case TypeBoolean:
		return arrow.FixedWidthTypes.Boolean, true
	case TypeInt8:
		return arrow.PrimitiveTypes.Int8, true
	case TypeInt16:
		return arrow.PrimitiveTypes.Int16, true
	case TypeInt32:
		return arrow.PrimitiveTypes.Int32, true
	case TypeInt64:
		return arrow.PrimitiveTypes.Int64, true
	case TypeFloat:
		return arrow.PrimitiveTypes.Float32, true
	case TypeDouble:
		return arrow.PrimitiveTypes.Float64, true
	case TypeDate, TypeLocalDate:
		return arrow.FixedWidthTypes.Date32, true
	case TypeTime, TypeLocalTime:
		return arrow.FixedWidthTypes.Time64us, true
	case TypeTimestamp, TypeInstant, TypeLocalDateTime:
		return arrow.FixedWidthTypes.Timestamp_us, true
	}
	return nil, false
}

const (
	msPerDay = 86400000
	usPerDay = 86400000000
)

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// primitiveDecoder decodes Pulsar's fixed encodings of primitive schemas (big-endian numbers,
// UTF-8 strings, raw bytes) into a `value` column.
type primitiveDecoder struct {
	k      string
	col    int // -1 when the target has no value column
	size   int // exact payload size, or -1 for variable
	others []colFill
	// scratch between decode and emit
	iv  int64
	fv  float64
	buf []byte
	app func(b array.Builder, v uint64)
	dt  arrow.DataType
}

func newPrimitiveDecoder(k string, tf []arrow.Field, cols []int) (rowDecoder, error) {
	src, ok := primitiveType(k)
	if !ok {
		return nil, fmt.Errorf("schema: unsupported Pulsar schema type %q", k)
	}
	d := &primitiveDecoder{k: k, col: -1, size: -1}
	switch k {
	case TypeBoolean, TypeInt8:
		d.size = 1
	case TypeInt16:
		d.size = 2
	case TypeInt32, TypeFloat:
		d.size = 4
	case TypeInt64, TypeDouble, TypeDate, TypeTime, TypeTimestamp, TypeLocalDate, TypeLocalTime:
		d.size = 8
	case TypeInstant:
		d.size = 12
	case TypeLocalDateTime:
		d.size = 16
	}
	j := findField(tf, ValueColumn)
	if j >= 0 {
		d.col = cols[j]
		d.dt = tf[j].Type
		if !arrow.TypeEqual(src, d.dt) {
			// Allow widening of integers and floats; anything else must match.
			_, _, isInt := intRange(src)
			_, _, tInt := intRange(d.dt)
			switch {
			case isInt && tInt && src.ID() <= arrow.INT64 && d.dt.ID() <= arrow.INT64 && src.ID() <= d.dt.ID():
			case isInt && (d.dt.ID() == arrow.FLOAT64 || d.dt.ID() == arrow.FLOAT32):
			case src.ID() == arrow.FLOAT32 && d.dt.ID() == arrow.FLOAT64:
			case (src.ID() == arrow.STRING || src.ID() == arrow.BINARY) && (d.dt.ID() == arrow.STRING || d.dt.ID() == arrow.BINARY):
			default:
				return nil, fmt.Errorf("schema: cannot read %s value as %s", k, d.dt)
			}
		}
		d.app = int64Appender(d.dt)
	}
	for i, f := range tf {
		if i == j {
			continue
		}
		fill, err := defaultFiller(f)
		if err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		d.others = append(d.others, colFill{cols[i], fill})
	}
	return d, nil
}

func (d *primitiveDecoder) decode(_, p []byte) error {
	if d.size >= 0 && len(p) != d.size {
		return fmt.Errorf("schema: %s payload has %d bytes, want %d", d.k, len(p), d.size)
	}
	be := binary.BigEndian
	switch d.k {
	case TypeNone, TypeBytes, TypeString:
		d.buf = p
	case TypeBoolean:
		if p[0] > 1 {
			return fmt.Errorf("schema: bad BOOLEAN payload %d", p[0])
		}
		d.iv = int64(p[0])
	case TypeInt8:
		d.iv = int64(int8(p[0]))
	case TypeInt16:
		d.iv = int64(int16(be.Uint16(p)))
	case TypeInt32:
		d.iv = int64(int32(be.Uint32(p)))
	case TypeInt64:
		d.iv = int64(be.Uint64(p))
	case TypeFloat:
		d.fv = float64(math.Float32frombits(be.Uint32(p)))
	case TypeDouble:
		d.fv = math.Float64frombits(be.Uint64(p))
	case TypeDate: // java.util.Date: milliseconds since the epoch
		d.iv = floorDiv(int64(be.Uint64(p)), msPerDay)
	case TypeTime: // java.sql.Time: milliseconds since the epoch; keep the time of day
		d.iv = floorMod(int64(be.Uint64(p)), msPerDay) * 1000
	case TypeTimestamp: // java.sql.Timestamp: milliseconds since the epoch
		ms := int64(be.Uint64(p))
		if ms > math.MaxInt64/1000 || ms < math.MinInt64/1000 {
			return fmt.Errorf("schema: TIMESTAMP %d out of range", ms)
		}
		d.iv = ms * 1000
	case TypeLocalDate: // epoch day
		v := int64(be.Uint64(p))
		if v < math.MinInt32 || v > math.MaxInt32 {
			return fmt.Errorf("schema: LOCAL_DATE %d out of range", v)
		}
		d.iv = v
	case TypeLocalTime: // nano of day
		d.iv = floorDiv(int64(be.Uint64(p)), 1000)
	case TypeInstant: // epoch second (8 bytes), nano of second (4 bytes)
		sec, nano := int64(be.Uint64(p)), int64(int32(be.Uint32(p[8:])))
		if sec > math.MaxInt64/1000000-1 || sec < math.MinInt64/1000000+1 {
			return fmt.Errorf("schema: INSTANT %d out of range", sec)
		}
		d.iv = sec*1e6 + floorDiv(nano, 1000)
	case TypeLocalDateTime: // epoch day (8 bytes), nano of day (8 bytes)
		day, nano := int64(be.Uint64(p)), int64(be.Uint64(p[8:]))
		if day > math.MaxInt64/usPerDay-1 || day < math.MinInt64/usPerDay+1 {
			return fmt.Errorf("schema: LOCAL_DATE_TIME day %d out of range", day)
		}
		d.iv = day*usPerDay + floorDiv(floorMod(nano, 86400e9), 1000)
	}
	if d.col >= 0 && d.app != nil {
		lo, hi, _ := intRange(d.dt)
		if d.iv < lo || d.iv > hi {
			return fmt.Errorf("schema: %s value %d out of range for %s", d.k, d.iv, d.dt)
		}
	}
	return nil
}

func (d *primitiveDecoder) emit(bs []array.Builder) {
	if d.col >= 0 {
		b := bs[d.col]
		switch {
		case d.k == TypeNone || d.k == TypeBytes || d.k == TypeString:
			if sb, ok := b.(*array.StringBuilder); ok {
				sb.BinaryBuilder.Append(d.buf)
			} else {
				b.(*array.BinaryBuilder).Append(d.buf)
			}
		case d.k == TypeBoolean:
			b.(*array.BooleanBuilder).Append(d.iv != 0)
		case d.k == TypeFloat || d.k == TypeDouble:
			if fb, ok := b.(*array.Float32Builder); ok {
				fb.Append(float32(d.fv))
			} else {
				b.(*array.Float64Builder).Append(d.fv)
			}
		case d.app != nil:
			d.app(b, uint64(d.iv))
		default: // integer into float
			v := float64(d.iv)
			if fb, ok := b.(*array.Float32Builder); ok {
				fb.Append(float32(v))
			} else {
				b.(*array.Float64Builder).Append(v)
			}
		}
	}
	for _, f := range d.others {
		f.fill(bs[f.col])
	}
}
