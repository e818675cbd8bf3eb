package access

import (
	"errors"
	"fmt"
)

// ErrAccessDenied: the person may not see what was asked (see *DeniedError).
var ErrAccessDenied = errors.New("access denied")

// DeniedError says why an access is refused and what to do about it.
type DeniedError struct {
	Login  string
	Reason string
	Hint   string
}

func (e *DeniedError) Error() string {
	s := fmt.Sprintf("access denied to %s: %s", e.Login, e.Reason)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Unwrap makes errors.Is(err, ErrAccessDenied) true.
func (e *DeniedError) Unwrap() error { return ErrAccessDenied }
