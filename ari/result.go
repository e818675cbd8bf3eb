package ari

import (
	"time"

	"github.com/rs/zerolog"
)

// GreetingOutcome says how the greeting of one channel ended.
type GreetingOutcome int

// Greeting outcomes. The zero value is not a valid outcome.
const (
	// GreetingPlayed: the caller heard the whole greeting, RECPOLICY_GREETED
	// was set to "ari" and the channel continued in the dialplan.
	GreetingPlayed GreetingOutcome = iota + 1
	// GreetingCutShort: the caller hung up before the greeting ended.
	GreetingCutShort
	// GreetingFailed: the application could not greet the caller and
	// continued the channel without RECPOLICY_GREETED, so the dialplan
	// fallback plays the greeting; Err says why.
	GreetingFailed
	// GreetingSkipped: the channel entered the application with arguments
	// other than "greeting" and was continued at once.
	GreetingSkipped
)

// String returns the outcome's name, e.g. "played" or "cut_short".
func (o GreetingOutcome) String() string {
	switch o {
	case GreetingPlayed:
		return "played"
	case GreetingCutShort:
		return "cut_short"
	case GreetingFailed:
		return "failed"
	case GreetingSkipped:
		return "skipped"
	}
	return "unknown"
}

// GreetingResult reports what happened to one channel handed to the
// application.
type GreetingResult struct {
	// ChannelID is the Asterisk unique ID of the caller's channel; LinkedID
	// its linked ID (shared by every channel of the call; empty when it could
	// not be read before the result was sent).
	ChannelID, LinkedID string
	// ChannelName is the channel's name, e.g. PJSIP/carrier-00000002.
	ChannelName string
	// CallerNum is the caller ID number; Exten the dialled number.
	CallerNum, Exten string
	// Outcome says how the greeting ended.
	Outcome GreetingOutcome
	// Started is when the channel entered the application; Ended when its
	// outcome was known.
	Started, Ended time.Time
	// Err is why the greeting failed or was cut short, when known.
	Err error
}

// MarshalZerologObject logs the result's fields; never the caller's number
// (personal data stays out of logs).
func (r GreetingResult) MarshalZerologObject(e *zerolog.Event) {
	e.Str("channel_id", r.ChannelID).
		Str("linked_id", r.LinkedID).
		Str("channel", r.ChannelName).
		Str("exten", r.Exten).
		Stringer("outcome", r.Outcome).
		Dur("duration", r.Ended.Sub(r.Started))
	if r.Err != nil {
		e.AnErr("reason", r.Err)
	}
}
