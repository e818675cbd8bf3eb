package ingest

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/lib/pq"
)

// Stats is what the archive's replay has seen, for the daemon's metrics.
type Stats struct {
	// DatabaseUp: the last attempt to reach or write the database worked.
	DatabaseUp bool
	// WriteFailures counts failed connections and batch writes by cause:
	// a PostgreSQL SQLSTATE ("42501", "25006", "28P01"…) or "connection".
	WriteFailures map[string]uint64
	// Quarantined counts records put in the quarantine file.
	Quarantined uint64
}

// stats are the counters behind Stats; safe for concurrent use.
type stats struct {
	up       atomic.Bool
	mu       sync.Mutex
	failures map[string]uint64
}

// failed notes a failure to reach or write the database.
func (s *stats) failed(err error) {
	s.up.Store(false)
	cause := "connection"
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		cause = string(pqErr.Code)
	}
	s.mu.Lock()
	if s.failures == nil {
		s.failures = make(map[string]uint64)
	}
	s.failures[cause]++
	s.mu.Unlock()
}

// Stats returns a copy of the replay's counters.
func (a *Archive) Stats() Stats {
	st := Stats{DatabaseUp: a.stats.up.Load(), Quarantined: a.quar.n.Load(), WriteFailures: map[string]uint64{}}
	a.stats.mu.Lock()
	for k, v := range a.stats.failures {
		st.WriteFailures[k] = v
	}
	a.stats.mu.Unlock()
	return st
}
