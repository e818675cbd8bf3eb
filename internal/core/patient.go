package core

import (
	"context"
	"errors"
	"time"

	"github.com/villedemercier/recpolicy/ami"
)

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
