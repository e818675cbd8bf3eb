package ari

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// fakeEndpointSource is the event source of the endpoint whose channels
// the fake ARI names (fakeChanPrefix).
const fakeEndpointSource = "endpoint:PJSIP/235"

// create makes channel id, in state st; Asterisk tells its creation when
// the application is subscribed to its endpoint.
func (f *fakeSnoopARI) create(id, st string) {
	f.mu.Lock()
	f.state[id] = st
	tell := f.subscribed[fakeEndpointSource]
	f.mu.Unlock()
	if tell {
		f.send("ChannelCreated", map[string]any{"channel": chanJSON(id, st)})
	}
}

// channels lists the channels that exist (snoop channels aside).
func (f *fakeSnoopARI) channels(*http.Request) (int, any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	list := []map[string]any{}
	for id, st := range f.state {
		if st != "" {
			list = append(list, chanJSON(id, st))
		}
	}
	return http.StatusOK, list
}

// subscribeEndpoint counts an endpoint's subscriptions up (POST) or down
// (DELETE), as Asterisk does; an endpoint named nobody does not exist. The
// caller holds f.mu.
func (f *fakeSnoopARI) subscribeEndpoint(method, src string) (int, any) {
	if strings.HasPrefix(src, "endpoint:PJSIP/nobody") || (method == http.MethodDelete && f.endpointRefs[src] == 0) {
		return http.StatusUnprocessableEntity, map[string]string{"message": "Event source does not exist"}
	}
	if method == http.MethodPost {
		f.endpointRefs[src]++
	} else {
		f.endpointRefs[src]--
	}
	f.subscribed[src] = f.endpointRefs[src] > 0
	return http.StatusOK, map[string]any{"name": fakeSnoopApp}
}

// holdEndpoint gives the application a subscription to endpoint ep (as
// from an earlier connection or process), without a request.
func (f *fakeSnoopARI) holdEndpoint(ep string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subscribeEndpoint(http.MethodPost, "endpoint:"+ep)
}

// endpointIDs lists the endpoints the application is subscribed to.
func (f *fakeSnoopARI) endpointIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	eps := []string{}
	for src, n := range f.endpointRefs {
		if ep, ok := strings.CutPrefix(src, "endpoint:"); ok && n > 0 {
			eps = append(eps, ep)
		}
	}
	return eps
}

// application describes the application: the endpoints it is
// subscribed to.
func (f *fakeSnoopARI) application(*http.Request) (int, any) {
	return http.StatusOK, map[string]any{"name": fakeSnoopApp, "channel_ids": []string{}, "endpoint_ids": f.endpointIDs()}
}

// subscriptionsTo counts the subscription requests (method: POST or
// DELETE) for event source src.
func (f *fakeSnoopARI) subscriptionsTo(method, src string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	want := method + " /applications/" + fakeSnoopApp + "/subscription?eventSource=" + strings.ReplaceAll(strings.ReplaceAll(src, ":", "%3A"), "/", "%2F")
	for _, c := range f.calls {
		if c == want {
			n++
		}
	}
	return n
}

// watching runs a SnoopClient that watches the fake's endpoint, and waits
// for the endpoint's subscription.
func watching(t *testing.T) (*fakeSnoopARI, *SnoopClient) {
	t.Helper()
	f := newFakeSnoopARI(t)
	s := runSnoop(t, f.config())
	s.WatchEndpoints([]string{"PJSIP/235", "PJSIP/nobody"})
	waitFor(t, 5*time.Second, "endpoint subscribed and channels listed", func() bool { return listed(s) })
	if n := f.subscriptionsTo("POST", fakeEndpointSource); n != 1 {
		t.Fatalf("%d subscriptions to the endpoint, want 1", n)
	}
	return f, s
}

// listed reports whether s has listed the channels after its endpoints'
// subscriptions on its current connection.
func listed(s *SnoopClient) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subs.preceded != nil
}

// knows reports whether s saw channel id created (and not ended).
func knows(s *SnoopClient, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.subs.born[id]
	return ok
}

// TestSnoopWatchedChannelIsNotSubscribedTo: a channel seen created through
// its endpoint's subscription is recorded without a subscription or a
// state read of its own, its answer is told with the event's time, and its
// stop sends no unsubscription.
func TestSnoopWatchedChannelIsNotSubscribedTo(t *testing.T) {
	tests := []struct {
		name        string
		upFirst     bool // answered before its recording starts
		unseen      bool // its creation not read yet when its recording starts
		wantAnswers int
	}{
		{"answered while recorded", false, false, 1},
		{"answered before its start", true, false, 1},
		{"creation not read yet", false, true, 1},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, s := watching(t)
			ch, rec := "w"+string(rune('a'+i)), "rw"+string(rune('a'+i))
			if tc.unseen {
				f.mu.Lock()
				f.state[ch] = "Ringing" // its events still queued in Asterisk
				f.mu.Unlock()
			} else {
				f.create(ch, "Ringing")
				waitFor(t, 5*time.Second, "creation seen", func() bool { return knows(s, ch) })
			}
			if tc.upFirst {
				f.setState(ch, "Up", true)
				waitFor(t, 5*time.Second, "answer seen", func() bool {
					s.mu.Lock()
					defer s.mu.Unlock()
					return s.subs.born[ch].up
				})
			}
			f.mu.Lock()
			before := len(f.calls)
			f.mu.Unlock()
			if err := s.Record(context.Background(), ch, fakeChanPrefix+ch, Snoop{ID: "snoop-" + rec, Name: rec, Spy: "both"}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 5*time.Second, "recording", func() bool { return f.recording(rec) })
			if tc.unseen {
				f.send("ChannelCreated", map[string]any{"channel": chanJSON(ch, "Ringing")})
			}
			if !tc.upFirst {
				f.setState(ch, "Up", true)
			}
			tm := timesOf(s)
			waitFor(t, 5*time.Second, "answer told", func() bool { _, an := tm.get(rec); return len(an) == tc.wantAnswers })
			if _, an := tm.get(rec); an[0].IsZero() {
				t.Error("answer told at the zero time; want the event's")
			}
			if err := s.Stop(context.Background(), "snoop-"+rec, rec); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
			f.mu.Lock()
			calls := f.calls[before:]
			f.mu.Unlock()
			reads := 0
			for _, c := range calls {
				if strings.Contains(c, "/subscription") {
					t.Errorf("request %q for a watched channel", c)
				}
				if c == "GET /channels/"+ch {
					reads++
				}
			}
			if reads != 1 {
				t.Errorf("%d reads of the channel, want 1 (the name check): %q", reads, calls)
			}
		})
	}
}

// TestSnoopChannelNotSeenCreatedIsSubscribedTo: a channel the client did
// not see created (before the endpoint's subscription, or before a
// reconnect, whose lost events may hold its answer) is subscribed to and
// read at its start, as without endpoints; one that ended is forgotten.
func TestSnoopChannelNotSeenCreatedIsSubscribedTo(t *testing.T) {
	f := newFakeSnoopARI(t)
	f.setState("w0", "Ringing", false) // there before the endpoint's subscription
	s := runSnoop(t, f.config())
	s.WatchEndpoints([]string{"PJSIP/235"})
	waitFor(t, 5*time.Second, "channels listed", func() bool { return listed(s) })
	if err := s.Record(context.Background(), "w0", fakeChanPrefix+"w0", Snoop{ID: "snoop-rw0", Name: "rw0", Spy: "both"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "recording", func() bool { return f.recording("rw0") })
	if f.subscriptionsTo("POST", "channel:"+fakeChanPrefix+"w0") != 1 {
		t.Errorf("no subscription of its own for a channel older than its endpoint's: %q", f.callLog())
	}

	f.create("w1", "Ringing")
	f.create("w2", "Ringing")
	waitFor(t, 5*time.Second, "creations seen", func() bool { return knows(s, "w1") && knows(s, "w2") })
	f.send("ChannelDestroyed", map[string]any{"channel": chanJSON("w2", "Ringing")})
	waitFor(t, 5*time.Second, "end seen", func() bool { return !knows(s, "w2") })

	f.drop()
	waitFor(t, 5*time.Second, "channels listed again", func() bool {
		s.mu.Lock()
		second := s.subs.connection == 2
		s.mu.Unlock()
		return second && listed(s)
	})
	if n := f.subscriptionsTo("POST", fakeEndpointSource); n != 1 {
		t.Errorf("%d subscriptions to the endpoint, want 1 (the application holds it across the reconnect)", n)
	}
	if knows(s, "w1") {
		t.Fatal("a channel seen before the reconnect is still taken as known")
	}
	if err := s.Record(context.Background(), "w1", fakeChanPrefix+"w1", Snoop{ID: "snoop-rw1", Name: "rw1", Spy: "both"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "recording", func() bool { return f.recording("rw1") })
	if f.subscriptionsTo("POST", "channel:"+fakeChanPrefix+"w1") != 1 {
		t.Errorf("no subscription of its own for a channel created before the reconnect: %q", f.callLog())
	}
}

func TestEndpointOf(t *testing.T) {
	tests := []struct{ name, want string }{
		{"PJSIP/235-0000001a", "PJSIP/235"},
		{"PJSIP/city-trunk-0000001a", "PJSIP/city-trunk"},
		{"IAX2/office-3", "IAX2/office"},
		{"Local/200@internal-00000001;2", ""},
		{"mercier-pbx-1796553147.262", ""},
		{"PJSIP/-0000001a", ""},
		{"", ""},
	}
	for _, tc := range tests {
		if got := endpointOf(tc.name); got != tc.want {
			t.Errorf("endpointOf(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestSnoopEndpointSubscriptionsFollowTheRules: at connect the client
// keeps the subscriptions the application holds and wants (no second
// request: Asterisk counts them), removes those it no longer wants, and
// retries one that failed; a reload adds the new endpoints; the client's
// stop removes them all.
func TestSnoopEndpointSubscriptionsFollowTheRules(t *testing.T) {
	f := newFakeSnoopARI(t)
	f.holdEndpoint("PJSIP/235")  // held from an earlier connection
	f.holdEndpoint("PJSIP/gone") // an endpoint since taken out of Annexe A
	s := NewSnoopClient(f.config(), newFakeTimes(), testLogger(t))
	s.subs.retry = 200 * time.Millisecond
	s.WatchEndpoints([]string{"PJSIP/235"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	waitFor(t, 5*time.Second, "channels listed", func() bool { return listed(s) })
	if n := f.subscriptionsTo("POST", fakeEndpointSource); n != 0 {
		t.Errorf("%d subscriptions to an endpoint the application held, want none", n)
	}
	if n := f.subscriptionsTo("DELETE", "endpoint:PJSIP/gone"); n != 1 {
		t.Errorf("%d unsubscriptions from the endpoint no longer wanted, want 1", n)
	}

	// A reload adds an endpoint whose first subscription fails: it is
	// sent again after the retry delay.
	f.mu.Lock()
	f.failEndpoint = 1
	f.mu.Unlock()
	s.WatchEndpoints([]string{"PJSIP/235", "PJSIP/236"})
	waitFor(t, 5*time.Second, "failed subscription sent again", func() bool {
		return f.subscriptionsTo("POST", "endpoint:PJSIP/236") == 2
	})
	waitFor(t, 5*time.Second, "the new endpoint confirmed", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.subs.confirmed["PJSIP/236"] && s.subs.confirmed["PJSIP/235"]
	})

	cancel()
	err := <-done
	done <- nil // for the deferred wait, should a check below fail
	if err != nil {
		t.Fatal(err)
	}
	if eps := f.endpointIDs(); len(eps) != 0 {
		t.Errorf("subscriptions left at stop: %v", eps)
	}
	if n := f.subscriptionsTo("POST", fakeEndpointSource); n != 0 {
		t.Errorf("%d subscriptions to the endpoint the application held, want none", n)
	}
}

// TestSnoopDroppedEndpointNoLongerCounts: once a reload drops an endpoint
// (its subscription may go at the next removal of stale ones), a new
// channel of it whose creation was not read is subscribed to at its start.
func TestSnoopDroppedEndpointNoLongerCounts(t *testing.T) {
	f, s := watching(t)
	s.WatchEndpoints([]string{"PJSIP/236"})
	f.mu.Lock()
	f.state["w9"] = "Ringing"
	f.mu.Unlock()
	if err := s.Record(context.Background(), "w9", fakeChanPrefix+"w9", Snoop{ID: "snoop-rw9", Name: "rw9", Spy: "both"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "recording", func() bool { return f.recording("rw9") })
	if f.subscriptionsTo("POST", "channel:"+fakeChanPrefix+"w9") != 1 {
		t.Errorf("no subscription of its own for a channel of a dropped endpoint: %q", f.callLog())
	}
}
