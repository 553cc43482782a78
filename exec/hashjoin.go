package exec

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

// HashJoin is an equi-join with an optional residual condition. Both
// inputs are drained by their own goroutines (Prefetch).
//
// Bounded mode (the default): the right (build) side is read to End into one
// hash table (a direct array for dense integer keys, open addressing for
// other integer keys, serialized keys otherwise), then the left side is
// streamed through it. While the build side is being read, the join also
// buffers left messages, up to symSwitchRows rows, so that a switch to
// symmetric mode can replay them; beyond that the left side waits.
//
// Symmetric mode (joins over unbounded inputs): if, before the build
// side ends, it delivers a watermark, a barrier or a retraction (the sign
// of a streaming source: unbounded sources must emit one early, as
// watermark assigners do), the join switches to a symmetric hash join: both sides are stored and indexed
// and each arriving batch is probed against the other side, so matches are
// emitted as rows arrive from either side. State is kept for the whole run
// unless SetStateTTL bounds it (symjoin_ttl.go; time-bounded joins are
// IntervalJoin's job). Outer, semi and anti joins go symmetric too and
// emit a changelog (NULL-padded rows retracted when a match arrives; see
// symjoin_outer.go); in bounded mode they emit final rows only, so both
// modes fold to the same answer.
//
// Rows carry their change kinds to the rows they produce. In bounded mode
// a changelog on the probe side joins correctly against the (static) build
// side; retractions on the build side make the join symmetric (an error
// when SetBoundedInputs keeps it bounded). In symmetric mode
// either side may retract: a retraction joins like an insert (emitting
// retractions of the joined rows) and removes one equal stored row; the
// stored rows themselves are freed at Close or, with a state TTL, when they
// expire. In bounded mode the probe side's
// watermarks and barriers are forwarded in place and the build side's are
// absorbed (it ends before any output; End is the final watermark). In
// symmetric mode the output watermark is the minimum of both inputs' and
// barriers are aligned.
type HashJoin struct {
	left, right         Operator
	leftKeys, rightKeys []expr.Expr
	residualExpr        expr.Expr
	lkEvs, rkEvs        []expr.Evaluator
	core                joinCore
	table               joinTable

	built   bool
	done    bool
	pending []Message
	lsel    []int32
	rsel    []int32

	pl, pr       *Prefetcher
	buffered     []Message // left messages read while building
	bufRows      int
	leftEnded    bool
	leftChanges  bool // a buffered left batch has retractions
	sym          bool
	sides        [2]*symSide // symmetric mode: left, right
	pendingRight []Message   // right control message that triggered the switch
	lastWM       int64
	barrierID    uint64
	ttl          int64           // µs; state time-to-live of symmetric mode (symjoin_ttl.go)
	boundedIn    bool            // SetBoundedInputs: outer, semi and anti joins never go symmetric
	streamIn     bool            // SetStreamingInputs: symmetric from the first Next
	openCtx      context.Context // Open's, until the first Next starts pl and pr
}

// SetBoundedInputs says both inputs end (a bounded query): an outer, semi
// or anti join then stays in bounded mode even when its build side carries
// watermarks (a window above it in a bounded query), emitting its final
// rows only instead of a changelog, which the operators above it in a
// bounded plan do not expect. Inner joins are unaffected (their symmetric
// output over append-only inputs is append-only).
func (j *HashJoin) SetBoundedInputs() { j.boundedIn = true }

// SetStreamingInputs says the build (right) input does not end (a
// continuous scan): the join is symmetric from the start. Without it, a
// join over sources that carry no watermark (no window, TTL or job above
// them) would wait for the end of its build side, which never comes.
func (j *HashJoin) SetStreamingInputs() { j.streamIn = true }

// mayStream reports whether the join may go symmetric.
func (j *HashJoin) mayStream() bool { return j.core.typ == InnerJoin || !j.boundedIn }

// symSwitchRows bounds the left rows a join buffers while its build
// side is still open. The mode never depends on this (or on timing): only
// the build side's own messages decide it.
const symSwitchRows = 1 << 20

// NewHashJoin joins left and right on leftKeys[i] = rightKeys[i] (NULL never
// matches) and then residual (nil: none), evaluated on the concatenated row.
// The hash table is built on the right side.
func NewHashJoin(left, right Operator, leftKeys, rightKeys []expr.Expr, typ JoinType, residual expr.Expr, mem memory.Allocator) (Operator, error) {
	if len(leftKeys) != len(rightKeys) || len(leftKeys) == 0 {
		return nil, fmt.Errorf("hash join: need the same positive number of keys on both sides (%d, %d)", len(leftKeys), len(rightKeys))
	}
	for i := range leftKeys {
		lk, rk := kindOf(leftKeys[i].Type()), kindOf(rightKeys[i].Type())
		if lk == kInvalid || lk != rk {
			return nil, fmt.Errorf("hash join: cannot join %s (%s) with %s (%s)", leftKeys[i], leftKeys[i].Type(), rightKeys[i], rightKeys[i].Type())
		}
	}
	j := &HashJoin{left: left, right: right, leftKeys: leftKeys, rightKeys: rightKeys, residualExpr: residual}
	var err error
	if j.lkEvs, err = compileAll(leftKeys, mem); err != nil {
		return nil, fmt.Errorf("hash join: %w", err)
	}
	if j.rkEvs, err = compileAll(rightKeys, mem); err != nil {
		return nil, fmt.Errorf("hash join: %w", err)
	}
	j.core = joinCore{typ: typ, mem: mem, sameKey: equalKeyColumns(leftKeys, rightKeys)}
	j.core.schema, j.core.pairs = joinSchemas(left.Schema(), right.Schema(), typ)
	if residual != nil {
		if j.core.residual, err = compileExpr(residual, mem); err != nil {
			return nil, fmt.Errorf("hash join: %w", err)
		}
	}
	return j, nil
}

// Schema implements Operator.
func (j *HashJoin) Schema() *arrow.Schema { return j.core.schema }

// Open implements Operator.
func (j *HashJoin) Open(ctx context.Context) error {
	if err := j.left.Open(ctx); err != nil {
		return fmt.Errorf("hash join: %w", err)
	}
	if err := j.right.Open(ctx); err != nil {
		return fmt.Errorf("hash join: %w", err)
	}
	// The inputs are pulled from the first Next on, not now: a job
	// restores the states of the opened tree (stateful operators below the
	// join, such as an aggregate under an outer join, included) before it
	// pulls it, and a child pulled meanwhile would run on its empty state
	// and race with its Restore. The prefetchers run on Open's context.
	j.openCtx = ctx
	return nil
}

// start starts pulling both inputs.
func (j *HashJoin) start() {
	if j.pl == nil && j.openCtx != nil {
		j.pl, j.pr = Prefetch(j.openCtx, j.left), Prefetch(j.openCtx, j.right)
		j.openCtx = nil
	}
}

// buildSide reads the right input to End and builds the hash table; the
// join meanwhile buffers left messages. It returns switchSym when the
// join should go symmetric instead, with the right batches read so far.
func (j *HashJoin) buildSide(ctx context.Context) (switchSym bool, recs []arrow.RecordBatch, err error) {
	defer func() {
		if !switchSym {
			for _, r := range recs {
				r.Release()
			}
			recs = nil
		}
	}()
	for {
		cases := []selectCase{{1, j.pr.C()}}
		if j.mayStream() && !j.leftEnded && !j.leftChanges && j.bufRows < symSwitchRows && !j.leftAtBarrier() {
			cases = append(cases, selectCase{0, j.pl.C()})
		}
		side, f, err := selectFetched(ctx, cases)
		if err != nil {
			return false, recs, err
		}
		if f.Err != nil {
			return false, recs, f.Err
		}
		m := f.Msg
		if side == 0 {
			switch m.Kind {
			case MsgBatch:
				j.bufRows += int(m.Batch.Rec.NumRows())
				j.buffered = append(j.buffered, m)
				if !m.Batch.AppendOnly() {
					// Stop buffering: the left input waits for the mode.
					j.leftChanges = true
				}
			case MsgEnd:
				j.leftEnded = true
				j.buffered = append(j.buffered, m)
			default:
				// Kept in order and forwarded when probing; only the
				// build side's watermarks decide the mode, so the mode
				// does not depend on which input happens to be faster.
				j.buffered = append(j.buffered, m)
			}
			continue
		}
		switch m.Kind {
		case MsgEnd:
			rec, err := concatBatches(j.core.mem, j.right.Schema(), recs)
			if err != nil {
				return false, recs, err
			}
			j.core.setBuild(rec)
			keys, err := evalAll(ctx, j.rkEvs, rec)
			if err != nil {
				return false, recs, err
			}
			j.table = newJoinTable(keys, int(rec.NumRows()))
			releaseArrays(keys)
			return false, recs, nil
		case MsgBatch:
			if !m.Batch.AppendOnly() {
				if j.mayStream() {
					// A changelog (an aggregate's updates before its
					// first watermark or barrier) is a stream too: go
					// symmetric, replaying this batch after recs.
					j.pendingRight = append(j.pendingRight, m)
					return true, recs, nil
				}
				m.Release()
				return false, recs, fmt.Errorf("retractions on the build (right) side are not supported")
			}
			recs = append(recs, m.Batch.Rec)
		default:
			if j.mayStream() {
				// A streaming input: go symmetric. The watermark or
				// barrier is replayed through the symmetric path.
				j.pendingRight = append(j.pendingRight, m)
				return true, recs, nil
			}
		}
	}
}

// Next implements Operator.
func (j *HashJoin) Next(ctx context.Context) (Message, error) {
	j.start()
	if !j.built {
		j.built = true
		sym := j.streamIn && j.mayStream() // symmetric from the start
		var recs []arrow.RecordBatch
		var err error
		if !sym {
			sym, recs, err = j.buildSide(ctx)
		}
		if err != nil {
			return Message{}, fmt.Errorf("hash join: %w", err)
		}
		if sym {
			if err := j.startSymmetric(ctx, recs); err != nil {
				return Message{}, fmt.Errorf("hash join: %w", err)
			}
		} else if j.core.build.NumRows() == 0 && (j.core.typ == InnerJoin || j.core.typ == SemiJoin || j.core.typ == RightJoin) {
			j.done = true // nothing can match: don't read the probe side
		}
	}
	if j.sym {
		return j.nextSymmetric(ctx)
	}
	for {
		if len(j.pending) > 0 {
			m := j.pending[0]
			j.pending[0] = Message{}
			j.pending = j.pending[1:]
			return m, nil
		}
		if j.done {
			return EndMsg, nil
		}
		var m Message
		if len(j.buffered) > 0 {
			m = j.buffered[0]
			j.buffered[0] = Message{}
			j.buffered = j.buffered[1:]
		} else {
			_, f, err := selectFetched(ctx, []selectCase{{0, j.pl.C()}})
			if err != nil {
				return Message{}, err
			}
			if f.Err != nil {
				return Message{}, f.Err
			}
			m = f.Msg
		}
		switch m.Kind {
		case MsgBatch:
			msgs, err := j.probe(ctx, m.Batch)
			m.Release()
			if err != nil {
				return Message{}, fmt.Errorf("hash join: %w", err)
			}
			j.pending = append(j.pending, msgs...)
		case MsgEnd:
			j.done = true
			msgs, err := j.core.finish(j.left.Schema())
			j.pending = append(j.pending, msgs...)
			if err != nil {
				return Message{}, fmt.Errorf("hash join: %w", err)
			}
		default:
			return m, nil
		}
	}
}

// startSymmetric moves to symmetric mode: the right batches read so far and
// the buffered left messages are replayed through it.
func (j *HashJoin) startSymmetric(ctx context.Context, recs []arrow.RecordBatch) error {
	j.sym = true
	j.lastWM = minInt64
	lt, rt := make([]arrow.DataType, len(j.leftKeys)), make([]arrow.DataType, len(j.rightKeys))
	for i := range j.leftKeys {
		lt[i], rt[i] = j.leftKeys[i].Type(), j.rightKeys[i].Type()
	}
	j.sides = [2]*symSide{newSymSide(j.lkEvs, lt), newSymSide(j.rkEvs, rt)}
	j.sides[0].ttl, j.sides[1].ttl = j.ttl, j.ttl
	j.sides[0].counted, j.sides[1].counted = preserved(j.core.typ, 0), preserved(j.core.typ, 1)
	for _, r := range recs {
		err := j.symBatch(ctx, 1, Batch{Rec: r})
		r.Release()
		if err != nil {
			return err
		}
	}
	replay := j.buffered
	j.buffered = nil
	for _, m := range replay {
		if err := j.symMessage(ctx, 0, m); err != nil {
			return err
		}
	}
	right := j.pendingRight
	j.pendingRight = nil
	for _, m := range right {
		if err := j.symMessage(ctx, 1, m); err != nil {
			return err
		}
	}
	return nil
}

func (j *HashJoin) nextSymmetric(ctx context.Context) (Message, error) {
	for {
		if len(j.pending) > 0 {
			m := j.pending[0]
			j.pending[0] = Message{}
			j.pending = j.pending[1:]
			return m, nil
		}
		if j.done {
			return EndMsg, nil
		}
		var cases []selectCase
		for i, p := range []*Prefetcher{j.pl, j.pr} {
			if s := j.sides[i]; !s.ended && !s.barrier {
				cases = append(cases, selectCase{i, p.C()})
			}
		}
		side, f, err := selectFetched(ctx, cases)
		if err != nil {
			return Message{}, err
		}
		if f.Err != nil {
			return Message{}, f.Err
		}
		if err := j.symMessage(ctx, side, f.Msg); err != nil {
			return Message{}, fmt.Errorf("hash join: %w", err)
		}
	}
}

// symMessage handles one message from side (0 left, 1 right) in symmetric
// mode, queueing output in j.pending.
func (j *HashJoin) symMessage(ctx context.Context, side int, m Message) error {
	s, o := j.sides[side], j.sides[1-side]
	switch m.Kind {
	case MsgBatch:
		defer m.Release()
		b := m.Batch
		if b.AppendOnly() {
			b.Ops = nil
		}
		return j.symBatch(ctx, side, b)
	case MsgWatermark:
		j.symWatermark(side, m.Watermark)
	case MsgEnd:
		s.ended = true
		s.wm = 1<<63 - 1
		if s.barrier {
			s.barrier = false
		}
		if o.ended {
			j.done = true
			return nil
		}
	case MsgBarrier:
		s.barrier = true
		j.barrierID = m.Barrier
	}
	// Barriers: forward once every live side delivered one.
	if (j.sides[0].barrier || j.sides[0].ended) && (j.sides[1].barrier || j.sides[1].ended) &&
		(j.sides[0].barrier || j.sides[1].barrier) {
		j.sides[0].barrier, j.sides[1].barrier = false, false
		j.pending = append(j.pending, Message{Kind: MsgBarrier, Barrier: j.barrierID})
	}
	if wm := min(j.sides[0].wm, j.sides[1].wm); wm > j.lastWM && wm != 1<<63-1 {
		j.lastWM = wm
		j.pending = append(j.pending, WatermarkMsg(wm))
	}
	return nil
}

// symBatch stores a batch on its side and emits its matches with the other.
func (j *HashJoin) symBatch(ctx context.Context, side int, b Batch) error {
	if j.core.typ != InnerJoin {
		return j.symBatchOuter(ctx, side, b) // symjoin_outer.go
	}
	s, o := j.sides[side], j.sides[1-side]
	rec := b.Rec
	matches, err := s.add(ctx, b, o)
	if err != nil || len(matches) == 0 {
		return err
	}
	// Group by the other side's batch and combine (left, right) pairs.
	byBatch := map[int32][]symMatch{}
	var order []int32
	for _, m := range matches {
		if _, ok := byBatch[m.ref.batch]; !ok {
			order = append(order, m.ref.batch)
		}
		byBatch[m.ref.batch] = append(byBatch[m.ref.batch], m)
	}
	c := joinCore{typ: InnerJoin, mem: j.core.mem, schema: j.core.schema, pairs: j.core.pairs, residual: j.core.residual, sameKey: j.core.sameKey}
	for _, bi := range order {
		ms := byBatch[bi]
		other := o.batches[bi]
		arr, orr := make([]int32, len(ms)), make([]int32, len(ms))
		for k, m := range ms {
			arr[k], orr[k] = m.row, m.ref.row
		}
		left, right, lsel, rsel := rec, other, arr, orr
		if side == 1 {
			left, right, lsel, rsel = other, rec, orr, arr
		}
		c.build = right
		if c.residual != nil {
			if lsel, rsel, err = c.filterPairs(ctx, left, lsel, rsel); err != nil {
				return err
			}
		}
		if len(lsel) == 0 {
			continue
		}
		// Output rows take the change kind of the arriving row.
		arriving := lsel
		if side == 1 {
			arriving = rsel
		}
		var ops []ChangeKind
		if b.Ops != nil {
			ops = make([]ChangeKind, len(arriving))
			for k, r := range arriving {
				ops[k] = b.Ops[r]
			}
		}
		for start := 0; start < len(lsel); start += joinChunk {
			end := min(len(lsel), start+joinChunk)
			out, err := c.combine(c.schema, left, lsel[start:end], rsel[start:end])
			if err != nil {
				return err
			}
			var chunkOps []ChangeKind
			if ops != nil {
				chunkOps = ops[start:end]
			}
			j.pending = append(j.pending, BatchMsg(out, chunkOps))
		}
	}
	return nil
}

func (j *HashJoin) probe(ctx context.Context, b Batch) ([]Message, error) {
	keys, err := evalAll(ctx, j.lkEvs, b.Rec)
	if err != nil {
		return nil, err
	}
	n := int(b.Rec.NumRows())
	j.lsel, j.rsel = j.table.probe(keys, n, j.lsel[:0], j.rsel[:0])
	releaseArrays(keys)
	return j.core.process(ctx, b, 0, n, j.lsel, j.rsel)
}

// Close implements Operator.
func (j *HashJoin) Close() error {
	j.pl.Stop()
	j.pr.Stop()
	j.pl, j.pr, j.openCtx = nil, nil, nil
	for _, ms := range [][]Message{j.pending, j.buffered, j.pendingRight} {
		for _, m := range ms {
			m.Release()
		}
	}
	j.pending, j.buffered, j.pendingRight = nil, nil, nil
	for _, s := range j.sides {
		if s != nil {
			s.release()
		}
	}
	j.core.release()
	j.table = nil
	err := j.left.Close()
	if err2 := j.right.Close(); err == nil {
		err = err2
	}
	return err
}

// Children implements Operator.
func (j *HashJoin) Children() []Operator { return []Operator{j.left, j.right} }

// String implements Operator.
func (j *HashJoin) String() string {
	on := make([]string, len(j.leftKeys))
	for i := range j.leftKeys {
		on[i] = j.leftKeys[i].String() + " = " + j.rightKeys[i].String()
	}
	s := fmt.Sprintf("HashJoin(%s, on=[%s]", j.core.typ, strings.Join(on, ", "))
	if j.residualExpr != nil {
		s += ", residual=" + j.residualExpr.String()
	}
	if j.ttl > 0 {
		s += ", ttl=" + j.StateTTL().String()
	}
	return s + ")"
}
