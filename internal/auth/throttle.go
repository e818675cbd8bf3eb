package auth

import (
	"sync"
	"time"
)

// throttle counts failed logins per client (its address): past
// ClientLimit within ClientWindow, the client waits; at most MaxClients
// are remembered (the oldest are forgotten first).
type throttle struct {
	policy  *Policy
	mu      sync.Mutex
	clients map[string]*clientFailures
}

type clientFailures struct {
	first time.Time
	n     int
}

func newThrottle(p *Policy) *throttle {
	return &throttle{policy: p, clients: map[string]*clientFailures{}}
}

// throttled tells whether client has failed too often lately.
func (l *throttle) throttled(client string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.clients[client]
	if c == nil {
		return false
	}
	if l.policy.Now().Sub(c.first) > l.policy.ClientWindow {
		delete(l.clients, client)
		return false
	}
	return c.n >= l.policy.ClientLimit
}

// failed counts a failure of client.
func (l *throttle) failed(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.policy.Now()
	c := l.clients[client]
	if c == nil || now.Sub(c.first) > l.policy.ClientWindow {
		if len(l.clients) >= l.policy.MaxClients {
			l.forgetOldest()
		}
		c = &clientFailures{first: now}
		l.clients[client] = c
	}
	c.n++
}

// forgetOldest drops the client whose window began first.
func (l *throttle) forgetOldest() {
	var oldest string
	var at time.Time
	for k, c := range l.clients {
		if oldest == "" || c.first.Before(at) {
			oldest, at = k, c.first
		}
	}
	delete(l.clients, oldest)
}
