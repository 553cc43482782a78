package pulsar

import (
	"testing"
	"time"

	"github.com/magnetar-sql/magnetar/catalog"
)

// Continuous scans linger StreamLinger unless the query sets linger; bounded
// scans keep Linger (they fill their batches from the backlog).
func TestStreamLingerDefault(t *testing.T) {
	tb := Table{cat: &Catalog{cfg: Config{}.withDefaults()}}
	for _, c := range []struct {
		mode catalog.Mode
		opts map[string]string
		want time.Duration
	}{
		{catalog.Bounded, nil, DefaultLinger},
		{catalog.Unbounded, nil, DefaultStreamLinger},
		{catalog.Unbounded, map[string]string{"LINGER": "20ms"}, 20 * time.Millisecond},
		{catalog.Bounded, map[string]string{"linger": "1ms"}, time.Millisecond},
	} {
		o, err := tb.scanOptions(catalog.ScanRequest{Mode: c.mode, Options: c.opts})
		if err != nil {
			t.Fatal(err)
		}
		if o.linger != c.want {
			t.Errorf("mode %v options %v: linger %v, want %v", c.mode, c.opts, o.linger, c.want)
		}
	}
}
