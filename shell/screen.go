package shell

import (
	"io"
	"sync"
)

// ANSI sequences the live display uses.
const (
	eraseLine   = "\r\x1b[K" // to column 0, clear the line
	eraseBelow  = "\x1b[J"   // clear from the cursor to the end of the screen
	cursorUpFmt = "\x1b[%dA" // n lines up, same column
)

// screen serialises what a running statement writes to the terminal:
// result output (stdout) and the status line (stderr), which both end up on
// the same screen. Output erases the status line first and draws it again
// after, so the status line stays on the bottom line and never ends up in
// the middle of a table.
type screen struct {
	mu        sync.Mutex
	out, err  io.Writer
	status    string
	shown     bool
	lineStart bool // the last output ended a line: the status line may go there
}

func newScreen(out, err io.Writer) *screen {
	return &screen{out: out, err: err, lineStart: true}
}

// Write writes result output; it is an io.Writer for renderers.
func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hide()
	n, err := s.out.Write(p)
	if n > 0 {
		s.lineStart = p[n-1] == '\n'
	}
	s.show()
	return n, err
}

// SetStatus shows line as the status line ("" hides it).
func (s *screen) SetStatus(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if line == s.status && s.shown {
		return
	}
	s.hide()
	s.status = line
	s.show()
}

// ClearStatus removes the status line for good.
func (s *screen) ClearStatus() { s.SetStatus("") }

func (s *screen) hide() {
	if s.shown {
		_, _ = io.WriteString(s.err, eraseLine)
		s.shown = false
	}
}

func (s *screen) show() {
	// Mid-line output (a write split by a buffer) would get the status
	// line glued to it; it is drawn again by the next write or tick.
	if s.status != "" && s.lineStart {
		_, _ = io.WriteString(s.err, s.status)
		s.shown = true
	}
}
