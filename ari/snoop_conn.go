package ari

import (
	"context"
	"fmt"
	"time"
)

// Run registers the snoop application and serves it until ctx is
// cancelled, reconnecting with capped exponential backoff whenever the
// connection fails and resynchronising after every connect. On
// cancellation it closes the WebSocket, waits (at most about twice
// RequestTimeout) for the requests in flight, then removes the
// application's endpoint subscriptions (snoop_watch.go; at most
// unwatchTimeout more); recordings keep running in Asterisk (the next
// start adopts them). It returns an error only for an invalid
// configuration or a second call.
func (s *SnoopClient) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer s.setState(StateStopped)
	if err := s.cfg.Validate(); err != nil {
		return fmt.Errorf("start ari snoop client: %w", err)
	}
	rest, err := newRESTClient(s.cfg, true)
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
	// Asterisk keeps the endpoint subscriptions of an application whose
	// WebSocket is gone: they are removed, within unwatchTimeout.
	unwatchCtx, unwatchCancel := context.WithTimeout(context.WithoutCancel(ctx), min(s.cfg.RequestTimeout, unwatchTimeout))
	s.unwatch(unwatchCtx, rest)
	unwatchCancel()
	s.log.Info().Msg("ari snoop client stopped")
	return nil
}

// connectLoop keeps the snoop application connected until ctx ends, and
// resynchronises its recordings after every connect.
func (s *SnoopClient) connectLoop(ctx context.Context, rest *restClient) {
	l := &link{
		cfg: s.cfg, log: s.log, setState: s.setState,
		what: "ari snoop application", lost: "new recordings cannot start until it is back",
		connected: s.connected,
		decode:    decodeSnoopEvent,
		handle:    s.handle,
	}
	l.run(ctx, rest)
}
