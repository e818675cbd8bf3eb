package ami

import "context"

// Pinned sends actions on one AMI session: one connection, so one run of
// Asterisk. Once that session has ended its actions fail with
// ErrNotConnected; they never go out on a later session, which may speak
// to an Asterisk restarted since, whose channel names start again from
// the same counters. A caller that checks a channel's unique ID by name
// and then acts on that name through one Pinned knows the name still
// meant that channel. Its methods are safe for concurrent use.
type Pinned struct {
	c *Client
	s *session
}

// Pin returns the session connected now, or an error wrapping
// ErrNotConnected.
func (c *Client) Pin() (*Pinned, error) {
	s := c.sess.Load()
	if s == nil {
		return nil, ErrNotConnected
	}
	return &Pinned{c: c, s: s}, nil
}

// Action is Client.Action on the pinned session.
func (p *Pinned) Action(ctx context.Context, action string, headers ...Header) (*Message, error) {
	cl, err := p.c.roundTrip(ctx, p.s, action, headers, false)
	if err != nil {
		return nil, err
	}
	return cl.resp, nil
}
