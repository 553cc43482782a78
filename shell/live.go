package shell

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/exec"
)

// redrawEvery is the shortest time between two redraws of a live table:
// about four frames a second is as fast as people read a changing table,
// and keeps a busy changelog from flooding the terminal.
const redrawEvery = 250 * time.Millisecond

// appendKeep is how many rows an append-only live result remembers for a
// retraction that may still come; past it the result is taken to be
// append-only for good and rows are no longer kept.
const appendKeep = 1 << 16

// liveRenderer shows a continuous result on a terminal. While every change
// is an insert it prints rows as they arrive, like the streaming table.
// From the first retraction on it folds the changelog (see fold) and
// redraws the whole table in place — cursor up over the previous frame,
// clear, draw — at most every redrawEvery; Tick draws changes that arrived
// since the last frame. Frames are cut to the terminal's height.
type liveRenderer struct {
	mu     sync.Mutex
	w      io.Writer
	opts   RenderOptions
	height func() int
	width  func() int // the terminal's width now; nil: opts.Width
	now    func() time.Time

	cols    []gridColumn
	fold    fold
	updates bool  // a retraction arrived: the table is redrawn in place
	kept    bool  // append phase: fold still holds every row
	lines   int   // screen lines of this result above the cursor (header on)
	widths  []int // append phase: column widths of the printed header
	dirty   bool  // changes not drawn yet
	last    time.Time
	changes int64 // changelog rows received
	err     error // a write error, reported by the next call
}

// newLiveRenderer returns a live table writing to w (a terminal, usually
// through a screen). height gives the terminal's height in lines (0 or nil:
// 24); now is the clock (nil: time.Now).
func newLiveRenderer(w io.Writer, opts RenderOptions, height func() int, now func() time.Time) *liveRenderer {
	if now == nil {
		now = time.Now
	}
	opts.Changelog = false
	return &liveRenderer{w: w, opts: opts, height: height, now: now, kept: true}
}

// Begin implements Renderer.
func (r *liveRenderer) Begin(schema *arrow.Schema) error {
	for _, f := range schema.Fields() {
		r.cols = append(r.cols, gridColumn{name: f.Name, typ: fieldTypeName(f), right: isNumeric(f.Type)})
	}
	return nil
}

func (r *liveRenderer) cells(b exec.Batch, i int) []cell {
	row := make([]cell, len(r.cols))
	for c, col := range b.Rec.Columns() {
		if isNull(col, i) {
			row[c] = cell{s: nullText, null: true}
		} else {
			row[c] = cell{s: escapeControl(formatValue(col, i))}
		}
	}
	return row
}

// Write implements Renderer.
func (r *liveRenderer) Write(b exec.Batch) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	n := int(b.Rec.NumRows())
	r.changes += int64(n)
	if !r.updates && b.AppendOnly() {
		return r.appendRows(b, n)
	}
	if !r.updates {
		if !r.kept {
			return fmt.Errorf("the result retracts a row after %d append-only rows, too many to keep for a live table; use \\changelog on", appendKeep)
		}
		r.updates = true
		if r.lines >= r.maxLines() {
			// The rows printed so far have scrolled out of reach of the
			// cursor: start the live table below them.
			r.lines = 0
			if err := r.write([]byte("-- the result is updating: live table --\n")); err != nil {
				return err
			}
		}
	}
	for i := 0; i < n; i++ {
		if err := r.fold.apply(b.Op(i), r.cells(b, i)); err != nil {
			return err
		}
	}
	r.dirty = true
	if r.now().Sub(r.last) >= redrawEvery {
		return r.draw()
	}
	return nil
}

// appendRows prints an append-only batch below what is on screen.
func (r *liveRenderer) appendRows(b exec.Batch, n int) error {
	rows := make([][]cell, n)
	for i := range rows {
		rows[i] = r.cells(b, i)
		if r.kept {
			if err := r.fold.apply(exec.Insert, rows[i]); err != nil {
				return err
			}
		}
	}
	if r.fold.live > appendKeep {
		r.fold.reset()
		r.kept = false
	}
	var buf bytes.Buffer
	g := r.grid(&buf)
	if r.widths == nil {
		r.widths = fit(r.cols, rows, r.opts.Width)
		g.widths = r.widths
		g.header()
	}
	g.widths = r.widths
	for _, row := range rows {
		g.line(row, true)
	}
	if err := g.w.Flush(); err != nil {
		return err
	}
	r.lines += r.screenLines(buf.Bytes())
	return r.write(buf.Bytes())
}

// Tick draws changes that arrived since the last frame; the shell calls
// it a few times a second while the result runs.
func (r *liveRenderer) Tick() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil || !r.dirty || r.now().Sub(r.last) < redrawEvery {
		return r.err
	}
	return r.draw()
}

func (r *liveRenderer) grid(w io.Writer) *grid {
	return &grid{w: bufio.NewWriter(w), cols: r.cols, color: r.opts.Color}
}

// maxLines is how many lines a frame may take: the terminal's height less
// the status line and a spare line, so the cursor can still reach the
// frame's first line.
func (r *liveRenderer) maxLines() int {
	h := 0
	if r.height != nil {
		h = r.height()
	}
	if h <= 0 {
		h = 24
	}
	return max(h-2, 8)
}

// frame renders the folded table, cut to the lines available.
func (r *liveRenderer) frame() []byte {
	var buf bytes.Buffer
	// Header (4 lines with types), bottom border, and a "more" line.
	room := max(r.maxLines()-6, 0)
	shown := r.fold.head(room)
	total := r.fold.live
	g := r.grid(&buf)
	g.widths = fit(r.cols, shown, r.termWidth())
	g.header()
	for _, row := range shown {
		g.line(row, true)
	}
	if len(shown) > 0 {
		g.border()
	}
	if len(shown) < total {
		fmt.Fprintf(g.w, "… %s more (the terminal is too short to show them)\n", plural(int64(total-len(shown)), "row", "rows"))
	}
	_ = g.w.Flush() // a bytes.Buffer takes everything
	return buf.Bytes()
}

// draw replaces the previous frame with the current one.
func (r *liveRenderer) draw() error {
	frame := r.frame()
	var buf bytes.Buffer
	buf.WriteString("\r")
	if r.lines > 0 {
		fmt.Fprintf(&buf, cursorUpFmt, r.lines)
	}
	buf.WriteString(eraseBelow)
	buf.Write(frame)
	r.lines = r.screenLines(frame)
	r.dirty = false
	r.last = r.now()
	return r.write(buf.Bytes())
}

// termWidth is the width frames are fitted to: the terminal's current
// width, so a resized window gets frames that fit it.
func (r *liveRenderer) termWidth() int {
	if r.width != nil {
		if w := r.width(); w > 0 {
			return w
		}
	}
	return r.opts.Width
}

// screenLines counts the terminal lines text takes, with long lines
// wrapped at the terminal's width.
func (r *liveRenderer) screenLines(text []byte) int {
	n := 0
	for _, line := range bytes.SplitAfter(text, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		w := displayWidth(string(bytes.TrimRight(line, "\n")))
		if tw := r.termWidth(); tw > 0 && w > tw {
			n += (w + tw - 1) / tw
		} else {
			n++
		}
	}
	return n
}

func (r *liveRenderer) write(p []byte) error {
	if _, err := r.w.Write(p); err != nil {
		r.err = fmt.Errorf("write result: %w", err)
		return r.err
	}
	return nil
}

// End implements Renderer: it draws the last changes and a footer.
func (r *liveRenderer) End(elapsed time.Duration, runErr error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	if r.cols == nil {
		return nil
	}
	var buf bytes.Buffer
	switch {
	case r.updates:
		if r.dirty || r.lines == 0 {
			if err := r.draw(); err != nil {
				return err
			}
		}
	case r.widths == nil: // no rows at all: header only
		g := r.grid(&buf)
		g.widths = fit(r.cols, nil, r.opts.Width)
		g.header()
		_ = g.w.Flush()
	default:
		g := r.grid(&buf)
		g.widths = r.widths
		g.border()
		_ = g.w.Flush()
	}
	footer := plural(r.Rows(), "row", "rows")
	if r.updates {
		footer += fmt.Sprintf(" from %s", plural(r.changes, "change", "changes"))
	}
	if runErr != nil {
		footer += " before the query stopped"
	}
	fmt.Fprintf(&buf, "%s (%s)\n", footer, formatDuration(elapsed))
	return r.write(buf.Bytes())
}

// Rows implements Renderer: the rows the table holds now (rows printed,
// while the result is append-only).
func (r *liveRenderer) Rows() int64 {
	if r.updates || r.kept {
		return int64(r.fold.live)
	}
	return r.changes
}
