package ami

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Limits Asterisk 22 applies to what a client sends (manager.c).
const (
	// MaxLineLength is the longest line, CRLF included, that Asterisk
	// accepts; longer lines are discarded.
	MaxLineLength = 1024
	// MaxActionHeaders is the most headers, Action and ActionID included,
	// that Asterisk keeps in one action.
	MaxActionHeaders = 128
)

// validateAction checks that the action can be written without injection
// or truncation. Errors wrap ErrInvalidAction and never quote values (a
// value may be a secret).
func validateAction(action string, headers []Header) error {
	if action == "" {
		return fmt.Errorf("%w: empty action name", ErrInvalidAction)
	}
	if strings.ContainsAny(action, "\r\n") {
		return fmt.Errorf("%w: action name contains CR or LF", ErrInvalidAction)
	}
	if n := len("Action: ") + len(action) + 2; n > MaxLineLength {
		return fmt.Errorf("%w: action line is %d bytes, Asterisk discards lines over %d", ErrInvalidAction, n, MaxLineLength)
	}
	if n := len(headers) + 2; n > MaxActionHeaders {
		return fmt.Errorf("%w: %d headers with Action and ActionID, Asterisk keeps at most %d", ErrInvalidAction, n, MaxActionHeaders)
	}
	for i, h := range headers {
		switch {
		case strings.TrimSpace(h.Key) == "":
			return fmt.Errorf("%w: header %d has an empty key", ErrInvalidAction, i)
		case strings.ContainsAny(h.Key, ":\r\n"):
			return fmt.Errorf("%w: key of header %d (%s) contains a colon, CR or LF", ErrInvalidAction, i, printable(h.Key))
		case strings.ContainsAny(h.Value, "\r\n"):
			return fmt.Errorf("%w: value of header %s contains CR or LF", ErrInvalidAction, h.Key)
		case strings.EqualFold(strings.TrimSpace(h.Key), "ActionID"), strings.EqualFold(strings.TrimSpace(h.Key), "Action"):
			return fmt.Errorf("%w: header %s is set by the client", ErrInvalidAction, h.Key)
		}
		if n := len(h.Key) + 2 + len(h.Value) + 2; n > MaxLineLength {
			return fmt.Errorf("%w: header %s line is %d bytes, Asterisk discards lines over %d", ErrInvalidAction, h.Key, n, MaxLineLength)
		}
	}
	return nil
}

// encodeAction validates the action and returns its wire form, ActionID
// second.
func encodeAction(action, id string, headers []Header) ([]byte, error) {
	if err := validateAction(action, headers); err != nil {
		return nil, err
	}
	size := len("Action: \r\nActionID: \r\n\r\n") + len(action) + len(id)
	for _, h := range headers {
		size += len(h.Key) + len(h.Value) + 4
	}
	b := make([]byte, 0, size)
	b = appendHeader(b, "Action", action)
	b = appendHeader(b, "ActionID", id)
	for _, h := range headers {
		b = appendHeader(b, h.Key, h.Value)
	}
	return append(b, '\r', '\n'), nil
}

func appendHeader(b []byte, key, value string) []byte {
	b = append(b, key...)
	b = append(b, ':', ' ')
	b = append(b, value...)
	return append(b, '\r', '\n')
}

// Action sends an action with a fresh ActionID and waits for the response
// carrying that ActionID. Events the action causes are delivered as
// notifications as usual.
//
// It returns an error wrapping ErrInvalidAction (nothing sent),
// ErrNotConnected (no session, its write failed — Asterisk never had the
// whole action, sending it again does it once — or the session was lost
// after the write and before the answer: then with ErrNoAnswer too) or
// ErrTimeout (no answer before ctx's deadline or Config.ActionTimeout,
// whichever comes first; a late response is discarded), and an *ActionError
// when Asterisk answers "Response: Error". Every error message starts with
// "action <name>".
func (c *Client) Action(ctx context.Context, action string, headers ...Header) (*Message, error) {
	cl, err := c.roundTrip(ctx, c.sess.Load(), action, headers, false)
	if err != nil {
		return nil, err
	}
	return cl.resp, nil
}

// ActionOnBoot is Action, sent only if the session connected now talks to
// the run of Asterisk that boot names (Notification.Boot): an action that
// names a channel by its name cannot then reach a channel of another run,
// whose names start again from the same counters. It returns an error
// wrapping ErrOtherBoot, with nothing sent, when boot is empty, unknown
// for the session (Asterisk refused CoreStatus) or another run's; the
// other errors are Action's. Once written, the action is answered on that
// session or fails (ErrNoAnswer): this client never sends it on another
// session (a caller may, for an action that twice does what once does).
func (c *Client) ActionOnBoot(ctx context.Context, boot, action string, headers ...Header) (*Message, error) {
	if boot == "" {
		return nil, fmt.Errorf("action %s: %w", printable(action), ErrOtherBoot)
	}
	s := c.sess.Load()
	if s != nil && s.boot != boot {
		return nil, fmt.Errorf("action %s: %w", printable(action), ErrOtherBoot)
	}
	cl, err := c.roundTrip(ctx, s, action, headers, false)
	if err != nil {
		return nil, err
	}
	return cl.resp, nil
}

// List sends a list action (CoreShowChannels, Status, QueueStatus...) and
// collects its item events: those carrying the action's ActionID, until the
// event with "EventList: Complete". The items are returned in order,
// without the completion event, and are not delivered as notifications.
// "Response: Error" ends the list with an *ActionError; a success response
// without "EventList: start" ends it with no items. Errors are as for
// Action; the timeout covers the whole list.
func (c *Client) List(ctx context.Context, action string, headers ...Header) ([]*Message, error) {
	cl, err := c.roundTrip(ctx, c.sess.Load(), action, headers, true)
	if err != nil {
		return nil, err
	}
	return cl.items, nil
}

// roundTrip sends one action on s and waits for its completion.
func (c *Client) roundTrip(ctx context.Context, s *session, action string, headers []Header, list bool) (*call, error) {
	name := printable(action)
	id := c.nextID()
	req, err := encodeAction(action, id, headers)
	if err != nil {
		return nil, fmt.Errorf("action %s: %w", name, err)
	}
	if s == nil {
		return nil, fmt.Errorf("action %s: %w", name, ErrNotConnected)
	}
	cl := &call{action: name, id: id, list: list, done: make(chan struct{})}
	if !s.register(cl) {
		return nil, fmt.Errorf("action %s: %w", name, ErrNotConnected)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ActionTimeout)
	defer cancel()
	if err := s.write(ctx, req); err != nil {
		// The session is lost (write closes it) and Asterisk never had the
		// whole action: it carries out an action at its blank line, the
		// last bytes written. Not an ErrNoAnswer: sending it again on the
		// next session does it once.
		s.abandon(cl)
		if errors.Is(err, ErrNotConnected) {
			return nil, fmt.Errorf("action %s: %w", name, err)
		}
		return nil, fmt.Errorf("action %s: send: %w: %w", name, ErrNotConnected, err)
	}
	select {
	case <-cl.done:
	case <-ctx.Done():
		if s.abandon(cl) {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("action %s: %w: %w", name, ErrTimeout, ctx.Err())
			}
			return nil, fmt.Errorf("action %s: %w", name, ctx.Err())
		}
		<-cl.done // completed concurrently
	}
	if cl.err != nil {
		return nil, cl.err
	}
	return cl, nil
}
