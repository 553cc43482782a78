package shell

import (
	"fmt"
	"strings"

	"github.com/magnetar-sql/magnetar/exec"
)

// fold applies a changelog to the rows it holds. Rows are matched by their
// full value (results carry no key the shell could trust): a -U or -D
// removes one held row with the same values, +I and +U add one. A +U takes
// the place of the row the preceding -U removed, so an updated row stays
// where it was on screen instead of jumping to the end.
type fold struct {
	slots [][]cell         // held rows in display order; nil: removed
	index map[string][]int // row key → slots holding that value
	holes []int            // slots freed by -U, for the +U rows that follow
	live  int
	dead  int
}

// apply folds one change into the held rows.
func (f *fold) apply(op exec.ChangeKind, row []cell) error {
	if f.index == nil {
		f.index = make(map[string][]int)
	}
	k := rowKey(row)
	if op.IsRetraction() {
		pos := f.index[k]
		if len(pos) == 0 {
			return fmt.Errorf("retraction of a row the result never held: %s", describeKey(k))
		}
		p := pos[len(pos)-1]
		if len(pos) == 1 {
			delete(f.index, k)
		} else {
			f.index[k] = pos[:len(pos)-1]
		}
		f.slots[p] = nil
		f.live--
		f.dead++
		if op == exec.UpdateBefore {
			f.holes = append(f.holes, p)
		}
		return nil
	}
	p := len(f.slots)
	if op == exec.UpdateAfter && len(f.holes) > 0 {
		p, f.holes = f.holes[0], f.holes[1:]
		f.slots[p] = row
		f.dead--
	} else {
		f.slots = append(f.slots, row)
	}
	f.index[k] = append(f.index[k], p)
	f.live++
	f.compact()
	return nil
}

// compact drops removed slots once they outnumber the held rows, so a long
// changelog of inserts and deletes does not grow the slot list forever. It
// waits while a -U awaits its +U, whose place would be lost.
func (f *fold) compact() {
	if f.dead < 64 || f.dead <= f.live || len(f.holes) > 0 {
		return
	}
	kept := make([][]cell, 0, f.live)
	for _, r := range f.slots {
		if r != nil {
			kept = append(kept, r)
		}
	}
	f.slots, f.dead = kept, 0
	f.index = make(map[string][]int, len(kept))
	for i, r := range kept {
		k := rowKey(r)
		f.index[k] = append(f.index[k], i)
	}
}

// rows returns the held rows in display order.
func (f *fold) rows() [][]cell {
	out := make([][]cell, 0, f.live)
	for _, r := range f.slots {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

// head returns the first n held rows in display order.
func (f *fold) head(n int) [][]cell {
	out := make([][]cell, 0, min(n, f.live))
	for _, r := range f.slots {
		if len(out) == n {
			break
		}
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

// reset forgets every row.
func (f *fold) reset() { *f = fold{} }

// describeKey turns a rowKey back into "v1, NULL, v3" for messages.
func describeKey(k string) string {
	parts := strings.Split(k, "\x00")[1:]
	for i, p := range parts {
		if p == "N" {
			parts[i] = "NULL"
		} else {
			parts[i] = strings.TrimPrefix(p, "V")
		}
	}
	return strings.Join(parts, ", ")
}
