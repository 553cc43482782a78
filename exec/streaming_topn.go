package exec

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

// StreamingTopN keeps, per partition, the n best rows by the order keys
// over an unbounded, append-only input (ROW_NUMBER() OVER (PARTITION BY …
// ORDER BY …) <= n in a continuous query; with no partition, a continuous
// ORDER BY … LIMIT n). A row that enters the top n is emitted (+I); the row
// it pushes out is retracted (-D) first. Ties keep the earlier row. With an
// offset m (SetOffset) the operator keeps the best m+n rows and emits the
// changes of ranks m+1..m+n only: a row entering above rank m+1 pushes the
// row at rank m down into the output. Output columns are the input columns.
// Over append-only input the state is m+n rows per partition; over a
// changelog (see SetRetractable) it is every live row.
type StreamingTopN struct {
	child     Operator
	partition []expr.Expr
	order     []SortKey
	n         int
	mem       memory.Allocator
	partEvs   []expr.Evaluator
	orderEvs  []expr.Evaluator
	ncols     int

	// table holds the input columns then the order key values.
	table *rowTable
	parts *MapState[string, []int32] // slots, best first
	// expiry (optional) gives each row a time; a partition is dropped once
	// the watermark reaches the latest time of its rows.
	expiry   expr.Expr
	expiryEv expr.Evaluator
	tsBuf    []int64
	rowTimes []int64

	enc   [][]byte
	i64   []int64
	u64   []uint64
	f64   []float64
	strs  []string
	slots []int32
	done  bool
	// retractable: every row is kept (see SetRetractable).
	retractable bool
	// offset is how many of the best rows are kept but not emitted.
	offset int

	// State TTL (SetStateTTL): a partition is forgotten once the watermark
	// passes its last touch + ttl. wm is the last watermark (minInt64
	// before the first); untouched holds the partitions touched before it.
	ttl       int64
	wm        int64
	untouched map[string]bool
	orphans   int64
}

// NewStreamingTopN returns a streaming Top-N of child.
func NewStreamingTopN(child Operator, partition []expr.Expr, order []SortKey, n int, mem memory.Allocator) (*StreamingTopN, error) {
	if n <= 0 {
		return nil, fmt.Errorf("streaming top-n: n must be positive, got %d", n)
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("streaming top-n: needs an order")
	}
	t := &StreamingTopN{child: child, partition: partition, order: order, n: n, mem: mem, parts: NewMapState[string, []int32](), wm: minInt64}
	t.parts.Size = func(k string, v []int32) int { return len(k) + 4*cap(v) }
	var err error
	if t.partEvs, err = compileAll(partition, mem); err != nil {
		return nil, fmt.Errorf("streaming top-n: %w", err)
	}
	types := schemaTypes(child.Schema())
	t.ncols = len(types)
	for _, k := range order {
		ev, err := compileExpr(k.Expr, mem)
		if err != nil {
			return nil, fmt.Errorf("streaming top-n: %w", err)
		}
		t.orderEvs = append(t.orderEvs, ev)
		types = append(types, k.Expr.Type())
	}
	for _, p := range partition {
		if kindOf(p.Type()) == kInvalid {
			return nil, fmt.Errorf("streaming top-n: cannot partition by %s of type %s", p, p.Type())
		}
	}
	if t.table, err = newRowTable(types); err != nil {
		return nil, fmt.Errorf("streaming top-n: %w", err)
	}
	return t, nil
}

// Schema implements Operator.
func (t *StreamingTopN) Schema() *arrow.Schema { return t.child.Schema() }

// Open implements Operator.
func (t *StreamingTopN) Open(ctx context.Context) error { return t.child.Open(ctx) }

// Next implements Operator.
func (t *StreamingTopN) Next(ctx context.Context) (Message, error) {
	for {
		if t.done {
			return EndMsg, nil
		}
		if err := ctx.Err(); err != nil {
			return Message{}, err
		}
		m, err := t.child.Next(ctx)
		if err != nil {
			return Message{}, err
		}
		if m.Kind == MsgEnd {
			t.done = true
		}
		if m.Kind == MsgWatermark {
			t.onWatermark(m.Watermark)
		}
		if m.Kind != MsgBatch {
			return m, nil
		}
		out, err := t.consume(ctx, m.Batch)
		m.Release()
		if err != nil {
			return Message{}, fmt.Errorf("streaming top-n: %w", err)
		}
		if out.Rec != nil {
			return Message{Kind: MsgBatch, Batch: out}, nil
		}
	}
}

// beats reports whether row i of the batch (order key values orders)
// orders strictly before slot s.
func (t *StreamingTopN) beats(orders []arrow.Array, i int, s int32) bool {
	for k, key := range t.order {
		c := t.table.cols[t.ncols+k]
		a := orders[k]
		va, vs := a.IsValid(i), c.valid[s]
		var r int
		switch {
		case va && vs:
			r = c.compareValue(a, i, s)
			if key.Desc {
				r = -r
			}
		case va == vs:
			r = 0
		case !va:
			r = 1
			if key.NullsFirst {
				r = -1
			}
		default:
			r = -1
			if key.NullsFirst {
				r = 1
			}
		}
		if r != 0 {
			return r < 0
		}
	}
	return false
}

// less reports whether slot a orders strictly before slot b.
func (t *StreamingTopN) less(a, b int32) bool {
	for k, key := range t.order {
		c := t.table.cols[t.ncols+k]
		va, vb := c.valid[a], c.valid[b]
		var r int
		switch {
		case va && vb:
			r = c.compare(a, b)
			if key.Desc {
				r = -r
			}
		case va == vb:
			r = 0
		case !va: // a is NULL
			r = 1
			if key.NullsFirst {
				r = -1
			}
		default:
			r = -1
			if key.NullsFirst {
				r = 1
			}
		}
		if r != 0 {
			return r < 0
		}
	}
	return false
}

func (t *StreamingTopN) consume(ctx context.Context, b Batch) (Batch, error) {
	if !t.retractable && !b.AppendOnly() {
		return Batch{}, fmt.Errorf("input has retractions: the planner must call SetRetractable")
	}
	rec := b.Rec
	n := int(rec.NumRows())
	parts, err := evalAll(ctx, t.partEvs, rec)
	if err != nil {
		return Batch{}, err
	}
	defer releaseArrays(parts)
	orders, err := evalAll(ctx, t.orderEvs, rec)
	if err != nil {
		return Batch{}, err
	}
	defer releaseArrays(orders)
	t.rowTimes = nil
	if t.expiryEv != nil {
		a, err := t.expiryEv.Eval(ctx, rec)
		if err != nil {
			return Batch{}, err
		}
		defer a.Release()
		if t.rowTimes, err = eventTimes(a, &t.tsBuf); err != nil {
			return Batch{}, err
		}
		if a.NullN() > 0 { // a NULL time never expires
			t.rowTimes = append(t.tsBuf[:0], t.rowTimes...)
			t.tsBuf = t.rowTimes
			for i := range t.rowTimes {
				if a.IsNull(i) {
					t.rowTimes[i] = noExpiry
				}
			}
		}
	}
	t.enc = encodeRows(parts, n, t.enc, &t.i64, &t.u64, &t.f64, &t.strs)
	if len(parts) == 0 {
		for i := range t.enc[:n] {
			t.enc[i] = t.enc[i][:0]
		}
	}
	cols := append(recColumns(rec), orders...)
	if t.retractable {
		t.slots = t.table.addRows(cols, nil, t.slots[:0])
		return t.consumeChangelog(b)
	}
	var out []int32
	var ops []ChangeKind
	var evicted []int32
	keep, m := t.keep(), t.offset
	for i := 0; i < n; i++ {
		key := string(t.enc[i])
		top, ok := t.parts.Get(key)
		// Most rows of a long stream do not make the top n: compare them
		// with the worst kept row before copying anything.
		if len(top) == keep && !t.beats(orders, i, top[keep-1]) {
			if ok && t.ttl > 0 {
				t.touch(key)
			}
			continue
		}
		slot := t.table.addRow(cols, i)
		// Insert after every row that is not worse (ties keep the earlier).
		at := sort.Search(len(top), func(j int) bool { return t.less(slot, top[j]) })
		if len(top) == keep {
			worst := top[keep-1] // at rank m+n: it was emitted
			out, ops = append(out, worst), append(ops, Delete)
			evicted = append(evicted, worst)
			top = top[:keep-1]
		}
		top = slices.Insert(top, at, slot)
		t.putPart(key, top, i)
		switch {
		case at >= m:
			out, ops = append(out, slot), append(ops, Insert)
		case len(top) > m:
			// The row entered above the emitted ranks: the one that was
			// at rank m moves down to m+1.
			out, ops = append(out, top[m]), append(ops, Insert)
		}
	}
	if len(out) == 0 {
		return Batch{}, nil
	}
	built := t.table.build(t.mem, out)
	for _, s := range evicted {
		t.table.remove(s)
	}
	releaseArrays(built[t.ncols:])
	res := array.NewRecordBatch(t.child.Schema(), built[:t.ncols], int64(len(out)))
	releaseArrays(built[:t.ncols])
	return Batch{Rec: res, Ops: opsOrNil(ops)}, nil
}

// consumeChangelog applies a batch in retractable mode, where every row of
// a partition is kept, sorted, so a retracted top row can be replaced by
// the next one. The batch's rows are already in the table (t.slots).
func (t *StreamingTopN) consumeChangelog(b Batch) (Batch, error) {
	var out, freed []int32
	var ops []ChangeKind
	keep, m := t.keep(), t.offset
	for i, slot := range t.slots {
		key := string(t.enc[i])
		rows, _ := t.parts.Get(key)
		if !b.Op(i).IsRetraction() {
			at := sort.Search(len(rows), func(j int) bool { return t.less(slot, rows[j]) })
			rows = slices.Insert(rows, at, slot)
			if at < keep {
				if len(rows) > keep {
					out, ops = append(out, rows[keep]), append(ops, Delete)
				}
				switch {
				case at >= m:
					out, ops = append(out, slot), append(ops, Insert)
				case len(rows) > m:
					out, ops = append(out, rows[m]), append(ops, Insert)
				}
			}
			t.putPart(key, rows, i)
			continue
		}
		// Find a stored row equal to the retracted one among those with
		// the same order keys.
		lo := sort.Search(len(rows), func(j int) bool { return !t.less(rows[j], slot) })
		found := -1
		for j := lo; j < len(rows) && !t.less(slot, rows[j]); j++ {
			if t.sameRow(rows[j], slot) {
				found = j
				break
			}
		}
		t.table.remove(slot)
		if found < 0 {
			if t.ttl > 0 {
				// Its partition expired: the row is forgotten already.
				t.orphans++
				continue
			}
			for _, s := range freed {
				t.table.remove(s)
			}
			return Batch{}, fmt.Errorf("retraction of a row that was never added")
		}
		gone := rows[found]
		rows = slices.Delete(rows, found, found+1)
		if found < keep {
			switch {
			case found >= m:
				out, ops = append(out, gone), append(ops, Delete)
			case len(rows) >= m:
				// The row at rank m+1 moves up out of the emitted ranks.
				out, ops = append(out, rows[m-1]), append(ops, Delete)
			}
			if len(rows) >= keep {
				out, ops = append(out, rows[keep-1]), append(ops, Insert)
			}
		}
		freed = append(freed, gone)
		if len(rows) == 0 {
			t.parts.Delete(key)
			delete(t.untouched, key)
		} else {
			t.parts.Put(key, rows)
			if t.ttl > 0 {
				t.touch(key)
			}
		}
	}
	var res arrow.RecordBatch
	if len(out) > 0 {
		cols := t.table.build(t.mem, out)
		releaseArrays(cols[t.ncols:])
		res = array.NewRecordBatch(t.child.Schema(), cols[:t.ncols], int64(len(out)))
		releaseArrays(cols[:t.ncols])
	}
	for _, s := range freed {
		t.table.remove(s)
	}
	if res == nil {
		return Batch{}, nil
	}
	return Batch{Rec: res, Ops: opsOrNil(ops)}, nil
}

// sameRow reports whether slots a and b hold equal input rows.
func (t *StreamingTopN) sameRow(a, b int32) bool {
	for _, c := range t.table.cols[:t.ncols] {
		if c.compare(a, b) != 0 {
			return false
		}
	}
	return true
}

// keep is how many rows of a partition are kept in append-only mode.
func (t *StreamingTopN) keep() int { return t.offset + t.n }

// putPart stores a partition's rows after row i of the batch went into
// it, moving the partition's expiry to that row's time if later (or, with
// a state TTL, to the current watermark + TTL).
func (t *StreamingTopN) putPart(key string, rows []int32, i int) {
	t.parts.Put(key, rows)
	if t.ttl > 0 {
		t.touch(key)
		return
	}
	if t.rowTimes == nil {
		return
	}
	at := t.rowTimes[i]
	if e, _ := t.parts.Expiry(key); e != noExpiry && e >= at {
		return
	}
	t.parts.SetExpiry(key, at)
}

// touch records that a row of partition key came at the current
// watermark (before the first one: at the first one).
func (t *StreamingTopN) touch(key string) {
	if t.wm == minInt64 {
		if t.untouched == nil {
			t.untouched = map[string]bool{}
		}
		t.untouched[key] = true
		return
	}
	t.parts.SetExpiry(key, satSub(t.wm, -t.ttl))
}

// onWatermark drops the partitions whose time has come: the window-end
// expiry (SetPartitionExpiry) at the watermark, the TTL once the watermark
// passes last touch + TTL.
func (t *StreamingTopN) onWatermark(wm int64) {
	drop := func(_ string, slots []int32) {
		for _, s := range slots {
			t.table.remove(s)
		}
	}
	if t.ttl > 0 {
		if wm > t.wm {
			t.wm = wm
		}
		for key := range t.untouched {
			t.parts.SetExpiry(key, satSub(t.wm, -t.ttl))
		}
		clear(t.untouched)
		t.parts.Expire(satSub(t.wm, 1), drop)
		return
	}
	if t.expiry != nil {
		t.parts.Expire(wm, drop)
	}
}

// SetOffset makes the operator keep offset more rows per partition, above
// the n it emits (ORDER BY ... LIMIT n OFFSET offset). Call it before Open.
func (t *StreamingTopN) SetOffset(offset int) error {
	if offset < 0 {
		return fmt.Errorf("streaming top-n: offset must not be negative, got %d", offset)
	}
	t.offset = offset
	return nil
}

// SetStateTTL makes the operator forget a partition (all its kept rows)
// once the watermark passes the partition's last touch plus ttl, a touch
// being the watermark in force when a row of the partition arrived (rows
// before the first watermark count as touched by it), whether or not the
// row entered the top n. Forgetting is silent, as Flink's state TTL: rows
// already emitted are not retracted, and the partition's next row starts
// a new top n. Over a changelog, a retraction of a forgotten row is
// dropped (OrphanRetractions counts them). It takes precedence over
// SetPartitionExpiry. 0 keeps partitions forever.
func (t *StreamingTopN) SetStateTTL(ttl time.Duration) { t.ttl = max(0, ttl.Microseconds()) }

// OrphanRetractions is how many retractions were dropped because the
// state TTL had forgotten their row.
func (t *StreamingTopN) OrphanRetractions() int64 { return t.orphans }

// SetPartitionExpiry drops a partition's state once the watermark reaches
// the latest value of e (TIMESTAMP) among its rows — for a Top-N per
// window, e is the window end (plus the allowed lateness): after that no
// row can come for the partition. Its rows are not retracted: they are
// final. Call it before Open.
func (t *StreamingTopN) SetPartitionExpiry(e expr.Expr) error {
	if err := checkTimeType(e.Type()); err != nil {
		return fmt.Errorf("streaming top-n: %w", err)
	}
	ev, err := compileExpr(e, t.mem)
	if err != nil {
		return fmt.Errorf("streaming top-n: %w", err)
	}
	t.expiry, t.expiryEv = e, ev
	return nil
}

// SetRetractable makes the operator take a changelog input (retractions
// and updates, e.g. a continuous aggregate's output): it then keeps every
// row of each partition, not just the top n, so that when a top row is
// retracted the next one can take its place. The planner calls it when the
// input is not append-only.
func (t *StreamingTopN) SetRetractable(on bool) { t.retractable = on }

// State returns the kept rows.
func (t *StreamingTopN) State() State { return topNState{t} }

type topNState struct{ t *StreamingTopN }

type topNSnapshot struct {
	Parts []byte
	Table tableSnapshot
	// TTL clock (SetStateTTL): the last watermark and the partitions
	// touched before the first one.
	Wm        int64
	HasWm     bool // gob drops zero values: a watermark at 0 vs none
	Untouched []string
}

func (s topNState) Entries() int { return s.t.table.live }
func (s topNState) SizeBytes() int64 {
	n := s.t.table.sizeBytes()
	return n + s.t.parts.SizeBytes()
}

func (s topNState) Snapshot(w io.Writer) error {
	var parts, buf bytes.Buffer
	if err := s.t.parts.Snapshot(&parts); err != nil {
		return err
	}
	snap := topNSnapshot{Parts: parts.Bytes(), Table: s.t.table.snapshot(), Wm: s.t.wm, HasWm: s.t.wm != minInt64}
	for k := range s.t.untouched {
		snap.Untouched = append(snap.Untouched, k)
	}
	if err := gob.NewEncoder(&buf).Encode(snap); err != nil {
		return fmt.Errorf("snapshot top-n: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func (s topNState) Restore(r io.Reader) error {
	var snap topNSnapshot
	if err := gob.NewDecoder(r).Decode(&snap); err != nil {
		return fmt.Errorf("restore top-n: %w", err)
	}
	if err := s.t.parts.Restore(bytes.NewReader(snap.Parts)); err != nil {
		return err
	}
	s.t.wm = minInt64
	if snap.HasWm {
		s.t.wm = snap.Wm
	}
	clear(s.t.untouched)
	for _, k := range snap.Untouched {
		if s.t.untouched == nil {
			s.t.untouched = map[string]bool{}
		}
		s.t.untouched[k] = true
	}
	return s.t.table.restore(snap.Table)
}

// Close implements Operator.
func (t *StreamingTopN) Close() error { return t.child.Close() }

// Children implements Operator.
func (t *StreamingTopN) Children() []Operator { return []Operator{t.child} }

// String implements Operator.
func (t *StreamingTopN) String() string {
	ps := make([]string, len(t.partition))
	for i, p := range t.partition {
		ps[i] = p.String()
	}
	off := ""
	if t.offset > 0 {
		off = fmt.Sprintf(", offset=%d", t.offset)
	}
	return fmt.Sprintf("StreamingTopN(n=%d%s, partition=[%s], order=[%s])", t.n, off, strings.Join(ps, ", "), sortKeysString(t.order))
}
