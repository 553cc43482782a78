package schema

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// DefaultArray returns n copies of the value rows lacking field f read as: the field's
// "avro.default" metadata (MetaAvroDefault, JSON in Arrow units) when set, else null. It is what
// a decoder fills in for a writer schema without the field, for catalogs that add the column to
// data already in memory. The caller releases the array.
func DefaultArray(mem memory.Allocator, f arrow.Field, n int) (arrow.Array, error) {
	fill, err := defaultFiller(f)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	b := array.NewBuilder(mem, f.Type)
	defer b.Release()
	b.Reserve(n)
	for range n {
		fill(b)
	}
	return b.NewArray(), nil
}
