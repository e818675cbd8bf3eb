package ari

import (
	"errors"
	"fmt"
	"time"
)

// Dialplan contract (dialplan/recpolicy.conf).
const (
	// greetingArg is the Stasis argument of channels to greet.
	greetingArg = "greeting"
	// greetedVar is set on greeted channels; the double underscore makes
	// every channel created later by the call inherit it.
	greetedVar = "__RECPOLICY_GREETED"
	// greetedVarName is the variable as the dialplan reads it.
	greetedVarName = "RECPOLICY_GREETED"
	// greetedValue says the application played the greeting.
	greetedValue = "ari"
	// playbackDone is the final state of a playback that played to the end.
	playbackDone = "done"
)

// Continue retries: the first after retryBase, doubling up to retryMax,
// until the session's timeout.
const (
	retryBase = 250 * time.Millisecond
	retryMax  = 2 * time.Second
)

// phase is where a greeting session stands.
type phase int

const (
	phaseAnswering  phase = iota + 1 // answer requested
	phasePlaying                     // play requested, waiting for PlaybackFinished
	phaseMarking                     // greeting heard, setting RECPOLICY_GREETED
	phaseContinuing                  // continue requested, outcome pending
	phaseEnded                       // outcome sent, waiting for the channel to leave
)

func (p phase) String() string {
	switch p {
	case phaseAnswering:
		return "answering"
	case phasePlaying:
		return "playing"
	case phaseMarking:
		return "marking"
	case phaseContinuing:
		return "continuing"
	case phaseEnded:
		return "ended"
	}
	return "unknown"
}

// inputKind is what happened to a session.
type inputKind int

const (
	inAnswered         inputKind = iota + 1 // answer reply (err)
	inPlayReplied                           // play reply (playbackID, err)
	inPlaybackFinished                      // PlaybackFinished (playbackID, state)
	inVarSet                                // set-variable reply (err)
	inContinued                             // continue reply (err)
	inRetryContinue                         // retry timer fired
	inHangupRequested                       // ChannelHangupRequest
	inLeft                                  // StasisEnd, ChannelDestroyed, or absent from a listing
	inTimeout                               // GreetingConfig.Timeout elapsed
	inPlaybackLost                          // playback gone while events were lost (playbackID)
	inAbandon                               // shutdown or application replaced (err)
)

// input is one thing that happened to a session.
type input struct {
	kind       inputKind
	playbackID string
	state      string
	err        error
}

// actionKind is what the dispatcher must do for a session.
type actionKind int

const (
	actAnswer        actionKind = iota + 1
	actPlay                     // playbackID
	actSetVar                   // greetedVar = greetedValue
	actContinue                 // stop playbackID first when set
	actRetryContinue            // after delay
	actHangup
	actEmit   // result
	actForget // drop the session
)

// action is one thing the dispatcher must do for a session.
type action struct {
	kind       actionKind
	playbackID string
	delay      time.Duration
	result     GreetingResult
}

// channelInfo describes the channel for the result.
type channelInfo struct {
	id, name, callerNum, exten, linkedID string
}

// session is the greeting state machine of one channel. It performs no I/O:
// start and handle return the actions to run.
type session struct {
	seq        uint64
	info       channelInfo
	started    time.Time
	phase      phase
	playbackID string
	playAcked  bool // Asterisk accepted the play request
	played     bool // PlaybackFinished "done" seen: the caller heard it all
	pending    GreetingOutcome
	pendingErr error
	emitted    bool
	tries      int // failed continue attempts
}

// newSession starts the session of a channel that entered the application
// with args; up says whether the channel is already answered. playbackID is
// the ID its greeting playback will carry.
func newSession(seq uint64, info channelInfo, args []string, up bool, playbackID string, now time.Time) (*session, []action) {
	s := &session{seq: seq, info: info, started: now, playbackID: playbackID}
	if len(args) == 0 || args[0] != greetingArg {
		s.pending = GreetingSkipped
		s.phase = phaseContinuing
		return s, []action{{kind: actContinue}}
	}
	if up {
		s.phase = phasePlaying
		return s, []action{{kind: actPlay, playbackID: playbackID}}
	}
	s.phase = phaseAnswering
	return s, []action{{kind: actAnswer}}
}

// greeting reports whether the session greets (not a skipped channel).
func (s *session) greeting() bool { return s.pending != GreetingSkipped }

// handle applies in and returns the actions to run.
func (s *session) handle(in input, now time.Time) []action {
	switch in.kind {
	case inAnswered:
		if s.phase != phaseAnswering {
			return nil
		}
		if in.err != nil {
			if errors.Is(in.err, ErrNotFound) {
				return s.finish(GreetingCutShort, in.err, now)
			}
			return s.fallback(in.err, false)
		}
		s.phase = phasePlaying
		return []action{{kind: actPlay, playbackID: s.playbackID}}

	case inPlayReplied:
		if s.phase != phasePlaying || in.playbackID != s.playbackID {
			return nil
		}
		if in.err == nil {
			s.playAcked = true
			return nil
		}
		if errors.Is(in.err, ErrNotFound) {
			return s.finish(GreetingCutShort, in.err, now)
		}
		// The request may have timed out after starting the playback.
		return s.fallback(in.err, true)

	case inPlaybackFinished:
		if s.phase != phasePlaying || in.playbackID != s.playbackID {
			return nil
		}
		if in.state != playbackDone {
			return s.fallback(fmt.Errorf("play greeting: %w (state %q)", ErrPlaybackFailed, in.state), false)
		}
		s.played = true
		s.phase = phaseMarking
		return []action{{kind: actSetVar}}

	case inVarSet:
		if s.phase != phaseMarking {
			return nil
		}
		if in.err != nil {
			if errors.Is(in.err, ErrNotFound) {
				return s.finish(GreetingPlayed, nil, now)
			}
			return s.fallback(in.err, false)
		}
		s.pending = GreetingPlayed
		s.phase = phaseContinuing
		return []action{{kind: actContinue}}

	case inContinued:
		if s.phase != phaseContinuing {
			return nil
		}
		switch {
		case in.err == nil, errors.Is(in.err, ErrConflict):
			// 409: no longer in Stasis, e.g. an earlier attempt did it.
			return s.finish(s.pending, s.pendingErr, now)
		case errors.Is(in.err, ErrNotFound):
			return s.finish(s.goneOutcome(), s.pendingErr, now)
		}
		s.tries++
		s.pendingErr = in.err
		delay := retryBase << min(s.tries-1, 8)
		return []action{{kind: actRetryContinue, delay: min(delay, retryMax)}}

	case inRetryContinue:
		if s.phase != phaseContinuing {
			return nil
		}
		return []action{{kind: actContinue}}

	case inHangupRequested:
		switch s.phase {
		case phaseAnswering, phasePlaying:
			return s.end(GreetingCutShort, nil, now)
		case phaseMarking:
			return s.end(GreetingPlayed, nil, now)
		}
		return nil

	case inLeft:
		switch s.phase {
		case phaseContinuing:
			return s.finish(s.pending, s.pendingErr, now)
		case phaseEnded:
			return []action{{kind: actForget}}
		}
		return s.finish(s.goneOutcome(), nil, now)

	case inTimeout:
		switch s.phase {
		case phaseAnswering, phaseMarking:
			return s.fallback(ErrTimeout, false)
		case phasePlaying:
			return s.fallback(ErrTimeout, true)
		case phaseContinuing:
			// Continuing keeps failing: hang up rather than leave it stuck.
			err := ErrTimeout
			if s.pendingErr != nil {
				err = fmt.Errorf("%w: %w", ErrTimeout, s.pendingErr)
			}
			acts := s.emit(GreetingFailed, err, now)
			s.phase = phaseEnded
			return append(acts, action{kind: actHangup}, action{kind: actForget})
		case phaseEnded:
			// Hangup requested long ago but still here: unstick it.
			return []action{{kind: actContinue}, {kind: actForget}}
		}
		return nil

	case inPlaybackLost:
		if s.phase != phasePlaying || in.playbackID != s.playbackID {
			return nil
		}
		return s.fallback(fmt.Errorf("play greeting: %w", ErrEventsLost), false)

	case inAbandon:
		switch s.phase {
		case phaseAnswering:
			return s.fallback(in.err, false)
		case phasePlaying:
			return s.fallback(in.err, true)
		case phaseEnded:
			return []action{{kind: actForget}}
		}
		return nil
	}
	return nil
}

// fallback continues the channel without the variable, so the dialplan plays
// the greeting; stop first stops the playback (a continue waits for it).
func (s *session) fallback(err error, stop bool) []action {
	s.pending = GreetingFailed
	s.pendingErr = err
	s.phase = phaseContinuing
	a := action{kind: actContinue}
	if stop {
		a.playbackID = s.playbackID
	}
	return []action{a}
}

// goneOutcome is the outcome of a channel that left the application without
// our continue: it hung up.
func (s *session) goneOutcome() GreetingOutcome {
	switch {
	case s.played:
		return GreetingPlayed
	case !s.greeting():
		return GreetingSkipped
	}
	return GreetingCutShort
}

// finish sends the outcome and drops the session.
func (s *session) finish(o GreetingOutcome, err error, now time.Time) []action {
	acts := s.emit(o, err, now)
	s.phase = phaseEnded
	return append(acts, action{kind: actForget})
}

// end sends the outcome and waits for the channel to leave.
func (s *session) end(o GreetingOutcome, err error, now time.Time) []action {
	acts := s.emit(o, err, now)
	s.phase = phaseEnded
	return acts
}

// emit returns the result action, once per session.
func (s *session) emit(o GreetingOutcome, err error, now time.Time) []action {
	if s.emitted {
		return nil
	}
	s.emitted = true
	if o == GreetingPlayed || o == GreetingSkipped {
		err = nil
	}
	return []action{{kind: actEmit, result: GreetingResult{
		ChannelID:   s.info.id,
		LinkedID:    s.info.linkedID,
		ChannelName: s.info.name,
		CallerNum:   s.info.callerNum,
		Exten:       s.info.exten,
		Outcome:     o,
		Started:     s.started,
		Ended:       now,
		Err:         err,
	}}}
}
