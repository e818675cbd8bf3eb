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

// maxBorn caps the channels remembered from their creation; past it the
// memory is dropped (starts fall back to per-call subscriptions) rather
// than grow without bound on a PBX whose channels' ends were not told.
const maxBorn = 20000

// endpointWorkers is how many endpoint subscriptions go out at once after
// a connect.
const endpointWorkers = 4

// bornChannel is what the client knows of a channel it saw created.
type bornChannel struct {
	up bool
	at time.Time // the PBX's time of its answer (of its creation when created Up)
}

// WatchEndpoints sets the endpoints (event sources such as "PJSIP/235")
// the application subscribes to, now when connected and after every
// connect. Endpoints dropped from the list stay subscribed until the next
// connect (their events are harmless). It never blocks.
func (s *SnoopClient) WatchEndpoints(endpoints []string) {
	s.mu.Lock()
	s.endpoints = slices.Clone(endpoints)
	s.mu.Unlock()
	if s.Connected() {
		s.subscribeEndpoints()
	}
}

// connected runs after each connect, before any event is read: events of
// the time the WebSocket was down are lost, so nothing seen before counts;
// the endpoints are subscribed to again and the recordings resynchronised.
func (s *SnoopClient) connected() {
	s.mu.Lock()
	s.connection++
	s.born = make(map[string]*bornChannel)
	s.watching = make(map[string]bool)
	s.confirmed = make(map[string]bool)
	s.preceded = nil
	s.mu.Unlock()
	s.subscribeEndpoints()
	s.resync()
}

// subscribeEndpoints subscribes the application, in the background, to
// the endpoints not yet subscribed to on this connection, then lists the
// channels Asterisk has: a channel of one of those endpoints that is not
// in the list was created after its endpoint's subscription took effect,
// so all its events come, although its ChannelCreated may not have been
// read yet when its recording starts (a burst's events queue up in
// Asterisk). A channel in the list may be older than the subscription: it
// is subscribed to at its start.
func (s *SnoopClient) subscribeEndpoints() {
	s.mu.Lock()
	connection := s.connection
	var todo []string
	for _, ep := range s.endpoints {
		if !s.watching[ep] {
			s.watching[ep] = true
			todo = append(todo, ep)
		}
	}
	s.mu.Unlock()
	if len(todo) == 0 {
		return
	}
	s.spawn(func(ctx context.Context, rest *restClient) {
		var (
			mu     sync.Mutex
			failed []string
			ok     []string
			next   = make(chan string)
			wg     sync.WaitGroup
		)
		for range min(endpointWorkers, len(todo)) {
			wg.Go(func() {
				for ep := range next {
					if err := rest.subscribeEndpoint(ctx, s.cfg.Application, ep); err != nil {
						if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrUnprocessable) {
							s.log.Warn().Err(err).Str("endpoint", ep).Msg("subscribe to endpoint failed: its channels are subscribed to one by one")
						}
						mu.Lock()
						failed = append(failed, ep)
						mu.Unlock()
						continue
					}
					mu.Lock()
					ok = append(ok, ep)
					mu.Unlock()
				}
			})
		}
		for _, ep := range todo {
			next <- ep
		}
		close(next)
		wg.Wait()
		if len(failed) > 0 {
			s.log.Info().Strs("endpoints", failed).Msg("endpoints Asterisk does not know (or refused): their channels are subscribed to one by one when recorded")
		}
		if len(ok) == 0 {
			return
		}
		ids, err := rest.channelIDs(ctx)
		if err != nil {
			s.log.Warn().Err(err).Msg("list channels after subscribing to endpoints: only channels seen created are known without a subscription of their own")
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.connection != connection {
			return // a reconnect since: its own subscriptions count
		}
		for _, ep := range ok {
			s.confirmed[ep] = true
		}
		s.preceded = make(map[string]bool, len(ids))
		for _, id := range ids {
			s.preceded[id] = true
		}
		s.log.Info().Int("endpoints", len(ok)).Int("channels_before", len(ids)).Msg("endpoints subscribed: their new channels are known from their creation")
	})
}

// watchedLocked reports whether the channel whose unique ID is channelID
// (and whose name is name, or "") is known through its endpoint's
// subscription: seen created, or not listed when the subscription of the
// endpoint its name gives was confirmed (subscribeEndpoints); and, when it
// was seen answer, when. The caller holds s.mu.
func (s *SnoopClient) watchedLocked(channelID, name string) (watched, up bool, at time.Time) {
	if b := s.born[channelID]; b != nil {
		return true, b.up, b.at
	}
	ep := endpointOf(name)
	return s.preceded != nil && !s.preceded[channelID] && ep != "" && s.confirmed[ep], false, time.Time{}
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

// channelCreated remembers a channel seen created: the application is
// subscribed to its endpoint, and will be told all it does.
func (s *SnoopClient) channelCreated(id, state string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.born == nil {
		return
	}
	if len(s.born) >= maxBorn {
		s.log.Warn().Int("channels", len(s.born)).Msg("too many channels remembered from their creation (their ends not told?): forgotten; starts subscribe to their channels one by one")
		clear(s.born)
	}
	b := &bornChannel{up: state == "Up"}
	if b.up {
		b.at = at
	}
	s.born[id] = b
}

// bornUp notes the answer of a channel seen created, at the PBX's time at.
func (s *SnoopClient) bornUp(id string, at time.Time) {
	s.mu.Lock()
	if b := s.born[id]; b != nil && !b.up {
		b.up, b.at = true, at
	}
	s.mu.Unlock()
}

// bornGone forgets a channel that ended.
func (s *SnoopClient) bornGone(id string) {
	s.mu.Lock()
	delete(s.born, id)
	s.mu.Unlock()
}
