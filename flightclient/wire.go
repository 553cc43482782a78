package flightclient

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the "proto" codec flightCodec wraps
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// TransportOptions are gRPC dial options for reading large results fast;
// any Go Flight SQL client can use them (flightsql.NewClient(addr, nil,
// nil, append(TransportOptions(), creds)...)), and Dial does:
//
//   - a codec that decodes FlightData with one copy (the message into one
//     buffer, which the batch's columns then point into) instead of two;
//   - messages up to 64 MiB (results come in batches of a few MiB).
//
// Measured and left out (docs/benchmarks.md, "Flight SQL transfer"):
// flow-control windows of several MiB (on loopback the server then runs
// ahead of the reader and batches go cold in cache: more CPU per row),
// 1 MiB socket buffers and a receive pool that skips clearing buffers
// (no gain).
func TransportOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.ForceCodecV2(newFlightCodec())),
	}
}

// flightCodec is gRPC's protobuf codec except for FlightData, whose
// byte fields alias one copy of the received message.
type flightCodec struct{ proto encoding.CodecV2 }

func newFlightCodec() flightCodec { return flightCodec{proto: encoding.GetCodecV2("proto")} }

func (c flightCodec) Marshal(v any) (mem.BufferSlice, error) { return c.proto.Marshal(v) }

func (c flightCodec) Name() string { return "proto" }

func (c flightCodec) Unmarshal(data mem.BufferSlice, v any) error {
	fd, ok := v.(*flight.FlightData)
	if !ok {
		return c.proto.Unmarshal(data, v)
	}
	// gRPC reuses data's buffers once Unmarshal returns: the batch needs
	// a copy of its own, and one is enough.
	return unmarshalFlightData(data.Materialize(), fd)
}

// unmarshalFlightData decodes b into fd, whose byte fields then alias b.
func unmarshalFlightData(b []byte, fd *flight.FlightData) error {
	proto.Reset(fd)
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("FlightData: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if typ != protowire.BytesType || (num != 1 && num != 2 && num != 3 && num != 1000) {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return fmt.Errorf("FlightData field %d: %w", num, protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return fmt.Errorf("FlightData field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		switch num {
		case 1:
			desc := &flight.FlightDescriptor{}
			if err := proto.Unmarshal(v, desc); err != nil {
				return fmt.Errorf("FlightData descriptor: %w", err)
			}
			fd.FlightDescriptor = desc
		case 2:
			fd.DataHeader = v
		case 3:
			fd.AppMetadata = v
		case 1000:
			fd.DataBody = v
		}
	}
	return nil
}
