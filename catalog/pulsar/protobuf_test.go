package pulsar_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
	"github.com/magnetar-sql/magnetar/schema"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	_ "google.golang.org/protobuf/types/known/timestamppb" // registers google/protobuf/timestamp.proto
)

// readingProto is
//
//	syntax = "proto3"; package iot;
//	message Reading { string sensor = 1; double value = 2; google.protobuf.Timestamp ts = 3; repeated int32 codes = 4; }
func readingProto(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	f := func(name string, num int32, k descriptorpb.FieldDescriptorProto_Type, label descriptorpb.FieldDescriptorProto_Label, typeName string) *descriptorpb.FieldDescriptorProto {
		fd := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Type: k.Enum(), Label: label.Enum(), JsonName: proto.String(name)}
		if typeName != "" {
			fd.TypeName = proto.String(typeName)
		}
		return fd
	}
	opt, rep := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL, descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	fdp := &descriptorpb.FileDescriptorProto{
		Name: proto.String("iot/reading.proto"), Package: proto.String("iot"), Syntax: proto.String("proto3"),
		Dependency: []string{"google/protobuf/timestamp.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Reading"), Field: []*descriptorpb.FieldDescriptorProto{
			f("sensor", 1, descriptorpb.FieldDescriptorProto_TYPE_STRING, opt, ""),
			f("value", 2, descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, opt, ""),
			f("ts", 3, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, opt, ".google.protobuf.Timestamp"),
			f("codes", 4, descriptorpb.FieldDescriptorProto_TYPE_INT32, rep, ""),
		}}},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Messages().ByName("Reading")
}

// rawProtoSchema announces a registered PROTOBUF_NATIVE schema; payloads are
// already encoded.
type rawProtoSchema struct{ info pulsar.SchemaInfo }

func (s *rawProtoSchema) Encode(v any) ([]byte, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("want []byte, got %T", v)
	}
	return b, nil
}
func (s *rawProtoSchema) Decode([]byte, any) error          { return fmt.Errorf("not used") }
func (s *rawProtoSchema) Validate([]byte) error             { return nil }
func (s *rawProtoSchema) GetSchemaInfo() *pulsar.SchemaInfo { return &s.info }

// TestProtobufNativeTopic: a topic whose PROTOBUF_NATIVE schema is registered
// through the admin REST API, with raw protobuf payloads, reads as a table.
func TestProtobufNativeTopic(t *testing.T) {
	e := newSQLEnv(t)
	_, adminURL := testbroker.URLs()
	md := readingProto(t)
	info, err := schema.ProtobufNativeInfo(md)
	if err != nil {
		t.Fatal(err)
	}
	topic := testbroker.Topic(e.ns, "readings")
	tn, err := utils.GetTopicName(topic)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cat.Admin().Topics().Create(*tn, 0); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"type": schema.TypeProtobufNative, "schema": string(info.Schema), "properties": map[string]string{}})
	resp, err := http.Post(fmt.Sprintf("%s/admin/v2/schemas/%s/readings/schema", adminURL, e.ns), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("register schema: HTTP %d", resp.StatusCode)
	}

	enc := func(sensor string, v float64, secs int64, codes ...int32) []byte {
		m := dynamicpb.NewMessage(md)
		fs := md.Fields()
		m.Set(fs.ByName("sensor"), protoreflect.ValueOfString(sensor))
		m.Set(fs.ByName("value"), protoreflect.ValueOfFloat64(v))
		if secs > 0 {
			ts := m.Mutable(fs.ByName("ts")).Message()
			ts.Set(ts.Descriptor().Fields().ByName("seconds"), protoreflect.ValueOfInt64(secs))
		}
		l := m.Mutable(fs.ByName("codes")).List()
		for _, c := range codes {
			l.Append(protoreflect.ValueOfInt32(c))
		}
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// One producer announces the registered schema (batched messages carry
	// its version: pulsar-client-go sends none on unbatched ones), one
	// announces none.
	ps := &rawProtoSchema{info: pulsar.SchemaInfo{Name: "readings", Schema: string(info.Schema), Type: pulsar.ProtoNative, Properties: map[string]string{}}}
	p, err := e.cat.Client().CreateProducer(pulsar.ProducerOptions{Topic: topic, Schema: ps, BatchingMaxPublishDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range [][]byte{enc("a", 1.5, 1_700_000_000, 1, 2), enc("b", -2, 0)} {
		if _, err := p.Send(e.ctx, &pulsar.ProducerMessage{Value: m}); err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	p2, err := e.cat.Client().CreateProducer(pulsar.ProducerOptions{Topic: topic, DisableBatching: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p2.Send(e.ctx, &pulsar.ProducerMessage{Payload: enc("c", 3, 1_700_000_060, 7)}); err != nil {
		t.Fatal(err)
	}
	p2.Close()

	_, desc := e.run("DESCRIBE readings")
	var cols []string
	for _, r := range desc {
		if !strings.HasPrefix(r, "__") {
			cols = append(cols, r)
		}
	}
	wantRows(t, cols,
		"codes\tARRAY<INT>\tNO\t\tNULL\t",
		"sensor\tVARCHAR\tNO\t\tNULL\t",
		"ts\tTIMESTAMP(6)\tYES\t\tNULL\t",
		"value\tDOUBLE\tNO\t\tNULL\t",
	)
	_, rows := e.run("SELECT sensor, value, ts, codes, __schema_version FROM readings")
	wantRows(t, rows,
		"a\t1.5\t2023-11-14 22:13:20\t[1, 2]\t0",
		"b\t-2\tNULL\t[]\t0",
		"c\t3\t2023-11-14 22:14:20\t[7]\tNULL",
	)
	// Read-only: no encoder writes PROTOBUF_NATIVE, and no column can be added.
	tb, err := e.cat.Table(e.ctx, e.ns, "readings")
	if err != nil {
		t.Fatal(err)
	}
	if w, err := tb.(catalog.Insertable).OpenWriter(e.ctx); err == nil {
		w.Close(e.ctx)
		t.Error("a writer opened on a PROTOBUF_NATIVE table")
	} else {
		t.Logf("OpenWriter: %v", err)
	}
	if _, _, err := e.try("ALTER TABLE readings ADD c INT"); err == nil || !strings.Contains(err.Error(), "PROTOBUF_NATIVE schema") {
		t.Errorf("ALTER TABLE on a PROTOBUF_NATIVE table: %v", err)
	}
}
