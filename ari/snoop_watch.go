package ari

import (
	"context"
	"errors"
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
// as slow in Asterisk as its snoop channels (stop 38: 0.23 s, the median
// of those over 0.1 s, up to 3.5 s) and loaded the PBX when it was
// shortest of time; and an answer before a per-call subscription took
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

// endpointWorkers is how many endpoint (un)subscriptions go out at once.
const endpointWorkers = 4

// endpointRetry is how long a subscription that failed for a reason other
// than an unknown endpoint waits before it is sent again.
const endpointRetry = 5 * time.Second

// bornChannel is what the client knows of a channel it saw created.
type bornChannel struct {
	up bool
	at time.Time // the PBX's time of its answer (of its creation when created Up)
}

// watchState is the snoop client's endpoint subscriptions on the current
// connection; all of it is guarded by SnoopClient.mu, and reset at each
// change of the connection's state.
type watchState struct {
	endpoints []string        // to subscribe to (WatchEndpoints); kept across connections
	watching  map[string]bool // subscribed, or being, on this connection (nil: not connected)
	confirmed map[string]bool // subscribed before preceded was listed
	preceded  map[string]bool // channels that existed then, by unique ID (nil: not listed)
	born      map[string]*bornChannel
	unknown   map[string]bool // refused as unknown on this connection: tried again at the next WatchEndpoints
	cleaned   bool            // the application's stale subscriptions were removed on this connection
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
	for ep := range w.unknown {
		// Perhaps created since (a pjsip reload after the rules').
		delete(w.watching, ep)
		delete(w.unknown, ep)
	}
	s.mu.Unlock()
	s.syncEndpoints()
}

// forgetWatch drops what the client knew through the endpoints'
// subscriptions: the connection is down, and events are lost meanwhile.
func (s *SnoopClient) forgetWatch() {
	s.mu.Lock()
	w := &s.subs
	w.watching, w.confirmed, w.preceded, w.born, w.unknown = nil, nil, nil, nil, nil
	s.mu.Unlock()
}

// connected runs after each connect, before any event is read: nothing
// seen before counts; the endpoints are subscribed to again and the
// recordings resynchronised.
func (s *SnoopClient) connected() {
	s.mu.Lock()
	w := &s.subs
	w.connection++
	w.born = make(map[string]*bornChannel)
	w.watching = make(map[string]bool)
	w.confirmed = make(map[string]bool)
	w.unknown = make(map[string]bool)
	w.preceded, w.cleaned = nil, false
	s.mu.Unlock()
	s.syncEndpoints()
	s.resync()
}

// syncEndpoints brings the application's endpoint subscriptions in line
// with the endpoints wanted, in one background goroutine at a time (one
// that runs looks again before it ends).
func (s *SnoopClient) syncEndpoints() {
	s.mu.Lock()
	w := &s.subs
	if w.watching == nil {
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

// syncLoop subscribes to the endpoints not yet subscribed to on this
// connection until none is left, waiting endpointRetry after a failure it
// may retry.
func (s *SnoopClient) syncLoop(ctx context.Context, rest *restClient) {
	for {
		connection, todo, clean, ok := s.nextEndpoints()
		if !ok {
			return
		}
		if s.subscribeBatch(ctx, rest, connection, todo, clean) && !sleep(s.runCtx(), endpointRetry) {
			s.mu.Lock()
			s.subs.syncing = false
			s.mu.Unlock()
			return
		}
	}
}

// nextEndpoints marks and returns the endpoints to subscribe to now, and
// whether the application's stale subscriptions must be read and removed
// first; ok false (the sync ends) when there is nothing to do.
func (s *SnoopClient) nextEndpoints() (connection int, todo []string, clean, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := &s.subs
	if w.watching != nil {
		for _, ep := range w.endpoints {
			if !w.watching[ep] {
				w.watching[ep] = true
				todo = append(todo, ep)
			}
		}
	}
	if len(todo) == 0 {
		w.syncing = false
		return 0, nil, false, false
	}
	return w.connection, todo, !w.cleaned, true
}

// subscribeBatch subscribes the application to endpoints todo (after
// removing, when clean, the subscriptions it holds and no longer wants,
// and leaving out those it holds already), then lists the channels
// Asterisk has: a channel of one of those endpoints that is not in the
// list was created after its endpoint's subscription took effect, so all
// its events come, although its ChannelCreated may not have been read
// yet when its recording starts (a burst's events queue up in Asterisk).
// A channel in the list may be older than the subscription: it is
// subscribed to at its start. It reports whether a failure should be
// retried.
func (s *SnoopClient) subscribeBatch(ctx context.Context, rest *restClient, connection int, todo []string, clean bool) (retry bool) {
	var held map[string]bool
	if clean {
		app, err := rest.application(ctx, s.cfg.Application)
		if err != nil {
			s.log.Warn().Err(err).Msg("read the snoop application's subscriptions: subscribing to every endpoint")
		} else {
			held = make(map[string]bool, len(app.EndpointIDs))
			for _, ep := range app.EndpointIDs {
				held[ep] = true
			}
			s.removeStale(ctx, rest, app.EndpointIDs)
			s.mu.Lock()
			if s.subs.connection == connection {
				s.subs.cleaned = true
			}
			s.mu.Unlock()
		}
	}
	var (
		mu                 sync.Mutex
		ok, unknown, again []string
	)
	forEach(todo, endpointWorkers, func(ep string) {
		var err error
		if !held[ep] {
			err = rest.subscribeEndpoint(ctx, s.cfg.Application, ep)
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			ok = append(ok, ep)
		case errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnprocessable):
			unknown = append(unknown, ep)
		default:
			s.log.Warn().Err(err).Str("endpoint", ep).Dur("retry_in", endpointRetry).Msg("subscribe to endpoint failed: its channels are subscribed to one by one meanwhile")
			again = append(again, ep)
		}
	})
	if len(unknown) > 0 {
		s.log.Info().Strs("endpoints", unknown).Msg("endpoints Asterisk does not know: their channels are subscribed to one by one when recorded")
	}
	var ids []string
	listed := false
	if len(ok) > 0 {
		var err error
		if ids, err = rest.channelIDs(ctx); err != nil {
			s.log.Warn().Err(err).Msg("list channels after subscribing to endpoints: only channels seen created are known without a subscription of their own")
		} else {
			listed = true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w := &s.subs
	if w.connection != connection || w.watching == nil {
		return false // a reconnect since: its own sync counts
	}
	for _, ep := range again {
		delete(w.watching, ep)
	}
	for _, ep := range unknown {
		w.unknown[ep] = true
	}
	if listed {
		for _, ep := range ok {
			w.confirmed[ep] = true
		}
		w.preceded = make(map[string]bool, len(ids))
		for _, id := range ids {
			w.preceded[id] = true
		}
		s.log.Info().Int("endpoints", len(w.confirmed)).Int("channels_before", len(ids)).Msg("endpoints subscribed: their new channels are known from their creation")
	}
	return len(again) > 0
}

// removeStale removes the application's endpoint subscriptions (held,
// as Asterisk lists them) that are no longer wanted: an earlier
// connection's, or an earlier process's.
func (s *SnoopClient) removeStale(ctx context.Context, rest *restClient, held []string) {
	s.mu.Lock()
	wanted := make(map[string]bool, len(s.subs.endpoints))
	for _, ep := range s.subs.endpoints {
		wanted[ep] = true
	}
	s.mu.Unlock()
	var stale []string
	for _, ep := range held {
		if !wanted[ep] {
			stale = append(stale, ep)
		}
	}
	s.unsubscribeEndpoints(ctx, rest, stale)
}

// unwatch removes every endpoint subscription of the application: the
// client stops, and Asterisk would otherwise go on turning every event of
// those endpoints' channels into messages for an application nobody reads.
func (s *SnoopClient) unwatch(ctx context.Context, rest *restClient) {
	app, err := rest.application(ctx, s.cfg.Application)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			s.log.Warn().Err(err).Msg("read the snoop application's subscriptions at stop: its endpoint subscriptions stay until the next start")
		}
		return
	}
	s.unsubscribeEndpoints(ctx, rest, app.EndpointIDs)
}

// unsubscribeEndpoints removes the application's subscriptions to eps.
func (s *SnoopClient) unsubscribeEndpoints(ctx context.Context, rest *restClient, eps []string) {
	forEach(eps, endpointWorkers, func(ep string) {
		if err := rest.unsubscribeEndpoint(ctx, s.cfg.Application, ep); err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrUnprocessable) {
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

// channelCreated remembers a channel seen created: the application is
// subscribed to its endpoint, and will be told all it does.
func (s *SnoopClient) channelCreated(id, state string, at time.Time) {
	up := state == "Up"
	s.mu.Lock()
	w := &s.subs
	if w.born == nil {
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
	ep := endpointOf(target)
	return w.preceded != nil && !w.preceded[channelID] && ep != "" && w.confirmed[ep], false, time.Time{}
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
