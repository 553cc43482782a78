package pulsar

import (
	"fmt"
	"testing"
)

// TestSplitLedgers checks that ranges cover start..end exactly once, in
// order, with about equal sizes, also inside one ledger.
func TestSplitLedgers(t *testing.T) {
	for _, tc := range []struct {
		ls         []ledger
		start, end pos
		n          int
		want       string
	}{
		{[]ledger{{id: 1, entries: 1000}}, pos{1, 0}, pos{1, 999}, 4, "[1:0-1:249 1:250-1:499 1:500-1:749 1:750-1:999]"},
		{[]ledger{{id: 1, entries: 1000}, {id: 5, entries: 1000}}, pos{1, 400}, pos{5, 599}, 2, "[1:400-1:999 5:0-5:599]"},
		{[]ledger{{id: 1, entries: 5000}, {id: 2, entries: 5000}, {id: 3, entries: 10}}, pos{1, 0}, pos{3, 9}, 2, "[1:0-2:4 2:5-3:9]"},
		{[]ledger{{id: 1, entries: 100}}, pos{1, 0}, pos{1, 99}, 4, "[1:0-1:99]"}, // too small to split
		{[]ledger{{id: 1, entries: 3}}, pos{1, 2}, pos{1, 2}, 4, "[1:2-1:2]"},
	} {
		segs := splitLedgers(0, "t", tc.ls, tc.start, tc.end, tc.n)
		var got []string
		for _, s := range segs {
			got = append(got, fmt.Sprintf("%d:%d-%d:%d", s.start.ledger, s.start.entry, s.last.ledger, s.last.entry))
		}
		if fmt.Sprint(got) != tc.want {
			t.Errorf("split(%v, %v..%v, %d) = %v, want %s", tc.ls, tc.start, tc.end, tc.n, got, tc.want)
		}
	}
}
