package memory

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/magnetar-sql/magnetar/exec"
)

// scan is the source operator of a memory table.
type scan struct {
	table  *Table
	schema *arrow.Schema
	cols   []int
	limit  int64
	tail   bool

	pending []arrow.RecordBatch // snapshot batches not yet emitted (retained)
	next    int                 // index in table.batches of the next batch to take
	grown   <-chan struct{}
	emitted int64
	done    bool
}

func (s *scan) Schema() *arrow.Schema { return s.schema }

func (s *scan) Open(context.Context) error {
	s.pending, s.grown = s.table.snapshot(0)
	s.next = len(s.pending)
	return nil
}

func (s *scan) Next(ctx context.Context) (exec.Message, error) {
	for {
		if err := ctx.Err(); err != nil {
			return exec.Message{}, err
		}
		if s.done || (s.limit >= 0 && s.emitted >= s.limit) {
			s.done = true
			return exec.EndMsg, nil
		}
		if len(s.pending) == 0 {
			if !s.tail {
				s.done = true
				return exec.EndMsg, nil
			}
			select {
			case <-ctx.Done():
				return exec.Message{}, ctx.Err()
			case <-s.grown:
			}
			var more []arrow.RecordBatch
			more, s.grown = s.table.snapshot(s.next)
			s.next += len(more)
			s.pending = more
			continue
		}
		b := s.pending[0]
		s.pending = s.pending[1:]
		rec := s.project(b)
		b.Release()
		if s.limit >= 0 && s.emitted+rec.NumRows() > s.limit {
			cut := rec.NewSlice(0, s.limit-s.emitted)
			rec.Release()
			rec = cut
		}
		s.emitted += rec.NumRows()
		if rec.NumRows() == 0 {
			rec.Release()
			continue
		}
		return exec.BatchMsg(rec, nil), nil
	}
}

// project builds a record of the requested columns sharing b's buffers.
func (s *scan) project(b arrow.RecordBatch) arrow.RecordBatch {
	arrs := make([]arrow.Array, len(s.cols))
	for i, c := range s.cols {
		arrs[i] = b.Column(c)
	}
	return array.NewRecordBatch(s.schema, arrs, b.NumRows())
}

func (s *scan) Close() error {
	for _, b := range s.pending {
		b.Release()
	}
	s.pending = nil
	s.done = true
	return nil
}

func (s *scan) Children() []exec.Operator { return nil }

func (s *scan) String() string {
	lim := ""
	if s.limit >= 0 {
		lim = fmt.Sprintf(" limit=%d", s.limit)
	}
	names := make([]string, len(s.schema.Fields()))
	for i, f := range s.schema.Fields() {
		names[i] = f.Name
	}
	return fmt.Sprintf("MemoryScan %s %v%s", s.table.name, names, lim)
}
