package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/magnetar-sql/magnetar/catalog"
	cpulsar "github.com/magnetar-sql/magnetar/catalog/pulsar"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/magnetar-sql/magnetar/schema"
	"github.com/magnetar-sql/magnetar/sink"
)

// job is one job and, while it runs, its goroutine.
type job struct {
	m *Manager

	mu      sync.Mutex
	def     Def
	cancel  context.CancelFunc
	done    chan struct{}
	stats   Info // counters and checkpoint info (Name etc. filled by info)
	crashed bool // test hook: stop without a final checkpoint
	// retryErr is the failure the job is restarting after (SHOW JOBS shows
	// it until the next checkpoint).
	retryErr string
}

func (m *Manager) newJob(d Def) *job { return &job{m: m, def: d} }

func (j *job) running() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.done != nil
}

func (j *job) info() Info {
	j.mu.Lock()
	defer j.mu.Unlock()
	i := j.stats
	i.Name, i.SQL, i.DB, i.Status, i.Error = j.def.Name, j.def.SQL, j.def.DB, j.def.Status, j.def.Error
	if i.Error == "" && j.retryErr != "" && i.Status == StatusRunning {
		i.Error = "restarting after: " + j.retryErr
	}
	return i
}

// start runs the job in a goroutine unless it runs already.
func (j *job) start() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.done != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	j.cancel, j.done = cancel, make(chan struct{})
	j.crashed = false
	done := j.done
	go func() {
		defer close(done)
		err := j.runWithRetry(ctx)
		if err != nil && ctx.Err() == nil {
			j.m.log.Error("jobs: job failed", "job", j.def.Name, "err", err)
			sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
			if serr := j.m.setStatus(sctx, j, StatusFailed, describe(err)); serr != nil {
				j.m.log.Error("jobs: store failed status", "job", j.def.Name, "err", serr)
			}
			c()
		}
		j.mu.Lock()
		j.done, j.cancel = nil, nil
		j.mu.Unlock()
	}()
}

// stop cancels the job and waits for its final checkpoint.
func (j *job) stop() {
	j.mu.Lock()
	cancel, done := j.cancel, j.done
	j.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// run executes the job until ctx is cancelled or it fails.
func (j *job) run(ctx context.Context) error {
	m := j.m
	j.mu.Lock()
	def := j.def
	j.mu.Unlock()
	p, err := planInsert(def.SQL)
	if err != nil {
		return err
	}
	db := p.db
	if db == "" {
		db = def.DB
	}
	target, err := m.cfg.Catalog.Table(ctx, db, p.table)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	ins, ok := target.(catalog.Insertable)
	if !ok {
		return fmt.Errorf("table %q does not accept INSERT", p.table)
	}
	delivery := strings.ToLower(def.Settings[DeliverySetting])
	exactlyOnce := delivery == "exactly_once"
	stateClient := m.cfg.Client
	if exactlyOnce {
		if m.cfg.TxnClient == nil {
			return fmt.Errorf("exactly_once needs a transaction-enabled client (jobs.Config.TxnClient)")
		}
		// Checkpoint records are written in the checkpoint's transaction.
		stateClient = m.cfg.TxnClient
	}
	state, err := stateClient.CreateProducer(pulsar.ProducerOptions{Topic: m.stateTopic(def.Name), DisableBatching: true})
	if err != nil {
		return fmt.Errorf("state topic: %w", err)
	}
	defer state.Close()
	if exactlyOnce {
		// The predecessor run may have died with its transaction open:
		// end it before reading the last checkpoint, which that
		// transaction's commit (if it wins) would change.
		if err := m.endPredecessorTxn(ctx, def.Name); err != nil {
			return err
		}
	}
	cp, cpID, err := m.lastCheckpoint(ctx, def.Name)
	if err != nil {
		return err
	}
	settings := map[string]string{}
	for k, v := range def.Settings {
		settings[k] = v
	}
	resume := map[int32]Pos{}
	var op exec.Operator
	var sr *statefulRun
	if p.stateful {
		if op, sr, err = m.openStateful(ctx, def, db, p, cp, settings); err != nil {
			return err
		}
	}
	if op == nil {
		if p.tracked {
			for k, pos := range cp.Positions {
				part, err := strconv.ParseInt(k, 10, 32)
				if err != nil {
					return fmt.Errorf("checkpoint %d: bad partition %q", cp.ID, k)
				}
				resume[int32(part)] = pos
			}
			// Each recorded partition resumes right after its message
			// (start_positions); the recorded positions still drop
			// whatever is replayed (the safety net in write).
			setStart(settings, resume)
		}
		if op, err = m.cfg.Runner(ctx, db, p.query, settings, p.tracked); err != nil {
			return err
		}
	}
	defer op.Close()
	mp, err := newMapper(op.Schema(), target.Schema(), p, m.cfg.Mem)
	if err != nil {
		return err
	}
	defer mp.release()
	r := &runState{j: j, cp: cp, positions: map[int32]Pos{}, state: state, mp: mp, sr: sr, lastRecord: cpID}
	var w catalog.Writer
	switch delivery {
	case "", "at_least_once":
		if w, err = ins.OpenWriter(ctx); err != nil {
			return err
		}
	case "exactly_once":
		if w, err = r.openTxnWriter(ctx, target); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%s=%q: want at_least_once or exactly_once", DeliverySetting, def.Settings[DeliverySetting])
	}
	r.w = w
	for part, pos := range resume {
		r.positions[part] = pos
	}
	j.mu.Lock()
	j.stats.RowsIn, j.stats.RowsOut, j.stats.Checkpoints, j.stats.LastCheckpoint, j.stats.Tracked = cp.RowsIn, cp.RowsOut, cp.ID, cp.Time, p.tracked || sr != nil
	j.stats.Stateful, j.stats.RunRowsIn, j.stats.Restored, j.stats.StateBytes, j.stats.CheckpointRowsIn = sr != nil, 0, 0, 0, cp.RowsIn
	if sr != nil && cp.State != nil {
		j.stats.Restored, j.stats.StateBytes = cp.ID, cp.State.Bytes
	}
	j.mu.Unlock()
	r.rowsIn, r.rowsOut, r.baseIn = cp.RowsIn, cp.RowsOut, cp.RowsIn
	if sr != nil {
		err = r.loopStateful(ctx, op)
	} else {
		err = r.loop(ctx, op)
	}
	// Final checkpoint with a fresh context: the job's own is cancelled.
	fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	j.mu.Lock()
	crashed := j.crashed
	j.mu.Unlock()
	if err == nil && !crashed && sr == nil {
		// (A stateful job's loop took its final checkpoint at a barrier.)
		err = r.checkpoint(fctx)
	}
	if !crashed && r.txn != nil {
		// The transaction opened for the next checkpoint holds nothing.
		_ = txnCall(fctx, "abort", func() error { return r.txn.Abort(fctx) })
		r.txn = nil
		r.pw.SetTransaction(nil)
	}
	if crashed && r.txn != nil {
		// A killed process commits nothing: the open transaction times out.
		r.txn = nil
		w.(*sink.PulsarWriter).SetTransaction(nil)
	}
	if cerr := w.Close(fctx); err == nil && !crashed {
		err = cerr
	}
	return err
}

// txnTarget is a table the jobs can write with their own transactional
// producer (catalog/pulsar's Table).
type txnTarget interface {
	Topic() string
	SchemaInfo() schema.Info
	WriterOptions() (sink.Options, error)
}

// openTxnWriter opens a writer on the transaction-enabled client whose
// messages go into the current checkpoint's transaction.
func (r *runState) openTxnWriter(ctx context.Context, target catalog.Table) (catalog.Writer, error) {
	m := r.j.m
	if m.cfg.TxnTimeout <= m.cfg.CheckpointInterval {
		// Every checkpoint's transaction would time out before its commit.
		return nil, fmt.Errorf("exactly_once: the transaction timeout %v must exceed the checkpoint interval %v", m.cfg.TxnTimeout, m.cfg.CheckpointInterval)
	}
	tt, ok := target.(txnTarget)
	if !ok {
		return nil, fmt.Errorf("exactly_once needs a Pulsar target table")
	}
	opts, err := tt.WriterOptions()
	if err != nil {
		return nil, err
	}
	w, err := sink.NewPulsarWriter(m.cfg.TxnClient, tt.Topic(), tt.SchemaInfo(), target.Schema(), opts)
	if err != nil {
		return nil, err
	}
	r.pw = w
	if err := r.beginTxn(ctx); err != nil {
		_ = w.Close(ctx)
		return nil, err
	}
	return w, nil
}

// runState is a running job's loop state.
type runState struct {
	j         *job
	cp        Checkpoint
	positions map[int32]Pos // last position written per partition
	w         catalog.Writer
	pw        *sink.PulsarWriter // exactly-once: the writer, whose transaction rotates
	txn       pulsar.Transaction // exactly-once: the open checkpoint's transaction
	txnStart  time.Time
	state     pulsar.Producer
	mp        *mapper
	dirty     bool
	lastPub   int64

	rowsIn, rowsOut int64

	// Stateful jobs (checkpoint.go).
	sr         *statefulRun
	baseIn     int64            // rows in at the restored checkpoint
	lastRead   int64            // scan rows read at the last checkpoint
	lastRecord pulsar.MessageID // the last checkpoint record (nil: none)
}

// pumped is one message (or error) pulled from the query.
type pumped struct {
	m   exec.Message
	err error
}

// pump pulls op on its own goroutine into a one-slot channel, so the job's
// loop can select between the next message and its timers. With resume
// non-nil the pump waits on it after each barrier (the loop records the
// checkpoint before more rows come). stop cancels the pump, releases what
// it still holds and waits for it.
func pump(pctx context.Context, cancel context.CancelFunc, op exec.Operator, resume <-chan struct{}) (ch <-chan pumped, stop func()) {
	out := make(chan pumped, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(out)
		for {
			m, err := op.Next(pctx)
			select {
			case out <- pumped{m, err}:
			case <-pctx.Done():
				m.Release()
				return
			}
			if err != nil || m.Kind == exec.MsgEnd {
				return
			}
			if resume != nil && m.Kind == exec.MsgBarrier {
				select {
				case <-resume:
				case <-pctx.Done():
					return
				}
			}
		}
	}()
	return out, func() {
		cancel()
		for p := range out {
			p.m.Release()
		}
		wg.Wait()
	}
}

func (r *runState) loop(ctx context.Context, op exec.Operator) error {
	pctx, cancel := context.WithCancel(ctx)
	ch, stop := pump(pctx, cancel, op, nil)
	defer stop()
	tick := time.NewTicker(r.j.m.cfg.CheckpointInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if err := r.renewIdleTxn(ctx); err != nil {
				return err
			}
			if r.dirty {
				if err := r.checkpoint(ctx); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return err
				}
			}
		case p, ok := <-ch:
			if !ok {
				return nil
			}
			if p.err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return p.err
			}
			switch p.m.Kind {
			case exec.MsgEnd:
				// A continuous source ended (its topic was deleted, or the
				// query is bounded): checkpoint and stop.
				return nil
			case exec.MsgBatch:
				err := r.write(ctx, p.m.Batch)
				p.m.Release()
				if err != nil {
					return err
				}
			}
		}
	}
}

// write drops replayed rows, maps the rest to the target's columns and
// writes them.
func (r *runState) write(ctx context.Context, b exec.Batch) error {
	rec := b.Rec
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	mp := r.mp
	var keep []bool
	if mp.tracked {
		parts := rec.Column(mp.partCol).(*array.Int32)
		ids := rec.Column(mp.idCol).(*array.String)
		pubs := rec.Column(mp.pubCol).(*array.Timestamp)
		for i := 0; i < n; i++ {
			part := parts.Value(i)
			pos, err := parseMessageID(ids.Value(i))
			if err != nil {
				return err
			}
			// Drop rows at or before the last position written for their
			// partition: the replay of what the restored checkpoint covers,
			// and a message the scan delivers a second time (seen once
			// through a broker restart: the same source message id twice
			// in one run).
			if lp, ok := r.positions[part]; ok && !lp.Less(pos) {
				if keep == nil {
					keep = make([]bool, n)
					for k := 0; k < i; k++ {
						keep[k] = true
					}
				}
				continue
			}
			if keep != nil {
				keep[i] = true
			}
			r.positions[part] = pos
			if pub := int64(pubs.Value(i)); pub > r.lastPub {
				r.lastPub = pub
			}
		}
	}
	var ops []exec.ChangeKind
	if keep != nil {
		kept := 0
		for _, k := range keep {
			if k {
				kept++
			}
		}
		if kept == 0 {
			return nil
		}
		filtered, fops, err := filterRows(ctx, r.j.m.cfg.Mem, rec, keep, b.Ops)
		if err != nil {
			return err
		}
		defer filtered.Release()
		rec, ops = filtered, fops
	} else {
		ops = b.Ops
	}
	out, err := mp.apply(ctx, rec)
	if err != nil {
		return err
	}
	defer out.Release()
	if err := r.w.Write(ctx, exec.Batch{Rec: out, Ops: ops}); err != nil {
		return err
	}
	r.dirty = true
	in := out.NumRows()
	written := in
	for _, op := range ops {
		if op == exec.UpdateBefore {
			written--
		}
	}
	if r.sr == nil {
		r.rowsIn += in // (a stateful job counts source rows: updateStats)
	}
	r.rowsOut += written
	r.j.mu.Lock()
	r.j.stats.RowsIn, r.j.stats.RowsOut = r.rowsIn, r.rowsOut
	if r.lastPub > 0 {
		r.j.stats.Lag = time.Since(time.UnixMicro(r.lastPub))
	}
	r.j.mu.Unlock()
	return nil
}

// renewIdleTxn replaces an empty transaction before the broker times it
// out, so an idle exactly-once job does not fail at its next commit.
func (r *runState) renewIdleTxn(ctx context.Context) error {
	if r.txn == nil || r.dirty || time.Since(r.txnStart) < r.j.m.cfg.TxnTimeout/2 {
		return nil
	}
	_ = txnCall(ctx, "abort", func() error { return r.txn.Abort(ctx) })
	r.txn = nil
	r.pw.SetTransaction(nil)
	return r.beginTxn(ctx)
}

// flusher is implemented by writers that can wait for their sends.
type flusher interface {
	Flush(ctx context.Context) error
}

// checkpoint makes everything written so far durable, then records the
// positions it covers.
func (r *runState) checkpoint(ctx context.Context) error {
	if f, ok := r.w.(flusher); ok {
		if err := f.Flush(ctx); err != nil {
			return err
		}
	}
	cp := Checkpoint{ID: r.cp.ID + 1, RowsIn: r.rowsIn, RowsOut: r.rowsOut, Time: time.Now().UTC()}
	if len(r.positions) > 0 {
		cp.Positions = map[string]Pos{}
		for part, pos := range r.positions {
			cp.Positions[strconv.Itoa(int(part))] = pos
		}
	}
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	// Exactly-once: the record is part of the checkpoint's transaction, so
	// the output and the positions it covers become visible together or
	// not at all.
	id, err := r.sendRecord(ctx, &pulsar.ProducerMessage{Key: r.j.def.Name, Payload: b, Transaction: r.txn})
	if err != nil {
		return fmt.Errorf("checkpoint %d: %w", cp.ID, err)
	}
	if err := r.commitTxn(ctx, cp, id); err != nil {
		return err
	}
	r.cp, r.dirty, r.lastRecord = cp, false, id
	r.j.mu.Lock()
	r.j.stats.Checkpoints, r.j.stats.LastCheckpoint, r.j.stats.CheckpointRowsIn = cp.ID, cp.Time, cp.RowsIn
	r.j.retryErr = ""
	r.j.mu.Unlock()
	return nil
}

// commitTxn commits the checkpoint's transaction (exactly-once) and opens
// the next one. The checkpoint's output and its record (state chunks too)
// were written in the transaction, so they become visible together with the
// commit; an aborted or timed-out transaction takes both away, and the next
// run replays from the previous record. An error may be ambiguous (the
// coordinator may have committed although the client saw a timeout): the
// run then fails, and its successor first settles the transaction
// (endPredecessorTxn) and only then reads the last record, so either way
// output and positions agree.
func (r *runState) commitTxn(ctx context.Context, cp Checkpoint, record pulsar.MessageID) error {
	if r.txn == nil {
		return nil
	}
	id := cp.ID
	if err := txnCall(ctx, "commit", func() error { return r.txn.Commit(ctx) }); err != nil {
		cfg := r.j.m.cfg
		if open := time.Since(r.txnStart); open >= cfg.TxnTimeout {
			// The broker aborted it: say which settings collide rather
			// than only the client's "actual: TxnTimeout".
			return fmt.Errorf("checkpoint %d: commit: the transaction timed out (open %v, transaction timeout %v, checkpoint interval %v; the timeout must well exceed the interval): %w",
				id, open.Round(time.Millisecond), cfg.TxnTimeout, cfg.CheckpointInterval, err)
		}
		return fmt.Errorf("checkpoint %d: commit: %w", id, err)
	}
	r.txn = nil
	r.pw.SetTransaction(nil)
	// The next announcement names this record as the one to resume from.
	r.cp, r.lastRecord = cp, record
	if err := r.beginTxn(ctx); err != nil {
		return fmt.Errorf("after checkpoint %d: %w", id, err)
	}
	return nil
}

// beginTxn opens the transaction of the next checkpoint and announces its
// id in the state topic (a plain message, readable at once, naming the last
// record), so that a successor run can end it when this run dies with it
// open: until then, readers of the output wait at its first message.
func (r *runState) beginTxn(ctx context.Context) error {
	m := r.j.m
	var txn pulsar.Transaction
	err := txnCall(ctx, "new transaction", func() error {
		t, err := m.cfg.TxnClient.NewTransaction(m.cfg.TxnTimeout)
		txn = t
		return err
	})
	if err != nil {
		return fmt.Errorf("new transaction: %w", err)
	}
	id := txn.GetTxnID()
	ann := txnAnnouncement{Txn: formatTxnID(id), Checkpoint: r.cp.ID}
	b, _ := json.Marshal(ann)
	if _, err := r.state.Send(ctx, &pulsar.ProducerMessage{Key: r.j.def.Name + "/txn", Payload: b,
		Properties: map[string]string{propTxn: ann.Txn, propPrev: encodeID(r.lastRecord)}}); err != nil {
		_ = txnCall(ctx, "abort", func() error { return txn.Abort(ctx) })
		return fmt.Errorf("announce transaction %s: %w", ann.Txn, err)
	}
	r.txn, r.txnStart = txn, time.Now()
	r.pw.SetTransaction(txn)
	return nil
}

// lastCheckpoint reads the newest complete checkpoint record of a job's
// state topic and its message id (nil when there is none). When the last
// message is a state chunk of a checkpoint that never got its record (a
// crash while writing it), the chunk names the previous record.
func (m *Manager) lastCheckpoint(ctx context.Context, name string) (Checkpoint, pulsar.MessageID, error) {
	msg, err := cpulsar.ReadLast(ctx, m.cfg.Client, m.stateTopic(name))
	if err != nil || msg == nil {
		if err != nil {
			err = fmt.Errorf("state of job %s: %w", name, err)
		}
		return Checkpoint{}, nil, err
	}
	_, chunk := msg.Properties()[propChunk]
	_, ann := msg.Properties()[propTxn]
	if chunk || ann {
		prev := msg.Properties()[propPrev]
		if prev == "" {
			return Checkpoint{}, nil, nil
		}
		return m.readRecordAt(ctx, name, prev)
	}
	var c Checkpoint
	if err := json.Unmarshal(msg.Payload(), &c); err != nil {
		return Checkpoint{}, nil, fmt.Errorf("state of job %s: checkpoint %s: %w", name, msg.ID(), err)
	}
	return c, msg.ID(), nil
}

// filterRows keeps the rows of rec (and ops) where keep is true.
func filterRows(ctx context.Context, mem memory.Allocator, rec arrow.RecordBatch, keep []bool, ops []exec.ChangeKind) (arrow.RecordBatch, []exec.ChangeKind, error) {
	bb := array.NewBooleanBuilder(mem)
	bb.AppendValues(keep, nil)
	mask := bb.NewBooleanArray()
	bb.Release()
	defer mask.Release()
	out, err := compute.FilterRecordBatch(compute.WithAllocator(ctx, mem), rec, mask, compute.DefaultFilterOptions())
	if err != nil {
		return nil, nil, fmt.Errorf("drop replayed rows: %w", err)
	}
	var fops []exec.ChangeKind
	if ops != nil {
		for i, k := range keep {
			if k {
				fops = append(fops, ops[i])
			}
		}
	}
	return out, fops, nil
}

// mapper turns query rows into the target table's rows: tracking columns
// are set aside, values are matched to target columns (named or by
// position) and cast to their types.
type mapper struct {
	tracked                bool
	partCol, idCol, pubCol int
	target                 *arrow.Schema
	evs                    []expr.Evaluator
	src                    *arrow.Schema
	srcCol                 []int // query column of each target column (-1: none)
}

func newMapper(src, target *arrow.Schema, p *insertPlan, mem memory.Allocator) (*mapper, error) {
	mp := &mapper{target: target, src: src, partCol: -1, idCol: -1, pubCol: -1}
	var data []int // query columns that are values
	for i, f := range src.Fields() {
		if strings.HasPrefix(f.Name, trackPrefix) {
			continue
		}
		data = append(data, i)
	}
	if p.tracked {
		n := src.NumFields()
		if n < 3 || src.Field(n-3).Name != ColPartition || src.Field(n-2).Name != ColMessageID || src.Field(n-1).Name != ColPublishTime {
			return nil, fmt.Errorf("the query does not carry source positions (its source is not a Pulsar topic?)")
		}
		mp.tracked, mp.partCol, mp.idCol, mp.pubCol = true, n-3, n-2, n-1
		if src.Field(n-3).Type.ID() != arrow.INT32 || src.Field(n-2).Type.ID() != arrow.STRING || src.Field(n-1).Type.ID() != arrow.TIMESTAMP {
			return nil, fmt.Errorf("unexpected tracking column types")
		}
	}
	fields := target.Fields()
	pos := make([]int, len(fields))
	for i := range pos {
		pos[i] = -1
	}
	if p.columns == nil {
		if len(data) != len(fields) {
			return nil, fmt.Errorf("table %q has %d columns but the query gives %d", p.table, len(fields), len(data))
		}
		copy(pos, data)
	} else {
		if len(p.columns) != len(data) {
			return nil, fmt.Errorf("%d columns named but the query gives %d", len(p.columns), len(data))
		}
		for k, name := range p.columns {
			found := false
			for i, f := range fields {
				if strings.EqualFold(f.Name, name) {
					pos[i], found = data[k], true
				}
			}
			if !found {
				return nil, fmt.Errorf("unknown column %q in table %q", name, p.table)
			}
		}
	}
	for i, f := range fields {
		var e expr.Expr
		if pos[i] < 0 {
			if !f.Nullable {
				return nil, fmt.Errorf("column %q has no default value and cannot be NULL", f.Name)
			}
			e = &expr.Literal{T: f.Type}
		} else {
			sf := src.Field(pos[i])
			e = &expr.Column{Index: pos[i], Name: sf.Name, T: sf.Type}
			if !arrow.TypeEqual(sf.Type, f.Type) {
				c, err := expr.NewCast(e, f.Type)
				if err != nil {
					return nil, fmt.Errorf("column %q is %s but the value is %s: %w", f.Name, expr.TypeName(f.Type), expr.TypeName(sf.Type), err)
				}
				e = c
			}
		}
		ev, err := expr.Compile(e, mem)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		mp.evs = append(mp.evs, ev)
	}
	mp.srcCol = pos
	return mp, nil
}

func (mp *mapper) release() {}

// nullError explains NULLs in target column i, which cannot hold them: a
// query value that did not convert to the column's type (e.g. the table's
// schema changed since the job was created) is named with its column.
func (mp *mapper) nullError(rec arrow.RecordBatch, i int, c arrow.Array) error {
	f := mp.target.Field(i)
	if k := mp.srcCol[i]; k >= 0 {
		in := rec.Column(k)
		for r := 0; r < c.Len(); r++ {
			if c.IsNull(r) && !in.IsNull(r) {
				return fmt.Errorf("column %q of the target table is %s NOT NULL but query column %q (%s) gives %q, which does not convert (has the table's schema changed since the job was created?)",
					f.Name, expr.TypeName(f.Type), mp.src.Field(k).Name, expr.TypeName(mp.src.Field(k).Type), expr.FormatValue(in, r))
			}
		}
	}
	return fmt.Errorf("column %q cannot be NULL", f.Name)
}

func (mp *mapper) apply(ctx context.Context, rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, len(mp.evs))
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, ev := range mp.evs {
		c, err := ev.Eval(ctx, rec)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", mp.target.Field(i).Name, err)
		}
		if !mp.target.Field(i).Nullable && c.NullN() > 0 {
			err := mp.nullError(rec, i, c)
			c.Release()
			return nil, err
		}
		cols[i] = c
	}
	return array.NewRecordBatch(mp.target, cols, rec.NumRows()), nil
}

// propTxn marks a transaction announcement in the state topic: the id
// ("most:least") of the transaction a run opened for its next checkpoint.
const propTxn = "magnetar.txn"

// txnAnnouncement is the payload of an announcement (a non-empty payload:
// pulsar-client-go readers drop empty unbatched messages).
type txnAnnouncement struct {
	Txn        string `json:"txn"`
	Checkpoint uint64 `json:"after_checkpoint"`
}

func formatTxnID(id pulsar.TxnID) string {
	return strconv.FormatUint(id.MostSigBits, 10) + ":" + strconv.FormatUint(id.LeastSigBits, 10)
}

// errTxnUnsettled is wrapped when the predecessor's transaction is still
// being committed or aborted: the run restarts (transient) and asks again.
var errTxnUnsettled = errors.New("the previous run's transaction is not settled yet")

// settleWait bounds how long a starting run waits for its predecessor's
// transaction to settle before it restarts and asks again.
var settleWait = 30 * time.Second

// endPredecessorTxn ends the transaction the job's previous run announced
// last, if it is still open, by aborting it through the admin API
// (POST /admin/v3/transactions/abortTransaction), and waits until the
// coordinator no longer knows it, i.e. its commit or abort markers are in
// every topic it wrote to. Without it, readers of the output would wait at
// that transaction's first message until the broker times it out, and an
// ambiguous commit of the previous run (the client saw an error, the
// coordinator went on committing) could land after this run has read the
// last checkpoint. A transaction that has ended, or that the coordinator
// never knew, needs nothing. An admin API that cannot be reached only costs
// the wait for the timeout: it is logged, not fatal.
func (m *Manager) endPredecessorTxn(ctx context.Context, name string) error {
	txn, err := m.lastAnnouncedTxn(ctx, name)
	if err != nil || txn == "" {
		return err
	}
	return m.settleTxn(ctx, name, txn)
}

// settleTxn aborts transaction txn ("most:least") if the coordinator has
// it open, and waits (up to settleWait) until the coordinator no longer
// knows it.
func (m *Manager) settleTxn(ctx context.Context, name, txn string) error {
	most, least, ok := strings.Cut(txn, ":")
	if !ok {
		return fmt.Errorf("state of job %s: bad transaction id %q", name, txn)
	}
	meta := m.cfg.AdminURL + "/admin/v3/transactions/transactionMetadata/" + most + "/" + least
	abort := m.cfg.AdminURL + "/admin/v3/transactions/abortTransaction/" + most + "/" + least
	deadline := time.Now().Add(settleWait)
	aborted := false
	for {
		var st struct {
			Status string `json:"status"`
		}
		code, body, err := adminDo(ctx, http.MethodGet, meta, &st)
		switch {
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			m.log.Warn("jobs: cannot end the previous run's transaction (admin API unreachable); readers of the output wait until it times out",
				"job", name, "txn", txn, "admin", m.cfg.AdminURL, "err", err)
			return nil
		case code == http.StatusNotFound:
			if aborted {
				m.log.Info("jobs: aborted the previous run's open transaction", "job", name, "txn", txn)
			}
			return nil
		case code == http.StatusOK && strings.EqualFold(st.Status, "OPEN"):
			code, body, err = adminDo(ctx, http.MethodPost, abort, nil)
			if err == nil && code/100 == 2 {
				aborted = true
			} else if err == nil {
				m.log.Debug("jobs: abort of the previous run's transaction refused; asking again", "job", name, "txn", txn, "http", code, "body", firstLine(body))
			}
		case code == http.StatusOK && (strings.EqualFold(st.Status, "COMMITTED") || strings.EqualFold(st.Status, "ABORTED")):
			return nil
		case code != http.StatusOK && code/100 != 5:
			// Refused (authentication, an older broker without the
			// endpoint): asking again will not help.
			m.log.Warn("jobs: cannot end the previous run's transaction; readers of the output wait until it times out",
				"job", name, "txn", txn, "http", code, "body", firstLine(body))
			return nil
		}
		// COMMITTING, ABORTING, or a coordinator not ready after a restart.
		if time.Now().After(deadline) {
			return fmt.Errorf("job %s: transaction %s: status %q (HTTP %d %s): %w", name, txn, st.Status, code, firstLine(body), errTxnUnsettled)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// lastAnnouncedTxn returns the transaction announced by the last readable
// message of the job's state topic ("" when that message is no
// announcement: the last run's transactions all ended with a record).
// Records and chunks of an open transaction are not readable yet, so the
// announcement of that transaction is the last readable message.
func (m *Manager) lastAnnouncedTxn(ctx context.Context, name string) (string, error) {
	msg, err := cpulsar.ReadLast(ctx, m.cfg.Client, m.stateTopic(name))
	if err != nil {
		return "", fmt.Errorf("state of job %s: %w", name, err)
	}
	if msg == nil {
		return "", nil
	}
	return msg.Properties()[propTxn], nil
}

// adminDo calls the admin REST API; a JSON answer with status 200 is
// decoded into out (when given).
func adminDo(ctx context.Context, method, url string, out any) (int, string, error) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, method, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode == http.StatusOK && out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return resp.StatusCode, string(body), fmt.Errorf("%s %s: %w", method, url, err)
		}
	}
	return resp.StatusCode, string(body), nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// txnOpTimeout bounds a call to the transaction coordinator. The
// pulsar-client-go v0.19 coordinator client takes no context for new,
// commit and abort requests and queues them while it reconnects, without a
// deadline: a call made while a broker restarts can wait indefinitely. Past
// this bound the run fails (transiently) and restarts; its successor
// settles the transaction through the admin API (endPredecessorTxn).
var txnOpTimeout = time.Minute

// errTxnStuck is wrapped when a coordinator call outlived txnOpTimeout.
var errTxnStuck = errors.New("transaction coordinator did not answer")

// txnOpError marks the failure of a transaction operation (new, commit,
// abort, a transactional send to the state topic). It is transient: an
// exactly-once checkpoint's output and record commit together, so a run
// may always restart from the last record, and a coordinator going away
// with its broker answers with whatever error (UnknownError while it
// closes, TransactionCoordinatorNotFound, a timeout).
type txnOpError struct{ err error }

func (e txnOpError) Error() string { return e.err.Error() }
func (e txnOpError) Unwrap() error { return e.err }

// txnCall runs f, a call to the transaction coordinator, and gives up
// waiting after txnOpTimeout or when ctx ends (f's goroutine then finishes
// on its own; its result is dropped).
func txnCall(ctx context.Context, what string, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	t := time.NewTimer(txnOpTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			return txnOpError{err}
		}
		return nil
	case <-t.C:
		return fmt.Errorf("%s: %w within %v", what, errTxnStuck, txnOpTimeout)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
}

// sendRecord writes a message to the state topic. In a transaction the
// send registers the topic with the coordinator first, a call without a
// deadline in pulsar-client-go v0.19, so it is bounded like the others.
func (r *runState) sendRecord(ctx context.Context, msg *pulsar.ProducerMessage) (pulsar.MessageID, error) {
	if msg.Transaction == nil {
		return r.state.Send(ctx, msg)
	}
	var id pulsar.MessageID
	err := txnCall(ctx, "send to the state topic", func() error {
		var err error
		id, err = r.state.Send(ctx, msg)
		return err
	})
	return id, err
}
