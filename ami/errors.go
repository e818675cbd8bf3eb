package ami

import (
	"errors"
	"strconv"
)

// Sentinel errors. They are wrapped: test them with errors.Is.
var (
	// ErrNotConnected is returned by actions while the client has no
	// logged-in session, or when the session is lost before the answer.
	ErrNotConnected = errors.New("ami: not connected")
	// ErrTimeout is wrapped in the error of an action that got no response
	// in time (context deadline or Config.ActionTimeout).
	ErrTimeout = errors.New("ami: action timed out")
	// ErrAuth is wrapped in the error of a rejected Login.
	ErrAuth = errors.New("ami: authentication failed")
	// ErrInvalidAction is wrapped in the error of an action that cannot be
	// sent safely: empty name, CR or LF in a key or value, colon in a key,
	// a line over 1024 bytes or more than 128 headers. Nothing is written.
	ErrInvalidAction = errors.New("ami: invalid action")
	// ErrOtherBoot is returned by ActionOnBoot when the session connected
	// now does not talk to the run of Asterisk the action was meant for
	// (or that run is unknown). Nothing is written.
	ErrOtherBoot = errors.New("ami: no session on that run of asterisk")
	// ErrNoAnswer is wrapped, beside ErrNotConnected, in the error of an
	// action whose session ended after it was written and before its
	// answer: Asterisk may have carried it out. Sending it again may do it
	// twice.
	ErrNoAnswer = errors.New("ami: the session ended before the answer; the action may have been carried out")
)

// ProtocolError reports input that is not valid AMI, such as a message
// larger than the parser's limit or an unexpected banner.
type ProtocolError struct {
	Reason string
}

// Error implements error.
func (e *ProtocolError) Error() string { return "ami: protocol error: " + e.Reason }

// ActionError is returned when Asterisk answers an action with
// "Response: Error".
type ActionError struct {
	Action   string   // the action name that was sent
	Message  string   // the Message header of the response
	Response *Message // the full response
}

// Error implements error.
func (e *ActionError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "error response"
	}
	return "action " + printable(e.Action) + ": asterisk: " + msg
}

// printable returns s, quoted if it holds control characters, so that a
// rejected action name cannot inject lines into logs.
func printable(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return strconv.Quote(s)
		}
	}
	return s
}
