package ami

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// maxAbandoned bounds how many timed-out lists are remembered so that their
// late items are dropped.
const maxAbandoned = 1024

// call is one action waiting for its completion.
type call struct {
	action string // printable name
	id     string
	list   bool

	// Set before done is closed.
	resp  *Message
	items []*Message
	err   error
	done  chan struct{}
}

// session is one logged-in connection.
type session struct {
	conn net.Conn
	p    *Parser
	log  zerolog.Logger
	// boot identifies the run of Asterisk the session talks to (see
	// Notification.Boot); "" when CoreStatus was refused.
	boot string

	wmu sync.Mutex // serialises writes

	mu        sync.Mutex
	closed    bool
	pending   map[string]*call
	abandoned map[string]struct{} // timed-out lists whose items may still come
	// lists counts list calls in pending plus entries of abandoned, so the
	// reader skips the lock for events when no list is in progress.
	lists atomic.Int32
	// responses counts the responses read, so that the pinger tells a
	// session busy answering other actions from a dead one.
	responses atomic.Uint64

	closeOnce sync.Once
	err       error         // why the session ended; set before done is closed
	done      chan struct{} // closed when the session ends
}

func newSession(conn net.Conn, p *Parser, log zerolog.Logger) *session {
	return &session{
		conn:      conn,
		p:         p,
		log:       log,
		pending:   make(map[string]*call),
		abandoned: make(map[string]struct{}),
		done:      make(chan struct{}),
	}
}

// register adds cl to the pending calls; false if the session is closed.
func (s *session) register(cl *call) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.pending[cl.id] = cl
	if cl.list {
		s.lists.Add(1)
	}
	return true
}

// abandon removes cl from the pending calls after a timeout or a failed
// write. It returns false if cl was already completed. Late items of an
// abandoned list are remembered so that they are dropped.
func (s *session) abandon(cl *call) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending[cl.id] != cl {
		return false
	}
	delete(s.pending, cl.id)
	if cl.list {
		if len(s.abandoned) >= maxAbandoned {
			s.lists.Add(-int32(len(s.abandoned)))
			clear(s.abandoned)
		}
		s.abandoned[cl.id] = struct{}{}
	}
	return true
}

// finish completes cl; the caller has removed it from pending under s.mu.
func (cl *call) finish(resp *Message, err error) {
	cl.resp = resp
	cl.err = err
	close(cl.done)
}

// write sends one encoded action. A failed write may have been partial, so
// it ends the session.
func (s *session) write(ctx context.Context, b []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	select {
	case <-s.done:
		return ErrNotConnected
	default:
	}
	dl, _ := ctx.Deadline()
	if err := s.conn.SetWriteDeadline(dl); err != nil {
		s.close(fmt.Errorf("write: %w", err))
		return err
	}
	if _, err := s.conn.Write(b); err != nil {
		s.close(fmt.Errorf("write: %w", err))
		return err
	}
	return nil
}

// logoff sends a best-effort Logoff without waiting for the answer.
func (s *session) logoff(id string) {
	if !s.wmu.TryLock() {
		return
	}
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	_, _ = s.conn.Write([]byte("Action: Logoff\r\nActionID: " + id + "\r\n\r\n"))
}

// close ends the session with err (the first error wins) and fails every
// pending call.
func (s *session) close(err error) {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		pending := s.pending
		s.pending = nil
		s.abandoned = nil
		s.lists.Store(0)
		s.mu.Unlock()
		_ = s.conn.Close()
		for _, cl := range pending {
			cl.finish(nil, fmt.Errorf("action %s: %w: %w: %v", cl.action, ErrNotConnected, ErrNoAnswer, err))
		}
		s.err = err
		close(s.done)
	})
}

// handleResponse completes the call the response answers; a response that
// answers no pending call (late, or not ours) is dropped.
func (s *session) handleResponse(m *Message) {
	id := m.ActionID()
	s.mu.Lock()
	defer s.mu.Unlock()
	cl := s.pending[id]
	if cl == nil {
		if _, ok := s.abandoned[id]; ok && isErrorResponse(m) {
			delete(s.abandoned, id)
			s.lists.Add(-1)
		}
		s.log.Debug().Str("action_id", id).Msg("dropping response to no pending action")
		return
	}
	isErr := isErrorResponse(m)
	if !cl.list || isErr || !strings.EqualFold(m.Get("EventList"), "start") {
		delete(s.pending, id)
		if cl.list {
			s.lists.Add(-1)
		}
		if isErr {
			cl.finish(nil, &ActionError{Action: cl.action, Message: m.Get("Message"), Response: m})
		} else {
			cl.finish(m, nil)
		}
		return
	}
	cl.resp = m
}

// claimEvent takes an event that is an item or the completion of a pending
// (or abandoned) list. It returns false for an ordinary event.
func (s *session) claimEvent(m *Message) bool {
	if s.lists.Load() == 0 {
		return false
	}
	id, ok := m.Lookup("ActionID")
	if !ok {
		return false
	}
	complete := strings.EqualFold(m.Get("EventList"), "Complete")
	s.mu.Lock()
	defer s.mu.Unlock()
	if cl := s.pending[id]; cl != nil && cl.list {
		if !complete {
			cl.items = append(cl.items, m)
			return true
		}
		delete(s.pending, id)
		s.lists.Add(-1)
		cl.finish(cl.resp, nil)
		return true
	}
	if _, ok := s.abandoned[id]; ok {
		if complete {
			delete(s.abandoned, id)
			s.lists.Add(-1)
		}
		return true
	}
	return false
}

func isErrorResponse(m *Message) bool {
	return strings.EqualFold(m.Get("Response"), "Error")
}
