package schema

import (
	"encoding/json"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
)

// FromArrow derives an Avro schema (an Info with Type "AVRO") from an Arrow schema, for CREATE
// TABLE. Nullable columns become unions with null (null first, default null, unless the field has
// an "avro.default", which then goes first). Nested structs become records named
// recordName_field. Integer widths and JSON columns Avro lacks are kept in the "magnetar.type"
// property so that ToArrow gives back the same Arrow schema.
func FromArrow(s *arrow.Schema, recordName string) (Info, error) {
	if recordName == "" {
		recordName = "Row"
	}
	g := &avroGen{names: map[string]bool{}}
	rec, err := g.record(recordName, s.Fields())
	if err != nil {
		return Info{}, fmt.Errorf("schema: %w", err)
	}
	def, err := json.Marshal(rec)
	if err != nil {
		return Info{}, fmt.Errorf("schema: %w", err)
	}
	// Check the result is a valid Avro schema.
	if _, err := parseAvro(def); err != nil {
		return Info{}, fmt.Errorf("schema: derived Avro schema is invalid: %w", err)
	}
	return Info{Type: TypeAvro, Schema: def, Properties: map[string]string{}}, nil
}

type avroGen struct {
	names map[string]bool // record and fixed names in use
}

func (g *avroGen) uniqueName(base string) string {
	name := base
	for i := 2; g.names[name]; i++ {
		name = fmt.Sprintf("%s%d", base, i)
	}
	g.names[name] = true
	return name
}

func (g *avroGen) record(name string, fields []arrow.Field) (map[string]any, error) {
	name = g.uniqueName(avroName(name))
	fs := make([]any, 0, len(fields))
	used := map[string]bool{}
	for _, f := range fields {
		t, err := g.typ(name+"_"+avroName(f.Name), f)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", f.Name, err)
		}
		fname := avroName(f.Name)
		for i := 2; used[fname]; i++ {
			fname = fmt.Sprintf("%s_%d", avroName(f.Name), i)
		}
		used[fname] = true
		af := map[string]any{"name": fname, "type": t}
		if fname != f.Name {
			// SQL column names such as "COUNT(*)" are not Avro names: keep the column's name.
			af[MetaName] = f.Name
		}
		var def any
		hasDef := false
		if d, ok := f.Metadata.GetValue(MetaAvroDefault); ok {
			if err := json.Unmarshal([]byte(d), &def); err == nil && def != nil {
				hasDef = true
			}
		}
		if t == "null" {
			fs = append(fs, af)
			continue
		}
		if u, ok := t.([]any); ok {
			// A union column: null joins the branches instead of wrapping them.
			if f.Nullable {
				t = append([]any{"null"}, u...)
				af["default"] = nil
			}
			af["type"] = t
			fs = append(fs, af)
			continue
		}
		switch {
		case f.Nullable && hasDef:
			af["type"] = []any{t, "null"}
			af["default"] = def
		case f.Nullable:
			af["type"] = []any{"null", t}
			af["default"] = nil
		case hasDef:
			af["default"] = def
		}
		fs = append(fs, af)
	}
	return map[string]any{"type": "record", "name": name, "fields": fs}, nil
}

// typ returns the Avro type of a field, without its nullability.
func (g *avroGen) typ(name string, f arrow.Field) (any, error) {
	dt := f.Type
	mt, _ := f.Metadata.GetValue(MetaType)
	withProp := func(base string, prop string) any {
		return map[string]any{"type": base, MetaType: prop}
	}
	switch t := dt.(type) {
	case *arrow.NullType:
		return "null", nil
	case *arrow.BooleanType:
		return "boolean", nil
	case *arrow.Int8Type:
		return withProp("int", "int8"), nil
	case *arrow.Int16Type:
		return withProp("int", "int16"), nil
	case *arrow.Uint8Type:
		return withProp("int", "uint8"), nil
	case *arrow.Uint16Type:
		return withProp("int", "uint16"), nil
	case *arrow.Int32Type:
		return "int", nil
	case *arrow.Uint32Type:
		return withProp("long", "uint32"), nil
	case *arrow.Int64Type:
		return "long", nil
	case *arrow.Uint64Type:
		return withProp("long", "uint64"), nil
	case *arrow.Float16Type, *arrow.Float32Type:
		if _, ok := dt.(*arrow.Float16Type); ok {
			return nil, fmt.Errorf("unsupported type %s", dt)
		}
		return "float", nil
	case *arrow.Float64Type:
		return "double", nil
	case *arrow.StringType, *arrow.LargeStringType, *arrow.StringViewType:
		if mt == "json" {
			return withProp("string", "json"), nil
		}
		return "string", nil
	case *arrow.BinaryType, *arrow.LargeBinaryType, *arrow.BinaryViewType:
		return "bytes", nil
	case *arrow.FixedSizeBinaryType:
		return map[string]any{"type": "fixed", "name": g.uniqueName(name), "size": t.ByteWidth}, nil
	case *arrow.Decimal128Type:
		return map[string]any{"type": "bytes", "logicalType": "decimal", "precision": t.Precision, "scale": t.Scale}, nil
	case *arrow.TimestampType:
		lt := "timestamp-micros"
		if t.Unit == arrow.Millisecond || t.Unit == arrow.Second {
			lt = "timestamp-millis"
		}
		return map[string]any{"type": "long", "logicalType": lt}, nil
	case *arrow.Date32Type, *arrow.Date64Type:
		return map[string]any{"type": "int", "logicalType": "date"}, nil
	case *arrow.Time32Type:
		return map[string]any{"type": "int", "logicalType": "time-millis"}, nil
	case *arrow.Time64Type:
		return map[string]any{"type": "long", "logicalType": "time-micros"}, nil
	case *arrow.StructType:
		return g.record(name, t.Fields())
	case *arrow.ListType:
		item, err := g.nullable(name+"_item", t.ElemField())
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "array", "items": item}, nil
	case *arrow.DenseUnionType:
		// Nullability of the column is added by the caller; children are branches.
		var branches []any
		for _, c := range t.Fields() {
			var bt any
			var err error
			if st, ok := c.Type.(*arrow.StructType); ok {
				bt, err = g.record(c.Name, st.Fields()) // named after the child, as ToArrow names it
			} else {
				bt, err = g.typ(name+"_"+c.Name, c)
			}
			if err != nil {
				return nil, err
			}
			branches = append(branches, bt)
		}
		return branches, nil
	case *arrow.MapType:
		if t.KeyType().ID() != arrow.STRING {
			return nil, fmt.Errorf("map keys must be strings for Avro, not %s", t.KeyType())
		}
		val, err := g.nullable(name+"_value", t.ItemField())
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "map", "values": val}, nil
	}
	return nil, fmt.Errorf("unsupported type %s", dt)
}

func (g *avroGen) nullable(name string, f arrow.Field) (any, error) {
	t, err := g.typ(name, f)
	if err != nil || !f.Nullable || t == "null" {
		return t, err
	}
	if u, ok := t.([]any); ok {
		return append([]any{"null"}, u...), nil
	}
	return []any{"null", t}, nil
}

// avroName turns a column name into a valid Avro name: [A-Za-z_][A-Za-z0-9_]*.
func avroName(s string) string {
	b := []byte(s)
	out := make([]byte, 0, len(b)+1)
	for i, c := range b {
		ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')
		switch {
		case ok:
			out = append(out, c)
		case i == 0 && c >= '0' && c <= '9':
			out = append(out, '_', c)
		default:
			out = append(out, '_')
		}
	}
	if len(out) == 0 {
		return "_"
	}
	return string(out)
}
