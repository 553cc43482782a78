package schema

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// DecoderSet decodes messages written with any version of a topic's schema into one table
// schema, compiling one Decoder per writer schema version the first time it is seen. Pulsar
// messages carry their schema version (Message.SchemaVersion in the Go client); fetch resolves it,
// typically from the schema registry. Like a Decoder, a DecoderSet is not safe for concurrent use.
type DecoderSet struct {
	target *arrow.Schema
	fetch  func(version []byte) (Info, error)
	decs   map[string]Decoder
}

// NewDecoderSet returns a DecoderSet filling target, resolving writer schema versions with fetch.
func NewDecoderSet(target *arrow.Schema, fetch func(version []byte) (Info, error)) *DecoderSet {
	return &DecoderSet{target: target, fetch: fetch, decs: map[string]Decoder{}}
}

// Append decodes one message written with schema version `version` into b (see Decoder.Append).
func (s *DecoderSet) Append(b *array.RecordBuilder, version, key, payload []byte) error {
	d, err := s.decoder(version)
	if err != nil {
		return err
	}
	return d.Append(b, key, payload)
}

// AppendBatch decodes one message written with schema version `version` into bb, a
// BatchBuilder for the set's target schema (see BatchBuilder.Append).
func (s *DecoderSet) AppendBatch(bb *BatchBuilder, version, key, payload []byte) error {
	d, err := s.decoder(version)
	if err != nil {
		return err
	}
	return bb.Append(d, key, payload)
}

// decoder returns the decoder of a writer schema version, compiling it on first use.
func (s *DecoderSet) decoder(version []byte) (Decoder, error) {
	if d, ok := s.decs[string(version)]; ok {
		return d, nil
	}
	info, err := s.fetch(version)
	if err != nil {
		return nil, fmt.Errorf("schema: fetch schema version %x: %w", version, err)
	}
	d, err := NewDecoder(info, s.target)
	if err != nil {
		return nil, fmt.Errorf("schema: schema version %x: %w", version, err)
	}
	s.decs[string(version)] = d
	return d, nil
}
