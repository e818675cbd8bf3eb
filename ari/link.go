package ari

import (
	"github.com/villedemercier/recpolicy/internal/backoff"

	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/CyCoreSystems/ari/v6"
	"github.com/rs/zerolog"
)

// healthFailures is how many failed health checks in a row close the
// connection.
const healthFailures = 2

// link keeps one Stasis application's events WebSocket up: it dials, reads
// events and checks health, and redials with capped exponential backoff
// until its context ends. The greeting client and the snoop client differ
// only in their hooks.
type link struct {
	cfg      Config
	log      zerolog.Logger
	setState func(ConnState)
	// what names the application in log lines ("ari application");
	// lost says what a lost connection means for operators.
	what, lost string

	// connected runs after each connect, before any event is read.
	connected func()
	// decode turns a message into an event (nil: not one of ours).
	decode func([]byte) (ari.Event, error)
	// handle takes each event; it must not block.
	handle func(ari.Event)
	// mark, when set, is read before each health check's request; healthy
	// gets the application's state and that mark after a good check.
	mark    func() uint64
	healthy func(app *ari.ApplicationData, mark uint64)
}

// run dials, serves and redials until ctx ends.
func (l *link) run(ctx context.Context, rest *restClient) {
	bo := backoff.New(l.cfg.MinBackoff, l.cfg.MaxBackoff)
	failures := 0
	for ctx.Err() == nil {
		l.setState(StateConnecting)
		conn, err := dialEvents(ctx, l.cfg)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			l.setState(StateDisconnected)
			failures++
			wait := bo.Next()
			ev := l.log.Warn()
			if failures > 3 {
				ev = l.log.Debug() // keep logs readable while Asterisk stays down
			}
			ev.Err(err).Int("attempt", failures).Dur("retry_in", wait).Str("application", l.cfg.Application).Msg("connect " + l.what + " to asterisk")
			if !sleep(ctx, wait) {
				break
			}
			continue
		}
		if failures > 3 {
			l.log.Info().Int("attempts", failures).Msg("connected to asterisk after failed attempts")
		}
		failures = 0
		l.setState(StateConnected)
		l.log.Info().Str("application", l.cfg.Application).Msg(l.what + " registered")
		if l.connected != nil {
			l.connected()
		}
		err = l.serve(ctx, conn, rest, bo)
		conn.close()
		if ctx.Err() != nil {
			break
		}
		l.setState(StateDisconnected)
		wait := bo.Next()
		if errors.Is(err, ErrAppReplaced) {
			wait = l.cfg.MaxBackoff
		}
		l.log.Warn().Err(err).Dur("retry_in", wait).Msg(l.what + " connection lost; " + l.lost)
		if !sleep(ctx, wait) {
			break
		}
	}
	l.setState(StateDisconnected)
}

// serve runs one connection: a reader and a health check. It returns why
// the connection ended.
func (l *link) serve(ctx context.Context, conn *eventConn, rest *restClient, bo *backoff.Backoff) error {
	connCtx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer conn.close() // unblocks the reader
	defer cancel(nil)
	wg.Go(func() { cancel(l.readEvents(conn)) })
	wg.Go(func() { cancel(l.checkHealth(connCtx, conn, rest, bo)) })
	wg.Go(func() { l.keepWarm(connCtx, rest) })
	<-connCtx.Done()
	return context.Cause(connCtx)
}

// readEvents hands every event to handle until the connection fails. It
// never blocks on anything but the network.
func (l *link) readEvents(conn *eventConn) error {
	for {
		data, err := conn.read()
		if err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		ev, err := l.decode(data)
		if err != nil {
			l.log.Warn().Err(err).Msg("decode ari event")
			continue
		}
		if ev == nil {
			continue
		}
		l.handle(ev)
		if _, ok := ev.(*ari.ApplicationReplaced); ok {
			return ErrAppReplaced
		}
	}
}

// checkHealth pings the WebSocket and checks the application every
// HealthInterval; it returns when the connection should be dropped.
func (l *link) checkHealth(ctx context.Context, conn *eventConn, rest *restClient, bo *backoff.Backoff) error {
	tick := time.NewTicker(l.cfg.HealthInterval)
	defer tick.Stop()
	failed := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if err := conn.ping(); err != nil {
			return err
		}
		var mark uint64
		if l.mark != nil {
			mark = l.mark()
		}
		app, err := rest.application(ctx, l.cfg.Application)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, ErrNotFound):
			return ErrAppNotRegistered
		case err != nil:
			failed++
			l.log.Warn().Err(err).Int("failures", failed).Msg(l.what + " health check")
			if failed >= healthFailures {
				return fmt.Errorf("health check: %w", err)
			}
			continue
		}
		failed = 0
		bo.Reset() // the connection has proven healthy
		if l.healthy != nil {
			l.healthy(app, mark)
		}
	}
}

// warmEvery is how often the REST client's idle connections are used again:
// under Asterisk's HTTP session_keep_alive (15 s by default), after which
// it closes an idle connection.
const warmEvery = 10 * time.Second

// keepWarm keeps warmConns connections (and a prompt lane's) open to
// Asterisk while the events connection is up: at connect, when every
// request of a burst that follows a PBX restart would otherwise open its
// own, and every warmEvery. At connect the pings go along with the
// resynchronisation's requests; each is answered in milliseconds. A
// failed ping is left to the health check to judge.
func (l *link) keepWarm(ctx context.Context, rest *restClient) {
	tick := time.NewTicker(warmEvery)
	defer tick.Stop()
	for {
		if err := rest.warm(ctx, warmConns); err != nil && ctx.Err() == nil {
			l.log.Debug().Err(err).Msg("keep " + l.what + " connections warm")
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sleep waits for d or ctx; it reports false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
