package engine

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/villedemercier/recpolicy/ami"
	"github.com/villedemercier/recpolicy/ami/amitest"
)

// countingSession answers every action and counts them.
type countingSession struct {
	up bool
	n  int
}

func (c *countingSession) Connected() bool { return c.up }
func (c *countingSession) Action(context.Context, string, ...ami.Header) (*ami.Message, error) {
	if !c.up {
		return nil, fmt.Errorf("action: %w", ami.ErrNotConnected)
	}
	c.n++
	return ami.NewMessage(ami.Header{Key: "Response", Value: "Success"}), nil
}

func TestSpreadUsesEveryConnectedSessionInTurn(t *testing.T) {
	a, b, c := &countingSession{up: true}, &countingSession{up: false}, &countingSession{up: true}
	s := Spread(a, b, c)
	for range 10 {
		if _, err := s.Action(context.Background(), "Ping"); err != nil {
			t.Fatal(err)
		}
	}
	if a.n+c.n != 10 || a.n < 4 || c.n < 4 || b.n != 0 {
		t.Errorf("actions per session %d/%d/%d; want the 10 shared by the two connected ones", a.n, b.n, c.n)
	}
	a.up, c.up = false, false
	if _, err := s.Action(context.Background(), "Ping"); err == nil {
		t.Error("no session connected, yet the action succeeded; want ErrNotConnected (Patient waits on it)")
	}
}

// TestSpreadPinsAConnectedSession: Pin hands out one connected session of
// the spread (a real client against the fake AMI server); sessions that
// cannot be pinned, or none connected, are refused with a clear error.
func TestSpreadPinsAConnectedSession(t *testing.T) {
	srv := amitest.Start(t, amitest.Config{Username: "u", Secret: "s", Handler: func(s *amitest.Session, a *ami.Message) {
		_ = s.Reply(a, "Success", ami.Header{Key: "Value", Value: "pbx-1.2"})
	}})
	c := ami.NewClient(ami.Config{Addr: srv.Addr(), Username: "u", Secret: "s", PingInterval: time.Hour}, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	down := &countingSession{}
	p, err := Patient(Spread(down, c), 2*time.Second).(Pinner).Pin(ctx)
	if err != nil {
		t.Fatalf("pin: %v", err)
	}
	if m, err := p.Action(ctx, "Getvar"); err != nil || m.Get("Value") != "pbx-1.2" {
		t.Fatalf("pinned action: %v, %v", m, err)
	}
	if _, err := Spread(&countingSession{up: true}).(Pinner).Pin(ctx); !errors.Is(err, ErrCannotPin) {
		t.Errorf("pinning a session that cannot be pinned: %v, want ErrCannotPin", err)
	}
	if _, err := Spread(down).(Pinner).Pin(ctx); !errors.Is(err, ami.ErrNotConnected) {
		t.Errorf("pinning with no session connected: %v, want ErrNotConnected", err)
	}
}
