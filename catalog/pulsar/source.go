package pulsar

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
)

// Warner is implemented by source operators that skipped data; the engine
// shows the warnings with the query result.
type Warner interface {
	Warnings() []string
}

// Progresser is implemented by source operators that know how far they are:
// messages and bytes read so far of an estimated total (0: unknown).
type Progresser interface {
	Progress() (readMsgs, totalMsgs, readBytes, totalBytes int64)
}

// WatermarkFunc is the hook for event-time watermarks: called with every
// batch (and the partition it came from, -1 if not partitioned) before the
// batch is returned, it may return a watermark to emit right after it.
type WatermarkFunc func(partition int, rec arrow.RecordBatch) (watermark int64, ok bool)

// WatermarkHooker is implemented by the source operators: the streaming
// engine installs its watermark generator with it before Open.
type WatermarkHooker interface {
	SetWatermarkFunc(WatermarkFunc)
}

// StatsReporter is implemented by the source operators (EXPLAIN ANALYZE,
// tests asserting how much pushdown saved).
type StatsReporter interface {
	Stats() ScanStats
}

// ScanStats counts what a scan did.
type ScanStats struct {
	MessagesRead   int64 // messages received from the broker (decoded or not)
	BytesRead      int64 // payload bytes of those messages
	Rows           int64 // rows produced
	DecodeErrors   int64 // messages skipped because they did not decode
	Partitions     int   // partitions read
	Segments       int   // reader tasks (ledger ranges) of a bounded scan
	LedgersSkipped int   // ledgers skipped by publish-time pushdown
}

// scanOptions are the per-query settings.
type scanOptions struct {
	batchSize   int
	linger      time.Duration
	parallelism int
	split       bool
	asOf        int64 // µs; 0: none
	start       string
	deadLetter  string
	// resume maps partitions (-1: not partitioned) to the last message
	// already read there: the scan starts right after it (start_positions).
	resume map[int]StartPosition
}

// StartPosition is a message within one partition, as its __message_id
// shows it: ledger, entry, and index within its batch (0 for a message
// sent alone).
type StartPosition struct {
	Ledger, Entry int64
	Batch         int32
}

// Resumer is implemented by the source operators: a durable job whose
// checkpoint recorded the last message it processed per partition calls
// ResumeAfter before Open, and each listed partition is then read from
// right after its message (what the start_positions option does). Other
// partitions start where the start option says.
type Resumer interface {
	ResumeAfter(map[int]StartPosition)
}

// FormatStartPositions renders positions as the start_positions option
// takes them: "ledger:entry:partition:batch" message ids, comma-separated,
// in partition order.
func FormatStartPositions(ps map[int]StartPosition) string {
	parts := make([]int, 0, len(ps))
	for p := range ps {
		parts = append(parts, p)
	}
	sort.Ints(parts)
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(',')
		}
		sp := ps[p]
		fmt.Fprintf(&b, "%d:%d:%d:%d", sp.Ledger, sp.Entry, p, sp.Batch)
	}
	return b.String()
}

// parseStartPositions parses the start_positions option: message ids
// "ledger:entry:partition[:batch]" (partition -1 for a topic that is not
// partitioned), separated by commas or spaces.
func parseStartPositions(v string) (map[int]StartPosition, error) {
	out := map[int]StartPosition{}
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
		nums := strings.Split(strings.Trim(f, "()[]"), ":")
		if len(nums) < 3 || len(nums) > 4 {
			return nil, fmt.Errorf("%q: want ledger:entry:partition[:batch]", f)
		}
		var n [4]int64
		for i, x := range nums {
			var err error
			if n[i], err = strconv.ParseInt(x, 10, 64); err != nil {
				return nil, fmt.Errorf("%q: want ledger:entry:partition[:batch]", f)
			}
		}
		if n[0] < 0 || n[1] < 0 || n[2] < -1 || n[3] < 0 || n[2] > math.MaxInt32 || n[3] > math.MaxInt32 {
			return nil, fmt.Errorf("%q: out of range", f)
		}
		if _, dup := out[int(n[2])]; dup {
			return nil, fmt.Errorf("partition %d given twice", n[2])
		}
		out[int(n[2])] = StartPosition{Ledger: n[0], Entry: n[1], Batch: int32(n[3])}
	}
	return out, nil
}

func (t *Table) parseOptions(opts map[string]string) (scanOptions, error) {
	cfg := t.cat.cfg
	o := scanOptions{batchSize: cfg.BatchSize, linger: cfg.Linger, parallelism: cfg.ScanParallelism, split: cfg.SegmentSplit, start: "earliest"}
	for k, v := range opts {
		var err error
		switch strings.ToLower(k) {
		case "batch_size":
			o.batchSize, err = strconv.Atoi(v)
			if err == nil && o.batchSize <= 0 {
				err = errors.New("must be positive")
			}
		case "linger":
			o.linger, err = time.ParseDuration(v)
			if err == nil && o.linger <= 0 {
				err = errors.New("must be positive")
			}
		case "parallelism":
			o.parallelism, err = strconv.Atoi(v)
			if err == nil && o.parallelism <= 0 {
				err = errors.New("must be positive")
			}
		case "segment_split":
			o.split, err = strconv.ParseBool(v)
		case "as_of":
			o.asOf, err = strconv.ParseInt(v, 10, 64)
			if err != nil {
				if us, ok := parseTime(v); ok {
					o.asOf, err = us, nil
				}
			}
		case "start":
			o.start = strings.TrimSpace(v)
		case "dead_letter_topic":
			o.deadLetter = strings.TrimSpace(v)
		case "start_positions":
			o.resume, err = parseStartPositions(v)
		}
		if err != nil {
			return o, fmt.Errorf("pulsar: scan option %s=%q: %v", k, v, err)
		}
	}
	return o, nil
}

// source is the scan operator of a Pulsar table.
type source struct {
	t     *Table
	mode  catalog.Mode
	opts  scanOptions
	limit int64
	bnd   bounds

	out     *arrow.Schema // requested columns
	target  *arrow.Schema // table columns to decode, in builder order
	metas   []int         // metadata columns, in builder order after target
	bschema *arrow.Schema // builder schema: target fields then metas
	proj    []int         // output column → builder column

	wm WatermarkFunc

	cancel  context.CancelFunc
	results chan result
	wg      sync.WaitGroup
	opened  bool
	done    bool
	emitted int64
	pending []exec.Message

	readMsgs, readBytes, rows, decodeErrs atomic.Int64
	totalMsgs, totalBytes                 atomic.Int64
	nparts                                atomic.Int32
	nsegs, skipped                        int

	mu       sync.Mutex
	failures []string // first few undecodable messages
	dlq      *deadLetter
}

// result is one batch (or error) from a reader.
type result struct {
	rec  arrow.RecordBatch
	part int
	err  error
}

// maxFailureSamples is how many undecodable message ids a warning names.
const maxFailureSamples = 5

var (
	_ exec.Operator   = (*source)(nil)
	_ Warner          = (*source)(nil)
	_ Progresser      = (*source)(nil)
	_ WatermarkHooker = (*source)(nil)
	_ StatsReporter   = (*source)(nil)
	_ Resumer         = (*source)(nil)
)

func newSource(t *Table, req catalog.ScanRequest) (*source, error) {
	opts, err := t.scanOptions(req)
	if err != nil {
		return nil, err
	}
	s := &source{t: t, mode: req.Mode, opts: opts, limit: req.Limit, bnd: newBounds()}
	if req.Limit == 0 {
		s.limit = 0
	} else if req.Limit < 0 {
		s.limit = -1
	}
	for _, f := range req.Filters {
		t.analyze(f, &s.bnd)
	}
	nvis := t.schema.NumFields()
	cols := req.Columns
	if cols == nil {
		cols = make([]int, nvis)
		for i := range cols {
			cols[i] = i
		}
	}
	// Builder layout: each distinct table column once (in table order, so a
	// decoder can fill them), then each distinct metadata column.
	want := make([]bool, nvis+len(metaFields))
	for _, c := range cols {
		if c < 0 || c >= len(want) {
			return nil, fmt.Errorf("pulsar: table %s has no column %d", t.name, c)
		}
		want[c] = true
	}
	pos := make([]int, len(want))
	var tf, bf []arrow.Field
	for c := 0; c < nvis; c++ {
		if want[c] {
			pos[c] = len(tf)
			tf = append(tf, t.schema.Field(c))
		}
	}
	bf = append(bf, tf...)
	for m := range metaFields {
		if want[nvis+m] {
			pos[nvis+m] = len(bf)
			bf = append(bf, metaFields[m])
			s.metas = append(s.metas, m)
		}
	}
	s.target = arrow.NewSchema(tf, nil)
	s.bschema = arrow.NewSchema(bf, nil)
	of := make([]arrow.Field, len(cols))
	s.proj = make([]int, len(cols))
	for i, c := range cols {
		s.proj[i] = pos[c]
		if c < nvis {
			of[i] = t.schema.Field(c)
		} else {
			of[i] = metaFields[c-nvis]
		}
	}
	s.out = arrow.NewSchema(of, nil)
	return s, nil
}

// SetWatermarkFunc installs the event-time watermark hook (before Open).
func (s *source) SetWatermarkFunc(f WatermarkFunc) { s.wm = f }

// ResumeAfter implements Resumer (before Open); its positions replace
// those of the start_positions option.
func (s *source) ResumeAfter(ps map[int]StartPosition) {
	s.opts.resume = make(map[int]StartPosition, len(ps))
	for p, sp := range ps {
		s.opts.resume[p] = sp
	}
}

// resumeFor returns the position partition part resumes after, if any.
func (s *source) resumeFor(part int) (StartPosition, bool) {
	sp, ok := s.opts.resume[part]
	return sp, ok
}

// Schema implements exec.Operator.
func (s *source) Schema() *arrow.Schema { return s.out }

// Open implements exec.Operator: it plans the read (fixing the snapshot end
// of a bounded scan) and starts the readers.
func (s *source) Open(ctx context.Context) error {
	if s.opened {
		return nil
	}
	s.opened = true
	if s.limit == 0 {
		s.done = true
		return nil
	}
	// Readers outlive Open's context; Close stops them.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	if s.opts.deadLetter != "" {
		s.dlq = &deadLetter{cat: s.t.cat, topic: s.opts.deadLetter}
	}
	parts := s.partitions(s.t.partitions)
	s.nparts.Store(int32(len(parts)))
	s.results = make(chan result, max(2, s.opts.parallelism))
	if s.mode == catalog.Unbounded {
		return s.startUnbounded(ctx, runCtx, parts)
	}
	segs, err := s.planBounded(ctx, parts)
	if err != nil {
		cancel()
		return err
	}
	s.nsegs = len(segs)
	tasks := make(chan segment, len(segs))
	for _, sg := range segs {
		tasks <- sg
	}
	close(tasks)
	workers := min(s.opts.parallelism, len(segs))
	for range workers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			w := s.newWorker()
			defer w.release()
			for sg := range tasks {
				if err := w.read(runCtx, sg); err != nil {
					s.send(runCtx, result{err: err})
					cancel()
					return
				}
			}
		}()
	}
	go func() {
		s.wg.Wait()
		close(s.results)
	}()
	return nil
}

// partitions lists the partition indices to read (-1: the topic itself).
func (s *source) partitions(n int) []int {
	if n == 0 {
		if s.bnd.parts != nil && !s.bnd.parts[-1] {
			return nil
		}
		return []int{-1}
	}
	var ps []int
	for p := 0; p < n; p++ {
		if s.bnd.parts == nil || s.bnd.parts[p] {
			ps = append(ps, p)
		}
	}
	return ps
}

// send delivers r unless the scan is closing.
func (s *source) send(ctx context.Context, r result) bool {
	select {
	case s.results <- r:
		return true
	case <-ctx.Done():
		if r.rec != nil {
			r.rec.Release()
		}
		return false
	}
}

// Next implements exec.Operator.
func (s *source) Next(ctx context.Context) (exec.Message, error) {
	if len(s.pending) > 0 {
		m := s.pending[0]
		s.pending = s.pending[1:]
		return m, nil
	}
	if s.done {
		return exec.EndMsg, nil
	}
	if !s.opened {
		return exec.Message{}, errors.New("pulsar: scan not opened")
	}
	for {
		select {
		case <-ctx.Done():
			return exec.Message{}, ctx.Err()
		case r, ok := <-s.results:
			if !ok {
				s.finish()
				return exec.EndMsg, nil
			}
			if r.err != nil {
				s.finish()
				return exec.Message{}, r.err
			}
			rec := s.project(r.rec)
			if s.limit >= 0 && s.emitted+rec.NumRows() >= s.limit {
				if s.emitted+rec.NumRows() > s.limit {
					cut := rec.NewSlice(0, s.limit-s.emitted)
					rec.Release()
					rec = cut
				}
				s.finish()
			}
			s.emitted += rec.NumRows()
			s.rows.Store(s.emitted)
			if rec.NumRows() == 0 {
				rec.Release()
				if s.done {
					return exec.EndMsg, nil
				}
				continue
			}
			if s.wm != nil {
				if w, ok := s.wm(r.part, rec); ok {
					s.pending = append(s.pending, exec.WatermarkMsg(w))
				}
			}
			return exec.BatchMsg(rec, nil), nil
		}
	}
}

// project builds the output record from a builder record (consuming it).
func (s *source) project(b arrow.RecordBatch) arrow.RecordBatch {
	cols := make([]arrow.Array, len(s.proj))
	for i, p := range s.proj {
		cols[i] = b.Column(p)
	}
	out := array.NewRecordBatch(s.out, cols, b.NumRows())
	b.Release()
	return out
}

// finish stops the readers and releases what is in flight; later Next
// calls return End.
func (s *source) finish() {
	s.done = true
	if s.cancel != nil {
		s.cancel()
	}
	if s.results != nil {
		// Drain so that blocked senders exit; the channel closes once every
		// reader has stopped.
		for r := range s.results {
			if r.rec != nil {
				r.rec.Release()
			}
		}
		s.results = nil
	}
	if s.dlq != nil {
		s.dlq.flush()
	}
}

// Close implements exec.Operator.
func (s *source) Close() error {
	s.finish()
	for _, m := range s.pending {
		m.Release()
	}
	s.pending = nil
	return nil
}

// Children implements exec.Operator.
func (s *source) Children() []exec.Operator { return nil }

// String implements exec.Operator.
func (s *source) String() string {
	var b strings.Builder
	mode := "bounded"
	if s.mode == catalog.Unbounded {
		mode = "unbounded"
	}
	fmt.Fprintf(&b, "PulsarScan %s.%s %s [", s.t.db, s.t.name, mode)
	for i, f := range s.out.Fields() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.Name)
	}
	b.WriteString("]")
	if s.bnd.parts != nil {
		ps := make([]int, 0, len(s.bnd.parts))
		for p := range s.bnd.parts {
			ps = append(ps, p)
		}
		fmt.Fprintf(&b, " partitions=%v", ps)
	}
	if s.bnd.hasPub {
		if s.bnd.pubLo > minTime {
			fmt.Fprintf(&b, " publish_time>=%s", fmtMicros(s.bnd.pubLo))
		}
		if s.bnd.pubHi < maxTime {
			fmt.Fprintf(&b, " publish_time<=%s", fmtMicros(s.bnd.pubHi))
		}
	}
	if s.opts.asOf != 0 {
		fmt.Fprintf(&b, " as_of=%s", fmtMicros(s.opts.asOf))
	}
	if len(s.opts.resume) > 0 {
		fmt.Fprintf(&b, " start_after=%s", FormatStartPositions(s.opts.resume))
	}
	if s.limit >= 0 {
		fmt.Fprintf(&b, " limit=%d", s.limit)
	}
	return b.String()
}

func fmtMicros(us int64) string {
	return time.UnixMicro(us).UTC().Format("2006-01-02 15:04:05.999999")
}

// Warnings implements Warner: how many messages did not decode, and the
// first few message ids with their errors.
func (s *source) Warnings() []string {
	n := s.decodeErrs.Load()
	if n == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w := fmt.Sprintf("%d message(s) of %s could not be decoded and were skipped", n, s.t.topic)
	if len(s.failures) > 0 {
		w += "; first: " + strings.Join(s.failures, "; ")
	}
	out := []string{w}
	if s.dlq != nil {
		if err := s.dlq.error(); err != nil {
			out = append(out, fmt.Sprintf("dead-letter topic %s: %v", s.dlq.topic, err))
		} else {
			out = append(out, fmt.Sprintf("%d undecodable message(s) copied to %s", s.dlq.sent.Load(), s.dlq.topic))
		}
	}
	return out
}

// Progress implements Progresser. Totals are estimates from the topic's
// internal stats: entries (a batch of messages is one entry) and stored
// bytes (headers included); they grow to what was read if exceeded.
func (s *source) Progress() (readMsgs, totalMsgs, readBytes, totalBytes int64) {
	readMsgs, readBytes = s.readMsgs.Load(), s.readBytes.Load()
	totalMsgs, totalBytes = max(s.totalMsgs.Load(), readMsgs), max(s.totalBytes.Load(), readBytes)
	return
}

// Stats returns the scan's counters.
func (s *source) Stats() ScanStats {
	return ScanStats{
		MessagesRead:   s.readMsgs.Load(),
		BytesRead:      s.readBytes.Load(),
		Rows:           s.rows.Load(),
		DecodeErrors:   s.decodeErrs.Load(),
		Partitions:     int(s.nparts.Load()),
		Segments:       s.nsegs,
		LedgersSkipped: s.skipped,
	}
}

// recordFailure counts an undecodable message and keeps its id for warnings.
func (s *source) recordFailure(id string, err error) {
	if s.decodeErrs.Add(1) > maxFailureSamples {
		return
	}
	s.mu.Lock()
	if len(s.failures) < maxFailureSamples {
		s.failures = append(s.failures, id+": "+shortErr(err))
	}
	s.mu.Unlock()
}

// scanOptions are a request's options over the catalog's defaults for its
// mode: unbounded scans linger less by default (Config.StreamLinger).
func (t *Table) scanOptions(req catalog.ScanRequest) (scanOptions, error) {
	opts, err := t.parseOptions(req.Options)
	if err == nil && req.Mode == catalog.Unbounded && !hasOption(req.Options, "linger") {
		opts.linger = t.cat.cfg.StreamLinger
	}
	return opts, err
}

// hasOption reports whether a scan option was given (keys are
// case-insensitive, as in parseOptions).
func hasOption(opts map[string]string, name string) bool {
	for k := range opts {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}
