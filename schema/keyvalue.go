package schema

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// KEY_VALUE schema properties, as Pulsar names them.
const (
	PropKeyType       = "key.schema.type"
	PropValueType     = "value.schema.type"
	PropKeyProps      = "key.schema.properties"
	PropValueProps    = "value.schema.properties"
	PropKeyName       = "key.schema.name"
	PropValueName     = "value.schema.name"
	PropKVEncoding    = "kv.encoding.type"
	EncodingInline    = "INLINE"
	EncodingSeparated = "SEPARATED"
)

// kvInfo is a KEY_VALUE schema split into its halves.
type kvInfo struct {
	key, value Info
	separated  bool
}

// splitKV splits Pulsar's key/value layout: 4-byte big-endian length (-1 for none), bytes, twice.
func splitKV(data []byte) (key, value []byte, keyNull, valueNull bool, err error) {
	read := func() ([]byte, bool, error) {
		if len(data) < 4 {
			return nil, false, fmt.Errorf("truncated key/value data")
		}
		n := int32(binary.BigEndian.Uint32(data))
		data = data[4:]
		if n == -1 {
			return nil, true, nil
		}
		if n < 0 || int(n) > len(data) {
			return nil, false, fmt.Errorf("bad key/value length %d", n)
		}
		b := data[:n]
		data = data[n:]
		return b, false, nil
	}
	if key, keyNull, err = read(); err != nil {
		return
	}
	if value, valueNull, err = read(); err != nil {
		return
	}
	if len(data) != 0 {
		err = fmt.Errorf("%d trailing bytes after key/value data", len(data))
	}
	return
}

// JoinKeyValue lays out two byte strings as Pulsar does for KEY_VALUE schema data and INLINE
// payloads; a nil slice is written as "none" (length -1).
func JoinKeyValue(key, value []byte) []byte {
	out := make([]byte, 0, 8+len(key)+len(value))
	put := func(b []byte) {
		n := uint32(len(b))
		if b == nil {
			n = 0xffffffff
		}
		out = binary.BigEndian.AppendUint32(out, n)
		out = append(out, b...)
	}
	put(key)
	put(value)
	return out
}

// KeyValueInfo builds a KEY_VALUE Info from its halves, as Pulsar's Java client does.
func KeyValueInfo(key, value Info, separated bool) (Info, error) {
	props := map[string]string{
		PropKeyType: kind(key), PropValueType: kind(value), PropKVEncoding: EncodingInline,
	}
	if separated {
		props[PropKVEncoding] = EncodingSeparated
	}
	for name, p := range map[string]map[string]string{PropKeyProps: key.Properties, PropValueProps: value.Properties} {
		if p == nil {
			p = map[string]string{}
		}
		b, err := json.Marshal(p)
		if err != nil {
			return Info{}, fmt.Errorf("schema: %w", err)
		}
		props[name] = string(b)
	}
	ks, vs := key.Schema, value.Schema
	if ks == nil {
		ks = []byte{}
	}
	if vs == nil {
		vs = []byte{}
	}
	return Info{Type: TypeKeyValue, Schema: JoinKeyValue(ks, vs), Properties: props}, nil
}

func splitKeyValue(info Info) (kvInfo, error) {
	k, v, _, _, err := splitKV(info.Schema)
	if err != nil {
		return kvInfo{}, fmt.Errorf("schema: KEY_VALUE schema: %w", err)
	}
	sub := func(typeProp, propsProp string, data []byte) (Info, error) {
		t := info.Properties[typeProp]
		if t == "" {
			t = TypeBytes
		}
		var props map[string]string
		if s := info.Properties[propsProp]; s != "" {
			if err := json.Unmarshal([]byte(s), &props); err != nil {
				return Info{}, fmt.Errorf("schema: KEY_VALUE %s: %w", propsProp, err)
			}
		}
		return Info{Type: t, Schema: data, Properties: props}, nil
	}
	var kv kvInfo
	if kv.key, err = sub(PropKeyType, PropKeyProps, k); err != nil {
		return kvInfo{}, err
	}
	if kv.value, err = sub(PropValueType, PropValueProps, v); err != nil {
		return kvInfo{}, err
	}
	if kind(kv.key) == TypeKeyValue || kind(kv.value) == TypeKeyValue {
		return kvInfo{}, fmt.Errorf("schema: nested KEY_VALUE schemas are not supported")
	}
	kv.separated = strings.EqualFold(info.Properties[PropKVEncoding], EncodingSeparated)
	return kv, nil
}

// isRecord reports whether a schema gives record columns (rather than one `value` column).
func isRecord(info Info) bool {
	k := kind(info)
	if k != TypeAvro && k != TypeJSON {
		return false
	}
	s, err := parseAvro(info.Schema)
	if err != nil {
		return false
	}
	return deref(s).Type() == "record"
}

func (kv kvInfo) columns() ([]arrow.Field, error) {
	kf, err := toArrowFields(kv.key)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	vf, err := toArrowFields(kv.value)
	if err != nil {
		return nil, fmt.Errorf("value: %w", err)
	}
	keyRec := isRecord(kv.key)
	seen := map[string]bool{}
	var out []arrow.Field
	for _, f := range kf {
		if keyRec {
			f.Name = KeyPrefix + f.Name
		} else {
			f.Name = KeyColumn
		}
		f.Nullable = true // a message may have no key
		seen[strings.ToLower(f.Name)] = true
		out = append(out, f)
	}
	for _, f := range vf {
		if seen[strings.ToLower(f.Name)] {
			return nil, fmt.Errorf("schema: KEY_VALUE column %s appears in both key and value", f.Name)
		}
		f.Nullable = true // a message may have a null value
		out = append(out, f)
	}
	return out, nil
}

// kvDecoder decodes the key and value halves with their own decoders, both checked before
// either is appended.
type kvDecoder struct {
	separated          bool
	key, value         rowDecoder
	keyCols, valueCols []int
	keyNull, valueNull bool
}

func newKeyValueDecoder(writer Info, tf []arrow.Field, cols []int) (rowDecoder, error) {
	kv, err := splitKeyValue(writer)
	if err != nil {
		return nil, err
	}
	vf, err := toArrowFields(kv.value)
	if err != nil {
		return nil, fmt.Errorf("schema: value: %w", err)
	}
	keyRec := isRecord(kv.key)
	var kFields, vFields []arrow.Field
	var kCols, vCols []int
	for i, f := range tf {
		lower := strings.ToLower(f.Name)
		switch {
		case findField(vf, f.Name) >= 0:
		case keyRec && strings.HasPrefix(lower, KeyPrefix):
			f.Name = f.Name[len(KeyPrefix):]
			kFields, kCols = append(kFields, f), append(kCols, cols[i])
			continue
		case !keyRec && lower == KeyColumn:
			f.Name = ValueColumn
			kFields, kCols = append(kFields, f), append(kCols, cols[i])
			continue
		}
		vFields, vCols = append(vFields, f), append(vCols, cols[i])
	}
	d := &kvDecoder{separated: kv.separated, keyCols: kCols, valueCols: vCols}
	if d.key, err = newRowDecoder(kv.key, kFields, kCols); err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	if d.value, err = newRowDecoder(kv.value, vFields, vCols); err != nil {
		return nil, fmt.Errorf("value: %w", err)
	}
	return d, nil
}

func (d *kvDecoder) decode(key, payload []byte) error {
	var value []byte
	if d.separated {
		// The key travels as the message key; a message without one has null key columns.
		value, d.keyNull, d.valueNull = payload, len(key) == 0, false
	} else {
		var err error
		key, value, d.keyNull, d.valueNull, err = splitKV(payload)
		if err != nil {
			return fmt.Errorf("schema: KEY_VALUE payload: %w", err)
		}
	}
	if !d.keyNull {
		if err := d.key.decode(nil, key); err != nil {
			return fmt.Errorf("key: %w", err)
		}
	}
	if !d.valueNull {
		if err := d.value.decode(nil, value); err != nil {
			return fmt.Errorf("value: %w", err)
		}
	}
	return nil
}

func (d *kvDecoder) emit(bs []array.Builder) {
	if d.keyNull {
		for _, c := range d.keyCols {
			bs[c].AppendNull()
		}
	} else {
		d.key.emit(bs)
	}
	if d.valueNull {
		for _, c := range d.valueCols {
			bs[c].AppendNull()
		}
	} else {
		d.value.emit(bs)
	}
}

// SeparatedKey turns the message key of a KEY_VALUE SEPARATED message into the key bytes
// Decoder.Append expects. Pulsar's Java client stores such keys base64 encoded (and flags them
// partition_key_b64_encoded, a flag the Go client does not expose), so this decodes base64.
func SeparatedKey(msgKey string) ([]byte, error) {
	if msgKey == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(msgKey)
	if err != nil {
		return nil, fmt.Errorf("schema: KEY_VALUE key is not base64: %w", err)
	}
	return b, nil
}
