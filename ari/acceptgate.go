package ari

import (
	"context"
	"net"
	"sync"
)

// maxPendingAccepts bounds how many of a REST client's main lane's new
// connections may wait for Asterisk's first reply at once (the snoop
// client's prompt lane has promptPendingAccepts of its own). Asterisk
// listens on its HTTP port with a backlog of 10 (ss -ltn shows it): past
// that the kernel drops the connection attempts (TcpExtListenOverflows)
// and the client retries them 1 s, then 3 s, later, which a burst right
// after a PBX restart turned into recordings starting whole seconds late.
// Two REST clients, four each, the snoop client's prompt lane one, and
// their two event WebSockets make at most 11, which Linux still queues on
// a backlog of 10 (it drops a connection only once more than the backlog
// wait), if nothing else opens connections to Asterisk's HTTP port at that
// moment: no margin left, but the gate over-counts, since a connection
// keeps its slot until Asterisk's first reply, after it has left the
// accept queue. Splitting the snoop client's four between its lanes, three
// and one, was tried in stop 38 and withdrawn (README, Figures): a
// burst's new connections each hold their slot until Asterisk answers
// their first request, often a snoop channel's creation, so fewer slots
// likely open them slower.
const maxPendingAccepts = 4

// promptPendingAccepts is the accept slots of the snoop client's prompt
// lane (see promptConns), whose connections are kept warm.
const promptPendingAccepts = 1

// dialFunc is net.Dialer.DialContext's shape.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// acceptGate lets at most n connections be between their dial and the
// first byte Asterisk sends on them; further dials wait for a slot or for
// the dial's context. net/http starts reading a new connection at once, so
// a slot covers the connection's accept and Asterisk's answer to its first
// request: the surest sign that Asterisk has taken it from its backlog.
// net/http dials with a context detached from the request's: a request
// that gives up leaves its dial waiting, and the connection it opens goes
// to the idle pool for the next request.
type acceptGate struct {
	slots chan struct{}
	dial  dialFunc
}

// newAcceptGate returns a gate of n slots in front of dial.
func newAcceptGate(n int, dial dialFunc) *acceptGate {
	return &acceptGate{slots: make(chan struct{}, n), dial: dial}
}

// DialContext takes a slot, then dials; the connection gives its slot back
// at its first read's return or at its close, whichever comes first.
func (g *acceptGate) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	select {
	case g.slots <- struct{}{}: // a free slot is taken whatever ctx says
	default:
		select {
		case g.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	conn, err := g.dial(ctx, network, addr)
	if err != nil {
		<-g.slots
		return nil, err
	}
	return &gatedConn{Conn: conn, release: sync.OnceFunc(func() { <-g.slots })}, nil
}

// gatedConn is a connection holding an accept slot until Asterisk has
// answered on it (or it is closed).
type gatedConn struct {
	net.Conn
	release func()
}

// Read reads and gives the slot back once the peer has been heard from.
func (c *gatedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.release()
	return n, err
}

// Close gives the slot back and closes the connection.
func (c *gatedConn) Close() error {
	c.release()
	return c.Conn.Close()
}
