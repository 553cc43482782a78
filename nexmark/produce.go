package nexmark

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	pulsarlog "github.com/apache/pulsar-client-go/pulsar/log"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/admin"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/admin/config"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/rest"
	"github.com/apache/pulsar-client-go/pulsaradmin/pkg/utils"
)

// Defaults for ProduceOptions.
const (
	DefaultServiceURL = "pulsar://127.0.0.1:6650"
	DefaultAdminURL   = "http://127.0.0.1:8080"
	DefaultNamespace  = "public/nexmark"
)

// Table names: the topics of the namespace that hold each kind.
const (
	PersonTable  = "person"
	AuctionTable = "auction"
	BidTable     = "bid"
)

// ErrUnreachable is wrapped by Produce's error when no broker answers.
var ErrUnreachable = errors.New("no Pulsar broker answers")

// Topic is the full name of table's topic in namespace ("tenant/ns").
func Topic(namespace, table string) string {
	return "persistent://" + namespace + "/" + table
}

// ProduceOptions says where and how fast Produce writes.
type ProduceOptions struct {
	// ServiceURL is the broker's binary protocol URL (DefaultServiceURL if empty).
	ServiceURL string
	// AdminURL is the broker's admin REST URL (DefaultAdminURL if empty).
	AdminURL string
	// Namespace is "tenant/namespace" (DefaultNamespace if empty). It is
	// created with infinite retention if missing, so the data stays queryable.
	Namespace string
	// Partitions > 0 creates the topics as partitioned topics; 0 as plain ones.
	// Existing topics are used as they are.
	Partitions int
	// Rate limits sending to this many events per wall-clock second; 0 sends
	// as fast as the broker takes them.
	Rate float64
	// Progress, if set, is called about once a second with the counts so far.
	Progress func(Stats)
	// Logger receives the Pulsar client's log; nil logs warnings and errors
	// to stderr.
	Logger *slog.Logger
}

// Stats counts what Produce wrote (acknowledged by the broker).
type Stats struct {
	Persons, Auctions, Bids int64
	// Bytes is the total Avro payload size.
	Bytes int64
	// Elapsed is the wall-clock time spent sending, flushing included.
	Elapsed time.Duration
}

// Events is the number of events of all kinds.
func (s Stats) Events() int64 { return s.Persons + s.Auctions + s.Bids }

// EventsPerSecond is the throughput over Elapsed.
func (s Stats) EventsPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Events()) / s.Elapsed.Seconds()
}

func (o ProduceOptions) withDefaults() ProduceOptions {
	if o.ServiceURL == "" {
		o.ServiceURL = DefaultServiceURL
	}
	if o.AdminURL == "" {
		o.AdminURL = DefaultAdminURL
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return o
}

// Produce writes cfg.Events events to the person, auction and bid topics of
// opts.Namespace, creating the namespace and topics when missing. Each
// message carries its Avro-encoded record under the registered schema, its
// event time, and a key (person id, auction id, or a bid's auction id), so
// partitioned topics keep an auction's bids together.
func Produce(ctx context.Context, cfg Config, opts ProduceOptions) (Stats, error) {
	if cfg.Events <= 0 {
		return Stats{}, errors.New("nexmark: Produce needs a bounded stream (Config.Events > 0)")
	}
	opts = opts.withDefaults()
	adm, err := admin.New(&config.Config{WebServiceURL: opts.AdminURL})
	if err != nil {
		return Stats{}, fmt.Errorf("nexmark: admin client for %s: %w", opts.AdminURL, err)
	}
	if err := probe(ctx, adm, opts); err != nil {
		return Stats{}, err
	}
	if err := ensureNamespace(ctx, adm, opts.Namespace); err != nil {
		return Stats{}, err
	}
	tables := []struct{ name, schema string }{{PersonTable, PersonAvro}, {AuctionTable, AuctionAvro}, {BidTable, BidAvro}}
	for _, t := range tables {
		if err := ensureTopic(ctx, adm, Topic(opts.Namespace, t.name), opts.Partitions, opts.Logger); err != nil {
			return Stats{}, err
		}
	}

	client, err := pulsar.NewClient(pulsar.ClientOptions{
		URL:               opts.ServiceURL,
		ConnectionTimeout: 5 * time.Second,
		OperationTimeout:  30 * time.Second,
		Logger:            pulsarlog.NewLoggerWithSlog(opts.Logger),
	})
	if err != nil {
		return Stats{}, fmt.Errorf("nexmark: pulsar client for %s: %w", opts.ServiceURL, err)
	}
	defer client.Close()

	var producers [3]pulsar.Producer
	defer func() {
		for _, p := range producers {
			if p != nil {
				p.Close()
			}
		}
	}()
	for i, t := range tables {
		sch, err := pulsar.NewAvroSchemaWithValidation(t.schema, nil)
		if err != nil {
			return Stats{}, fmt.Errorf("nexmark: %s schema: %w", t.name, err)
		}
		producers[i], err = client.CreateProducer(pulsar.ProducerOptions{
			Topic: Topic(opts.Namespace, t.name),
			// With a Schema the producer registers it and stamps every
			// message with its version, also for pre-encoded payloads.
			Schema:                  sch,
			BatchingMaxPublishDelay: 5 * time.Millisecond,
			BatchingMaxMessages:     2000,
			MaxPendingMessages:      20000,
		})
		if err != nil {
			return Stats{}, fmt.Errorf("nexmark: producer for %s: %w", Topic(opts.Namespace, t.name), err)
		}
	}
	return send(ctx, cfg, opts, producers)
}

// send generates and sends the events, then flushes and waits for every
// acknowledgement.
func send(ctx context.Context, cfg Config, opts ProduceOptions, producers [3]pulsar.Producer) (Stats, error) {
	var (
		acked    [3]atomic.Int64
		bytes    atomic.Int64
		firstErr atomic.Pointer[error]
		wg       sync.WaitGroup
	)
	callbacks := [3]func(pulsar.MessageID, *pulsar.ProducerMessage, error){}
	for i := range callbacks {
		callbacks[i] = func(_ pulsar.MessageID, m *pulsar.ProducerMessage, err error) {
			if err != nil {
				firstErr.CompareAndSwap(nil, &err)
			} else {
				acked[i].Add(1)
				bytes.Add(int64(len(m.Payload)))
			}
			wg.Done()
		}
	}
	stats := func(start time.Time) Stats {
		return Stats{Persons: acked[kindPerson].Load(), Auctions: acked[kindAuction].Load(), Bids: acked[kindBid].Load(),
			Bytes: bytes.Load(), Elapsed: time.Since(start)}
	}

	g := NewGenerator(cfg)
	var (
		p       Person
		a       Auction
		b       Bid
		scratch = make([]byte, 0, 4096)
		slab    []byte
	)
	const slabSize = 1 << 20
	start := time.Now()
	lastProgress := start
	var err error
	for n := int64(0); n < cfg.Events; n++ {
		if n&1023 == 0 {
			if e := firstErr.Load(); e != nil {
				err = *e
				break
			}
			if err = ctx.Err(); err != nil {
				break
			}
			if opts.Progress != nil && time.Since(lastProgress) >= time.Second {
				lastProgress = time.Now()
				opts.Progress(stats(start))
			}
		}
		if opts.Rate > 0 {
			// Pace against the schedule rather than per message, so that
			// sleep granularity does not lower the rate.
			if ahead := time.Duration(float64(n)/opts.Rate*1e9) - time.Since(start); ahead > time.Millisecond {
				select {
				case <-ctx.Done():
					err = ctx.Err()
				case <-time.After(ahead):
				}
				if err != nil {
					break
				}
			}
		}
		var key int64
		var evTime time.Time
		k := g.fill(n, &p, &a, &b)
		switch k {
		case kindPerson:
			scratch, key, evTime = AppendPersonAvro(scratch[:0], &p), p.ID, p.DateTime
		case kindAuction:
			scratch, key, evTime = AppendAuctionAvro(scratch[:0], &a), a.ID, a.DateTime
		default:
			scratch, key, evTime = AppendBidAvro(scratch[:0], &b), b.Auction, b.DateTime
		}
		// Payloads live in shared slabs: one allocation per MiB instead of
		// one per message. Slabs are never reused, so an in-flight message
		// is never overwritten.
		if cap(slab)-len(slab) < len(scratch) {
			slab = make([]byte, 0, max(slabSize, len(scratch)))
		}
		off := len(slab)
		slab = append(slab, scratch...)
		wg.Add(1)
		producers[k].SendAsync(ctx, &pulsar.ProducerMessage{
			Payload:   slab[off:len(slab):len(slab)],
			Key:       strconv.FormatInt(key, 10),
			EventTime: evTime,
		}, callbacks[k])
	}
	for _, pr := range producers {
		if ferr := pr.FlushWithCtx(ctx); ferr != nil && err == nil {
			err = fmt.Errorf("nexmark: flush %s: %w", pr.Topic(), ferr)
		}
	}
	wg.Wait()
	st := stats(start)
	if e := firstErr.Load(); e != nil && err == nil {
		err = *e
	}
	if err != nil {
		return st, fmt.Errorf("nexmark: produce: %w", err)
	}
	return st, nil
}

// probe fails fast, with ErrUnreachable, when neither the admin API nor the
// broker's binary port answers, instead of waiting for client timeouts.
func probe(ctx context.Context, adm admin.Client, opts ProduceOptions) error {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := adm.Clusters().ListWithContext(pctx); err != nil {
		return fmt.Errorf("%w at %s: %w", ErrUnreachable, opts.AdminURL, err)
	}
	u, err := url.Parse(opts.ServiceURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("nexmark: bad service URL %q", opts.ServiceURL)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "6650")
	}
	var d net.Dialer
	conn, err := d.DialContext(pctx, "tcp", host)
	if err != nil {
		return fmt.Errorf("%w at %s: %w", ErrUnreachable, opts.ServiceURL, err)
	}
	return conn.Close()
}

func isStatus(err error, code int) bool {
	var re rest.Error
	if errors.As(err, &re) {
		return re.Code == code
	}
	var rp *rest.Error
	return errors.As(err, &rp) && rp.Code == code
}

// ensureNamespace creates namespace (and its tenant) when missing, with
// infinite retention: Pulsar's default deletes acknowledged history, and
// tables must stay readable.
func ensureNamespace(ctx context.Context, adm admin.Client, namespace string) error {
	tenant, _, ok := strings.Cut(namespace, "/")
	if !ok || tenant == "" || strings.Count(namespace, "/") != 1 {
		return fmt.Errorf("nexmark: namespace %q is not tenant/namespace", namespace)
	}
	if _, err := adm.Tenants().GetWithContext(ctx, tenant); err != nil {
		if !isStatus(err, http.StatusNotFound) {
			return fmt.Errorf("nexmark: tenant %s: %w", tenant, err)
		}
		clusters, err := adm.Clusters().ListWithContext(ctx)
		if err != nil {
			return fmt.Errorf("nexmark: list clusters: %w", err)
		}
		err = adm.Tenants().CreateWithContext(ctx, utils.TenantData{Name: tenant, AllowedClusters: clusters})
		if err != nil && !isStatus(err, http.StatusConflict) {
			return fmt.Errorf("nexmark: create tenant %s: %w", tenant, err)
		}
	}
	existing, err := adm.Namespaces().GetNamespacesWithContext(ctx, tenant)
	if err != nil {
		return fmt.Errorf("nexmark: list namespaces of %s: %w", tenant, err)
	}
	if slices.Contains(existing, namespace) {
		return nil
	}
	if err := adm.Namespaces().CreateNamespaceWithContext(ctx, namespace); err != nil && !isStatus(err, http.StatusConflict) {
		return fmt.Errorf("nexmark: create namespace %s: %w", namespace, err)
	}
	if err := adm.Namespaces().SetRetentionWithContext(ctx, namespace, utils.RetentionPolicies{
		RetentionTimeInMinutes: -1, RetentionSizeInMB: -1,
	}); err != nil {
		return fmt.Errorf("nexmark: set retention of %s: %w", namespace, err)
	}
	return nil
}

// ensureTopic creates topic with the given number of partitions (0: not
// partitioned) unless it exists; an existing topic is kept as it is.
func ensureTopic(ctx context.Context, adm admin.Client, topic string, partitions int, log *slog.Logger) error {
	tn, err := utils.GetTopicName(topic)
	if err != nil {
		return fmt.Errorf("nexmark: topic %s: %w", topic, err)
	}
	err = adm.Topics().CreateWithContext(ctx, *tn, partitions)
	if err == nil {
		return nil
	}
	if !isStatus(err, http.StatusConflict) {
		return fmt.Errorf("nexmark: create topic %s: %w", topic, err)
	}
	if md, merr := adm.Topics().GetMetadataWithContext(ctx, *tn); merr == nil && md.Partitions != partitions {
		log.Warn("nexmark: topic exists with another partition count; using it as it is",
			"topic", topic, "partitions", md.Partitions, "requested", partitions)
	}
	return nil
}
