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
