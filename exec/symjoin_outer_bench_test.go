package exec_test

import (
	"testing"

	"github.com/magnetar-sql/magnetar/exec"
)

// BenchmarkHashJoinSymmetricOuter: BenchmarkHashJoinSymmetric's streams
// (1M rows a side, keys in [0, 1M)) through a LEFT and a FULL join: match
// counts, NULL-padded rows and their retractions.
func BenchmarkHashJoinSymmetricOuter(b *testing.B) {
	for _, typ := range []exec.JoinType{exec.LeftJoin, exec.FullJoin} {
		b.Run(typ.String(), func(b *testing.B) { benchSymmetricJoin(b, typ) })
	}
}
