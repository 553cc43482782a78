package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"

	"github.com/chzyer/readline"
)

// DefaultHistoryFile is os.UserConfigDir()/magnetar/history, created on
// demand; "" if there is no config directory.
func DefaultHistoryFile() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	dir = filepath.Join(dir, "magnetar")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ""
	}
	return filepath.Join(dir, "history")
}

// interrupts routes SIGINT to the running statement: Ctrl-C cancels that
// statement's context, never the shell. At the prompt the terminal is in raw
// mode, so Ctrl-C reaches readline as a key instead.
type interrupts struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	sig    chan os.Signal
	done   chan struct{}
}

func newInterrupts() *interrupts {
	in := &interrupts{sig: make(chan os.Signal, 1), done: make(chan struct{})}
	signal.Notify(in.sig, os.Interrupt)
	go func() {
		for {
			select {
			case <-in.sig:
				in.mu.Lock()
				if in.cancel != nil {
					in.cancel()
				}
				in.mu.Unlock()
			case <-in.done:
				return
			}
		}
	}()
	return in
}

// statement returns a context that Ctrl-C cancels, and its release func.
func (in *interrupts) statement(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	in.mu.Lock()
	in.cancel = cancel
	in.mu.Unlock()
	return ctx, func() {
		in.mu.Lock()
		in.cancel = nil
		in.mu.Unlock()
		cancel()
	}
}

func (in *interrupts) stop() {
	signal.Stop(in.sig)
	close(in.done)
}

// prompt shows the current database and mode, e.g.
// "magnetar public/default [bounded]> ".
func (s *Shell) prompt() string {
	return fmt.Sprintf("magnetar %s [%s]> ", s.sess.Database(), modeName(s.sess.Mode()))
}

// contPrompt is the continuation prompt, as wide as the main one.
func contPrompt(main string) string {
	w := displayWidth(main)
	if w < 4 {
		return "-> "
	}
	return strings.Repeat(" ", w-3) + "-> "
}

// RunInteractive reads statements and meta commands from the terminal
// until \q or Ctrl-D and returns the exit code.
func (s *Shell) RunInteractive(ctx context.Context) int {
	comp := newCompleter(s)
	rl, err := readline.NewEx(&readline.Config{
		Prompt:                 s.prompt(),
		HistoryFile:            s.cfg.HistoryFile,
		HistoryLimit:           5000,
		DisableAutoSaveHistory: true,
		HistorySearchFold:      true,
		AutoComplete:           comp,
		InterruptPrompt:        "^C",
		Stdout:                 s.cfg.Stdout,
		Stderr:                 s.cfg.Stderr,
	})
	if err != nil {
		fmt.Fprintf(s.err, "magnetar: terminal: %v\n", err)
		return 1
	}
	defer rl.Close()
	in := newInterrupts()
	defer in.stop()

	fmt.Fprintln(s.err, `Magnetar shell. End statements with ';'. \help for help, \q to quit.`)
	pending := "" // statement text typed so far
	for {
		main := s.prompt()
		if pending == "" {
			rl.SetPrompt(main)
		} else {
			rl.SetPrompt(contPrompt(main))
		}
		comp.setPending(pending)
		line, err := rl.Readline()
		if errors.Is(err, readline.ErrInterrupt) {
			pending = "" // Ctrl-C at the prompt drops what was typed
			continue
		}
		if errors.Is(err, io.EOF) {
			return 0
		}
		if err != nil {
			fmt.Fprintf(s.err, "magnetar: read input: %v\n", err)
			return 1
		}
		if pending == "" {
			t := strings.TrimSpace(line)
			if t == "" {
				continue
			}
			if IsMeta(t) {
				_ = rl.SaveHistory(t)
				err := s.Meta(ctx, t)
				if errors.Is(err, errQuit) {
					return 0
				}
				if err != nil {
					fmt.Fprintf(s.err, "ERROR: %v\n", err)
				}
				continue
			}
			switch strings.ToLower(strings.TrimSuffix(t, ";")) {
			case "quit", "exit":
				return 0
			}
			pending = line
		} else {
			pending += "\n" + line
		}
		pieces, rest := Split(pending)
		if len(pieces) == 0 {
			if rest.Text == "" {
				pending = ""
			}
			continue
		}
		script := pending
		pending = rest.Text
		for _, p := range pieces {
			// One history entry per statement; the history file is line
			// based, so a multi-line statement is saved on one line.
			_ = rl.SaveHistory(strings.ReplaceAll(p.Text, "\n", " ") + ";")
			sctx, release := in.statement(ctx)
			err := s.runPiece(sctx, "", script, p)
			release()
			comp.invalidate() // DDL may have changed the catalog
			if err != nil {
				if ctx.Err() != nil {
					return 1
				}
				break // the rest of this input depended on it, as in a script
			}
		}
	}
}
