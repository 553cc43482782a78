package jobs

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	cpulsar "github.com/magnetar-sql/magnetar/catalog/pulsar"
	"github.com/magnetar-sql/magnetar/exec"
)

// Checkpoints of stateful jobs (operator state + source positions).
//
// A stateful job's query reads one or more Pulsar tables; each scan is a
// positionScan. On each CheckpointInterval the job asks every scan for
// barrier N; a scan returns it before its next batch (even while its topic
// is idle) and records the positions of the rows it returned before it.
// Single-input operators pass the barrier on in place; operators with two
// inputs align it (interval join, the inner hash join in symmetric mode,
// the lookup join, UNION ALL: an input that delivered N is not read until
// every other live input delivered N; see alignsBarriers). So when N comes out of the top
// operator, every operator has folded exactly the rows each scan returned
// before its N — rows a prefetcher holds beyond a barrier are in no state —
// and everything they emitted has been handed to the writer. The job's
// pump goroutine stops pulling there, and the job:
//
//  1. flushes the writer (at-least-once) — output up to the barrier is
//     acknowledged;
//  2. walks the operator tree and snapshots every exec.Stateful operator,
//     in tree order, into one blob;
//  3. writes the blob to the job's state topic in chunks of at most
//     Config.StateChunkBytes (≤ MaxStateChunk, 1 MiB) bytes, each with the checkpoint id, its index, the
//     count, and the message id of the previous complete checkpoint record;
//  4. writes the checkpoint record (positions, counts and a reference to the
//     first chunk): a checkpoint exists once its record does;
//  5. commits the checkpoint's transaction (exactly-once: the output, the
//     chunks and the record were all written in it, so they appear
//     together or, when it aborts, not at all).
//
// Positions are keyed by partition ("0", "-1": not partitioned) when the
// query has one scan (the original record layout), and by scan index and
// partition ("1/0") when it has several (StateRef.Scans says how many). A
// scan's index is its order of registration while the query is bound,
// the same for the same query and engine; a restore checks the count.
//
// A restarted job reads the newest record (if the last message of the
// topic is a chunk of an unfinished checkpoint, its "previous" property
// leads to the newest complete one), reads the chunks, rebuilds the query,
// restores each operator's state, and resumes each scan right after its own
// recorded position in every partition (cpulsar.Resumer; one scan also
// gets the start and start_positions options), dropping any replayed row at
// or before them. The table side of a lookup join, whose scan ignores the
// session's start options, resumes the same way: ResumeAfter is a Go call
// on the source, not a scan option. Nothing on local disk is needed.
//
// Plans where a between-batch barrier is not consistent are not
// checkpointed this way and recompute from the start on restart:
// operators with two inputs that do not align barriers (the nested-loop
// join, which a continuous query allows only over a bounded right input),
// and operators that keep state without implementing exec.Stateful (sort
// and window functions, which continuous queries refuse).

// MaxStateChunk bounds a state chunk message.
const MaxStateChunk = 1 << 20

// StateRef says where a checkpoint's operator states are.
type StateRef struct {
	// First is the base64 serialized message id of the first chunk.
	First string `json:"first,omitempty"`
	// Chunks is the number of chunk messages (consecutive in the topic).
	Chunks int `json:"chunks"`
	// Bytes is the size of the state blob.
	Bytes int64 `json:"bytes"`
	// Operators is the number of stateful operators saved.
	Operators int `json:"operators"`
	// Scans is the number of position-tracked scans of a checkpoint of
	// several: its positions are keyed "scan/partition". 0: one scan, keyed
	// by partition (the original layout).
	Scans int `json:"scans,omitempty"`
	// Sources describes each of those scans (its table and columns), in
	// index order: a restore into a plan whose scans differ fails instead
	// of resuming a scan at another's positions.
	Sources []string `json:"sources,omitempty"`
}

// Properties of state chunk messages.
const (
	propCheckpoint = "magnetar.checkpoint"
	propChunk      = "magnetar.chunk"
	propChunks     = "magnetar.chunks"
	propPrev       = "magnetar.prev"
)

// stateMagic starts a state blob; the last byte is the version.
var stateMagic = []byte("MGJS\x01")

// statefulRun is a running job's checkpointing state.
type statefulRun struct {
	scans []*positionScan // in registration order (index = positionScan.index)
	ops   []exec.Operator // exec.Stateful operators, in tree order
}

// checkpointPlan checks that op (built over a scan registry) can be
// checkpointed between batches and returns its position-tracking scans
// and stateful operators in tree order. Operators with several inputs must
// align barriers (alignsBarriers); every position-tracked scan the query
// registered must be a leaf of the tree.
func checkpointPlan(op exec.Operator, reg *scanRegistry) (*statefulRun, error) {
	reg.mu.Lock()
	registered := append([]*positionScan(nil), reg.scans...)
	reg.mu.Unlock()
	if len(registered) == 0 {
		return nil, errors.New("no position-tracked scan in the plan")
	}
	sr := &statefulRun{scans: registered}
	seen := map[*positionScan]bool{}
	var visit func(o exec.Operator) error
	visit = func(o exec.Operator) error {
		for {
			if ps, ok := o.(*positionScan); ok {
				if seen[ps] {
					return errors.New("a scan appears twice in the plan")
				}
				seen[ps] = true
				return nil
			}
			u, ok := o.(interface{ Unwrap() exec.Operator })
			if !ok {
				break
			}
			o = u.Unwrap()
		}
		kids := o.Children()
		if len(kids) > 1 {
			if why := alignsBarriers(o); why != "" {
				return fmt.Errorf("%s has %d inputs and %s: a barrier between batches is not consistent", o, len(kids), why)
			}
		}
		if len(kids) == 0 {
			return fmt.Errorf("%s is not a position-tracked Pulsar scan", o)
		}
		if st, ok := o.(exec.Stateful); ok {
			if err := st.State().Snapshot(io.Discard); err != nil {
				return fmt.Errorf("%s: %w", o, err)
			}
			sr.ops = append(sr.ops, o)
		} else if !statelessOp(o) {
			return fmt.Errorf("%s keeps state that cannot be checkpointed", o)
		}
		for _, k := range kids {
			if err := visit(k); err != nil {
				return err
			}
		}
		return nil
	}
	if err := visit(op); err != nil {
		return nil, err
	}
	for _, ps := range registered {
		if !seen[ps] {
			return nil, fmt.Errorf("the query reads %d position-tracked scans and %d of them are in the plan", len(registered), len(seen))
		}
	}
	return sr, nil
}

// alignsBarriers returns "" when o, an operator of several inputs, aligns
// checkpoint barriers: once an input delivered barrier N it is not read
// until every other live input delivered N, so when N leaves o, o has
// consumed exactly the rows each input returned before its N (rows its
// prefetchers hold beyond the barrier are in no state). Otherwise it says
// why not.
func alignsBarriers(o exec.Operator) string {
	switch x := o.(type) {
	case *exec.IntervalJoin, *exec.Union:
		return ""
	case *exec.HashJoin:
		// Every join type (inner, outer, semi, anti) goes symmetric over
		// streams and aligns there (its build phase stops reading the left
		// input at a barrier).
		if x.Streams() {
			return ""
		}
		return "waits for the end of its build side"
	case *exec.LookupJoin:
		// Aligns after its bootstrap too; during it, a barrier of the table
		// input makes it read the stream up to the same barrier, holding
		// those rows (in its state) until the table is bootstrapped.
		return ""
	}
	return "does not align barriers"
}

// statelessOp reports whether o keeps nothing between messages.
func statelessOp(o exec.Operator) bool {
	switch o.(type) {
	case *exec.Filter, *exec.Project, *exec.Union:
		return true
	}
	return false
}

// snapshotStates writes every stateful operator's snapshot into one blob:
// magic, count, then per operator its description (checked on restore)
// and its length-prefixed snapshot.
func snapshotStates(ops []exec.Operator) ([]byte, error) {
	out := append([]byte(nil), stateMagic...)
	out = binary.AppendUvarint(out, uint64(len(ops)))
	var buf bytes.Buffer
	for _, o := range ops {
		buf.Reset()
		if err := o.(exec.Stateful).State().Snapshot(&buf); err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", o, err)
		}
		name := o.String()
		out = binary.AppendUvarint(out, uint64(len(name)))
		out = append(out, name...)
		out = binary.AppendUvarint(out, uint64(buf.Len()))
		out = append(out, buf.Bytes()...)
	}
	return out, nil
}

// restoreStates restores ops from a blob written by snapshotStates for the
// same plan.
func restoreStates(ops []exec.Operator, blob []byte) error {
	if !bytes.HasPrefix(blob, stateMagic) {
		return errors.New("restore state: not a state blob of this version")
	}
	b := blob[len(stateMagic):]
	next := func() ([]byte, error) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, errors.New("restore state: blob is truncated")
		}
		p := b[k : k+int(n)]
		b = b[k+int(n):]
		return p, nil
	}
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return errors.New("restore state: blob is truncated")
	}
	b = b[k:]
	if n != uint64(len(ops)) {
		return fmt.Errorf("restore state: checkpoint has %d stateful operators, the plan %d (did the query or engine change?)", n, len(ops))
	}
	for _, o := range ops {
		name, err := next()
		if err != nil {
			return err
		}
		if string(name) != o.String() {
			return fmt.Errorf("restore state: checkpoint operator %q, plan has %q (did the query or engine change?)", name, o.String())
		}
		snap, err := next()
		if err != nil {
			return err
		}
		if err := o.(exec.Stateful).State().Restore(bytes.NewReader(snap)); err != nil {
			return fmt.Errorf("restore %s: %w", o, err)
		}
	}
	if len(b) != 0 {
		return errors.New("restore state: trailing bytes")
	}
	return nil
}

// openStateful binds a stateful job's query with a position-tracking scan
// and restores the checkpoint's operator states. It returns a nil operator
// (and logs why) when the plan cannot be checkpointed: the caller then runs
// the query the old way, recomputing from the start.
func (m *Manager) openStateful(ctx context.Context, def Def, db string, p *insertPlan, cp Checkpoint, settings map[string]string) (exec.Operator, *statefulRun, error) {
	reg := &scanRegistry{mem: m.cfg.Mem, resume: map[int32]Pos{}, ready: make(chan struct{})}
	// Rows flow once the states are restored (or the plan is given up);
	// the release precedes any Close, which waits for the pulling
	// goroutines.
	defer reg.release()
	st := maps.Clone(settings)
	if cp.State != nil {
		var err error
		if reg.resume, reg.scanResume, err = parsePositions(cp); err != nil {
			return nil, nil, err
		}
		if reg.scanResume == nil {
			setStart(st, reg.resume)
		}
		// Several scans: the start options apply to every scan of the
		// query, so each scan resumes through cpulsar.Resumer instead
		// (positionScan.Open), after its own recorded positions.
	}
	// The tree is opened with a context a stop does not cancel: the
	// prefetching goroutines of two-input operators run on it, and a
	// stopping job still pulls the tree to its final barrier (a cancelled
	// prefetcher would drop a batch its scan already counted and end its
	// input early). The job's Close of the tree stops them.
	op, err := m.cfg.Runner(withScanRegistry(context.WithoutCancel(ctx), reg), db, p.query, st, true)
	if err != nil {
		return nil, nil, err
	}
	closeOp := func() {
		reg.release()
		op.Close()
	}
	sr, perr := checkpointPlan(op, reg)
	if perr != nil {
		closeOp()
		m.log.Info("jobs: stateful job keeps no checkpointed state and recomputes from the start on restart", "job", def.Name, "why", perr.Error())
		return nil, nil, nil
	}
	if cp.State != nil {
		if want := max(cp.State.Scans, 1); want != len(sr.scans) {
			closeOp()
			return nil, nil, fmt.Errorf("checkpoint %d: has positions of %d scans, the plan reads %d (did the query or engine change?)", cp.ID, want, len(sr.scans))
		}
		for i, src := range cp.State.Sources {
			if i < len(sr.scans) && src != sr.scans[i].source() {
				closeOp()
				return nil, nil, fmt.Errorf("checkpoint %d: scan %d read %q, the plan's reads %q (did the query or engine change?)", cp.ID, i, src, sr.scans[i].source())
			}
		}
		blob, err := m.readState(ctx, def.Name, cp)
		if err == nil {
			err = restoreStates(sr.ops, blob)
		}
		if err != nil {
			closeOp()
			return nil, nil, fmt.Errorf("checkpoint %d: %w", cp.ID, err)
		}
		m.log.Info("jobs: restored checkpoint", "job", def.Name, "checkpoint", cp.ID, "operators", len(sr.ops), "scans", len(sr.scans), "bytes", cp.State.Bytes)
	}
	return op, sr, nil
}

// parsePositions reads a stateful checkpoint's source positions. A
// checkpoint of one scan (State.Scans 0, the original layout) keys them by
// partition ("0", "-1": not partitioned); one of several scans keys them
// by scan index and partition ("1/0") and returns them per scan.
func parsePositions(cp Checkpoint) (single map[int32]Pos, perScan map[int]map[int32]Pos, err error) {
	single = map[int32]Pos{}
	if cp.State != nil && cp.State.Scans > 0 {
		perScan = map[int]map[int32]Pos{}
	}
	for k, pos := range cp.Positions {
		pk := k
		scan := 0
		if perScan != nil {
			sk, rest, ok := strings.Cut(k, "/")
			n, err := strconv.Atoi(sk)
			if !ok || err != nil || n < 0 || n >= cp.State.Scans {
				return nil, nil, fmt.Errorf("checkpoint %d: bad scan position key %q (want scan/partition)", cp.ID, k)
			}
			scan, pk = n, rest
		}
		part, err := strconv.ParseInt(pk, 10, 32)
		if err != nil {
			return nil, nil, fmt.Errorf("checkpoint %d: bad partition %q", cp.ID, k)
		}
		if perScan == nil {
			single[int32(part)] = pos
			continue
		}
		if perScan[scan] == nil {
			perScan[scan] = map[int32]Pos{}
		}
		perScan[scan][int32(part)] = pos
	}
	return single, perScan, nil
}

// setStart asks the scan to start at the recorded message of a single
// partition; with several, the scan replays from the earliest message. In
// both cases start_positions resumes each recorded partition right after
// its message, and the recorded positions drop whatever is replayed still.
func setStart(settings map[string]string, resume map[int32]Pos) {
	switch len(resume) {
	case 0:
	case 1:
		for part, pos := range resume {
			settings["start"] = fmt.Sprintf("%d:%d:%d", pos.Ledger, pos.Entry, part)
		}
	default:
		settings["start"] = "earliest"
	}
	if len(resume) > 0 {
		settings["start_positions"] = cpulsar.FormatStartPositions(startPositions(resume))
	}
}

// readState reads the chunks of checkpoint cp's state blob.
func (m *Manager) readState(ctx context.Context, name string, cp Checkpoint) ([]byte, error) {
	if cp.State.Chunks == 0 {
		return nil, errors.New("checkpoint has no state chunks")
	}
	raw, err := base64.StdEncoding.DecodeString(cp.State.First)
	if err != nil {
		return nil, fmt.Errorf("state chunk id: %w", err)
	}
	first, err := pulsar.DeserializeMessageID(raw)
	if err != nil {
		return nil, fmt.Errorf("state chunk id: %w", err)
	}
	r, err := m.cfg.Client.CreateReader(pulsar.ReaderOptions{Topic: m.stateTopic(name), StartMessageID: first, StartMessageIDInclusive: true})
	if err != nil {
		return nil, fmt.Errorf("state of job %s: %w", name, err)
	}
	defer r.Close()
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	blob := make([]byte, 0, cp.State.Bytes)
	want := strconv.FormatUint(cp.ID, 10)
	for i := 0; i < cp.State.Chunks; {
		msg, err := r.Next(rctx)
		if err != nil {
			return nil, fmt.Errorf("state of job %s: chunk %d of checkpoint %d: %w", name, i, cp.ID, err)
		}
		props := msg.Properties()
		if props[propCheckpoint] != want {
			continue // not ours (cannot happen: chunks are consecutive)
		}
		if props[propChunk] != strconv.Itoa(i) {
			return nil, fmt.Errorf("state of job %s: checkpoint %d: chunk %s where %d was expected", name, cp.ID, props[propChunk], i)
		}
		blob = append(blob, msg.Payload()...)
		i++
	}
	if int64(len(blob)) != cp.State.Bytes {
		return nil, fmt.Errorf("state of job %s: checkpoint %d: %d bytes, want %d", name, cp.ID, len(blob), cp.State.Bytes)
	}
	return blob, nil
}

// readRecordAt reads the checkpoint record with message id raw (base64).
func (m *Manager) readRecordAt(ctx context.Context, name, raw string) (Checkpoint, pulsar.MessageID, error) {
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("state of job %s: previous checkpoint id: %w", name, err)
	}
	id, err := pulsar.DeserializeMessageID(b)
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("state of job %s: previous checkpoint id: %w", name, err)
	}
	r, err := m.cfg.Client.CreateReader(pulsar.ReaderOptions{Topic: m.stateTopic(name), StartMessageID: id, StartMessageIDInclusive: true})
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("state of job %s: %w", name, err)
	}
	defer r.Close()
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	msg, err := r.Next(rctx)
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("state of job %s: %w", name, err)
	}
	var cp Checkpoint
	if err := json.Unmarshal(msg.Payload(), &cp); err != nil {
		return Checkpoint{}, nil, fmt.Errorf("state of job %s: checkpoint %s: %w", name, msg.ID(), err)
	}
	return cp, msg.ID(), nil
}

func encodeID(id pulsar.MessageID) string {
	if id == nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(id.Serialize())
}

// checkpointState takes a checkpoint of a stateful job at a barrier: the
// pump is stopped, so the operators are between two calls of Next and
// their states match the scan's positions (see the top of this file).
func (r *runState) checkpointState(ctx context.Context, positions []map[int32]Pos) error {
	if f, ok := r.w.(flusher); ok {
		if err := f.Flush(ctx); err != nil {
			return err
		}
	}
	blob, err := snapshotStates(r.sr.ops)
	if err != nil {
		return err
	}
	cp := Checkpoint{ID: r.cp.ID + 1, RowsIn: r.rowsIn, RowsOut: r.rowsOut, Time: time.Now().UTC(),
		State: &StateRef{Bytes: int64(len(blob)), Operators: len(r.sr.ops)}}
	if len(positions) > 1 {
		cp.State.Scans = len(positions)
		for _, sc := range r.sr.scans {
			cp.State.Sources = append(cp.State.Sources, sc.source())
		}
	}
	for i, ps := range positions {
		for part, pos := range ps {
			if cp.Positions == nil {
				cp.Positions = map[string]Pos{}
			}
			k := strconv.Itoa(int(part))
			if cp.State.Scans > 0 {
				k = strconv.Itoa(i) + "/" + k
			}
			cp.Positions[k] = pos
		}
	}
	// Chunks first, the record after them: a record means a whole state.
	size := r.j.m.cfg.StateChunkBytes
	n := (len(blob) + size - 1) / size
	cp.State.Chunks = n
	prev := encodeID(r.lastRecord)
	for i := 0; i < n; i++ {
		chunk := blob[i*size : min(len(blob), (i+1)*size)]
		id, err := r.sendRecord(ctx, &pulsar.ProducerMessage{Key: r.j.def.Name + "/state", Payload: chunk, Transaction: r.txn, Properties: map[string]string{
			propCheckpoint: strconv.FormatUint(cp.ID, 10), propChunk: strconv.Itoa(i), propChunks: strconv.Itoa(n), propPrev: prev,
		}})
		if err != nil {
			return fmt.Errorf("checkpoint %d: state chunk %d: %w", cp.ID, i, err)
		}
		if i == 0 {
			cp.State.First = encodeID(id)
		}
	}
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	id, err := r.sendRecord(ctx, &pulsar.ProducerMessage{Key: r.j.def.Name, Payload: b, Transaction: r.txn})
	if err != nil {
		return fmt.Errorf("checkpoint %d: %w", cp.ID, err)
	}
	if err := r.commitTxn(ctx, cp, id); err != nil {
		return err
	}
	r.cp, r.lastRecord, r.dirty = cp, id, false
	r.lastRead = r.sr.rowsRead()
	r.j.mu.Lock()
	r.j.stats.Checkpoints, r.j.stats.LastCheckpoint, r.j.stats.StateBytes = cp.ID, cp.Time, cp.State.Bytes
	r.j.stats.CheckpointRowsIn = cp.RowsIn
	r.j.mu.Unlock()
	return nil
}

// finalBarrierWait bounds how long a stopping job waits for its final
// barrier to come out of the pipeline.
const finalBarrierWait = 15 * time.Second

// loopStateful is loop for a job that checkpoints operator state: its
// pump stops at every barrier until the checkpoint is taken, and a stop
// (not a crash) ends with a final checkpoint at a barrier.
func (r *runState) loopStateful(ctx context.Context, op exec.Operator) error {
	sr := r.sr
	resume := make(chan struct{})
	// The pump outlives ctx: a stopping job still drains to its final
	// barrier. It is cancelled when the loop returns.
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ch, stop := pump(pctx, cancel, op, resume)
	defer stop()
	cpctx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	}
	tick := time.NewTicker(r.j.m.cfg.CheckpointInterval)
	defer tick.Stop()
	var outstanding uint64 // barrier asked for and not yet out
	done := ctx.Done()
	var stopping <-chan time.Time
	request := func() {
		if outstanding == 0 {
			// Every scan gets the barrier; the operators with several
			// inputs align it. A scan whose input ended holds a stale
			// request (nothing reads it any more) and is not waited for.
			id := r.cp.ID + 1
			for _, scan := range sr.scans {
				if scan.requestBarrier(id) {
					outstanding = id
				}
			}
		}
	}
	for {
		select {
		case <-done:
			r.j.mu.Lock()
			crashed := r.j.crashed
			r.j.mu.Unlock()
			if crashed {
				return nil
			}
			done = nil
			request()
			stopping = time.After(finalBarrierWait)
		case <-stopping:
			r.j.m.log.Warn("jobs: no final checkpoint: the barrier did not come out of the pipeline in time", "job", r.j.def.Name)
			return nil
		case <-tick.C:
			if stopping != nil {
				continue
			}
			if err := r.renewIdleTxn(ctx); err != nil {
				return err
			}
			if r.dirty || sr.rowsRead() != r.lastRead {
				request()
			}
		case p, ok := <-ch:
			if !ok {
				return nil
			}
			if p.err != nil {
				if stopping != nil || ctx.Err() != nil {
					return nil
				}
				return p.err
			}
			switch p.m.Kind {
			case exec.MsgEnd:
				// The pump has stopped: the tree is quiescent.
				r.updateStats()
				c, cc := cpctx()
				err := r.checkpointState(c, sr.current())
				cc()
				return err
			case exec.MsgBatch:
				err := r.write(ctx, p.m.Batch)
				p.m.Release()
				if err != nil {
					return err
				}
				r.updateStats()
			case exec.MsgBarrier:
				if p.m.Barrier == outstanding {
					outstanding = 0
					positions := sr.positionsAt(p.m.Barrier)
					r.updateStats()
					c, cc := cpctx()
					err := r.checkpointState(c, positions)
					cc()
					if err != nil {
						if stopping != nil || ctx.Err() != nil {
							r.j.m.log.Warn("jobs: final checkpoint failed", "job", r.j.def.Name, "err", err)
							return nil
						}
						return err
					}
					if stopping != nil {
						return nil
					}
				}
				select {
				case resume <- struct{}{}:
				case <-pctx.Done():
				}
			}
		}
	}
}

// updateStats sets a stateful job's input counters from its scans.
func (r *runState) updateStats() {
	if r.sr == nil {
		return
	}
	var in int64
	for _, s := range r.sr.scans {
		in += s.rowsIn.Load()
	}
	r.rowsIn = r.baseIn + in
	r.j.mu.Lock()
	r.j.stats.RowsIn, r.j.stats.RowsOut = r.rowsIn, r.rowsOut
	r.j.stats.RunRowsIn = r.sr.rowsRead()
	r.j.mu.Unlock()
}

// rowsRead is the rows the scans read in this run, replays included.
func (sr *statefulRun) rowsRead() int64 {
	var n int64
	for _, s := range sr.scans {
		n += s.rowsRead.Load()
	}
	return n
}

// current returns each scan's positions of the last rows it returned.
func (sr *statefulRun) current() []map[int32]Pos {
	out := make([]map[int32]Pos, len(sr.scans))
	for i, s := range sr.scans {
		out[i] = s.current()
	}
	return out
}

// positionsAt returns each scan's positions recorded with barrier id. A
// scan that never emitted it had ended before it (its operator aligned the
// barrier without it): all it returned is folded, so its current positions
// count.
func (sr *statefulRun) positionsAt(id uint64) []map[int32]Pos {
	out := make([]map[int32]Pos, len(sr.scans))
	for i, s := range sr.scans {
		p, ok := s.positionsAt(id)
		if !ok {
			p = s.current()
		}
		out[i] = p
	}
	return out
}
