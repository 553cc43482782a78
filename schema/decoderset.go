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
	d, ok := s.decs[string(version)]
	if !ok {
		info, err := s.fetch(version)
		if err != nil {
			return fmt.Errorf("schema: fetch schema version %x: %w", version, err)
		}
		if d, err = NewDecoder(info, s.target); err != nil {
			return fmt.Errorf("schema: schema version %x: %w", version, err)
		}
		s.decs[string(version)] = d
	}
	return d.Append(b, key, payload)
}
