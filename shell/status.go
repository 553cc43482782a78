package shell

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/magnetar-sql/magnetar/exec"
)

// watermarker is implemented by operators that know the event-time
// watermark they have reached (exec.WatermarkAssigner): microseconds since
// the epoch, math.MinInt64 before the first.
type watermarker interface{ Watermark() int64 }

// unwrapper is implemented by operators wrapping another (meters, guards);
// their Children may be the inner operator's children, so the inner
// operator itself is looked at too.
type unwrapper interface{ Unwrap() exec.Operator }

// watermarkers finds the operators of a result that track a watermark.
func watermarkers(op exec.Operator) []watermarker {
	var out []watermarker
	var walk func(op exec.Operator, depth int)
	walk = func(op exec.Operator, depth int) {
		if op == nil || depth > 64 {
			return
		}
		if w, ok := op.(watermarker); ok {
			out = append(out, w)
		}
		if u, ok := op.(unwrapper); ok {
			walk(u.Unwrap(), depth+1)
		}
		for _, c := range op.Children() {
			walk(c, depth+1)
		}
	}
	walk(op, 0)
	return out
}

// runStats counts what a continuous result delivers, for the status line.
// observe runs on the goroutine that pulls the result (operators are not
// safe for concurrent use, so their watermarks are read there); the status
// line reads the atomics from another goroutine.
type runStats struct {
	start  time.Time
	marks  []watermarker
	rows   atomic.Int64
	wm     atomic.Int64 // math.MinInt64: none yet
	rootWM int64
	hasWM  atomic.Bool
}

func newRunStats(rows exec.Operator, start time.Time) *runStats {
	st := &runStats{start: start, marks: watermarkers(rows), rootWM: math.MinInt64}
	st.wm.Store(math.MinInt64)
	st.hasWM.Store(len(st.marks) > 0)
	return st
}

// observe accounts for one message of the result.
func (st *runStats) observe(msg exec.Message) {
	switch msg.Kind {
	case exec.MsgBatch:
		if msg.Batch.Rec != nil {
			st.rows.Add(msg.Batch.Rec.NumRows())
		}
	case exec.MsgWatermark:
		st.rootWM = max(st.rootWM, msg.Watermark)
		st.hasWM.Store(true)
	}
	// The result's watermark is the least of its operators': rows older
	// than that may still change the result.
	wm := int64(math.MaxInt64)
	for _, m := range st.marks {
		wm = min(wm, m.Watermark())
	}
	if len(st.marks) == 0 {
		wm = st.rootWM
	}
	st.wm.Store(wm)
}

// rateMeter turns samples of a growing count into a recent rate.
type rateMeter struct {
	mu      sync.Mutex
	samples []rateSample
	window  time.Duration
}

type rateSample struct {
	t time.Time
	n int64
}

// add records count n at time t and returns the rate over the window
// before t (or since the first sample, early on).
func (m *rateMeter) add(t time.Time, n int64) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.samples = append(m.samples, rateSample{t, n})
	// Keep one sample at or before the window's start.
	for len(m.samples) > 2 && t.Sub(m.samples[1].t) >= m.window {
		m.samples = m.samples[1:]
	}
	first := m.samples[0]
	secs := t.Sub(first.t).Seconds()
	if secs <= 0 {
		return 0
	}
	return float64(n-first.n) / secs
}

// StatusLine renders the status line of a running continuous query, e.g.
// "1234 rows, 410 rows/s, watermark 2024-05-01 12:00:03.250 (Ctrl-C stops)",
// cut to width (0: no limit). hasWM says whether the result has a
// watermark at all; wm is in microseconds since the epoch, math.MinInt64
// before the first.
func StatusLine(rows int64, rate float64, wm int64, hasWM bool, width int) string {
	line := fmt.Sprintf("%s received, %s rows/s", plural(rows, "row", "rows"), human(int64(math.Round(rate))))
	if hasWM {
		if wm == math.MinInt64 {
			line += ", no watermark yet"
		} else {
			line += ", watermark " + formatWatermark(wm)
		}
	}
	line += " (Ctrl-C stops)"
	if width > 1 {
		// The line must not wrap: erasing it takes one line.
		line = truncate(line, width-1)
	}
	return line
}

// formatWatermark shows microseconds since the epoch as a UTC timestamp.
func formatWatermark(us int64) string {
	if us == math.MaxInt64 {
		return "end of time"
	}
	return time.UnixMicro(us).UTC().Format("2006-01-02 15:04:05.000")
}

// monitor keeps a continuous result's screen current while it runs: it
// draws the live table's pending changes and refreshes the status line a
// few times a second. The returned function stops it and clears the
// status line.
func (s *Shell) monitor(scr *screen, live *liveRenderer, st *runStats) (stop func()) {
	if live == nil && (st == nil || scr == nil) {
		return func() {}
	}
	meter := &rateMeter{window: 2 * time.Second}
	if st != nil {
		meter.add(st.start, 0)
	}
	update := func() {
		if live != nil {
			_ = live.Tick() // a write error comes back from the next Write or End
		}
		if st != nil && scr != nil {
			width := 0
			if s.cfg.Width != nil {
				width = s.cfg.Width()
			}
			n := st.rows.Load()
			scr.SetStatus(StatusLine(n, meter.add(time.Now(), n), st.wm.Load(), st.hasWM.Load(), width))
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				update()
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		if scr != nil {
			scr.ClearStatus()
		}
	}
}
