package ari

import (
	"context"
	"errors"
	"net"
	"testing"
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
