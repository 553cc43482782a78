package engine

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	cpulsar "github.com/magnetar-sql/magnetar/catalog/pulsar"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
)

// newPulsarEngine is an engine over the test broker's Pulsar catalog with a
// checked allocator (all Arrow memory released at the end) and a fresh
// namespace; it skips the test without a broker.
func newPulsarEngine(t *testing.T, timeout time.Duration) (eng *Engine, ns string) {
	t.Helper()
	serviceURL, adminURL := testbroker.Require(t)
	ns = testbroker.Namespace(t, adminURL)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cat, err := cpulsar.New(ctx, cpulsar.Config{ServiceURL: serviceURL, AdminURL: adminURL, Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cat.Close()
		if n := mem.CurrentAlloc(); n != 0 {
			t.Errorf("%d bytes of Arrow memory not released", n)
		}
	})
	return New(cat, Options{Mem: mem}), ns
}
