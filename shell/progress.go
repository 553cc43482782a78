package shell

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/magnetar-sql/magnetar/catalog"
)

// progressEvery is how often the progress line is redrawn.
const progressEvery = 250 * time.Millisecond

// showProgress draws a progress bar for a bounded scan on stderr while the
// result drains, only when stderr is a terminal and the sources know their
// totals. The returned function stops it and clears the line.
func (s *Shell) showProgress(res *Result) (stop func()) {
	if !s.cfg.ErrTerminal || res.Progress == nil || s.sess.Mode() == catalog.Unbounded {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	go func() {
		defer wg.Done()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		drawn := false
		for {
			select {
			case <-done:
				if drawn {
					fmt.Fprint(s.err, "\r\033[K")
				}
				return
			case <-t.C:
				read, total, rb, tb, ok := res.Progress()
				if !ok || total <= 0 {
					continue
				}
				fmt.Fprint(s.err, "\r\033[K"+ProgressLine(read, total, rb, tb, time.Since(start), 30))
				drawn = true
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// ProgressLine renders "[=====>    ] 45% 1.2M/2.7M msgs 120/260 MB 410K msgs/s ETA 4s".
func ProgressLine(read, total, readBytes, totalBytes int64, elapsed time.Duration, width int) string {
	frac := float64(read) / float64(total)
	if frac > 1 {
		frac = 1
	}
	full := int(frac * float64(width))
	bar := strings.Repeat("=", full)
	if full < width {
		bar += ">" + strings.Repeat(" ", width-full-1)
	}
	line := fmt.Sprintf("[%s] %3.0f%% %s/%s msgs", bar, frac*100, human(read), human(total))
	if totalBytes > 0 {
		line += fmt.Sprintf(" %s/%s MB", mb(readBytes), mb(totalBytes))
	}
	if secs := elapsed.Seconds(); secs > 0 && read > 0 {
		rate := float64(read) / secs
		line += fmt.Sprintf(" %s msgs/s", human(int64(rate)))
		if left := total - read; left > 0 {
			line += fmt.Sprintf(" ETA %s", (time.Duration(float64(left) / rate * float64(time.Second))).Round(time.Second))
		}
	}
	return line
}

func human(n int64) string {
	switch {
	case n >= 1_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 10_000:
		return fmt.Sprintf("%.0fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

func mb(n int64) string { return fmt.Sprintf("%.0f", float64(n)/(1<<20)) }
