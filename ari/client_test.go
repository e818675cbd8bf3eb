package ari

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// nextResult waits for the next greeting result.
func nextResult(t *testing.T, c *Client, timeout time.Duration) GreetingResult {
	t.Helper()
	select {
	case r, ok := <-c.Results():
		if !ok {
			t.Fatal("results closed")
		}
		return r
	case <-time.After(timeout):
		t.Fatalf("no greeting result within %v", timeout)
	}
	return GreetingResult{}
}

// requests returns the recorded requests about channel id, without the
// reads (GET) made for the result's details.
func requests(f *fakeARI, id string) []string {
	var out []string
	for _, c := range f.callLog() {
		if strings.Contains(c, id) && !strings.HasPrefix(c, "GET ") {
			out = append(out, c[:strings.IndexAny(c+"?", "?")])
		}
	}
	return out
}

func TestClientGreetsChannel(t *testing.T) {
	f := newFakeARI(t)
	rc := startClient(t, f.config(), GreetingConfig{}, 0)
	f.startCall("c1", "Ring", "greeting")
	r := nextResult(t, rc.Client, 5*time.Second)
	if r.Outcome != GreetingPlayed || r.Err != nil {
		t.Fatalf("outcome %v (%v), want played", r.Outcome, r.Err)
	}
	if r.ChannelID != "c1" || r.ChannelName != "PJSIP/carrier-c1" || r.CallerNum != "5145550000" ||
		r.Exten != "4506983235" || r.LinkedID != "linked-c1" || r.Ended.Before(r.Started) {
		t.Errorf("result details %+v", r)
	}
	pb := ""
	for _, c := range f.callLog() {
		if strings.HasPrefix(c, "POST /channels/c1/play/") {
			pb = strings.TrimPrefix(c[:strings.Index(c, "?")], "POST /channels/c1/play/")
			if !strings.Contains(c, "media=sound%3Arecpolicy%2Favis-enregistrement") {
				t.Errorf("play request %q does not play the default sound", c)
			}
		}
	}
	want := []string{
		"POST /channels/c1/answer",
		"POST /channels/c1/play/" + pb,
		"POST /channels/c1/variable",
		"POST /channels/c1/continue",
	}
	if got := requests(f, "c1"); !slices.Equal(got, want) || !strings.HasPrefix(pb, "recpolicy-greeting-") {
		t.Errorf("requests\n got %q\nwant %q", got, want)
	}
	if !f.hasCall("POST /channels/c1/variable?value=ari&variable=__RECPOLICY_GREETED") {
		t.Errorf("greeted variable not set: %q", f.callLog())
	}
}

func TestClientAnsweredChannelIsNotAnsweredAgain(t *testing.T) {
	f := newFakeARI(t)
	rc := startClient(t, f.config(), GreetingConfig{Sound: "sound:custom"}, 0)
	f.startCall("c1", "Up", "greeting")
	if r := nextResult(t, rc.Client, 5*time.Second); r.Outcome != GreetingPlayed {
		t.Fatalf("outcome %v (%v)", r.Outcome, r.Err)
	}
	if f.hasCall("POST /channels/c1/answer") || !f.hasCall("POST /channels/c1/play/") {
		t.Errorf("requests %q", f.callLog())
	}
}

// PlaybackFinished may arrive before the reply to the play request.
func TestClientEventBeforeReply(t *testing.T) {
	f := newFakeARI(t)
	f.set(func(f *fakeARI) { f.eventFirst = true })
	rc := startClient(t, f.config(), GreetingConfig{}, 0)
	f.startCall("c1", "Up", "greeting")
	if r := nextResult(t, rc.Client, 5*time.Second); r.Outcome != GreetingPlayed {
		t.Fatalf("outcome %v (%v), want played", r.Outcome, r.Err)
	}
}

func TestClientPlaybackFailedFallsBack(t *testing.T) {
	f := newFakeARI(t)
	f.set(func(f *fakeARI) { f.playResult = "failed" })
	rc := startClient(t, f.config(), GreetingConfig{}, 0)
	f.startCall("c1", "Ring", "greeting")
	r := nextResult(t, rc.Client, 5*time.Second)
	if r.Outcome != GreetingFailed || !errors.Is(r.Err, ErrPlaybackFailed) {
		t.Fatalf("outcome %v (%v), want failed/playback", r.Outcome, r.Err)
	}
	if f.hasCall("POST /channels/c1/variable") || !f.hasCall("POST /channels/c1/continue") {
		t.Errorf("requests %q: want a continue without the variable", f.callLog())
	}
}

func TestClientRequestFailuresFallBack(t *testing.T) {
	for _, op := range []string{"answer", "play", "setvar"} {
		t.Run(op, func(t *testing.T) {
			f := newFakeARI(t)
			f.set(func(f *fakeARI) { f.fail[op] = 500 })
			rc := startClient(t, f.config(), GreetingConfig{}, 0)
			f.startCall("c1", "Ring", "greeting")
			r := nextResult(t, rc.Client, 5*time.Second)
			if r.Outcome != GreetingFailed || r.Err == nil || !strings.Contains(r.Err.Error(), "500") {
				t.Fatalf("outcome %v (%v), want failed with the 500", r.Outcome, r.Err)
			}
			if f.variable("c1", greetedVarName) != "" || !f.hasCall("POST /channels/c1/continue") {
				t.Errorf("requests %q: want a continue without the variable", f.callLog())
			}
		})
	}
}

func TestClientContinueRetried(t *testing.T) {
	f := newFakeARI(t)
	f.set(func(f *fakeARI) { f.fail["continue"] = 500 })
	rc := startClient(t, f.config(), GreetingConfig{}, 0)
	f.startCall("c1", "Up", "greeting")
	waitFor(t, 5*time.Second, "two continue attempts", func() bool {
		n := 0
		for _, c := range f.callLog() {
			if strings.HasPrefix(c, "POST /channels/c1/continue") {
				n++
			}
		}
		return n >= 2
	})
	f.set(func(f *fakeARI) { delete(f.fail, "continue") })
	if r := nextResult(t, rc.Client, 5*time.Second); r.Outcome != GreetingPlayed {
		t.Fatalf("outcome %v (%v), want played", r.Outcome, r.Err)
	}
}

func TestClientSkipsOtherArgs(t *testing.T) {
	f := newFakeARI(t)
	rc := startClient(t, f.config(), GreetingConfig{}, 0)
	f.startCall("c1", "Ring", "something-else")
	r := nextResult(t, rc.Client, 5*time.Second)
	if r.Outcome != GreetingSkipped || r.Err != nil {
		t.Fatalf("outcome %v (%v), want skipped", r.Outcome, r.Err)
	}
	if got := requests(f, "c1"); !slices.Equal(got, []string{"POST /channels/c1/continue"}) {
		t.Errorf("requests %q", got)
	}
}

func TestClientCallerHangsUp(t *testing.T) {
	f := newFakeARI(t)
	f.set(func(f *fakeARI) { f.playResult = "" })
	rc := startClient(t, f.config(), GreetingConfig{}, 0)
	f.startCall("c1", "Ring", "greeting")
	waitFor(t, 5*time.Second, "the greeting to play", func() bool { return f.playbackOf("c1") != "" })
	f.hangupCaller("c1")
	r := nextResult(t, rc.Client, 5*time.Second)
	if r.Outcome != GreetingCutShort {
		t.Fatalf("outcome %v (%v), want cut_short", r.Outcome, r.Err)
	}
	time.Sleep(100 * time.Millisecond)
	if f.hasCall("POST /channels/c1/continue") || f.hasCall("POST /channels/c1/variable") {
		t.Errorf("requests after the hangup: %q", f.callLog())
	}
}

func TestClientGreetingTimeout(t *testing.T) {
	f := newFakeARI(t)
	f.set(func(f *fakeARI) { f.playResult = "" })
	rc := startClient(t, f.config(), GreetingConfig{Timeout: 300 * time.Millisecond}, 0)
	f.startCall("c1", "Up", "greeting")
	r := nextResult(t, rc.Client, 5*time.Second)
	if r.Outcome != GreetingFailed || !errors.Is(r.Err, ErrTimeout) {
		t.Fatalf("outcome %v (%v), want failed/timeout", r.Outcome, r.Err)
	}
	// The playback is stopped first: Asterisk queues a continue behind it.
	calls := f.callLog()
	stop := slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, "DELETE /playbacks/recpolicy-greeting-") })
	cont := slices.Index(calls, "POST /channels/c1/continue")
	if stop < 0 || cont < stop {
		t.Errorf("requests %q: want stop then continue", calls)
	}
}

func TestClientContinuesOrphanAfterConnect(t *testing.T) {
	f := newFakeARI(t)
	f.addChannel("old1", "Up") // left in Stasis by an earlier connection
	rc := startClient(t, f.config(), GreetingConfig{}, 100*time.Millisecond)
	r := nextResult(t, rc.Client, 5*time.Second)
	if r.ChannelID != "old1" || r.Outcome != GreetingFailed || !errors.Is(r.Err, ErrOrphaned) {
		t.Fatalf("result %+v, want failed/orphaned for old1", r)
	}
	if f.variable("old1", greetedVarName) != "" || !f.hasCall("POST /channels/old1/continue") {
		t.Errorf("requests %q: want a continue without the variable", f.callLog())
	}
}

func TestClientReconnectsAndResyncs(t *testing.T) {
	f := newFakeARI(t)
	f.set(func(f *fakeARI) { f.playResult = "" })
	rc := startClient(t, f.config(), GreetingConfig{}, 100*time.Millisecond)

	// c1 keeps playing across the reconnect; c2's playback ends unseen.
	f.startCall("c1", "Up", "greeting")
	f.startCall("c2", "Up", "greeting")
	waitFor(t, 5*time.Second, "the greetings to play", func() bool {
		return f.playbackOf("c1") != "" && f.playbackOf("c2") != ""
	})
	// Keep it down until we say: no reconnection may see the events below
	// (a client reconnecting to a server without the application would
	// get them in the moment before its resynchronisation fails).
	f.set(func(f *fakeARI) { f.appMissing, f.refuseWS = true, true })
	f.drop()
	waitFor(t, 5*time.Second, "the client to notice", func() bool { return !rc.Connected() })
	pb1, pb2 := f.playbackOf("c1"), f.playbackOf("c2")
	f.finishPlayback(pb2, "done") // lost: nobody is connected
	f.startCall("c3", "Up", "greeting")
	f.set(func(f *fakeARI) { f.appMissing, f.refuseWS = false, false })
	waitFor(t, 5*time.Second, "the client to reconnect", rc.Connected)

	got := map[string]GreetingResult{}
	for range 2 {
		r := nextResult(t, rc.Client, 5*time.Second)
		got[r.ChannelID] = r
	}
	if r := got["c2"]; r.Outcome != GreetingFailed || !errors.Is(r.Err, ErrEventsLost) {
		t.Errorf("c2 result %+v, want failed/events lost", r)
	}
	if r := got["c3"]; r.Outcome != GreetingFailed || !errors.Is(r.Err, ErrOrphaned) {
		t.Errorf("c3 result %+v, want failed/orphaned", r)
	}
	f.finishPlayback(pb1, "done")
	r := nextResult(t, rc.Client, 5*time.Second)
	if r.ChannelID != "c1" || r.Outcome != GreetingPlayed {
		t.Fatalf("result %+v, want c1 played", r)
	}
	if f.connections() < 2 {
		t.Errorf("%d connections, want a reconnection", f.connections())
	}
}

func TestClientChannelLeftWhileDisconnected(t *testing.T) {
	f := newFakeARI(t)
	f.set(func(f *fakeARI) { f.playResult = "" })
	rc := startClient(t, f.config(), GreetingConfig{}, 100*time.Millisecond)
	f.startCall("c1", "Up", "greeting")
	waitFor(t, 5*time.Second, "the greeting to play", func() bool { return f.playbackOf("c1") != "" })
	f.set(func(f *fakeARI) { f.appMissing = true })
	f.drop()
	waitFor(t, 5*time.Second, "the client to notice", func() bool { return !rc.Connected() })
	f.hangupCaller("c1") // unseen
	f.set(func(f *fakeARI) { f.appMissing = false })
	r := nextResult(t, rc.Client, 5*time.Second)
	if r.ChannelID != "c1" || r.Outcome != GreetingCutShort {
		t.Fatalf("result %+v, want c1 cut short", r)
	}
}

func TestClientShutdownContinuesGreetings(t *testing.T) {
	f := newFakeARI(t)
	f.set(func(f *fakeARI) { f.playResult = "" })
	rc := startClient(t, f.config(), GreetingConfig{}, 0)
	f.startCall("c1", "Up", "greeting")
	waitFor(t, 5*time.Second, "the greeting to play", func() bool { return f.playbackOf("c1") != "" })
	if d := rc.stop(t); d > time.Second {
		t.Errorf("Run took %v to return", d)
	}
	r := nextResult(t, rc.Client, time.Second)
	if r.Outcome != GreetingFailed || !errors.Is(r.Err, ErrShutdown) {
		t.Fatalf("result %+v, want failed/shutdown", r)
	}
	if !f.hasCall("DELETE /playbacks/") || !f.hasCall("POST /channels/c1/continue") || f.variable("c1", greetedVarName) != "" {
		t.Errorf("requests %q: want stop and continue without the variable", f.callLog())
	}
	if rc.State() != StateStopped {
		t.Errorf("state %v after Run", rc.State())
	}
	if _, ok := <-rc.Results(); ok {
		t.Error("results not closed")
	}
}

func TestClientReconnectsWhenApplicationMissing(t *testing.T) {
	f := newFakeARI(t)
	rc := startClient(t, f.config(), GreetingConfig{}, 0)
	f.set(func(f *fakeARI) { f.appMissing = true })
	waitFor(t, 5*time.Second, "the client to drop the connection", func() bool { return !rc.Connected() })
	f.set(func(f *fakeARI) { f.appMissing = false })
	waitFor(t, 5*time.Second, "the client to reconnect", rc.Connected)
	if f.connections() < 2 {
		t.Errorf("%d connections", f.connections())
	}
}

func TestClientReconnectsWhenReplaced(t *testing.T) {
	f := newFakeARI(t)
	rc := startClient(t, f.config(), GreetingConfig{}, 0)
	f.send("ApplicationReplaced", nil)
	waitFor(t, 5*time.Second, "the client to drop the connection", func() bool { return !rc.Connected() })
	waitFor(t, 5*time.Second, "the client to reconnect", rc.Connected)
}

// A peer that stops answering (no pong, no event) is detected by the read
// deadline and redialled.
func TestClientDetectsSilentPeer(t *testing.T) {
	f := newFakeARI(t)
	f.set(func(f *fakeARI) { f.silent = true })
	rc := startClient(t, f.config(), GreetingConfig{}, 0)
	waitFor(t, 5*time.Second, "a reconnection", func() bool { return f.connections() >= 2 })
	_ = rc
}

func TestClientUnreachable(t *testing.T) {
	// A port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cfg := Config{URL: "http://" + addr + "/ari", Username: "u", Password: "p",
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	rc := runClient(t, cfg, GreetingConfig{}, 0)
	time.Sleep(300 * time.Millisecond)
	if rc.Connected() {
		t.Fatal("connected to nothing")
	}
	if s := rc.State(); s != StateDisconnected && s != StateConnecting {
		t.Errorf("state %v", s)
	}
	if d := rc.stop(t); d > 500*time.Millisecond {
		t.Errorf("Run took %v to return", d)
	}
}

// A server that accepts TCP connections but never answers: the dial times
// out and is retried; cancelling returns at once.
func TestClientHungServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 100)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		for len(accepted) > 0 {
			_ = (<-accepted).Close()
		}
	})
	cfg := Config{URL: "http://" + ln.Addr().String() + "/ari", Username: "u", Password: "p",
		DialTimeout: 100 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}
	rc := runClient(t, cfg, GreetingConfig{}, 0)
	waitFor(t, 5*time.Second, "three dial attempts", func() bool { return len(accepted) >= 3 })
	if d := rc.stop(t); d > 500*time.Millisecond {
		t.Errorf("Run took %v to return", d)
	}
}

func TestClientWrongPassword(t *testing.T) {
	f := newFakeARI(t)
	cfg := f.config()
	cfg.Password = "wrong"
	rc := runClient(t, cfg, GreetingConfig{}, 0)
	time.Sleep(300 * time.Millisecond)
	if rc.Connected() {
		t.Error("connected with a wrong password")
	}
}

func TestClientRunErrors(t *testing.T) {
	c := NewClient(Config{URL: "http://127.0.0.1:1/ari"}, GreetingConfig{}, testLogger(t))
	if err := c.Run(context.Background()); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Run without credentials: %v", err)
	}
	if err := c.Run(context.Background()); !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("second Run: %v", err)
	}
	c = NewClient(Config{URL: "http://127.0.0.1:1/ari", Username: "u", Password: "p"}, GreetingConfig{Sound: "nosound"}, testLogger(t))
	if err := c.Run(context.Background()); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Run with a bad sound: %v", err)
	}
}

func TestClientResultsDropWhenFull(t *testing.T) {
	c := NewClient(Config{}, GreetingConfig{}, testLogger(t))
	for range resultBuffer + 3 {
		c.sendResult(GreetingResult{})
	}
	if c.DroppedResults() != 3 {
		t.Errorf("dropped %d, want 3", c.DroppedResults())
	}
}
