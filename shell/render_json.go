package shell

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/magnetar-sql/magnetar/exec"
)

// jsonRenderer writes one JSON object per row (JSON Lines), keys in column
// order. NULL is null, numbers are JSON numbers (decimals keep their exact
// digits), temporal values are strings as the table shows them, binary is
// base64, structs are objects, lists arrays, string-keyed maps objects and
// JSON columns are embedded as JSON.
type jsonRenderer struct {
	w      *bufio.Writer
	opts   RenderOptions
	fields []arrow.Field
	keys   [][]byte // pre-encoded `"name":` per column
	opKey  []byte
	buf    []byte
	rows   int64
}

func newJSONRenderer(w io.Writer, opts RenderOptions) *jsonRenderer {
	return &jsonRenderer{w: bufio.NewWriter(w), opts: opts}
}

func (r *jsonRenderer) Begin(schema *arrow.Schema) error {
	r.fields = schema.Fields()
	r.keys = make([][]byte, len(r.fields))
	for i, f := range r.fields {
		r.keys[i] = append(appendJSONString(nil, f.Name), ':')
	}
	r.opKey = append(appendJSONString(nil, opColumn(schema)), ':')
	return nil
}

func (r *jsonRenderer) Write(b exec.Batch) error {
	if !r.opts.Changelog && !b.AppendOnly() {
		return ErrRetraction
	}
	cols := b.Rec.Columns()
	for i := 0; i < int(b.Rec.NumRows()); i++ {
		buf := append(r.buf[:0], '{')
		if r.opts.Changelog {
			buf = append(buf, r.opKey...)
			buf = appendJSONString(buf, b.Op(i).String())
		}
		for c, col := range cols {
			if c > 0 || r.opts.Changelog {
				buf = append(buf, ',')
			}
			buf = append(buf, r.keys[c]...)
			if isJSONField(r.fields[c]) && !isNull(col, i) {
				buf = appendRawJSON(buf, formatValue(col, i))
				continue
			}
			buf = appendJSONValue(buf, col, i)
		}
		buf = append(buf, '}', '\n')
		r.buf = buf
		if _, err := r.w.Write(buf); err != nil {
			return fmt.Errorf("write json: %w", err)
		}
		r.rows++
	}
	return r.w.Flush()
}

func (r *jsonRenderer) End(time.Duration, error) error { return r.w.Flush() }

func (r *jsonRenderer) Rows() int64 { return r.rows }

func appendJSONString(buf []byte, s string) []byte {
	b, _ := json.Marshal(s) // strings always marshal
	return append(buf, b...)
}

// appendRawJSON embeds s if it is valid JSON, else as a string.
func appendRawJSON(buf []byte, s string) []byte {
	if json.Valid([]byte(s)) {
		return append(buf, s...)
	}
	return appendJSONString(buf, s)
}

func appendJSONFloat(buf []byte, v float64, bits int) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		// JSON has no literal for these; keep them visible as strings.
		switch {
		case math.IsNaN(v):
			return appendJSONString(buf, "NaN")
		case v > 0:
			return appendJSONString(buf, "Infinity")
		}
		return appendJSONString(buf, "-Infinity")
	}
	return strconv.AppendFloat(buf, v, 'g', -1, bits)
}

// appendJSONValue appends cell i of arr as a JSON value.
func appendJSONValue(buf []byte, arr arrow.Array, i int) []byte {
	if isNull(arr, i) {
		return append(buf, "null"...)
	}
	switch a := arr.(type) {
	case *array.Boolean:
		return strconv.AppendBool(buf, a.Value(i))
	case *array.Int8:
		return strconv.AppendInt(buf, int64(a.Value(i)), 10)
	case *array.Int16:
		return strconv.AppendInt(buf, int64(a.Value(i)), 10)
	case *array.Int32:
		return strconv.AppendInt(buf, int64(a.Value(i)), 10)
	case *array.Int64:
		return strconv.AppendInt(buf, a.Value(i), 10)
	case *array.Uint8:
		return strconv.AppendUint(buf, uint64(a.Value(i)), 10)
	case *array.Uint16:
		return strconv.AppendUint(buf, uint64(a.Value(i)), 10)
	case *array.Uint32:
		return strconv.AppendUint(buf, uint64(a.Value(i)), 10)
	case *array.Uint64:
		return strconv.AppendUint(buf, a.Value(i), 10)
	case *array.Float32:
		return appendJSONFloat(buf, float64(a.Value(i)), 32)
	case *array.Float64:
		return appendJSONFloat(buf, a.Value(i), 64)
	case *array.Decimal128, *array.Decimal256:
		return append(buf, formatValue(arr, i)...)
	case *array.Binary:
		return appendJSONString(buf, base64.StdEncoding.EncodeToString(a.Value(i)))
	case *array.LargeBinary:
		return appendJSONString(buf, base64.StdEncoding.EncodeToString(a.Value(i)))
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		buf = append(buf, '{')
		for f := 0; f < a.NumField(); f++ {
			if f > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONString(buf, st.Field(f).Name)
			buf = append(buf, ':')
			buf = appendJSONValue(buf, a.Field(f), i)
		}
		return append(buf, '}')
	case *array.Map:
		return appendJSONMap(buf, a, i)
	case listLike:
		vals := a.ListValues()
		start, end := a.ValueOffsets(i)
		buf = append(buf, '[')
		for j := start; j < end; j++ {
			if j > start {
				buf = append(buf, ',')
			}
			buf = appendJSONValue(buf, vals, int(j))
		}
		return append(buf, ']')
	case *array.Dictionary:
		return appendJSONValue(buf, a.Dictionary(), a.GetValueIndex(i))
	}
	return appendJSONString(buf, formatValue(arr, i))
}

// appendJSONMap writes a map as an object when its keys are strings, else
// as an array of {"key":…,"value":…} objects.
func appendJSONMap(buf []byte, a *array.Map, i int) []byte {
	keys, items := a.Keys(), a.Items()
	start, end := a.ValueOffsets(i)
	stringKeys := keys.DataType().ID() == arrow.STRING || keys.DataType().ID() == arrow.LARGE_STRING
	if stringKeys {
		buf = append(buf, '{')
	} else {
		buf = append(buf, '[')
	}
	for j := start; j < end; j++ {
		if j > start {
			buf = append(buf, ',')
		}
		if stringKeys {
			buf = appendJSONString(buf, formatValue(keys, int(j)))
			buf = append(buf, ':')
			buf = appendJSONValue(buf, items, int(j))
			continue
		}
		buf = append(buf, `{"key":`...)
		buf = appendJSONValue(buf, keys, int(j))
		buf = append(buf, `,"value":`...)
		buf = appendJSONValue(buf, items, int(j))
		buf = append(buf, '}')
	}
	if stringKeys {
		return append(buf, '}')
	}
	return append(buf, ']')
}
