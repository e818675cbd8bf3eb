package engine

import (
	"context"
	"fmt"
	"testing"

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
