package ari

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestAcceptGateBoundsConnectionsAwaitingAReply checks that the gate lets
// no more than its slots' worth of connections wait for the peer's first
// byte, and that a read or a close gives the slot back.
func TestAcceptGateBoundsConnectionsAwaitingAReply(t *testing.T) {
	var peers []net.Conn
	dial := func(context.Context, string, string) (net.Conn, error) {
		client, server := net.Pipe()
		peers = append(peers, server)
		return client, nil
	}
	g := newAcceptGate(2, dial)
	full, cancel := context.WithCancel(context.Background())
	cancel() // a dial that must wait fails at once with its context's error

	a, err := g.DialContext(context.Background(), "tcp", "pbx:8088")
	if err != nil {
		t.Fatalf("first dial: %v", err)
	}
	b, err := g.DialContext(context.Background(), "tcp", "pbx:8088")
	if err != nil {
		t.Fatalf("second dial: %v", err)
	}
	if _, err := g.DialContext(full, "tcp", "pbx:8088"); !errors.Is(err, context.Canceled) {
		t.Fatalf("third dial with both slots held: got %v, want context.Canceled", err)
	}

	// The peer answers on a: its first read gives its slot back.
	go func() { _, _ = peers[0].Write([]byte("H")) }()
	if _, err := a.Read(make([]byte, 1)); err != nil {
		t.Fatalf("read a: %v", err)
	}
	c, err := g.DialContext(full, "tcp", "pbx:8088")
	if err != nil {
		t.Fatalf("dial after a was answered: %v", err)
	}
	// A second read does not give a slot back twice.
	go func() { _, _ = peers[0].Write([]byte("T")) }()
	if _, err := a.Read(make([]byte, 1)); err != nil {
		t.Fatalf("second read a: %v", err)
	}
	if _, err := g.DialContext(full, "tcp", "pbx:8088"); !errors.Is(err, context.Canceled) {
		t.Fatalf("dial with b and c waiting: got %v, want context.Canceled", err)
	}

	// Closing b, never answered, gives its slot back; closing it twice does
	// not give two.
	_ = b.Close()
	_ = b.Close()
	if _, err := g.DialContext(full, "tcp", "pbx:8088"); err != nil {
		t.Fatalf("dial after b was closed: %v", err)
	}
	if _, err := g.DialContext(full, "tcp", "pbx:8088"); !errors.Is(err, context.Canceled) {
		t.Fatalf("dial with c and d waiting: got %v, want context.Canceled", err)
	}
	_ = c.Close()
	_ = a.Close()
}

// TestAcceptGateGivesTheSlotBackWhenTheDialFails checks that a failed dial
// holds no slot.
func TestAcceptGateGivesTheSlotBackWhenTheDialFails(t *testing.T) {
	refused := errors.New("connection refused")
	g := newAcceptGate(1, func(context.Context, string, string) (net.Conn, error) { return nil, refused })
	full, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 3 {
		if _, err := g.DialContext(full, "tcp", "pbx:8088"); !errors.Is(err, refused) {
			t.Fatalf("dial %d: got %v, want the dial's error", i, err)
		}
	}
}

// TestWarmOpensConnectionsThroughTheGate checks, against an HTTP server
// counting connections, that warm's pings each get a reply over no more
// connections than pings, that a failed ping is returned, and that closing
// the client's idle connections gives every accept slot back. (A
// connection net/http opened for a request another connection served sits
// idle with its slot until a request uses it or it is closed: a dial then
// needed finds that idle connection first, so it never waits for it.)
func TestWarmOpensConnectionsThroughTheGate(t *testing.T) {
	tests := []struct {
		name    string
		pings   int
		prompt  bool // the snoop client's prompt lane: promptConns pings on top
		status  int
		wantErr bool
	}{
		{name: "one ping", pings: 1, status: http.StatusOK},
		{name: "one ping and the prompt lane's", pings: 1, prompt: true, status: http.StatusOK},
		{name: "as many pings as warmConns", pings: warmConns, status: http.StatusOK},
		{name: "more pings than slots, Asterisk refusing", pings: 2 * maxPendingAccepts, status: http.StatusServiceUnavailable, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pings, conns atomic.Int64
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/ari/asterisk/ping" {
					http.NotFound(w, r)
					return
				}
				pings.Add(1)
				if tt.status != http.StatusOK {
					w.WriteHeader(tt.status)
					return
				}
				servePing(w, r)
			}))
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			srv.Start()
			defer srv.Close()
			rest, err := newRESTClient(Config{URL: srv.URL + "/ari", Username: "u", Password: "p", Application: "a", DialTimeout: time.Second, RequestTimeout: 5 * time.Second}.withDefaults(), tt.prompt)
			if err != nil {
				t.Fatal(err)
			}
			defer rest.close()

			err = rest.warm(context.Background(), tt.pings)
			if (err != nil) != tt.wantErr {
				t.Fatalf("warm: %v, want error %v", err, tt.wantErr)
			}
			want := int64(tt.pings)
			if tt.prompt {
				want += promptConns
			}
			if got := pings.Load(); got != want {
				t.Errorf("pings served %d, want %d", got, want)
			}
			if opened := conns.Load(); opened < 1 || opened > want {
				t.Errorf("connections opened %d, want 1 to %d", opened, want)
			}
			rest.close()
			waitFor(t, 5*time.Second, "every accept slot given back", func() bool {
				rest.close() // also the connections of dials that were still waiting
				return slotsFree(rest)
			})
		})
	}
}
