package exec

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

// EmitMode says when an aggregate emits results.
type EmitMode int8

const (
	// EmitOnEnd emits the final result once, at End (batch queries).
	EmitOnEnd EmitMode = iota
	// EmitChangelog emits, after each input batch, the changes of the
	// groups that batch touched: +I for a new group, -U/+U for an updated
	// one, -D when its row count drops to zero.
	EmitChangelog
)

// AggOptions configure a hash aggregate.
type AggOptions struct {
	Emit EmitMode
}

// AggCall is one aggregate function call. Func is one of count, count_star,
// sum, avg, min, max, approx_count_distinct. Name is the output column.
type AggCall struct {
	Func     string
	Args     []expr.Expr
	Distinct bool
	Name     string
}

func (c AggCall) String() string {
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		args[i] = a.String()
	}
	s := strings.Join(args, ", ")
	if c.Func == "count_star" {
		return "count(*)"
	}
	if c.Distinct {
		s = "DISTINCT " + s
	}
	return c.Func + "(" + s + ")"
}

// outputChunk bounds the rows per batch an aggregate emits at End.
const outputChunk = 1 << 16

// HashAggregate groups rows by key expressions and computes aggregates in a
// hash table (see grouper). Input retractions (Delete, UpdateBefore) are
// subtracted from the states. Watermarks and barriers are forwarded as they
// arrive: in EmitOnEnd mode nothing can be emitted before End; in changelog
// mode every batch's changes are emitted before the next message is read.
// In changelog mode SetStateTTL makes it forget groups not updated for a
// while of watermark time (hashagg_ttl.go).
type HashAggregate struct {
	child      Operator
	groups     []expr.Expr
	aggs       []AggCall
	opts       AggOptions
	mem        memory.Allocator
	schema     *arrow.Schema
	groupEvs   []expr.Evaluator
	argEvs     [][]expr.Evaluator
	groupTypes []arrow.DataType
	argTypes   [][]arrow.DataType

	g    grouper
	accs []accumulator
	gids []uint32

	// rows counts each group's rows net of retractions; retracted says
	// whether any retraction arrived (then EmitOnEnd skips empty groups).
	rows      []int64
	retracted bool
	// Changelog mode: whether the group's row is out.
	emitted []bool
	mark    []bool
	touched []uint32
	// ttl, when set, forgets groups not updated for a while (hashagg_ttl.go).
	ttl *aggTTL

	pending []Message
	done    bool
}

// NewHashAggregate groups child's rows by groups and computes aggs; the
// output columns are the groups (named groupNames) then the aggregates.
func NewHashAggregate(child Operator, groups []expr.Expr, groupNames []string, aggs []AggCall, mem memory.Allocator, opts AggOptions) (Operator, error) {
	if len(groupNames) != len(groups) {
		return nil, fmt.Errorf("hash aggregate: %d group keys but %d names", len(groups), len(groupNames))
	}
	h := &HashAggregate{child: child, groups: groups, aggs: aggs, opts: opts, mem: mem}
	var err error
	if h.groupEvs, err = compileAll(groups, mem); err != nil {
		return nil, fmt.Errorf("hash aggregate: %w", err)
	}
	fields := make([]arrow.Field, 0, len(groups)+len(aggs))
	for i, e := range groups {
		if kindOf(e.Type()) == kInvalid {
			return nil, fmt.Errorf("hash aggregate: cannot group by %s of type %s", e, e.Type())
		}
		h.groupTypes = append(h.groupTypes, e.Type())
		fields = append(fields, arrow.Field{Name: groupNames[i], Type: e.Type(), Nullable: true})
	}
	for _, a := range aggs {
		evs, err := compileAll(a.Args, mem)
		if err != nil {
			return nil, fmt.Errorf("hash aggregate: %w", err)
		}
		h.argEvs = append(h.argEvs, evs)
		types := make([]arrow.DataType, len(a.Args))
		for i, e := range a.Args {
			types[i] = e.Type()
		}
		h.argTypes = append(h.argTypes, types)
		t, err := AggregateType(a.Func, a.Distinct, types)
		if err != nil {
			return nil, fmt.Errorf("hash aggregate: %w", err)
		}
		fields = append(fields, arrow.Field{Name: a.Name, Type: t, Nullable: true})
	}
	h.schema = arrow.NewSchema(fields, nil)
	if err := h.reset(); err != nil {
		return nil, err
	}
	return h, nil
}

// reset builds empty state.
func (h *HashAggregate) reset() error {
	g, err := newGrouper(h.groupTypes)
	if err != nil {
		return fmt.Errorf("hash aggregate: %w", err)
	}
	h.g = g
	h.rows = growSlice(h.rows[:0], g.numGroups())
	h.accs = make([]accumulator, len(h.aggs))
	for i, a := range h.aggs {
		acc, err := newAccumulatorRows(a.Func, a.Distinct, h.argTypes[i], h.mem, h.opts.Emit == EmitChangelog, &h.rows)
		if err != nil {
			return fmt.Errorf("hash aggregate: %w", err)
		}
		acc.resize(g.numGroups())
		h.accs[i] = acc
	}
	return nil
}

// Schema implements Operator.
func (h *HashAggregate) Schema() *arrow.Schema { return h.schema }

// Open implements Operator.
func (h *HashAggregate) Open(ctx context.Context) error { return h.child.Open(ctx) }

// Next implements Operator.
func (h *HashAggregate) Next(ctx context.Context) (Message, error) {
	for {
		if len(h.pending) > 0 {
			m := h.pending[0]
			h.pending = h.pending[1:]
			return m, nil
		}
		if h.done {
			return EndMsg, nil
		}
		if err := ctx.Err(); err != nil {
			return Message{}, err
		}
		m, err := h.child.Next(ctx)
		if err != nil {
			return Message{}, err
		}
		switch m.Kind {
		case MsgBatch:
			out, err := h.consume(ctx, m.Batch)
			m.Release()
			if err != nil {
				return Message{}, fmt.Errorf("hash aggregate: %w", err)
			}
			if out.Batch.Rec != nil {
				return out, nil
			}
		case MsgWatermark:
			if h.ttl != nil {
				h.ttlWatermark(m.Watermark)
			}
			return m, nil
		case MsgEnd:
			h.done = true
			if h.opts.Emit == EmitOnEnd {
				h.pending = h.final()
			}
		default:
			return m, nil
		}
	}
}

// consume folds one batch into the states; in changelog mode it returns the
// resulting changes (a zero Message when there are none).
func (h *HashAggregate) consume(ctx context.Context, b Batch) (Message, error) {
	rec := b.Rec
	n := int(rec.NumRows())
	keys, err := evalAll(ctx, h.groupEvs, rec)
	if err != nil {
		return Message{}, err
	}
	h.gids = h.g.lookup(keys, n, h.gids)
	releaseArrays(keys)
	if h.ttl != nil && !b.AppendOnly() {
		if kept, ok, err := h.ttlDropOrphans(b); err != nil || ok {
			if err != nil {
				return Message{}, err
			}
			defer kept.Rec.Release()
			return h.consume(ctx, kept)
		}
	}
	ng := h.g.numGroups()
	for _, a := range h.accs {
		a.resize(ng)
	}
	ops := b.Ops
	if b.AppendOnly() {
		ops = nil
	}
	changelog := h.opts.Emit == EmitChangelog
	var old []arrow.Array
	var oldSel []uint32
	if changelog {
		h.emitted = growSlice(h.emitted, ng)
		h.mark = growSlice(h.mark, ng)
		h.touched = h.touched[:0]
		for _, g := range h.gids {
			if !h.mark[g] {
				h.mark[g] = true
				h.touched = append(h.touched, g)
			}
		}
		for _, g := range h.touched {
			h.mark[g] = false
			if h.emitted[g] {
				oldSel = append(oldSel, g)
			}
		}
		if len(oldSel) > 0 {
			old = h.columns(oldSel)
		}
	}
	for i, a := range h.accs {
		args, err := evalAll(ctx, h.argEvs[i], rec)
		if err != nil {
			releaseArrays(old)
			return Message{}, err
		}
		err = a.update(args, h.gids, ops)
		releaseArrays(args)
		if err != nil {
			releaseArrays(old)
			return Message{}, err
		}
	}
	h.rows = growSlice(h.rows, ng)
	if ops == nil {
		for _, g := range h.gids {
			h.rows[g]++
		}
	} else {
		h.retracted = true
		for i, g := range h.gids {
			h.rows[g] += delta(ops, i)
		}
	}
	if !changelog {
		return Message{}, nil
	}
	if h.ttl != nil {
		h.ttlTouch(h.touched)
	}
	return h.changes(old, oldSel)
}

// changes builds the changelog batch for the touched groups: the old rows
// (computed before the update) as -U or -D, then the new rows as +U or +I.
func (h *HashAggregate) changes(old []arrow.Array, oldSel []uint32) (Message, error) {
	var ops []ChangeKind
	for _, g := range oldSel {
		if h.rows[g] > 0 {
			ops = append(ops, UpdateBefore)
		} else {
			ops = append(ops, Delete)
		}
	}
	var newSel []uint32
	for _, g := range h.touched {
		switch {
		case h.rows[g] > 0:
			newSel = append(newSel, g)
			if h.emitted[g] {
				ops = append(ops, UpdateAfter)
			} else {
				ops = append(ops, Insert)
			}
		case h.rows[g] == 0:
			for _, a := range h.accs {
				a.reset(g)
			}
		default:
			releaseArrays(old)
			return Message{}, fmt.Errorf("retraction of a row that was never added (group has %d rows)", h.rows[g])
		}
	}
	for _, g := range h.touched {
		h.emitted[g] = h.rows[g] > 0
	}
	if len(ops) == 0 {
		releaseArrays(old)
		return Message{}, nil
	}
	var cols []arrow.Array
	switch {
	case len(newSel) == 0:
		cols = old
	case len(oldSel) == 0:
		cols = h.columns(newSel)
	default:
		cur := h.columns(newSel)
		cols = make([]arrow.Array, len(cur))
		for i := range cur {
			c, err := array.Concatenate([]arrow.Array{old[i], cur[i]}, h.mem)
			if err != nil {
				releaseArrays(old)
				releaseArrays(cur)
				releaseArrays(cols)
				return Message{}, err
			}
			cols[i] = c
		}
		releaseArrays(old)
		releaseArrays(cur)
	}
	rec := array.NewRecordBatch(h.schema, cols, int64(len(ops)))
	releaseArrays(cols)
	return BatchMsg(rec, ops), nil
}

// columns builds the output columns (keys then aggregates) for groups sel
// (nil: all).
func (h *HashAggregate) columns(sel []uint32) []arrow.Array {
	cols := h.g.keyArrays(h.mem, sel)
	for _, a := range h.accs {
		cols = append(cols, a.result(h.mem, sel))
	}
	return cols
}

// final builds the EmitOnEnd result, in chunks of at most outputChunk rows.
func (h *HashAggregate) final() []Message {
	n := h.g.numGroups()
	if n == 0 {
		return nil
	}
	var sel []uint32
	if h.retracted && len(h.groups) > 0 {
		sel = make([]uint32, 0, n)
		for g := 0; g < n; g++ {
			if h.rows[g] > 0 {
				sel = append(sel, uint32(g))
			}
		}
		if n = len(sel); n == 0 {
			return nil
		}
	}
	cols := h.columns(sel)
	defer releaseArrays(cols)
	rec := array.NewRecordBatch(h.schema, cols, int64(n))
	defer rec.Release()
	var out []Message
	for start := 0; start < n; start += outputChunk {
		end := min(n, start+outputChunk)
		out = append(out, BatchMsg(rec.NewSlice(int64(start), int64(end)), nil))
	}
	return out
}

// Close implements Operator.
func (h *HashAggregate) Close() error {
	for _, m := range h.pending {
		m.Release()
	}
	h.pending = nil
	h.g, h.accs = nil, nil
	return h.child.Close()
}

// Children implements Operator.
func (h *HashAggregate) Children() []Operator { return []Operator{h.child} }

// String implements Operator.
func (h *HashAggregate) String() string {
	gs := make([]string, len(h.groups))
	for i, g := range h.groups {
		gs[i] = g.String()
	}
	as := make([]string, len(h.aggs))
	for i, a := range h.aggs {
		as[i] = a.String()
	}
	mode := ""
	if h.opts.Emit == EmitChangelog {
		mode = ", emit=changelog"
	}
	if h.ttl != nil {
		mode += ", ttl=" + h.StateTTL().String()
	}
	return fmt.Sprintf("HashAggregate(group=[%s], aggs=[%s]%s)", strings.Join(gs, ", "), strings.Join(as, ", "), mode)
}
