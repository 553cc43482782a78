// Package engine runs SQL: it parses a script, binds each statement against
// the catalog, optimizes and builds the plan, and hands back results whose
// rows the caller pulls. Shell, server and tests all go through it.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/exec"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/magnetar-sql/magnetar/jobs"
	"github.com/magnetar-sql/magnetar/planner"
	"github.com/magnetar-sql/magnetar/sql"
	"github.com/pingcap/tidb/pkg/parser/ast"
)

// ModeSetting is the session setting choosing bounded or continuous runs.
const ModeSetting = "magnetar.mode"

// Options configure an Engine.
type Options struct {
	// Mem allocates Arrow memory; nil means memory.DefaultAllocator.
	Mem memory.Allocator
	// Logger receives internal errors; nil means slog.Default().
	Logger *slog.Logger
}

// Engine runs statements against one catalog. It is safe for concurrent
// use by many sessions.
type Engine struct {
	cat  catalog.Catalog
	mem  memory.Allocator
	log  *slog.Logger
	opts Options
}

// New returns an engine over cat.
func New(cat catalog.Catalog, opts Options) *Engine {
	e := &Engine{cat: cat, mem: opts.Mem, log: opts.Logger, opts: opts}
	if e.mem == nil {
		e.mem = memory.DefaultAllocator
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	return e
}

// Catalog returns the engine's catalog.
func (e *Engine) Catalog() catalog.Catalog { return e.cat }

// Session holds per-connection state: current database and settings. A
// session runs one statement at a time.
type Session struct {
	e        *Engine
	db       string
	mode     catalog.Mode
	settings map[string]string
}

// NewSession starts a session in the catalog's default database, bounded.
func (e *Engine) NewSession() *Session {
	return &Session{e: e, db: e.cat.DefaultDatabase(), settings: map[string]string{ModeSetting: "bounded"}}
}

// Database is the current database.
func (s *Session) Database() string { return s.db }

// Mode is the scan mode queries run in.
func (s *Session) Mode() catalog.Mode { return s.mode }

// Settings returns a copy of the session settings.
func (s *Session) Settings() map[string]string {
	out := make(map[string]string, len(s.settings))
	for k, v := range s.settings {
		out[k] = v
	}
	return out
}

// Set changes a session setting. magnetar.mode takes 'bounded' or
// 'continuous'; other names are stored and passed to scans as options.
func (s *Session) Set(name, value string) error {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == ModeSetting {
		switch strings.ToLower(value) {
		case "bounded", "batch":
			s.mode = catalog.Bounded
			value = "bounded"
		case "continuous", "unbounded", "streaming":
			s.mode = catalog.Unbounded
			value = "continuous"
		default:
			return fmt.Errorf("invalid value %q for %s: want 'bounded' or 'continuous'", value, ModeSetting)
		}
	}
	if err := checkSessionSetting(name, value); err != nil {
		return err
	}
	s.settings[name] = value
	return nil
}

// Result is the outcome of one statement.
type Result struct {
	Statement sql.Statement
	// Schema is nil for statements without rows.
	Schema *arrow.Schema
	// Rows is opened; the caller pulls Next until MsgEnd, then calls
	// Close (or Result.Close).
	Rows     exec.Operator
	Status   string
	Warnings []string
	// late gives the warnings known only once the rows were read (see
	// AllWarnings).
	late func() []string
}

// Close releases the rows, if any.
func (r *Result) Close() error {
	if r == nil || r.Rows == nil {
		return nil
	}
	err := r.Rows.Close()
	r.Rows = nil
	return err
}

// Run parses text (one or more statements) and executes them in order,
// calling fn with each result. Results fn leaves unclosed are closed after
// fn returns. The first error stops the script.
func (s *Session) Run(ctx context.Context, text string, fn func(*Result) error) error {
	// Job statements (SHOW JOBS, STOP JOB, ...) are not MySQL: the jobs
	// package recognizes them before the parser sees them.
	if cmd, ok := jobs.ParseCommand(text); ok {
		res, err := s.RunJobCommand(ctx, text, cmd)
		if err != nil {
			return err
		}
		ferr := fn(res)
		res.Close()
		return ferr
	}
	stmts, err := sql.Parse(text)
	if err != nil {
		return err
	}
	for i := range stmts {
		res, err := s.runOne(ctx, &stmts[i])
		if err != nil {
			return err
		}
		ferr := fn(res)
		res.Close()
		if ferr != nil {
			return ferr
		}
	}
	return nil
}

// runOne executes one statement, turning a panic into an internal error as
// the last line of defence.
func (s *Session) runOne(ctx context.Context, st *sql.Statement) (res *Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.e.log.Error("panic while running statement", "sql", st.Text, "panic", r, "stack", string(debug.Stack()))
			res, err = nil, fmt.Errorf("internal error: %v", r)
		}
	}()
	ctx = expr.WithNow(ctx, time.Now())
	res, err = s.exec(ctx, st)
	if err != nil {
		return nil, err
	}
	res.Statement = *st
	if res.Rows != nil {
		res.Rows = &safeOp{Operator: res.Rows, log: s.e.log}
	}
	return res, nil
}

func (s *Session) binder(ctx context.Context, st *sql.Statement) *planner.Binder {
	run := planner.Runner(s.e.mem, s.settings)
	if s.mode == catalog.Unbounded {
		run = planner.ContinuousRunner(s.e.mem, s.settings)
	}
	return &planner.Binder{
		Ctx: ctx, Catalog: s.e.cat, DB: s.db, Stmt: st,
		Run: run,
	}
}

func (s *Session) builder(metered bool) *planner.Builder {
	return &planner.Builder{Mem: s.e.mem, Mode: s.mode, Options: s.Settings(), Metered: metered}
}

// Plan binds and optimizes a query statement, for EXPLAIN and tests.
func (s *Session) Plan(ctx context.Context, st *sql.Statement) (planner.Node, error) {
	q, ok := st.Node.(ast.ResultSetNode)
	if !ok {
		return nil, fmt.Errorf("not a query: %T", st.Node)
	}
	n, err := s.binder(ctx, st).BindQuery(q)
	if err != nil {
		return nil, err
	}
	return planner.Optimize(planner.WithLateRows(planner.WithSession(ctx, s.mode, s.settings), s.lateRowsOpener()), n)
}

func (s *Session) query(ctx context.Context, st *sql.Statement) (*Result, error) {
	n, err := s.Plan(ctx, st)
	if err != nil {
		return nil, err
	}
	op, err := s.builder(false).Build(ctx, n)
	if err != nil {
		return nil, err
	}
	if err := op.Open(ctx); err != nil {
		op.Close()
		return nil, err
	}
	return &Result{Schema: planner.ArrowSchema(n.Schema()), Rows: op, late: func() []string { return operatorWarnings(op) }}, nil
}

func (s *Session) exec(ctx context.Context, st *sql.Statement) (*Result, error) {
	switch x := st.Node.(type) {
	case *ast.SelectStmt, *ast.SetOprStmt:
		return s.query(ctx, st)
	case *ast.ExplainStmt:
		if show, ok := x.Stmt.(*ast.ShowStmt); ok {
			return s.show(ctx, st, show)
		}
		return s.explain(ctx, st, x)
	case *ast.ShowStmt:
		return s.show(ctx, st, x)
	case *ast.UseStmt:
		if _, err := s.e.cat.Tables(ctx, x.DBName); err != nil {
			if errors.Is(err, catalog.ErrNotFound) {
				return nil, sql.Errorf(st, x.DBName, "unknown database %q", x.DBName)
			}
			return nil, err
		}
		s.db = x.DBName
		return &Result{Status: "USE " + x.DBName}, nil
	case *ast.SetStmt:
		return s.set(ctx, st, x)
	case *ast.CreateDatabaseStmt:
		if err := s.e.cat.CreateDatabase(ctx, x.Name.O, x.IfNotExists); err != nil {
			if errors.Is(err, catalog.ErrExists) {
				return nil, sql.Errorf(st, x.Name.O, "database %q already exists", x.Name.O)
			}
			return nil, err
		}
		return &Result{Status: "CREATE DATABASE"}, nil
	case *ast.CreateTableStmt:
		return s.createTable(ctx, st, x)
	case *ast.DropTableStmt:
		return s.dropTable(ctx, st, x)
	case *ast.AlterTableStmt:
		return s.alterTable(ctx, st, x)
	case *ast.InsertStmt:
		if s.mode == catalog.Unbounded && x.Select != nil {
			// A continuous INSERT ... SELECT never ends: it becomes a job.
			return s.StartJob(ctx, st, x)
		}
		return s.insert(ctx, st, x)
	case *ast.BeginStmt:
		// Statements run one at a time and commit as they go; clients that
		// wrap them in transactions get no-ops.
		return &Result{Status: "BEGIN"}, nil
	case *ast.CommitStmt:
		return &Result{Status: "COMMIT"}, nil
	case *ast.RollbackStmt:
		return nil, sql.Errorf(st, "rollback", "unsupported: ROLLBACK (statements are applied immediately)")
	}
	return nil, &sql.Error{Msg: fmt.Sprintf("unsupported statement: %s", stmtName(st.Node)), Line: st.Line, Column: st.Column}
}

func stmtName(n ast.StmtNode) string {
	name := fmt.Sprintf("%T", n)
	name = strings.TrimPrefix(name, "*ast.")
	return strings.TrimSuffix(name, "Stmt")
}

func (s *Session) set(ctx context.Context, st *sql.Statement, x *ast.SetStmt) (*Result, error) {
	for _, v := range x.Variables {
		if v.Value == nil {
			// SET NAMES / CHARACTER SET from client drivers: nothing to do.
			continue
		}
		val, err := settingValue(ctx, s, st, v.Value)
		if err != nil {
			return nil, err
		}
		if err := s.Set(v.Name, val); err != nil {
			return nil, sql.Errorf(st, v.Name, "%s", err.Error())
		}
	}
	return &Result{Status: "SET"}, nil
}

// settingValue reads a SET value: a literal, or a bare word (SET x = on).
func settingValue(ctx context.Context, s *Session, st *sql.Statement, e ast.ExprNode) (string, error) {
	if cn, ok := e.(*ast.ColumnNameExpr); ok {
		return cn.Name.OrigColName(), nil
	}
	b := s.binder(ctx, st)
	sel := &ast.SelectStmt{Kind: ast.SelectStmtKindSelect, Fields: &ast.FieldList{Fields: []*ast.SelectField{{Expr: e}}}}
	n, err := b.BindQuery(sel)
	if err != nil {
		return "", err
	}
	rows, err := planner.Runner(s.e.mem, nil)(ctx, n, 1)
	if err != nil {
		return "", err
	}
	if len(rows) != 1 || rows[0][0].Value == nil {
		return "", sql.Errorf(st, "set", "SET needs a non-NULL value")
	}
	return fmt.Sprint(rows[0][0].Value), nil
}

func planText(n planner.Node) string { return planner.Explain(n) }
