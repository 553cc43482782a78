package schema

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Info is a Pulsar schema as stored in Pulsar's schema registry.
//
// Type is the Pulsar schema type name (AVRO, JSON, STRING, BYTES, BOOLEAN, INT8, INT16, INT32, INT64,
// FLOAT, DOUBLE, DATE, TIME, TIMESTAMP, INSTANT, LOCAL_DATE, LOCAL_TIME, LOCAL_DATE_TIME, KEY_VALUE,
// NONE, PROTOBUF_NATIVE, ...). For AVRO and JSON, Schema holds the Avro schema definition. For
// KEY_VALUE, Schema holds the key and value schemas as Pulsar lays them out (4-byte big-endian length,
// key schema, 4-byte length, value schema) and Properties holds "key.schema.type",
// "value.schema.type", "key.schema.properties", "value.schema.properties" and "kv.encoding.type"
// (INLINE or SEPARATED).
type Info struct {
	Type       string
	Schema     []byte
	Properties map[string]string
}

// Pulsar schema type names.
const (
	TypeNone          = "NONE"
	TypeBytes         = "BYTES"
	TypeString        = "STRING"
	TypeBoolean       = "BOOLEAN"
	TypeInt8          = "INT8"
	TypeInt16         = "INT16"
	TypeInt32         = "INT32"
	TypeInt64         = "INT64"
	TypeFloat         = "FLOAT"
	TypeDouble        = "DOUBLE"
	TypeDate          = "DATE"
	TypeTime          = "TIME"
	TypeTimestamp     = "TIMESTAMP"
	TypeInstant       = "INSTANT"
	TypeLocalDate     = "LOCAL_DATE"
	TypeLocalTime     = "LOCAL_TIME"
	TypeLocalDateTime = "LOCAL_DATE_TIME"
	TypeAvro          = "AVRO"
	TypeJSON          = "JSON"
	TypeKeyValue      = "KEY_VALUE"
)

// Field metadata keys understood and produced by this package.
const (
	// MetaType marks a column whose SQL type Arrow cannot express on its own ("json", "int8", ...).
	MetaType = "magnetar.type"
	// MetaAvroDefault holds the JSON encoded Avro default of a field, in Arrow units.
	MetaAvroDefault = "avro.default"
	// MetaName is the Avro field property holding the column name when the column name is not a
	// valid Avro name (FromArrow writes it, ToArrow, decoders and encoders read it).
	MetaName = "magnetar.name"
)

// Column names used for non-record schemas.
const (
	ValueColumn = "value"
	KeyColumn   = "key"
	// KeyPrefix prefixes the fields of a record key in a KEY_VALUE table.
	KeyPrefix = "key_"
)

func kind(info Info) string {
	t := strings.ToUpper(strings.TrimSpace(info.Type))
	if t == "" {
		return TypeNone
	}
	return t
}

// ToArrow returns the table columns (without metadata columns) for a Pulsar schema.
func ToArrow(info Info) (*arrow.Schema, error) {
	fields, err := toArrowFields(info)
	if err != nil {
		return nil, err
	}
	return arrow.NewSchema(fields, nil), nil
}

func toArrowFields(info Info) ([]arrow.Field, error) {
	switch k := kind(info); k {
	case TypeAvro, TypeJSON:
		s, err := parseAvro(info.Schema)
		if err != nil {
			return nil, fmt.Errorf("schema: %s schema: %w", k, err)
		}
		return avroColumns(s)
	case TypeKeyValue:
		kv, err := splitKeyValue(info)
		if err != nil {
			return nil, err
		}
		return kv.columns()
	case TypeProtobufNative:
		return protoColumns(info)
	default:
		dt, ok := primitiveType(k)
		if !ok {
			return nil, fmt.Errorf("schema: unsupported Pulsar schema type %q", info.Type)
		}
		return []arrow.Field{{Name: ValueColumn, Type: dt, Nullable: true}}, nil
	}
}

// Decoder decodes message payloads into Arrow builders.
type Decoder interface {
	// Append decodes one message payload (and key for KEY_VALUE SEPARATED) and appends one row to
	// the first NumFields() builders of b. On error it leaves b exactly as it was (no partial row).
	// The key is the raw key bytes (see SeparatedKey for keys written by Pulsar's Java client); an
	// empty key gives null key columns. Append does not keep key or payload after it returns.
	Append(b *array.RecordBuilder, key, payload []byte) error
}

// rowDecoder is the two-phase form every decoder has: decode checks a payload and keeps what it
// needs in scratch state, emit appends that row and cannot fail. Splitting the phases keeps
// Append atomic, also across the key and value halves of KEY_VALUE.
type rowDecoder interface {
	decode(key, payload []byte) error
	emit(bs []array.Builder)
}

type decoder struct {
	rd      rowDecoder
	ncols   int
	target  *arrow.Schema
	checked *array.RecordBuilder // last builder whose column types were checked

	checkedBatch *BatchBuilder // last BatchBuilder whose column types were checked
}

func (d *decoder) Append(b *array.RecordBuilder, key, payload []byte) error {
	bs := b.Fields()
	if b != d.checked {
		if err := checkColumns(b.Schema(), d.target); err != nil {
			return err
		}
		d.checked = b
	}
	if err := d.rd.decode(key, payload); err != nil {
		return err
	}
	d.rd.emit(bs)
	return nil
}

// NewDecoder compiles a decoder for the given writer schema that fills the columns of the target
// (table) schema. Target fields missing from the writer are filled with their "avro.default"
// metadata or null; writer fields not in the target are skipped.
func NewDecoder(writer Info, target *arrow.Schema) (Decoder, error) {
	cols := make([]int, target.NumFields())
	for i := range cols {
		cols[i] = i
	}
	rd, err := newRowDecoder(writer, target.Fields(), cols)
	if err != nil {
		return nil, err
	}
	return &decoder{rd: rd, ncols: target.NumFields(), target: target}, nil
}

// checkColumns checks that the first columns of have match the types of want, so that compiled
// code never meets a builder or array of another type.
func checkColumns(have, want *arrow.Schema) error {
	if have.NumFields() < want.NumFields() {
		return fmt.Errorf("schema: record has %d columns, want at least %d", have.NumFields(), want.NumFields())
	}
	for i, f := range want.Fields() {
		if !arrow.TypeEqual(have.Field(i).Type, f.Type) {
			return fmt.Errorf("schema: column %d (%s) is %s, want %s", i, f.Name, have.Field(i).Type, f.Type)
		}
	}
	return nil
}

// newRowDecoder compiles a decoder filling target fields tf into builder columns cols.
func newRowDecoder(writer Info, tf []arrow.Field, cols []int) (rowDecoder, error) {
	switch k := kind(writer); k {
	case TypeAvro:
		s, err := parseAvro(writer.Schema)
		if err != nil {
			return nil, fmt.Errorf("schema: AVRO schema: %w", err)
		}
		return newAvroRowDecoder(s, tf, cols)
	case TypeJSON:
		s, err := parseAvro(writer.Schema)
		if err != nil {
			return nil, fmt.Errorf("schema: JSON schema: %w", err)
		}
		return newJSONRowDecoder(s, tf, cols)
	case TypeKeyValue:
		return newKeyValueDecoder(writer, tf, cols)
	case TypeProtobufNative:
		return newProtoRowDecoder(writer, tf, cols)
	default:
		return newPrimitiveDecoder(k, tf, cols)
	}
}
