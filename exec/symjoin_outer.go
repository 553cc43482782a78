package exec

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Outer, semi and anti joins in symmetric mode (regular streaming joins),
// with Flink's changelog semantics.
//
// A side is preserved when its rows appear in the output without a match:
// the left side of LEFT, SEMI and ANTI joins, the right side of RIGHT
// joins, both sides of FULL joins. Every stored row of a preserved side
// keeps cnt, the number of rows of the other side it currently joins with
// (keys equal and the residual TRUE). Changes of cnt between 0 and 1 move
// the row's NULL-padded output:
//
//   - a preserved row arriving without a match emits +I of the NULL-padded
//     row; with matches, the joined rows;
//   - a row matching a stored preserved row whose cnt is 0 first emits -D
//     of that row's NULL-padded row, then +I of the joined row;
//   - a retraction removing the last match of a stored preserved row emits
//     -D of the joined row, then +I of the NULL-padded row again;
//   - a retraction of a preserved row retracts what it has out: its joined
//     rows, or its NULL-padded row when cnt is 0.
//
// SEMI and ANTI joins output left rows only: +I when the existence of a
// match flips to what they keep, -D when it flips back. Rows derived from
// the arriving row carry its change kind; the other side's NULL-padded
// rows (and semi/anti flips) are -D / +I. Output is emitted in the order of
// the arriving rows, so a row is never retracted before it is emitted.

// preserved reports whether side (0 left, 1 right) is kept without a match.
func preserved(typ JoinType, side int) bool {
	switch typ {
	case LeftJoin, SemiJoin, AntiJoin:
		return side == 0
	case RightJoin:
		return side == 1
	case FullJoin:
		return true
	}
	return false
}

// outRow is one output row of the symmetric outer join: the arriving
// batch's row a (-1: NULLs) and the other side's stored row o (batch -1:
// NULLs).
type outRow struct {
	kind ChangeKind
	a    int32
	o    symRef
}

var noRef = symRef{batch: -1, row: -1}

// symBatchOuter stores a batch of side and emits the changelog of an
// outer, semi or anti join (see above).
func (j *HashJoin) symBatchOuter(ctx context.Context, side int, b Batch) error {
	s, o := j.sides[side], j.sides[1-side]
	typ := j.core.typ
	matches, err := s.add(ctx, b, o)
	if err != nil {
		return err
	}
	var ents []int32 // the matches' entries in o, when o keeps counts
	if o.counted {
		ents = s.matchE
	}
	if j.core.residual != nil && len(matches) > 0 {
		if matches, ents, err = j.residualMatches(ctx, side, b.Rec, matches, ents); err != nil {
			return err
		}
	}
	sPres, oPres := preserved(typ, side), preserved(typ, 1-side)
	semi := typ == SemiJoin || typ == AntiJoin
	keepHit := typ == SemiJoin // semi keeps rows with a match, anti without
	var out []outRow
	n := int(b.Rec.NumRows())
	k := 0
	for i := 0; i < n; i++ {
		lo := k
		for k < len(matches) && int(matches[k].row) == i {
			k++
		}
		ms := matches[lo:k]
		var es []int32 // entries of ms in o (o counted)
		if o.counted {
			es = ents[lo:k]
		}
		op := b.Op(i)
		ent := int32(entryNone)
		if s.counted {
			ent = s.rowEntry[i]
		}
		if ent == entrySkipped {
			continue // the retraction of an expired row: silent
		}
		if !op.IsRetraction() {
			if ent >= 0 {
				s.cnt[ent] = int32(len(ms))
			}
			switch {
			case semi && side == 0:
				if (len(ms) > 0) == keepHit {
					out = append(out, outRow{op, int32(i), noRef})
				}
			case semi:
				for x, m := range ms {
					if o.cnt[es[x]] == 0 {
						out = append(out, outRow{flipKind(keepHit, true), -1, m.ref})
					}
					o.cnt[es[x]]++
				}
			default:
				for x, m := range ms {
					if oPres {
						if o.cnt[es[x]] == 0 {
							out = append(out, outRow{Delete, -1, m.ref})
						}
						o.cnt[es[x]]++
					}
					out = append(out, outRow{op, int32(i), m.ref})
				}
				if len(ms) == 0 && sPres {
					out = append(out, outRow{op, int32(i), noRef})
				}
			}
			continue
		}
		// A retraction: ent is the stored row it removed (entryNone for a
		// NULL key, which never matched).
		var c int32
		if ent >= 0 {
			c = s.cnt[ent]
		}
		switch {
		case semi && side == 0:
			if (c > 0) == keepHit {
				out = append(out, outRow{op, int32(i), noRef})
			}
		case semi:
			for x, m := range ms {
				if c := &o.cnt[es[x]]; *c > 0 {
					if *c--; *c == 0 {
						out = append(out, outRow{flipKind(keepHit, false), -1, m.ref})
					}
				}
			}
		default:
			for x, m := range ms {
				out = append(out, outRow{op, int32(i), m.ref})
				if oPres {
					if c := &o.cnt[es[x]]; *c > 0 {
						if *c--; *c == 0 {
							out = append(out, outRow{Insert, -1, m.ref})
						}
					}
				}
			}
			if sPres && c == 0 {
				out = append(out, outRow{op, int32(i), noRef})
			}
		}
	}
	return j.emitOuter(side, b.Rec, out)
}

// flipKind is the kind a semi (keepHit) or anti join emits for a stored
// left row whose first match arrived (gained) or whose last match left.
func flipKind(keepHit, gained bool) ChangeKind {
	if keepHit == gained {
		return Insert
	}
	return Delete
}

// residualMatches keeps the matches (and their entries ents, when not
// nil) whose joined row satisfies the residual condition, in their order.
func (j *HashJoin) residualMatches(ctx context.Context, side int, rec arrow.RecordBatch, matches []symMatch, ents []int32) ([]symMatch, []int32, error) {
	o := j.sides[1-side]
	byBatch := map[int32][]int{}
	var order []int32
	for k, m := range matches {
		if _, ok := byBatch[m.ref.batch]; !ok {
			order = append(order, m.ref.batch)
		}
		byBatch[m.ref.batch] = append(byBatch[m.ref.batch], k)
	}
	keep := make([]bool, len(matches))
	c := joinCore{typ: InnerJoin, mem: j.core.mem, pairs: j.core.pairs, residual: j.core.residual}
	for _, bi := range order {
		ks := byBatch[bi]
		arr, orr := make([]int32, len(ks)), make([]int32, len(ks))
		for x, k := range ks {
			arr[x], orr[x] = matches[k].row, matches[k].ref.row
		}
		left, right, lsel, rsel := rec, o.batches[bi], arr, orr
		if side == 1 {
			left, right, lsel, rsel = o.batches[bi], rec, orr, arr
		}
		c.build = right
		// filterPairs keeps a subsequence of the pairs, compacted in
		// place; the pairs are distinct, so walking both finds the kept.
		ol, or := append([]int32(nil), lsel...), append([]int32(nil), rsel...)
		kl, kr, err := c.filterPairs(ctx, left, lsel, rsel)
		if err != nil {
			return nil, nil, err
		}
		p := 0
		for x := range ol {
			if p < len(kl) && kl[p] == ol[x] && kr[p] == or[x] {
				keep[ks[x]] = true
				p++
			}
		}
	}
	out, oe := matches[:0], ents[:0]
	for k, m := range matches {
		if keep[k] {
			out = append(out, m)
			if ents != nil {
				oe = append(oe, ents[k])
			}
		}
	}
	if ents == nil {
		oe = nil
	}
	return out, oe, nil
}

// emitOuter materializes out in chunks: the arriving side's columns from
// rec, the other side's from its stored batches (NULLs where absent).
func (j *HashJoin) emitOuter(side int, rec arrow.RecordBatch, out []outRow) error {
	if len(out) == 0 {
		return nil
	}
	o := j.sides[1-side]
	schema := j.core.schema
	nl := int(j.left.Schema().NumFields())
	semi := j.core.typ == SemiJoin || j.core.typ == AntiJoin
	for start := 0; start < len(out); start += joinChunk {
		chunk := out[start:min(len(out), start+joinChunk)]
		asel := make([]int32, len(chunk))
		refs := make([]symRef, len(chunk))
		ops := make([]ChangeKind, len(chunk))
		allIns := true
		for x, r := range chunk {
			asel[x], refs[x], ops[x] = r.a, r.o, r.kind
			allIns = allIns && r.kind == Insert
		}
		if allIns {
			ops = nil
		}
		var cols []arrow.Array
		fail := func(err error) error {
			releaseArrays(cols)
			return err
		}
		arriving := func() error {
			for c := 0; c < int(rec.NumCols()); c++ {
				a, err := takeArray(j.core.mem, rec.Column(c), asel)
				if err != nil {
					return err
				}
				cols = append(cols, a)
			}
			return nil
		}
		stored := func(fields []arrow.Field) error {
			g := newRefGather(refs)
			for c, f := range fields {
				a, err := g.gather(j.core.mem, o.batches, c, f.Type)
				if err != nil {
					return err
				}
				cols = append(cols, a)
			}
			return nil
		}
		var err error
		switch {
		case semi && side == 0:
			err = arriving()
		case semi:
			err = stored(schema.Fields()[:nl])
		case side == 0:
			if err = arriving(); err == nil {
				err = stored(schema.Fields()[nl:])
			}
		default:
			if err = stored(schema.Fields()[:nl]); err == nil {
				err = arriving()
			}
		}
		if err != nil {
			return fail(err)
		}
		out := array.NewRecordBatch(schema, cols, int64(len(chunk)))
		releaseArrays(cols)
		j.pending = append(j.pending, BatchMsg(out, ops))
	}
	return nil
}

// refGather gathers rows given as (stored batch, row) refs, batch -1 for
// NULL, from several batches: per batch its rows are taken, the parts
// concatenated and put in order by one more take (one take when the rows
// come from a single batch).
type refGather struct {
	batches []int32   // distinct source batches, in order of appearance
	sels    [][]int32 // rows taken from each
	perm    []int32   // output row -> row of the concatenated parts; -1 NULL
}

func newRefGather(refs []symRef) *refGather {
	g := &refGather{perm: make([]int32, len(refs))}
	idx := map[int32]int{}
	for x, r := range refs {
		if r.batch < 0 {
			g.perm[x] = -1
			continue
		}
		i, ok := idx[r.batch]
		if !ok {
			i = len(g.batches)
			idx[r.batch] = i
			g.batches = append(g.batches, r.batch)
			g.sels = append(g.sels, nil)
		}
		g.perm[x] = int32(len(g.sels[i])) // position within part i; offsets added below
		g.sels[i] = append(g.sels[i], r.row)
	}
	if len(g.batches) > 1 {
		// Offsets of the parts in their concatenation.
		off := make([]int32, len(g.batches))
		for i := 1; i < len(off); i++ {
			off[i] = off[i-1] + int32(len(g.sels[i-1]))
		}
		for x, r := range refs {
			if r.batch >= 0 {
				g.perm[x] += off[idx[r.batch]]
			}
		}
	}
	return g
}

// gather returns column col (of type t) of the referenced rows.
func (g *refGather) gather(mem memory.Allocator, batches []arrow.RecordBatch, col int, t arrow.DataType) (arrow.Array, error) {
	switch len(g.batches) {
	case 0:
		return array.MakeArrayOfNull(mem, t, len(g.perm)), nil
	case 1:
		// perm holds the positions within the one part: take the rows
		// straight from the batch.
		sel := g.sels[0]
		direct := make([]int32, len(g.perm))
		for x, p := range g.perm {
			if p < 0 {
				direct[x] = -1
			} else {
				direct[x] = sel[p]
			}
		}
		return takeArray(mem, batches[g.batches[0]].Column(col), direct)
	}
	parts := make([]arrow.Array, 0, len(g.batches))
	defer func() { releaseArrays(parts) }()
	for i, bi := range g.batches {
		a, err := takeArray(mem, batches[bi].Column(col), g.sels[i])
		if err != nil {
			return nil, err
		}
		parts = append(parts, a)
	}
	all, err := array.Concatenate(parts, mem)
	if err != nil {
		return nil, err
	}
	defer all.Release()
	return takeArray(mem, all, g.perm)
}
