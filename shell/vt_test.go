package shell

import (
	"strconv"
	"strings"
	"sync"
)

// vt is a fake terminal for tests: it applies the few control sequences the
// shell writes (\r, \n, ESC[nA cursor up, ESC[J clear below, ESC[K clear
// line; SGR styles are dropped) to a grid of lines, so a test can assert
// what the user would see after in-place redraws. Both stdout and stderr
// of a test shell write to it, as on a real terminal.
type vt struct {
	mu       sync.Mutex
	lines    [][]rune
	row, col int
	clears   int // ESC[J seen: frames redrawn in place
	pending  []byte
}

func (v *vt) Write(p []byte) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	data := append(v.pending, p...)
	v.pending = nil
	s := string(data)
	for i := 0; i < len(s); {
		if s[i] == 0x1b {
			// ESC [ params final
			j := i + 1
			if j >= len(s) {
				v.pending = []byte(s[i:])
				break
			}
			if s[j] != '[' {
				i = j + 1
				continue
			}
			j++
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == ';') {
				j++
			}
			if j >= len(s) {
				v.pending = []byte(s[i:])
				break
			}
			n, err := strconv.Atoi(s[i+2 : j])
			if err != nil {
				n = 1
			}
			switch s[j] {
			case 'A':
				v.row = max(0, v.row-n)
			case 'J':
				v.line()
				v.lines[v.row] = v.lines[v.row][:min(v.col, len(v.lines[v.row]))]
				v.lines = v.lines[:v.row+1]
				v.clears++
			case 'K':
				v.line()
				v.lines[v.row] = v.lines[v.row][:min(v.col, len(v.lines[v.row]))]
			}
			i = j + 1
			continue
		}
		r := []rune(s[i:])[0]
		size := len(string(r))
		switch r {
		case '\r':
			v.col = 0
		case '\n':
			v.row++
			v.col = 0 // the tty turns \n into \r\n
		default:
			v.line()
			l := v.lines[v.row]
			for len(l) < v.col {
				l = append(l, ' ')
			}
			if v.col < len(l) {
				l[v.col] = r
			} else {
				l = append(l, r)
			}
			v.lines[v.row] = l
			v.col++
		}
		i += size
	}
	return len(p), nil
}

// line makes sure the cursor's line exists.
func (v *vt) line() {
	for len(v.lines) <= v.row {
		v.lines = append(v.lines, nil)
	}
}

// screen returns what the terminal shows, trailing blank lines dropped.
func (v *vt) screen() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var b strings.Builder
	for _, l := range v.lines {
		b.WriteString(strings.TrimRight(string(l), " "))
		b.WriteByte('\n')
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

// cursorLine is the text of the line the cursor is on.
func (v *vt) cursorLine() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.row >= len(v.lines) {
		return ""
	}
	return string(v.lines[v.row])
}
