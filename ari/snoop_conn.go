package ari

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/CyCoreSystems/ari/v6"
)

// Run registers the snoop application and serves it until ctx is
// cancelled, reconnecting with capped exponential backoff whenever the
// connection fails and resynchronising after every connect. On
// cancellation it closes the WebSocket and waits (at most about twice
// RequestTimeout) for the requests in flight; recordings keep running in
// Asterisk (the next start adopts them). It returns an error only for an
// invalid configuration or a second call.
func (s *SnoopClient) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer s.setState(StateStopped)
	if err := s.cfg.Validate(); err != nil {
		return fmt.Errorf("start ari snoop client: %w", err)
	}
	rest, err := newRESTClient(s.cfg)
	if err != nil {
		return fmt.Errorf("start ari snoop client: %w", err)
	}
	defer rest.close()
	opsCtx, opsCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer opsCancel()
	s.mu.Lock()
	s.opsCtx = opsCtx
	s.mu.Unlock()
	s.rest.Store(rest)
	s.log.Info().Object("config", s.cfg).Msg("ari snoop client started")

	s.connectLoop(ctx, rest)

	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	capTimer := time.NewTimer(2 * s.cfg.RequestTimeout)
	defer capTimer.Stop()
	select {
	case <-done:
	case <-capTimer.C:
		s.log.Warn().Msg("snoop requests still in flight at shutdown deadline; cancelling them")
		opsCancel()
		<-done
	}
	s.log.Info().Msg("ari snoop client stopped")
	return nil
}

// connectLoop dials, serves and redials until ctx ends.
func (s *SnoopClient) connectLoop(ctx context.Context, rest *restClient) {
	bo := newBackoff(s.cfg.MinBackoff, s.cfg.MaxBackoff)
	failures := 0
	for ctx.Err() == nil {
		s.setState(StateConnecting)
		conn, err := dialEvents(ctx, s.cfg)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			s.setState(StateDisconnected)
			failures++
			wait := bo.next()
			ev := s.log.Warn()
			if failures > 3 {
				ev = s.log.Debug()
			}
			ev.Err(err).Int("attempt", failures).Dur("retry_in", wait).Msg("connect snoop application to asterisk")
			if !sleep(ctx, wait) {
				break
			}
			continue
		}
		failures = 0
		s.setState(StateConnected)
		s.log.Info().Str("application", s.cfg.Application).Msg("ari snoop application registered")
		s.resync()
		err = s.serve(ctx, conn, rest, bo)
		conn.close()
		if ctx.Err() != nil {
			break
		}
		s.setState(StateDisconnected)
		wait := bo.next()
		if errors.Is(err, ErrAppReplaced) {
			wait = s.cfg.MaxBackoff
		}
		s.log.Warn().Err(err).Dur("retry_in", wait).Msg("ari snoop connection lost; new recordings cannot start until it is back")
		if !sleep(ctx, wait) {
			break
		}
	}
	s.setState(StateDisconnected)
}

// serve runs one connection: a reader that applies events and a health
// check. It returns why the connection ended.
func (s *SnoopClient) serve(ctx context.Context, conn *eventConn, rest *restClient, bo *backoff) error {
	connCtx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer conn.close() // unblocks the reader
	defer cancel(nil)
	wg.Go(func() { cancel(s.readEvents(conn)) })
	wg.Go(func() { cancel(s.checkHealth(connCtx, conn, rest, bo)) })
	<-connCtx.Done()
	return context.Cause(connCtx)
}

// readEvents applies every event until the connection fails. Handling an
// event only takes a short lock, so the reader never falls behind.
func (s *SnoopClient) readEvents(conn *eventConn) error {
	for {
		data, err := conn.read()
		if err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		ev, err := decodeSnoopEvent(data)
		if err != nil {
			s.log.Warn().Err(err).Msg("decode ari event")
			continue
		}
		if ev == nil {
			continue
		}
		if _, ok := ev.(*ari.ApplicationReplaced); ok {
			return ErrAppReplaced
		}
		s.handle(ev)
	}
}

// checkHealth pings the WebSocket and checks the application every
// HealthInterval; it returns when the connection should be dropped.
func (s *SnoopClient) checkHealth(ctx context.Context, conn *eventConn, rest *restClient, bo *backoff) error {
	tick := time.NewTicker(s.cfg.HealthInterval)
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
		_, err := rest.application(ctx, s.cfg.Application)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, ErrNotFound):
			return ErrAppNotRegistered
		case err != nil:
			failed++
			s.log.Warn().Err(err).Int("failures", failed).Msg("ari snoop health check")
			if failed >= healthFailures {
				return fmt.Errorf("health check: %w", err)
			}
			continue
		}
		failed = 0
		bo.reset()
	}
}
