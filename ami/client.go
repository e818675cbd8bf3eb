package ami

import (
	"github.com/villedemercier/recpolicy/internal/backoff"

	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	fifo "github.com/villedemercier/recpolicy/internal/queue"
)

// notifyBuffer is the capacity of the Notifications channel; the unbounded
// queue is behind it.
const notifyBuffer = 64

// restartSlack is how far the estimated Asterisk start time may move before
// a restart is assumed (Uptime has a one-second resolution).
const restartSlack = 3 * time.Second

// Client is a long-lived AMI client that reconnects with capped exponential
// backoff (with jitter). Its methods are safe for concurrent use.
type Client struct {
	cfg      Config
	log      zerolog.Logger
	notif    chan Notification
	q        *fifo.Queue[Notification] // reader → consumer, never blocking the reader
	sess     atomic.Pointer[session]
	ids      atomic.Uint64
	idPrefix string
	running  atomic.Bool

	mu      sync.Mutex
	lastErr error
	boot    bootInfo // of the latest session
}

// bootInfo identifies one run of Asterisk.
type bootInfo struct {
	startup string    // CoreStartupDate + CoreStartupTime from CoreStatus
	start   time.Time // now - Uptime of FullyBooted
}

// NewClient returns a client for cfg; zero fields of cfg take their
// defaults. Nothing happens until Run.
func NewClient(cfg Config, log zerolog.Logger) *Client {
	cfg = cfg.withDefaults()
	return &Client{
		cfg:      cfg,
		log:      log.With().Str("component", "ami").Str("addr", cfg.Addr).Logger(),
		notif:    make(chan Notification, notifyBuffer),
		q:        fifo.New[Notification](),
		idPrefix: fmt.Sprintf("rp-%08x-", rand.Uint32()),
	}
}

// Notifications returns the channel on which events and connection changes
// are delivered, in order. It is the same channel for the client's
// lifetime, fed from an unbounded queue so the connection never waits for
// the consumer, and closed when Run returns (notifications still queued
// then are dropped). It is never closed if Run is never called.
func (c *Client) Notifications() <-chan Notification { return c.notif }

// Connected reports whether a logged-in session is up.
func (c *Client) Connected() bool { return c.sess.Load() != nil }

// LastError returns why the latest connection attempt or session failed, or
// nil while connected (and before the first failure). An authentication
// failure wraps ErrAuth.
func (c *Client) LastError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

func (c *Client) setLastErr(err error) {
	c.mu.Lock()
	c.lastErr = err
	c.mu.Unlock()
}

func (c *Client) nextID() string {
	return c.idPrefix + strconv.FormatUint(c.ids.Add(1), 10)
}

// Run connects, logs in and serves sessions, reconnecting after failures
// with capped exponential backoff, until ctx is cancelled. It then ends
// every goroutine it started, closes the Notifications channel and returns
// nil. It returns an error at once if called twice or if Config.Addr is
// empty.
func (c *Client) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("ami: Run called more than once")
	}
	if c.cfg.Addr == "" {
		close(c.notif)
		return errors.New("ami: config: empty Addr")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		dispatch(ctx, c.q, c.notif)
	}()

	bo := backoff.New(c.cfg.MinBackoff, c.cfg.MaxBackoff)
	var lost time.Time // when the last established session ended
	for ctx.Err() == nil {
		established, err := c.connectAndServe(ctx)
		if ctx.Err() != nil {
			break
		}
		c.setLastErr(err)
		if established {
			bo.Reset()
			lost = time.Now()
		}
		delay := bo.Next()
		if !lost.IsZero() && time.Since(lost) < fastRetryWindow {
			// A session just ended (Asterisk restarting, most often): calls
			// arrive as soon as it is back, so try again at the shortest
			// delay rather than backing off.
			bo.Reset()
			delay = bo.Next()
		}
		ev := c.log.Warn().Err(err).Dur("retry_in", delay)
		if established {
			ev.Msg("ami session ended")
		} else {
			ev.Msg("ami connection failed")
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	cancel()
	wg.Wait()
	close(c.notif)
	return nil
}

// fastRetryWindow is how long after losing an established session the
// client keeps reconnecting at MinBackoff.
const fastRetryWindow = 30 * time.Second

// connectAndServe runs one connection. established reports whether login
// succeeded (and KindConnected was notified).
func (c *Client) connectAndServe(ctx context.Context) (established bool, err error) {
	d := net.Dialer{Timeout: c.cfg.DialTimeout}
	conn, err := d.DialContext(ctx, "tcp", c.cfg.Addr)
	if err != nil {
		return false, fmt.Errorf("dial: %w", err)
	}
	// Until the session takes over, cancelling ctx closes the connection.
	var watch sync.WaitGroup
	handshaken := make(chan struct{})
	watch.Add(1)
	go func() {
		defer watch.Done()
		select {
		case <-ctx.Done():
			_ = conn.Close()
		case <-handshaken:
		}
	}()
	p, hs, err := c.handshake(conn)
	close(handshaken)
	watch.Wait()
	if ctx.Err() != nil {
		_ = conn.Close()
		return false, ctx.Err()
	}
	if err != nil {
		_ = conn.Close()
		return false, err
	}

	restarted := c.recordBoot(hs.boot)
	s := newSession(conn, p, c.log)
	s.boot = hs.boot.startup
	c.sess.Store(s)
	c.setLastErr(nil)
	c.log.Info().Str("banner", hs.banner).Bool("asterisk_restarted", restarted).Msg("ami session established")
	if restarted {
		c.log.Warn().Msg("asterisk restarted since the previous ami session")
	}
	c.q.Push(Notification{Kind: KindConnected, Msg: hs.booted, Restarted: restarted, Boot: s.boot})
	for _, m := range hs.events {
		c.q.Push(Notification{Kind: KindEvent, Msg: m, Boot: s.boot})
	}

	err = c.serve(ctx, s)
	c.sess.CompareAndSwap(s, nil)
	c.q.Push(Notification{Kind: KindDisconnected, Err: err})
	return true, err
}

// serve runs the reader and the pinger of s until s ends or ctx is done.
func (c *Client) serve(ctx context.Context, s *session) error {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		c.readLoop(s)
	}()
	go func() {
		defer wg.Done()
		c.pingLoop(s)
	}()
	select {
	case <-ctx.Done():
		s.logoff(c.nextID())
		s.close(ctx.Err())
	case <-s.done:
	}
	c.sess.CompareAndSwap(s, nil)
	wg.Wait()
	return s.err
}

// readLoop parses messages and hands them off without ever waiting for
// the consumer: responses complete pending calls, list items go to their
// List call, events go to the unbounded queue.
func (c *Client) readLoop(s *session) {
	for {
		m, err := s.p.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("connection closed by asterisk: %w", err)
			}
			s.close(fmt.Errorf("read: %w", err))
			return
		}
		switch m.kind() {
		case kindResponse:
			s.responses.Add(1)
			s.handleResponse(m)
		case kindEvent:
			if s.claimEvent(m) {
				continue
			}
			c.observeEvent(m)
			c.q.Push(Notification{Kind: KindEvent, Msg: m, Received: time.Now(), Boot: s.boot})
		default:
			c.log.Debug().Int("headers", m.Len()).Msg("dropping message that is neither response nor event")
		}
	}
}

// observeEvent notes the events the client itself cares about.
func (c *Client) observeEvent(m *Message) {
	switch ev := m.Event(); {
	case strings.EqualFold(ev, "FullyBooted"):
		if up, err := strconv.ParseInt(m.Get("Uptime"), 10, 64); err == nil {
			c.mu.Lock()
			c.boot.start = time.Now().Add(-time.Duration(up) * time.Second)
			c.mu.Unlock()
		}
	case strings.EqualFold(ev, "Shutdown"):
		c.log.Info().Str("shutdown", m.Get("Shutdown")).Str("restart", m.Get("Restart")).Msg("asterisk is shutting down")
	}
}

// pingLoop sends Ping every PingInterval; a ping without answer within
// ActionTimeout ends the session so that the client reconnects, unless
// Asterisk answered other actions of the session meanwhile: it carries out
// one session's actions one after the other, so under a burst of them a
// ping waits its turn behind them, and the session is busy, not dead
// (closing it would fail every action in flight on it).
func (c *Client) pingLoop(s *session) {
	t := time.NewTicker(c.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		before := s.responses.Load()
		_, err := c.roundTrip(context.Background(), s, "Ping", nil, false)
		if !errors.Is(err, ErrTimeout) {
			continue
		}
		if n := s.responses.Load() - before; n > 0 {
			c.log.Warn().Uint64("answered_meanwhile", n).Dur("timeout", c.cfg.ActionTimeout).
				Msg("ami ping not answered in time, but other actions were: the session is busy, kept")
			continue
		}
		s.close(fmt.Errorf("ping: no answer within %v: %w", c.cfg.ActionTimeout, ErrTimeout))
		return
	}
}

// handshakeResult is what was learnt before the session started.
type handshakeResult struct {
	banner string
	booted *Message   // FullyBooted received during the handshake
	events []*Message // events received during the handshake, in order
	boot   bootInfo
}

// handshake reads the banner, logs in and sends CoreStatus, all
// synchronously. CoreStatus identifies the Asterisk run and, being answered
// after the FullyBooted that follows a login, lets that event be seen before
// KindConnected is notified.
func (c *Client) handshake(conn net.Conn) (*Parser, handshakeResult, error) {
	var hs handshakeResult
	p := NewParser(conn)
	if err := conn.SetDeadline(time.Now().Add(c.cfg.DialTimeout)); err != nil {
		return nil, hs, err
	}
	banner, err := p.ReadBanner()
	if err != nil {
		return nil, hs, fmt.Errorf("read banner: %w", err)
	}
	hs.banner = banner

	login := []Header{{"Username", c.cfg.Username}, {"Secret", c.cfg.Secret}, {"Events", c.cfg.Events}}
	resp, err := c.syncAction(conn, p, "Login", login, &hs.events)
	if err != nil {
		return nil, hs, err
	}
	if isErrorResponse(resp) {
		return nil, hs, fmt.Errorf("action Login: user %s: %w: %s", printable(c.cfg.Username), ErrAuth, printable(resp.Get("Message")))
	}

	if c.cfg.Filter != "" {
		// One expression, so that the filter is either wholly in place or
		// not at all (Asterisk passes an event matching any of a session's
		// filters): a refusal leaves every event flowing, never a subset.
		resp, err = c.syncAction(conn, p, "Filter", []Header{{"Operation", "Add"}, {"Filter", c.cfg.Filter}}, &hs.events)
		if err != nil {
			return nil, hs, err
		}
		if isErrorResponse(resp) {
			c.log.Warn().Str("reason", printable(resp.Get("Message"))).
				Msg("asterisk refused the event filter (the AMI user needs write = system); every event is read, which costs the PBX more under a burst")
		}
	}

	resp, err = c.syncAction(conn, p, "CoreStatus", nil, &hs.events)
	if err != nil {
		return nil, hs, err
	}
	if !isErrorResponse(resp) {
		if d, t := resp.Get("CoreStartupDate"), resp.Get("CoreStartupTime"); d != "" || t != "" {
			hs.boot.startup = d + " " + t
		}
	} else {
		c.log.Debug().Str("message", resp.Get("Message")).Msg("CoreStatus refused; restart detection relies on FullyBooted")
	}
	for _, m := range hs.events {
		if strings.EqualFold(m.Event(), "FullyBooted") {
			hs.booted = m
			if up, err := strconv.ParseInt(m.Get("Uptime"), 10, 64); err == nil {
				hs.boot.start = time.Now().Add(-time.Duration(up) * time.Second)
			}
		}
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return nil, hs, err
	}
	return p, hs, nil
}

// syncAction writes an action and reads until its response, keeping events
// and dropping other responses. Used before the reader goroutine starts.
func (c *Client) syncAction(conn net.Conn, p *Parser, action string, headers []Header, events *[]*Message) (*Message, error) {
	id := c.nextID()
	req, err := encodeAction(action, id, headers)
	if err != nil {
		return nil, fmt.Errorf("action %s: %w", action, err)
	}
	if err := conn.SetDeadline(time.Now().Add(c.cfg.ActionTimeout)); err != nil {
		return nil, fmt.Errorf("action %s: %w", action, err)
	}
	if _, err := conn.Write(req); err != nil {
		return nil, fmt.Errorf("action %s: send: %w", action, err)
	}
	for {
		m, err := p.Next()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil, fmt.Errorf("action %s: %w: %w", action, ErrTimeout, err)
			}
			return nil, fmt.Errorf("action %s: read: %w", action, err)
		}
		switch m.kind() {
		case kindResponse:
			if m.ActionID() == id {
				return m, nil
			}
		case kindEvent:
			*events = append(*events, m)
		}
	}
}

// recordBoot stores the identity of the Asterisk run of a new session and
// reports whether it differs from the previous one.
func (c *Client) recordBoot(b bootInfo) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	prev := c.boot
	restarted := false
	switch {
	case prev.startup != "" && b.startup != "":
		restarted = prev.startup != b.startup
	case !prev.start.IsZero() && !b.start.IsZero():
		restarted = b.start.Sub(prev.start) > restartSlack
	}
	if b.startup != "" {
		c.boot.startup = b.startup
	}
	if !b.start.IsZero() {
		c.boot.start = b.start
	}
	return restarted
}
