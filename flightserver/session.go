package flightserver

import (
	"container/list"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"sync"
	"time"

	"github.com/magnetar-sql/magnetar/engine"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// SessionCookie is the cookie naming a session; arrow's own session
// middleware uses the same name, so clients that support Flight sessions
// carry it already.
const SessionCookie = "arrow_flight_session_id"

// SessionHeader names a session for clients without cookie support.
const SessionHeader = "x-magnetar-session"

// clientSession is one client's SQL session. The engine session runs one
// statement at a time, so mu is held while a statement is planned and
// executed; a streaming query releases it while its rows are pulled.
type clientSession struct {
	id   string
	user string

	mu   sync.Mutex
	sess *engine.Session

	elem     *list.Element
	lastUsed time.Time
}

type sessionStore struct {
	mu    sync.Mutex
	byID  map[string]*clientSession
	lru   *list.List // front: most recently used
	max   int
	idle  time.Duration
	nowFn func() time.Time
}

func newSessionStore(max int, idle time.Duration) *sessionStore {
	return &sessionStore{byID: map[string]*clientSession{}, lru: list.New(), max: max, idle: idle, nowFn: time.Now}
}

func (st *sessionStore) get(id, user string) *clientSession {
	st.mu.Lock()
	defer st.mu.Unlock()
	cs, ok := st.byID[id]
	// A session belongs to the user who created it: another user's
	// cookie (stolen or stale) does not give access to it.
	if !ok || cs.user != user {
		return nil
	}
	cs.lastUsed = st.nowFn()
	st.lru.MoveToFront(cs.elem)
	return cs
}

func (st *sessionStore) add(cs *clientSession) {
	st.mu.Lock()
	defer st.mu.Unlock()
	cs.lastUsed = st.nowFn()
	cs.elem = st.lru.PushFront(cs)
	st.byID[cs.id] = cs
	for st.lru.Len() > st.max {
		old := st.lru.Back().Value.(*clientSession)
		st.removeLocked(old)
	}
}

func (st *sessionStore) remove(cs *clientSession) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.byID[cs.id] == cs {
		st.removeLocked(cs)
	}
}

func (st *sessionStore) removeLocked(cs *clientSession) {
	st.lru.Remove(cs.elem)
	delete(st.byID, cs.id)
}

func (st *sessionStore) expire(now time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for e := st.lru.Back(); e != nil; {
		cs := e.Value.(*clientSession)
		if now.Sub(cs.lastUsed) < st.idle {
			return
		}
		prev := e.Prev()
		st.removeLocked(cs)
		e = prev
	}
}

func (st *sessionStore) len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.byID)
}

func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// sessionID reads the session a call names, from the header or the cookie.
func sessionID(ctx context.Context) string {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return ""
	}
	if v := md.Get(SessionHeader); len(v) > 0 && v[0] != "" {
		return v[0]
	}
	cookies := md.Get("cookie")
	if len(cookies) == 0 {
		return ""
	}
	req := http.Request{Header: http.Header{"Cookie": cookies}}
	c, err := req.Cookie(SessionCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

type sessionKey struct{}

// session returns the calling client's session, as found by the
// interceptor (withSession).
func (s *Server) session(ctx context.Context) *clientSession {
	if cs, ok := ctx.Value(sessionKey{}).(*clientSession); ok {
		return cs
	}
	cs, _ := s.findSession(ctx)
	return cs
}

// findSession returns the session a call names, or a new one when it names
// none or an unknown one (fresh reports that: the client must be told).
func (s *Server) findSession(ctx context.Context) (cs *clientSession, fresh bool) {
	u := userFrom(ctx)
	uname := userName(u)
	if id := sessionID(ctx); id != "" {
		if cs := s.sessions.get(id, uname); cs != nil {
			return cs, false
		}
	}
	cs = &clientSession{id: newID(), user: uname, sess: s.engineFor(u).NewSession()}
	s.sessions.add(cs)
	return cs, true
}

// sessionHeaders tell a client its new session, both as a cookie (JDBC
// and the Go/C++ cookie middlewares keep it) and as a plain header.
func sessionHeaders(cs *clientSession) metadata.MD {
	return metadata.Pairs("set-cookie", SessionCookie+"="+cs.id, SessionHeader, cs.id)
}

// Every call gets a session before its handler runs, so that a client's
// first call, whatever it is, brings back the cookie: the Go client only
// reads the headers of a streaming call that it reads to the end, which
// ExecuteUpdate does not.
func (s *Server) unarySession(ctx context.Context) context.Context {
	cs, fresh := s.findSession(ctx)
	if fresh {
		// An error means the headers are gone already; the session then
		// lasts one call.
		_ = grpc.SetHeader(ctx, sessionHeaders(cs))
	}
	return context.WithValue(ctx, sessionKey{}, cs)
}

func (s *Server) streamSession(ss grpc.ServerStream) context.Context {
	ctx := ss.Context()
	cs, fresh := s.findSession(ctx)
	if fresh {
		_ = ss.SetHeader(sessionHeaders(cs))
	}
	return context.WithValue(ctx, sessionKey{}, cs)
}
