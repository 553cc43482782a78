package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	pulsarcat "github.com/magnetar-sql/magnetar/catalog/pulsar"
	"github.com/magnetar-sql/magnetar/engine"
	"github.com/magnetar-sql/magnetar/flightserver"
	"github.com/magnetar-sql/magnetar/jobs"
)

func init() { commands["serve"] = runServe }

const serveUsage = `usage: magnetar serve [flags]

Serves SQL over Arrow Flight SQL (JDBC: jdbc:arrow-flight-sql://HOST:PORT,
ADBC: grpc://HOST:PORT, or grpc+tls:// with --tls-cert/--tls-key).
Authentication is off unless --auth-file (or MAGNETAR_AUTH_FILE, or
MAGNETAR_AUTH holding the file's JSON) names users:

  {"users": [{"name": "alice", "password": "secret", "tenants": ["public"]},
             {"name": "etl", "tokens": ["t0k3n"], "tenants": ["*"]}]}

The server runs the durable jobs (continuous INSERT ... SELECT) of its jobs
namespace; --jobs-namespace, --checkpoint-interval and --txn-timeout override
the environment variables MAGNETAR_JOBS_NAMESPACE,
MAGNETAR_JOBS_CHECKPOINT_INTERVAL and MAGNETAR_JOBS_TXN_TIMEOUT.

flags:`

func runServe(args []string) int {
	return serve(context.Background(), args, os.Stderr, nil)
}

// serve runs the server until ctx ends or a signal arrives. ready, if not
// nil, receives the listening address (for tests).
func serve(ctx context.Context, args []string, stderr io.Writer, ready chan<- string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, serveUsage)
		fs.PrintDefaults()
	}
	var (
		f                       shellFlags
		listen, authFile        string
		tlsCertFile, tlsKeyFile string
		jf                      jobFlags
	)
	fs.StringVar(&listen, "listen", "127.0.0.1:32010", "address to listen on: HOST:PORT, or unix:PATH for a Unix socket (owner-only)")
	fs.StringVar(&f.catalog, "catalog", "pulsar", "catalog: pulsar, or memory (embedded, no broker)")
	fs.StringVar(&f.serviceURL, "service-url", envOr("MAGNETAR_SERVICE_URL", defaultServiceURL), "Pulsar service URL (env MAGNETAR_SERVICE_URL)")
	fs.StringVar(&f.adminURL, "admin-url", envOr("MAGNETAR_ADMIN_URL", defaultAdminURL), "Pulsar admin URL (env MAGNETAR_ADMIN_URL)")
	fs.StringVar(&f.sample, "sample", "", "with --catalog memory: preload sample data (nexmark)")
	fs.Int64Var(&f.sampleEvents, "sample-events", 10000, "events in the sample data")
	fs.StringVar(&tlsCertFile, "tls-cert", "", "TLS certificate file (PEM); with --tls-key the server speaks TLS only")
	fs.StringVar(&tlsKeyFile, "tls-key", "", "TLS private key file (PEM)")
	fs.StringVar(&authFile, "auth-file", "", "users and tenants file (JSON; default env "+flightserver.EnvAuthFile+")")
	jf.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "magnetar serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if (tlsCertFile == "") != (tlsKeyFile == "") {
		fmt.Fprintln(stderr, "magnetar serve: --tls-cert and --tls-key go together")
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if err := jf.check(func(name string) bool { return set[name] }); err != nil {
		fmt.Fprintf(stderr, "magnetar serve: %v\n", err)
		return 2
	}
	if f.sample != "" && (f.sample != "nexmark" || f.catalog != "memory") {
		fmt.Fprintln(stderr, "magnetar serve: --sample nexmark needs --catalog memory")
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	cfg := flightserver.Config{Logger: log}
	if tlsCertFile != "" {
		cert, err := tls.LoadX509KeyPair(tlsCertFile, tlsKeyFile)
		if err != nil {
			fmt.Fprintf(stderr, "magnetar serve: TLS: %v\n", err)
			return 2
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	auth, err := flightserver.LoadAuth(authFile)
	if err != nil {
		fmt.Fprintf(stderr, "magnetar serve: %v\n", err)
		return 2
	}
	cfg.Auth = auth

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	cat, closeCat, code := openCatalog(ctx, f, stderr)
	if cat == nil {
		return code
	}
	defer closeCat()
	cfg.Catalog = cat
	if pc, ok := cat.(*pulsarcat.Catalog); ok {
		m, err := startServerJobs(ctx, pc, f.serviceURL, jf, log)
		if err != nil {
			fmt.Fprintf(stderr, "magnetar serve: jobs: %v\n", err)
			return 1
		}
		defer m.Close()
		cfg.Jobs = m
	}

	srv, err := flightserver.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "magnetar serve: %v\n", err)
		return 1
	}
	lis, addr, err := listenOn(listen)
	if err != nil {
		fmt.Fprintf(stderr, "magnetar serve: listen: %v\n", err)
		return 1
	}
	shown := addr
	if _, unix := unixPath(addr); !unix {
		shown = "grpc://" + addr
		if cfg.TLS != nil {
			shown = "grpc+tls://" + addr
		}
	}
	log.Info("magnetar: serving Flight SQL", "address", shown,
		"catalog", cat.Name(), "auth", auth != nil)
	if ready != nil {
		ready <- addr
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case <-ctx.Done():
		log.Info("magnetar: shutting down")
		srv.Shutdown()
		<-errc
		return 0
	case err := <-errc:
		srv.Shutdown()
		if err != nil {
			fmt.Fprintf(stderr, "magnetar serve: %v\n", err)
			return 1
		}
		return 0
	}
}

// startServerJobs opens the job manager of a server: it resumes every job
// recorded as running in Pulsar, and runs the ones created through it.
// Exactly-once jobs get a client with transactions enabled.
func startServerJobs(ctx context.Context, cat *pulsarcat.Catalog, serviceURL string, jf jobFlags, log *slog.Logger) (*jobs.Manager, error) {
	runner := engine.New(cat, engine.Options{Logger: log}).JobRunner()
	jf = jf.resolve()
	cfg := jobs.Config{Client: cat.Client(), Catalog: cat, Runner: runner, Logger: log,
		Namespace: jf.namespace, CheckpointInterval: jf.checkpoint, TxnTimeout: jf.txnTimeout}
	txn, err := pulsar.NewClient(pulsar.ClientOptions{URL: serviceURL, EnableTransaction: true})
	if err != nil {
		log.Warn("magnetar: no transactional client; exactly-once jobs are unavailable", "err", err)
	} else {
		cfg.TxnClient = txn
	}
	m, err := jobs.NewManager(ctx, cfg)
	if err != nil {
		if txn != nil {
			txn.Close()
		}
		return nil, err
	}
	log.Info("magnetar: job manager started", "jobs", len(m.Jobs()), "namespace", cfg.Namespace,
		"checkpoint_interval", cfg.CheckpointInterval, "txn_timeout", cfg.TxnTimeout)
	return m, nil
}

// jobFlags are the job manager's flags. A flag overrides its environment
// variable (read by resolve), which overrides the jobs package's default.
type jobFlags struct {
	namespace              string
	checkpoint, txnTimeout time.Duration
}

func (jf *jobFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&jf.namespace, "jobs-namespace", "",
		"tenant/namespace of the job definitions and checkpoints (default env "+jobs.EnvNamespace+", else "+jobs.DefaultNamespace+")")
	fs.DurationVar(&jf.checkpoint, "checkpoint-interval", 0,
		"how often running jobs checkpoint, a Go duration (default env "+jobs.EnvCheckpointInterval+", else "+jobs.DefaultCheckpointInterval.String()+")")
	fs.DurationVar(&jf.txnTimeout, "txn-timeout", 0,
		"transaction timeout of exactly-once jobs, above the checkpoint interval (default env "+jobs.EnvTxnTimeout+", else "+defaultTxnTimeout.String()+")")
}

// defaultTxnTimeout is jobs.Config's default TxnTimeout.
const defaultTxnTimeout = time.Minute

// resolve fills what the flags left unset from the environment, else the
// defaults.
func (jf jobFlags) resolve() jobFlags {
	if jf.namespace == "" {
		jf.namespace = os.Getenv(jobs.EnvNamespace)
	}
	if jf.namespace == "" {
		jf.namespace = jobs.DefaultNamespace
	}
	if jf.checkpoint == 0 {
		jf.checkpoint = envDuration(jobs.EnvCheckpointInterval, jobs.DefaultCheckpointInterval)
	}
	if jf.txnTimeout == 0 {
		jf.txnTimeout = envDuration(jobs.EnvTxnTimeout, defaultTxnTimeout)
	}
	return jf
}

// check rejects non-positive durations, a namespace that is not
// tenant/namespace, and, when a duration flag is given, a transaction
// timeout exactly-once jobs would refuse (a checkpoint's transaction must
// outlive the checkpoint interval).
func (jf jobFlags) check(set func(name string) bool) error {
	if set("checkpoint-interval") && jf.checkpoint <= 0 {
		return fmt.Errorf("--checkpoint-interval %s: must be positive", jf.checkpoint)
	}
	if set("txn-timeout") && jf.txnTimeout <= 0 {
		return fmt.Errorf("--txn-timeout %s: must be positive", jf.txnTimeout)
	}
	if set("jobs-namespace") {
		if tenant, ns, ok := strings.Cut(jf.namespace, "/"); !ok || tenant == "" || ns == "" || strings.Contains(ns, "/") {
			return fmt.Errorf("--jobs-namespace %q: want tenant/namespace", jf.namespace)
		}
	}
	if set("checkpoint-interval") || set("txn-timeout") {
		r := jf.resolve()
		if r.txnTimeout <= r.checkpoint {
			return fmt.Errorf("transaction timeout %s must be above the checkpoint interval %s (--txn-timeout, --checkpoint-interval)", r.txnTimeout, r.checkpoint)
		}
	}
	return nil
}

// envDuration reads a positive Go duration from the environment, else def.
func envDuration(key string, def time.Duration) time.Duration {
	d, err := time.ParseDuration(os.Getenv(key))
	if err != nil || d <= 0 {
		return def
	}
	return d
}
