package exec

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

// LookupJoin enriches each row of its left input with the current row of
// a table (processing-time lookup join, Flink's FOR SYSTEM_TIME AS OF
// proc_time): the right input is an upsert source (UpsertSpec), folded
// into a table of the latest row per key, indexed by the join key (the
// right key expressions, which the planner makes cover the table's
// primary key, so a lookup finds at most one row).
//
// The operator first reads the right input alone up to its bootstrap
// marker (a continuous source that has read up to the end it had when it
// started) or its end (a bounded one); only then does it pull the left
// input. After that both inputs are read as they come: right rows keep
// updating the table, left rows probe it. Inner joins drop left rows
// without a match, left joins pad them with NULLs; the residual is
// applied to the joined row (a left row failing it is padded too). The
// output is append-only with respect to the table: a later change of the
// table does not retract rows already joined; left rows keep their change
// kinds. A left input that is a changelog needs SetRetractable (see
// lookup_join_retract.go): its retractions then cancel exactly the rows
// emitted for their rows. Left watermarks pass through; the right input's
// are dropped (table changes are not ordered in event time). Checkpoint
// barriers are aligned across both inputs (see Next).
type LookupJoin struct {
	left, right Operator
	typ         JoinType
	leftKeys    []expr.Expr
	rightKeys   []expr.Expr
	residual    expr.Expr
	spec        UpsertSpec
	mem         memory.Allocator
	schema      *arrow.Schema

	lkEvs, rkEvs []expr.Evaluator
	resEv        expr.Evaluator

	keys  *upsertIndex // upsert key → row
	table *rowTable
	jk    []string // join key of each slot's row
	jkOK  []bool   // the row's join key has no NULL
	jseq  []int64  // write sequence number of each slot's row
	// index maps a join key to the latest written row with it. Rows of
	// different upsert keys (message keys) can share a join key; dups
	// counts the rows beyond the first, so that when the indexed one goes
	// the latest of the others takes its place.
	index map[string]int32
	dups  map[string]int32
	seq   int64
	boot  bool

	u       upsertKeys
	touched []upsertTouch
	slots   []int32
	enc     [][]byte
	i64     []int64
	u64     []uint64
	f64     []float64
	strs    []string

	lp, rp     *Prefetcher
	rightEnded bool
	leftEnded  bool
	// lAt/rAt: the side delivered barrier lBar/rBar and is not read until
	// the other side delivers it (barrier alignment).
	lAt, rAt   bool
	lBar, rBar uint64
	// held: left messages read during the bootstrap (to reach a barrier),
	// joined once the table is bootstrapped; part of the snapshot.
	held         []Message
	pending      []Message
	done, opened bool
	// openCtx is Open's context until the first Next starts lp and rp.
	openCtx context.Context

	// mat is the state of a changelog left input (nil: append-only).
	mat *lookupMat
}

// NewLookupJoin returns a lookup join of left with the table right
// describes. typ is InnerJoin or LeftJoin; leftKeys (over left) and
// rightKeys (over right) are pairwise equal, of the same types; residual
// (nil: none) is over the left columns then the right ones.
func NewLookupJoin(left, right Operator, typ JoinType, leftKeys, rightKeys []expr.Expr, spec UpsertSpec, residual expr.Expr, mem memory.Allocator) (*LookupJoin, error) {
	if typ != InnerJoin && typ != LeftJoin {
		return nil, fmt.Errorf("lookup join: %s joins are not supported (INNER or LEFT)", typ)
	}
	if len(leftKeys) == 0 || len(leftKeys) != len(rightKeys) {
		return nil, fmt.Errorf("lookup join: need equal, non-empty key lists (got %d and %d)", len(leftKeys), len(rightKeys))
	}
	for i := range leftKeys {
		if !arrow.TypeEqual(leftKeys[i].Type(), rightKeys[i].Type()) {
			return nil, fmt.Errorf("lookup join: key %d types differ: %s and %s", i, leftKeys[i].Type(), rightKeys[i].Type())
		}
		if kindOf(leftKeys[i].Type()) == kInvalid {
			return nil, fmt.Errorf("lookup join: cannot join on %s of type %s", leftKeys[i], leftKeys[i].Type())
		}
	}
	if err := checkUpsertSpec(right.Schema(), spec); err != nil {
		return nil, fmt.Errorf("lookup join: %w", err)
	}
	j := &LookupJoin{left: left, right: right, typ: typ, leftKeys: leftKeys, rightKeys: rightKeys, residual: residual,
		spec: spec, mem: mem, index: map[string]int32{}, dups: map[string]int32{}, u: upsertKeys{spec: spec}, keys: newUpsertIndex()}
	fs := append(append([]arrow.Field(nil), left.Schema().Fields()...), right.Schema().Fields()...)
	for i := len(left.Schema().Fields()); i < len(fs); i++ {
		fs[i].Nullable = true
	}
	j.schema = arrow.NewSchema(fs, nil)
	var err error
	if j.lkEvs, err = compileAll(leftKeys, mem); err != nil {
		return nil, fmt.Errorf("lookup join: %w", err)
	}
	if j.rkEvs, err = compileAll(rightKeys, mem); err != nil {
		return nil, fmt.Errorf("lookup join: %w", err)
	}
	if residual != nil {
		if j.resEv, err = compileExpr(residual, mem); err != nil {
			return nil, fmt.Errorf("lookup join: %w", err)
		}
	}
	if j.table, err = newRowTable(schemaTypes(right.Schema())); err != nil {
		return nil, fmt.Errorf("lookup join: %w", err)
	}
	return j, nil
}

// Schema implements Operator.
func (j *LookupJoin) Schema() *arrow.Schema { return j.schema }

// Open implements Operator: it opens both inputs and starts pulling them;
// the left input's first batch waits in its prefetch slot until the table
// is bootstrapped.
func (j *LookupJoin) Open(ctx context.Context) error {
	if j.opened {
		return nil
	}
	j.opened = true
	if err := j.right.Open(ctx); err != nil {
		return err
	}
	if err := j.left.Open(ctx); err != nil {
		return err
	}
	// The inputs are pulled from the first Next on, not now: a job
	// restores the states of the opened tree (stateful operators below the
	// join included) before it pulls it, and a child pulled meanwhile would
	// run on its empty state and race with its Restore. The prefetchers
	// run on Open's context (a job's outlives a stop; see jobs).
	j.openCtx = ctx
	return nil
}

// start starts pulling both inputs.
func (j *LookupJoin) start() {
	if j.rp == nil && j.openCtx != nil {
		j.rp = Prefetch(j.openCtx, j.right)
		j.lp = Prefetch(j.openCtx, j.left)
		j.openCtx = nil
	}
}

// Next implements Operator.
//
// Checkpoint barriers are aligned: a side that delivered barrier N is not
// read until the other side delivers N (or has ended), and N is passed on
// once. While the table bootstraps the left input is not read, except
// when the right input waits at a barrier: then the left input is read up
// to its own barrier and what it brings before it (rows, watermarks, its
// end) is held, not probed, until the bootstrap is over. So the barrier
// cannot deadlock, the table state at N has exactly the right rows before
// the right scan's N, and the held left messages (part of the snapshot)
// are exactly the left rows before the left scan's N not yet joined.
func (j *LookupJoin) Next(ctx context.Context) (Message, error) {
	j.start()
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
		if j.boot && len(j.held) > 0 {
			m := j.held[0]
			j.held[0] = Message{}
			j.held = j.held[1:]
			out, ok, err := j.left1(ctx, m)
			if err != nil {
				return Message{}, err
			}
			if ok {
				return out, nil
			}
			continue
		}
		var cases []selectCase
		if !j.rightEnded && !j.rAt {
			cases = append(cases, selectCase{idx: 1, ch: j.rp.C()})
		}
		if !j.leftEnded && !j.lAt && (j.boot || j.rAt) {
			cases = append(cases, selectCase{idx: 0, ch: j.lp.C()})
		}
		i, f, err := selectFetched(ctx, cases)
		if err != nil {
			return Message{}, err
		}
		if f.Err != nil {
			return Message{}, f.Err
		}
		m := f.Msg
		if i == 1 {
			switch m.Kind {
			case MsgBatch:
				err := j.apply(ctx, m.Batch)
				m.Release()
				if err != nil {
					return Message{}, fmt.Errorf("lookup join: table: %w", err)
				}
			case MsgEnd:
				j.rightEnded, j.boot = true, true
				if j.lAt {
					// The left side waits at a barrier the table will
					// never bring: the barrier is complete.
					j.lAt = false
					j.pending = append(j.pending, Message{Kind: MsgBarrier, Barrier: j.lBar})
				}
			case MsgBarrier:
				j.rAt, j.rBar = true, m.Barrier
				if j.leftEnded || (j.lAt && j.lBar == m.Barrier) {
					j.lAt, j.rAt = false, false
					return m, nil
				}
				if j.lAt {
					return Message{}, fmt.Errorf("lookup join: barriers %d and %d crossed", j.lBar, m.Barrier)
				}
			}
			continue
		}
		switch m.Kind {
		case MsgBarrier:
			j.lAt, j.lBar = true, m.Barrier
			if j.rightEnded || (j.rAt && j.rBar == m.Barrier) {
				j.lAt, j.rAt = false, false
				return m, nil
			}
			if j.rAt {
				return Message{}, fmt.Errorf("lookup join: barriers %d and %d crossed", j.rBar, m.Barrier)
			}
			continue
		case MsgEnd:
			j.leftEnded = true
			if j.rAt {
				j.rAt = false
				j.pending = append(j.pending, Message{Kind: MsgBarrier, Barrier: j.rBar})
			}
		}
		if !j.boot {
			j.held = append(j.held, m)
			continue
		}
		out, ok, err := j.left1(ctx, m)
		if err != nil {
			return Message{}, err
		}
		if ok {
			return out, nil
		}
	}
}

// left1 handles a message of the left input (not a barrier) once the table
// is bootstrapped; ok is false when it gives no output.
func (j *LookupJoin) left1(ctx context.Context, m Message) (out Message, ok bool, err error) {
	switch m.Kind {
	case MsgBatch:
		var b Batch
		var err error
		if j.mat != nil {
			b, err = j.probeRetract(ctx, m.Batch)
		} else {
			b, err = j.probe(ctx, m.Batch)
		}
		m.Release()
		if err != nil {
			return Message{}, false, fmt.Errorf("lookup join: %w", err)
		}
		if b.Rec != nil {
			return Message{Kind: MsgBatch, Batch: b}, true, nil
		}
		return Message{}, false, nil
	case MsgEnd:
		j.done = true
		return m, true, nil
	case MsgWatermark:
		if j.mat != nil {
			j.mat.watermark(j.table, m.Watermark)
		}
	}
	return m, true, nil
}

// apply folds a batch of the right input into the table.
func (j *LookupJoin) apply(ctx context.Context, b Batch) error {
	if !b.AppendOnly() {
		return fmt.Errorf("input must be append-only (got a retraction)")
	}
	rec := b.Rec
	j.u.read(rec)
	var marker bool
	j.touched, marker = j.keys.fold(&j.u, j.touched)
	if marker {
		j.boot = true
	}
	if len(j.touched) == 0 {
		return nil
	}
	keys, err := evalAll(ctx, j.rkEvs, rec)
	if err != nil {
		return err
	}
	defer releaseArrays(keys)
	n := int(rec.NumRows())
	j.enc = encodeRows(keys, n, j.enc, &j.i64, &j.u64, &j.f64, &j.strs)
	sel := make([]int32, 0, len(j.touched))
	for _, t := range j.touched {
		if t.after >= 0 {
			sel = append(sel, int32(t.after))
		}
	}
	j.slots = j.table.addRows(recColumns(rec), sel, j.slots[:0])
	k := 0
	for _, t := range j.touched {
		if t.before >= 0 {
			j.unindex(t.before)
			if j.mat == nil || !j.mat.retire(t.before) {
				j.table.remove(t.before)
			}
		}
		if t.after < 0 {
			j.keys.drop(t.ent)
			continue
		}
		s := j.slots[k]
		k++
		j.growSlots(s)
		// Sequence numbers follow the rows' order in the batch (not the
		// order keys were first touched), so the latest write wins a
		// shared join key.
		seq := j.seq + int64(t.after) + 1
		j.jseq[s] = seq
		if !rowHasNull(keys, t.after) {
			j.indexSlot(s, string(j.enc[t.after]))
		}
		j.keys.set(t.ent, s, seq)
	}
	j.seq += int64(n)
	return nil
}

func (j *LookupJoin) growSlots(s int32) {
	for int(s) >= len(j.jk) {
		j.jk, j.jkOK, j.jseq = append(j.jk, ""), append(j.jkOK, false), append(j.jseq, 0)
	}
}

// indexSlot gives slot s the join key k: the index points at it unless a
// later written row has the same key.
func (j *LookupJoin) indexSlot(s int32, k string) {
	j.jk[s], j.jkOK[s] = k, true
	if cur, ok := j.index[k]; ok {
		j.dups[k]++
		if j.jseq[cur] > j.jseq[s] {
			return
		}
	}
	j.index[k] = s
}

// unindex takes slot s out of the index; when it was the indexed row of
// a shared join key, the latest of the others takes its place.
func (j *LookupJoin) unindex(s int32) {
	if !j.jkOK[s] {
		return
	}
	k := j.jk[s]
	j.jk[s], j.jkOK[s] = "", false
	d := j.dups[k]
	if d == 0 {
		delete(j.index, k)
		return
	}
	if d == 1 {
		delete(j.dups, k)
	} else {
		j.dups[k] = d - 1
	}
	if j.index[k] != s {
		return
	}
	best := int32(-1)
	for x := range j.jk {
		if j.jkOK[x] && j.jk[x] == k && (best < 0 || j.jseq[x] > j.jseq[best]) {
			best = int32(x)
		}
	}
	j.index[k] = best
}

// lookupRows matches each row of b with the table row of its key (its slot
// in the table), or lkPad: no match, a NULL in the key, or, with
// skipRetractions, a retraction (the caller finds the row it retracts).
func (j *LookupJoin) lookupRows(ctx context.Context, b Batch, skipRetractions bool) ([]int32, error) {
	n := int(b.Rec.NumRows())
	keys, err := evalAll(ctx, j.lkEvs, b.Rec)
	if err != nil {
		return nil, err
	}
	defer releaseArrays(keys)
	j.enc = encodeRows(keys, n, j.enc, &j.i64, &j.u64, &j.f64, &j.strs)
	match := make([]int32, n)
	for i := 0; i < n; i++ {
		match[i] = lkPad
		if (skipRetractions && b.Op(i).IsRetraction()) || rowHasNull(keys, i) {
			continue
		}
		if s, ok := j.index[string(j.enc[i])]; ok {
			match[i] = s
		}
	}
	return match, nil
}

// probe joins a left batch with the table.
func (j *LookupJoin) probe(ctx context.Context, b Batch) (Batch, error) {
	match, err := j.lookupRows(ctx, b, false)
	if err != nil {
		return Batch{}, err
	}
	out, err := j.assemble(b, match, j.typ == LeftJoin)
	if err != nil || out.Rec == nil || j.resEv == nil {
		return out, err
	}
	res, err := j.resEv.Eval(ctx, out.Rec)
	if err != nil {
		out.Rec.Release()
		return Batch{}, err
	}
	defer res.Release()
	mask, _ := res.(*array.Boolean)
	pass := func(r int) bool { return mask != nil && mask.IsValid(r) && mask.Value(r) }
	if j.typ == InnerJoin {
		var sel []int32
		var ops []ChangeKind
		for r := 0; r < int(out.Rec.NumRows()); r++ {
			if pass(r) {
				sel = append(sel, int32(r))
				if out.Ops != nil {
					ops = append(ops, out.Ops[r])
				}
			}
		}
		if len(sel) == int(out.Rec.NumRows()) {
			return out, nil
		}
		defer out.Rec.Release()
		if len(sel) == 0 {
			return Batch{}, nil
		}
		kept, err := takeRecord(j.mem, out.Rec, sel)
		if err != nil {
			return Batch{}, err
		}
		return Batch{Rec: kept, Ops: ops}, nil
	}
	// Left join: a left row whose match fails the residual is padded.
	changed := false
	for r := range match {
		if match[r] >= 0 && !pass(r) {
			match[r], changed = -1, true
		}
	}
	if !changed {
		return out, nil
	}
	out.Rec.Release()
	return j.assemble(b, match, true)
}

// assemble builds the output rows for left batch b, with the matched table
// rows: the matched rows, and with pad the rows matching lkPad too (NULLs
// for the table's columns). Rows matching lkNone are dropped; only the
// changelog path (j.mat) uses it.
func (j *LookupJoin) assemble(b Batch, match []int32, pad bool) (Batch, error) {
	rec := b.Rec
	n := int(rec.NumRows())
	var sel []int32 // left rows kept; nil: all
	if !pad || j.mat != nil {
		for i, s := range match {
			if s >= 0 || (pad && s == lkPad) {
				sel = append(sel, int32(i))
			}
		}
		if len(sel) == 0 {
			return Batch{}, nil
		}
		if len(sel) == n {
			sel = nil
		}
	}
	rows := match
	var ops []ChangeKind = b.Ops
	if sel != nil {
		rows = make([]int32, len(sel))
		if b.Ops != nil {
			ops = make([]ChangeKind, len(sel))
		}
		for k, i := range sel {
			rows[k] = match[i]
			if b.Ops != nil {
				ops[k] = b.Ops[i]
			}
		}
	}
	cols := make([]arrow.Array, 0, j.schema.NumFields())
	for c := 0; c < int(rec.NumCols()); c++ {
		if sel == nil {
			a := rec.Column(c)
			a.Retain()
			cols = append(cols, a)
			continue
		}
		a, err := takeArray(j.mem, rec.Column(c), sel)
		if err != nil {
			releaseArrays(cols)
			return Batch{}, err
		}
		cols = append(cols, a)
	}
	cols = append(cols, buildSlotsOrNull(j.table, j.mem, rows)...)
	out := array.NewRecordBatch(j.schema, cols, int64(len(rows)))
	releaseArrays(cols)
	if ops != nil {
		ops = append([]ChangeKind(nil), ops...)
	}
	return Batch{Rec: out, Ops: ops}, nil
}

// buildSlotsOrNull builds one array per table column with the rows at
// slots; a negative slot gives a row of NULLs.
func buildSlotsOrNull(t *rowTable, mem memory.Allocator, slots []int32) []arrow.Array {
	out := make([]arrow.Array, len(t.cols))
	for ci, c := range t.cols {
		b := array.NewBuilder(mem, c.dt)
		b.Reserve(len(slots))
		cs := (*colStore)(c)
		for _, s := range slots {
			if s < 0 || !c.valid[s] {
				b.AppendNull()
				continue
			}
			cs.appendTo(b, int(s))
		}
		out[ci] = b.NewArray()
		b.Release()
	}
	return out
}

// State returns the table: keys, rows and their join keys.
func (j *LookupJoin) State() State { return lookupState{j} }

type lookupState struct{ j *LookupJoin }

type lookupSnapshot struct {
	Keys  []byte
	Table tableSnapshot
	JK    []string
	JKOK  []bool
	JSeq  []int64
	Seq   int64
	Boot  bool
	// Held is the left messages held during the bootstrap (snapEnc
	// messages encoding; empty: none).
	Held []byte
	// Mat is the emitted rows of a changelog left input (lookupMat's
	// snapshot; empty: none or an append-only input).
	Mat []byte
}

// Entries counts the table's keys and, for a changelog left input, the
// distinct live left rows.
func (s lookupState) Entries() int {
	n := s.j.keys.entries()
	if s.j.mat != nil {
		n += s.j.mat.rows.Entries()
	}
	return n
}

func (s lookupState) SizeBytes() int64 {
	n := s.j.keys.sizeBytes() + s.j.table.sizeBytes() + int64(len(s.j.jk))*25
	for _, k := range s.j.jk {
		n += 2 * int64(len(k)) // the slot's copy and the index's key
	}
	if s.j.mat != nil {
		n += s.j.mat.sizeBytes()
	}
	return n
}

func (s lookupState) Snapshot(w io.Writer) error {
	var keys bytes.Buffer
	if err := s.j.keys.snapshot(&keys); err != nil {
		return err
	}
	snap := lookupSnapshot{Keys: keys.Bytes(), Table: s.j.table.snapshot(), JK: s.j.jk, JKOK: s.j.jkOK, JSeq: s.j.jseq, Seq: s.j.seq, Boot: s.j.boot}
	if len(s.j.held) > 0 {
		// A held end is not saved: the restored left scan ends again.
		var held []Message
		for _, m := range s.j.held {
			if m.Kind != MsgEnd {
				held = append(held, m)
			}
		}
		var e snapEnc
		if err := e.messages(held); err != nil {
			return fmt.Errorf("snapshot lookup join: %w", err)
		}
		snap.Held = e.b
	}
	if s.j.mat != nil {
		var b bytes.Buffer
		if err := s.j.mat.snapshot(&b); err != nil {
			return fmt.Errorf("snapshot lookup join: %w", err)
		}
		snap.Mat = b.Bytes()
	}
	if err := gob.NewEncoder(w).Encode(snap); err != nil {
		return fmt.Errorf("snapshot lookup join: %w", err)
	}
	return nil
}

// Restore implements State. The table is bootstrapped when it was at the
// checkpoint (otherwise the resumed source brings its bootstrap marker
// again); the left messages held then are held again.
func (s lookupState) Restore(r io.Reader) error {
	var snap lookupSnapshot
	if err := gob.NewDecoder(r).Decode(&snap); err != nil {
		return fmt.Errorf("restore lookup join: %w", err)
	}
	var held []Message
	if len(snap.Held) > 0 {
		d := &snapDec{b: snap.Held}
		var err error
		if held, err = d.messages(s.j.mem); err != nil {
			return fmt.Errorf("restore lookup join: %w", err)
		}
	}
	for _, m := range s.j.held {
		m.Release()
	}
	s.j.held = held
	if err := s.j.keys.restore(bytes.NewReader(snap.Keys)); err != nil {
		return err
	}
	if err := s.j.table.restore(snap.Table); err != nil {
		return err
	}
	j := s.j
	j.seq, j.boot = snap.Seq, snap.Boot
	n := max(len(snap.JK), int(j.table.slots))
	j.jk, j.jkOK, j.jseq = make([]string, n), make([]bool, n), make([]int64, n)
	j.index, j.dups = map[string]int32{}, map[string]int32{}
	j.keys.each(func(slot int32, seq int64) {
		j.jseq[slot] = seq
		if int(slot) < len(snap.JSeq) {
			j.jseq[slot] = snap.JSeq[slot]
		}
	})
	j.keys.each(func(slot int32, _ int64) {
		if int(slot) < len(snap.JKOK) && snap.JKOK[slot] {
			j.indexSlot(slot, snap.JK[slot])
		}
	})
	if j.mat != nil {
		if err := j.mat.restore(snap.Mat, j.keys, j.table); err != nil {
			return fmt.Errorf("restore lookup join: %w", err)
		}
	}
	return nil
}

// Close implements Operator.
func (j *LookupJoin) Close() error {
	j.lp.Stop()
	j.rp.Stop()
	j.lp, j.rp, j.openCtx = nil, nil, nil
	for _, m := range j.pending {
		m.Release()
	}
	for _, m := range j.held {
		m.Release()
	}
	j.pending, j.held = nil, nil
	err := j.left.Close()
	if e := j.right.Close(); err == nil {
		err = e
	}
	return err
}

// Children implements Operator.
func (j *LookupJoin) Children() []Operator { return []Operator{j.left, j.right} }

// String implements Operator.
func (j *LookupJoin) String() string {
	conds := make([]string, len(j.leftKeys))
	for i := range j.leftKeys {
		conds[i] = j.leftKeys[i].String() + " = " + j.rightKeys[i].String()
	}
	s := fmt.Sprintf("Lookup%sJoin(%s; %s)", j.typ, strings.Join(conds, ", "), upsertSpecString(j.right.Schema(), j.spec))
	if j.residual != nil {
		s += " residual " + j.residual.String()
	}
	if j.mat != nil {
		s += " materialized"
	}
	return s
}
