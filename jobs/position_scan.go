package jobs

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	cpulsar "github.com/magnetar-sql/magnetar/catalog/pulsar"
	"github.com/magnetar-sql/magnetar/exec"
)

// scanRegistry collects the position-tracking scans of one job's query. A
// job puts it in the context it binds the query with; trackingTable.Scan
// then builds a positionScan and registers it.
type scanRegistry struct {
	mu     sync.Mutex
	resume map[int32]Pos // positions already covered by the restored checkpoint
	// scanResume, when set (a checkpoint of several scans), replaces resume:
	// the positions of each scan, by its index in registration order (the
	// order the planner binds the query's scans, the same for the same
	// query).
	scanResume map[int]map[int32]Pos
	mem        memory.Allocator
	// ready, when set, holds every scan's first Next until release: the
	// runner opens the tree before the job restores the operators' states,
	// and two-input operators start pulling their inputs in Open, so rows
	// would otherwise reach an operator whose state is not restored yet.
	ready       chan struct{}
	releaseOnce sync.Once
	scans       []*positionScan
}

type registryKey struct{}

func withScanRegistry(ctx context.Context, reg *scanRegistry) context.Context {
	return context.WithValue(ctx, registryKey{}, reg)
}

// release lets the scans return rows (see ready).
func (reg *scanRegistry) release() {
	if reg.ready != nil {
		reg.releaseOnce.Do(func() { close(reg.ready) })
	}
}

func registryFrom(ctx context.Context) *scanRegistry {
	reg, _ := ctx.Value(registryKey{}).(*scanRegistry)
	return reg
}

// add registers s (before it is opened) and gives it its index and, for a
// checkpoint of several scans, its own resume positions.
func (reg *scanRegistry) add(s *positionScan) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	s.index = len(reg.scans)
	if reg.scanResume != nil {
		s.resume = map[int32]Pos{}
		maps.Copy(s.resume, reg.scanResume[s.index])
		s.positions = maps.Clone(s.resume)
	}
	reg.scans = append(reg.scans, s)
}

// positionScan wraps a Pulsar scan of a stateful job. It reads two hidden
// columns besides the requested ones (the partition and message id of each
// row's message), remembers the position of the last row it returned per
// partition, drops the rows a restored checkpoint already covers, and
// returns checkpoint barriers on request, even while the topic is idle:
// the inner scan is pulled by its own goroutine (exec.Prefetch) so the
// wrapper can select between its next batch and a barrier request.
//
// In a single-input pipeline pulled by one goroutine, when a barrier
// emitted here comes out of the top operator, every operator has folded
// exactly the rows this scan returned before it: the positions recorded
// with the barrier and the operators' states form a consistent checkpoint.
// The positions are those of the rows returned before the barrier, taken
// when the barrier is emitted (not when a row is prefetched further up):
// rows a two-input operator has prefetched from this scan follow, or
// precede, the barrier in the same order they were returned, and an
// operator that aligns barriers folds exactly those before it.
type positionScan struct {
	exec.Operator
	index    int           // registration order in the job's scanRegistry
	schema   *arrow.Schema // output: the requested columns
	nout     int           // requested columns; then partition, message id
	resume   map[int32]Pos
	mem      memory.Allocator
	barriers chan uint64
	pf       *exec.Prefetcher
	gate     <-chan struct{} // the registry's ready, until it is closed

	mu        sync.Mutex
	positions map[int32]Pos            // last returned row per partition
	at        map[uint64]map[int32]Pos // positions at each emitted barrier

	rowsIn   atomic.Int64 // rows returned (after dropping replays)
	rowsRead atomic.Int64 // rows read from the scan, replays included
}

var (
	_ cpulsar.WatermarkHooker = (*positionScan)(nil)
	_ cpulsar.Warner          = (*positionScan)(nil)
)

func newPositionScan(inner exec.Operator, out *arrow.Schema, reg *scanRegistry) *positionScan {
	r := map[int32]Pos{}
	maps.Copy(r, reg.resume)
	// The restored positions count as returned: a partition that brings
	// no row in this run keeps its position in the next checkpoint (else
	// the restart after it would replay that partition from the start).
	return &positionScan{Operator: inner, schema: out, nout: out.NumFields(), resume: r, mem: reg.mem,
		barriers: make(chan uint64, 1), positions: maps.Clone(r), at: map[uint64]map[int32]Pos{}, gate: reg.ready}
}

func (s *positionScan) Schema() *arrow.Schema { return s.schema }

// Open opens the scan and starts pulling it.
func (s *positionScan) Open(ctx context.Context) error {
	if s.pf != nil {
		return nil
	}
	// Each partition of the checkpoint resumes right after its recorded
	// message instead of replaying from the start option's position; the
	// drop filter in track stays as a safety net (a source that cannot
	// resume, a position the broker no longer has).
	if r, ok := s.Operator.(cpulsar.Resumer); ok && len(s.resume) > 0 {
		r.ResumeAfter(startPositions(s.resume))
	}
	if err := s.Operator.Open(ctx); err != nil {
		return err
	}
	s.pf = exec.Prefetch(context.WithoutCancel(ctx), s.Operator)
	return nil
}

// startPositions converts checkpoint positions for cpulsar.Resumer (and,
// through cpulsar.FormatStartPositions, the start_positions scan option).
func startPositions(resume map[int32]Pos) map[int]cpulsar.StartPosition {
	out := make(map[int]cpulsar.StartPosition, len(resume))
	for part, p := range resume {
		out[int(part)] = cpulsar.StartPosition{Ledger: p.Ledger, Entry: p.Entry, Batch: p.Batch}
	}
	return out
}

// requestBarrier asks for barrier id to be emitted before the next batch;
// it reports false when a request is pending already.
func (s *positionScan) requestBarrier(id uint64) bool {
	select {
	case s.barriers <- id:
		return true
	default:
		return false
	}
}

// positionsAt returns (and forgets) the positions recorded with barrier id.
func (s *positionScan) positionsAt(id uint64) (map[int32]Pos, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.at[id]
	delete(s.at, id)
	return p, ok
}

// current returns the positions of the last rows returned.
func (s *positionScan) current() map[int32]Pos {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.positions)
}

// Next implements exec.Operator.
func (s *positionScan) Next(ctx context.Context) (exec.Message, error) {
	if s.pf == nil {
		return exec.Message{}, fmt.Errorf("jobs: scan not opened")
	}
	if s.gate != nil {
		select {
		case <-s.gate:
			s.gate = nil
		case <-ctx.Done():
			return exec.Message{}, ctx.Err()
		}
	}
	for {
		select {
		case <-ctx.Done():
			return exec.Message{}, ctx.Err()
		case id := <-s.barriers:
			s.mu.Lock()
			s.at[id] = maps.Clone(s.positions)
			s.mu.Unlock()
			return exec.Message{Kind: exec.MsgBarrier, Barrier: id}, nil
		case f, ok := <-s.pf.C():
			if !ok {
				return exec.EndMsg, nil
			}
			if f.Err != nil {
				return exec.Message{}, f.Err
			}
			if f.Msg.Kind != exec.MsgBatch {
				return f.Msg, nil
			}
			m, keep, err := s.track(ctx, f.Msg)
			if err != nil || keep {
				return m, err
			}
		}
	}
}

// track records the batch's positions, drops replayed rows and the hidden
// columns; keep is false when no row is left.
func (s *positionScan) track(ctx context.Context, m exec.Message) (exec.Message, bool, error) {
	rec := m.Batch.Rec
	defer rec.Release()
	n := int(rec.NumRows())
	s.rowsRead.Add(int64(n))
	parts, ok1 := rec.Column(s.nout).(*array.Int32)
	ids, ok2 := rec.Column(s.nout + 1).(*array.String)
	if !ok1 || !ok2 {
		return exec.Message{}, false, fmt.Errorf("jobs: scan returned no source positions")
	}
	var keep []bool
	s.mu.Lock()
	for i := 0; i < n; i++ {
		if ids.IsNull(i) {
			// An upsert scan's bootstrap marker: a row of no message, so
			// no position; it always passes (the materializer needs it).
			if keep != nil {
				keep[i] = true
			}
			continue
		}
		part := parts.Value(i)
		pos, err := parseMessageID(ids.Value(i))
		if err != nil {
			s.mu.Unlock()
			return exec.Message{}, false, err
		}
		if rp, ok := s.resume[part]; ok {
			if !rp.Less(pos) {
				if keep == nil {
					keep = make([]bool, n)
					for k := 0; k < i; k++ {
						keep[k] = true
					}
				}
				continue
			}
			delete(s.resume, part) // past the checkpoint: no more checks
		}
		if keep != nil {
			keep[i] = true
		}
		s.positions[part] = pos
	}
	s.mu.Unlock()
	out := array.NewRecordBatch(s.schema, rec.Columns()[:s.nout], int64(n))
	ops := m.Batch.Ops
	if keep != nil {
		filtered, fops, err := filterRows(ctx, s.mem, out, keep, ops)
		out.Release()
		if err != nil {
			return exec.Message{}, false, err
		}
		out, ops = filtered, fops
	}
	if out.NumRows() == 0 {
		out.Release()
		return exec.Message{}, false, nil
	}
	s.rowsIn.Add(out.NumRows())
	return exec.BatchMsg(out, ops), true, nil
}

// Close stops the prefetching goroutine and closes the scan.
func (s *positionScan) Close() error {
	s.pf.Stop()
	return s.Operator.Close()
}

// Children implements exec.Operator: the scan is a leaf.
func (s *positionScan) Children() []exec.Operator { return nil }

// String implements exec.Operator.
func (s *positionScan) String() string { return "PositionTracking(" + s.Operator.String() + ")" }

// source names what the scan reads (its description without the columns
// and start options, which a restore changes), for checkpoint records.
func (s *positionScan) source() string {
	name, _, _ := strings.Cut(s.Operator.String(), " [")
	return name
}

// Unwrap returns the scan operator.
func (s *positionScan) Unwrap() exec.Operator { return s.Operator }

// SetWatermarkFunc forwards the streaming engine's watermark hook to the
// Pulsar scan: the requested columns keep their positions (the hidden ones
// come after them).
func (s *positionScan) SetWatermarkFunc(f cpulsar.WatermarkFunc) {
	if h, ok := s.Operator.(cpulsar.WatermarkHooker); ok {
		h.SetWatermarkFunc(f)
	}
}

// Warnings forwards the scan's warnings (undecodable messages).
func (s *positionScan) Warnings() []string {
	if w, ok := s.Operator.(cpulsar.Warner); ok {
		return w.Warnings()
	}
	return nil
}
