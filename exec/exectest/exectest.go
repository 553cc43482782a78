// Package exectest holds helpers for testing exec operators: building record
// batches from Go rows, draining an operator, and comparing rows as text.
package exectest

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
)

// Schema builds a schema from alternating names and types, all nullable:
// Schema("id", arrow.PrimitiveTypes.Int64, "name", arrow.BinaryTypes.String).
func Schema(namesAndTypes ...any) *arrow.Schema {
	var fs []arrow.Field
	for i := 0; i+1 < len(namesAndTypes); i += 2 {
		fs = append(fs, arrow.Field{Name: namesAndTypes[i].(string), Type: namesAndTypes[i+1].(arrow.DataType), Nullable: true})
	}
	return arrow.NewSchema(fs, nil)
}

// Record builds a batch of schema from Go rows. Cells may be nil (NULL),
// Go ints/floats/strings/bools, []byte, decimal128.Num, arrow.Date32,
// arrow.Timestamp or arrow.Time64, whichever matches the column type.
// It panics on a mismatch: it is for tests only.
func Record(mem memory.Allocator, schema *arrow.Schema, rows ...[]any) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for r, row := range rows {
		if len(row) != schema.NumFields() {
			panic(fmt.Sprintf("row %d has %d cells, schema %d", r, len(row), schema.NumFields()))
		}
		for c, v := range row {
			appendValue(b.Field(c), v)
		}
	}
	return b.NewRecordBatch()
}

func toInt64(v any) int64 {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int64:
		return x
	case uint64:
		return int64(x)
	case arrow.Timestamp:
		return int64(x)
	case arrow.Time64:
		return int64(x)
	case arrow.Date32:
		return int64(x)
	}
	panic(fmt.Sprintf("not an integer: %T", v))
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case float32:
		return float64(x)
	}
	return float64(toInt64(v))
}

func appendValue(b array.Builder, v any) {
	if v == nil {
		b.AppendNull()
		return
	}
	switch bb := b.(type) {
	case *array.Int64Builder:
		bb.Append(toInt64(v))
	case *array.Int32Builder:
		bb.Append(int32(toInt64(v)))
	case *array.Int16Builder:
		bb.Append(int16(toInt64(v)))
	case *array.Int8Builder:
		bb.Append(int8(toInt64(v)))
	case *array.Uint64Builder:
		bb.Append(uint64(toInt64(v)))
	case *array.Float64Builder:
		bb.Append(toFloat(v))
	case *array.Float32Builder:
		bb.Append(float32(toFloat(v)))
	case *array.StringBuilder:
		bb.Append(v.(string))
	case *array.BinaryBuilder:
		bb.Append(v.([]byte))
	case *array.BooleanBuilder:
		bb.Append(v.(bool))
	case *array.Date32Builder:
		bb.Append(arrow.Date32(toInt64(v)))
	case *array.TimestampBuilder:
		bb.Append(arrow.Timestamp(toInt64(v)))
	case *array.Time64Builder:
		bb.Append(arrow.Time64(toInt64(v)))
	case *array.Decimal128Builder:
		switch x := v.(type) {
		case decimal128.Num:
			bb.Append(x)
		default:
			bb.Append(decimal128.FromI64(toInt64(v)))
		}
	default:
		panic(fmt.Sprintf("exectest: unsupported builder %T", b))
	}
}

// Collect opens op, pulls it to MsgEnd and closes it, returning the batches
// (the caller releases them). Watermarks and barriers are dropped.
func Collect(ctx context.Context, op exec.Operator) ([]arrow.RecordBatch, error) {
	msgs, err := CollectMessages(ctx, op)
	var out []arrow.RecordBatch
	for _, m := range msgs {
		if m.Kind == exec.MsgBatch {
			out = append(out, m.Batch.Rec)
		}
	}
	return out, err
}

// CollectMessages opens op, pulls every message up to and excluding MsgEnd
// and closes op. The caller releases the batches (see ReleaseMessages).
func CollectMessages(ctx context.Context, op exec.Operator) (msgs []exec.Message, err error) {
	if err := op.Open(ctx); err != nil {
		op.Close()
		return nil, err
	}
	defer func() {
		if cerr := op.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	for {
		m, err := op.Next(ctx)
		if err != nil {
			return msgs, err
		}
		if m.Kind == exec.MsgEnd {
			return msgs, nil
		}
		msgs = append(msgs, m)
	}
}

// Release releases batches.
func Release(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

// ReleaseMessages releases the batches of msgs.
func ReleaseMessages(msgs []exec.Message) {
	for _, m := range msgs {
		m.Release()
	}
}

// Cell renders one value: NULL, or the array's ValueStr.
func Cell(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return "NULL"
	}
	return a.ValueStr(i)
}

// Row renders row i of rec as cells joined by "|".
func Row(rec arrow.RecordBatch, i int) string {
	cells := make([]string, rec.NumCols())
	for c := range cells {
		cells[c] = Cell(rec.Column(c), i)
	}
	return strings.Join(cells, "|")
}

// Rows renders every row of recs, in order.
func Rows(recs []arrow.RecordBatch) []string {
	var out []string
	for _, r := range recs {
		for i := 0; i < int(r.NumRows()); i++ {
			out = append(out, Row(r, i))
		}
	}
	return out
}

// SortedRows is Rows sorted, for order-insensitive comparisons.
func SortedRows(recs []arrow.RecordBatch) []string {
	out := Rows(recs)
	sort.Strings(out)
	return out
}

// Changelog renders the batches of msgs as "+I a|b" lines, in order.
func Changelog(msgs []exec.Message) []string {
	var out []string
	for _, m := range msgs {
		if m.Kind != exec.MsgBatch {
			continue
		}
		for i := 0; i < int(m.Batch.Rec.NumRows()); i++ {
			out = append(out, m.Batch.Op(i).String()+" "+Row(m.Batch.Rec, i))
		}
	}
	return out
}

// Fold applies a changelog to an empty multiset and returns the remaining
// rows, sorted. Retracting a row that is not there is an error.
func Fold(msgs []exec.Message) ([]string, error) {
	return FoldLines(Changelog(msgs))
}

// FoldLines is Fold over changelog lines: a change kind ("+I", "-D", "-U",
// "+U"), a space, then the row in any rendering.
func FoldLines(lines []string) ([]string, error) {
	count := map[string]int{}
	for _, l := range lines {
		op, row, _ := strings.Cut(l, " ")
		if op == exec.Delete.String() || op == exec.UpdateBefore.String() {
			if count[row] == 0 {
				return nil, fmt.Errorf("retraction of absent row %q", row)
			}
			count[row]--
		} else {
			count[row]++
		}
	}
	var out []string
	for row, n := range count {
		for ; n > 0; n-- {
			out = append(out, row)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Equal compares two row lists and describes the first difference.
func Equal(got, want []string) error {
	if len(got) != len(want) {
		return fmt.Errorf("got %d rows, want %d:\n got: %q\nwant: %q", len(got), len(want), got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Errorf("row %d: got %q, want %q\n got: %q\nwant: %q", i, got[i], want[i], got, want)
		}
	}
	return nil
}

// Source is a scripted operator emitting the given messages then End; it
// lets tests feed watermarks, barriers and changelog batches. It takes
// ownership of the batches in msgs.
type Source struct {
	schema *arrow.Schema
	msgs   []exec.Message
	pos    int
	closed bool
}

// NewSource returns a scripted source.
func NewSource(schema *arrow.Schema, msgs ...exec.Message) *Source {
	return &Source{schema: schema, msgs: msgs}
}

// Schema implements exec.Operator.
func (s *Source) Schema() *arrow.Schema { return s.schema }

// Open implements exec.Operator.
func (s *Source) Open(context.Context) error { return nil }

// Next implements exec.Operator.
func (s *Source) Next(ctx context.Context) (exec.Message, error) {
	if err := ctx.Err(); err != nil {
		return exec.Message{}, err
	}
	if s.pos >= len(s.msgs) {
		return exec.EndMsg, nil
	}
	m := s.msgs[s.pos]
	s.msgs[s.pos] = exec.Message{}
	s.pos++
	return m, nil
}

// Close implements exec.Operator; it releases undelivered batches.
func (s *Source) Close() error {
	for i := s.pos; i < len(s.msgs); i++ {
		s.msgs[i].Release()
	}
	s.pos = len(s.msgs)
	s.closed = true
	return nil
}

// Closed reports whether Close was called.
func (s *Source) Closed() bool { return s.closed }

// Children implements exec.Operator.
func (s *Source) Children() []exec.Operator { return nil }

// String implements exec.Operator.
func (s *Source) String() string { return "Source" }
