package ari

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/CyCoreSystems/ari/v6"
	"github.com/rs/zerolog"
)

// snoopEvent reports whether the snoop client needs events of type t.
func snoopEvent(t string) bool {
	switch t {
	case "StasisStart", "StasisEnd", "ChannelCreated", "ChannelStateChange", "ChannelDestroyed",
		"RecordingStarted", "RecordingFinished", "RecordingFailed", "ApplicationReplaced":
		return true
	}
	return false
}

// decodeSnoopEvent decodes the events the snoop client handles; others
// give nil.
func decodeSnoopEvent(data []byte) (ari.Event, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("decode event type: %w", err)
	}
	if !snoopEvent(head.Type) {
		return nil, nil
	}
	ev, err := ari.DecodeEvent(data)
	if err != nil {
		return nil, fmt.Errorf("decode %s event: %w", head.Type, err)
	}
	return ev, nil
}

// handle applies one event. It runs on the reader goroutine: it only
// updates state under the lock and hands requests to goroutines.
func (s *SnoopClient) handle(ev ari.Event) {
	switch ev := ev.(type) {
	case *ari.StasisStart:
		s.mu.Lock()
		e := s.entries[ev.Channel.ID]
		var checkedAt time.Time
		if e != nil {
			e.inStasis = true
			e.stasisStarts++
			checkedAt = e.checkedAt
		}
		s.mu.Unlock()
		if e == nil {
			s.log.Debug().Str("channel", ev.Channel.ID).Str("name", ev.Channel.Name).Msg("unknown channel entered the snoop application")
			return
		}
		if dl := s.log.Debug(); dl.Enabled() {
			// Where a start's time goes: the event's delivery, and how
			// long after the snoop request's reply it came (the record
			// request waits for it; see maybeRecord).
			now := time.Now()
			dl = dl.Str("snoop", ev.Channel.ID).Dur("event_lag", now.Sub(time.Time(ev.Timestamp)))
			if !checkedAt.IsZero() {
				dl = dl.Dur("after_reply", now.Sub(checkedAt))
			}
			dl.Msg("snoop channel entered the application")
		}
		s.maybeRecord(ev.Channel.ID)
	case *ari.ChannelCreated:
		// Only an endpoint's subscription tells a channel's creation.
		s.channelCreated(ev.Channel.ID, ev.Channel.Name, ev.Channel.State, time.Time(ev.Timestamp))
	case *ari.ChannelStateChange:
		if ev.Channel.State == "Up" {
			s.bornUp(ev.Channel.ID, time.Time(ev.Timestamp))
			s.markUp(ev.Channel.ID, time.Time(ev.Timestamp))
		}
	case *ari.StasisEnd:
		s.snoopGone(ev.Channel.ID, false)
	case *ari.ChannelDestroyed:
		s.bornGone(ev.Channel.ID)
		s.snoopGone(ev.Channel.ID, true)
	case *ari.RecordingStarted:
		s.log.Debug().Str("recording", ev.Recording.Name).Msg("recording started")
		s.tell(Times.Started, ev.Recording.Name, time.Time(ev.Timestamp))
	case *ari.RecordingFinished:
		s.log.Debug().Str("recording", ev.Recording.Name).Dur("duration", time.Duration(ev.Recording.Duration)).Msg("recording finished")
		s.tell(Times.Finished, ev.Recording.Name, time.Time(ev.Timestamp))
	case *ari.RecordingFailed:
		s.log.Error().Str("recording", ev.Recording.Name).Str("cause", ev.Recording.Cause).Msg("recording failed")
		s.tell(Times.Finished, ev.Recording.Name, time.Time(ev.Timestamp))
	}
}

// tell hands a time of recording name, stamped by the PBX, to Times
// (note: Times.Started or Times.Finished), in the background.
func (s *SnoopClient) tell(note func(Times, string, time.Time), name string, at time.Time) {
	if at.IsZero() || s.times == nil {
		return
	}
	s.spawn(func(context.Context, *restClient) { note(s.times, name, at) })
}

// maxRespawns bounds how often one recording's snoop channel is created
// again (respawn).
const maxRespawns = 2

// snoopGone forgets a snoop channel that left the application (destroyed:
// it no longer exists). One that ended before its recording started while
// its recording is still wanted (not stopped: its channel lives on, as far
// as the client was told) is created again once destroyed (respawn): a
// snoop channel asked for just before the WebSocket dropped cannot enter
// the application, which Asterisk unregisters meanwhile, and is hung up.
func (s *SnoopClient) snoopGone(id string, destroyed bool) {
	s.mu.Lock()
	e := s.entries[id]
	again := e != nil && !e.recording && !e.stopped && e.spy != "" && e.respawns < maxRespawns
	var cause string
	if e != nil {
		cause = respawnCause(e, s.subs.connection, s.State() == StateConnected)
	}
	switch {
	case e == nil:
	case again && !destroyed:
		// Left the application: the same ID is free once destroyed.
		e.inStasis = false
		s.mu.Unlock()
		return
	case again && e.starting:
		// Record, or a respawn, has not returned: a resynchronisation
		// once it has finds the snoop channel gone and creates it again.
		e.resyncDue = true
		s.mu.Unlock()
		return
	case again:
		e.respawns++
		e.starting = true // resynchronisations wait for the respawn
		e.inStasis, e.checked, e.chanName, e.checkedAt = false, false, "", time.Time{}
	default:
		delete(s.entries, id)
	}
	s.mu.Unlock()
	switch {
	case e == nil:
	case again:
		s.spawn(func(ctx context.Context, rest *restClient) { s.respawn(ctx, rest, id, cause) })
	case !e.recording && !e.stopped && e.respawns >= maxRespawns:
		s.log.Error().Str("snoop", id).Str("channel", e.channelID).Str("recording", e.name).Int("respawns", e.respawns).
			Msg("policy violation: the call must be recorded but its snoop channel ended again before its recording started; giving up")
	case !e.recording && !e.stopped:
		s.log.Debug().Str("snoop", id).Str("channel", e.channelID).Msg("snoop channel ended before its recording started; nothing recorded")
	}
}

// respawn creates again the snoop channel snoopID, which ended before its
// recording started (see snoopGone), on its channel named by unique ID,
// waiting for the application's connection as Record does (at most
// RequestTimeout); the recording then starts as at Record. The entry is
// starting meanwhile, so that a resynchronisation waits for it. A channel
// gone meanwhile ends it quietly (its call ended); a request cut on the
// way that createSnoop could not settle leaves it to the next
// resynchronisation (the snoop channel may exist); any other failure is
// a violation. A snoop channel created after the recording was stopped
// is hung up by createSnoop.
//
// cause says why the snoop channel ended (respawnCause), for the warning.
func (s *SnoopClient) respawn(ctx context.Context, rest *restClient, snoopID, cause string) {
	s.mu.Lock()
	e := s.entries[snoopID]
	if e == nil || e.stopped {
		s.mu.Unlock()
		return
	}
	channelID, sn, incarnation := e.channelID, Snoop{ID: snoopID, Name: e.name, Spy: e.spy}, e.respawns
	s.mu.Unlock()
	log := s.log.With().Str("channel", channelID).Str("recording", sn.Name).Logger()
	log.Warn().Str("cause", cause).Msg("snoop channel ended before its recording started; creating it again")
	var err error
	if !s.awaitConnected(ctx) {
		err = ErrNotConnected
	} else {
		err = s.createSnoop(ctx, rest, channelID, channelID, sn, incarnation)
	}
	gone := !s.wanted(snoopID)
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound):
		s.forget(snoopID)
		log.Debug().Err(err).Msg("recreate snoop channel: its channel is gone")
		return
	case isTransport(err) && !gone:
		log.Warn().Err(err).Msg("recreate snoop channel: the request was cut; the next resynchronisation looks again")
	default:
		s.forget(snoopID)
		log.Error().Err(err).Msg("policy violation: the call must be recorded but its snoop channel ended before its recording started and could not be created again")
		return
	}
	s.started([]Snoop{sn})
}

// Causes of a respawn, for its warning (respawnCause).
const (
	causeReconnect = "the snoop application was reconnecting: a snoop channel asked for meanwhile cannot enter it"
	causeLeft      = "it left the snoop application on a live connection (hung up in Asterisk)"
)

// respawnCause tells why e's snoop channel ended before its recording
// started: the application's connection changed since it was asked for
// (conn is the current connection's number; e.conn, set once the snoop
// channel was checked, the one it was asked for on), or is down now; or
// it left the application with the connection up (something in Asterisk
// hung it up). s.mu is held.
func respawnCause(e *snoopEntry, conn int, connected bool) string {
	if !connected || (e.checked && e.conn != conn) {
		return causeReconnect
	}
	return causeLeft
}

// isTransport reports whether err is a request's failure on the way (a
// connection refused or cut, a timeout), not an answer of Asterisk's.
func isTransport(err error) bool {
	var se *statusError
	return err != nil && !errors.As(err, &se) && !errors.Is(err, ErrNotConnected) && !errors.Is(err, ErrWrongChannel)
}

// markUp notes that a recorded channel answered at the PBX's time at (the
// zero time: before its subscription, which may be after its recordings
// started, or unknown) and tells Times,
// once per recording, and once more when the time comes after the zero
// time (an answer event that arrives after a read saw the channel Up: the
// time wins).
func (s *SnoopClient) markUp(channelID string, at time.Time) {
	var names []string
	s.mu.Lock()
	for _, e := range s.entries {
		if e.channelID == channelID && (!e.up || (!at.IsZero() && !e.upTimed)) {
			e.up, e.upTimed = true, !at.IsZero()
			names = append(names, e.name)
		}
	}
	s.mu.Unlock()
	s.tellAnswered(names, at)
}

// tellAnswered hands the answer's time of recordings names to Times.
func (s *SnoopClient) tellAnswered(names []string, at time.Time) {
	if len(names) == 0 || s.times == nil {
		return
	}
	s.spawn(func(context.Context, *restClient) {
		for _, n := range names {
			s.times.Answered(n, at)
		}
	})
}

// maybeRecord starts the recording of a snoop channel that is checked (see
// createSnoop) and in the application, once. Sending the record request at
// the snoop channel's creation, without waiting for its StasisStart, was
// tried and withdrawn in stop 43: on the sandbox, about one request in six
// then came before the channel entered (refused, and sent again at the
// StasisStart), and snoop waves did worse than the same code waiting for
// the event, interleaved (3 of 8 within every target against 6 of 8).
func (s *SnoopClient) maybeRecord(snoopID string) {
	s.mu.Lock()
	e := s.entries[snoopID]
	if e == nil || !e.checked || !e.inStasis || e.recording || e.stopped {
		s.mu.Unlock()
		return
	}
	e.recording = true
	name, channelID := e.name, e.channelID
	sent := sentAt{starts: e.stasisStarts, conn: s.subs.connection} // s.mu held
	s.mu.Unlock()
	s.spawn(func(ctx context.Context, rest *restClient) {
		err := rest.record(ctx, snoopID, name)
		if isTransport(err) {
			// Lost on the way (a connection cut): the request may have
			// reached Asterisk. A recording that runs is kept; one that
			// does not is asked for again, unless it was stopped
			// meanwhile (the policy may forbid it now).
			read, lerr := s.readAfterCut(ctx, snoopID, func() error {
				_, err := rest.liveRecordingPrompt(ctx, name)
				return err
			})
			switch {
			case !read:
			case lerr == nil:
				s.log.Info().Err(err).Str("recording", name).Msg("record request cut on the way; the recording runs")
				err = nil
			case errors.Is(lerr, ErrNotFound):
				s.log.Info().Err(err).Str("recording", name).Msg("record request cut on the way before Asterisk carried it out; asking again")
				err = rest.record(ctx, snoopID, name)
			}
		}
		switch {
		case err == nil:
			s.log.Debug().Str("channel", channelID).Str("recording", name).Msg("recording requested")
		case !s.wanted(snoopID):
			// Stopped or released meanwhile (its call ended, or the policy
			// no longer wants it): nothing is missing.
			s.log.Debug().Err(err).Str("channel", channelID).Str("recording", name).Msg("record request failed after the recording was stopped")
		case errors.Is(err, ErrNotInStasis) && s.notInStasisYet(snoopID, sent):
		case errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict):
			// The snoop channel went away (its channel hung up, or the
			// recording was stopped meanwhile), or its file exists (the
			// recording ran and ended).
			s.log.Debug().Err(err).Str("channel", channelID).Str("recording", name).Msg("record snoop channel")
		default:
			s.log.Error().Err(err).Str("channel", channelID).Str("recording", name).
				Msg("policy violation: the call must be recorded but the recording did not start")
		}
	})
}

// sentAt is what a record request was sent after: its snoop channel's
// StasisStart events read (snoopEntry.stasisStarts) and the connection
// (watchState.connection).
type sentAt struct{ starts, conn int }

// notInStasisYet handles a record request refused because the snoop
// channel was not in the application (sent: when the request was sent).
// That happens when the request was sent on a resynchronisation's word
// (after a reconnect the snoop channel's StasisStart may be on either
// side of it: see resyncEntry) and the channel had not entered yet. The
// request is sent again at the StasisStart to come; at once when one was
// read meanwhile, or when the application reconnected meanwhile (the
// StasisStart may have gone on the connection that dropped, and the
// resynchronisation took the request in flight for one that ran). It
// reports false (nothing to wait for) when the recording is no longer
// wanted. A snoop channel that left the application is refused the same
// way: it is hung up with its recorded channel, or by the client
// (snoopGone).
func (s *SnoopClient) notInStasisYet(snoopID string, sent sentAt) bool {
	s.mu.Lock()
	e := s.entries[snoopID]
	if e == nil || e.stopped {
		s.mu.Unlock()
		return false
	}
	e.recording = false
	now := e.stasisStarts != sent.starts || s.subs.connection != sent.conn
	if !now {
		e.inStasis = false
	}
	name := e.name
	s.mu.Unlock()
	if now {
		s.log.Debug().Str("snoop", snoopID).Str("recording", name).
			Msg("record request came before the snoop channel entered the application; it entered, or the application reconnected, since: sending it again")
		s.maybeRecord(snoopID)
		return true
	}
	s.log.Debug().Str("snoop", snoopID).Str("recording", name).
		Msg("record request came before the snoop channel entered the application; sending it again at its StasisStart")
	return true
}

// readAfterCut settles a request of snoopID's recording cut on the way
// (a network blip): once the application is connected again, it runs
// read, a request that tells whether the cut one was carried out, and
// runs it once more, after cutNoticed, when it meets the same cut (the
// event WebSocket had not noticed it yet, so the application still
// looked connected; Go's HTTP client already sends a read once more
// when it fails on a connection it reused). It reports whether it read,
// and read's error: it does not read when the application does not come
// back within RequestTimeout or the recording is no longer wanted.
func (s *SnoopClient) readAfterCut(ctx context.Context, snoopID string, read func() error) (bool, error) {
	var err error
	for i := range 2 {
		if i > 0 {
			// Time for the event WebSocket to see the cut, so that the
			// wait below is for the reconnection.
			select {
			case <-ctx.Done():
				return false, nil
			case <-time.After(cutNoticed):
			}
		}
		if !s.awaitConnected(ctx) || !s.wanted(snoopID) {
			return false, nil
		}
		if err = read(); !isTransport(err) {
			break
		}
	}
	return true, err
}

// cutNoticed is how long readAfterCut waits, after a read that met the
// cut it settles, before it reads again: the kernel tells an aborted
// connection's reader at once, and the client then counts itself
// disconnected.
const cutNoticed = 100 * time.Millisecond

// wanted reports whether snoopID's recording is still wanted: its entry
// exists and was not stopped.
func (s *SnoopClient) wanted(snoopID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[snoopID]
	return e != nil && !e.stopped
}

// resync brings every entry in line with Asterisk after a connect (events
// were lost while the WebSocket was down).
func (s *SnoopClient) resync() {
	s.mu.Lock()
	ids := make([]string, 0, len(s.entries))
	for id := range s.entries {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	for _, id := range ids {
		s.spawn(func(ctx context.Context, rest *restClient) { s.resyncEntry(ctx, rest, id) })
	}
}

// resyncEntry reads one entry's recording, snoop channel and recorded
// channel, subscribes to the recorded channel again (a new process, or a
// reconnect, holds no subscription), notes it answered when it is Up (when
// is not known: nothing cut), and starts the recording when it should run
// and does not.
func (s *SnoopClient) resyncEntry(ctx context.Context, rest *restClient, snoopID string) {
	s.mu.Lock()
	e := s.entries[snoopID]
	if e == nil || e.stopped {
		s.mu.Unlock()
		return
	}
	if e.starting {
		// Record has not returned: its snoop channel may not exist yet
		// (read now, it would be taken for gone and the recording
		// dropped). Record resynchronises it when it returns.
		e.resyncDue = true
		s.mu.Unlock()
		return
	}
	name, channelID, requested := e.name, e.channelID, e.recording
	s.mu.Unlock()
	_, err := rest.liveRecording(ctx, name)
	live := err == nil
	gone := errors.Is(err, ErrNotFound)
	if err != nil && !gone {
		s.log.Warn().Err(err).Str("recording", name).Msg("resync: read live recording; subscribing to its channel again all the same")
	}
	if gone && requested {
		// Requested but not live any more: it ended (its file stays); a
		// second request would fail on the existing file.
		return
	}
	if !live && !requested {
		sc, err := rest.channel(ctx, snoopID)
		if errors.Is(err, ErrNotFound) {
			s.snoopGone(snoopID, true)
			return
		} else if err != nil {
			s.log.Warn().Err(err).Str("snoop", snoopID).Msg("resync snoop channel")
			return
		}
		// Its creation's reply may have been lost (a respawn's request
		// cut on the way): its own name tells that it spies on channelID.
		s.mu.Lock()
		if !e.checked && spiesOn(sc.Name, channelID) {
			e.checked, e.chanName = true, sc.Name
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	e.watched = false // a new connection: the subscription below is its own
	s.mu.Unlock()
	if err := rest.subscribe(ctx, s.cfg.Application, channelID); err != nil {
		s.resyncLog(err).Err(err).Str("channel", channelID).Msg("resync: subscribe to recorded channel")
	}
	ch, err := rest.channel(ctx, channelID)
	if err != nil {
		s.resyncLog(err).Err(err).Str("channel", channelID).Msg("resync recorded channel")
		return
	}
	// The snoop channel exists and was created into this application: it
	// is in Stasis (channels stay there while the application is down),
	// or is about to enter it, unless it was asked for on this connection
	// (a start that a reconnect reached, resynchronised once it
	// returned): its StasisStart comes on this connection. A record
	// request sent before the channel entered is refused (409) and sent
	// again at its StasisStart (notInStasisYet).
	s.mu.Lock()
	if !e.checked || e.conn != s.subs.connection || live {
		e.inStasis = true
	}
	if live {
		e.recording = true
	}
	s.mu.Unlock()
	if ch.State == "Up" {
		s.markUp(channelID, time.Time{})
	}
	s.maybeRecord(snoopID)
}

// resyncLog is the level of a resynchronisation's failed request: debug
// when the recorded channel is gone (its call ended while the application
// was reconnecting: the engine releases the recording at its hangup),
// warn otherwise.
func (s *SnoopClient) resyncLog(err error) *zerolog.Event {
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnprocessable) {
		return s.log.Debug()
	}
	return s.log.Warn()
}
