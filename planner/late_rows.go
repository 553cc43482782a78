package planner

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
)

// SettingLateTopic names a table ('db.table', or a table of the current
// database) that receives, in the source table's row schema, the rows a
// watermark drops as late; it overrides the table option late_topic, as
// the other session settings override their table options.
const SettingLateTopic = "magnetar.late_topic"

// OptionLateTopic is the table option naming the late-row table of the
// table's scans (the session setting wins).
const OptionLateTopic = "late_topic"

// LateRowsOpener opens the output for the late rows of src (rows of its
// visible schema; srcDB its database) into the table named topic,
// creating it when missing.
type LateRowsOpener func(ctx context.Context, topic, srcDB string, src catalog.Table) (exec.LateRowsOutput, error)

type lateRowsKey struct{}

// WithLateRows returns a context whose plans may route late rows to a
// table through open. Without it, late_topic settings and options are
// ignored.
func WithLateRows(ctx context.Context, open LateRowsOpener) context.Context {
	return context.WithValue(ctx, lateRowsKey{}, open)
}

// LateRows says where a Watermark writes the rows it drops as late.
type LateRows struct {
	// Topic is the target table as written in the setting or option.
	Topic string
	// Source is the scanned table (in SourceDB): written rows have its
	// visible schema.
	Source   catalog.Table
	SourceDB string
	// Cols gives, for each visible column of Source, its position in the
	// watermark's input.
	Cols []int
	open LateRowsOpener
}

// lateTopicFor returns the late-row table of scans of tab ("" for none).
func (s sessionInfo) lateTopicFor(tab catalog.Table) string {
	if v := s.setting(SettingLateTopic); v != "" {
		return v
	}
	return tableOption(tab, OptionLateTopic)
}

// routeLateRows gives every watermark over a scan whose table has a late
// topic (SET magnetar.late_topic or the table option late_topic) a
// LateRows, widening the scan to every visible column so that the late
// rows can be written whole. Watermarks that keep late rows (state TTL
// clocks) and watermarks over computed times have none.
func routeLateRows(ctx context.Context, n Node) (Node, error) {
	sess := sessionFrom(ctx)
	open, _ := ctx.Value(lateRowsKey{}).(LateRowsOpener)
	return transformUp(n, func(n Node) (Node, error) {
		w, ok := n.(*Watermark)
		if !ok || w.KeepLate || w.Late != nil {
			return n, nil
		}
		s, ok := w.Child.(*Scan)
		if !ok {
			return n, nil
		}
		topic := sess.lateTopicFor(s.Table)
		if topic == "" {
			return n, nil
		}
		if open == nil {
			return n, nil // a plan not run by a session (CREATE TABLE ... AS SELECT)
		}
		cols := s.Columns
		nvis := len(s.Table.Schema().Fields())
		if cols == nil {
			cols = make([]int, nvis)
			for i := range cols {
				cols[i] = i
			}
		}
		cols = append([]int(nil), cols...)
		pos := make([]int, nvis)
		for v := 0; v < nvis; v++ {
			pos[v] = -1
			for i, c := range cols {
				if c == v {
					pos[v] = i
					break
				}
			}
			if pos[v] < 0 {
				pos[v] = len(cols)
				cols = append(cols, v)
			}
		}
		nw := *w
		nw.Child = s.WithColumns(cols)
		nw.Late = &LateRows{Topic: topic, Source: s.Table, SourceDB: s.DB, Cols: pos, open: open}
		return &nw, nil
	})
}

// lateQueue opens the late-row queue of a watermark (nil when it has no
// late topic).
func lateQueue(x *Watermark, mem memory.Allocator) (*exec.LateRowsQueue, error) {
	if x.Late == nil {
		return nil, nil
	}
	out, err := x.Late.open(context.Background(), x.Late.Topic, x.Late.SourceDB, x.Late.Source)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", SettingLateTopic, x.Late.Topic, err)
	}
	return exec.NewLateRowsQueue(out, x.Late.Source.Schema(), x.Late.Cols, mem), nil
}
