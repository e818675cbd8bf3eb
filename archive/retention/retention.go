package retention

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lib/pq"
	"github.com/villedemercier/recpolicy/archive"
)

// Store keeps the archive's end of life: holds, purges, destructions,
// integrity checks and training copies. It is safe for concurrent use.
type Store struct{ db *sql.DB }

// NewStore returns the retention side of the archive's database.
func NewStore(s *archive.Store) *Store { return &Store{db: s.DB()} }

// Retention errors; test with errors.Is.
var (
	// ErrHeld: a hold covers the recording.
	ErrHeld = errors.New("under hold")
	// ErrRetentionNotOver: the recording's retention has not run out.
	ErrRetentionNotOver = errors.New("retention not over")
	// ErrPurgeRefused: the purge saw data or a clock it does not trust
	// (see *RefusedError).
	ErrPurgeRefused = errors.New("purge refused")
	// ErrUnknownClass: a retention class the rules file does not define.
	ErrUnknownClass = errors.New("unknown retention class")
	// ErrAlreadyReleased: the hold was released before.
	ErrAlreadyReleased = errors.New("hold already released")
)

// MinRetention is the policy's floor: files and call logs are kept at
// least one year.
const MinRetention = 365 * 24 * time.Hour

// Retention classes this package names.
const (
	// TrainingRetention is the class of training copies.
	TrainingRetention = "training"
)

// RefusedError says why the purge would not run, and what to check.
// It wraps ErrPurgeRefused.
type RefusedError struct {
	Reason string
	Hint   string
}

func (e *RefusedError) Error() string {
	s := "purge refused: " + e.Reason
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Unwrap makes errors.Is(err, ErrPurgeRefused) true.
func (e *RefusedError) Unwrap() error { return ErrPurgeRefused }

// Actor is who destroys or holds: a scheduled job or a person.
type Actor struct {
	Name string // "retention" for the job; a person's name or login
	Job  bool
}

func (a Actor) kind() string {
	if a.Job {
		return "job"
	}
	return "person"
}

func (a Actor) check() error {
	if strings.TrimSpace(a.Name) == "" {
		return errors.New("no actor: say who acts (--by NAME)")
	}
	return nil
}

// Classes are retention classes and their durations, as rules.Retention
// returns them.
type Classes map[string]time.Duration

// check refuses a class shorter than the policy's one year.
func (c Classes) check() error {
	if _, ok := c[archive.DefaultRetention]; !ok {
		return fmt.Errorf("check retention classes: %w: %q is missing (the rules file's retention: must define it)", ErrUnknownClass, archive.DefaultRetention)
	}
	for name, d := range c {
		if d < MinRetention {
			return fmt.Errorf("check retention classes: class %q keeps %s, less than the policy's one year", name, d)
		}
	}
	return nil
}

// args returns the classes as two parallel arrays (names, seconds) for
// the unnest of the retention queries.
func (c Classes) args() (any, any) {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	slices.Sort(names)
	secs := make([]float64, len(names))
	for i, n := range names {
		secs[i] = c[n].Seconds()
	}
	return pq.Array(names), pq.Array(secs)
}

// Names returns the class names, sorted.
func (c Classes) Names() []string {
	var out []string
	for n := range c {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
