package archive

import (
	"errors"
	"fmt"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrMalformed marks a Cdr event or a recording that cannot be archived
	// as it is. It was written to the quarantine file.
	ErrMalformed = errors.New("malformed record")
	// ErrNoDSN is returned when no database address is given.
	ErrNoDSN = errors.New("no database address (DSN)")
	// ErrNotFound: no recording, hold, request or training copy answers to
	// the reference given.
	ErrNotFound = errors.New("not found")
	// ErrIntegrity: a file is missing, or does not match its checksum
	// (see *IntegrityError).
	ErrIntegrity = errors.New("integrity check failed")
	// ErrOutsideArea: a file lies outside the directory it must be in.
	ErrOutsideArea = errors.New("file outside its area")
)

// MalformedError says what is wrong with one record and how to fix it. It
// wraps ErrMalformed.
type MalformedError struct {
	Field  string // the offending field, "" for the record as a whole
	Value  string // its raw value
	Reason string
	Hint   string // how to fix it, "" when there is nothing to say
}

func (e *MalformedError) Error() string {
	s := "malformed record"
	if e.Field != "" {
		s += fmt.Sprintf(": field %s %q", e.Field, e.Value)
	}
	s += ": " + e.Reason
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Unwrap makes errors.Is(err, ErrMalformed) true.
func (e *MalformedError) Unwrap() error { return ErrMalformed }

// Problems a file can have.
const (
	ProblemMissing      = "missing"       // the archive knows it; the file is gone
	ProblemAltered      = "altered"       // its checksum or size differs from the archive's
	ProblemUnreadable   = "unreadable"    // it could not be read
	ProblemOutside      = "outside-area"  // its path lies outside its directory
	ProblemUnknown      = "unknown"       // a file the archive does not know (never deleted)
	ProblemUnknownClass = "unknown-class" // its retention class is not in the rules file (never purged)
)

// IntegrityError says what is wrong with one file. It wraps ErrIntegrity.
type IntegrityError struct {
	Path    string
	Problem string // ProblemMissing, ProblemAltered…
	Detail  string
}

func (e *IntegrityError) Error() string {
	s := fmt.Sprintf("%s: %s", e.Path, e.Problem)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap makes errors.Is(err, ErrIntegrity) true.
func (e *IntegrityError) Unwrap() error { return ErrIntegrity }
