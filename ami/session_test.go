package ami

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// abortedConn fails every write, as a connection the kernel aborted does.
type abortedConn struct{ net.Conn }

func (abortedConn) Write([]byte) (int, error) {
	return 0, errors.New("write tcp: software caused connection abort")
}
func (abortedConn) SetWriteDeadline(time.Time) error { return nil }
func (abortedConn) Close() error                     { return nil }

// An action whose write fails never reached Asterisk whole: its error says
// the session is lost (ErrNotConnected), so that a patient sender sends it
// again on the next session, and not that it may have been carried out
// (ErrNoAnswer).
func TestActionWriteFailedIsNotConnected(t *testing.T) {
	c := NewClient(Config{Addr: "127.0.0.1:1", Username: "u", Secret: "s"}, zerolog.Nop())
	s := newSession(abortedConn{}, nil, zerolog.Nop())
	_, err := c.roundTrip(context.Background(), s, "MixMonitor", nil, false)
	if !errors.Is(err, ErrNotConnected) || errors.Is(err, ErrNoAnswer) {
		t.Errorf("write failed: %v; want ErrNotConnected without ErrNoAnswer", err)
	}
	// The session is closed: the next action fails before any write.
	if _, err := c.roundTrip(context.Background(), s, "MixMonitor", nil, false); !errors.Is(err, ErrNotConnected) || errors.Is(err, ErrNoAnswer) {
		t.Errorf("action on the closed session: %v; want ErrNotConnected without ErrNoAnswer", err)
	}
}
