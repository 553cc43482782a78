package exec

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/expr"
)

// symSide is one input of a symmetric hash join: every batch seen so far
// and a hash index from serialized key to the rows holding it.
type symSide struct {
	keyEvs  []expr.Evaluator
	batches []arrow.RecordBatch
	index   map[string][]symRef
	rows    [][]byte
	i64     []int64
	u64     []uint64
	f64     []float64
	strs    []string
	wm      int64
	ended   bool
	barrier bool
}

type symRef struct{ batch, row int32 }

func newSymSide(evs []expr.Evaluator) *symSide {
	return &symSide{keyEvs: evs, index: map[string][]symRef{}, wm: minInt64}
}

func (s *symSide) release() {
	for _, b := range s.batches {
		b.Release()
	}
	s.batches = nil
	s.index = nil
}

// symMatch is a match of row `row` of the arriving batch with a stored row.
type symMatch struct {
	row int32
	ref symRef
}

// add probes other with the rows of rec (arriving on s), stores rec in s
// and returns the matches.
func (s *symSide) add(ctx context.Context, rec arrow.RecordBatch, other *symSide) ([]symMatch, error) {
	keys, err := evalAll(ctx, s.keyEvs, rec)
	if err != nil {
		return nil, err
	}
	defer releaseArrays(keys)
	n := int(rec.NumRows())
	s.rows = encodeRows(keys, n, s.rows, &s.i64, &s.u64, &s.f64, &s.strs)
	bi := int32(len(s.batches))
	rec.Retain()
	s.batches = append(s.batches, rec)
	var out []symMatch
	for i, r := range s.rows {
		if !rowValid(keys, i) {
			continue
		}
		for _, ref := range other.index[string(r)] {
			out = append(out, symMatch{int32(i), ref})
		}
		s.index[string(r)] = append(s.index[string(r)], symRef{bi, int32(i)})
	}
	return out, nil
}
