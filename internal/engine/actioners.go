package engine

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/villedemercier/recpolicy/ami"
)

// Actioner sends AMI actions.
type Actioner interface {
	Action(ctx context.Context, action string, headers ...ami.Header) (*ami.Message, error)
}

// ErrCannotPin is returned by a Pinner whose sessions cannot be pinned.
var ErrCannotPin = errors.New("the ami sessions cannot be pinned")

// ErrNameReused is returned when a channel's name, checked on a pinned
// session, no longer names the channel the order was for (it hung up, or
// Asterisk restarted and gave the name to another channel).
var ErrNameReused = errors.New("the channel's name now names another channel, or none")

// ErrUnsafeName marks a recording whose identifiers would break a
// backend's arguments (MixMonitor's comma-joined options, a file name).
var ErrUnsafeName = errors.New("unsafe recording name")

// MarkVar is the channel variable naming the recording running on a
// channel (the recording's spool ID): set by the snoop backend right after
// it starts, read back after a reconnect to adopt what runs. MixMonitor
// recordings are known by MixMonitor's own variables instead; a stop
// clears it.
const MarkVar = "RECPOLICY_REC"

// Patient wraps an Actioner so that an action sent while the AMI session is
// down (a reconnection under way) waits for the session to come back, up to
// wait, instead of failing at once: the recorder's orders run off the event
// loop, and the session that carries them may reconnect a moment after the
// one that reads the events.
func Patient(a Actioner, wait time.Duration) Actioner { return patient{a, wait} }

type patient struct {
	a    Actioner
	wait time.Duration
}

// Pin waits, like Action, for a session to pin when the wrapped Actioner
// is a Pinner; it fails with ErrCannotPin when it is not.
func (p patient) Pin(ctx context.Context) (Actioner, error) {
	pn, ok := p.a.(Pinner)
	if !ok {
		return nil, ErrCannotPin
	}
	deadline := time.Now().Add(p.wait)
	for {
		a, err := pn.Pin(ctx)
		if err == nil || !errors.Is(err, ami.ErrNotConnected) || time.Now().After(deadline) {
			return a, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (p patient) Action(ctx context.Context, action string, headers ...ami.Header) (*ami.Message, error) {
	deadline := time.Now().Add(p.wait)
	for {
		m, err := p.a.Action(ctx, action, headers...)
		if err == nil || !errors.Is(err, ami.ErrNotConnected) || time.Now().After(deadline) {
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

// Pinner is an Actioner that can hand out one AMI session for actions that
// must reach the same run of Asterisk (see ami.Pinned): a channel checked
// by name, then acted on by that name.
type Pinner interface {
	Pin(ctx context.Context) (Actioner, error)
}

// pinnable is a Session that can pin its current connection (*ami.Client).
type pinnable interface {
	Pin() (*ami.Pinned, error)
}

// Spread sends each action on the next connected session of sessions, in
// turn. Asterisk carries out one session's actions one after the other: a
// burst of starts spread over several sessions is served in parallel. The
// order of one channel's actions is kept by their sender (a pipeline lane
// waits for each answer before the next action), not by the session. With
// no session connected, the action goes to the first, which refuses it
// with ami.ErrNotConnected.
func Spread(sessions ...Session) Actioner { return &spread{sessions: sessions} }

type spread struct {
	sessions []Session
	next     atomic.Uint32
}

// Pin pins the next connected session, in turn; an error wrapping
// ami.ErrNotConnected when none is, ErrCannotPin when the sessions cannot
// be pinned.
func (s *spread) Pin(context.Context) (Actioner, error) {
	n := uint32(len(s.sessions))
	for range n {
		c := s.sessions[s.next.Add(1)%n]
		if !c.Connected() {
			continue
		}
		pn, ok := c.(pinnable)
		if !ok {
			return nil, ErrCannotPin
		}
		if p, err := pn.Pin(); err == nil {
			return p, nil
		}
	}
	return nil, fmt.Errorf("pin an ami session: %w", ami.ErrNotConnected)
}

func (s *spread) Action(ctx context.Context, action string, headers ...ami.Header) (*ami.Message, error) {
	n := uint32(len(s.sessions))
	for range n {
		// Every try moves the turn on, so a session that is down does not
		// hand its share to its neighbour alone.
		if c := s.sessions[s.next.Add(1)%n]; c.Connected() {
			return c.Action(ctx, action, headers...)
		}
	}
	return s.sessions[0].Action(ctx, action, headers...)
}
