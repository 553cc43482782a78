package schema

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// TypeProtobufNative is Pulsar's PROTOBUF_NATIVE schema type: the schema data is JSON holding a
// base64 FileDescriptorSet, the root message's full name and the name of the file defining it.
//
// A PROTOBUF_NATIVE table has one column per field of the root message, named as in the .proto
// file. Types: bool → BOOLEAN; int32, sint32, sfixed32 → INT; int64, sint64, sfixed64 → BIGINT;
// uint32, fixed32 → INT UNSIGNED; uint64, fixed64 → BIGINT UNSIGNED; float, double; string;
// bytes → VARBINARY; enums → VARCHAR (the value's name, or its number when unknown); messages →
// STRUCT; repeated → LIST; map<k, v> → MAP; google.protobuf.Timestamp → TIMESTAMP (µs, UTC);
// the wrapper types (google.protobuf.Int64Value, ...) → their nullable scalar. Fields with
// presence (messages, proto2 / proto3 optional fields, oneof members) are nullable and read NULL
// when absent; other scalars read their zero value, repeated and map fields an empty list or map.
//
// Decoding unmarshals each payload into a reused dynamic message (google.golang.org/protobuf's
// dynamicpb) and appends its fields; it is correct rather than fast. Across writer schema
// versions columns match by field name and must keep their type; target columns the writer lacks
// read their default or NULL.
const TypeProtobufNative = "PROTOBUF_NATIVE"

// protoNativeData is the JSON schema data of a PROTOBUF_NATIVE schema.
type protoNativeData struct {
	FileDescriptorSet      string `json:"fileDescriptorSet"`
	RootMessageTypeName    string `json:"rootMessageTypeName"`
	RootFileDescriptorName string `json:"rootFileDescriptorName"`
}

// maxProtoDepth bounds message nesting, which also rejects recursive messages (Arrow types are
// finite).
const maxProtoDepth = 32

// protoRoot resolves the root message descriptor of a PROTOBUF_NATIVE schema.
func protoRoot(info Info) (protoreflect.MessageDescriptor, error) {
	var d protoNativeData
	if err := json.Unmarshal(info.Schema, &d); err != nil {
		return nil, fmt.Errorf("schema: PROTOBUF_NATIVE schema data: %w", err)
	}
	raw, err := base64.StdEncoding.DecodeString(d.FileDescriptorSet)
	if err != nil {
		return nil, fmt.Errorf("schema: PROTOBUF_NATIVE fileDescriptorSet: %w", err)
	}
	var fds descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(raw, &fds); err != nil {
		return nil, fmt.Errorf("schema: PROTOBUF_NATIVE fileDescriptorSet: %w", err)
	}
	files, err := protodesc.NewFiles(&fds)
	if err != nil {
		return nil, fmt.Errorf("schema: PROTOBUF_NATIVE fileDescriptorSet: %w", err)
	}
	desc, err := files.FindDescriptorByName(protoreflect.FullName(d.RootMessageTypeName))
	if err != nil {
		return nil, fmt.Errorf("schema: PROTOBUF_NATIVE root message %q: %w", d.RootMessageTypeName, err)
	}
	md, ok := desc.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, fmt.Errorf("schema: PROTOBUF_NATIVE root %q is not a message", d.RootMessageTypeName)
	}
	return md, nil
}

// ProtobufNativeInfo returns the PROTOBUF_NATIVE schema of a message, laid out as Pulsar's Java
// client registers it (the message's file and every file it imports, transitively).
func ProtobufNativeInfo(md protoreflect.MessageDescriptor) (Info, error) {
	var fds descriptorpb.FileDescriptorSet
	seen := map[string]bool{}
	var add func(f protoreflect.FileDescriptor)
	add = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		imps := f.Imports()
		for i := 0; i < imps.Len(); i++ {
			add(imps.Get(i).FileDescriptor)
		}
		fds.File = append(fds.File, protodesc.ToFileDescriptorProto(f))
	}
	add(md.ParentFile())
	raw, err := proto.Marshal(&fds)
	if err != nil {
		return Info{}, fmt.Errorf("schema: %w", err)
	}
	data, err := json.Marshal(protoNativeData{
		FileDescriptorSet:      base64.StdEncoding.EncodeToString(raw),
		RootMessageTypeName:    string(md.FullName()),
		RootFileDescriptorName: md.ParentFile().Path(),
	})
	if err != nil {
		return Info{}, fmt.Errorf("schema: %w", err)
	}
	return Info{Type: TypeProtobufNative, Schema: data, Properties: map[string]string{}}, nil
}

func protoColumns(info Info) ([]arrow.Field, error) {
	md, err := protoRoot(info)
	if err != nil {
		return nil, err
	}
	return protoFields(md, 0)
}

func protoFields(md protoreflect.MessageDescriptor, depth int) ([]arrow.Field, error) {
	if depth > maxProtoDepth {
		return nil, fmt.Errorf("schema: protobuf message %s nests deeper than %d levels (recursive?)", md.FullName(), maxProtoDepth)
	}
	fs := md.Fields()
	out := make([]arrow.Field, 0, fs.Len())
	for i := 0; i < fs.Len(); i++ {
		fd := fs.Get(i)
		dt, err := protoFieldType(fd, depth)
		if err != nil {
			return nil, err
		}
		out = append(out, arrow.Field{Name: string(fd.Name()), Type: dt, Nullable: protoNullable(fd)})
	}
	return out, nil
}

// protoNullable: fields with presence read NULL when absent; so do wrapper types.
func protoNullable(fd protoreflect.FieldDescriptor) bool {
	return !fd.IsList() && !fd.IsMap() && fd.HasPresence()
}

// protoFieldType is the Arrow type of a field, cardinality included.
func protoFieldType(fd protoreflect.FieldDescriptor, depth int) (arrow.DataType, error) {
	switch {
	case fd.IsMap():
		kt, err := protoValueType(fd.MapKey(), depth)
		if err != nil {
			return nil, err
		}
		vt, err := protoValueType(fd.MapValue(), depth)
		if err != nil {
			return nil, err
		}
		return arrow.MapOf(kt, vt), nil
	case fd.IsList():
		et, err := protoValueType(fd, depth)
		if err != nil {
			return nil, err
		}
		return arrow.ListOf(et), nil
	}
	return protoValueType(fd, depth)
}

var protoTimestampType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

// wrapperTypes are the well-known wrapper messages, read as their "value" field.
var wrapperTypes = map[protoreflect.FullName]bool{
	"google.protobuf.DoubleValue": true, "google.protobuf.FloatValue": true,
	"google.protobuf.Int64Value": true, "google.protobuf.UInt64Value": true,
	"google.protobuf.Int32Value": true, "google.protobuf.UInt32Value": true,
	"google.protobuf.BoolValue": true, "google.protobuf.StringValue": true,
	"google.protobuf.BytesValue": true,
}

// protoValueType is the Arrow type of one value of a field (an element of a repeated field).
func protoValueType(fd protoreflect.FieldDescriptor, depth int) (arrow.DataType, error) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return arrow.FixedWidthTypes.Boolean, nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return arrow.PrimitiveTypes.Int32, nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return arrow.PrimitiveTypes.Int64, nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return arrow.PrimitiveTypes.Uint32, nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return arrow.PrimitiveTypes.Uint64, nil
	case protoreflect.FloatKind:
		return arrow.PrimitiveTypes.Float32, nil
	case protoreflect.DoubleKind:
		return arrow.PrimitiveTypes.Float64, nil
	case protoreflect.StringKind, protoreflect.EnumKind:
		return arrow.BinaryTypes.String, nil
	case protoreflect.BytesKind:
		return arrow.BinaryTypes.Binary, nil
	case protoreflect.MessageKind, protoreflect.GroupKind:
		m := fd.Message()
		switch {
		case m.FullName() == "google.protobuf.Timestamp":
			return protoTimestampType, nil
		case wrapperTypes[m.FullName()]:
			return protoValueType(m.Fields().ByName("value"), depth)
		}
		fs, err := protoFields(m, depth+1)
		if err != nil {
			return nil, err
		}
		return arrow.StructOf(fs...), nil
	}
	return nil, fmt.Errorf("schema: protobuf field %s: unsupported kind %s", fd.FullName(), fd.Kind())
}

// protoDecoder decodes PROTOBUF_NATIVE payloads: decode unmarshals into a reused dynamic
// message, emit appends its fields.
type protoDecoder struct {
	msg    *dynamicpb.Message
	cols   []protoCol
	others []colFill
}

type protoCol struct {
	col int
	app func(b array.Builder, m protoreflect.Message)
}

func newProtoRowDecoder(writer Info, tf []arrow.Field, cols []int) (rowDecoder, error) {
	md, err := protoRoot(writer)
	if err != nil {
		return nil, err
	}
	d := &protoDecoder{msg: dynamicpb.NewMessage(md)}
	for i, f := range tf {
		fd := md.Fields().ByName(protoreflect.Name(f.Name))
		if fd == nil {
			fill, err := defaultFiller(f)
			if err != nil {
				return nil, fmt.Errorf("schema: %w", err)
			}
			d.others = append(d.others, colFill{cols[i], fill})
			continue
		}
		wt, err := protoFieldType(fd, 0)
		if err != nil {
			return nil, err
		}
		if !arrow.TypeEqual(wt, f.Type) {
			return nil, fmt.Errorf("schema: protobuf field %s is %s in the writer schema, the column is %s", fd.Name(), wt, f.Type)
		}
		app, err := protoFieldAppender(fd)
		if err != nil {
			return nil, err
		}
		d.cols = append(d.cols, protoCol{col: cols[i], app: app})
	}
	return d, nil
}

func (d *protoDecoder) decode(_, payload []byte) error {
	proto.Reset(d.msg)
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(payload, d.msg); err != nil {
		return fmt.Errorf("schema: protobuf payload: %w", err)
	}
	return nil
}

func (d *protoDecoder) emit(bs []array.Builder) {
	m := d.msg.ProtoReflect()
	for _, c := range d.cols {
		c.app(bs[c.col], m)
	}
	for _, o := range d.others {
		o.fill(bs[o.col])
	}
}

// protoFieldAppender appends field fd of a message (NULL when it has presence and is absent).
func protoFieldAppender(fd protoreflect.FieldDescriptor) (func(b array.Builder, m protoreflect.Message), error) {
	switch {
	case fd.IsMap():
		kapp, err := protoValueAppender(fd.MapKey())
		if err != nil {
			return nil, err
		}
		vapp, err := protoValueAppender(fd.MapValue())
		if err != nil {
			return nil, err
		}
		return func(b array.Builder, m protoreflect.Message) {
			mb := b.(*array.MapBuilder)
			mb.Append(true)
			mp := m.Get(fd).Map()
			keys := make([]protoreflect.MapKey, 0, mp.Len())
			mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
				keys = append(keys, k)
				return true
			})
			// Map iteration order is random: sort for stable output.
			sort.Slice(keys, func(i, j int) bool { return mapKeyLess(keys[i], keys[j]) })
			for _, k := range keys {
				kapp(mb.KeyBuilder(), k.Value())
				vapp(mb.ItemBuilder(), mp.Get(k))
			}
		}, nil
	case fd.IsList():
		eapp, err := protoValueAppender(fd)
		if err != nil {
			return nil, err
		}
		return func(b array.Builder, m protoreflect.Message) {
			lb := b.(*array.ListBuilder)
			lb.Append(true)
			l := m.Get(fd).List()
			vb := lb.ValueBuilder()
			for i := 0; i < l.Len(); i++ {
				eapp(vb, l.Get(i))
			}
		}, nil
	}
	app, err := protoValueAppender(fd)
	if err != nil {
		return nil, err
	}
	if fd.HasPresence() {
		return func(b array.Builder, m protoreflect.Message) {
			if !m.Has(fd) {
				b.AppendNull()
				return
			}
			app(b, m.Get(fd))
		}, nil
	}
	return func(b array.Builder, m protoreflect.Message) { app(b, m.Get(fd)) }, nil
}

func mapKeyLess(a, b protoreflect.MapKey) bool {
	switch x := a.Interface().(type) {
	case string:
		return x < b.String()
	case bool:
		return !x && b.Bool()
	case int32, int64:
		return a.Int() < b.Int()
	case uint32, uint64:
		return a.Uint() < b.Uint()
	}
	return a.String() < b.String()
}

// protoValueAppender appends one value of field fd (an element, for repeated fields).
func protoValueAppender(fd protoreflect.FieldDescriptor) (func(b array.Builder, v protoreflect.Value), error) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return func(b array.Builder, v protoreflect.Value) { b.(*array.BooleanBuilder).Append(v.Bool()) }, nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return func(b array.Builder, v protoreflect.Value) { b.(*array.Int32Builder).Append(int32(v.Int())) }, nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return func(b array.Builder, v protoreflect.Value) { b.(*array.Int64Builder).Append(v.Int()) }, nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return func(b array.Builder, v protoreflect.Value) { b.(*array.Uint32Builder).Append(uint32(v.Uint())) }, nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return func(b array.Builder, v protoreflect.Value) { b.(*array.Uint64Builder).Append(v.Uint()) }, nil
	case protoreflect.FloatKind:
		return func(b array.Builder, v protoreflect.Value) { b.(*array.Float32Builder).Append(float32(v.Float())) }, nil
	case protoreflect.DoubleKind:
		return func(b array.Builder, v protoreflect.Value) { b.(*array.Float64Builder).Append(v.Float()) }, nil
	case protoreflect.StringKind:
		return func(b array.Builder, v protoreflect.Value) { b.(*array.StringBuilder).Append(v.String()) }, nil
	case protoreflect.BytesKind:
		return func(b array.Builder, v protoreflect.Value) { b.(*array.BinaryBuilder).Append(v.Bytes()) }, nil
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		return func(b array.Builder, v protoreflect.Value) {
			if ev := vals.ByNumber(v.Enum()); ev != nil {
				b.(*array.StringBuilder).Append(string(ev.Name()))
			} else {
				b.(*array.StringBuilder).Append(strconv.Itoa(int(v.Enum())))
			}
		}, nil
	case protoreflect.MessageKind, protoreflect.GroupKind:
		md := fd.Message()
		switch {
		case md.FullName() == "google.protobuf.Timestamp":
			secs, nanos := md.Fields().ByName("seconds"), md.Fields().ByName("nanos")
			return func(b array.Builder, v protoreflect.Value) {
				m := v.Message()
				us := m.Get(secs).Int()*1_000_000 + m.Get(nanos).Int()/1000
				b.(*array.TimestampBuilder).Append(arrow.Timestamp(us))
			}, nil
		case wrapperTypes[md.FullName()]:
			vf := md.Fields().ByName("value")
			inner, err := protoValueAppender(vf)
			if err != nil {
				return nil, err
			}
			return func(b array.Builder, v protoreflect.Value) { inner(b, v.Message().Get(vf)) }, nil
		}
		fs := md.Fields()
		apps := make([]func(b array.Builder, m protoreflect.Message), fs.Len())
		for i := range apps {
			a, err := protoFieldAppender(fs.Get(i))
			if err != nil {
				return nil, err
			}
			apps[i] = a
		}
		return func(b array.Builder, v protoreflect.Value) {
			sb := b.(*array.StructBuilder)
			sb.Append(true)
			m := v.Message()
			for i, a := range apps {
				a(sb.FieldBuilder(i), m)
			}
		}, nil
	}
	return nil, fmt.Errorf("schema: protobuf field %s: unsupported kind %s", fd.FullName(), fd.Kind())
}
