package shell

import (
	"encoding/csv"
	"fmt"
	"io"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/exec"
)

// csvRenderer writes a header row and then one RFC 4180 record per row;
// NULL is an empty field. Rows are flushed after every batch so continuous
// results reach a pipe as they arrive.
type csvRenderer struct {
	w      *csv.Writer
	opts   RenderOptions
	ncols  int
	record []string
	rows   int64
}

func newCSVRenderer(w io.Writer, opts RenderOptions) *csvRenderer {
	return &csvRenderer{w: csv.NewWriter(w), opts: opts}
}

func (r *csvRenderer) Begin(schema *arrow.Schema) error {
	r.ncols = schema.NumFields()
	header := make([]string, 0, r.ncols+1)
	if r.opts.Changelog {
		header = append(header, opColumn(schema))
	}
	for _, f := range schema.Fields() {
		header = append(header, f.Name)
	}
	r.record = make([]string, len(header))
	if err := r.w.Write(header); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

func (r *csvRenderer) Write(b exec.Batch) error {
	if !r.opts.Changelog && !b.AppendOnly() {
		return ErrRetraction
	}
	cols := b.Rec.Columns()
	off := 0
	if r.opts.Changelog {
		off = 1
	}
	for i := 0; i < int(b.Rec.NumRows()); i++ {
		if r.opts.Changelog {
			r.record[0] = b.Op(i).String()
		}
		for c, col := range cols {
			if isNull(col, i) {
				r.record[off+c] = ""
			} else {
				r.record[off+c] = formatValue(col, i)
			}
		}
		if err := r.w.Write(r.record); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
		r.rows++
	}
	r.w.Flush()
	return r.w.Error()
}

func (r *csvRenderer) End(time.Duration, error) error {
	r.w.Flush()
	return r.w.Error()
}

func (r *csvRenderer) Rows() int64 { return r.rows }
