package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	cpulsar "github.com/magnetar-sql/magnetar/catalog/pulsar"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
	"github.com/magnetar-sql/magnetar/internal/testbroker"
	"github.com/magnetar-sql/magnetar/nexmark"
)

// TestPulsarTumblingWindow produces Nexmark events to a fresh namespace and
// checks a bounded tumbling-window count per auction against counts
// computed from the generator, on a plain topic (watermarked) and on a
// partitioned one (bounded runs of partitioned tables go without
// watermarks, see assignWatermarks). The window runs on
// dateTime while watermarks come from the table's default event time,
// __event_time, which the producer sets to the same instant.
func TestPulsarTumblingWindow(t *testing.T) {
	serviceURL, adminURL := testbroker.Require(t)
	for _, parts := range []int{0, 2} {
		t.Run(fmt.Sprintf("partitions=%d", parts), func(t *testing.T) {
			pulsarTumbling(t, serviceURL, adminURL, parts)
		})
	}
}

func pulsarTumbling(t *testing.T, serviceURL, adminURL string, partitions int) {
	ns := testbroker.Namespace(t, adminURL)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := nexmark.Config{Events: 20_000, EventsPerSecond: 500}
	if _, err := nexmark.Produce(ctx, cfg, nexmark.ProduceOptions{ServiceURL: serviceURL, AdminURL: adminURL, Namespace: ns, Partitions: partitions}); err != nil {
		t.Fatal(err)
	}
	// Expected counts from the generator.
	want := map[string]int{}
	g := nexmark.NewGenerator(cfg)
	for {
		ev, ok := g.Next()
		if !ok {
			break
		}
		if ev.Bid == nil {
			continue
		}
		ws := ev.Bid.DateTime.UTC().Truncate(10 * time.Second)
		want[fmt.Sprintf("%s|%d", ws.Format("2006-01-02T15:04:05Z"), ev.Bid.Auction)]++
	}
	var wantRows []string
	for k, n := range want {
		wantRows = append(wantRows, fmt.Sprintf("%s|%d", k, n))
	}
	sort.Strings(wantRows)

	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cat, err := cpulsar.New(ctx, cpulsar.Config{ServiceURL: serviceURL, AdminURL: adminURL, Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	s := New(cat, Options{Mem: mem}).NewSession()
	mustRun(t, s, "USE `"+ns+"`")
	q := "SELECT window_start, auction, count(*) FROM bid GROUP BY TUMBLE(dateTime, '10 SECONDS'), auction"
	var got []string
	var warnings []string
	err = s.Run(ctx, q, func(r *Result) error {
		for {
			m, err := r.Rows.Next(ctx)
			if err != nil {
				return err
			}
			if m.Kind == exec.MsgEnd {
				break
			}
			if m.Kind == exec.MsgBatch {
				if !m.Batch.AppendOnly() {
					m.Release()
					return fmt.Errorf("bounded window output has retractions")
				}
				got = append(got, exectest.Rows([]arrowRecordBatch{m.Batch.Rec})...)
			}
			m.Release()
		}
		warnings = r.AllWarnings()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	if err := exectest.Equal(got, wantRows); err != nil {
		t.Error(err)
	}
	if len(warnings) != 0 {
		t.Errorf("unexpected warnings: %q", warnings)
	}
	if len(wantRows) < 20 {
		t.Errorf("only %d windows×auctions: the test data are too small", len(wantRows))
	}

	// The plan: the watermark comes from the default event time, per partition.
	var plan []string
	err = s.Run(ctx, "EXPLAIN "+q, func(r *Result) error {
		for {
			m, err := r.Rows.Next(ctx)
			if err != nil {
				return err
			}
			if m.Kind == exec.MsgEnd {
				return nil
			}
			if m.Kind == exec.MsgBatch {
				plan = append(plan, exectest.Rows([]arrowRecordBatch{m.Batch.Rec})...)
			}
			m.Release()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	hasWM := len(plan) >= 3 && containsAll(plan[2], "Watermark", "coalesce(__event_time", "partition=")
	if partitions == 0 && !hasWM {
		t.Errorf("plan does not put a partitioned watermark on the default event time:\n%q", plan)
	}
	if partitions > 1 && hasWM {
		t.Errorf("bounded plan over a partitioned table has a watermark:\n%q", plan)
	}
	cat.Close()
	if n := mem.CurrentAlloc(); n != 0 {
		t.Errorf("%d bytes of Arrow memory not released", n)
	}
}

type arrowRecordBatch = arrow.RecordBatch

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
