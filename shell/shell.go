package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/chzyer/readline"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/sql"
)

// Result is what the shell needs of one statement's result (a view of
// engine.Result, so this package does not depend on the engine and can be
// tested with a fake session).
type Result struct {
	// Schema is nil for statements that return no rows.
	Schema *arrow.Schema
	// Rows is opened; the shell drains it and then calls Close.
	Rows     exec.Operator
	Status   string
	Warnings []string
	// RunWarnings, if set, returns the warnings known once the rows are
	// drained (undecodable messages skipped, late rows dropped); they
	// include Warnings.
	RunWarnings func() []string
	// Progress, if set, tells how far a bounded scan is (ok false: unknown).
	Progress func() (readMsgs, totalMsgs, readBytes, totalBytes int64, ok bool)
	// Close releases the result; nil means Rows.Close.
	Close func() error
}

// Session runs SQL; engine sessions are adapted to it by cmd/magnetar.
type Session interface {
	// Run executes the statements in text in order, calling fn with each
	// result. Errors located in the SQL are *sql.Error (possibly wrapped)
	// with Line/Column relative to text.
	Run(ctx context.Context, text string, fn func(*Result) error) error
	Database() string
	Mode() catalog.Mode
	Set(name, value string) error
}

// FunctionDoc documents one SQL function for \help and completion.
type FunctionDoc struct {
	Name, Signature, Description, Example string
}

// Changelog says when results show their change kinds.
type Changelog int

// Changelog settings.
const (
	// ChangelogAuto shows the op column for continuous queries only.
	ChangelogAuto Changelog = iota
	ChangelogOn
	ChangelogOff
)

// Config sets up a Shell.
type Config struct {
	Session Session
	// Catalog serves \d and completion; nil disables both.
	Catalog catalog.Catalog
	// Functions lists SQL functions for \help and completion.
	Functions []FunctionDoc

	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Terminal says stdout is a terminal: tables are cut to its width
	// (Width) and NULLs dimmed unless NoColor.
	Terminal bool
	// ErrTerminal says stderr is a terminal: progress bars are drawn there.
	ErrTerminal bool
	Width       func() int
	// Height gives the terminal's height for live tables; nil: asked of
	// Stdout when it is a terminal.
	Height  func() int
	NoColor bool

	Format          Format
	Changelog       Changelog
	ContinueOnError bool
	// Timing prints elapsed time after status lines and, for csv/json,
	// on stderr.
	Timing bool
	// HistoryFile is where interactive history is kept ("" for none).
	HistoryFile string
}

// Shell runs statements and meta commands and renders their results.
type Shell struct {
	cfg  Config
	sess Session
	out  io.Writer // results: stdout or a \o file
	file *os.File  // the \o file, if any
	err  io.Writer
	// depth guards \i against including itself forever.
	depth int
}

// New returns a shell over cfg.
func New(cfg Config) *Shell {
	if cfg.Format == "" {
		cfg.Format = FormatTable
	}
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	if cfg.Stdin == nil {
		cfg.Stdin = os.Stdin
	}
	if cfg.Height == nil {
		if f, ok := cfg.Stdout.(*os.File); ok && cfg.Terminal {
			cfg.Height = func() int {
				_, h, err := readline.GetSize(int(f.Fd()))
				if err != nil {
					return 0
				}
				return h
			}
		}
	}
	return &Shell{cfg: cfg, sess: cfg.Session, out: cfg.Stdout, err: cfg.Stderr}
}

// Close closes an open \o file.
func (s *Shell) Close() error {
	if s.file != nil {
		err := s.file.Close()
		s.file = nil
		return err
	}
	return nil
}

// RunScript runs every statement of a script (from -e, -f or a pipe) in
// order and returns the process exit code: 0, or 1 after the first error
// (every error is reported and the script goes on with ContinueOnError).
// name is shown in error messages for files ("" for -e and stdin).
func (s *Shell) RunScript(ctx context.Context, name, text string) int {
	pieces, rest := Split(text)
	if rest.Text != "" {
		pieces = append(pieces, rest)
	}
	for _, p := range pieces {
		if err := s.runPiece(ctx, name, text, p); err != nil {
			if ctx.Err() != nil {
				return 130 // interrupted, as shells report SIGINT
			}
			if !s.cfg.ContinueOnError {
				return 1
			}
		}
	}
	return 0
}

// runPiece runs one statement and reports its error, if any.
func (s *Shell) runPiece(ctx context.Context, name, script string, p Piece) error {
	start := time.Now()
	err := s.sess.Run(ctx, p.Text, func(res *Result) error {
		err := s.handle(ctx, res, start)
		start = time.Now()
		return err
	})
	if err != nil {
		s.reportError(name, script, p, err)
	}
	return err
}

// renderOptions resolves the settings for the next result.
func (s *Shell) renderOptions() RenderOptions {
	continuous := s.sess.Mode() == catalog.Unbounded
	opts := RenderOptions{Format: s.cfg.Format, Streaming: continuous}
	switch s.cfg.Changelog {
	case ChangelogOn:
		opts.Changelog = true
	case ChangelogAuto:
		opts.Changelog = continuous
	case ChangelogOff:
		// A continuous table off a terminal cannot be redrawn in place:
		// it is shown as the changelog instead of the live table.
		opts.Changelog = continuous && s.cfg.Format == FormatTable && !s.toTerminal()
	}
	if s.toTerminal() {
		if s.cfg.Width != nil {
			opts.Width = s.cfg.Width()
		}
		opts.Color = !s.cfg.NoColor
	}
	return opts
}

// toTerminal reports whether results go to the terminal.
func (s *Shell) toTerminal() bool { return s.file == nil && s.cfg.Terminal }

// liveTable reports whether continuous results show as a live table,
// redrawn in place as the changelog folds (\changelog off on a terminal).
func (s *Shell) liveTable(opts RenderOptions) bool {
	return opts.Streaming && opts.Format == FormatTable && !opts.Changelog && s.toTerminal()
}

// handle renders one result: rows to the output, status and warnings to
// stderr (status to the output in table format, where people read it).
func (s *Shell) handle(ctx context.Context, res *Result, start time.Time) (err error) {
	closeRes := res.Close
	if closeRes == nil && res.Rows != nil {
		closeRes = res.Rows.Close
	}
	if closeRes != nil {
		defer func() {
			if cerr := closeRes(); cerr != nil && err == nil {
				err = fmt.Errorf("close result: %w", cerr)
			}
		}()
	}
	if res.Rows != nil {
		opts := s.renderOptions()
		var (
			w     io.Writer = s.out
			r     Renderer
			scr   *screen
			live  *liveRenderer
			stats *runStats
		)
		if opts.Streaming && (s.cfg.ErrTerminal || s.liveTable(opts)) {
			// Rows, redraws and the status line share the screen.
			scr = newScreen(s.out, s.err)
			w = scr
		}
		if s.liveTable(opts) {
			live = newLiveRenderer(w, opts, s.cfg.Height, nil)
			live.width = s.cfg.Width
			r = live
		} else {
			r = NewRenderer(w, opts)
		}
		var observe func(exec.Message)
		if opts.Streaming && s.cfg.ErrTerminal {
			stats = newRunStats(res.Rows, time.Now())
			observe = stats.observe
		}
		stopProgress := s.showProgress(res)
		stopMonitor := s.monitor(scr, live, stats)
		runErr := drain(ctx, res.Rows, res.Schema, r, observe)
		stopMonitor()
		stopProgress()
		elapsed := time.Since(start)
		if err := r.End(elapsed, runErr); err != nil && runErr == nil {
			runErr = fmt.Errorf("write result: %w", err)
		}
		if runErr == nil && s.cfg.Timing && s.cfg.Format != FormatTable {
			fmt.Fprintf(s.err, "%s (%s)\n", plural(r.Rows(), "row", "rows"), formatDuration(elapsed))
		}
		if runErr != nil {
			return runErr
		}
	} else if res.Status != "" {
		line := res.Status
		if s.cfg.Timing {
			line += " (" + formatDuration(time.Since(start)) + ")"
		}
		if s.cfg.Format == FormatTable {
			fmt.Fprintln(s.out, line)
		} else {
			fmt.Fprintln(s.err, line)
		}
	}
	warnings := res.Warnings
	if res.RunWarnings != nil {
		warnings = res.RunWarnings()
	}
	for _, w := range warnings {
		fmt.Fprintf(s.err, "WARNING: %s\n", w)
	}
	return nil
}

// reportError prints err on stderr. Errors located in the SQL name the line
// and column in the whole script and show that line with a caret.
func (s *Shell) reportError(name, script string, p Piece, err error) {
	where := ""
	if name != "" {
		where = name + ": "
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(s.err, "cancelled")
		return
	}
	var se *sql.Error
	if !errors.As(err, &se) || se.Line <= 0 {
		if strings.Count(script, ";") > 1 || name != "" {
			fmt.Fprintf(s.err, "ERROR: %sstatement at line %d: %v\n", where, p.Line, err)
		} else {
			fmt.Fprintf(s.err, "ERROR: %v\n", err)
		}
		return
	}
	line, col := se.Line+p.Line-1, se.Column
	if se.Line == 1 {
		col += p.Column - 1
	}
	msg := se.Msg
	if se.Near != "" {
		msg += fmt.Sprintf(" near %q", se.Near)
	}
	hint := se.Hint
	if hint == "" {
		hint = s.tableHint(se)
	}
	if hint != "" {
		msg += " (" + hint + ")"
	}
	fmt.Fprintf(s.err, "ERROR: %sline %d column %d: %s\n", where, line, col, msg)
	if src, ok := sourceLine(script, line); ok {
		// A long line is shown as a window around the error, so the
		// caret line does not wrap away from it.
		src, col = errorWindow(src, col, errorWindowWidth)
		fmt.Fprintln(s.err, escapeControlKeepTabs(src))
		fmt.Fprintln(s.err, caret(src, col))
	}
}

func sourceLine(script string, line int) (string, bool) {
	lines := strings.Split(script, "\n")
	if line < 1 || line > len(lines) {
		return "", false
	}
	return strings.TrimRight(lines[line-1], "\r"), true
}

// caret returns a line with ^ under byte column col of src, copying tabs
// so the caret lines up however the terminal expands them.
func caret(src string, col int) string {
	if col < 1 {
		col = 1
	}
	if col-1 > len(src) {
		col = len(src) + 1
	}
	var b strings.Builder
	for _, r := range src[:col-1] {
		if r == '\t' {
			b.WriteByte('\t')
			continue
		}
		b.WriteString(strings.Repeat(" ", runeWidth(r)))
	}
	b.WriteByte('^')
	return b.String()
}

func escapeControlKeepTabs(s string) string {
	parts := strings.Split(s, "\t")
	for i, p := range parts {
		parts[i] = escapeControl(p)
	}
	return strings.Join(parts, "\t")
}
