package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hamba/avro/v2"
)

// parseAvro parses an Avro schema definition with a private name cache, so that successive
// versions of a record with the same name do not see each other.
func parseAvro(def []byte) (avro.Schema, error) {
	if len(def) == 0 {
		return nil, errors.New("empty Avro schema definition")
	}
	s, err := avro.ParseBytesWithCache(def, "", &avro.SchemaCache{})
	if err != nil && bytes.IndexByte(def, '$') >= 0 {
		// Java's reflect-based schemas (Pulsar's Java client) name nested classes Outer$Inner,
		// which the Avro name rules reject. Names do not affect the binary encoding, so retry
		// with '$' replaced in names and type references.
		var v any
		if json.Unmarshal(def, &v) == nil {
			if fixed, merr := json.Marshal(fixDollarNames(v, "")); merr == nil {
				if s2, err2 := avro.ParseBytesWithCache(fixed, "", &avro.SchemaCache{}); err2 == nil {
					return s2, nil
				}
			}
		}
	}
	return s, err
}

// fixDollarNames replaces '$' by '_' in names, namespaces, aliases and named-type references of a
// schema decoded as generic JSON. key is the object key v was found under.
func fixDollarNames(v any, key string) any {
	fix := func(s string) string { return strings.ReplaceAll(s, "$", "_") }
	switch x := v.(type) {
	case string:
		switch key {
		case "name", "namespace", "type", "items", "values", "union", "aliases":
			return fix(x)
		}
		return x
	case []any:
		k := "union"
		if key == "fields" || key == "symbols" || key == "aliases" {
			k = key
		}
		for i := range x {
			x[i] = fixDollarNames(x[i], k)
		}
		return x
	case map[string]any:
		for k, e := range x {
			switch k {
			case "default", "doc", "symbols":
				continue
			}
			x[k] = fixDollarNames(e, k)
		}
		return x
	}
	return v
}

// deref resolves named-type references.
func deref(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

// nullableBranch reports whether s is a union of null and one other type, and returns that type
// and the index of the null branch. A single-branch union is returned as its branch.
func nullableBranch(s avro.Schema) (inner avro.Schema, nullIdx int, ok bool) {
	u, isU := s.(*avro.UnionSchema)
	if !isU {
		return s, -1, false
	}
	ts := u.Types()
	switch {
	case len(ts) == 1:
		return ts[0], -1, false
	case len(ts) == 2 && ts[0].Type() == avro.Null && ts[1].Type() != avro.Null:
		return ts[1], 0, true
	case len(ts) == 2 && ts[1].Type() == avro.Null && ts[0].Type() != avro.Null:
		return ts[0], 1, true
	}
	return nil, -1, false
}

func logicalOf(s avro.Schema) avro.LogicalSchema {
	switch t := s.(type) {
	case *avro.PrimitiveSchema:
		return t.Logical()
	case *avro.FixedSchema:
		return t.Logical()
	}
	return nil
}

func propString(s avro.Schema, name string) string {
	type propser interface{ Prop(string) any }
	if p, ok := s.(propser); ok {
		if v, ok := p.Prop(name).(string); ok {
			return v
		}
	}
	return ""
}

// avroColumns returns the table columns of an Avro (or JSON) schema.
func avroColumns(s avro.Schema) ([]arrow.Field, error) {
	s = deref(s)
	m := &avroMapper{visiting: map[string]bool{}}
	if rec, ok := s.(*avro.RecordSchema); ok {
		return m.recordFields(rec)
	}
	f, err := m.field(ValueColumn, s, nil)
	if err != nil {
		return nil, err
	}
	return []arrow.Field{f}, nil
}

type avroMapper struct {
	visiting map[string]bool // record names on the current path, to reject recursive types
}

func (m *avroMapper) recordFields(rec *avro.RecordSchema) ([]arrow.Field, error) {
	if m.visiting[rec.FullName()] {
		return nil, fmt.Errorf("recursive record %s is not supported", rec.FullName())
	}
	m.visiting[rec.FullName()] = true
	defer delete(m.visiting, rec.FullName())
	fs := make([]arrow.Field, 0, len(rec.Fields()))
	for _, f := range rec.Fields() {
		af, err := m.field(columnName(f), f.Type(), f)
		if err != nil {
			return nil, err
		}
		fs = append(fs, af)
	}
	return fs, nil
}

// field maps one Avro field (or a top-level non-record schema when af is nil).
func (m *avroMapper) field(name string, s avro.Schema, af *avro.Field) (arrow.Field, error) {
	s = deref(s)
	nullable := false
	if _, isU := s.(*avro.UnionSchema); isU {
		inner, nullIdx, ok := nullableBranch(s)
		if inner == nil {
			// A general union: a dense union column, nullable when null is a branch.
			for _, t := range s.(*avro.UnionSchema).Types() {
				nullable = nullable || t.Type() == avro.Null
			}
		} else {
			nullable = ok && nullIdx >= 0
			s = deref(inner)
		}
	}
	if s.Type() == avro.Null {
		nullable = true
	}
	dt, err := m.dataType(name, s)
	if err != nil {
		return arrow.Field{}, err
	}
	md := map[string]string{}
	if t := propString(s, MetaType); t != "" {
		md[MetaType] = t
	}
	if af != nil && af.HasDefault() {
		if d, ok := defaultJSON(s, af.Default()); ok {
			md[MetaAvroDefault] = d
		}
	}
	f := arrow.Field{Name: name, Type: dt, Nullable: nullable}
	if len(md) > 0 {
		f.Metadata = arrow.MetadataFrom(md)
	}
	return f, nil
}

// defaultJSON renders an Avro default in Arrow units, for the scalar types where a default is
// worth carrying. ok is false when there is nothing to carry (no default, null, complex type).
func defaultJSON(s avro.Schema, def any) (string, bool) {
	if def == nil {
		return "", false
	}
	mul := int64(1)
	if l := logicalOf(s); l != nil {
		switch l.Type() {
		case avro.TimestampMillis, avro.LocalTimestampMillis, avro.TimeMillis:
			mul = 1000
		case avro.TimestampMicros, avro.LocalTimestampMicros, avro.TimeMicros, avro.Date, avro.UUID:
		default:
			return "", false
		}
	}
	switch s.Type() {
	case avro.Boolean, avro.Float, avro.Double, avro.String, avro.Enum:
	case avro.Int, avro.Long:
		var v int64
		switch d := def.(type) {
		case int:
			v = int64(d)
		case int32:
			v = int64(d)
		case int64:
			v = d
		case float64:
			v = int64(d)
		default:
			return "", false
		}
		def = v * mul
	default:
		return "", false
	}
	b, err := json.Marshal(def)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// widthTypes are the Arrow integer types FromArrow records in "magnetar.type".
var widthTypes = map[string]arrow.DataType{
	"int8":   arrow.PrimitiveTypes.Int8,
	"int16":  arrow.PrimitiveTypes.Int16,
	"uint8":  arrow.PrimitiveTypes.Uint8,
	"uint16": arrow.PrimitiveTypes.Uint16,
	"uint32": arrow.PrimitiveTypes.Uint32,
	"uint64": arrow.PrimitiveTypes.Uint64,
}

func (m *avroMapper) dataType(name string, s avro.Schema) (arrow.DataType, error) {
	s = deref(s)
	if l := logicalOf(s); l != nil {
		switch l.Type() {
		case avro.TimestampMillis, avro.TimestampMicros, avro.LocalTimestampMillis, avro.LocalTimestampMicros:
			if s.Type() == avro.Long {
				return arrow.FixedWidthTypes.Timestamp_us, nil
			}
		case avro.Date:
			if s.Type() == avro.Int {
				return arrow.FixedWidthTypes.Date32, nil
			}
		case avro.TimeMillis:
			if s.Type() == avro.Int {
				return arrow.FixedWidthTypes.Time64us, nil
			}
		case avro.TimeMicros:
			if s.Type() == avro.Long {
				return arrow.FixedWidthTypes.Time64us, nil
			}
		case avro.Decimal:
			d := l.(*avro.DecimalLogicalSchema)
			if d.Precision() < 1 || d.Precision() > 38 {
				return nil, fmt.Errorf("decimal precision %d out of range 1..38 in field %s", d.Precision(), name)
			}
			return &arrow.Decimal128Type{Precision: int32(d.Precision()), Scale: int32(d.Scale())}, nil
		}
		// Unknown or misplaced logical types fall back to the underlying type, as Avro says.
	}
	switch s.Type() {
	case avro.Null:
		return arrow.Null, nil
	case avro.Boolean:
		return arrow.FixedWidthTypes.Boolean, nil
	case avro.Int, avro.Long:
		if t, ok := widthTypes[propString(s, MetaType)]; ok {
			return t, nil
		}
		if s.Type() == avro.Int {
			return arrow.PrimitiveTypes.Int32, nil
		}
		return arrow.PrimitiveTypes.Int64, nil
	case avro.Float:
		return arrow.PrimitiveTypes.Float32, nil
	case avro.Double:
		return arrow.PrimitiveTypes.Float64, nil
	case avro.String, avro.Enum:
		return arrow.BinaryTypes.String, nil
	case avro.Bytes:
		return arrow.BinaryTypes.Binary, nil
	case avro.Fixed:
		return &arrow.FixedSizeBinaryType{ByteWidth: s.(*avro.FixedSchema).Size()}, nil
	case avro.Record:
		fs, err := m.recordFields(s.(*avro.RecordSchema))
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", name, err)
		}
		return arrow.StructOf(fs...), nil
	case avro.Array:
		item, err := m.field("item", s.(*avro.ArraySchema).Items(), nil)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", name, err)
		}
		return arrow.ListOfField(item), nil
	case avro.Map:
		item, err := m.field("value", s.(*avro.MapSchema).Values(), nil)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", name, err)
		}
		return arrow.MapOfFields(arrow.Field{Name: "key", Type: arrow.BinaryTypes.String}, item), nil
	case avro.Union:
		return m.denseUnion(name, s.(*avro.UnionSchema))
	}
	return nil, fmt.Errorf("unsupported Avro type %s in field %s", s.Type(), name)
}

// branchName names the child of a dense union column for an Avro union branch: the short name of
// a named type, else the type name ("int", "string", "array", ...).
func branchName(s avro.Schema) string {
	s = deref(s)
	if n, ok := s.(avro.NamedSchema); ok {
		return n.Name()
	}
	return string(s.Type())
}

// denseUnion maps a union other than [null, T] to a dense union whose children are the non-null
// branches in order, with type codes 0, 1, ...
func (m *avroMapper) denseUnion(name string, u *avro.UnionSchema) (arrow.DataType, error) {
	var fields []arrow.Field
	var codes []arrow.UnionTypeCode
	seen := map[string]bool{}
	for _, t := range u.Types() {
		if t.Type() == avro.Null {
			continue
		}
		f, err := m.field(branchName(t), t, nil)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", name, err)
		}
		if seen[f.Name] {
			return nil, fmt.Errorf("unsupported union %s in field %s: two branches named %s", u.String(), name, f.Name)
		}
		seen[f.Name] = true
		f.Nullable = true // union nulls live in the children
		fields = append(fields, f)
		codes = append(codes, arrow.UnionTypeCode(len(codes)))
	}
	if len(fields) == 0 || len(fields) > 127 {
		return nil, fmt.Errorf("unsupported union %s in field %s", u.String(), name)
	}
	return arrow.DenseUnionOf(fields, codes), nil
}

// columnName is the table column name of an Avro field: its "magnetar.name" property when set,
// else its name.
func columnName(f *avro.Field) string {
	if s, ok := f.Prop(MetaName).(string); ok && s != "" {
		return s
	}
	return f.Name()
}
