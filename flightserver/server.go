package flightserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/flight/flightsql"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/magnetar-sql/magnetar/catalog"
	"github.com/magnetar-sql/magnetar/engine"
	"github.com/magnetar-sql/magnetar/jobs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
)

// Version is reported by GetSqlInfo.
const Version = "0.1.0"

// CatalogName is the one Flight SQL catalog the server shows.
const CatalogName = "magnetar"

// Config sets up a Server.
type Config struct {
	// Catalog holds the databases and tables served. Required.
	Catalog catalog.Catalog
	// Jobs, if set, runs the durable jobs that continuous INSERT ... SELECT
	// statements create (and SHOW JOBS, STOP JOB, ...).
	Jobs *jobs.Manager
	// Mem allocates Arrow memory; nil means memory.DefaultAllocator.
	Mem memory.Allocator
	// Logger receives server events; nil means slog.Default().
	Logger *slog.Logger
	// TLS, when set, makes the server speak TLS only.
	TLS *tls.Config
	// Auth, when set, requires every call to authenticate.
	Auth *Auth
	// ParkTimeout closes a query whose FlightInfo was returned but whose
	// ticket was not fetched within it (default 5 minutes).
	ParkTimeout time.Duration
	// SessionIdleTimeout drops sessions unused for that long (default 1 hour).
	SessionIdleTimeout time.Duration
	// MaxSessions caps the sessions kept; the least recently used go first
	// (default 10000).
	MaxSessions int
}

// writeBufferSize is the size of the buffer gRPC copies outgoing frames
// into before each write to the socket (a variable so that benchmarks can
// compare sizes).
var writeBufferSize = 1 << 20

// keepaliveTime and keepaliveTimeout: the server pings a connection
// silent for keepaliveTime and closes it when nothing comes back within
// keepaliveTimeout. Without them a client that vanished without closing
// its connection (machine off, network gone) holds its streams forever:
// an idle continuous query, or a DoGet blocked on flow control, never
// notices, and keeps its goroutines, batches and subscriptions.
// Variables so that tests can shorten them.
var keepaliveTime, keepaliveTimeout = time.Minute, 20 * time.Second

// Server is a Flight SQL server over the Magnetar engine.
type Server struct {
	flightsql.BaseServer

	cfg  Config
	mem  memory.Allocator
	log  *slog.Logger
	auth *Auth

	engMu   sync.Mutex
	engines map[string]*engine.Engine // per user name ("" without auth)

	sessions *sessionStore
	queries  *queryRegistry
	prepared *preparedRegistry

	// arrowWriter makes DoGet write results with arrow's Flight writer
	// instead of the zero-copy one (set by benchmarks).
	arrowWriter bool

	grpc     *grpc.Server
	stopOnce sync.Once
	stop     chan struct{}
	bg       sync.WaitGroup
}

// New builds a server; call Serve to accept connections.
func New(cfg Config) (*Server, error) {
	if cfg.Catalog == nil {
		return nil, errors.New("flightserver: a catalog is required")
	}
	if cfg.Mem == nil {
		cfg.Mem = memory.DefaultAllocator
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ParkTimeout <= 0 {
		cfg.ParkTimeout = 5 * time.Minute
	}
	if cfg.SessionIdleTimeout <= 0 {
		cfg.SessionIdleTimeout = time.Hour
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 10000
	}
	s := &Server{
		cfg:      cfg,
		mem:      cfg.Mem,
		log:      cfg.Logger,
		auth:     cfg.Auth,
		engines:  map[string]*engine.Engine{},
		sessions: newSessionStore(cfg.MaxSessions, cfg.SessionIdleTimeout),
		queries:  newQueryRegistry(),
		prepared: newPreparedRegistry(),
		stop:     make(chan struct{}),
	}
	s.Alloc = cfg.Mem
	if err := s.registerSqlInfo(); err != nil {
		return nil, err
	}

	var opts []grpc.ServerOption
	if cfg.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg.TLS)))
	}
	opts = append(opts,
		grpc.ChainUnaryInterceptor(s.unaryIntercept),
		grpc.ChainStreamInterceptor(s.streamIntercept),
		// Results can be large batches; the default 4 MiB limit is for
		// requests (DoPut of parameters), raise it modestly.
		grpc.MaxRecvMsgSize(64<<20),
		// Results stream in ~1-2 MiB messages: larger socket write
		// buffers and flow-control windows keep loopback and LAN
		// transfers from stalling on 64 KiB steps.
		grpc.WriteBufferSize(writeBufferSize),
		grpc.ReadBufferSize(1<<20),
		grpc.InitialWindowSize(8<<20),
		grpc.InitialConnWindowSize(16<<20),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: keepaliveTime, Timeout: keepaliveTimeout}),
		// Clients may ping too (JDBC's keepAlive, gRPC clients with
		// keepalive), but not more than every 10 s.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		// Result batches are encoded by DoGet itself (wire.go), which
		// needs to know when a connection is gone.
		grpc.StatsHandler(connStats{}),
		grpc.ForceServerCodecV2(newWireCodec()),
	)
	s.grpc = grpc.NewServer(opts...)
	flight.RegisterFlightServiceServer(s.grpc, &flightService{FlightServer: flightsql.NewFlightServerWithAllocator(s, cfg.Mem), s: s})

	s.bg.Add(1)
	go s.janitor()
	return s, nil
}

// Serve accepts connections on lis until Shutdown. It returns nil after a
// Shutdown.
func (s *Server) Serve(lis net.Listener) error {
	err := s.grpc.Serve(lis)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// Shutdown stops accepting calls, cancels running queries (continuous ones
// never end by themselves), waits for handlers to return and closes every
// parked result.
func (s *Server) Shutdown() {
	s.stopOnce.Do(func() {
		close(s.stop)
		s.queries.cancelAll()
		done := make(chan struct{})
		go func() { s.grpc.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			s.grpc.Stop()
			<-done
		}
		s.queries.cancelAll()
		s.queries.wait()
		s.prepared.closeAll()
		s.bg.Wait()
	})
}

// RunningQueries counts queries whose results are not closed yet, parked or
// streaming. Tests use it to check nothing leaks.
func (s *Server) RunningQueries() int { return s.queries.count() }

// janitor closes parked queries nobody fetched and drops idle sessions.
func (s *Server) janitor() {
	defer s.bg.Done()
	period := s.cfg.ParkTimeout / 4
	if period > 10*time.Second {
		period = 10 * time.Second
	}
	if period < 10*time.Millisecond {
		period = 10 * time.Millisecond
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			for _, q := range s.queries.expired(now, s.cfg.ParkTimeout) {
				s.log.Info("flightserver: closing unfetched query", "handle", q.id)
				q.cancel(errors.New("result not fetched in time"))
				if q.noRows {
					s.queries.remove(q)
				}
			}
			s.sessions.expire(now)
			s.prepared.expire(now, s.cfg.SessionIdleTimeout)
		}
	}
}

// engineFor returns the engine of a user: over the whole catalog without
// auth, over the user's tenants with it.
func (s *Server) engineFor(u *User) *engine.Engine {
	name := ""
	if u != nil {
		name = u.Name
	}
	s.engMu.Lock()
	defer s.engMu.Unlock()
	if e, ok := s.engines[name]; ok {
		return e
	}
	var cat catalog.Catalog = s.cfg.Catalog
	if u != nil && !u.allTenants() {
		cat = &tenantCatalog{Catalog: cat, user: u}
	}
	e := engine.New(cat, engine.Options{Mem: s.mem, Logger: s.log})
	if s.cfg.Jobs != nil {
		// One job manager serves every user: jobs are the server's.
		e.SetJobs(s.cfg.Jobs)
	}
	s.engines[name] = e
	return e
}

// catalogFor is the catalog as a user may see it.
func (s *Server) catalogFor(ctx context.Context) catalog.Catalog {
	return s.engineFor(userFrom(ctx)).Catalog()
}

func (s *Server) String() string { return fmt.Sprintf("flightserver(%s)", s.cfg.Catalog.Name()) }
