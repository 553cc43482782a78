package engine

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	memcat "github.com/magnetar-sql/magnetar/catalog/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/exec/exectest"
)

// TestWindowEarlyFireContinuous runs window queries continuously over
// memory tables fed batch by batch with magnetar.window_early_fire set: the
// windows must emit partial rows that are later updated (-U/+U), and the
// folded changelog must equal the bounded answer (which ignores the
// setting and has no updates). having_window filters the partial rows
// (count(*) >= 2), so its -U rows may all be filtered out.
func TestWindowEarlyFireContinuous(t *testing.T) {
	for _, name := range []string{"tumble", "hop", "session", "cumulate", "having_window", "window_over_window"} {
		var q string
		for _, sq := range streamQueries {
			if sq.name == name {
				q = sq.sql
			}
		}
		t.Run(name, func(t *testing.T) {
			const early = "SET magnetar.window_early_fire = '1 MILLISECOND'"
			clicks, pays := streamData()
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			cat := memcat.New()
			defer cat.Close()
			eng := New(cat, Options{Mem: mem})
			feeder := eng.NewSession()
			mustRun(t, feeder, streamSchema)
			mustRun(t, feeder, clicks[0])

			s := eng.NewSession()
			mustRun(t, s, "SET magnetar.watermark_delay = '5 SECONDS'")
			mustRun(t, s, early)
			mustRun(t, s, "SET magnetar.mode = 'continuous'")
			var (
				mu          sync.Mutex
				count       = map[string]int{}
				msgs, retrs int
			)
			run := startContinuous(t, s, q, func(_ context.Context, m exec.Message) error {
				mu.Lock()
				defer mu.Unlock()
				msgs++
				if m.Kind != exec.MsgBatch {
					return nil
				}
				for i := range m.Batch.Ops {
					if m.Batch.Op(i).IsRetraction() {
						retrs++
					}
				}
				return foldInto(count, m.Batch)
			})
			defer run.stop()
			feedUntilQuiet(t, run, feeder, append(append(clicks[1:], pays...), streamFlush), func() int {
				mu.Lock()
				defer mu.Unlock()
				return msgs
			})
			got := sortedRows(count)
			if retrs == 0 && name != "having_window" {
				t.Errorf("no partial row was ever updated (-U): early fire did not happen")
			}

			bs := eng.NewSession()
			mustRun(t, bs, "SET magnetar.watermark_delay = '5 SECONDS'")
			mustRun(t, bs, early) // bounded runs ignore it
			var want []string
			err := bs.Run(context.Background(), q, func(r *Result) error {
				bc := map[string]int{}
				for {
					m, err := r.Rows.Next(context.Background())
					if err != nil {
						return err
					}
					if m.Kind == exec.MsgEnd {
						break
					}
					if m.Kind == exec.MsgBatch && !m.Batch.AppendOnly() {
						m.Release()
						t.Errorf("bounded run with early fire emitted updates")
						continue
					}
					if m.Kind == exec.MsgBatch {
						err = foldInto(bc, m.Batch)
					}
					m.Release()
					if err != nil {
						return err
					}
				}
				want = sortedRows(bc)
				return nil
			})
			if err != nil {
				t.Fatalf("bounded run: %v", err)
			}
			if len(want) == 0 {
				t.Fatal("bounded answer is empty")
			}
			if err := exectest.Equal(got, want); err != nil {
				t.Errorf("continuous with early fire (folded) vs bounded: %v", err)
			}
			cat.Close()
			if n := mem.CurrentAlloc(); n != 0 {
				t.Errorf("%d bytes of Arrow memory not released", n)
			}
		})
	}
}

// TestWindowEarlyFireSettings: bad values are refused at SET, EXPLAIN
// shows the early fire of continuous windows and not of bounded ones.
func TestWindowEarlyFireSettings(t *testing.T) {
	eng := New(memcat.New(), Options{})
	s := eng.NewSession()
	mustRun(t, s, streamSchema)
	for _, bad := range []string{"'soon'", "'-1 SECOND'"} {
		if err := s.Run(context.Background(), "SET magnetar.window_early_fire = "+bad, func(*Result) error { return nil }); err == nil {
			t.Errorf("SET magnetar.window_early_fire = %s accepted", bad)
		}
	}
	mustRun(t, s, "SET magnetar.window_early_fire = '2 SECONDS'")
	const q = `SELECT window_start, uid, count(*) FROM clicks GROUP BY SESSION_WINDOW(ts, '2 SECONDS'), uid`
	if plan := explainText(t, s, q); strings.Contains(plan, "early_fire") {
		t.Errorf("bounded plan fires early:\n%s", plan)
	}
	mustRun(t, s, "SET magnetar.mode = 'continuous'")
	if plan := explainText(t, s, q); !strings.Contains(plan, "early_fire=2s") {
		t.Errorf("EXPLAIN does not show the early fire:\n%s", plan)
	}
}
