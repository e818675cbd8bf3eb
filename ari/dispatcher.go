package ari

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/CyCoreSystems/ari/v6"
	"github.com/rs/zerolog"
)

// resyncGrace is how long a channel found in the application without a
// session, or a playback found gone after a reconnect, is given for its
// event to arrive before the channel is continued.
const resyncGrace = 2 * time.Second

// Messages handled by the dispatcher, in queue order.
type (
	// msgEvent is an ARI event from the WebSocket.
	msgEvent struct{ ev ari.Event }
	// msgInput is an input for the session seq of channelID.
	msgInput struct {
		channelID string
		seq       uint64
		in        input
	}
	// msgInfo carries the channel details read after StasisStart.
	msgInfo struct {
		channelID, linkedID, exten string
		seq                        uint64
	}
	// msgConnected: the WebSocket is up (again); resynchronise.
	msgConnected struct{}
	// msgListing is the application's channels, requested when sessions up
	// to maxSeq existed.
	msgListing struct {
		ids    []string
		maxSeq uint64
	}
	// msgPlaybackGone: after a reconnect, the session's playback was gone.
	msgPlaybackGone struct {
		channelID, playbackID string
		seq                   uint64
	}
	// msgOrphanCheck: the grace period of a channel without session ended.
	msgOrphanCheck struct{ channelID string }
	// msgResult is a result to send (an orphan continued).
	msgResult struct{ result GreetingResult }
	// msgReplaced: another connection took the application.
	msgReplaced struct{}
	// msgShutdown: abandon the sessions and stop once they are gone.
	msgShutdown struct{}
	// msgDone wraps the message a finished goroutine hands back.
	msgDone struct{ inner any }
	// msgTimer wraps the message of a fired timer.
	msgTimer struct {
		ref   *timerRef
		inner any
	}
)

// timerRef identifies a timer the dispatcher may have to stop.
type timerRef struct{ t *time.Timer }

// dispatcher owns the greeting sessions. Its loop is the only goroutine
// touching them; it never blocks: REST requests run in goroutines and timers
// fire into the queue, both handing their outcome back as messages.
type dispatcher struct {
	log   zerolog.Logger
	app   string
	greet GreetingConfig
	sound func() string // the greeting's sound now; nil plays greet.Sound
	rest  *restClient
	q     *queue[any]
	emit  func(GreetingResult)
	grace time.Duration
	newID func() string

	seq atomic.Uint64 // last session number; read by the health check

	ctx       context.Context // REST requests; cancelled at the end of shutdown
	wg        sync.WaitGroup  // REST goroutines
	inflight  int
	stopping  bool
	sessions  map[string]*session // by channel ID
	playbacks map[string]string   // playback ID → channel ID
	timeouts  map[uint64]*timerRef
	timers    map[*timerRef]struct{}
	orphans   map[string]struct{} // channels with an orphan check scheduled
}

func newDispatcher(ctx context.Context, log zerolog.Logger, app string, greet GreetingConfig, rest *restClient, emit func(GreetingResult)) *dispatcher {
	return &dispatcher{
		log:       log,
		app:       app,
		greet:     greet,
		rest:      rest,
		q:         newQueue[any](),
		emit:      emit,
		grace:     resyncGrace,
		newID:     newPlaybackID,
		ctx:       ctx,
		sessions:  map[string]*session{},
		playbacks: map[string]string{},
		timeouts:  map[uint64]*timerRef{},
		timers:    map[*timerRef]struct{}{},
		orphans:   map[string]struct{}{},
	}
}

// newPlaybackID returns a unique playback ID.
func newPlaybackID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return "recpolicy-greeting-" + hex.EncodeToString(b[:])
}

// post hands a message to the loop; it never blocks.
func (d *dispatcher) post(m any) { d.q.push(m) }

// run processes messages until ctx ends, or until shutdown has finished
// every session and request.
func (d *dispatcher) run(ctx context.Context) {
	defer d.q.close()
	defer d.stopTimers()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.q.signal():
		}
		for _, m := range d.q.drain() {
			d.process(m)
		}
		if d.stopping && len(d.sessions) == 0 && d.inflight == 0 {
			return
		}
	}
}

// wait waits for the REST goroutines.
func (d *dispatcher) wait() { d.wg.Wait() }

func (d *dispatcher) process(m any) {
	switch m := m.(type) {
	case msgDone:
		d.inflight--
		if m.inner != nil {
			d.process(m.inner)
		}
	case msgTimer:
		delete(d.timers, m.ref)
		d.process(m.inner)
	case msgEvent:
		d.onEvent(m.ev)
	case msgInput:
		if s := d.sessions[m.channelID]; s != nil && s.seq == m.seq {
			d.apply(s, m.in)
		}
	case msgInfo:
		if s := d.sessions[m.channelID]; s != nil && s.seq == m.seq {
			s.info.linkedID = m.linkedID
			if m.exten != "" {
				s.info.exten = m.exten
			}
		}
	case msgConnected:
		d.onConnected()
	case msgListing:
		d.onListing(m)
	case msgPlaybackGone:
		d.after(d.grace, msgInput{channelID: m.channelID, seq: m.seq, in: input{kind: inPlaybackLost, playbackID: m.playbackID}})
	case msgOrphanCheck:
		d.onOrphanCheck(m.channelID)
	case msgResult:
		d.emit(m.result)
	case msgReplaced:
		d.abandonAll(ErrAppReplaced)
	case msgShutdown:
		d.stopping = true
		d.abandonAll(ErrShutdown)
	}
}

func (d *dispatcher) onEvent(ev ari.Event) {
	if ev.GetApplication() != d.app {
		return
	}
	switch e := ev.(type) {
	case *ari.StasisStart:
		d.onStasisStart(e)
	case *ari.StasisEnd:
		d.inputFor(e.Channel.ID, input{kind: inLeft})
	case *ari.ChannelDestroyed:
		d.inputFor(e.Channel.ID, input{kind: inLeft})
	case *ari.ChannelHangupRequest:
		d.inputFor(e.Channel.ID, input{kind: inHangupRequested})
	case *ari.PlaybackFinished:
		if id, ok := d.playbacks[e.Playback.ID]; ok {
			d.inputFor(id, input{kind: inPlaybackFinished, playbackID: e.Playback.ID, state: e.Playback.State})
		}
	case *ari.ApplicationReplaced:
		d.log.Error().Str("application", d.app).Msg("another connection registered the application; abandoning greetings in progress")
		d.abandonAll(ErrAppReplaced)
	}
}

func (d *dispatcher) inputFor(channelID string, in input) {
	if s := d.sessions[channelID]; s != nil {
		d.apply(s, in)
	}
}

func (d *dispatcher) onStasisStart(e *ari.StasisStart) {
	ch := e.Channel
	if ch.ID == "" {
		return
	}
	if old := d.sessions[ch.ID]; old != nil {
		// Back in Stasis: the previous visit ended unseen.
		d.apply(old, input{kind: inLeft})
	}
	info := channelInfo{id: ch.ID, name: ch.Name}
	if ch.Caller != nil {
		info.callerNum = ch.Caller.Number
	}
	if ch.Dialplan != nil {
		info.exten = ch.Dialplan.Exten
	}
	seq := d.seq.Add(1)
	s, acts := newSession(seq, info, e.Args, strings.EqualFold(ch.State, "Up"), d.newID(), time.Now())
	d.sessions[ch.ID] = s
	d.timeouts[seq] = d.after(d.greet.Timeout, msgInput{channelID: ch.ID, seq: seq, in: input{kind: inTimeout}})
	d.log.Debug().Str("channel_id", ch.ID).Str("channel", ch.Name).Strs("args", e.Args).Str("state", ch.State).Msg("channel entered the application")
	if s.greeting() {
		d.playbacks[s.playbackID] = ch.ID
		if d.stopping {
			acts = s.fallback(ErrShutdown, false)
		} else {
			d.fetchInfo(s)
		}
	}
	d.exec(s, acts)
}

// fetchInfo reads the linked ID and the dialled number (the extension of
// the frame that called the recpolicy-greet Gosub) for the result.
func (d *dispatcher) fetchInfo(s *session) {
	id, seq := s.info.id, s.seq
	d.spawn(func(ctx context.Context) any {
		linked, err := d.rest.getVar(ctx, id, "CHANNEL(linkedid)")
		if err != nil {
			d.log.Debug().Err(err).Str("channel_id", id).Msg("read linked id")
		}
		exten, err := d.rest.getVar(ctx, id, "STACK_PEEK(1,e,1)")
		if err != nil {
			d.log.Debug().Err(err).Str("channel_id", id).Msg("read dialled number")
		}
		return msgInfo{channelID: id, seq: seq, linkedID: linked, exten: exten}
	})
}

// apply feeds in to s and runs the resulting actions.
func (d *dispatcher) apply(s *session, in input) {
	before := s.phase
	acts := s.handle(in, time.Now())
	if s.phase != before {
		d.log.Debug().Str("channel_id", s.info.id).Stringer("from", before).Stringer("to", s.phase).Msg("greeting phase")
	}
	d.exec(s, acts)
}

// exec runs a session's actions.
func (d *dispatcher) exec(s *session, acts []action) {
	id, seq := s.info.id, s.seq
	for _, a := range acts {
		switch a.kind {
		case actAnswer:
			d.spawnInput(s, func(ctx context.Context) input {
				return input{kind: inAnswered, err: d.rest.answer(ctx, id)}
			})
		case actPlay:
			pb := a.playbackID
			sound := d.greet.Sound
			if d.sound != nil {
				sound = d.sound()
			}
			d.spawnInput(s, func(ctx context.Context) input {
				return input{kind: inPlayReplied, playbackID: pb, err: d.rest.play(ctx, id, pb, sound)}
			})
		case actSetVar:
			d.spawnInput(s, func(ctx context.Context) input {
				return input{kind: inVarSet, err: d.rest.setVar(ctx, id, greetedVar, greetedValue)}
			})
		case actContinue:
			pb := a.playbackID
			d.spawnInput(s, func(ctx context.Context) input {
				if pb != "" {
					// A continue waits for the playback to end: stop it first.
					if err := d.rest.stopPlayback(ctx, pb); err != nil && !errors.Is(err, ErrNotFound) {
						d.log.Warn().Err(err).Str("channel_id", id).Msg("stop greeting before continuing")
					}
				}
				return input{kind: inContinued, err: d.rest.continueInDialplan(ctx, id)}
			})
		case actRetryContinue:
			d.log.Warn().Err(s.pendingErr).Str("channel_id", id).Dur("retry_in", a.delay).Msg("continue in dialplan failed; retrying")
			d.after(a.delay, msgInput{channelID: id, seq: seq, in: input{kind: inRetryContinue}})
		case actHangup:
			d.log.Error().Str("channel_id", id).Msg("channel could not be continued in the dialplan; hanging it up")
			d.spawn(func(ctx context.Context) any {
				if err := d.rest.hangup(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
					d.log.Error().Err(err).Str("channel_id", id).Msg("hang up stuck channel")
				}
				return nil
			})
		case actEmit:
			d.emit(a.result)
		case actForget:
			d.forget(s)
		}
	}
}

// forget drops s and its timeout.
func (d *dispatcher) forget(s *session) {
	if d.sessions[s.info.id] == s {
		delete(d.sessions, s.info.id)
	}
	if d.playbacks[s.playbackID] == s.info.id {
		delete(d.playbacks, s.playbackID)
	}
	if ref := d.timeouts[s.seq]; ref != nil {
		ref.t.Stop()
		delete(d.timers, ref)
		delete(d.timeouts, s.seq)
	}
}

// spawnInput runs f in a goroutine and feeds its input back to s.
func (d *dispatcher) spawnInput(s *session, f func(ctx context.Context) input) {
	id, seq := s.info.id, s.seq
	d.spawn(func(ctx context.Context) any {
		return msgInput{channelID: id, seq: seq, in: f(ctx)}
	})
}

// spawn runs f in a goroutine and processes the message it returns (if any).
func (d *dispatcher) spawn(f func(ctx context.Context) any) {
	d.inflight++
	d.wg.Go(func() {
		d.post(msgDone{inner: f(d.ctx)})
	})
}

// after posts m after delay.
func (d *dispatcher) after(delay time.Duration, m any) *timerRef {
	ref := &timerRef{}
	ref.t = time.AfterFunc(delay, func() { d.post(msgTimer{ref: ref, inner: m}) })
	d.timers[ref] = struct{}{}
	return ref
}

func (d *dispatcher) stopTimers() {
	for ref := range d.timers {
		ref.t.Stop()
	}
	clear(d.timers)
}

func (d *dispatcher) abandonAll(err error) {
	for _, s := range d.sessions {
		d.apply(s, input{kind: inAbandon, err: err})
	}
}

// onConnected lists the application's channels, and checks the playbacks
// whose PlaybackFinished may have been lost while disconnected.
func (d *dispatcher) onConnected() {
	if d.stopping {
		return
	}
	maxSeq := d.seq.Load()
	d.spawn(func(ctx context.Context) any {
		app, err := d.rest.application(ctx, d.app)
		if err != nil {
			d.log.Warn().Err(err).Msg("resynchronise after connect")
			return nil
		}
		return msgListing{ids: app.ChannelIDs, maxSeq: maxSeq}
	})
	for _, s := range d.sessions {
		if s.phase != phasePlaying || !s.playAcked {
			continue
		}
		id, seq, pb := s.info.id, s.seq, s.playbackID
		d.spawn(func(ctx context.Context) any {
			_, err := d.rest.playback(ctx, pb)
			if errors.Is(err, ErrNotFound) {
				return msgPlaybackGone{channelID: id, seq: seq, playbackID: pb}
			}
			if err != nil {
				d.log.Warn().Err(err).Str("channel_id", id).Msg("check greeting playback after connect")
			}
			return nil
		})
	}
}

// onListing reconciles the sessions with the channels Asterisk has in the
// application: sessions whose channel left unseen end; channels without a
// session get an orphan check after the grace period.
func (d *dispatcher) onListing(m msgListing) {
	if d.stopping {
		return
	}
	listed := make(map[string]bool, len(m.ids))
	for _, id := range m.ids {
		listed[id] = true
	}
	for id, s := range d.sessions {
		if s.seq <= m.maxSeq && !listed[id] {
			d.log.Debug().Str("channel_id", id).Msg("channel left the application unseen")
			d.apply(s, input{kind: inLeft})
		}
	}
	for _, id := range m.ids {
		if _, ok := d.sessions[id]; ok {
			continue
		}
		if _, ok := d.orphans[id]; ok {
			continue
		}
		d.orphans[id] = struct{}{}
		d.after(d.grace, msgOrphanCheck{channelID: id})
	}
}

// onOrphanCheck continues a channel still in the application without a
// session, so that it is not stuck; the dialplan greets the caller unless
// RECPOLICY_GREETED is already set.
func (d *dispatcher) onOrphanCheck(id string) {
	delete(d.orphans, id)
	if _, ok := d.sessions[id]; ok {
		return
	}
	d.spawn(func(ctx context.Context) any {
		ch, err := d.rest.channel(ctx, id)
		if err != nil {
			if !errors.Is(err, ErrNotFound) {
				d.log.Warn().Err(err).Str("channel_id", id).Msg("check channel left in the application")
			}
			return nil
		}
		if !inStasisOf(ch, d.app) {
			return nil
		}
		greeted, err := d.rest.getVar(ctx, id, greetedVarName)
		if err != nil && !errors.Is(err, ErrNotFound) {
			d.log.Debug().Err(err).Str("channel_id", id).Msg("read greeted variable of orphan channel")
		}
		linked, _ := d.rest.getVar(ctx, id, "CHANNEL(linkedid)")
		exten, _ := d.rest.getVar(ctx, id, "STACK_PEEK(1,e,1)")
		if err := d.rest.continueInDialplan(ctx, id); err != nil {
			if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict) {
				d.log.Warn().Err(err).Str("channel_id", id).Msg("continue channel left in the application")
			}
			return nil
		}
		d.log.Warn().Str("channel_id", id).Str("channel", ch.Name).Str("greeted", greeted).Msg("continued a channel left in the application without a greeting in progress")
		res := GreetingResult{
			ChannelID:   id,
			LinkedID:    linked,
			ChannelName: ch.Name,
			Exten:       exten,
			Outcome:     GreetingFailed,
			Err:         ErrOrphaned,
			Started:     time.Now(),
			Ended:       time.Now(),
		}
		if ch.Creationtime != nil {
			res.Started = time.Unix(ch.Creationtime.Seconds, int64(ch.Creationtime.Nanos))
		}
		if ch.Caller != nil {
			res.CallerNum = ch.Caller.Number
		}
		if greeted == greetedValue {
			res.Outcome, res.Err = GreetingPlayed, nil
		}
		return msgResult{result: res}
	})
}

// inStasisOf reports whether ch is running Stasis(app,...).
func inStasisOf(ch *ari.ChannelData, app string) bool {
	if ch.Dialplan == nil || !strings.EqualFold(ch.Dialplan.AppName, "Stasis") {
		return false
	}
	name, _, _ := strings.Cut(ch.Dialplan.AppData, ",")
	return strings.TrimSpace(name) == app
}
