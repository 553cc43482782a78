package shell

import (
	"strings"
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	got := ProgressLine(500_000, 1_000_000, 50<<20, 100<<20, 2*time.Second, 10)
	for _, want := range []string{"[=====>    ]", " 50%", "500K/1.0M msgs", "50/100 MB", "250K msgs/s", "ETA 2s"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	if got := ProgressLine(12, 10, 0, 0, time.Second, 4); !strings.Contains(got, "[====]") || !strings.Contains(got, "100%") || strings.Contains(got, "ETA") {
		t.Errorf("overshoot: %q", got)
	}
}
