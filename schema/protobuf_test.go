package schema

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	_ "google.golang.org/protobuf/types/known/timestamppb" // registers google/protobuf/timestamp.proto
	_ "google.golang.org/protobuf/types/known/wrapperspb"  // registers google/protobuf/wrappers.proto
)

// orderProto builds, without protoc, the descriptor of
//
//	syntax = "proto3"; package shop;
//	message Order {
//	  int64 id = 1; string name = 2; double price = 3; repeated string tags = 4;
//	  Address addr = 5; map<string, int64> counts = 6; Status status = 7;
//	  google.protobuf.Timestamp ts = 8; optional int32 qty = 9; bytes raw = 10;
//	  google.protobuf.StringValue note = 11; sint32 delta = 12; fixed64 big = 13;
//	  [string extra = 14;  -- when withExtra]
//	  message Address { string city = 1; int32 zip = 2; }
//	  enum Status { NEW = 0; PAID = 1; }
//	}
func orderProto(t testing.TB, withExtra bool) protoreflect.MessageDescriptor {
	t.Helper()
	s := proto.String
	i32 := proto.Int32
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	rep := descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	typ := func(k descriptorpb.FieldDescriptorProto_Type) *descriptorpb.FieldDescriptorProto_Type {
		return k.Enum()
	}
	field := func(name string, num int32, k descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: s(name), Number: i32(num), Label: opt, Type: typ(k), JsonName: s(name)}
		if typeName != "" {
			f.TypeName = s(typeName)
		}
		return f
	}
	tags := field("tags", 4, descriptorpb.FieldDescriptorProto_TYPE_STRING, "")
	tags.Label = rep
	counts := field("counts", 6, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".shop.Order.CountsEntry")
	counts.Label = rep
	qty := field("qty", 9, descriptorpb.FieldDescriptorProto_TYPE_INT32, "")
	qty.Proto3Optional = proto.Bool(true)
	qty.OneofIndex = i32(0)
	fields := []*descriptorpb.FieldDescriptorProto{
		field("id", 1, descriptorpb.FieldDescriptorProto_TYPE_INT64, ""),
		field("name", 2, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
		field("price", 3, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, ""),
		tags,
		field("addr", 5, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".shop.Order.Address"),
		counts,
		field("status", 7, descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".shop.Order.Status"),
		field("ts", 8, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".google.protobuf.Timestamp"),
		qty,
		field("raw", 10, descriptorpb.FieldDescriptorProto_TYPE_BYTES, ""),
		field("note", 11, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".google.protobuf.StringValue"),
		field("delta", 12, descriptorpb.FieldDescriptorProto_TYPE_SINT32, ""),
		field("big", 13, descriptorpb.FieldDescriptorProto_TYPE_FIXED64, ""),
	}
	if withExtra {
		fields = append(fields, field("extra", 14, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""))
	}
	fdp := &descriptorpb.FileDescriptorProto{
		Name:       s("shop/order.proto"),
		Package:    s("shop"),
		Syntax:     s("proto3"),
		Dependency: []string{"google/protobuf/timestamp.proto", "google/protobuf/wrappers.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name:      s("Order"),
			Field:     fields,
			OneofDecl: []*descriptorpb.OneofDescriptorProto{{Name: s("_qty")}},
			NestedType: []*descriptorpb.DescriptorProto{
				{Name: s("Address"), Field: []*descriptorpb.FieldDescriptorProto{
					field("city", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
					field("zip", 2, descriptorpb.FieldDescriptorProto_TYPE_INT32, ""),
				}},
				{Name: s("CountsEntry"), Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)}, Field: []*descriptorpb.FieldDescriptorProto{
					field("key", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, ""),
					field("value", 2, descriptorpb.FieldDescriptorProto_TYPE_INT64, ""),
				}},
			},
			EnumType: []*descriptorpb.EnumDescriptorProto{{Name: s("Status"), Value: []*descriptorpb.EnumValueDescriptorProto{
				{Name: s("NEW"), Number: i32(0)}, {Name: s("PAID"), Number: i32(1)},
			}}},
		}},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatalf("descriptor: %v", err)
	}
	return fd.Messages().ByName("Order")
}

// orderPayload encodes an Order: a full one when full, else only id and name.
func orderPayload(t testing.TB, md protoreflect.MessageDescriptor, id int64, full bool) []byte {
	t.Helper()
	m := dynamicpb.NewMessage(md)
	f := md.Fields().ByName
	m.Set(f("id"), protoreflect.ValueOfInt64(id))
	m.Set(f("name"), protoreflect.ValueOfString("order"))
	if full {
		m.Set(f("price"), protoreflect.ValueOfFloat64(9.5))
		l := m.Mutable(f("tags")).List()
		l.Append(protoreflect.ValueOfString("a"))
		l.Append(protoreflect.ValueOfString("b"))
		addr := m.Mutable(f("addr")).Message()
		addr.Set(addr.Descriptor().Fields().ByName("city"), protoreflect.ValueOfString("Oslo"))
		addr.Set(addr.Descriptor().Fields().ByName("zip"), protoreflect.ValueOfInt32(150))
		mp := m.Mutable(f("counts")).Map()
		mp.Set(protoreflect.ValueOfString("y").MapKey(), protoreflect.ValueOfInt64(2))
		mp.Set(protoreflect.ValueOfString("x").MapKey(), protoreflect.ValueOfInt64(1))
		m.Set(f("status"), protoreflect.ValueOfEnum(1))
		ts := m.Mutable(f("ts")).Message()
		ts.Set(ts.Descriptor().Fields().ByName("seconds"), protoreflect.ValueOfInt64(1_700_000_000))
		ts.Set(ts.Descriptor().Fields().ByName("nanos"), protoreflect.ValueOfInt32(123_456_000))
		m.Set(f("qty"), protoreflect.ValueOfInt32(0)) // present although zero
		m.Set(f("raw"), protoreflect.ValueOfBytes([]byte{1, 2}))
		note := m.Mutable(f("note")).Message()
		note.Set(note.Descriptor().Fields().ByName("value"), protoreflect.ValueOfString("hi"))
		m.Set(f("delta"), protoreflect.ValueOfInt32(-3))
		m.Set(f("big"), protoreflect.ValueOfUint64(1<<63))
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestProtobufNativeToArrow(t *testing.T) {
	info, err := ProtobufNativeInfo(orderProto(t, false))
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]string
	if err := json.Unmarshal(info.Schema, &data); err != nil || data["rootMessageTypeName"] != "shop.Order" || data["rootFileDescriptorName"] != "shop/order.proto" {
		t.Fatalf("schema data %s: %v", info.Schema, err)
	}
	sch, err := ToArrow(info)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range sch.Fields() {
		got = append(got, f.Name+" "+f.Type.String()+map[bool]string{true: " null", false: ""}[f.Nullable])
	}
	want := []string{
		"id int64", "name utf8", "price float64", "tags list<item: utf8, nullable>",
		"addr struct<city: utf8, zip: int32> null", "counts map<utf8, int64, items_nullable>",
		"status utf8", "ts timestamp[us, tz=UTC] null", "qty int32 null", "raw binary",
		"note utf8 null", "delta int32", "big uint64",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("columns:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestProtobufNativeDecode(t *testing.T) {
	mem := checkedMem(t)
	md := orderProto(t, false)
	info, err := ProtobufNativeInfo(md)
	if err != nil {
		t.Fatal(err)
	}
	sch, err := ToArrow(info)
	if err != nil {
		t.Fatal(err)
	}
	rec := decodeRows(t, mem, info, sch, orderPayload(t, md, 1, true), orderPayload(t, md, 2, false))
	defer rec.Release()
	row := func(i int) string {
		cells := make([]string, rec.NumCols())
		for c := range cells {
			if rec.Column(c).IsNull(i) {
				cells[c] = "NULL"
			} else {
				cells[c] = rec.Column(c).ValueStr(i)
			}
		}
		return strings.Join(cells, "|")
	}
	want1 := `1|order|9.5|["a","b"]|{"city":"Oslo","zip":150}|[{"key":"x","value":1},{"key":"y","value":2}]|PAID|2023-11-14T22:13:20.123456Z|0|AQI=|hi|-3|9223372036854775808`
	want2 := `2|order|0|[]|NULL|[]|NEW|NULL|NULL||NULL|0|0`
	if got := row(0); got != want1 {
		t.Errorf("row 0:\n%s\nwant\n%s", got, want1)
	}
	if got := row(1); got != want2 {
		t.Errorf("row 1:\n%s\nwant\n%s", got, want2)
	}

	// A corrupt payload fails and leaves the builders as they were.
	dec, err := NewDecoder(info, sch)
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, sch)
	defer b.Release()
	good := orderPayload(t, md, 3, true)
	// A length-delimited field (number 15) announcing 5 bytes with 1 left:
	// truncated whatever the encoding of the rest. (Cutting the last 3
	// bytes was not: map entries are encoded in random order, and a cut
	// that fell on a field boundary left a valid message.)
	bad := append(good[:len(good):len(good)], 0x7a, 0x05, 0x01)
	if err := dec.Append(b, nil, bad); err == nil {
		t.Fatal("truncated payload decoded")
	}
	if err := dec.Append(b, nil, good); err != nil {
		t.Fatal(err)
	}
	r := b.NewRecordBatch()
	defer r.Release()
	if r.NumRows() != 1 || r.Column(0).(*array.Int64).Value(0) != 3 {
		t.Fatalf("after a failed append: %d rows", r.NumRows())
	}

	// Through a BatchBuilder (the scan path), too.
	bb := NewBatchBuilder(mem, sch)
	defer bb.Release()
	for i := range 3 {
		if err := bb.Append(dec, nil, orderPayload(t, md, int64(10+i), i%2 == 0)); err != nil {
			t.Fatal(err)
		}
	}
	br := bb.NewRecordBatch()
	defer br.Release()
	if br.NumRows() != 3 || br.Column(7).NullN() != 1 || br.Column(0).(*array.Int64).Value(2) != 12 {
		t.Fatalf("BatchBuilder record: %v", br)
	}
}

// TestProtobufNativeEvolution: a payload of an older version (without the
// field extra) decodes into the newer table schema with extra NULL; a
// column whose type changed is an error.
func TestProtobufNativeEvolution(t *testing.T) {
	mem := checkedMem(t)
	v1 := orderProto(t, false)
	info1, err := ProtobufNativeInfo(v1)
	if err != nil {
		t.Fatal(err)
	}
	info2, err := ProtobufNativeInfo(orderProto(t, true))
	if err != nil {
		t.Fatal(err)
	}
	target, err := ToArrow(info2)
	if err != nil {
		t.Fatal(err)
	}
	rec := decodeRows(t, mem, info1, target, orderPayload(t, v1, 5, false))
	defer rec.Release()
	if rec.NumCols() != 14 || !rec.Column(13).IsNull(0) || rec.Column(0).(*array.Int64).Value(0) != 5 {
		t.Fatalf("old payload in the new schema: %v", rec)
	}
	bad := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.BinaryTypes.String}}, nil)
	if _, err := NewDecoder(info1, bad); err == nil || !strings.Contains(err.Error(), "protobuf field id") {
		t.Fatalf("type change: %v", err)
	}
	if _, err := ToArrow(Info{Type: TypeProtobufNative, Schema: []byte(`{"fileDescriptorSet":"!!"}`)}); err == nil {
		t.Fatal("bad descriptor set accepted")
	}
}
