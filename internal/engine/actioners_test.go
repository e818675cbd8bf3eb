package engine

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/ami"
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

// bootSession answers the actions sent on its run and counts them.
type bootSession struct {
	up   atomic.Bool
	n    atomic.Int32
	boot string
}

func newBootSession(up bool, boot string) *bootSession {
	b := &bootSession{boot: boot}
	b.up.Store(up)
	return b
}

func (b *bootSession) Connected() bool { return b.up.Load() }
func (b *bootSession) Action(context.Context, string, ...ami.Header) (*ami.Message, error) {
	return nil, errors.New("sent without naming the run")
}
func (b *bootSession) ActionOnBoot(_ context.Context, boot, _ string, _ ...ami.Header) (*ami.Message, error) {
	if !b.up.Load() {
		return nil, fmt.Errorf("action: %w", ami.ErrNotConnected)
	}
	if boot == "" || boot != b.boot {
		return nil, fmt.Errorf("action: %w", ami.ErrOtherBoot)
	}
	b.n.Add(1)
	return ami.NewMessage(ami.Header{Key: "Response", Value: "Success"}), nil
}

func TestSpreadActionOnBootKeepsToTheRun(t *testing.T) {
	const before, after = "2026-12-03 15:06:35", "2026-12-03 15:20:00"
	ctx := context.Background()
	// Two sessions back on the restarted PBX, one not yet reconnected.
	a, b, c := newBootSession(true, after), newBootSession(false, before), newBootSession(true, after)
	s := Spread(a, b, c).(BootActioner)
	for range 10 {
		if _, err := s.ActionOnBoot(ctx, after, "MixMonitor"); err != nil {
			t.Fatal(err)
		}
	}
	if na, nb, nc := a.n.Load(), b.n.Load(), c.n.Load(); na+nc != 10 || na < 4 || nc < 4 || nb != 0 {
		t.Errorf("actions per session %d/%d/%d; want the 10 shared by the two connected ones", na, nb, nc)
	}
	if _, err := s.ActionOnBoot(ctx, before, "MixMonitor"); !errors.Is(err, ami.ErrOtherBoot) {
		t.Errorf("action meant for the run before the restart = %v; want ErrOtherBoot", err)
	}
	// Sessions that cannot tell their run are never used for one.
	if _, err := Spread(&countingSession{up: true}).(BootActioner).ActionOnBoot(ctx, after, "MixMonitor"); !errors.Is(err, ami.ErrOtherBoot) {
		t.Errorf("action on a session that cannot tell its run = %v; want ErrOtherBoot", err)
	}
	a.up.Store(false)
	c.up.Store(false)
	if _, err := s.ActionOnBoot(ctx, after, "MixMonitor"); !errors.Is(err, ami.ErrNotConnected) {
		t.Errorf("no session connected: %v; want ErrNotConnected (Patient waits on it)", err)
	}
	// Patient waits for a session while none is connected, not for one of
	// the run while others are.
	p := Patient(Spread(a, b, c), 2*time.Second).(BootActioner)
	go func() { time.Sleep(200 * time.Millisecond); c.up.Store(true) }()
	if _, err := p.ActionOnBoot(ctx, after, "MixMonitor"); err != nil {
		t.Errorf("patient action while the session reconnects: %v", err)
	}
	start := time.Now()
	if _, err := p.ActionOnBoot(ctx, before, "MixMonitor"); !errors.Is(err, ami.ErrOtherBoot) || time.Since(start) > time.Second {
		t.Errorf("patient action for another run = %v after %v; want ErrOtherBoot at once", err, time.Since(start))
	}
}

// lostSession loses every action after writing it.
type lostSession struct{ n int }

func (l *lostSession) Connected() bool { return true }
func (l *lostSession) Action(context.Context, string, ...ami.Header) (*ami.Message, error) {
	l.n++
	return nil, fmt.Errorf("action: %w: %w", ami.ErrNotConnected, ami.ErrNoAnswer)
}

func TestPatientNeverSendsTwiceWhatMayHaveRun(t *testing.T) {
	l := &lostSession{}
	if _, err := Patient(l, time.Second).Action(context.Background(), "MixMonitor"); !errors.Is(err, ami.ErrNoAnswer) {
		t.Errorf("Action = %v; want the ErrNoAnswer of the lost session", err)
	}
	if l.n != 1 {
		t.Errorf("sent %d times; want once (Asterisk may have carried it out)", l.n)
	}
}

// lostOnce loses its first action after writing it, then answers.
type lostOnce struct{ n int }

func (l *lostOnce) Connected() bool { return true }
func (l *lostOnce) Action(context.Context, string, ...ami.Header) (*ami.Message, error) {
	l.n++
	if l.n == 1 {
		return nil, fmt.Errorf("action: %w: %w", ami.ErrNotConnected, ami.ErrNoAnswer)
	}
	return &ami.Message{}, nil
}

func TestPatientSendsAgainWhatChangesNothingTwice(t *testing.T) {
	mark := MarkHeaders("1796573162-808-inbound-x~y-1")
	for _, tc := range []struct {
		name    string
		action  string
		headers []ami.Header
		sends   int
		lost    bool
	}{
		{"mark", "Setvar", mark, 2, false},
		{"unmark", "Setvar", MarkHeaders(""), 1, true},
		{"read", "getvar", nil, 2, false},
		{"MixMonitor", "MixMonitor", nil, 1, true},
		{"StopMixMonitor", "StopMixMonitor", nil, 1, true},
		{"Hangup", "Hangup", nil, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &lostOnce{}
			_, err := Patient(l, time.Second).Action(context.Background(), tc.action, tc.headers...)
			if lost := errors.Is(err, ami.ErrNoAnswer); lost != tc.lost || (!tc.lost && err != nil) {
				t.Errorf("Action = %v; want lost %v", err, tc.lost)
			}
			if l.n != tc.sends {
				t.Errorf("sent %d times; want %d", l.n, tc.sends)
			}
		})
	}
}
