// Package jobs runs continuous INSERT INTO t SELECT ... statements as named,
// durable jobs.
//
// # Storage
//
// Job definitions (statement, database, session settings, status) are JSON
// messages keyed by job name in the compacted topic
// persistent://<namespace>/jobs (namespace public/magnetar by default,
// created on first use); a dropped job is a tombstone (the key with an empty
// payload). A manager reads the topic with ReadCompacted at start and resumes
// every job whose status is running, so a restarted process picks its jobs up
// again. Only one manager per namespace should run jobs at a time.
//
// # Checkpoints (at-least-once)
//
// A job whose SELECT is stateless (one table; projections and filters) is
// run with three tracking columns appended to its select list (see
// TrackingCatalog): the partition, message id and publish time of each row's
// source message. Every CheckpointInterval the job flushes its writer (every
// message sent so far is acknowledged) and then records the last source
// position per partition, with row counts, in its state topic
// persistent://<namespace>/job-<name>-state. A restarted job reads the last
// checkpoint, asks the scan to start at the recorded message (scan option
// start=ledger:entry:partition when the source has one partition; earliest
// otherwise) and drops every row at or before the recorded position of its
// partition, so nothing is lost and rows already written are not written
// again when the replay is deterministic. Rows written after the last
// checkpoint and before a crash are written again (at-least-once).
//
// # Exactly-once (setting magnetar.delivery = 'exactly_once')
//
// With Config.TxnClient (a client created with EnableTransaction) a job
// writes each checkpoint's output in one Pulsar transaction, writes the
// checkpoint record (and a stateful job's state chunks) in the same
// transaction, and commits it: output and positions become visible
// together or not at all, so a crash at any point, an abort, a transaction
// timeout or an ambiguous commit error (the coordinator committed but the
// client saw a timeout) neither loses nor repeats a row. Readers never see
// the messages of aborted transactions: the vendored pulsar-client-go
// (third_party/pulsar-client-go, fixing apache/pulsar-client-go#1498) marks
// transactional messages so the broker can filter them.
//
// Each run announces the id of every transaction it opens in the state
// topic (a plain message naming the last record). A run starts by ending
// the transaction its predecessor announced last, if still open, through
// the admin API (Config.AdminURL): readers of the output, which wait at the
// first message of an open transaction, then go on at once instead of
// after the transaction timeout, and a commit of the predecessor still in
// flight settles before the run reads the last record.
//
// Through a broker restart (issue #6): the coordinator answers
// TransactionCoordinatorNotFound while its broker stops or starts, which
// used to fail an exactly-once job for good (it is transient now, like the
// other errors of a broker that is away); and calls to the coordinator are
// bounded (txnOpTimeout here, the operation timeout in the vendored
// client): the v0.19 coordinator client queued them without a deadline
// while it reconnected, which held a job without output while it was
// reported running. A call past the bound restarts the run.
//
// # Failures
//
// A run that fails because the broker is unreachable for a while (send
// timeouts, lost connections, lookups during a broker restart) restarts from
// the last checkpoint with backoff (1s doubling to 10s, up to 60 restarts
// without a checkpoint; SHOW JOBS shows the error meanwhile). Other failures
// (plan, data, schema, message too large) mark the job failed with the
// reason; RESUME JOB retries it.
//
// # Stateful jobs
//
// A stateful job (GROUP BY, aggregates, window aggregates, deduplication,
// ...) over one Pulsar table through single-input operators checkpoints its
// operators' states together with the source positions they cover: see
// checkpoint.go. Its state is in the state topic only (chunked), so any
// process can resume it. Other stateful jobs (joins, UNION ALL, operators
// whose state cannot be saved) keep no source positions: they restart from
// the scan's start position and recompute; into a keyed (upsert) table this
// converges to the same result.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/pulsar-client-go/pulsar"
	"github.com/magnetar-sql/magnetar/catalog"
	cpulsar "github.com/magnetar-sql/magnetar/catalog/pulsar"
	"github.com/magnetar-sql/magnetar/exec"
)

// Defaults for Config.
const (
	DefaultNamespace          = "public/magnetar"
	DefaultCheckpointInterval = 5 * time.Second
)

// Job statuses.
const (
	StatusRunning = "running"
	StatusStopped = "stopped"
	StatusFailed  = "failed"
)

// ErrNotFound is wrapped when a job does not exist; ErrExists when it does.
var (
	ErrNotFound = errors.New("job not found")
	ErrExists   = errors.New("job already exists")
)

// Runner binds and opens query (a SELECT) in database db with the given
// session settings, in continuous mode, over the catalog, or over
// TrackingCatalog(catalog) when track is set. The engine provides it
// (engine.(*Engine).JobRunner).
type Runner func(ctx context.Context, db, query string, settings map[string]string, track bool) (exec.Operator, error)

// Config says where jobs live and how they run.
type Config struct {
	Client pulsar.Client
	// Catalog resolves target tables and creates the jobs namespace.
	Catalog catalog.Catalog
	Runner  Runner
	// Namespace holds the jobs topic and state topics (else EnvNamespace,
	// else DefaultNamespace).
	Namespace string
	// CheckpointInterval is how often running jobs checkpoint (else
	// EnvCheckpointInterval, else DefaultCheckpointInterval).
	CheckpointInterval time.Duration
	Mem                memory.Allocator
	Logger             *slog.Logger
	// TxnClient is a client created with EnableTransaction, used by jobs
	// whose settings ask for exactly-once delivery (DeliverySetting).
	TxnClient pulsar.Client
	// TxnTimeout bounds a checkpoint's transaction (else EnvTxnTimeout,
	// else 1 minute).
	TxnTimeout time.Duration
	// AdminURL is the broker's admin REST URL (else the Catalog's, when
	// it has an AdminURL method, else EnvAdminURL, else DefaultAdminURL). An exactly-once job aborts, through it, the
	// transaction its predecessor run left open, so readers of the output
	// need not wait for that transaction to time out.
	AdminURL string
	// StateChunkBytes bounds the state chunk messages of stateful jobs'
	// checkpoints (default and maximum MaxStateChunk).
	StateChunkBytes int
	// NoResume loads the job definitions without starting the running ones:
	// a shell creates and runs its own jobs in-process but must not take
	// over the jobs `magnetar serve` runs.
	NoResume bool
}

// DeliverySetting is the job setting choosing the delivery guarantee:
// "at_least_once" (default) or "exactly_once" (Pulsar transactions: a
// checkpoint's output is one transaction committed when the checkpoint
// completes; needs Config.TxnClient and a Pulsar target table).
const DeliverySetting = "magnetar.delivery"

// Def is a job definition as stored in the jobs topic.
type Def struct {
	Name     string            `json:"name"`
	SQL      string            `json:"sql"`
	DB       string            `json:"db"`
	Settings map[string]string `json:"settings,omitempty"`
	Status   string            `json:"status"`
	Error    string            `json:"error,omitempty"`
	Created  time.Time         `json:"created"`
}

// Checkpoint is a job's progress as stored in its state topic.
type Checkpoint struct {
	ID uint64 `json:"id"`
	// Positions maps a partition ("-1": not partitioned) to the last source
	// message whose output is acknowledged.
	Positions map[string]Pos `json:"positions,omitempty"`
	RowsIn    int64          `json:"rows_in"`
	RowsOut   int64          `json:"rows_out"`
	Time      time.Time      `json:"time"`
	// State locates the operators' states of a stateful job (nil: none
	// saved; see checkpoint.go).
	State *StateRef `json:"state,omitempty"`
}

// Info is what SHOW JOBS shows of a job.
type Info struct {
	Name, SQL, DB, Status, Error string
	RowsIn, RowsOut              int64
	// Lag is how long after its source message was published the last row
	// was written (0: unknown).
	Lag            time.Duration
	LastCheckpoint time.Time
	Checkpoints    uint64
	// Tracked says whether the job records source positions.
	Tracked bool
	// Stateful says whether the job checkpoints its operators' states
	// (then RowsIn counts source rows consumed, not rows written).
	Stateful bool
	// RunRowsIn is the number of source rows the current run has read,
	// rows replayed before the restored checkpoint's positions included.
	RunRowsIn int64
	// StateBytes is the size of the last checkpoint's operator states.
	StateBytes int64
	// Restored is the checkpoint the current run started from (0: none).
	Restored uint64
	// CheckpointRowsIn is RowsIn as of the last checkpoint.
	CheckpointRowsIn int64
}

// Manager runs the jobs of one namespace.
type Manager struct {
	cfg      Config
	log      *slog.Logger
	defsProd pulsar.Producer

	mu   sync.Mutex
	jobs map[string]*job
}

// Environment variables filling Config fields left zero, so that a process
// such as `magnetar serve` can be pointed at its own jobs namespace (tests
// run servers side by side on one broker) and tuned without new flags.
const (
	EnvNamespace          = "MAGNETAR_JOBS_NAMESPACE"           // Config.Namespace
	EnvCheckpointInterval = "MAGNETAR_JOBS_CHECKPOINT_INTERVAL" // Config.CheckpointInterval, a Go duration
	EnvTxnTimeout         = "MAGNETAR_JOBS_TXN_TIMEOUT"         // Config.TxnTimeout, a Go duration
	EnvAdminURL           = "MAGNETAR_ADMIN_URL"                // Config.AdminURL (the variable the CLI reads too)
)

// DefaultAdminURL is the admin URL of a local standalone broker.
const DefaultAdminURL = "http://localhost:8080"

// envDuration reads a positive Go duration from the environment (0: unset
// or unreadable).
func envDuration(key string) time.Duration {
	d, err := time.ParseDuration(os.Getenv(key))
	if err != nil || d <= 0 {
		return 0
	}
	return d
}

func (c Config) withDefaults() Config {
	if c.Namespace == "" {
		c.Namespace = os.Getenv(EnvNamespace)
	}
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if c.CheckpointInterval <= 0 {
		c.CheckpointInterval = envDuration(EnvCheckpointInterval)
	}
	if c.CheckpointInterval <= 0 {
		c.CheckpointInterval = DefaultCheckpointInterval
	}
	if c.StateChunkBytes <= 0 || c.StateChunkBytes > MaxStateChunk {
		c.StateChunkBytes = MaxStateChunk
	}
	if c.Mem == nil {
		c.Mem = memory.DefaultAllocator
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.TxnTimeout <= 0 {
		c.TxnTimeout = envDuration(EnvTxnTimeout)
	}
	if c.TxnTimeout <= 0 {
		c.TxnTimeout = time.Minute
	}
	if a, ok := c.Catalog.(interface{ AdminURL() string }); ok && c.AdminURL == "" {
		c.AdminURL = a.AdminURL() // the broker the catalog was pointed at (--admin-url)
	}
	if c.AdminURL == "" {
		c.AdminURL = os.Getenv(EnvAdminURL)
	}
	if c.AdminURL == "" {
		c.AdminURL = DefaultAdminURL
	}
	c.AdminURL = strings.TrimRight(c.AdminURL, "/")
	return c
}

func (m *Manager) defsTopic() string { return "persistent://" + m.cfg.Namespace + "/jobs" }

func (m *Manager) stateTopic(name string) string {
	return "persistent://" + m.cfg.Namespace + "/" + stateTable(name)
}

func stateTable(name string) string { return "job-" + name + "-state" }

// NewManager loads the job definitions and starts every running job.
func NewManager(ctx context.Context, cfg Config) (*Manager, error) {
	cfg = cfg.withDefaults()
	if cfg.Client == nil || cfg.Catalog == nil || cfg.Runner == nil {
		return nil, errors.New("jobs: Config needs Client, Catalog and Runner")
	}
	m := &Manager{cfg: cfg, log: cfg.Logger, jobs: map[string]*job{}}
	if err := cfg.Catalog.CreateDatabase(ctx, cfg.Namespace, true); err != nil && !errors.Is(err, catalog.ErrExists) {
		return nil, fmt.Errorf("jobs: namespace %s: %w", cfg.Namespace, err)
	}
	defs, err := m.loadDefs(ctx)
	if err != nil {
		return nil, err
	}
	// Batching stays on (batches of one): pulsar-client-go v0.19 readers
	// discard a non-batched message with an empty payload (a tombstone) as
	// corrupted and then block, while an empty message inside a batch reads.
	p, err := cfg.Client.CreateProducer(pulsar.ProducerOptions{Topic: m.defsTopic(), BatchingMaxMessages: 1, BatchingMaxPublishDelay: time.Millisecond})
	if err != nil {
		return nil, fmt.Errorf("jobs: producer on %s: %w", m.defsTopic(), err)
	}
	m.defsProd = p
	for _, d := range defs {
		j := m.newJob(d)
		m.jobs[d.Name] = j
		if d.Status == StatusRunning && !cfg.NoResume {
			j.start()
		}
	}
	return m, nil
}

// loadDefs reads the jobs topic (compacted view) up to its end; the last
// message per key wins, tombstones delete.
func (m *Manager) loadDefs(ctx context.Context) (map[string]Def, error) {
	r, err := m.cfg.Client.CreateReader(pulsar.ReaderOptions{
		Topic: m.defsTopic(), StartMessageID: pulsar.EarliestMessageID(), ReadCompacted: true,
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: reader on %s: %w", m.defsTopic(), err)
	}
	defer r.Close()
	defs := map[string]Def{}
	for {
		more, err := cpulsar.HasNext(r)
		if err != nil {
			// Never an empty list by mistake: every job would vanish.
			return nil, fmt.Errorf("jobs: read %s: %w", m.defsTopic(), err)
		}
		if !more {
			break
		}
		msg, err := r.Next(ctx)
		if err != nil {
			return nil, fmt.Errorf("jobs: read %s: %w", m.defsTopic(), err)
		}
		if len(msg.Payload()) == 0 {
			delete(defs, msg.Key())
			continue
		}
		var d Def
		if err := json.Unmarshal(msg.Payload(), &d); err != nil {
			m.log.Warn("jobs: skipping unreadable job definition", "key", msg.Key(), "err", err)
			continue
		}
		defs[msg.Key()] = d
	}
	return defs, nil
}

func (m *Manager) storeDef(ctx context.Context, d Def) error {
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	if _, err := m.defsProd.Send(ctx, &pulsar.ProducerMessage{Key: d.Name, Payload: b}); err != nil {
		return fmt.Errorf("jobs: store job %s: %w", d.Name, err)
	}
	return nil
}

// Create defines job name running insert (an INSERT INTO ... SELECT ...) in
// database db with the session settings, stores it and starts it.
func (m *Manager) Create(ctx context.Context, name, db, insert string, settings map[string]string) error {
	if !ValidName(name) {
		return fmt.Errorf("jobs: invalid job name %q (letters, digits, _ - . only)", name)
	}
	p, err := planInsert(insert)
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	tdb := p.db
	if tdb == "" {
		tdb = db
	}
	t, err := m.cfg.Catalog.Table(ctx, tdb, p.table)
	if err != nil {
		return fmt.Errorf("jobs: target of job %s: %w", name, err)
	}
	if _, ok := t.(catalog.Insertable); !ok {
		return fmt.Errorf("jobs: table %q does not accept INSERT", p.table)
	}
	// Bind once now so a job that cannot run is refused at once.
	op, err := m.cfg.Runner(ctx, db, p.query, withoutMode(settings), p.tracked)
	if err != nil {
		return fmt.Errorf("jobs: job %s: %w", name, err)
	}
	_, mapErr := newMapper(op.Schema(), t.Schema(), p, m.cfg.Mem)
	op.Close()
	if mapErr != nil {
		return fmt.Errorf("jobs: job %s: %w", name, mapErr)
	}
	m.mu.Lock()
	if _, ok := m.jobs[name]; ok {
		m.mu.Unlock()
		return fmt.Errorf("jobs: %s: %w", name, ErrExists)
	}
	d := Def{Name: name, SQL: insert, DB: db, Settings: withoutMode(settings), Status: StatusRunning, Created: time.Now().UTC()}
	j := m.newJob(d)
	m.jobs[name] = j
	m.mu.Unlock()
	if err := m.storeDef(ctx, d); err != nil {
		m.mu.Lock()
		delete(m.jobs, name)
		m.mu.Unlock()
		return err
	}
	j.start()
	return nil
}

// withoutMode drops the session's mode setting: jobs always run continuous.
func withoutMode(s map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range s {
		if k != "magnetar.mode" {
			out[k] = v
		}
	}
	return out
}

func (m *Manager) get(name string) (*job, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j, ok := m.jobs[name]
	if !ok {
		return nil, fmt.Errorf("jobs: %s: %w", name, ErrNotFound)
	}
	return j, nil
}

// Stop stops a job after a final checkpoint and stores it as stopped.
func (m *Manager) Stop(ctx context.Context, name string) error {
	j, err := m.get(name)
	if err != nil {
		return err
	}
	j.stop()
	return m.setStatus(ctx, j, StatusStopped, "")
}

// Resume starts a stopped or failed job from its last checkpoint.
func (m *Manager) Resume(ctx context.Context, name string) error {
	j, err := m.get(name)
	if err != nil {
		return err
	}
	if j.running() {
		return nil
	}
	if err := m.setStatus(ctx, j, StatusRunning, ""); err != nil {
		return err
	}
	j.start()
	return nil
}

// Drop stops a job and deletes its definition and state topic.
func (m *Manager) Drop(ctx context.Context, name string, ifExists bool) error {
	j, err := m.get(name)
	if err != nil {
		if ifExists && errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	j.stop()
	if _, err := m.defsProd.Send(ctx, &pulsar.ProducerMessage{Key: name}); err != nil {
		return fmt.Errorf("jobs: drop %s: %w", name, err)
	}
	m.mu.Lock()
	delete(m.jobs, name)
	m.mu.Unlock()
	if err := m.cfg.Catalog.DropTable(ctx, m.cfg.Namespace, stateTable(name), true); err != nil {
		m.log.Warn("jobs: could not delete state topic", "job", name, "err", err)
	}
	return nil
}

func (m *Manager) setStatus(ctx context.Context, j *job, status, msg string) error {
	j.mu.Lock()
	j.def.Status, j.def.Error = status, msg
	d := j.def
	j.mu.Unlock()
	return m.storeDef(ctx, d)
}

// Jobs lists the jobs by name.
func (m *Manager) Jobs() []Info {
	m.mu.Lock()
	js := make([]*job, 0, len(m.jobs))
	for _, j := range m.jobs {
		js = append(js, j)
	}
	m.mu.Unlock()
	out := make([]Info, 0, len(js))
	for _, j := range js {
		out = append(out, j.info())
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

// Job returns one job's info.
func (m *Manager) Job(name string) (Info, error) {
	j, err := m.get(name)
	if err != nil {
		return Info{}, err
	}
	return j.info(), nil
}

// Close stops every job after a final checkpoint. Their stored status is
// left as it is, so the next manager resumes the running ones.
func (m *Manager) Close() error {
	m.mu.Lock()
	js := make([]*job, 0, len(m.jobs))
	for _, j := range m.jobs {
		js = append(js, j)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, j := range js {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j.stop()
		}()
	}
	wg.Wait()
	if m.defsProd != nil {
		m.defsProd.Close()
	}
	return nil
}

// describe formats a job failure for SHOW JOBS.
func describe(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
