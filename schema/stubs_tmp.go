package schema

import (
	"errors"

	"github.com/apache/arrow-go/v18/arrow"
)

type kvSplit struct{}

func (kvSplit) columns() ([]arrow.Field, error) { return nil, errors.New("todo") }
func splitKeyValue(Info) (kvSplit, error)       { return kvSplit{}, errors.New("todo") }
func newKeyValueDecoder(Info, []arrow.Field, []int) (rowDecoder, error) {
	return nil, errors.New("todo")
}
