package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/magnetar-sql/magnetar/nexmark"
)

func init() { commands["gen"] = runGen }

const genUsage = `usage: magnetar gen nexmark --events N [flags]

Writes Nexmark events (person, auction, bid) to the Pulsar topics
persistent://<namespace>/person|auction|bid with Avro schemas.

flags:`

// runGen is `magnetar gen nexmark ...`.
func runGen(args []string) int {
	return gen(args, os.Stderr)
}

func gen(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, genUsage)
		fs.PrintDefaults()
	}
	if len(args) == 0 || args[0] != "nexmark" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fs.Usage()
			return 0
		}
		fmt.Fprintln(stderr, "magnetar gen: the only generator is nexmark")
		fs.Usage()
		return 2
	}
	var (
		cfg  nexmark.Config
		opts nexmark.ProduceOptions
		base string
	)
	fs.Int64Var(&cfg.Events, "events", 0, "number of events to write (required)")
	fs.Float64Var(&opts.Rate, "rate", 0, "events per wall-clock second (0: as fast as possible)")
	fs.IntVar(&opts.Partitions, "partitions", 0, "partitions per topic when creating topics (0: not partitioned)")
	fs.StringVar(&opts.Namespace, "namespace", nexmark.DefaultNamespace, "Pulsar namespace tenant/namespace")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "random seed: the same seed writes the same events")
	fs.Float64Var(&cfg.EventsPerSecond, "event-rate", 10000, "event-time rate: events per second of event time")
	fs.StringVar(&base, "base-time", nexmark.DefaultBaseTime.Format(time.RFC3339), "event time of the first event (RFC 3339)")
	fs.StringVar(&opts.ServiceURL, "service-url", envOr("MAGNETAR_SERVICE_URL", nexmark.DefaultServiceURL), "Pulsar service URL (env MAGNETAR_SERVICE_URL)")
	fs.StringVar(&opts.AdminURL, "admin-url", envOr("MAGNETAR_ADMIN_URL", nexmark.DefaultAdminURL), "Pulsar admin URL (env MAGNETAR_ADMIN_URL)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "magnetar gen: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if cfg.Events <= 0 {
		fmt.Fprintln(stderr, "magnetar gen: --events N (N > 0) is required")
		return 2
	}
	if opts.Rate < 0 || opts.Partitions < 0 || cfg.EventsPerSecond <= 0 {
		fmt.Fprintln(stderr, "magnetar gen: --rate and --partitions must not be negative, --event-rate must be positive")
		return 2
	}
	t, err := time.Parse(time.RFC3339, base)
	if err != nil {
		fmt.Fprintf(stderr, "magnetar gen: --base-time: %v\n", err)
		return 2
	}
	cfg.BaseTime = t

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	opts.Progress = func(s nexmark.Stats) {
		fmt.Fprintf(stderr, "nexmark: %d events so far (%.0f events/s)\n", s.Events(), s.EventsPerSecond())
	}
	st, err := nexmark.Produce(ctx, cfg, opts)
	if errors.Is(err, nexmark.ErrUnreachable) {
		fmt.Fprintf(stderr, "magnetar gen: no Pulsar broker answers at %s / %s (start one with scripts/pulsar.sh up)\n",
			opts.AdminURL, opts.ServiceURL)
		return 1
	}
	fmt.Fprintf(stderr, "nexmark: wrote %d events (%d persons, %d auctions, %d bids; %.1f MB) to %s in %v: %.0f events/s\n",
		st.Events(), st.Persons, st.Auctions, st.Bids, float64(st.Bytes)/1e6, opts.Namespace,
		st.Elapsed.Round(time.Millisecond), st.EventsPerSecond())
	if err != nil {
		fmt.Fprintf(stderr, "magnetar gen: %v\n", err)
		return 1
	}
	return 0
}

// envOr returns the environment variable key, or def when it is unset or empty.
func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
