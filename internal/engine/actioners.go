package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/villedemercier/recpolicy/ami"
)

// Actioner sends AMI actions.
type Actioner interface {
	Action(ctx context.Context, action string, headers ...ami.Header) (*ami.Message, error)
}

// BootActioner sends an AMI action only on a session that talks to one
// given run of Asterisk (see ami.Client.ActionOnBoot): an action that names
// a channel by its name cannot reach another run's channel of that name.
// When no such session is connected it fails with an error wrapping
// ami.ErrOtherBoot (nothing sent), or ami.ErrNotConnected when no session
// is connected at all.
type BootActioner interface {
	ActionOnBoot(ctx context.Context, boot, action string, headers ...ami.Header) (*ami.Message, error)
}

// ErrUnsafeName marks a recording whose identifiers would break a
// backend's arguments (MixMonitor's comma-joined options, a file name).
var ErrUnsafeName = errors.New("unsafe recording name")

// MarkVar is the channel variable naming the recording running on a
// channel (the recording's spool ID): set by every recorder backend right
// after it starts, read back after a reconnect to adopt what runs.
const MarkVar = "RECPOLICY_REC"

// Patient wraps an Actioner so that an action sent while the AMI session is
// down (a reconnection under way) waits for the session to come back, up to
// wait, instead of failing at once: the recorder's orders run off the event
// loop, and the session that carries them may reconnect a moment after the
// one that reads the events. An action whose session ended after it was
// written (ami.ErrNoAnswer) is not sent again: Asterisk may have carried it
// out, and a MixMonitor carried out twice records twice; unless it is one
// whose second run changes nothing (Resendable): a mark's Setvar cut with
// its session used to fail the start of a recording that ran (measured:
// the load harness's amiblip profile, snoop backend). An action whose write
// failed (ErrNotConnected without ErrNoAnswer) never reached Asterisk and
// is sent again like one that found no session.
func Patient(a Actioner, wait time.Duration) Actioner { return patient{a, wait} }

// Resendable tells whether an AMI action may be sent again after its
// session ended before its answer: carried out twice, it does what it does
// once. A Getvar; a Setvar that marks a channel (a value), never one that
// clears it: the first copy, held in a session Asterisk had not yet read,
// could still run after the next recording's mark and unmark it, and that
// recording would not be adopted after a reconnection. A mark's first copy
// running late writes the same value again.
func Resendable(action string, headers ...ami.Header) bool {
	switch {
	case strings.EqualFold(action, "Getvar"):
		return true
	case strings.EqualFold(action, "Setvar"):
		for _, h := range headers {
			if strings.EqualFold(h.Key, "Value") {
				return h.Value != ""
			}
		}
	}
	return false
}

type patient struct {
	a    Actioner
	wait time.Duration
}

func (p patient) Action(ctx context.Context, action string, headers ...ami.Header) (*ami.Message, error) {
	return p.retry(ctx, Resendable(action, headers...), func() (*ami.Message, error) { return p.a.Action(ctx, action, headers...) })
}

// ActionOnBoot waits, like Action, while no session is connected; it fails
// at once with ami.ErrOtherBoot when the wrapped Actioner cannot send on a
// given run (it is no BootActioner).
func (p patient) ActionOnBoot(ctx context.Context, boot, action string, headers ...ami.Header) (*ami.Message, error) {
	ba, ok := p.a.(BootActioner)
	if !ok {
		return nil, fmt.Errorf("action %s: %w", action, ami.ErrOtherBoot)
	}
	return p.retry(ctx, Resendable(action, headers...), func() (*ami.Message, error) { return ba.ActionOnBoot(ctx, boot, action, headers...) })
}

// retry calls send until it succeeds, fails otherwise than for want of a
// session (or after a send that may have been carried out, unless resend:
// the action is Resendable), or p.wait has passed.
func (p patient) retry(ctx context.Context, resend bool, send func() (*ami.Message, error)) (*ami.Message, error) {
	deadline := time.Now().Add(p.wait)
	for {
		m, err := send()
		if err == nil || !errors.Is(err, ami.ErrNotConnected) || (errors.Is(err, ami.ErrNoAnswer) && !resend) || time.Now().After(deadline) {
			return m, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Session is an AMI session that can tell whether it is logged in.
type Session interface {
	Actioner
	Connected() bool
}

// Spread sends each action on the next connected session of sessions, in
// turn. Asterisk carries out one session's actions one after the other: a
// burst of starts spread over several sessions is served in parallel. The
// order of one channel's actions is kept by their sender (the pipeline
// carries out one channel's orders one at a time, each waiting for its
// answers), not by the session. With
// no session connected, the action goes to the first, which refuses it
// with ami.ErrNotConnected.
func Spread(sessions ...Session) Actioner { return &spread{sessions: sessions} }

type spread struct {
	sessions []Session
	next     atomic.Uint32
}

func (s *spread) Action(ctx context.Context, action string, headers ...ami.Header) (*ami.Message, error) {
	var m *ami.Message
	var err error
	if s.each(func(c Session) bool { m, err = c.Action(ctx, action, headers...); return true }) {
		return m, err
	}
	return s.sessions[0].Action(ctx, action, headers...)
}

// ActionOnBoot sends the action on the next connected session, in turn,
// that talks to run boot (each session is a BootActioner: *ami.Client).
// It fails with ami.ErrOtherBoot when sessions are connected but none to
// that run (or they cannot tell), ami.ErrNotConnected when none is.
func (s *spread) ActionOnBoot(ctx context.Context, boot, action string, headers ...ami.Header) (*ami.Message, error) {
	var m *ami.Message
	var err error
	taken := false
	connected := s.each(func(c Session) bool {
		ba, ok := c.(BootActioner)
		if !ok {
			return false
		}
		m, err = ba.ActionOnBoot(ctx, boot, action, headers...)
		taken = !errors.Is(err, ami.ErrOtherBoot)
		return taken
	})
	switch {
	case taken:
		return m, err
	case !connected:
		return nil, fmt.Errorf("action %s: %w", action, ami.ErrNotConnected)
	default:
		return nil, fmt.Errorf("action %s: %w", action, ami.ErrOtherBoot)
	}
}

// each offers an action to the connected sessions, one at a time from the
// next in turn, until take takes it (returns true); it tells whether any
// session was connected. Every offer moves the turn on, so a session that
// is down or refuses does not hand its share to its neighbour alone.
func (s *spread) each(take func(Session) bool) (connected bool) {
	n := uint32(len(s.sessions))
	for range n {
		c := s.sessions[s.next.Add(1)%n]
		if !c.Connected() {
			continue
		}
		connected = true
		if take(c) {
			return true
		}
	}
	return connected
}
