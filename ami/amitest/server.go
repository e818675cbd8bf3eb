package amitest

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/ami"
)

// DefaultBanner is the banner Asterisk 22 sends.
const DefaultBanner = "Asterisk Call Manager/11.0.0"

// writeTimeout bounds every write of the server, so that a client that
// stops reading makes writes fail instead of hanging the test.
const writeTimeout = 10 * time.Second

// Handler answers an action other than Login, Logoff, Ping and CoreStatus.
// It runs on the session's reading goroutine, like Asterisk, which handles
// one action at a time per session, so it must not block for long (Close
// waits for it); it may reply later from another goroutine. A Handler that
// writes nothing leaves the action unanswered.
type Handler func(s *Session, action *ami.Message)

// Config configures a Server.
type Config struct {
	Username string // if set, Login must carry this Username
	Secret   string // Login must carry this Secret
	Banner   string // default DefaultBanner
	// NoFullyBooted suppresses the FullyBooted event sent after a login
	// with events on.
	NoFullyBooted bool
	// RefuseCoreStatus answers CoreStatus with "Permission denied", as
	// Asterisk does for a user without the system read permission.
	RefuseCoreStatus bool
	// RefuseFilter answers Filter with "Permission denied", as Asterisk
	// does for a user without the system write permission.
	RefuseFilter bool
	// Handler answers other actions; nil answers them all with
	// "Response: Error", "Message: Invalid/unknown command".
	Handler Handler
}

// Server is a fake AMI server. Its methods are safe for concurrent use.
type Server struct {
	cfg Config
	ln  net.Listener
	wg  sync.WaitGroup

	mu            sync.Mutex
	closed        bool
	sessions      map[*Session]struct{}
	secret        string
	start         time.Time
	reload        time.Time
	pingsOff      bool
	logins        int
	loginFailures int
	counts        map[string]int
}

// NewServer starts a server on 127.0.0.1 on a free port.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Banner == "" {
		cfg.Banner = DefaultBanner
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("amitest: listen: %w", err)
	}
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	s := &Server{
		cfg:      cfg,
		ln:       ln,
		sessions: make(map[*Session]struct{}),
		secret:   cfg.Secret,
		start:    start,
		reload:   start,
		counts:   make(map[string]int),
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Start is NewServer for tests: it fails tb on error and closes the server
// when the test ends.
func Start(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	s, err := NewServer(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops listening, closes every connection and waits for the
// server's goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	err := s.ln.Close()
	for sess := range s.sessions {
		_ = sess.conn.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		sess := &Session{srv: s, conn: conn}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = conn.Close()
			return
		}
		s.sessions[sess] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go sess.serve()
	}
}

// SetSecret changes the secret that Login must carry.
func (s *Server) SetSecret(secret string) {
	s.mu.Lock()
	s.secret = secret
	s.mu.Unlock()
}

// SetPingsAnswered makes the server answer Ping (true, the default) or
// ignore it (false), as a hung Asterisk would.
func (s *Server) SetPingsAnswered(on bool) {
	s.mu.Lock()
	s.pingsOff = !on
	s.mu.Unlock()
}

// Logins returns how many logins succeeded.
func (s *Server) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// LoginFailures returns how many logins were rejected.
func (s *Server) LoginFailures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loginFailures
}

// ActionCount returns how many actions of that name (case-insensitive) were
// received, Login and Ping included.
func (s *Server) ActionCount(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[strings.ToLower(name)]
}

// Sessions returns how many logged-in sessions are open.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for sess := range s.sessions {
		if sess.loggedIn.Load() {
			n++
		}
	}
	return n
}

// StartTime returns when the simulated Asterisk started.
func (s *Server) StartTime() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.start
}

// DropConnections closes every client connection, as a crash or a network
// failure would (no Shutdown event).
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sess := range s.sessions {
		_ = sess.conn.Close()
	}
}

// Restart simulates an Asterisk restart: it sends Shutdown to logged-in
// sessions, drops every connection and resets the start time (so the
// Uptime of FullyBooted and the CoreStartupTime of CoreStatus change).
func (s *Server) Restart() {
	_ = s.Push("Shutdown", ami.Header{Key: "Privilege", Value: "system,all"},
		ami.Header{Key: "Shutdown", Value: "Cleanly"}, ami.Header{Key: "Restart", Value: "True"})
	s.mu.Lock()
	now := time.Now().Truncate(time.Second)
	if !now.After(s.start) {
		now = s.start.Add(time.Second)
	}
	s.start, s.reload = now, now
	s.mu.Unlock()
	s.DropConnections()
}

// Push sends an event to every logged-in session with events on. It
// returns the first write error.
func (s *Server) Push(event string, headers ...ami.Header) error {
	return s.PushRaw(string(Format(ami.Header{Key: "Event", Value: event}, headers...)))
}

// PushRaw writes raw (one or more complete messages) to every logged-in
// session with events on whose filters (the Filter action) it matches.
func (s *Server) PushRaw(raw string) error {
	var errs []error
	for _, sess := range s.eventSessions() {
		if !sess.passes(raw) {
			continue
		}
		if err := sess.WriteRaw(raw); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Server) eventSessions() []*Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Session
	for sess := range s.sessions {
		if sess.loggedIn.Load() && sess.eventsOn.Load() {
			out = append(out, sess)
		}
	}
	return out
}

func (s *Server) count(action string) {
	s.mu.Lock()
	s.counts[strings.ToLower(action)]++
	s.mu.Unlock()
}

func (s *Server) remove(sess *Session) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
}

// Format returns the wire form of a message: first, then headers, then the
// blank line. It does not validate.
func Format(first ami.Header, headers ...ami.Header) []byte {
	b := make([]byte, 0, 64+32*len(headers))
	b = appendHeader(b, first)
	for _, h := range headers {
		b = appendHeader(b, h)
	}
	return append(b, '\r', '\n')
}

func appendHeader(b []byte, h ami.Header) []byte {
	b = append(b, h.Key...)
	b = append(b, ':', ' ')
	b = append(b, h.Value...)
	return append(b, '\r', '\n')
}

// uptimes returns the simulated uptime and time since last reload, in
// seconds.
func (s *Server) uptimes() (up, reload int64, start time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	up = int64(now.Sub(s.start) / time.Second)
	reload = int64(now.Sub(s.reload) / time.Second)
	return max(up, 0), max(reload, 0), s.start
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
