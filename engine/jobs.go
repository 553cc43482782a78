package engine

// Job statements and continuous INSERT ... SELECT (owner: sinks/jobs).
// The engine must call, in Session.Run before sql.Parse:
//
//	if cmd, ok := jobs.ParseCommand(text); ok { res, err := s.RunJobCommand(ctx, cmd); ...fn(res)... }
//
// and, in exec's *ast.InsertStmt case, when s.mode == catalog.Unbounded and
// x.Select != nil: return s.StartJob(ctx, st, x).

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/jobs"
	"github.com/magnetar-sql/magnetar/sql"
	"github.com/pingcap/tidb/pkg/parser/ast"
)

// JobNameSetting names the job a continuous INSERT ... SELECT becomes.
const JobNameSetting = "magnetar.job_name"

// jobManagers attaches job managers to engines (an Engine field would do
// once engine.go takes one).
var jobManagers sync.Map // *Engine → *jobs.Manager

// SetJobs attaches a job manager: job statements and continuous INSERT ...
// SELECT go to it.
func (e *Engine) SetJobs(m *jobs.Manager) { jobManagers.Store(e, m) }

// Jobs returns the attached job manager, or nil.
func (e *Engine) Jobs() *jobs.Manager {
	if m, ok := jobManagers.Load(e); ok {
		return m.(*jobs.Manager)
	}
	return nil
}

// JobRunner returns the jobs.Runner binding job queries in continuous mode
// against the engine's catalog, seen through jobs.TrackingCatalog for
// queries that track source positions.
func (e *Engine) JobRunner() jobs.Runner {
	tracking := New(jobs.TrackingCatalog(e.cat), e.opts)
	return func(ctx context.Context, db, query string, settings map[string]string, track bool) (exec.Operator, error) {
		je := e
		if track {
			je = tracking
		}
		s := je.NewSession()
		s.db = db
		for k, v := range settings {
			if err := s.Set(k, v); err != nil {
				return nil, err
			}
		}
		if err := s.Set(ModeSetting, "continuous"); err != nil {
			return nil, err
		}
		stmts, err := sql.Parse(query)
		if err != nil {
			return nil, err
		}
		if len(stmts) != 1 {
			return nil, fmt.Errorf("job query: want one statement, got %d", len(stmts))
		}
		res, err := s.runOne(ctx, &stmts[0])
		if err != nil {
			return nil, err
		}
		if res.Rows == nil {
			return nil, errors.New("job query returns no rows")
		}
		return res.Rows, nil
	}
}

// jobFactories holds lazily started job managers (SetJobsFactory).
var jobFactories sync.Map // *Engine → *jobFactory

type jobFactory struct {
	once sync.Once
	open func(ctx context.Context) (*jobs.Manager, string, error)
	err  error
	note string
}

// SetJobsFactory arranges for a job manager to be opened on first use of a
// job statement, so that processes that never run jobs (a shell running one
// query) pay nothing. The note returned by open (e.g. "the job runs in this
// shell process") is added to the result of every job-creating statement.
func (e *Engine) SetJobsFactory(open func(ctx context.Context) (*jobs.Manager, string, error)) {
	jobFactories.Store(e, &jobFactory{open: open})
}

func (s *Session) jobManager(ctx context.Context) (*jobs.Manager, string, error) {
	if m := s.e.Jobs(); m != nil {
		return m, s.e.jobNote(), nil
	}
	v, ok := jobFactories.Load(s.e)
	if !ok {
		return nil, "", errors.New("jobs are not enabled (no job manager)")
	}
	f := v.(*jobFactory)
	f.once.Do(func() {
		var m *jobs.Manager
		m, f.note, f.err = f.open(ctx)
		if f.err == nil {
			s.e.SetJobs(m)
		}
	})
	if f.err != nil {
		return nil, "", fmt.Errorf("jobs: %w", f.err)
	}
	return s.e.Jobs(), f.note, nil
}

func (e *Engine) jobNote() string {
	if v, ok := jobFactories.Load(e); ok {
		return v.(*jobFactory).note
	}
	return ""
}

// StartJob turns a continuous INSERT ... SELECT into a durable job named by
// the magnetar.job_name setting (else insert-<table>-<random>).
func (s *Session) StartJob(ctx context.Context, st *sql.Statement, x *ast.InsertStmt) (*Result, error) {
	m, note, err := s.jobManager(ctx)
	if err != nil {
		return nil, &sql.Error{Msg: "continuous INSERT needs jobs: " + err.Error(), Line: st.Line, Column: st.Column}
	}
	name := s.settings[JobNameSetting]
	if name == "" {
		var b [3]byte
		_, _ = rand.Read(b[:])
		table := "table"
		if ts, ok := x.Table.TableRefs.Left.(*ast.TableSource); ok {
			if tn, ok := ts.Source.(*ast.TableName); ok {
				table = tn.Name.O
			}
		}
		name = "insert-" + table + "-" + hex.EncodeToString(b[:])
	}
	if err := s.checkUpdatesFit(ctx, st, x); err != nil {
		return nil, err
	}
	if err := m.Create(ctx, name, s.db, st.Text, s.Settings()); err != nil {
		return nil, err
	}
	res := &Result{Status: "JOB " + name}
	if note != "" {
		res.Warnings = append(res.Warnings, note)
	}
	return res, nil
}

// RunJobCommand executes a statement recognized by jobs.ParseCommand.
func (s *Session) RunJobCommand(ctx context.Context, text string, cmd jobs.Command) (*Result, error) {
	st := sql.Statement{Text: strings.TrimSpace(text), Line: 1, Column: 1}
	m, _, err := s.jobManager(ctx)
	if err != nil {
		return nil, &sql.Error{Msg: err.Error(), Line: 1, Column: 1}
	}
	res := &Result{Statement: st}
	switch cmd.Kind {
	case jobs.ShowJobs:
		schema, rec := jobsTable(s.e.mem, m.Jobs())
		res.Schema, res.Rows = schema, exec.NewValues(schema, []arrow.RecordBatch{rec})
		rec.Release()
		if err := res.Rows.Open(ctx); err != nil {
			return nil, err
		}
		return res, nil
	case jobs.StopJob:
		err = m.Stop(ctx, cmd.Name)
		res.Status = "STOP JOB"
	case jobs.ResumeJob:
		err = m.Resume(ctx, cmd.Name)
		res.Status = "RESUME JOB"
	case jobs.DropJob:
		err = m.Drop(ctx, cmd.Name, cmd.IfExists)
		res.Status = "DROP JOB"
	case jobs.CreateJob:
		err = m.Create(ctx, cmd.Name, s.db, cmd.Insert, s.Settings())
		res.Status = "JOB " + cmd.Name
	default:
		return nil, fmt.Errorf("unknown job command %d", cmd.Kind)
	}
	if err != nil {
		if errors.Is(err, jobs.ErrNotFound) {
			return nil, &sql.Error{Msg: fmt.Sprintf("unknown job %q", cmd.Name), Line: 1, Column: 1}
		}
		return nil, err
	}
	return res, nil
}

var jobsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "name", Type: arrow.BinaryTypes.String},
	{Name: "status", Type: arrow.BinaryTypes.String},
	{Name: "rows_in", Type: arrow.PrimitiveTypes.Int64},
	{Name: "rows_out", Type: arrow.PrimitiveTypes.Int64},
	{Name: "lag_seconds", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "last_checkpoint", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "checkpoints", Type: arrow.PrimitiveTypes.Int64},
	{Name: "error", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "sql", Type: arrow.BinaryTypes.String},
}, nil)

// jobsTable renders SHOW JOBS.
func jobsTable(mem memory.Allocator, infos []jobs.Info) (*arrow.Schema, arrow.RecordBatch) {
	b := array.NewRecordBuilder(mem, jobsSchema)
	defer b.Release()
	for _, j := range infos {
		b.Field(0).(*array.StringBuilder).Append(j.Name)
		b.Field(1).(*array.StringBuilder).Append(j.Status)
		b.Field(2).(*array.Int64Builder).Append(j.RowsIn)
		b.Field(3).(*array.Int64Builder).Append(j.RowsOut)
		if j.Lag > 0 {
			b.Field(4).(*array.Float64Builder).Append(j.Lag.Seconds())
		} else {
			b.Field(4).AppendNull()
		}
		if j.LastCheckpoint.IsZero() {
			b.Field(5).AppendNull()
		} else {
			b.Field(5).(*array.TimestampBuilder).Append(arrow.Timestamp(j.LastCheckpoint.UnixMicro()))
		}
		b.Field(6).(*array.Int64Builder).Append(int64(j.Checkpoints))
		if j.Error == "" {
			b.Field(7).AppendNull()
		} else {
			b.Field(7).(*array.StringBuilder).Append(j.Error)
		}
		b.Field(8).(*array.StringBuilder).Append(j.SQL)
	}
	return jobsSchema, b.NewRecordBatch()
}
