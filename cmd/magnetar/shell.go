package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/chzyer/readline"
	"github.com/magnetar-sql/magnetar/catalog"
	memcat "github.com/magnetar-sql/magnetar/catalog/memory"
	pulsarcat "github.com/magnetar-sql/magnetar/catalog/pulsar"
	"github.com/magnetar-sql/magnetar/engine"
	"github.com/magnetar-sql/magnetar/expr"
	"github.com/magnetar-sql/magnetar/jobs"
	"github.com/magnetar-sql/magnetar/nexmark"
	"github.com/magnetar-sql/magnetar/shell"
	"github.com/magnetar-sql/magnetar/sql"
)

func init() { commands["shell"] = runShell }

const (
	defaultServiceURL = "pulsar://127.0.0.1:6650"
	defaultAdminURL   = "http://127.0.0.1:8080"
)

const shellUsage = `usage: magnetar shell [flags]

Runs SQL: interactively on a terminal, or the statements given with -e, in
-f FILE, or piped on stdin. Rows go to stdout; status lines, warnings and
errors to stderr (in table format status lines go to stdout).
With --connect HOST:PORT the statements run on a ` + "`magnetar serve`" + ` instead
of an embedded engine (same commands and output).

flags:`

func runShell(args []string) int {
	return shellMain(args, os.Stdin, os.Stdout, os.Stderr)
}

// shellFlags are the command-line settings of `magnetar shell`.
type shellFlags struct {
	serviceURL, adminURL, catalog string
	exec, file, format, sample    string
	sampleEvents                  int64
	continueOnError, changelog    bool
	mode                          string
	database                      string
	authToken, authTokenFile      string
	tlsCA, tlsCert, tlsKey        string
	tlsInsecure                   bool
	connect                       connectFlags
}

func shellMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var f shellFlags
	fs := flag.NewFlagSet("shell", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, shellUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.serviceURL, "service-url", envOr("MAGNETAR_SERVICE_URL", defaultServiceURL), "Pulsar service URL (env MAGNETAR_SERVICE_URL)")
	fs.StringVar(&f.adminURL, "admin-url", envOr("MAGNETAR_ADMIN_URL", defaultAdminURL), "Pulsar admin URL (env MAGNETAR_ADMIN_URL)")
	fs.StringVar(&f.catalog, "catalog", "pulsar", "catalog: pulsar, or memory (embedded, no broker)")
	fs.StringVar(&f.exec, "e", "", "run these ;-separated statements and exit")
	fs.StringVar(&f.file, "f", "", "run the statements in FILE and exit")
	fs.StringVar(&f.format, "format", "table", "output format: table, csv or json")
	fs.BoolVar(&f.continueOnError, "continue-on-error", false, "report errors and go on with the next statement")
	fs.BoolVar(&f.changelog, "changelog", false, "show each row's change kind (+I -U +U -D) in an op column")
	fs.StringVar(&f.mode, "mode", "", "start in bounded or continuous mode (SET magnetar.mode)")
	fs.StringVar(&f.database, "database", os.Getenv("MAGNETAR_DATABASE"), "start in this database (USE; env MAGNETAR_DATABASE), e.g. public/nexmark")
	fs.StringVar(&f.sample, "sample", "", "with --catalog memory: preload sample data (nexmark: person, auction, bid in database nexmark)")
	fs.Int64Var(&f.sampleEvents, "sample-events", 10000, "number of Nexmark events for --sample nexmark")
	fs.StringVar(&f.authToken, "auth-token", "", "Pulsar JWT token")
	fs.StringVar(&f.authTokenFile, "auth-token-file", "", "file holding the Pulsar JWT token")
	fs.StringVar(&f.tlsCA, "tls-ca-file", "", "trusted CA certificates for Pulsar TLS")
	fs.StringVar(&f.tlsCert, "tls-cert-file", "", "client certificate for Pulsar mutual TLS")
	fs.StringVar(&f.tlsKey, "tls-key-file", "", "client key for Pulsar mutual TLS")
	fs.BoolVar(&f.tlsInsecure, "tls-allow-insecure", false, "accept any Pulsar TLS certificate (testing only)")
	fs.StringVar(&f.connect.addr, "connect", "", "HOST:PORT (or unix:PATH) of a `magnetar serve` to run SQL on instead of an embedded engine")
	fs.StringVar(&f.connect.user, "user", "", "with --connect: user name (password from --password-file, env "+envPassword+" or a prompt)")
	fs.StringVar(&f.connect.passwordFile, "password-file", "", "with --connect: file holding the password of --user")
	fs.StringVar(&f.connect.tokenFile, "token-file", "", "with --connect: file holding a bearer token (default env "+envToken+")")
	fs.BoolVar(&f.connect.tls, "tls", false, "with --connect: use TLS (implied by --tls-ca-file, which then names the server's CA)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "magnetar shell: unexpected argument %q (SQL goes after -e)\n", fs.Arg(0))
		return 2
	}
	if f.exec != "" && f.file != "" {
		fmt.Fprintln(stderr, "magnetar shell: give -e or -f, not both")
		return 2
	}
	format, err := shell.ParseFormat(f.format)
	if err != nil {
		fmt.Fprintf(stderr, "magnetar shell: --format: %v\n", err)
		return 2
	}
	if f.sample != "" && (f.sample != "nexmark" || f.catalog != "memory") {
		fmt.Fprintln(stderr, "magnetar shell: --sample nexmark needs --catalog memory (the only sample is nexmark)")
		return 2
	}
	if f.connect.addr == "" && (f.connect.user != "" || f.connect.passwordFile != "" || f.connect.tokenFile != "" || f.connect.tls) {
		fmt.Fprintln(stderr, "magnetar shell: --user, --password-file, --token-file and --tls go with --connect")
		return 2
	}
	if f.connect.addr != "" && f.sample != "" {
		fmt.Fprintln(stderr, "magnetar shell: --sample loads an embedded catalog; with --connect the server holds the data")
		return 2
	}

	// Read the script before connecting, so a missing file fails fast.
	var script, scriptName string
	interactive := false
	switch {
	case f.exec != "":
		script = f.exec
	case f.file != "":
		data, err := os.ReadFile(f.file)
		if err != nil {
			fmt.Fprintf(stderr, "magnetar shell: %v\n", err)
			return 1
		}
		script, scriptName = string(data), f.file
	default:
		if file, ok := stdin.(*os.File); ok && readline.IsTerminal(int(file.Fd())) {
			interactive = true
		} else {
			data, err := io.ReadAll(stdin)
			if err != nil {
				fmt.Fprintf(stderr, "magnetar shell: read stdin: %v\n", err)
				return 1
			}
			script = string(data)
		}
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var (
		sess shell.Session
		cat  catalog.Catalog
	)
	if f.connect.addr != "" {
		// Remote mode: statements, session state and catalog are the server's.
		c, code := dialServer(ctx, f, interactive, stderr)
		if c == nil {
			return code
		}
		defer c.Close()
		sess, cat = c, c.Catalog()
	} else {
		local, closeCat, code := openCatalog(ctx, f, stderr)
		if local == nil {
			return code
		}
		defer closeCat()
		eng := engine.New(local, engine.Options{})
		if pc, ok := local.(*pulsarcat.Catalog); ok {
			closeJobs := enableShellJobs(eng, pc)
			defer closeJobs()
		}
		sess, cat = engineSession{eng.NewSession()}, local
	}
	if f.mode != "" {
		if err := sess.Set("magnetar.mode", f.mode); err != nil {
			fmt.Fprintf(stderr, "magnetar shell: --mode: %v\n", err)
			return 2
		}
	}
	if f.database != "" {
		// The USE statement itself, so the check and the error are the
		// ones a user typing it gets.
		use := "USE `" + strings.ReplaceAll(f.database, "`", "``") + "`"
		if err := sess.Run(ctx, use, func(*shell.Result) error { return nil }); err != nil {
			msg := err.Error()
			var se *sql.Error
			if errors.As(err, &se) { // its position is in our USE, not in anything typed
				msg = se.Msg
			}
			fmt.Fprintf(stderr, "magnetar shell: --database %s: %s\n", f.database, msg)
			return 2
		}
	}

	terminal := false
	if file, ok := stdout.(*os.File); ok {
		terminal = readline.IsTerminal(int(file.Fd()))
	}
	errTerminal := false
	if file, ok := stderr.(*os.File); ok {
		errTerminal = readline.IsTerminal(int(file.Fd()))
	}
	cfg := shell.Config{
		ErrTerminal:     errTerminal,
		Session:         sess,
		Catalog:         cat,
		Functions:       functionDocs(),
		Stdin:           stdin,
		Stdout:          stdout,
		Stderr:          stderr,
		Terminal:        terminal,
		Width:           readline.GetScreenWidth,
		NoColor:         os.Getenv("NO_COLOR") != "",
		Format:          format,
		ContinueOnError: f.continueOnError,
	}
	if f.changelog {
		cfg.Changelog = shell.ChangelogOn
	}
	if interactive {
		cfg.HistoryFile = shell.DefaultHistoryFile()
		sh := shell.New(cfg)
		defer sh.Close()
		return sh.RunInteractive(ctx)
	}
	// Ctrl-C cancels the running statement and ends the script.
	sctx, cancel := signal.NotifyContext(ctx, os.Interrupt)
	defer cancel()
	sh := shell.New(cfg)
	defer sh.Close()
	return sh.RunScript(sctx, scriptName, script)
}

// openCatalog builds the catalog the flags ask for. On failure it has
// reported the problem and returns a nil catalog and the exit code.
func openCatalog(ctx context.Context, f shellFlags, stderr io.Writer) (catalog.Catalog, func(), int) {
	if f.catalog == "memory" {
		cat := memcat.New()
		if f.sample == "nexmark" {
			if err := loadNexmark(ctx, cat, f.sampleEvents); err != nil {
				cat.Close()
				fmt.Fprintf(stderr, "magnetar shell: load nexmark sample: %v\n", err)
				return nil, nil, 1
			}
		}
		return cat, cat.Close, 0
	}
	if f.catalog != "pulsar" {
		fmt.Fprintf(stderr, "magnetar shell: --catalog %q: want pulsar or memory\n", f.catalog)
		return nil, nil, 2
	}
	token := f.authToken
	if f.authTokenFile != "" {
		data, err := os.ReadFile(f.authTokenFile)
		if err != nil {
			fmt.Fprintf(stderr, "magnetar shell: --auth-token-file: %v\n", err)
			return nil, nil, 2
		}
		token = strings.TrimSpace(string(data))
	}
	cat, err := pulsarcat.New(ctx, pulsarcat.Config{
		ServiceURL:        f.serviceURL,
		AdminURL:          f.adminURL,
		AuthToken:         token,
		TLSTrustCertsFile: f.tlsCA,
		TLSCertFile:       f.tlsCert,
		TLSKeyFile:        f.tlsKey,
		TLSAllowInsecure:  f.tlsInsecure,
		Logger:            slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if errors.Is(err, pulsarcat.ErrUnreachable) {
		fmt.Fprintf(stderr, "magnetar: no Pulsar broker at %s (set --service-url/--admin-url or MAGNETAR_SERVICE_URL/MAGNETAR_ADMIN_URL, or run `make pulsar-up`; `--catalog memory` runs without a broker)\n", f.adminURL)
		return nil, nil, 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "magnetar: %v\n", err)
		return nil, nil, 1
	}
	return cat, func() { _ = cat.Close() }, 0
}

// loadNexmark fills database nexmark with person, auction and bid.
func loadNexmark(ctx context.Context, cat *memcat.Catalog, events int64) error {
	persons, auctions, bids, err := nexmark.Batches(nexmark.Config{Events: events}, memory.DefaultAllocator, 4096)
	if err != nil {
		return err
	}
	release := func(bs []arrow.RecordBatch) {
		for _, b := range bs {
			b.Release()
		}
	}
	defer release(persons)
	defer release(auctions)
	defer release(bids)
	if err := cat.CreateDatabase(ctx, "nexmark", true); err != nil {
		return err
	}
	for _, t := range []struct {
		name    string
		schema  *arrow.Schema
		batches []arrow.RecordBatch
	}{
		{"person", nexmark.PersonSchema(), persons},
		{"auction", nexmark.AuctionSchema(), auctions},
		{"bid", nexmark.BidSchema(), bids},
	} {
		def := catalog.TableDef{Name: t.name, Schema: t.schema, Comment: "Nexmark sample data"}
		if err := cat.AddTable("nexmark", def, t.batches); err != nil {
			return fmt.Errorf("table %s: %w", t.name, err)
		}
	}
	return nil
}

// engineSession adapts an engine session to what the shell needs.
type engineSession struct{ s *engine.Session }

func (e engineSession) Run(ctx context.Context, text string, fn func(*shell.Result) error) error {
	return e.s.Run(ctx, text, func(r *engine.Result) error {
		return fn(&shell.Result{Schema: r.Schema, Rows: r.Rows, Status: r.Status, Warnings: r.Warnings,
			RunWarnings: r.AllWarnings, Progress: r.Progress, Close: r.Close})
	})
}

func (e engineSession) Database() string             { return e.s.Database() }
func (e engineSession) Mode() catalog.Mode           { return e.s.Mode() }
func (e engineSession) Set(name, value string) error { return e.s.Set(name, value) }

func functionDocs() []shell.FunctionDoc {
	fns := expr.Functions()
	out := make([]shell.FunctionDoc, len(fns))
	for i, f := range fns {
		out[i] = shell.FunctionDoc{Name: f.Name, Signature: f.Signature, Description: f.Description, Example: f.Example}
	}
	return out
}

// shellJobNote tells the user where a job created from the shell runs.
const shellJobNote = "the job runs in this shell process and stops when the shell exits; `magnetar serve` runs jobs durably"

// enableShellJobs lets continuous INSERT ... SELECT and the job statements
// work in the shell: the first such statement opens a job manager that runs
// the shell's own jobs in-process and leaves the server's jobs alone.
func enableShellJobs(eng *engine.Engine, cat *pulsarcat.Catalog) (closeJobs func()) {
	var m *jobs.Manager
	eng.SetJobsFactory(func(ctx context.Context) (*jobs.Manager, string, error) {
		var err error
		m, err = jobs.NewManager(ctx, jobs.Config{
			Client: cat.Client(), Catalog: cat, Runner: eng.JobRunner(), NoResume: true,
		})
		return m, shellJobNote, err
	})
	return func() {
		if m != nil {
			_ = m.Close()
		}
	}
}
