package exec

import (
	"encoding/binary"

	"github.com/apache/arrow-go/v18/arrow"
)

// encodeFullRows encodes whole rows so that a retraction finds the stored
// copy of its own row (the symmetric join's state, the changelog lookup
// join's emitted rows): encodeRows, plus the columns of types it leaves out
// (lists, structs, maps, fixed-size binary, ...) by the text of their
// values. Without them, rows differing only in such a column would be
// taken for each other.
func encodeFullRows(cols []arrow.Array, n int, rows [][]byte, i64 *[]int64, u64 *[]uint64, f64 *[]float64, strs *[]string) [][]byte {
	rows = encodeRows(cols, n, rows, i64, u64, f64, strs)
	for _, a := range cols {
		if kindOf(a.DataType()) != kInvalid {
			continue
		}
		for i := 0; i < n; i++ {
			if a.IsNull(i) {
				rows[i] = append(rows[i], 0)
				continue
			}
			s := a.ValueStr(i)
			rows[i] = binary.AppendUvarint(append(rows[i], 1), uint64(len(s)))
			rows[i] = append(rows[i], s...)
		}
	}
	return rows
}
