package ari

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/net/websocket"
)

// testLogger logs to the test's output.
func testLogger(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel).With().Timestamp().Logger()
}

// runningClient is a Client whose Run goroutine the test controls.
type runningClient struct {
	*Client
	cancel  context.CancelFunc
	done    chan error
	stopped bool
}

// startClient runs a Client until the test ends (or stop) and waits until
// it is connected; a non-zero grace replaces the resynchronisation grace.
func startClient(t *testing.T, cfg Config, g GreetingConfig, grace time.Duration) *runningClient {
	t.Helper()
	rc := runClient(t, cfg, g, grace)
	waitFor(t, 10*time.Second, "client connected", rc.Connected)
	return rc
}

// runClient runs a Client until the test ends (or stop).
func runClient(t *testing.T, cfg Config, g GreetingConfig, grace time.Duration) *runningClient {
	t.Helper()
	c := NewClient(cfg, g, testLogger(t))
	if grace > 0 {
		c.grace = grace
	}
	ctx, cancel := context.WithCancel(context.Background())
	rc := &runningClient{Client: c, cancel: cancel, done: make(chan error, 1)}
	go func() { rc.done <- c.Run(ctx) }()
	t.Cleanup(func() { rc.stop(t) })
	return rc
}

// stop cancels Run and returns how long it took to return (0 when it had
// already been stopped).
func (rc *runningClient) stop(t *testing.T) time.Duration {
	t.Helper()
	if rc.stopped {
		return 0
	}
	rc.stopped = true
	start := time.Now()
	rc.cancel()
	select {
	case err := <-rc.done:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	return time.Since(start)
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// servePing answers GET /asterisk/ping as Asterisk does.
func servePing(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"asterisk_id":"fake","ping":"pong","timestamp":"2026-12-06T00:00:00.000+0000"}`))
}

// slotsFree reports whether every accept slot of rest's lanes is free.
func slotsFree(rest *restClient) bool {
	return len(rest.main.gate.slots) == 0 && (rest.prompt == nil || len(rest.prompt.gate.slots) == 0)
}

// eventSocket serves a fake's event WebSocket as Asterisk registers an
// application: with the handshake. accept runs under mu at the handshake
// and may refuse it (nil accepts). An accepted handshake counts in
// *opening until serve takes the connection (serve must decrement it,
// under mu, as it registers the connection or turns it away), or until
// the upgrade fails before serve could run (the client gone mid-upgrade).
func eventSocket(mu *sync.Mutex, opening *int, accept func() error, serve websocket.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		counted, served := false, false
		websocket.Server{
			Handshake: func(*websocket.Config, *http.Request) error {
				mu.Lock()
				defer mu.Unlock()
				if accept != nil {
					if err := accept(); err != nil {
						return err
					}
				}
				*opening++
				counted = true
				return nil
			},
			Handler: func(ws *websocket.Conn) {
				served = true
				serve(ws)
			},
		}.ServeHTTP(w, r)
		if counted && !served {
			mu.Lock()
			*opening--
			mu.Unlock()
		}
	}
}

// awaitOpenings waits, up to a second, for the WebSockets counted in
// *opening to be taken by their handler, so that an event goes to every
// WebSocket whose handshake the client has seen accepted. It is called
// with mu held and returns with it held.
func awaitOpenings(mu *sync.Mutex, opening *int) {
	for deadline := time.Now().Add(time.Second); *opening > 0 && time.Now().Before(deadline); {
		mu.Unlock()
		time.Sleep(time.Millisecond)
		mu.Lock()
	}
}
