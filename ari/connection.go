package ari

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/CyCoreSystems/ari/v6"
)

// healthFailures is how many failed health checks in a row close the
// connection.
const healthFailures = 2

// connectLoop dials, serves and redials until ctx ends.
func (c *Client) connectLoop(ctx context.Context, rest *restClient, d *dispatcher) {
	bo := newBackoff(c.cfg.MinBackoff, c.cfg.MaxBackoff)
	failures := 0
	for ctx.Err() == nil {
		c.setState(StateConnecting)
		conn, err := dialEvents(ctx, c.cfg)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			c.setState(StateDisconnected)
			failures++
			wait := bo.next()
			ev := c.log.Warn()
			if failures > 3 {
				ev = c.log.Debug() // keep logs readable while Asterisk stays down
			}
			ev.Err(err).Int("attempt", failures).Dur("retry_in", wait).Msg("connect to asterisk")
			if !sleep(ctx, wait) {
				break
			}
			continue
		}
		if failures > 3 {
			c.log.Info().Int("attempts", failures).Msg("connected to asterisk after failed attempts")
		}
		failures = 0
		c.setState(StateConnected)
		c.log.Info().Str("application", c.cfg.Application).Msg("ari application registered")
		err = c.serve(ctx, conn, rest, d, bo)
		conn.close()
		if ctx.Err() != nil {
			break
		}
		c.setState(StateDisconnected)
		wait := bo.next()
		if errors.Is(err, ErrAppReplaced) {
			wait = c.cfg.MaxBackoff
		}
		c.log.Warn().Err(err).Dur("retry_in", wait).Msg("ari connection lost; inbound calls take the dialplan fallback until it is back")
		if !sleep(ctx, wait) {
			break
		}
	}
	c.setState(StateDisconnected)
}

// serve runs one connection: a reader that hands events to the dispatcher
// and a health check. It returns why the connection ended.
func (c *Client) serve(ctx context.Context, conn *eventConn, rest *restClient, d *dispatcher, bo *backoff) error {
	connCtx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer conn.close() // unblocks the reader
	defer cancel(nil)

	d.post(msgConnected{})
	wg.Go(func() { cancel(c.readEvents(conn, d)) })
	wg.Go(func() { cancel(c.checkHealth(connCtx, conn, rest, d, bo)) })
	<-connCtx.Done()
	return context.Cause(connCtx)
}

// readEvents decodes every message into the dispatcher's queue until the
// connection fails. It never blocks on anything but the network.
func (c *Client) readEvents(conn *eventConn, d *dispatcher) error {
	for {
		data, err := conn.read()
		if err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		ev, err := decodeEvent(data)
		if err != nil {
			c.log.Warn().Err(err).Msg("decode ari event")
			continue
		}
		if ev == nil {
			continue
		}
		d.post(msgEvent{ev: ev})
		if _, ok := ev.(*ari.ApplicationReplaced); ok {
			return ErrAppReplaced
		}
	}
}

// checkHealth pings the WebSocket and checks the application every
// HealthInterval; it returns when the connection should be dropped.
func (c *Client) checkHealth(ctx context.Context, conn *eventConn, rest *restClient, d *dispatcher, bo *backoff) error {
	tick := time.NewTicker(c.cfg.HealthInterval)
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
		maxSeq := d.seq.Load()
		app, err := rest.application(ctx, c.cfg.Application)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, ErrNotFound):
			return ErrAppNotRegistered
		case err != nil:
			failed++
			c.log.Warn().Err(err).Int("failures", failed).Msg("ari health check")
			if failed >= healthFailures {
				return fmt.Errorf("health check: %w", err)
			}
			continue
		}
		failed = 0
		bo.reset() // the connection has proven healthy
		d.post(msgListing{ids: app.ChannelIDs, maxSeq: maxSeq})
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
