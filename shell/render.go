// Package shell is Magnetar's SQL shell: result rendering (table, CSV,
// JSON, changelog), the command-line runner for -e / -f / piped scripts and
// the interactive line editor with meta commands and completion.
package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/exec"
)

// Format is an output format for result rows.
type Format string

// Output formats.
const (
	FormatTable Format = "table"
	FormatCSV   Format = "csv"
	FormatJSON  Format = "json"
)

// ParseFormat validates a format name given by the user.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case FormatTable, FormatCSV, FormatJSON:
		return f, nil
	}
	return "", fmt.Errorf("unknown format %q (want table, csv or json)", s)
}

// RenderOptions control how a result is written.
type RenderOptions struct {
	Format Format
	// Changelog adds a first column "op" with each row's change kind (+I,
	// -U, +U, -D). Without it, a buffered table applies retractions to the
	// rows it holds and shows the final result; streaming outputs cannot
	// take rows back and fail on the first retraction instead.
	Changelog bool
	// Streaming makes the table format print rows as batches arrive (for
	// continuous results) instead of buffering the result to size columns.
	Streaming bool
	// Width is the terminal width tables are cut to; 0 means no limit.
	Width int
	// Color enables ANSI styling (dim NULLs) for terminals.
	Color bool
}

// ErrRetraction is returned when an updating result reaches a renderer that
// cannot apply retractions; the remedy is changelog mode.
var ErrRetraction = errors.New("the result is updating (it retracts rows it emitted); show it as a changelog with --changelog or \\changelog on")

// Renderer writes one result.
type Renderer interface {
	// Begin is called once with the result's schema, before any batch.
	Begin(schema *arrow.Schema) error
	// Write renders a batch; the caller keeps ownership of it.
	Write(b exec.Batch) error
	// End finishes the output; err is the error that stopped the stream,
	// if any (e.g. a cancelled context), so streaming output can be closed
	// tidily. elapsed is shown by the table footer.
	End(elapsed time.Duration, err error) error
	// Rows is the number of rows rendered so far (after folding
	// retractions, for a buffered table).
	Rows() int64
}

// NewRenderer returns a renderer for opts.Format writing to w.
func NewRenderer(w io.Writer, opts RenderOptions) Renderer {
	switch opts.Format {
	case FormatCSV:
		return newCSVRenderer(w, opts)
	case FormatJSON:
		return newJSONRenderer(w, opts)
	}
	return newTableRenderer(w, opts)
}

// Drain pulls every message from op (already opened) into r until end of
// data, releasing batches as it goes. Watermarks and barriers are skipped.
// It calls Begin but not End.
func Drain(ctx context.Context, op exec.Operator, schema *arrow.Schema, r Renderer) error {
	return drain(ctx, op, schema, r, nil)
}

// drain is Drain calling observe (if set) with every message before it is
// rendered.
func drain(ctx context.Context, op exec.Operator, schema *arrow.Schema, r Renderer, observe func(exec.Message)) error {
	if schema == nil {
		schema = op.Schema()
	}
	if err := r.Begin(schema); err != nil {
		return err
	}
	for {
		msg, err := op.Next(ctx)
		if err != nil {
			return err
		}
		if observe != nil {
			observe(msg)
		}
		switch msg.Kind {
		case exec.MsgEnd:
			return nil
		case exec.MsgBatch:
			err := r.Write(msg.Batch)
			msg.Release()
			if err != nil {
				return err
			}
		}
	}
}

// opColumn is the name of the changelog column; it yields to a result
// column of the same name.
func opColumn(schema *arrow.Schema) string {
	name := "op"
	for {
		if len(schema.FieldIndices(name)) == 0 {
			return name
		}
		name += "_"
	}
}

// formatDuration shows elapsed time the way people read it at a prompt.
func formatDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	case d < time.Minute:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return d.Round(time.Second).String()
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
