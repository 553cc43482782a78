package exec

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

// Deduplicate keeps one row per key: the first or the last by orderTime
// (by arrival when orderTime is nil). The first row of a key is emitted as
// +I; when a later row takes its place (keep-last: a row at the same or a
// later time; keep-first: a row at an earlier time, i.e. out of order) the
// old row is retracted (-U) and the new one emitted (+U); within one batch
// only the net change per key is emitted. Keep-first without
// an order time is therefore append-only. Input must be append-only. Keys
// are kept until the watermark passes their time plus the state TTL (see
// SetStateTTL; forever by default).
type Deduplicate struct {
	child     Operator
	keys      []expr.Expr
	orderTime expr.Expr
	keepLast  bool
	mem       memory.Allocator
	keyEvs    []expr.Evaluator
	timeEv    expr.Evaluator
	ttl       int64 // µs; 0 keeps keys forever

	seen  *MapState[string, dedupEntry]
	table *rowTable

	enc     [][]byte
	i64     []int64
	u64     []uint64
	f64     []float64
	strs    []string
	tsBuf   []int64
	slots   []int32
	touched []dedupTouch

	pending []Message
	done    bool
}

// dedupEntry is the state of one key: the slot of its kept row and the
// row's order time.
type dedupEntry struct {
	Slot int32
	Time int64
}

// NewDeduplicate returns a deduplication of child on keys.
func NewDeduplicate(child Operator, keys []expr.Expr, orderTime expr.Expr, keepLast bool, mem memory.Allocator) (*Deduplicate, error) {
	d := &Deduplicate{child: child, keys: keys, orderTime: orderTime, keepLast: keepLast, mem: mem}
	var err error
	if d.keyEvs, err = compileAll(keys, mem); err != nil {
		return nil, fmt.Errorf("deduplicate: %w", err)
	}
	if orderTime != nil {
		if err := checkTimeType(orderTime.Type()); err != nil {
			return nil, fmt.Errorf("deduplicate: %w", err)
		}
		if d.timeEv, err = compileExpr(orderTime, mem); err != nil {
			return nil, fmt.Errorf("deduplicate: %w", err)
		}
	}
	for _, k := range keys {
		if kindOf(k.Type()) == kInvalid {
			return nil, fmt.Errorf("deduplicate: cannot key on %s of type %s", k, k.Type())
		}
	}
	if d.table, err = newRowTable(schemaTypes(child.Schema())); err != nil {
		return nil, fmt.Errorf("deduplicate: %w", err)
	}
	d.seen = NewMapState[string, dedupEntry]()
	d.seen.Size = func(k string, _ dedupEntry) int { return len(k) }
	return d, nil
}

// SetStateTTL makes a key forget its row once the watermark passes the
// row's order time plus ttl; a later row of the key is then new again (+I).
// It needs an order time.
func (d *Deduplicate) SetStateTTL(ttl time.Duration) { d.ttl = ttl.Microseconds() }

func schemaTypes(s *arrow.Schema) []arrow.DataType {
	out := make([]arrow.DataType, s.NumFields())
	for i, f := range s.Fields() {
		out[i] = f.Type
	}
	return out
}

// Schema implements Operator.
func (d *Deduplicate) Schema() *arrow.Schema { return d.child.Schema() }

// Open implements Operator.
func (d *Deduplicate) Open(ctx context.Context) error { return d.child.Open(ctx) }

// Next implements Operator.
func (d *Deduplicate) Next(ctx context.Context) (Message, error) {
	for {
		if len(d.pending) > 0 {
			m := d.pending[0]
			d.pending[0] = Message{}
			d.pending = d.pending[1:]
			return m, nil
		}
		if d.done {
			return EndMsg, nil
		}
		if err := ctx.Err(); err != nil {
			return Message{}, err
		}
		m, err := d.child.Next(ctx)
		if err != nil {
			return Message{}, err
		}
		switch m.Kind {
		case MsgBatch:
			out, err := d.consume(ctx, m.Batch)
			m.Release()
			if err != nil {
				return Message{}, fmt.Errorf("deduplicate: %w", err)
			}
			if out.Rec != nil {
				return Message{Kind: MsgBatch, Batch: out}, nil
			}
		case MsgWatermark:
			if d.ttl > 0 && d.timeEv != nil {
				d.seen.Expire(satSub(m.Watermark, 1), func(_ string, e dedupEntry) { d.table.remove(e.Slot) })
			}
			return m, nil
		case MsgEnd:
			d.done = true
			return m, nil
		default:
			return m, nil
		}
	}
}

// consume applies a batch and returns the changes (zero Batch when none).
func (d *Deduplicate) consume(ctx context.Context, b Batch) (Batch, error) {
	if !b.AppendOnly() {
		return Batch{}, fmt.Errorf("input must be append-only (got a retraction)")
	}
	rec := b.Rec
	n := int(rec.NumRows())
	keys, err := evalAll(ctx, d.keyEvs, rec)
	if err != nil {
		return Batch{}, err
	}
	defer releaseArrays(keys)
	var ts []int64
	if d.timeEv != nil {
		tsArr, err := d.timeEv.Eval(ctx, rec)
		if err != nil {
			return Batch{}, err
		}
		defer tsArr.Release()
		if ts, err = eventTimes(tsArr, &d.tsBuf); err != nil {
			return Batch{}, err
		}
		if tsArr.NullN() > 0 {
			// NULL times order first (before every time).
			ts = append(d.tsBuf[:0], ts...)
			d.tsBuf = ts
			for i := range ts {
				if tsArr.IsNull(i) {
					ts[i] = math.MinInt64
				}
			}
		}
	}
	d.enc = encodeRows(keys, n, d.enc, &d.i64, &d.u64, &d.f64, &d.strs)
	// Decide row by row; a key's entry may point at a row of this batch
	// (Slot = -(row+1)) until the batch is done. Only the rows kept at the
	// end of the batch are copied into the state, and only the net change
	// per key is emitted (a row replaced within the same batch never shows).
	d.touched = d.touched[:0]
	for i := 0; i < n; i++ {
		t := int64(0)
		if ts != nil {
			t = ts[i]
		}
		e, ok := d.seen.Get(string(d.enc[i]))
		if ok {
			var replace bool
			if d.keepLast {
				replace = ts == nil || t >= e.Time
			} else {
				replace = ts != nil && t < e.Time
			}
			if !replace {
				continue
			}
		}
		k := string(d.enc[i])
		if !ok || e.Slot >= 0 {
			d.touched = append(d.touched, dedupTouch{key: k, before: e, had: ok})
		}
		d.seen.Put(k, dedupEntry{Slot: -int32(i) - 1, Time: t})
	}
	if len(d.touched) == 0 {
		return Batch{}, nil
	}
	sel := make([]int32, len(d.touched))
	for j, tc := range d.touched {
		e, _ := d.seen.Get(tc.key)
		sel[j] = -e.Slot - 1
	}
	d.slots = d.table.addRows(recColumns(rec), sel, d.slots[:0])
	var out []int32
	var ops []ChangeKind
	for j, tc := range d.touched {
		e, _ := d.seen.Get(tc.key)
		e.Slot = d.slots[j]
		d.seen.Put(tc.key, e)
		d.setExpiry(tc.key, e.Time)
		if tc.had {
			out, ops = append(out, tc.before.Slot, e.Slot), append(ops, UpdateBefore, UpdateAfter)
		} else {
			out, ops = append(out, e.Slot), append(ops, Insert)
		}
	}
	cols := d.table.build(d.mem, out)
	for _, tc := range d.touched {
		if tc.had {
			d.table.remove(tc.before.Slot)
		}
	}
	res := array.NewRecordBatch(d.child.Schema(), cols, int64(len(out)))
	releaseArrays(cols)
	return Batch{Rec: res, Ops: opsOrNil(ops)}, nil
}

// dedupTouch is a key changed by the current batch and its entry before.
type dedupTouch struct {
	key    string
	before dedupEntry
	had    bool
}

func (d *Deduplicate) setExpiry(k string, t int64) {
	if d.ttl > 0 && d.timeEv != nil {
		d.seen.SetExpiry(k, satSub(t, -d.ttl))
	}
}

// opsOrNil returns nil when every op is an insert.
func opsOrNil(ops []ChangeKind) []ChangeKind {
	for _, op := range ops {
		if op != Insert {
			return ops
		}
	}
	return nil
}

// State returns the operator's state: its keys and their kept rows.
func (d *Deduplicate) State() State { return dedupState{d} }

type dedupState struct{ d *Deduplicate }

type dedupSnapshot struct {
	Keys  []byte
	Table tableSnapshot
}

func (s dedupState) Entries() int     { return s.d.seen.Entries() }
func (s dedupState) SizeBytes() int64 { return s.d.seen.SizeBytes() + s.d.table.sizeBytes() }

func (s dedupState) Snapshot(w io.Writer) error {
	var keys bytes.Buffer
	if err := s.d.seen.Snapshot(&keys); err != nil {
		return err
	}
	if err := gob.NewEncoder(w).Encode(dedupSnapshot{Keys: keys.Bytes(), Table: s.d.table.snapshot()}); err != nil {
		return fmt.Errorf("snapshot deduplicate: %w", err)
	}
	return nil
}

func (s dedupState) Restore(r io.Reader) error {
	var snap dedupSnapshot
	if err := gob.NewDecoder(r).Decode(&snap); err != nil {
		return fmt.Errorf("restore deduplicate: %w", err)
	}
	if err := s.d.seen.Restore(bytes.NewReader(snap.Keys)); err != nil {
		return err
	}
	return s.d.table.restore(snap.Table)
}

// Close implements Operator.
func (d *Deduplicate) Close() error {
	for _, m := range d.pending {
		m.Release()
	}
	d.pending = nil
	return d.child.Close()
}

// Children implements Operator.
func (d *Deduplicate) Children() []Operator { return []Operator{d.child} }

// String implements Operator.
func (d *Deduplicate) String() string {
	ks := make([]string, len(d.keys))
	for i, k := range d.keys {
		ks[i] = k.String()
	}
	keep := "first"
	if d.keepLast {
		keep = "last"
	}
	order := "arrival"
	if d.orderTime != nil {
		order = d.orderTime.String()
	}
	return fmt.Sprintf("Deduplicate(keys=[%s], keep=%s, order=%s)", strings.Join(ks, ", "), keep, order)
}
