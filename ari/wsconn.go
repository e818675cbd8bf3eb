package ari

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/websocket"
)

// maxFrameBytes caps one WebSocket message (ARI events are a few KiB).
const maxFrameBytes = 4 << 20

// eventConn is one ARI events WebSocket. Reads fail after idle without any
// incoming byte (pings make Asterisk send pongs), writes after writeTimeout.
type eventConn struct {
	ws        *websocket.Conn
	raw       *deadlineConn
	closeOnce sync.Once
}

// dialEvents opens the events WebSocket for cfg (defaults applied, valid):
// TCP dial and upgrade both within cfg.DialTimeout, and abandoned at once
// when ctx ends.
func dialEvents(ctx context.Context, cfg Config) (*eventConn, error) {
	wsURL, err := cfg.eventsURL()
	if err != nil {
		return nil, err
	}
	origin := &url.URL{Scheme: "http", Host: wsURL.Host}
	if wsURL.Scheme == "wss" {
		origin.Scheme = "https"
	}
	wcfg, err := websocket.NewConfig(wsURL.String(), origin.String())
	if err != nil {
		return nil, fmt.Errorf("%w: websocket config: %v", ErrInvalidConfig, err)
	}
	wcfg.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cfg.Username+":"+cfg.Password)))

	dctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	dialer := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 15 * time.Second}
	nc, err := dialer.DialContext(dctx, "tcp", hostPort(wsURL))
	if err != nil {
		return nil, fmt.Errorf("dial websocket: %w", err)
	}
	if wsURL.Scheme == "wss" {
		tc := tls.Client(nc, &tls.Config{ServerName: wsURL.Hostname(), MinVersion: tls.VersionTLS12})
		if err := tc.HandshakeContext(dctx); err != nil {
			_ = nc.Close()
			return nil, fmt.Errorf("dial websocket: tls: %w", err)
		}
		nc = tc
	}
	idle := 3 * cfg.HealthInterval
	dc := &deadlineConn{Conn: nc, writeTimeout: cfg.RequestTimeout}
	// The upgrade: bounded by the dial deadline, aborted when ctx ends.
	if deadline, ok := dctx.Deadline(); ok {
		_ = nc.SetDeadline(deadline)
	}
	stop := context.AfterFunc(dctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	ws, err := websocket.NewClient(wcfg, dc)
	aborted := !stop()
	if err != nil || aborted {
		_ = nc.Close()
		if err == nil {
			err = dctx.Err()
		}
		var derr *websocket.DialError
		if errors.As(err, &derr) {
			err = derr.Err
		}
		if errors.Is(err, websocket.ErrBadStatus) {
			// x/net's client keeps no status code: the hint names every
			// cause Asterisk refuses an upgrade for, a transient one too.
			return nil, fmt.Errorf("upgrade websocket: %w (Asterisk refused it: ari.username or ari.password wrong, ari.url not Asterisk's ARI, or ARI not loaded yet after a restart; `recpolicy doctor` checks the first two)", err)
		}
		return nil, fmt.Errorf("upgrade websocket: %w", err)
	}
	_ = nc.SetDeadline(time.Time{})
	dc.idle.Store(int64(idle))
	ws.MaxPayloadBytes = maxFrameBytes
	ws.PayloadType = websocket.PingFrame // the only frames this client writes
	return &eventConn{ws: ws, raw: dc}, nil
}

// hostPort returns u's host with the scheme's default port when absent.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "wss" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// read returns the next message; pings and pongs are handled underneath.
func (c *eventConn) read() ([]byte, error) {
	var data []byte
	if err := websocket.Message.Receive(c.ws, &data); err != nil {
		return nil, err
	}
	return data, nil
}

// ping sends a WebSocket ping; Asterisk answers with a pong.
func (c *eventConn) ping() error {
	if _, err := c.ws.Write([]byte("recpolicy")); err != nil {
		return fmt.Errorf("ping websocket: %w", err)
	}
	return nil
}

// close sends a close frame (bounded by the write timeout) and closes the
// TCP connection; a pending read returns an error. Safe to call twice.
func (c *eventConn) close() {
	c.closeOnce.Do(func() { _ = c.ws.Close() })
}

// deadlineConn arms a fresh read deadline before each read (once idle is
// set) and a write deadline before each write, so a silent peer cannot block
// the reader or a writer forever.
type deadlineConn struct {
	net.Conn
	idle         atomic.Int64 // time.Duration; 0 = no read deadline
	writeTimeout time.Duration
}

func (c *deadlineConn) Read(p []byte) (int, error) {
	if idle := time.Duration(c.idle.Load()); idle > 0 {
		if err := c.Conn.SetReadDeadline(time.Now().Add(idle)); err != nil {
			return 0, err
		}
	}
	return c.Conn.Read(p)
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.writeTimeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}
