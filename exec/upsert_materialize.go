package exec

import (
	"bytes"
	"cmp"
	"context"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/expr"
)

// UpsertSpec says how rows of an upsert source (a topic read as a table of
// latest values per key, see catalog/pulsar/upsert.go) are keyed.
type UpsertSpec struct {
	// KeyCol is the string column holding each row's upsert key (the
	// message key, __key); -1: none. A row whose KeyCol is NULL is keyed
	// by KeyCols.
	KeyCol int
	// FlagCol is the boolean column marking tombstones (TRUE: the row
	// deletes its key) and the bootstrap marker (NULL: the source has read
	// up to the end its partitions had when it started); -1: none, every
	// row is an upsert and only the end of the input ends the bootstrap.
	FlagCol int
	// KeyCols are the primary-key columns. A row without a KeyCol value is
	// keyed by their text in the format Magnetar's sink writes message keys
	// in (one column: its text; several: a JSON array of texts), so rows
	// with and without a message key address the same entries. A row with
	// neither is ignored.
	KeyCols []int
}

// rowKind classifies row i of an upsert input.
type rowKind uint8

const (
	rowUpsert rowKind = iota
	rowTombstone
	rowMarker
	rowNoKey
)

// upsertKeys reads the keys and kinds of an upsert input's rows.
type upsertKeys struct {
	spec UpsertSpec
	keys []string
	kind []rowKind
}

func (u *upsertKeys) read(rec arrow.RecordBatch) {
	n := int(rec.NumRows())
	u.keys = slices.Grow(u.keys[:0], n)[:n]
	u.kind = slices.Grow(u.kind[:0], n)[:n]
	var flag *array.Boolean
	if u.spec.FlagCol >= 0 {
		flag, _ = rec.Column(u.spec.FlagCol).(*array.Boolean)
	}
	var keyCol arrow.Array
	if u.spec.KeyCol >= 0 {
		keyCol = rec.Column(u.spec.KeyCol)
	}
	for i := 0; i < n; i++ {
		u.keys[i] = ""
		if flag != nil && flag.IsNull(i) {
			u.kind[i] = rowMarker
			continue
		}
		u.kind[i] = rowUpsert
		if flag != nil && flag.Value(i) {
			u.kind[i] = rowTombstone
		}
		if keyCol != nil && keyCol.IsValid(i) {
			u.keys[i] = stringAt(keyCol, i)
			continue
		}
		k, ok := sinkKey(rec, u.spec.KeyCols, i)
		if !ok {
			u.kind[i] = rowNoKey
			continue
		}
		u.keys[i] = k
	}
}

// sinkKey renders row i's key columns as Magnetar's sink writes message
// keys; false when there are none or all are NULL.
func sinkKey(rec arrow.RecordBatch, cols []int, i int) (string, bool) {
	text := func(a arrow.Array) string {
		switch x := a.(type) {
		case *array.Int64:
			return strconv.FormatInt(x.Value(i), 10)
		case *array.Int32:
			return strconv.FormatInt(int64(x.Value(i)), 10)
		case *array.String:
			return x.Value(i)
		case *array.LargeString:
			return x.Value(i)
		}
		return expr.FormatValue(a, i)
	}
	switch len(cols) {
	case 0:
		return "", false
	case 1:
		a := rec.Column(cols[0])
		if a.IsNull(i) {
			return "", false
		}
		return text(a), true
	}
	parts := make([]any, len(cols))
	any := false
	for j, c := range cols {
		if a := rec.Column(c); a.IsValid(i) {
			parts[j] = text(a)
			any = true
		}
	}
	if !any {
		return "", false
	}
	b, _ := json.Marshal(parts)
	return string(b), true
}

// UpsertMaterialize turns the rows of an upsert source into the changelog
// of the table they describe, keyed as UpsertSpec says: the latest row per
// key wins. The first row of a key is +I, a later one -U old / +U new, a
// tombstone -D old (nothing when the key is absent); within a batch only
// the net change per key is emitted.
//
// It starts in a bootstrap phase: rows are folded silently until the
// source's bootstrap marker (or the end of the input), then the whole
// table is emitted as +I rows (in key-slot order) and the changelog
// follows. A bounded read therefore emits only +I rows: the latest row
// of every key not deleted. Watermarks seen during the bootstrap are
// held and the last one is forwarded after the table.
//
// Output columns are the input's; the flag column, when there is one,
// reads FALSE in every output row.
type UpsertMaterialize struct {
	child Operator
	spec  UpsertSpec
	mem   memory.Allocator

	keys  *upsertIndex // upsert key → row
	table *rowTable
	boot  bool  // bootstrap done: the table has been emitted
	seq   int64 // writes so far

	u       upsertKeys
	touched []upsertTouch
	slots   []int32

	heldWM  int64
	hasWM   bool
	pending []Message
	done    bool
}

// NewUpsertMaterialize returns the materialization of child's upsert rows.
func NewUpsertMaterialize(child Operator, spec UpsertSpec, mem memory.Allocator) (*UpsertMaterialize, error) {
	s := child.Schema()
	if err := checkUpsertSpec(s, spec); err != nil {
		return nil, fmt.Errorf("upsert materialize: %w", err)
	}
	t, err := newRowTable(schemaTypes(s))
	if err != nil {
		return nil, fmt.Errorf("upsert materialize: %w", err)
	}
	return &UpsertMaterialize{child: child, spec: spec, mem: mem, table: t, keys: newUpsertIndex(), u: upsertKeys{spec: spec}}, nil
}

func checkUpsertSpec(s *arrow.Schema, spec UpsertSpec) error {
	n := s.NumFields()
	if spec.KeyCol >= n || spec.FlagCol >= n {
		return fmt.Errorf("key or flag column out of range (%d columns)", n)
	}
	if spec.KeyCol >= 0 && kindOf(s.Field(spec.KeyCol).Type) != kString {
		return fmt.Errorf("key column %s is %s, want a string", s.Field(spec.KeyCol).Name, s.Field(spec.KeyCol).Type)
	}
	if spec.FlagCol >= 0 && s.Field(spec.FlagCol).Type.ID() != arrow.BOOL {
		return fmt.Errorf("flag column %s is %s, want BOOLEAN", s.Field(spec.FlagCol).Name, s.Field(spec.FlagCol).Type)
	}
	for _, c := range spec.KeyCols {
		if c < 0 || c >= n {
			return fmt.Errorf("primary-key column %d out of range", c)
		}
	}
	if spec.KeyCol < 0 && len(spec.KeyCols) == 0 {
		return fmt.Errorf("no key: neither a key column nor primary-key columns")
	}
	return nil
}

// Schema implements Operator.
func (m *UpsertMaterialize) Schema() *arrow.Schema { return m.child.Schema() }

// Open implements Operator.
func (m *UpsertMaterialize) Open(ctx context.Context) error { return m.child.Open(ctx) }

// Next implements Operator.
func (m *UpsertMaterialize) Next(ctx context.Context) (Message, error) {
	for {
		if len(m.pending) > 0 {
			msg := m.pending[0]
			m.pending[0] = Message{}
			m.pending = m.pending[1:]
			return msg, nil
		}
		if m.done {
			return EndMsg, nil
		}
		if err := ctx.Err(); err != nil {
			return Message{}, err
		}
		msg, err := m.child.Next(ctx)
		if err != nil {
			return Message{}, err
		}
		switch msg.Kind {
		case MsgBatch:
			out, err := m.consume(msg.Batch)
			msg.Release()
			if err != nil {
				return Message{}, fmt.Errorf("upsert materialize: %w", err)
			}
			if out.Rec != nil {
				return Message{Kind: MsgBatch, Batch: out}, nil
			}
		case MsgWatermark:
			if !m.boot {
				m.heldWM, m.hasWM = msg.Watermark, true
				continue
			}
			return msg, nil
		case MsgEnd:
			m.done = true
			if !m.boot {
				m.finishBoot()
			}
			m.pending = append(m.pending, msg)
		default:
			return msg, nil
		}
	}
}

// consume folds a batch; after the bootstrap it returns the changes.
func (m *UpsertMaterialize) consume(b Batch) (Batch, error) {
	if !b.AppendOnly() {
		return Batch{}, fmt.Errorf("input must be append-only (got a retraction)")
	}
	rec := b.Rec
	m.u.read(rec)
	var marker bool
	m.touched, marker = m.keys.fold(&m.u, m.touched)
	// New rows go into the table first, so old and new rows can be built
	// into one output batch before the old ones are freed.
	sel := make([]int32, 0, len(m.touched))
	for _, t := range m.touched {
		if t.after >= 0 {
			sel = append(sel, int32(t.after))
		}
	}
	m.slots = m.table.addRows(recColumns(rec), sel, m.slots[:0])
	var out []int32
	var ops []ChangeKind
	j := 0
	for _, t := range m.touched {
		newSlot := int32(-1)
		if t.after >= 0 {
			newSlot = m.slots[j]
			j++
		}
		if m.boot {
			switch {
			case t.before >= 0 && newSlot >= 0:
				out, ops = append(out, t.before, newSlot), append(ops, UpdateBefore, UpdateAfter)
			case newSlot >= 0:
				out, ops = append(out, newSlot), append(ops, Insert)
			case t.before >= 0:
				out, ops = append(out, t.before), append(ops, Delete)
			}
		}
		if newSlot >= 0 {
			m.seq++
			m.keys.set(t.ent, newSlot, m.seq)
		} else {
			m.keys.drop(t.ent)
		}
	}
	var res Batch
	if len(out) > 0 {
		res = m.buildBatch(out, opsOrNil(ops))
	}
	for _, t := range m.touched {
		if t.before >= 0 {
			m.table.remove(t.before)
		}
	}
	if marker && !m.boot {
		m.finishBoot()
	}
	return res, nil
}

func (m *UpsertMaterialize) buildBatch(slots []int32, ops []ChangeKind) Batch {
	cols := m.table.build(m.mem, slots)
	rec := array.NewRecordBatch(m.child.Schema(), cols, int64(len(slots)))
	releaseArrays(cols)
	return Batch{Rec: rec, Ops: ops}
}

// upsertEmitRows caps the rows of one batch of the bootstrap snapshot.
const upsertEmitRows = 8192

// finishBoot ends the bootstrap: the table so far is queued as +I rows,
// then the held watermark.
func (m *UpsertMaterialize) finishBoot() {
	m.boot = true
	type live struct {
		slot int32
		seq  int64
	}
	es := make([]live, 0, m.keys.entries())
	m.keys.each(func(slot int32, seq int64) { es = append(es, live{slot, seq}) })
	slices.SortFunc(es, func(a, b live) int { return cmp.Compare(a.seq, b.seq) })
	slots := make([]int32, len(es))
	for i, e := range es {
		slots[i] = e.slot
	}
	for len(slots) > 0 {
		n := min(len(slots), upsertEmitRows)
		m.pending = append(m.pending, Message{Kind: MsgBatch, Batch: m.buildBatch(slots[:n], nil)})
		slots = slots[n:]
	}
	if m.hasWM {
		m.pending = append(m.pending, WatermarkMsg(m.heldWM))
		m.hasWM = false
	}
}

// State returns the operator's state: the table and the bootstrap phase.
func (m *UpsertMaterialize) State() State { return upsertState{m} }

type upsertState struct{ m *UpsertMaterialize }

type upsertSnapshot struct {
	Keys  []byte
	Table tableSnapshot
	Boot  bool
	Seq   int64
	WM    int64
	HasWM bool
}

func (s upsertState) Entries() int     { return s.m.keys.entries() }
func (s upsertState) SizeBytes() int64 { return s.m.keys.sizeBytes() + s.m.table.sizeBytes() }

func (s upsertState) Snapshot(w io.Writer) error {
	var keys bytes.Buffer
	if err := s.m.keys.snapshot(&keys); err != nil {
		return err
	}
	snap := upsertSnapshot{Keys: keys.Bytes(), Table: s.m.table.snapshot(), Boot: s.m.boot, Seq: s.m.seq, WM: s.m.heldWM, HasWM: s.m.hasWM}
	if err := gob.NewEncoder(w).Encode(snap); err != nil {
		return fmt.Errorf("snapshot upsert materialize: %w", err)
	}
	return nil
}

func (s upsertState) Restore(r io.Reader) error {
	var snap upsertSnapshot
	if err := gob.NewDecoder(r).Decode(&snap); err != nil {
		return fmt.Errorf("restore upsert materialize: %w", err)
	}
	if err := s.m.keys.restore(bytes.NewReader(snap.Keys)); err != nil {
		return err
	}
	s.m.boot, s.m.seq, s.m.heldWM, s.m.hasWM = snap.Boot, snap.Seq, snap.WM, snap.HasWM
	return s.m.table.restore(snap.Table)
}

// Close implements Operator.
func (m *UpsertMaterialize) Close() error {
	for _, msg := range m.pending {
		msg.Release()
	}
	m.pending = nil
	return m.child.Close()
}

// Children implements Operator.
func (m *UpsertMaterialize) Children() []Operator { return []Operator{m.child} }

// String implements Operator.
func (m *UpsertMaterialize) String() string {
	return "UpsertMaterialize(" + upsertSpecString(m.child.Schema(), m.spec) + ")"
}

func upsertSpecString(s *arrow.Schema, spec UpsertSpec) string {
	name := func(c int) string {
		if c < 0 {
			return "none"
		}
		return s.Field(c).Name
	}
	out := "key=" + name(spec.KeyCol) + ", tombstone=" + name(spec.FlagCol)
	if len(spec.KeyCols) > 0 {
		out += ", primary_key=["
		for i, c := range spec.KeyCols {
			if i > 0 {
				out += ", "
			}
			out += name(c)
		}
		out += "]"
	}
	return out
}
