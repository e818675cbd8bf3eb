package ari

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/CyCoreSystems/ari/v6"
	"github.com/rs/zerolog"

	"github.com/villedemercier/recpolicy/internal/backoff"
)

// DefaultSnoopApplication is the Stasis application snoop channels enter.
// It must differ from the greeting's application, which continues every
// channel that is not a greeting.
const DefaultSnoopApplication = "recpolicy-snoop"

// ErrNotConnected reports a request made while the snoop application's
// WebSocket is down: Asterisk would hang up a snoop channel whose
// application is not registered.
var ErrNotConnected = errors.New("ari snoop application not connected")

// SnoopClient records channels through ARI: for each recording it creates a
// snoop channel on the recorded channel (spying on one direction, or both),
// which enters its own Stasis application, and records the snoop channel
// into Asterisk's recording spool as <name>.wav.
//
// Pre-answer audio: Dial passes the caller's audio to a ringing callee, and
// that must not be kept. The recording starts as soon as its snoop channel
// is in the application, most often while the channel still rings: a
// request sent at the answer would reach a PBX loaded by a burst too late
// (stop 33 in the README), and so would one that waited for the
// subscription below (stops 34 and 35). What it recorded before the answer
// is cut when the recording is filed, from the PBX's own times, which the
// client hands to Times: when the recording started (RecordingStarted) and
// ended (RecordingFinished), and when the recorded channel answered
// (ChannelStateChange to Up; the client subscribes its application to the
// endpoints WatchEndpoints names, which tells all their channels do from
// their creation, snoop_watch.go; any other recorded channel is subscribed
// to at its start and its state read right after subscribing, and every
// recorded channel again after each reconnect, for events lost
// meanwhile). These are stasis
// message times, taken when the state changed. A channel already Up when
// read, with no answer event, answered before its subscription took
// effect, before or after its recording started: its answer is told at the
// zero time, and the time that counts is then the one the recording engine
// writes too, from AMI's Newstate (engine.AnswerNoter), which Asterisk
// stamps when its manager formats the event, later than the state change by
// however far that queue is behind; the filer takes the earliest time
// told. A snoop channel writes one
// frame every 20 ms tick, silence when its direction is quiet, so its file
// keeps the PBX's clock, less the ticks a loaded PBX skips (a late timer
// wakeup writes one frame for several ticks); the cut is the answer's time
// less the recording's start, less the frames the file lacks against its
// start and end times (RecordingFinished), so that skipped ticks keep a
// little ringing rather than cut into the call. A leg that never answers
// leaves a file of pre-answer audio alone, which the filer discards.
//
// The client owns its connection like Client does: its own WebSocket (the
// application must be registered for Asterisk to accept snoop channels into
// it), REST calls with timeouts, capped exponential backoff, health checks,
// and a resynchronisation after every connect. Create it with
// NewSnoopClient and start it with Run.
type SnoopClient struct {
	cfg     Config
	log     zerolog.Logger
	state   atomic.Int32
	running atomic.Bool
	rest    atomic.Pointer[restClient]
	opsCtx  context.Context // requests started by events; set by Run
	mu      sync.Mutex
	entries map[string]*snoopEntry // by snoop channel ID
	closed  bool                   // no new goroutines: Run is stopping
	wg      sync.WaitGroup         // request goroutines
	times   Times
	subs    watchState // endpoint subscriptions (snoop_watch.go), under mu
	// up is closed once a connection's resynchronisation has begun
	// (connected), and replaced by an open one when the connection drops
	// (under mu): a start waits on it (awaitConnected), so that the starts
	// that waited are not taken into that resynchronisation.
	up chan struct{}
}

// Times receives the PBX's times the filer needs to cut, from a recording,
// what it holds from before its channel answered (see SnoopClient). Calls
// come from the client's goroutines, never its event reader, and may be
// slow (a file written).
type Times interface {
	// Started: the recording name started at the PBX's time at.
	Started(name string, at time.Time)
	// Answered: the channel the recording name records answered at the
	// PBX's time at; the zero time when it answered before its
	// subscription (before the recording started, or while the PBX was
	// slow to subscribe), or when it is not known when it did (a
	// reconnect lost the event): the cut then rests on another time told
	// (AMI's, see SnoopClient), or on none.
	Answered(name string, at time.Time)
	// Finished: the recording name ended (its file closed) at the PBX's
	// time at.
	Finished(name string, at time.Time)
}

// snoopEntry is one recording through one snoop channel.
type snoopEntry struct {
	channelID string // the recorded channel
	snoopID   string
	name      string // the recording's name (file name without .wav)
	inStasis  bool   // the snoop channel entered the application
	// stasisStarts counts the StasisStart events read for the snoop
	// channel, so that a record request refused as "not in Stasis" can
	// tell whether one came meanwhile (see notInStasisYet).
	stasisStarts int
	watched      bool      // the recorded channel was seen created: no subscription of its own
	up           bool      // the recorded channel is Up (Times told)
	upTimed      bool      // ... with the answer's time
	checked      bool      // the snoop channel is known to spy on channelID
	chanName     string    // the snoop channel's name, once checked
	checkedAt    time.Time // when checked was set (debug timings)
	recording    bool      // the record request was sent (or found running)
	stopped      bool
	// starting: Record has not returned yet; a resynchronisation meanwhile
	// (a reconnect) is left to run once it has (resyncDue), since the
	// snoop channel may not exist yet and the start's own decisions
	// (watched) were the old connection's.
	starting  bool
	resyncDue bool
	since     time.Time
	spy       string // the snoop's direction ("" for an adopted one)
	respawns  int    // times the snoop channel was created again (respawn)
	// conn is the connection (watchState.connection) on which the snoop
	// channel was asked for: its StasisStart comes on it, unless the
	// application reconnected meanwhile (see resyncEntry).
	conn int
}

// NewSnoopClient returns a SnoopClient for cfg; an empty cfg.Application
// means DefaultSnoopApplication. times receives each recording's start and
// answer times (see SnoopClient); log receives the client's logs.
func NewSnoopClient(cfg Config, times Times, log zerolog.Logger) *SnoopClient {
	if cfg.Application == "" {
		cfg.Application = DefaultSnoopApplication
	}
	return &SnoopClient{
		cfg:     cfg.withDefaults(),
		log:     log.With().Str("component", "ari-snoop").Logger(),
		entries: make(map[string]*snoopEntry),
		times:   times,
		up:      make(chan struct{}),
	}
}

// Connected reports whether the snoop application's WebSocket is up.
func (s *SnoopClient) Connected() bool { return s.State() == StateConnected }

// State returns the connection state.
func (s *SnoopClient) State() ConnState { return ConnState(s.state.Load()) }

func (s *SnoopClient) setState(st ConnState) {
	if st != StateConnected {
		s.forgetWatch()
	}
	if old := ConnState(s.state.Swap(int32(st))); old != st {
		s.log.Debug().Stringer("from", old).Stringer("to", st).Msg("connection state")
	}
	if st != StateConnected {
		s.mu.Lock()
		select {
		case <-s.up:
			s.up = make(chan struct{})
		default:
		}
		s.mu.Unlock()
	}
}

// awaitConnected reports whether the application is connected, waiting
// for it at most RequestTimeout (or until ctx ends) while it is not: a
// WebSocket that dropped comes back within its backoff, and a start that
// failed at once meanwhile would spend its retries in that moment (the
// tracker tries a failed start again straight away) and leave the call
// to be recorded only from its next bridge.
func (s *SnoopClient) awaitConnected(ctx context.Context) bool {
	if s.Connected() {
		return true
	}
	s.mu.Lock()
	up := s.up
	s.mu.Unlock()
	if s.Connected() {
		return true
	}
	t := time.NewTimer(s.cfg.RequestTimeout)
	defer t.Stop()
	select {
	case <-up:
		return s.Connected()
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// ErrSpy: a snoop direction other than in, out or both.
var ErrSpy = errors.New("snoop direction must be in, out or both")

// Snoop is one snoop channel of a recording: its ID, the name of its
// recording (the file's, without .wav), and the direction it spies on
// ("in": what the channel receives from its endpoint, the phone's voice;
// "out": what Asterisk sends it, what the phone hears; "both", mixed).
type Snoop struct {
	ID, Name, Spy string
}

// Record starts recording channelID's audio (channelID is the channel's
// unique ID, name its name or "") through snoops, each a snoop channel
// recorded into the recording spool as <Name>.wav. While the application
// is not connected it waits for it, at most RequestTimeout (see
// awaitConnected), then fails with ErrNotConnected. When name is given,
// the channel is first read to check that the name is still its own; then,
// unless it is known through its endpoint's subscription (WatchEndpoints),
// it is subscribed to and read (for its state) while the snoop channels are
// created, all at once, and Record returns once they all exist (or, when
// one fails, none is left); each recording itself starts when its snoop
// channel is in the application, answered or not, without waiting for the
// subscription (see SnoopClient). A subscription or state read that fails
// fails nothing (it is logged): the recordings may already run, and ending
// them would leave fragments beside the retried recording; the answer's
// time is then the recording engine's, from AMI. IDs
// are chosen by the caller, before the requests, because events can
// precede REST replies.
//
// The subscription and the snoop channels name the channel by name when
// it is given: Asterisk finds a channel by name in its hash table, but by
// unique ID only by locking every channel in turn, which a burst of calls
// (each channel's lock held by its audio) makes last seconds. The name is
// checked against the unique ID: the channel is read by unique ID (from
// ARI's snapshot cache, no such walk) and must bear the name, and each
// snoop channel's own name (Snoop/<spied unique ID>-<n>) must name it; a
// name that is not, or no longer, the channel's falls back to the unique
// ID, so a restarted Asterisk's new channel of the same name is never
// recorded in its place.
func (s *SnoopClient) Record(ctx context.Context, channelID, name string, snoops ...Snoop) error {
	if len(snoops) == 0 {
		return fmt.Errorf("record %s: no snoop channel asked for", channelID)
	}
	for _, sn := range snoops {
		if sn.Spy != "in" && sn.Spy != "out" && sn.Spy != "both" {
			return fmt.Errorf("record %s: %w: %q", channelID, ErrSpy, sn.Spy)
		}
	}
	rest := s.rest.Load()
	if rest == nil || !s.awaitConnected(ctx) {
		return fmt.Errorf("record %s: %w", channelID, ErrNotConnected)
	}
	now := time.Now()
	s.mu.Lock()
	for _, sn := range snoops {
		if _, dup := s.entries[sn.ID]; dup {
			s.mu.Unlock()
			return fmt.Errorf("record %s: snoop %s already exists: %w", channelID, sn.ID, ErrConflict)
		}
	}
	for _, sn := range snoops {
		s.entries[sn.ID] = &snoopEntry{channelID: channelID, snoopID: sn.ID, name: sn.Name, spy: sn.Spy, since: now, starting: true}
	}
	s.mu.Unlock()
	fail := func(err error, subscribed bool) error {
		for _, sn := range snoops {
			s.forget(sn.ID)
		}
		if subscribed {
			s.unsubscribe(channelID)
		}
		return fmt.Errorf("record %s: %w", channelID, err)
	}
	// The channel is named by name when the name is still its own (see
	// above); the subscription and the snoop channels then go out
	// together, since under a burst each request waits on a loaded PBX and
	// the recording waits for all of them.
	target, err := s.nameFor(ctx, rest, channelID, name)
	if err != nil {
		return fail(err, false)
	}
	// A channel seen created, or created since its endpoint's subscription
	// took effect, is known through that subscription (snoop_watch.go): no
	// subscription or state read of its own; when it answered already,
	// its answer's time is the event's (an answer event read since the
	// entries were made has told them already: told once).
	watched, bornUp, bornAt := s.markWatched(channelID, target, snoops)
	if bornUp {
		s.markUp(channelID, bornAt)
	}
	var (
		wg         sync.WaitGroup
		up         bool
		subscribed bool
		subErr     error
	)
	if watched {
		up = bornUp
	} else {
		wg.Go(func() { up, subscribed, subErr = s.watch(ctx, rest, channelID, target) })
	}
	errs := make([]error, len(snoops))
	for i, sn := range snoops {
		wg.Go(func() { errs[i] = s.createSnoop(ctx, rest, target, channelID, sn, 0) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, sn := range snoops {
			// Created, or perhaps created by a request that timed out.
			s.mu.Lock()
			target := s.entries[sn.ID].target(sn.ID)
			s.mu.Unlock()
			s.hangupSnoop(sn.ID, target)
		}
		return fail(err, subscribed)
	}
	if subErr != nil {
		// The recordings run or are about to: failing the start now would
		// end them, leaving fragments beside the retried recording. Only
		// ARI's answer time is lost; the recording engine's, from AMI,
		// remains (see SnoopClient).
		s.log.Warn().Err(subErr).Str("channel", channelID).Str("recording", snoops[0].Name).
			Msg("subscribe to the recorded channel failed: its answer time will be AMI's")
	}
	s.started(snoops)
	s.log.Debug().Str("channel", channelID).Int("snoops", len(snoops)).Str("recording", snoops[0].Name).Bool("up", up).Bool("watched", watched).Msg("snoop channels created")
	return nil
}

// started marks the entries of snoops as no longer starting, and
// resynchronises those a reconnect reached while they were (resyncDue).
func (s *SnoopClient) started(snoops []Snoop) {
	var due []string
	s.mu.Lock()
	for _, sn := range snoops {
		if e := s.entries[sn.ID]; e != nil {
			e.starting = false
			if e.resyncDue {
				e.resyncDue = false
				due = append(due, sn.ID)
			}
		}
	}
	s.mu.Unlock()
	for _, id := range due {
		s.spawn(func(ctx context.Context, rest *restClient) { s.resyncEntry(ctx, rest, id) })
	}
}

// nameFor returns how requests should name the channel whose unique ID is
// channelID: by name when one is given and the channel (read by unique ID,
// from ARI's snapshot cache) still bears it, else by its unique ID.
func (s *SnoopClient) nameFor(ctx context.Context, rest *restClient, channelID, name string) (string, error) {
	if name == "" {
		return channelID, nil
	}
	ch, err := rest.channelPrompt(ctx, channelID)
	if err != nil {
		return "", fmt.Errorf("check channel name: %w", err)
	}
	if ch.Name != name {
		s.log.Debug().Str("channel", channelID).Str("name", name).Str("now", ch.Name).Msg("channel renamed; naming it by unique ID")
		return channelID, nil
	}
	return name, nil
}

// watch subscribes the application to the channel (named by target, its
// name or channelID, its unique ID), then reads its state, so that its
// answer is seen either way: an answer after the subscription comes as an
// event, with its time; a channel Up when read and never told so by an
// event answered before (when is not known). It reports whether the
// channel is Up and whether a subscription was made.
func (s *SnoopClient) watch(ctx context.Context, rest *restClient, channelID, target string) (up, subscribed bool, err error) {
	name := ""
	if target != channelID {
		name = target
	}
	via, err := s.subscribeTo(ctx, rest, channelID, name)
	if err != nil {
		return false, false, err
	}
	ch, err := rest.channelPrompt(ctx, channelID)
	if err != nil {
		return false, true, fmt.Errorf("read channel state: %w", err)
	}
	if via != channelID && ch.Name != name {
		// The name is another channel's now (ours was renamed): the
		// subscription that matters is by unique ID, and the one by name
		// reached that other channel.
		s.log.Debug().Str("channel", channelID).Str("name", name).Str("now", ch.Name).Msg("channel renamed; subscribing by unique ID")
		if err := rest.subscribe(ctx, s.cfg.Application, channelID); err != nil {
			return false, true, err
		}
		if err := rest.unsubscribe(ctx, s.cfg.Application, name); err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrUnprocessable) {
			s.log.Debug().Err(err).Str("name", name).Msg("unsubscribe from the channel now bearing the name")
		}
	}
	up = ch.State == "Up"
	if up {
		s.markUp(channelID, time.Time{})
	}
	return up, true, nil
}

// subscribeTo subscribes the application to the channel whose unique ID is
// channelID: by name when one is given and Asterisk knows it, else by
// unique ID. It returns how it named the channel.
func (s *SnoopClient) subscribeTo(ctx context.Context, rest *restClient, channelID, name string) (string, error) {
	if name != "" {
		err := rest.subscribe(ctx, s.cfg.Application, name)
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrUnprocessable) {
			return "", err
		}
		// No such name ("Event source does not exist"): renamed, or gone.
	}
	return channelID, rest.subscribe(ctx, s.cfg.Application, channelID)
}

// createSnoop creates sn's snoop channel on the channel that target names
// (its name or channelID, its unique ID; a name Asterisk no longer knows,
// the channel renamed since it was read, falls back to the unique ID), and
// checks by the snoop channel's own name that it spies on channelID; only
// then may it record. incarnation is the entry's respawns when it was
// asked for: a reply about a snoop channel the entry has replaced since
// (respawn) is not applied.
func (s *SnoopClient) createSnoop(ctx context.Context, rest *restClient, target, channelID string, sn Snoop, incarnation int) error {
	conn := s.connection()
	asked := time.Now()
	ch, err := s.requestSnoop(ctx, rest, target, channelID, sn)
	if isTransport(err) {
		ch, conn, err = s.snoopAfterCut(ctx, rest, target, channelID, sn, err, conn)
	}
	if err != nil {
		return err
	}
	if !spiesOn(ch.Name, channelID) {
		return fmt.Errorf("snoop channel %s: %w: it is %q, not a snoop on %s", sn.ID, ErrWrongChannel, ch.Name, channelID)
	}
	s.mu.Lock()
	e := s.entries[sn.ID]
	wanted := e != nil && !e.stopped
	if wanted && e.respawns == incarnation {
		e.checked, e.chanName, e.conn, e.checkedAt = true, ch.Name, conn, time.Now()
	}
	s.mu.Unlock()
	s.log.Debug().Str("snoop", sn.ID).Dur("request", time.Since(asked)).Msg("snoop channel created")
	if !wanted {
		// Stopped or released while it was being created: nothing else
		// would hang it up before its call ends.
		s.hangupSnoop(sn.ID, ch.Name)
		return nil
	}
	s.maybeRecord(sn.ID)
	return nil
}

// requestSnoop asks Asterisk for the snoop channel sn on the channel
// named target (its name or channelID, its unique ID), by its unique ID
// when the name is not found.
func (s *SnoopClient) requestSnoop(ctx context.Context, rest *restClient, target, channelID string, sn Snoop) (*ari.ChannelData, error) {
	ch, err := rest.snoop(ctx, target, sn.ID, sn.Spy, s.cfg.Application)
	if target != channelID && errors.Is(err, ErrNotFound) {
		ch, err = rest.snoop(ctx, channelID, sn.ID, sn.Spy, s.cfg.Application)
	}
	return ch, err
}

// snoopAfterCut settles a snoop request cut on the way (cut is its error;
// a network blip): Asterisk may or may not have carried it out. Once the
// application is connected again, the snoop channel is read by its ID:
// found, it is the request's; not found, the request is sent again with
// the same ID. Asterisk refuses an ID in use, so a second request that
// lost a race with the first (still being carried out when read) cannot
// make a second snoop channel; when Asterisk refuses it, the channel is
// read once more, and asked for a last time when that read does not find
// it either (the first request's channel, made while the application was
// unregistered, was destroyed). Before this, such a start failed and the
// tracker tried it again with new snoop channels, later. It gives up
// (returning cut) when the application does not come back within
// RequestTimeout, when the recording is no longer wanted, or when the
// read fails otherwise.
// conn is the connection the cut request was sent on; it returns the one
// the snoop channel was asked for on (a second request's, when sent). The
// reads go on the prompt lane: after a cut under a burst, the main lane
// is busy with the resynchronisation and with snoop channels Asterisk is
// slow to create.
func (s *SnoopClient) snoopAfterCut(ctx context.Context, rest *restClient, target, channelID string, sn Snoop, cut error, conn int) (*ari.ChannelData, int, error) {
	var ch *ari.ChannelData
	read, err := s.readAfterCut(ctx, sn.ID, func() (err error) {
		ch, err = rest.channelPrompt(ctx, sn.ID)
		return err
	})
	switch {
	case !read:
		return nil, conn, cut
	case err == nil:
		s.log.Info().Err(cut).Str("snoop", sn.ID).Msg("snoop request cut on the way; its snoop channel exists")
		return ch, conn, nil
	case !errors.Is(err, ErrNotFound):
		s.log.Warn().Err(err).Str("snoop", sn.ID).Msg("read snoop channel after its request was cut")
		return nil, conn, cut
	}
	for i := range 2 {
		conn = s.connection()
		if !s.wanted(sn.ID) {
			return nil, conn, cut
		}
		if i == 0 {
			s.log.Info().Err(cut).Str("snoop", sn.ID).Msg("snoop request cut on the way before Asterisk carried it out; asking again")
		} else {
			s.log.Info().Err(err).Str("snoop", sn.ID).Msg("snoop request refused and its channel gone (made while the application was unregistered); asking a last time")
		}
		ch, err = s.requestSnoop(ctx, rest, target, channelID, sn)
		if err == nil || isTransport(err) || errors.Is(err, ErrNotFound) {
			return ch, conn, err
		}
		// Refused: the first request was still being carried out (the ID
		// is in use), and its snoop channel exists; or it existed, could
		// not enter the application (the cut unregistered it) and is gone,
		// and the ID is free again for one more request.
		found, ferr := rest.channelPrompt(ctx, sn.ID)
		if ferr == nil {
			return found, conn, nil
		}
		if !errors.Is(ferr, ErrNotFound) {
			s.log.Warn().Err(ferr).Str("snoop", sn.ID).Msg("read snoop channel after a refused request")
			return nil, conn, err
		}
	}
	return nil, conn, err
}

// connection returns the current connection's number
// (watchState.connection).
func (s *SnoopClient) connection() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subs.connection
}

// spiesOn reports whether a snoop channel's name (Snoop/<spied unique
// ID>-<n>) says it spies on the channel whose unique ID is channelID.
func spiesOn(snoopName, channelID string) bool {
	return strings.HasPrefix(snoopName, "Snoop/"+channelID+"-")
}

// Stop ends a recording while its channel lives on: the live recording is
// stopped (its file kept) and the snoop channel hung up. A recording that
// had not started yet leaves no file.
func (s *SnoopClient) Stop(ctx context.Context, snoopID, name string) error {
	rest := s.rest.Load()
	if rest == nil {
		return fmt.Errorf("stop recording %s: %w", name, ErrNotConnected)
	}
	s.mu.Lock()
	e := s.entries[snoopID]
	unsubscribe := e != nil && !e.watched
	if e != nil {
		e.stopped = true
	}
	target := e.target(snoopID)
	s.mu.Unlock()
	var errs []error
	if err := rest.stopRecording(ctx, name); err != nil && !errors.Is(err, ErrNotFound) {
		errs = append(errs, err)
	}
	hangupErr := rest.hangup(ctx, target)
	if hangupErr != nil && !errors.Is(hangupErr, ErrNotFound) {
		errs = append(errs, hangupErr)
	}
	if unsubscribe {
		s.unsubscribe(e.channelID)
	}
	s.forget(snoopID)
	err := errors.Join(errs...)
	if err == nil {
		return nil
	}
	// A hangup lost on the way leaves the snoop channel up: recording
	// what its channel hears until the call ends, unless the stop
	// landed, or until a record request still in flight starts it.
	if isTransport(hangupErr) && s.hangupLater(snoopID, target, name) {
		return fmt.Errorf("stop recording %s: %w (its snoop channel is hung up again in the background)", name, err)
	}
	return fmt.Errorf("stop recording %s: %w", name, err)
}

// stopRetryFor bounds how long hangupLater tries.
const stopRetryFor = time.Minute

// hangupLater hangs up, in the background, the snoop channel target of
// the stopped recording name, whose stop and hangup failed on the way
// (the PBX out of reach): left up, it would record what its channel
// hears until the call ends, whatever the policy now says. It tries
// again as soon as the application is connected (the sign that the PBX
// can be reached), then with backoff capped at a second, until the
// hangup lands or finds no such channel (its call ended), at most
// stopRetryFor, after which the recording runs on: a violation, logged,
// as when the daemon stops first. It reports whether it could start
// (not when the client is stopping).
func (s *SnoopClient) hangupLater(snoopID, target, name string) bool {
	return s.spawn(func(ctx context.Context, rest *restClient) {
		log := s.log.With().Str("snoop", snoopID).Str("recording", name).Logger()
		bo := backoff.New(100*time.Millisecond, time.Second)
		deadline := time.Now().Add(stopRetryFor)
		for {
			select {
			case <-ctx.Done():
				log.Error().Msg("policy violation: the recording must stop but the daemon stopped before its snoop channel could be hung up; it records until the call ends")
				return
			case <-time.After(bo.Next()):
			}
			s.awaitConnected(ctx)
			err := rest.hangup(ctx, target)
			switch {
			case err == nil || errors.Is(err, ErrNotFound):
				log.Warn().Msg("snoop channel of a stopped recording hung up once the PBX could be reached again; the recording holds what its channel heard until then")
				return
			case time.Now().After(deadline):
				log.Error().Err(err).Dur("tried_for", stopRetryFor).
					Msg("policy violation: the recording must stop but its snoop channel could not be hung up; it records until the call ends")
				return
			}
		}
	})
}

// Release is told that the recorded channel hung up (or that the recording
// was stopped): the snoop channel, if still there, is hung up in the
// background so that Asterisk closes the file now. It never blocks.
func (s *SnoopClient) Release(snoopID string) {
	s.mu.Lock()
	e := s.entries[snoopID]
	if e != nil {
		e.stopped = true
	}
	target := e.target(snoopID)
	s.mu.Unlock()
	if e == nil {
		return
	}
	s.hangupSnoop(snoopID, target)
	s.forget(snoopID)
}

// Adopt takes over a recording that a previous connection or process
// started (found through the channel's marker): the client subscribes to
// the recorded channel again (for its answer's time; Up already: "answered
// before", nothing cut), and starts the recording if its snoop channel
// exists and it does not run. It never blocks.
func (s *SnoopClient) Adopt(channelID, snoopID, name string) {
	s.mu.Lock()
	e := s.entries[snoopID]
	if e == nil {
		e = &snoopEntry{channelID: channelID, snoopID: snoopID, name: name, checked: true, since: time.Now()}
		s.entries[snoopID] = e
	}
	s.mu.Unlock()
	s.spawn(func(ctx context.Context, rest *restClient) { s.resyncEntry(ctx, rest, snoopID) })
}

// forget drops an entry.
func (s *SnoopClient) forget(snoopID string) {
	s.mu.Lock()
	delete(s.entries, snoopID)
	s.mu.Unlock()
}

// spawn runs fn in a goroutine owned by the client, unless Run is stopping
// or has not started; it reports whether it did.
func (s *SnoopClient) spawn(fn func(ctx context.Context, rest *restClient)) bool {
	rest := s.rest.Load()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || rest == nil || s.opsCtx == nil {
		return false
	}
	ctx := s.opsCtx
	s.wg.Go(func() { fn(ctx, rest) })
	return true
}

// markWatched marks the entries of snoops as known through their
// channel's endpoint subscription when the channel is (watchedLocked), and
// returns what that says.
func (s *SnoopClient) markWatched(channelID, target string, snoops []Snoop) (watched, up bool, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	watched, up, at = s.watchedLocked(channelID, target)
	for _, sn := range snoops {
		if e := s.entries[sn.ID]; e != nil {
			e.watched = watched
		}
	}
	return watched, up, at
}

// target names the snoop channel snoopID for a request: by its name once
// known (Snoop/<spied unique ID>-<n>, which no channel of another run of
// Asterisk bears, and which Asterisk finds without walking every channel),
// else by its ID. e may be nil (no entry). The caller holds s.mu.
func (e *snoopEntry) target(snoopID string) string {
	if e != nil && e.chanName != "" {
		return e.chanName
	}
	return snoopID
}

// hangupSnoop hangs the snoop channel snoopID up in the background,
// naming it by target (see snoopEntry.target).
func (s *SnoopClient) hangupSnoop(snoopID, target string) {
	s.spawn(func(ctx context.Context, rest *restClient) {
		if err := rest.hangup(ctx, target); err != nil && !errors.Is(err, ErrNotFound) {
			s.log.Warn().Err(err).Str("snoop", snoopID).Msg("hang up snoop channel")
		}
	})
}

// unsubscribe removes the application's subscription to a recorded
// channel in the background, unless another entry still needs it.
func (s *SnoopClient) unsubscribe(channelID string) {
	s.spawn(func(ctx context.Context, rest *restClient) {
		s.mu.Lock()
		for _, e := range s.entries {
			if e.channelID == channelID && !e.stopped {
				s.mu.Unlock()
				return
			}
		}
		s.mu.Unlock()
		if err := rest.unsubscribe(ctx, s.cfg.Application, channelID); err != nil && !errors.Is(err, ErrNotFound) {
			s.log.Debug().Err(err).Str("channel", channelID).Msg("unsubscribe from recorded channel")
		}
	})
}
