package ari

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors of this package; test them with errors.Is.
var (
	// ErrInvalidConfig reports a Config or GreetingConfig that cannot be used.
	ErrInvalidConfig = errors.New("invalid ari config")
	// ErrAlreadyRunning is returned by a second call to Client.Run.
	ErrAlreadyRunning = errors.New("ari client already running")
	// ErrNotFound reports an ARI 404: the channel, playback, variable or
	// application does not exist (for a channel: it has hung up).
	ErrNotFound = errors.New("ari object not found")
	// ErrConflict reports an ARI 409, e.g. a channel that is not in a Stasis
	// application any more.
	ErrConflict = errors.New("ari conflict")
	// ErrNotInStasis reports the 409 of a request on a channel that is not
	// in a Stasis application ("Channel not in Stasis application"): one
	// that has not entered it yet, or has left it. It is also ErrConflict.
	ErrNotInStasis = errors.New("ari channel not in stasis application")
	// ErrUnprocessable reports an ARI 422, e.g. a subscription to an event
	// source (a channel) that does not exist.
	ErrUnprocessable = errors.New("ari request unprocessable")
	// ErrWrongChannel reports a snoop channel that Asterisk created on
	// another channel than the one meant: the name it was asked by belongs
	// to another channel now.
	ErrWrongChannel = errors.New("snoop channel on the wrong channel")
	// ErrUnauthorized reports an ARI 401 or 403: wrong username or password.
	ErrUnauthorized = errors.New("ari credentials refused")
	// ErrPlaybackFailed reports a greeting playback that finished in a state
	// other than "done" (e.g. the sound file does not exist).
	ErrPlaybackFailed = errors.New("greeting playback failed")
	// ErrTimeout reports a greeting that did not end within
	// GreetingConfig.Timeout.
	ErrTimeout = errors.New("greeting timed out")
	// ErrEventsLost reports a greeting whose playback ended while the event
	// WebSocket was down, so whether it played is unknown.
	ErrEventsLost = errors.New("greeting events lost while disconnected")
	// ErrShutdown reports a greeting abandoned because the client is stopping.
	ErrShutdown = errors.New("ari client shutting down")
	// ErrAppReplaced reports that another WebSocket registered the same
	// application name, taking its events away from this client.
	ErrAppReplaced = errors.New("ari application replaced by another connection")
	// ErrAppNotRegistered reports a health check that did not find the
	// application on Asterisk although the WebSocket was up.
	ErrAppNotRegistered = errors.New("ari application not registered")
	// ErrOrphaned reports a channel found in the application with no greeting
	// in progress (left there by a lost connection or a previous process);
	// it was continued so that the dialplan fallback greets the caller.
	ErrOrphaned = errors.New("channel found in stasis without a greeting in progress")
)

// statusError is a non-2xx ARI reply.
type statusError struct {
	code    int
	message string
}

func (e *statusError) Error() string {
	if e.message == "" {
		return fmt.Sprintf("ari status %d %s", e.code, http.StatusText(e.code))
	}
	return fmt.Sprintf("ari status %d %s: %s", e.code, http.StatusText(e.code), e.message)
}

// Is maps the status code to the package's sentinels.
func (e *statusError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.code == http.StatusNotFound
	case ErrConflict:
		return e.code == http.StatusConflict
	case ErrNotInStasis:
		return e.code == http.StatusConflict && strings.Contains(e.message, "not in Stasis")
	case ErrUnprocessable:
		return e.code == http.StatusUnprocessableEntity
	case ErrUnauthorized:
		return e.code == http.StatusUnauthorized || e.code == http.StatusForbidden
	}
	return false
}
