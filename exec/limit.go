package exec

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
)

// Limit skips offset rows and then passes count rows (count < 0: all).
//
// On a changelog input the offset and count are applied to the physical rows
// of the stream, whatever their change kind: a retraction counts as a row.
// That is only meaningful for append-only inputs; a LIMIT over an updating
// result needs a TopN with retractions (a planner concern), so Limit simply
// keeps Ops aligned with the rows it passes.
//
// Over an unbounded input (a continuous query) it passes the first rows and
// then ends the query. How many rows it has skipped and passed is its state
// (State): a durable job restored from a checkpoint goes on counting, so it
// does not emit the first rows again after a restart.
type Limit struct {
	child         Operator
	offset, count int64
	skipped, sent int64
	done          bool
}

// NewLimit returns a LIMIT count OFFSET offset operator. count -1 means no
// limit. Once count rows are out it stops pulling the child and returns End.
func NewLimit(child Operator, offset, count int64) Operator {
	if offset < 0 {
		offset = 0
	}
	return &Limit{child: child, offset: offset, count: count}
}

// Schema implements Operator.
func (l *Limit) Schema() *arrow.Schema { return l.child.Schema() }

// Open implements Operator.
func (l *Limit) Open(ctx context.Context) error { return l.child.Open(ctx) }

// Next implements Operator.
func (l *Limit) Next(ctx context.Context) (Message, error) {
	for {
		if l.done || (l.count >= 0 && l.sent >= l.count) {
			l.done = true
			return EndMsg, nil
		}
		m, err := l.child.Next(ctx)
		if err != nil {
			return Message{}, err
		}
		switch m.Kind {
		case MsgEnd:
			l.done = true
			return m, nil
		case MsgBatch:
		default:
			return m, nil
		}
		rec := m.Batch.Rec
		n := rec.NumRows()
		start := int64(0)
		if l.skipped < l.offset {
			skip := min(l.offset-l.skipped, n)
			l.skipped += skip
			start = skip
		}
		end := n
		if l.count >= 0 {
			end = min(n, start+(l.count-l.sent))
		}
		if start >= end {
			rec.Release()
			continue
		}
		l.sent += end - start
		if start == 0 && end == n {
			return m, nil
		}
		out := rec.NewSlice(start, end)
		rec.Release()
		var ops []ChangeKind
		if m.Batch.Ops != nil {
			ops = m.Batch.Ops[start:end]
		}
		return BatchMsg(out, ops), nil
	}
}

// State returns the rows skipped and passed so far.
func (l *Limit) State() State { return limitState{l} }

type limitState struct{ l *Limit }

func (s limitState) Entries() int     { return 1 }
func (s limitState) SizeBytes() int64 { return 16 }

// Snapshot writes the two counters, 8 bytes each, big-endian.
func (s limitState) Snapshot(w io.Writer) error {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(s.l.skipped))
	binary.BigEndian.PutUint64(b[8:], uint64(s.l.sent))
	if _, err := w.Write(b[:]); err != nil {
		return fmt.Errorf("snapshot limit: %w", err)
	}
	return nil
}

// Restore reads the counters back; a limit that had passed all its rows
// ends at once.
func (s limitState) Restore(r io.Reader) error {
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return fmt.Errorf("restore limit: %w", err)
	}
	skipped, sent := int64(binary.BigEndian.Uint64(b[:8])), int64(binary.BigEndian.Uint64(b[8:]))
	if skipped < 0 || sent < 0 || skipped > s.l.offset || (s.l.count >= 0 && sent > s.l.count) {
		return fmt.Errorf("restore limit: counters skipped=%d sent=%d do not fit %s", skipped, sent, s.l)
	}
	s.l.skipped, s.l.sent = skipped, sent
	return nil
}

// Close implements Operator.
func (l *Limit) Close() error { return l.child.Close() }

// Children implements Operator.
func (l *Limit) Children() []Operator { return []Operator{l.child} }

// String implements Operator.
func (l *Limit) String() string {
	return fmt.Sprintf("Limit(offset=%d, count=%d)", l.offset, l.count)
}
