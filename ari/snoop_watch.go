package ari

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Endpoint subscriptions: the snoop application subscribes to the
// endpoints whose channels it records (the Annexe A phones, given by
// WatchEndpoints) once per connection, instead of to each recorded channel
// when its recording starts. Through an endpoint's subscription Asterisk
// sends every event of the endpoint's channels from their creation on
// (ChannelCreated, ChannelStateChange, ChannelDestroyed), so the client
// knows the state of each channel it saw created, and when it answered,
// without a request: a start on such a channel sends neither the
// subscription nor the state read. A burst's per-call subscriptions were
// as slow in Asterisk as its snoop channels (stop 38: both held 0.27 s,
// the median of those over 0.1 s, up to 4.5 s) and loaded the PBX when it
// was shortest of time; and an answer before a per-call subscription took
// effect had no ARI time. A channel the client did not see created (another
// endpoint's, a technology other than the one watched, one created before
// the endpoint's subscription took effect or on an earlier connection) is
// subscribed to at its start, as before.
//
// Asterisk keeps an application's subscriptions while its WebSocket is
// down, and counts each subscription request: the client subscribes only
// to the endpoints the application does not have yet (its endpoint_ids),
// removes those it no longer wants at each connect, and all of them when
// it stops.

// maxBorn caps the channels remembered from their creation; past it the
// memory is dropped (starts fall back to per-call subscriptions) rather
// than grow without bound on a PBX whose channels' ends were not told.
const maxBorn = 20000

// unwatchTimeout caps the removal of the endpoint subscriptions when the
// client stops (the daemon's shutdown has other stages to serve).
const unwatchTimeout = 2 * time.Second

// endpointWorkers is how many endpoint (un)subscriptions go out at once.
const endpointWorkers = 4

// endpointRetry is how long a subscription (or a read of the
// application, or the channel list) that failed for a reason other than
// an unknown endpoint waits before it is sent again.
const endpointRetry = 5 * time.Second

// bornChannel is what the client knows of a channel it saw created.
type bornChannel struct {
	up bool
	at time.Time // the PBX's time of its answer (of its creation when created Up)
}

// watchState is the snoop client's endpoint subscriptions; all of it is
// guarded by SnoopClient.mu. The current connection's part (ctx to held)
// is reset at each change of the connection's state.
type watchState struct {
	endpoints []string        // to subscribe to (WatchEndpoints); kept across connections
	wanted    map[string]bool // the same, as a set
	retry     time.Duration   // endpointRetry (tests shorten it)
	// The current connection's; nil while not connected.
	ctx       context.Context // ends with the connection
	cancel    context.CancelFunc
	watching  map[string]bool // subscribed, or being, on this connection
	confirmed map[string]bool // subscribed before preceded was listed
	preceded  map[string]bool // channels that existed then, by unique ID (nil: not listed)
	born      map[string]*bornChannel
	unknown   map[string]bool // refused as unknown: tried again at the next WatchEndpoints
	held      map[string]bool // the application's subscriptions, as Asterisk listed them (nil: not read)
	// connection counts connects, so that what a sync learnt is dropped
	// when its connection ended meanwhile.
	connection int
	syncing    bool // a sync goroutine runs
}

// WatchEndpoints sets the endpoints (event sources such as "PJSIP/235")
// the application subscribes to, now when connected and after every
// connect. An endpoint dropped from the list stays subscribed until the
// next connect. It never blocks.
func (s *SnoopClient) WatchEndpoints(endpoints []string) {
	s.mu.Lock()
	w := &s.subs
	w.endpoints = slices.Clone(endpoints)
	w.wanted = make(map[string]bool, len(endpoints))
	for _, ep := range endpoints {
		w.wanted[ep] = true
	}
	for ep := range w.unknown {
		// Perhaps created since (a pjsip reload after the rules').
		delete(w.watching, ep)
		delete(w.unknown, ep)
	}
	s.mu.Unlock()
	s.syncEndpoints()
}

// forgetWatch drops what the client knew through the endpoints'
// subscriptions, and ends the requests of a sync for the connection: the
// connection is down, and events are lost meanwhile.
func (s *SnoopClient) forgetWatch() {
	s.mu.Lock()
	w := &s.subs
	if w.cancel != nil {
		w.cancel()
	}
	w.ctx, w.cancel = nil, nil
	w.watching, w.confirmed, w.preceded, w.born, w.unknown, w.held = nil, nil, nil, nil, nil, nil
	s.mu.Unlock()
}

// connected runs after each connect, before any event is read: nothing
// seen before counts; the endpoints are subscribed to again and the
// recordings resynchronised.
func (s *SnoopClient) connected() {
	s.mu.Lock()
	w := &s.subs
	if w.cancel != nil {
		w.cancel()
	}
	w.connection++
	w.ctx, w.cancel = nil, nil
	if s.opsCtx != nil {
		w.ctx, w.cancel = context.WithCancel(s.opsCtx)
	}
	w.born = make(map[string]*bornChannel)
	w.watching = make(map[string]bool)
	w.confirmed = make(map[string]bool)
	w.unknown = make(map[string]bool)
	w.preceded, w.held = nil, nil
	s.mu.Unlock()
	s.syncEndpoints()
	s.resync()
	s.mu.Lock()
	select {
	case <-s.up:
	default:
		close(s.up) // the starts that waited (awaitConnected) go on
	}
	s.mu.Unlock()
}

// syncEndpoints brings the application's endpoint subscriptions in line
// with the endpoints wanted, in one background goroutine at a time (one
// that runs looks again before it ends).
func (s *SnoopClient) syncEndpoints() {
	s.mu.Lock()
	w := &s.subs
	if w.watching == nil || w.ctx == nil {
		s.mu.Unlock()
		return // not connected: connected() will
	}
	if w.syncing {
		s.mu.Unlock()
		return
	}
	w.syncing = true
	s.mu.Unlock()
	if !s.spawn(s.syncLoop) {
		s.mu.Lock()
		w.syncing = false
		s.mu.Unlock()
	}
}

// syncLoop serves the current connection's endpoint subscriptions until
// nothing is left to do, waiting the retry delay after a failure it may
// retry (or until the connection ends; the next one's work is then done).
func (s *SnoopClient) syncLoop(_ context.Context, rest *restClient) {
	for {
		b, ok := s.nextEndpoints()
		if !ok {
			return
		}
		if s.subscribeBatch(rest, b) {
			sleep(b.ctx, b.retry)
		}
	}
}

// endpointBatch is one round of a sync: on connection connection (whose
// requests end with ctx), the endpoints todo to subscribe to, and, when
// the application's subscriptions are not known yet (held nil), the
// endpoints wanted, to tell which it holds are stale.
type endpointBatch struct {
	ctx        context.Context
	connection int
	todo       []string
	held       map[string]bool
	wanted     map[string]bool
	retry      time.Duration
}

// nextEndpoints marks and returns the next batch; ok false (the sync ends)
// when there is nothing to do.
func (s *SnoopClient) nextEndpoints() (b endpointBatch, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := &s.subs
	if w.watching == nil || w.ctx == nil {
		w.syncing = false
		return b, false
	}
	for _, ep := range w.endpoints {
		if !w.watching[ep] {
			w.watching[ep] = true
			b.todo = append(b.todo, ep)
		}
	}
	if len(b.todo) == 0 && w.held != nil {
		w.syncing = false
		return b, false
	}
	b.ctx, b.connection, b.held, b.retry = w.ctx, w.connection, w.held, w.retry
	if b.retry <= 0 {
		b.retry = endpointRetry
	}
	if w.held == nil {
		b.wanted = maps.Clone(w.wanted)
	}
	return b, true
}

// subscribeBatch subscribes the application to the batch's endpoints:
// first, when the application's subscriptions are not known yet, it reads
// them (Asterisk keeps them while the WebSocket is down, and counts each
// subscription request) and removes those no longer wanted; an endpoint
// the application holds is not subscribed to again. Then it lists the
// channels Asterisk has: a channel of one of those endpoints that is not
// in the list was created after its endpoint's subscription took effect,
// so all its events come, although its ChannelCreated may not have been
// read yet when its recording starts (a burst's events queue up in
// Asterisk). A channel in the list may be older than the subscription:
// it is subscribed to at its start. It reports whether something failed
// that is to be tried again (see settle).
func (s *SnoopClient) subscribeBatch(rest *restClient, b endpointBatch) (retry bool) {
	ctx := b.ctx
	held := b.held
	if held == nil {
		app, err := rest.application(ctx, s.cfg.Application)
		if err != nil {
			s.log.Warn().Err(err).Dur("retry_in", b.retry).Msg("read the snoop application's subscriptions: its endpoints are subscribed to once it answers; their channels one by one meanwhile")
			return s.settle(b, batchResult{again: b.todo})
		}
		held = make(map[string]bool, len(app.EndpointIDs))
		var stale []string
		for _, ep := range app.EndpointIDs {
			if b.wanted[ep] {
				held[ep] = true
			} else {
				stale = append(stale, ep)
			}
		}
		s.unsubscribeEndpoints(ctx, rest, stale)
	}
	var (
		mu sync.Mutex
		r  = batchResult{held: held}
	)
	forEach(b.todo, endpointWorkers, func(ep string) {
		var err error
		if !held[ep] {
			err = rest.subscribeEndpoint(ctx, s.cfg.Application, ep)
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			r.ok = append(r.ok, ep)
		case errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnprocessable):
			r.unknown = append(r.unknown, ep)
		default:
			if ctx.Err() == nil {
				s.log.Warn().Err(err).Str("endpoint", ep).Dur("retry_in", b.retry).Msg("subscribe to endpoint failed: its channels are subscribed to one by one meanwhile")
			}
			r.again = append(r.again, ep)
		}
	})
	if len(r.unknown) > 0 {
		s.log.Info().Strs("endpoints", r.unknown).Msg("endpoints Asterisk does not know: their channels are subscribed to one by one when recorded")
	}
	if len(r.ok) > 0 {
		var err error
		if r.ids, err = rest.channelIDs(ctx); err != nil {
			if ctx.Err() == nil {
				s.log.Warn().Err(err).Dur("retry_in", b.retry).Msg("list channels after subscribing to endpoints: only channels seen created are known without a subscription of their own meanwhile")
			}
			r.again, r.ok = append(r.again, r.ok...), nil
		}
	}
	return s.settle(b, r)
}

// batchResult is what a batch learnt: the application's subscriptions
// (held; nil when they could not be read), the endpoints subscribed to
// (ok), refused as unknown, and to try again, and the channels listed
// after the subscriptions (ids).
type batchResult struct {
	held               map[string]bool
	ok, unknown, again []string
	ids                []string
}

// settle applies what batch b learnt to its connection, unless that
// connection ended meanwhile (the next one does its own): the endpoints to
// try again are left to the next batch, which reads the application's
// subscriptions first (a request that timed out may have been carried
// out). It reports whether something is to be tried again.
func (s *SnoopClient) settle(b endpointBatch, r batchResult) (retry bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := &s.subs
	if w.connection != b.connection || w.watching == nil {
		return false
	}
	if w.held == nil {
		w.held = r.held
	}
	for _, ep := range r.ok {
		w.held[ep] = true
	}
	for _, ep := range r.unknown {
		w.unknown[ep] = true
	}
	if len(r.again) > 0 {
		for _, ep := range r.again {
			delete(w.watching, ep)
		}
		w.held = nil // read again first
	}
	if len(r.ok) > 0 {
		for _, ep := range r.ok {
			w.confirmed[ep] = true
		}
		w.preceded = make(map[string]bool, len(r.ids))
		for _, id := range r.ids {
			w.preceded[id] = true
		}
		s.log.Info().Int("endpoints", len(w.confirmed)).Int("channels_before", len(r.ids)).Msg("endpoints subscribed: their new channels are known from their creation")
	}
	return len(r.again) > 0
}

// unwatch removes every endpoint subscription of the application: the
// client stops, and Asterisk would otherwise go on turning every event of
// those endpoints' channels into messages for an application nobody reads.
// A subscription Asterisk counted twice (a request that timed out, then
// sent again) takes a second pass (up to three in all).
func (s *SnoopClient) unwatch(ctx context.Context, rest *restClient) {
	for range 3 {
		app, err := rest.application(ctx, s.cfg.Application)
		if err != nil {
			if !errors.Is(err, ErrNotFound) {
				s.log.Warn().Err(err).Msg("read the snoop application's subscriptions at stop: its endpoint subscriptions stay until the next start")
			}
			return
		}
		if len(app.EndpointIDs) == 0 {
			return
		}
		s.unsubscribeEndpoints(ctx, rest, app.EndpointIDs)
	}
}

// unsubscribeEndpoints removes the application's subscriptions to eps.
func (s *SnoopClient) unsubscribeEndpoints(ctx context.Context, rest *restClient, eps []string) {
	forEach(eps, endpointWorkers, func(ep string) {
		if err := rest.unsubscribeEndpoint(ctx, s.cfg.Application, ep); err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrUnprocessable) && ctx.Err() == nil {
			s.log.Warn().Err(err).Str("endpoint", ep).Msg("unsubscribe from endpoint")
		}
	})
}

// forEach calls fn for each item, workers at a time, and returns when all
// are done.
func forEach(items []string, workers int, fn func(string)) {
	next := make(chan string)
	var wg sync.WaitGroup
	for range min(workers, len(items)) {
		wg.Go(func() {
			for it := range next {
				fn(it)
			}
		})
	}
	for _, it := range items {
		next <- it
	}
	close(next)
	wg.Wait()
}

// channelCreated remembers a channel seen created (named name): the
// application is subscribed to its endpoint, and will be told all it
// does; a channel of an endpoint no longer wanted (its subscription about
// to be removed) is not remembered.
func (s *SnoopClient) channelCreated(id, name, state string, at time.Time) {
	up := state == "Up"
	s.mu.Lock()
	w := &s.subs
	if w.born == nil || !w.wanted[endpointOf(name)] {
		s.mu.Unlock()
		return
	}
	if len(w.born) >= maxBorn {
		// Forgotten answers would be waited for in vain through the
		// channel list: it goes too, until the next connect.
		s.log.Warn().Int("channels", len(w.born)).Msg("too many channels remembered from their creation (their ends not told?): forgotten; starts subscribe to their channels one by one")
		clear(w.born)
		w.preceded = nil
	}
	b := &bornChannel{up: up}
	if up {
		b.at = at
	}
	w.born[id] = b
	s.mu.Unlock()
	if up {
		s.markUp(id, at) // a start through the channel list may wait for it
	}
}

// bornUp notes the answer of a channel seen created, at the PBX's time at.
func (s *SnoopClient) bornUp(id string, at time.Time) {
	s.mu.Lock()
	if b := s.subs.born[id]; b != nil && !b.up {
		b.up, b.at = true, at
	}
	s.mu.Unlock()
}

// bornGone forgets a channel that ended.
func (s *SnoopClient) bornGone(id string) {
	s.mu.Lock()
	delete(s.subs.born, id)
	s.mu.Unlock()
}

// watchedLocked reports whether the channel whose unique ID is channelID,
// named target (its checked name, or channelID), is known through its
// endpoint's subscription: seen created, or absent from the list taken
// once the subscription of the endpoint its name gives was confirmed
// (subscribeBatch); and, when it was seen answer, when. The caller holds
// s.mu.
func (s *SnoopClient) watchedLocked(channelID, target string) (watched, up bool, at time.Time) {
	w := &s.subs
	if b := w.born[channelID]; b != nil {
		return true, b.up, b.at
	}
	// An endpoint a reload dropped may lose its subscription at the next
	// stale removal: only wanted ones count.
	ep := endpointOf(target)
	return w.preceded != nil && !w.preceded[channelID] && ep != "" && w.confirmed[ep] && w.wanted[ep], false, time.Time{}
}

// endpointOf returns the endpoint a channel's name gives, as an event
// source: "PJSIP/235-0000001a" → "PJSIP/235"; "" for a name without one.
func endpointOf(name string) string {
	tech, rest, ok := strings.Cut(name, "/")
	if !ok || tech == "" || strings.ContainsAny(rest, "@;/") {
		return ""
	}
	dash := strings.LastIndexByte(rest, '-')
	if dash <= 0 {
		return ""
	}
	return tech + "/" + rest[:dash]
}
