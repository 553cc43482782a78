package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// tmuxShell is the interactive shell running in a real terminal: a tmux
// pane of its own server, driven with send-keys and read with
// capture-pane, as TestInteractiveTmux does.
type tmuxShell struct {
	t      *testing.T
	tmux   string
	socket string
}

var tmuxSockets atomic.Int64

// startTmuxShell runs `magnetar shell args...` in a 120x40 pane and waits
// for the prompt.
func startTmuxShell(t *testing.T, args ...string) *tmuxShell {
	t.Helper()
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux not installed")
	}
	home := t.TempDir()
	ts := &tmuxShell{t: t, tmux: tmux, socket: fmt.Sprintf("magnetar-test-%d-%d", os.Getpid(), tmuxSockets.Add(1))}
	cmdline := fmt.Sprintf("env HOME=%s XDG_CONFIG_HOME=%s/.config TERM=xterm NO_COLOR=1 %s shell %s",
		home, home, binary, strings.Join(args, " "))
	ts.tm("new-session", "-d", "-x", "120", "-y", "40", cmdline)
	t.Cleanup(func() { _ = exec.Command(tmux, "-L", ts.socket, "kill-server").Run() })
	ts.waitFor("]>")
	return ts
}

func (ts *tmuxShell) tm(args ...string) string {
	ts.t.Helper()
	out, err := exec.Command(ts.tmux, append([]string{"-L", ts.socket, "-f", "/dev/null"}, args...)...).CombinedOutput()
	if err != nil {
		ts.t.Fatalf("tmux %q: %v\n%s", args, err, out)
	}
	return string(out)
}

// typeText types literally; tmux would take a trailing ';' for its own
// command separator, so semicolons go as a hex key.
func (ts *tmuxShell) typeText(text string) {
	ts.t.Helper()
	for i, part := range strings.Split(text, ";") {
		if i > 0 {
			ts.tm("send-keys", "-H", "3b")
		}
		if part != "" {
			ts.tm("send-keys", "-l", part)
		}
	}
}

// line types text and presses Enter.
func (ts *tmuxShell) line(text string) {
	ts.t.Helper()
	ts.typeText(text)
	ts.tm("send-keys", "Enter")
}

func (ts *tmuxShell) key(k string) { ts.t.Helper(); ts.tm("send-keys", k) }

func (ts *tmuxShell) screen() string { ts.t.Helper(); return ts.tm("capture-pane", "-p") }

// waitUntil polls the screen until ok holds, failing after 20 s.
func (ts *tmuxShell) waitUntil(what string, ok func(screen string) bool) string {
	ts.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := ts.screen()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			ts.t.Fatalf("screen never showed %s:\n%s", what, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (ts *tmuxShell) waitFor(frag string) string {
	ts.t.Helper()
	return ts.waitUntil(fmt.Sprintf("%q", frag), func(s string) bool { return strings.Contains(s, frag) })
}

// lastLine is the last non-blank line of the screen: the prompt when the
// shell waits for input.
func lastLine(screen string) string {
	lines := strings.Split(strings.TrimRight(screen, "\n "), "\n")
	return strings.TrimRight(lines[len(lines)-1], " ")
}

// TestInteractiveTmuxEditing types a multi-line query, completes a column
// with Tab and reads an error with its did-you-mean hint and caret.
func TestInteractiveTmuxEditing(t *testing.T) {
	ts := startTmuxShell(t, "--catalog", "memory")
	ts.line("CREATE TABLE t (k VARCHAR(5), price BIGINT);")
	ts.line("INSERT INTO t VALUES ('a', 10), ('b', 25), ('c', 40);")
	ts.waitFor("INSERT 3")
	ts.line("SELECT k,")
	ts.line("  price * 2 AS twice")
	ts.line("FROM t")
	ts.line("WHERE price > 20;")
	s := ts.waitFor("2 rows")
	for _, frag := range []string{
		"magnetar default [bounded]> SELECT k,",
		"                         ->   price * 2 AS twice",
		"                         -> FROM t",
		"                         -> WHERE price > 20;",
		"| k       | twice  |",
		"| b       |     50 |",
		"| c       |     80 |",
	} {
		if !strings.Contains(s, frag) {
			t.Errorf("screen lacks %q:\n%s", frag, s)
		}
	}

	// Tab after "SELECT pri" completes the column, before FROM is typed.
	ts.typeText("SELECT pri")
	ts.key("Tab")
	ts.waitUntil(`"SELECT price" completed`, func(s string) bool {
		return strings.HasSuffix(lastLine(s), "> SELECT price")
	})
	ts.line(" FROM t WHERE k = 'c';")
	s = ts.waitFor("1 row")
	if !strings.Contains(s, "> SELECT price FROM t WHERE k = 'c';\n") || !strings.Contains(s, "|     40 |") {
		t.Errorf("completed statement did not run:\n%s", s)
	}

	// An unknown column: the hint and a caret under it.
	ts.line("SELECT prise FROM t;")
	s = ts.waitFor("did you mean")
	if !strings.Contains(s, `ERROR: line 1 column 8: unknown column "prise" (did you mean "price"?)`+"\nSELECT prise FROM t;\n       ^\n") {
		t.Errorf("error without hint or caret:\n%s", s)
	}
	ts.line("SELECT price FROM tt;")
	s = ts.waitFor(`unknown table "tt"`)
	if !strings.Contains(s, `unknown table "tt" (did you mean "t"?)`) {
		t.Errorf("unknown table without hint:\n%s", s)
	}
	// A long single-line statement: the caret line is a window that fits.
	long := "SELECT " + strings.Repeat("price + ", 30) + "prise FROM t;"
	ts.line(long)
	s = ts.waitUntil("the long statement's error", func(s string) bool { return strings.Count(s, "did you mean") == 3 })
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "ERROR: line 1 column 248") && i+2 < len(lines) {
			src, car := lines[i+1], strings.TrimRight(lines[i+2], " ")
			if len([]rune(src)) > 102 || !strings.HasPrefix(src, "…") || !strings.HasSuffix(car, "^") ||
				!strings.HasPrefix(string([]rune(src)[len(car)-1:]), "prise") {
				t.Errorf("long line not windowed around the caret:\n%s\n%s", src, car)
			}
			return
		}
	}
	t.Errorf("no error at column 248:\n%s", s)
}

// TestInteractiveTmuxLiveTable runs a continuous GROUP BY over rows
// inserted in three batches: with \changelog off the result is a table
// redrawn in place (each key once, its latest count), a status line under
// it counts the changes; Ctrl-C stops the query, not the shell.
func TestInteractiveTmuxLiveTable(t *testing.T) {
	ts := startTmuxShell(t, "--catalog", "memory")
	ts.line("CREATE TABLE t (k VARCHAR(5), v BIGINT);")
	// Each INSERT is one batch: the continuous query sees three batches
	// and updates a's and b's counts.
	ts.line("INSERT INTO t VALUES ('a', 1), ('b', 2);")
	ts.line("INSERT INTO t VALUES ('a', 3), ('c', 4);")
	ts.line("INSERT INTO t VALUES ('a', 5), ('b', 6);")
	ts.waitUntil("three inserts", func(s string) bool { return strings.Count(s, "INSERT 2") == 3 })
	ts.line(`\changelog off`)
	ts.line("SET magnetar.mode='continuous';")
	ts.waitFor("[continuous]>")
	ts.line("SELECT k, count(*) AS n FROM t GROUP BY k;")
	s := ts.waitFor("rows received")
	// The table is folded: each key once, with its final count.
	table := "+---------+--------+\n" +
		"| k       | n      |\n" +
		"| VARCHAR | BIGINT |\n" +
		"+---------+--------+\n" +
		"| a       |      3 |\n" +
		"| b       |      2 |\n" +
		"| c       |      1 |\n" +
		"+---------+--------+\n"
	if !strings.Contains(s, table) {
		t.Errorf("live table not folded in place:\n%s", s)
	}
	if strings.Count(s, "| k       | n      |") != 1 {
		t.Errorf("table drawn more than once:\n%s", s)
	}
	// Status line under the table: 2 + 3 + 4 changelog rows.
	if !regexp.MustCompile(`\+\n9 rows received, \d+ rows/s \(Ctrl-C stops\)`).MatchString(s) {
		t.Errorf("no status line under the table:\n%s", s)
	}
	ts.key("C-c")
	s = ts.waitFor("cancelled")
	if !strings.Contains(s, table+"3 rows from 9 changes before the query stopped") {
		t.Errorf("no footer saying the query stopped:\n%s", s)
	}
	if strings.Contains(s, "rows received") {
		t.Errorf("status line left on screen:\n%s", s)
	}
	if lastLine(s) != "magnetar default [continuous]>" {
		t.Errorf("no prompt after Ctrl-C:\n%s", s)
	}
	// The shell is alive: the same table, bounded, as a changelog-free
	// table.
	ts.line(`\mode bounded`)
	ts.line("SELECT count(*) AS total FROM t;")
	s = ts.waitFor("1 row")
	if !strings.Contains(s, "|      6 |") {
		t.Errorf("shell not usable after Ctrl-C:\n%s", s)
	}
}

// TestInteractiveTmuxStatusWatermark shows the event-time watermark of a
// continuous window query in its status line while it runs.
func TestInteractiveTmuxStatusWatermark(t *testing.T) {
	ts := startTmuxShell(t, "--catalog", "memory", "--mode", "continuous")
	ts.line("CREATE TABLE readings (sensor VARCHAR(5), et TIMESTAMP, v INT);")
	ts.line("INSERT INTO readings VALUES ('s1', '2024-01-01 10:00:01', 1), ('s2', '2024-01-01 10:00:08', 2);")
	ts.line("INSERT INTO readings VALUES ('s1', '2024-01-01 10:00:21', 3), ('s2', '2024-01-01 10:00:25', 5);")
	ts.waitUntil("two inserts", func(s string) bool { return strings.Count(s, "INSERT 2") == 2 })
	ts.line("SELECT window_start, count(*) AS n FROM readings GROUP BY TUMBLE(et, '10 SECONDS');")
	// The watermark is the latest event time (no delay): the first window
	// is closed and shown, the second still open.
	s := ts.waitFor("watermark 2024-01-01 10:00:25.000")
	if !strings.Contains(s, "| 2024-01-01 10:00:00 |      2 |") || strings.Contains(s, "10:00:20 |") {
		t.Errorf("closed window missing or open one shown:\n%s", s)
	}
	ts.key("C-c")
	s = ts.waitFor("cancelled")
	if strings.Contains(s, "watermark 2024") || lastLine(s) != "magnetar default [continuous]>" {
		t.Errorf("status line left behind or no prompt:\n%s", s)
	}
}
