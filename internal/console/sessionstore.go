package console

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"
)

// sessionStore keeps what the console gives one session (tickets to a
// recording's audio, training sessions), in memory: each value under a
// random id, for that session only, until it expires (life after it was
// added, or last extended). It is bounded: when full, the expired go, then
// the one nearest to expiring. A restarted console forgets them all.
type sessionStore[T any] struct {
	life time.Duration
	max  int
	mu   sync.Mutex
	m    map[string]*kept[T]
}

// kept is one value of a sessionStore.
type kept[T any] struct {
	session string
	expires time.Time
	v       T
}

func newSessionStore[T any](life time.Duration, max int) *sessionStore[T] {
	return &sessionStore[T]{life: life, max: max, m: map[string]*kept[T]{}}
}

// add keeps v for session and returns its id.
func (s *sessionStore[T]) add(session string, v T, now time.Time) string {
	b := make([]byte, 24)
	rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= s.max {
		s.pruneLocked(now)
		var nearest string
		for k, e := range s.m {
			if nearest == "" || e.expires.Before(s.m[nearest].expires) {
				nearest = k
			}
		}
		delete(s.m, nearest) // a no-op when pruning made room
	}
	s.m[id] = &kept[T]{session: session, expires: now.Add(s.life), v: v}
	return id
}

// get returns session's value id, if it has not expired.
func (s *sessionStore[T]) get(id, session string, now time.Time) (T, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[id]
	if !ok || e.session != session || now.After(e.expires) {
		var zero T
		return zero, false
	}
	return e.v, true
}

// extend keeps session's value id alive for life from now.
func (s *sessionStore[T]) extend(id, session string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[id]; ok && e.session == session && !now.After(e.expires) {
		e.expires = now.Add(s.life)
	}
}

// prune forgets the expired values.
func (s *sessionStore[T]) prune(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked(now)
}

func (s *sessionStore[T]) pruneLocked(now time.Time) {
	for k, e := range s.m {
		if now.After(e.expires) {
			delete(s.m, k)
		}
	}
}

// endSession forgets a session's values (at logout).
func (s *sessionStore[T]) endSession(session string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, e := range s.m {
		if e.session == session {
			delete(s.m, k)
		}
	}
}
