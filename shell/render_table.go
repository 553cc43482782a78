package shell

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/magnetar-sql/magnetar/exec"
)

// Table layout:
//
//	+----+--------+
//	| id | name   |
//	| BIGINT | VARCHAR |   (types under the names)
//	+----+--------+
//	|  1 | alice  |
//	|  2 | NULL   |
//	+----+--------+
//	2 rows (0.4 ms)
//
// Numbers are right-aligned; NULL is shown as NULL (dim on a terminal);
// control characters are escaped so a value never breaks the grid; columns
// are narrowed (widest first) and values cut with … to fit Width.

// cell is one rendered value.
type cell struct {
	s    string
	null bool
}

// gridColumn is one column of a grid: header name and type, alignment.
type gridColumn struct {
	name, typ string
	right     bool
}

const (
	nullText    = "NULL"
	dimStart    = "\x1b[2m"
	styleReset  = "\x1b[0m"
	minColWidth = 4
)

// grid writes aligned rows for fixed column widths.
type grid struct {
	w      *bufio.Writer
	cols   []gridColumn
	widths []int
	color  bool
}

// fit computes column widths for the header and rows, narrowed to maxWidth
// (0: unlimited) by shrinking the widest columns first.
func fit(cols []gridColumn, rows [][]cell, maxWidth int) []int {
	widths := make([]int, len(cols))
	for i, c := range cols {
		widths[i] = max(displayWidth(c.name), displayWidth(c.typ), 1)
	}
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], displayWidth(c.s))
		}
	}
	if maxWidth <= 0 {
		return widths
	}
	// Each column costs its width plus "| " and " ", and the row a final "|".
	total := 1
	for _, w := range widths {
		total += w + 3
	}
	for total > maxWidth {
		widest := 0
		for i, w := range widths {
			if w > widths[widest] {
				widest = i
			}
		}
		if widths[widest] <= minColWidth {
			break // cannot narrow further; let the terminal wrap
		}
		widths[widest]--
		total--
	}
	return widths
}

func (g *grid) border() {
	g.w.WriteByte('+')
	for _, w := range g.widths {
		g.w.WriteString(strings.Repeat("-", w+2))
		g.w.WriteByte('+')
	}
	g.w.WriteByte('\n')
}

func (g *grid) header() {
	g.border()
	names := make([]cell, len(g.cols))
	types := make([]cell, len(g.cols))
	hasTypes := false
	for i, c := range g.cols {
		names[i] = cell{s: c.name}
		types[i] = cell{s: c.typ}
		hasTypes = hasTypes || c.typ != ""
	}
	g.line(names, false)
	if hasTypes {
		g.line(types, false)
	}
	g.border()
}

// line writes one row; align applies the columns' right alignment (header
// lines are always left-aligned).
func (g *grid) line(cells []cell, align bool) {
	g.w.WriteByte('|')
	for i, c := range cells {
		w := g.widths[i]
		s := truncate(c.s, w)
		pad := strings.Repeat(" ", w-displayWidth(s))
		g.w.WriteByte(' ')
		if align && g.cols[i].right && !c.null {
			g.w.WriteString(pad)
			pad = ""
		}
		if c.null && g.color {
			g.w.WriteString(dimStart + s + styleReset)
		} else {
			g.w.WriteString(s)
		}
		g.w.WriteString(pad)
		g.w.WriteString(" |")
	}
	g.w.WriteByte('\n')
}

// tableRenderer buffers the result (folding retractions unless in
// changelog mode) and prints it at End, or prints batch by batch when
// streaming.
type tableRenderer struct {
	out     io.Writer
	opts    RenderOptions
	g       *grid
	ncols   int
	rows    [][]cell // changelog mode: every change, in order
	fold    fold     // otherwise: the result with retractions applied
	started bool     // streaming: header printed
	count   int64
}

func newTableRenderer(w io.Writer, opts RenderOptions) *tableRenderer {
	return &tableRenderer{out: w, opts: opts}
}

func (r *tableRenderer) Begin(schema *arrow.Schema) error {
	var cols []gridColumn
	if r.opts.Changelog {
		cols = append(cols, gridColumn{name: opColumn(schema)})
	}
	for _, f := range schema.Fields() {
		cols = append(cols, gridColumn{name: f.Name, typ: fieldTypeName(f), right: isNumeric(f.Type)})
	}
	r.ncols = schema.NumFields()
	r.g = &grid{w: bufio.NewWriter(r.out), cols: cols, color: r.opts.Color}
	return nil
}

func (r *tableRenderer) cells(b exec.Batch, i int) []cell {
	off := 0
	row := make([]cell, len(r.g.cols))
	if r.opts.Changelog {
		row[0] = cell{s: b.Op(i).String()}
		off = 1
	}
	for c, col := range b.Rec.Columns() {
		if isNull(col, i) {
			row[off+c] = cell{s: nullText, null: true}
		} else {
			row[off+c] = cell{s: escapeControl(formatValue(col, i))}
		}
	}
	return row
}

func rowKey(row []cell) string {
	var b strings.Builder
	for _, c := range row {
		if c.null {
			b.WriteString("\x00N")
		} else {
			b.WriteString("\x00V")
			b.WriteString(c.s)
		}
	}
	return b.String()
}

func (r *tableRenderer) Write(b exec.Batch) error {
	n := int(b.Rec.NumRows())
	if r.opts.Streaming {
		if !r.opts.Changelog && !b.AppendOnly() {
			return ErrRetraction
		}
		rows := make([][]cell, n)
		for i := range rows {
			rows[i] = r.cells(b, i)
		}
		if !r.started {
			r.g.widths = fit(r.g.cols, rows, r.opts.Width)
			r.g.header()
			r.started = true
		}
		for _, row := range rows {
			r.g.line(row, true)
		}
		r.count += int64(n)
		return r.g.w.Flush()
	}
	for i := 0; i < n; i++ {
		row := r.cells(b, i)
		if r.opts.Changelog {
			r.rows = append(r.rows, row)
			continue
		}
		if err := r.fold.apply(b.Op(i), row); err != nil {
			return err
		}
	}
	return nil
}

func (r *tableRenderer) End(elapsed time.Duration, runErr error) error {
	g := r.g
	if g == nil {
		return nil
	}
	if !r.opts.Streaming {
		if runErr != nil {
			return nil // a partial bounded result would mislead
		}
		live := r.rows
		if !r.opts.Changelog {
			live = r.fold.rows()
		}
		g.widths = fit(g.cols, live, r.opts.Width)
		g.header()
		for _, row := range live {
			g.line(row, true)
		}
		r.count = int64(len(live))
		r.rows = nil
		r.fold.reset()
	} else if !r.started {
		g.widths = fit(g.cols, nil, r.opts.Width)
		g.header()
	}
	if r.count > 0 {
		g.border()
	}
	footer := fmt.Sprintf("%s (%s)", plural(r.count, "row", "rows"), formatDuration(elapsed))
	if runErr != nil {
		footer = fmt.Sprintf("%s before the query stopped (%s)", plural(r.count, "row", "rows"), formatDuration(elapsed))
	}
	g.w.WriteString(footer + "\n")
	return g.w.Flush()
}

func (r *tableRenderer) Rows() int64 {
	if r.opts.Streaming {
		return r.count
	}
	if r.count > 0 || r.opts.Changelog {
		return max(r.count, int64(len(r.rows)))
	}
	return int64(r.fold.live)
}

// escapeControl makes control characters visible so they cannot break the
// grid or the terminal.
func escapeControl(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case isControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }
