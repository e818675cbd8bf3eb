package ari

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

const fakeSnoopApp = "recpolicy-snoop"

// fakeSnoopARI is an in-memory Asterisk for the snoop client: channels,
// snoop channels, live recordings, subscriptions and the events
// WebSocket; every REST request is logged.
type fakeSnoopARI struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	conns    []*websocket.Conn
	connects int // event WebSockets opened
	// opening counts the event WebSockets whose handshake was accepted
	// and that are not in conns yet: Asterisk registers the application
	// with the handshake, so send waits for them.
	opening    int
	calls      []string
	state      map[string]string // channel id → state ("" = gone)
	snoops     map[string]string // snoop id → recorded channel
	live       map[string]bool   // live recording names
	liveOn     map[string]string // live recording name → its snoop channel
	subscribed map[string]bool
	early      bool // send StasisStart before replying to snoop
	// names maps a channel name to another channel's ID (a name that was
	// taken over); renameOnGet does so for a channel once it is read.
	names       map[string]string
	renameOnGet map[string]string // channel id → the ID its name goes to
	snoopNames  map[string]string // snoop channel name → its ID
	snoopCount  int
	// holdSubscription keeps each subscription's reply until a snoop
	// channel was asked for (a client that waits for the one before
	// sending the other gets a 500 after 0.8 s).
	holdSubscription bool
	// subscribeAfterRecording keeps each subscription's reply until a
	// recording is live (500 after 0.8 s otherwise).
	subscribeAfterRecording bool
	// answerBeforeSubscribing answers this channel just before its
	// subscription takes effect: its answer event is not told.
	answerBeforeSubscribing string
	failSubscription        bool // each subscription answered 500
	failEndpoint            int  // so many endpoint subscriptions answered 500
	// endpointRefs counts each endpoint's subscriptions, as Asterisk
	// does (subscribed says whether it has one).
	endpointRefs map[string]int
	failLive     bool // each read of a live recording answered 500
	// beforeRead, when set, runs (without the lock) before each read of a
	// channel, with the channel's ID.
	beforeRead func(id string)
	// refuseEvents refuses the event WebSocket's handshake.
	refuseEvents bool
	// dieBeforeStasis: so many snoop channels created next never enter the
	// application and are destroyed (asked for as the WebSocket dropped).
	dieBeforeStasis int
	// loseRecord: so many record requests next get no reply (the
	// connection is cut), the recording started (unless loseBeforeStart).
	loseRecord      int
	loseBeforeStart bool
	// loseSnoop: so many snoop requests next get no reply (the connection
	// is cut), the snoop channel created (unless loseSnoopBeforeCreate).
	loseSnoop             int
	loseSnoopBeforeCreate bool
	// snoopRace: a snoop request cut before Asterisk created the channel
	// was in fact still being carried out: the channel appears when the
	// request is sent again, which Asterisk refuses (the ID is in use).
	snoopRace bool
	// refuseRetry: the next snoop request after a first one is refused
	// (500) and creates nothing (the first one's channel, destroyed
	// meanwhile, still held the ID).
	refuseRetry bool
	// stasisGate: when set, snoop channels created next enter the
	// application only once it is closed; until then a record request on
	// one is refused with Asterisk's 409 (notInApp).
	stasisGate chan struct{}
	notInApp   map[string]bool
	refused409 int // record requests refused with a 409 so far
	// loseStops: so many stop and hangup requests next are cut on the
	// way (the connection closed, nothing done).
	loseStops int
}

// loseStop tells whether the next stop or hangup request is cut on the
// way (loseStops).
func (f *fakeSnoopARI) loseStop() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.loseStops == 0 {
		return false
	}
	f.loseStops--
	return true
}

// cutConnection, returned by a fake handler as its status, closes the
// connection without a reply (a request cut on the way).
const cutConnection = -1

// fakeChanPrefix begins the name the fake ARI gives channel <id>:
// fakeChanPrefix + id.
const fakeChanPrefix = "PJSIP/235-"

// byName finds a channel the way Asterisk does for the requests that take
// a name or an ID: by name (fakeChanPrefix + id, unless names says the name
// is another's), else by ID. The caller holds f.mu.
func (f *fakeSnoopARI) byName(x string) string {
	if id, ok := f.names[x]; ok {
		return id
	}
	if id, ok := strings.CutPrefix(x, fakeChanPrefix); ok {
		return id
	}
	return x
}

func newFakeSnoopARI(t *testing.T) *fakeSnoopARI {
	f := &fakeSnoopARI{t: t, state: map[string]string{}, snoops: map[string]string{}, live: map[string]bool{}, liveOn: map[string]string{}, subscribed: map[string]bool{},
		names: map[string]string{}, renameOnGet: map[string]string{}, snoopNames: map[string]string{}, endpointRefs: map[string]int{}, notInApp: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ari/events", eventSocket(&f.mu, &f.opening, func() error {
		if f.refuseEvents {
			return errors.New("refused")
		}
		return nil
	}, f.serveEvents))
	mux.HandleFunc("POST /ari/channels/{id}/snoop", f.rest(f.snoop))
	mux.HandleFunc("POST /ari/channels/{id}/record", f.rest(f.record))
	mux.HandleFunc("GET /ari/channels/{id}", f.rest(f.channel))
	mux.HandleFunc("GET /ari/channels", f.rest(f.channels))
	mux.HandleFunc("DELETE /ari/channels/{id}", f.rest(f.hangup))
	mux.HandleFunc("POST /ari/recordings/live/{name}/stop", f.rest(f.stopRecording))
	mux.HandleFunc("GET /ari/recordings/live/{name}", f.rest(f.liveRecording))
	mux.HandleFunc("POST /ari/applications/{app}/subscription", f.rest(f.subscribe))
	mux.HandleFunc("DELETE /ari/applications/{app}/subscription", f.rest(f.subscribe))
	mux.HandleFunc("GET /ari/applications/{app}", f.rest(f.application))
	mux.HandleFunc("GET /ari/asterisk/ping", servePing)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() { f.drop(); f.srv.Close() })
	return f
}

func (f *fakeSnoopARI) config() Config {
	return Config{
		URL: f.srv.URL + "/ari", Username: fakeUser, Password: fakePassword,
		Application: fakeSnoopApp, DialTimeout: time.Second, RequestTimeout: time.Second,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, HealthInterval: 100 * time.Millisecond,
	}
}

func (f *fakeSnoopARI) serveEvents(ws *websocket.Conn) {
	req := ws.Request()
	if u, p, ok := req.BasicAuth(); !ok || u != fakeUser || p != fakePassword || req.URL.Query().Get("app") != fakeSnoopApp {
		f.mu.Lock()
		f.opening--
		f.mu.Unlock()
		_ = ws.Close()
		return
	}
	f.mu.Lock()
	f.opening--
	f.conns = append(f.conns, ws)
	f.connects++
	f.mu.Unlock()
	for {
		var b []byte
		if err := websocket.Message.Receive(ws, &b); err != nil {
			return
		}
	}
}

// drop closes the event WebSockets.
func (f *fakeSnoopARI) drop() {
	f.mu.Lock()
	conns := f.conns
	f.conns = nil
	f.mu.Unlock()
	for _, ws := range conns {
		_ = ws.Close()
	}
}

func (f *fakeSnoopARI) send(typ string, fields map[string]any) {
	ev := map[string]any{"type": typ, "application": fakeSnoopApp, "timestamp": time.Now().Format("2006-01-02T15:04:05.000-0700")}
	for k, v := range fields {
		ev[k] = v
	}
	data, err := json.Marshal(ev)
	if err != nil {
		f.t.Errorf("marshal event: %v", err)
		return
	}
	// A WebSocket whose handshake the client has seen accepted gets the
	// event, as from Asterisk, even if its handler has not run yet.
	f.mu.Lock()
	awaitOpenings(&f.mu, &f.opening)
	conns := slices.Clone(f.conns)
	f.mu.Unlock()
	for _, ws := range conns {
		_ = websocket.Message.Send(ws, string(data))
	}
}

func chanJSON(id, state string) map[string]any {
	return map[string]any{"id": id, "name": fakeChanPrefix + id, "state": state}
}

// setState changes a channel's state; event says whether Asterisk tells
// (it does only once the application is subscribed to the channel, or to
// its endpoint).
func (f *fakeSnoopARI) setState(id, state string, event bool) {
	f.mu.Lock()
	f.state[id] = state
	event = event && (f.subscribed["channel:"+id] || f.subscribed[fakeEndpointSource])
	f.mu.Unlock()
	if event {
		f.send("ChannelStateChange", map[string]any{"channel": chanJSON(id, state)})
	}
}

func (f *fakeSnoopARI) rest(h func(*http.Request) (int, any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != fakeUser || p != fakePassword {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		call := r.Method + " " + strings.TrimPrefix(r.URL.EscapedPath(), "/ari")
		if r.URL.RawQuery != "" {
			call += "?" + r.URL.RawQuery
		}
		f.mu.Lock()
		f.calls = append(f.calls, call)
		f.mu.Unlock()
		code, body := h(r)
		if code == cutConnection {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					_ = conn.Close()
					return
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		if body != nil {
			_ = json.NewEncoder(w).Encode(body)
		}
	}
}

func (f *fakeSnoopARI) channel(r *http.Request) (int, any) {
	id := r.PathValue("id")
	f.mu.Lock()
	hook := f.beforeRead
	f.mu.Unlock()
	if hook != nil {
		hook(id)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.snoops[id]; ok {
		ch := chanJSON(id, "Up")
		for name, snoopID := range f.snoopNames {
			if snoopID == id {
				ch["name"] = name
			}
		}
		return http.StatusOK, ch
	}
	if st := f.state[id]; st != "" {
		if to, ok := f.renameOnGet[id]; ok {
			f.names[fakeChanPrefix+id] = to
		}
		return http.StatusOK, chanJSON(id, st)
	}
	return http.StatusNotFound, map[string]string{"message": "Channel not found"}
}

func (f *fakeSnoopARI) snoop(r *http.Request) (int, any) {
	snoopID := r.URL.Query().Get("snoopId")
	f.mu.Lock()
	id := f.byName(r.PathValue("id"))
	if f.state[id] == "" {
		f.mu.Unlock()
		return http.StatusNotFound, map[string]string{"message": "Channel not found"}
	}
	if f.refuseRetry && f.snoopCount > 0 {
		f.refuseRetry = false
		f.mu.Unlock()
		return http.StatusInternalServerError, map[string]string{"message": "Snoop channel could not be created"}
	}
	if f.snoopRace && f.snoopCount > 0 {
		f.snoopRace = false
		f.snoops[snoopID] = id
		f.snoopCount++
		f.snoopNames[fmt.Sprintf("Snoop/%s-%08x", id, f.snoopCount)] = snoopID
		go f.send("StasisStart", map[string]any{"args": []string{}, "channel": chanJSON(snoopID, "Up")})
	}
	if _, taken := f.snoops[snoopID]; taken {
		// Asterisk refuses a unique ID in use.
		f.mu.Unlock()
		return http.StatusInternalServerError, map[string]string{"message": "Snoop channel could not be created"}
	}
	lose := f.loseSnoop > 0
	if lose {
		f.loseSnoop--
		if f.loseSnoopBeforeCreate {
			f.snoopCount++ // the request counts, for snoopRace
			f.mu.Unlock()
			return cutConnection, nil
		}
	}
	f.snoops[snoopID] = id
	f.snoopCount++
	snoopName := fmt.Sprintf("Snoop/%s-%08x", id, f.snoopCount)
	f.snoopNames[snoopName] = snoopID
	early := f.early
	die := f.dieBeforeStasis > 0
	if die {
		f.dieBeforeStasis--
		delete(f.snoops, snoopID)
	}
	gate := f.stasisGate
	if gate != nil {
		f.notInApp[snoopID] = true
	}
	f.mu.Unlock()
	start := func() {
		if gate != nil {
			<-gate
			f.mu.Lock()
			delete(f.notInApp, snoopID)
			f.mu.Unlock()
		}
		f.send("StasisStart", map[string]any{"args": []string{}, "channel": chanJSON(snoopID, "Up")})
	}
	if die {
		start = func() {
			f.send("ChannelDestroyed", map[string]any{"cause": 16, "cause_txt": "Normal Clearing", "channel": chanJSON(snoopID, "Up")})
		}
	}
	switch {
	case lose:
		go start()
		return cutConnection, nil
	case early:
		start()
		time.Sleep(20 * time.Millisecond) // let the event overtake the reply
	default:
		defer func() { go start() }()
	}
	return http.StatusOK, map[string]any{"id": snoopID, "name": snoopName, "state": "Up"}
}

func (f *fakeSnoopARI) record(r *http.Request) (int, any) {
	id, name := r.PathValue("id"), r.URL.Query().Get("name")
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.snoops[id]; !ok {
		return http.StatusNotFound, map[string]string{"message": "Channel not found"}
	}
	if f.notInApp[id] {
		f.refused409++
		return http.StatusConflict, map[string]string{"message": "Channel not in Stasis application"}
	}
	if f.loseRecord > 0 {
		// The request's reply is lost (a connection cut), after the
		// recording started or before it reached Asterisk.
		f.loseRecord--
		if !f.loseBeforeStart {
			f.live[name] = true
			f.liveOn[name] = id
		}
		return cutConnection, nil
	}
	f.live[name] = true
	f.liveOn[name] = id
	go f.send("RecordingStarted", map[string]any{"recording": map[string]any{"name": name, "format": "wav", "state": "recording", "target_uri": "channel:" + id}})
	return http.StatusCreated, map[string]any{"name": name, "format": "wav", "state": "recording"}
}

func (f *fakeSnoopARI) hangup(r *http.Request) (int, any) {
	if f.loseStop() {
		return cutConnection, nil
	}
	id := r.PathValue("id")
	f.mu.Lock()
	if byName, ok := f.snoopNames[id]; ok {
		id = byName
	}
	_, ok := f.snoops[id]
	delete(f.snoops, id)
	var ended []string // a snoop channel's hangup ends its recording
	for name, on := range f.liveOn {
		if on == id && f.live[name] {
			delete(f.live, name)
			ended = append(ended, name)
		}
	}
	f.mu.Unlock()
	if !ok {
		return http.StatusNotFound, map[string]string{"message": "Channel not found"}
	}
	for _, name := range ended {
		go f.send("RecordingFinished", map[string]any{"recording": map[string]any{"name": name, "format": "wav", "state": "done"}})
	}
	go f.send("StasisEnd", map[string]any{"channel": chanJSON(id, "Up")})
	return http.StatusNoContent, nil
}

func (f *fakeSnoopARI) stopRecording(r *http.Request) (int, any) {
	if f.loseStop() {
		return cutConnection, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.live[r.PathValue("name")] {
		return http.StatusNotFound, map[string]string{"message": "Recording not found"}
	}
	delete(f.live, r.PathValue("name"))
	go f.send("RecordingFinished", map[string]any{"recording": map[string]any{"name": r.PathValue("name"), "format": "wav", "state": "done"}})
	return http.StatusNoContent, nil
}

func (f *fakeSnoopARI) liveRecording(r *http.Request) (int, any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failLive {
		return http.StatusInternalServerError, map[string]string{"message": "Internal Server Error"}
	}
	if !f.live[r.PathValue("name")] {
		return http.StatusNotFound, map[string]string{"message": "Recording not found"}
	}
	return http.StatusOK, map[string]any{"name": r.PathValue("name"), "format": "wav", "state": "recording"}
}

func (f *fakeSnoopARI) subscribe(r *http.Request) (int, any) {
	for i := 0; r.Method == http.MethodPost; i++ {
		f.mu.Lock()
		held := (f.holdSubscription && f.snoopCount == 0) || (f.subscribeAfterRecording && len(f.live) == 0)
		f.mu.Unlock()
		if !held {
			break
		}
		if i == 80 {
			return http.StatusInternalServerError, map[string]string{"message": "subscription held until a snoop channel is asked for"}
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if id := f.answerBeforeSubscribing; id != "" && r.Method == http.MethodPost {
		f.state[id], f.answerBeforeSubscribing = "Up", ""
	}
	if f.failEndpoint > 0 && r.Method == http.MethodPost && strings.HasPrefix(r.URL.Query().Get("eventSource"), "endpoint:") {
		f.failEndpoint--
		return http.StatusInternalServerError, map[string]string{"message": "Internal Server Error"}
	}
	if f.failSubscription && r.Method == http.MethodPost {
		return http.StatusInternalServerError, map[string]string{"message": "Internal Server Error"}
	}
	src := r.URL.Query().Get("eventSource")
	if strings.HasPrefix(src, "endpoint:") {
		return f.subscribeEndpoint(r.Method, src)
	}
	if n, ok := strings.CutPrefix(src, "channel:"); ok && strings.Contains(n, "/") {
		id := f.byName(n)
		if r.Method == http.MethodPost && f.state[id] == "" {
			return http.StatusUnprocessableEntity, map[string]string{"message": "Event source does not exist"}
		}
		src = "channel:" + id
	}
	f.subscribed[src] = r.Method == http.MethodPost
	return http.StatusOK, map[string]any{"name": fakeSnoopApp}
}

// callLog returns a copy of the requests logged so far.
func (f *fakeSnoopARI) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// countCalls counts the requests logged that begin with prefix.
func (f *fakeSnoopARI) countCalls(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func (f *fakeSnoopARI) hasCall(prefix string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.ContainsFunc(f.calls, func(c string) bool { return strings.HasPrefix(c, prefix) })
}

func (f *fakeSnoopARI) recording(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.live[name]
}

func (f *fakeSnoopARI) snoopExists(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.snoops[id]
	return ok
}

// fakeTimes records what a SnoopClient tells its Times.
type fakeTimes struct {
	mu       sync.Mutex
	started  map[string][]time.Time
	answered map[string][]time.Time
	finished map[string][]time.Time
}

func (ft *fakeTimes) Started(name string, at time.Time) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.started[name] = append(ft.started[name], at)
}

func (ft *fakeTimes) Answered(name string, at time.Time) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.answered[name] = append(ft.answered[name], at)
}

func (ft *fakeTimes) Finished(name string, at time.Time) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.finished[name] = append(ft.finished[name], at)
}

// get returns the times told of name.
func (ft *fakeTimes) get(name string) (started, answered []time.Time) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return slices.Clone(ft.started[name]), slices.Clone(ft.answered[name])
}

// newFakeTimes returns an empty fakeTimes.
func newFakeTimes() *fakeTimes {
	return &fakeTimes{started: map[string][]time.Time{}, answered: map[string][]time.Time{}, finished: map[string][]time.Time{}}
}

// timesOf is the fakeTimes of a client made by runSnoop.
func timesOf(s *SnoopClient) *fakeTimes { return s.times.(*fakeTimes) }

// runSnoop runs a SnoopClient until the test ends and waits for its
// connection.
func runSnoop(t *testing.T, cfg Config) *SnoopClient {
	t.Helper()
	s := NewSnoopClient(cfg, newFakeTimes(), testLogger(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	waitFor(t, 5*time.Second, "snoop client connected", s.Connected)
	return s
}

// TestSnoopRecordsWhileRingingAndTellsTheAnswer: the recording starts as
// soon as its snoop channel is in the application, while the channel still
// rings; Times learns when it started and when the
// channel answered, by the PBX's event times, so that the filer cuts what
// came before the answer.
func TestSnoopRecordsWhileRingingAndTellsTheAnswer(t *testing.T) {
	f := newFakeSnoopARI(t)
	s := runSnoop(t, f.config())
	f.setState("c1", "Ringing", false)
	if err := s.Record(context.Background(), "c1", "", Snoop{ID: "snoop-r1", Name: "r1", Spy: "sideways"}); !errors.Is(err, ErrSpy) {
		t.Fatalf("a snoop direction that is none: %v", err)
	}
	if err := s.Record(context.Background(), "c1", "", Snoop{ID: "snoop-r1", Name: "r1", Spy: "in"}); err != nil {
		t.Fatal(err)
	}
	if !f.hasCall("POST /channels/c1/snoop?app="+fakeSnoopApp+"&snoopId=snoop-r1&spy=in&whisper=none") || !f.hasCall("POST /applications/"+fakeSnoopApp+"/subscription?eventSource=channel%3Ac1") {
		t.Fatalf("no snoop or subscription request: %q", f.callLog())
	}
	waitFor(t, 5*time.Second, "record request while ringing", func() bool { return f.recording("r1") })
	if !f.hasCall("POST /channels/snoop-r1/record?beep=false&format=wav&ifExists=fail&maxDurationSeconds=0&maxSilenceSeconds=0&name=r1&terminateOn=none") {
		t.Errorf("record request: %q", f.callLog())
	}
	tm := timesOf(s)
	waitFor(t, 5*time.Second, "start time told", func() bool { st, _ := tm.get("r1"); return len(st) == 1 })
	time.Sleep(20 * time.Millisecond)
	f.setState("c1", "Up", true)
	waitFor(t, 5*time.Second, "answer time told", func() bool { _, an := tm.get("r1"); return len(an) == 1 })
	st, an := tm.get("r1")
	if st[0].IsZero() || an[0].IsZero() || !an[0].After(st[0]) {
		t.Errorf("started %v, answered %v: want both, the answer after the start", st, an)
	}
	f.setState("c1", "Up", true) // told once
	time.Sleep(50 * time.Millisecond)
	if _, an := tm.get("r1"); len(an) != 1 {
		t.Errorf("answer told %d times, want once", len(an))
	}
	if err := s.Stop(context.Background(), "snoop-r1", "r1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "end time told", func() bool {
		tm.mu.Lock()
		defer tm.mu.Unlock()
		return len(tm.finished["r1"]) == 1 && !tm.finished["r1"][0].IsZero()
	})
	if f.recording("r1") || f.snoopExists("snoop-r1") {
		t.Error("Stop left the recording or the snoop channel")
	}
}

func TestSnoopEventBeforeReplyOnAnsweredChannel(t *testing.T) {
	f := newFakeSnoopARI(t)
	f.early = true
	s := runSnoop(t, f.config())
	recordRinging(t, f, s, "c2", "Up", "r2")
	waitFor(t, 5*time.Second, "record request", func() bool { return f.recording("r2") })
	// Up when read: it answered before its recording started.
	waitFor(t, 5*time.Second, "answer told", func() bool { _, an := timesOf(s).get("r2"); return len(an) == 1 })
	if _, an := timesOf(s).get("r2"); !an[0].IsZero() {
		t.Errorf("answered %v, want the zero time (before the recording)", an[0])
	}
}

// ringing runs a SnoopClient against a fake and starts recording channel
// ch, in state st, as recordRinging does.
func ringing(t *testing.T, ch, st, name string) (*fakeSnoopARI, *SnoopClient) {
	t.Helper()
	f := newFakeSnoopARI(t)
	s := runSnoop(t, f.config())
	recordRinging(t, f, s, ch, st, name)
	return f, s
}

// recordRinging starts recording channel ch, in state st, through one
// snoop channel spying both ways, snoop-<name> recorded as name.
func recordRinging(t *testing.T, f *fakeSnoopARI, s *SnoopClient, ch, st, name string) {
	t.Helper()
	f.setState(ch, st, false)
	if err := s.Record(context.Background(), ch, "", Snoop{ID: "snoop-" + name, Name: name, Spy: "both"}); err != nil {
		t.Fatal(err)
	}
}

// TestSnoopAnswerTimeAfterAReadSawItUp: a read saw the channel Up (told
// with the zero time) and its answer event comes after: the event's time
// is told too, once (the filer takes the time over the zero time).
func TestSnoopAnswerTimeAfterAReadSawItUp(t *testing.T) {
	f, s := ringing(t, "c20", "Up", "r20")
	tm := timesOf(s)
	waitFor(t, 5*time.Second, "zero answer told", func() bool { _, an := tm.get("r20"); return len(an) == 1 })
	f.setState("c20", "Up", true)
	waitFor(t, 5*time.Second, "answer time told", func() bool { _, an := tm.get("r20"); return len(an) == 2 })
	f.setState("c20", "Up", true)
	time.Sleep(50 * time.Millisecond)
	if _, an := tm.get("r20"); len(an) != 2 || !an[0].IsZero() || an[1].IsZero() {
		t.Errorf("answered %v, want the zero time then the event's", an)
	}
}

// TestSnoopUnansweredLegIsNeverAnswered: a leg that rings and hangs up is
// recorded while it rings, but never told answered: the filer discards it.
func TestSnoopUnansweredLegIsNeverAnswered(t *testing.T) {
	f, s := ringing(t, "c3", "Ringing", "r3")
	waitFor(t, 5*time.Second, "snoop channel", func() bool { return f.snoopExists("snoop-r3") })
	f.setState("c3", "", false)
	s.Release("snoop-r3")
	waitFor(t, 5*time.Second, "snoop hung up", func() bool { return !f.snoopExists("snoop-r3") })
	time.Sleep(100 * time.Millisecond)
	if st, an := timesOf(s).get("r3"); len(an) != 0 || len(st) > 1 {
		t.Errorf("an unanswered leg: started %v, answered %v", st, an)
	}
}

func TestSnoopResyncAfterReconnect(t *testing.T) {
	f, s := ringing(t, "c4", "Ringing", "r4")
	waitFor(t, 5*time.Second, "record while ringing", func() bool { return f.recording("r4") })
	// The channel answers while its event is lost, and the WebSocket
	// drops: only the resynchronisation after the reconnect can see it,
	// without the answer's time (nothing is cut then).
	f.setState("c4", "Up", false)
	time.Sleep(100 * time.Millisecond)
	if _, an := timesOf(s).get("r4"); len(an) != 0 {
		t.Fatal("answer told without an event")
	}
	f.drop()
	waitFor(t, 5*time.Second, "answer told after reconnect", func() bool { _, an := timesOf(s).get("r4"); return len(an) == 1 })
	if _, an := timesOf(s).get("r4"); !an[0].IsZero() {
		t.Errorf("answered %v after a reconnect, want the zero time (not known)", an[0])
	}
	if !f.hasCall("POST /applications/" + fakeSnoopApp + "/subscription?eventSource=channel%3Ac4") {
		t.Error("no subscription")
	}
}

// TestSnoopResyncWhenTheRecordingCannotBeRead: after a reconnect, a live
// recording that cannot be read (a 500, not a 404) is not taken for ended:
// its channel is subscribed to again and read, so that its answer counts.
func TestSnoopResyncWhenTheRecordingCannotBeRead(t *testing.T) {
	f, s := ringing(t, "c21", "Ringing", "r21")
	waitFor(t, 5*time.Second, "record while ringing", func() bool { return f.recording("r21") })
	f.mu.Lock()
	f.failLive = true
	f.mu.Unlock()
	f.setState("c21", "Up", false)
	f.drop()
	waitFor(t, 5*time.Second, "answer told after reconnect", func() bool { _, an := timesOf(s).get("r21"); return len(an) == 1 })
}

// TestSnoopReconnectWhileStarting: the WebSocket drops and comes back
// while Record still checks the channel's name, before its snoop channel
// exists: the resynchronisation must not take the entry for gone (the
// recording would never start although Record succeeded); it runs once
// Record has returned.
func TestSnoopReconnectWhileStarting(t *testing.T) {
	f := newFakeSnoopARI(t)
	cfg := f.config()
	cfg.RequestTimeout = 5 * time.Second // the read below is held over a reconnect
	s := runSnoop(t, cfg)
	f.setState("c30", "Ringing", false)
	var once sync.Once
	f.mu.Lock()
	f.beforeRead = func(id string) {
		if id != "c30" {
			return
		}
		once.Do(func() {
			f.mu.Lock()
			before := f.connects
			f.mu.Unlock()
			f.drop()
			for i := 0; i < 300; i++ {
				f.mu.Lock()
				again := f.connects > before
				f.mu.Unlock()
				if again && s.Connected() {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond) // the resynchronisation runs meanwhile
		})
	}
	f.mu.Unlock()
	if err := s.Record(context.Background(), "c30", fakeChanPrefix+"c30", Snoop{ID: "snoop-r30", Name: "r30", Spy: "both"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "recording after a reconnect during the start", func() bool { return f.recording("r30") })
	f.setState("c30", "Up", true)
	waitFor(t, 5*time.Second, "answer told", func() bool { _, an := timesOf(s).get("r30"); return len(an) >= 1 })
	if err := s.Stop(context.Background(), "snoop-r30", "r30"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "unsubscribed", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return !f.subscribed["channel:c30"] && !f.subscribed["channel:"+fakeChanPrefix+"c30"]
	})
}

func TestSnoopAdopt(t *testing.T) {
	f := newFakeSnoopARI(t)
	s := runSnoop(t, f.config())
	// A previous process left a snoop waiting on an answered channel, and
	// a recording already running on another.
	f.setState("c5", "Up", false)
	f.setState("c6", "Up", false)
	f.mu.Lock()
	f.snoops["snoop-r5"], f.snoops["snoop-r6"] = "c5", "c6"
	f.live["r6"] = true
	f.mu.Unlock()
	s.Adopt("c5", "snoop-r5", "r5")
	s.Adopt("c6", "snoop-r6", "r6")
	waitFor(t, 5*time.Second, "record of the waiting snoop", func() bool { return f.recording("r5") })
	time.Sleep(100 * time.Millisecond)
	if f.hasCall("POST /channels/snoop-r6/record") {
		t.Error("a running recording was started again")
	}
}

// TestSnoopRecordWaitsForTheReconnection: a start asked for while the
// application's WebSocket is down (a network blip) waits for it to come
// back rather than fail at once: the tracker would spend its retries
// straight away and record the call only from its next bridge.
func TestSnoopRecordWaitsForTheReconnection(t *testing.T) {
	f := newFakeSnoopARI(t)
	cfg := f.config()
	cfg.RequestTimeout = 3 * time.Second // far above the 0.2 s down and the reconnection
	s := runSnoop(t, cfg)
	f.setState("c31", "Ringing", false)
	f.mu.Lock()
	f.refuseEvents = true
	f.mu.Unlock()
	f.drop()
	waitFor(t, 5*time.Second, "disconnected", func() bool { return !s.Connected() })
	done := make(chan error, 1)
	go func() {
		done <- s.Record(context.Background(), "c31", "", Snoop{ID: "snoop-r31", Name: "r31", Spy: "both"})
	}()
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Record returned %v while disconnected; want it to wait", err)
	default:
	}
	f.mu.Lock()
	f.refuseEvents = false
	f.mu.Unlock()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Record did not return after the reconnection")
	}
	waitFor(t, 5*time.Second, "recording", func() bool { return f.recording("r31") })
	// Down for longer than RequestTimeout: it gives up.
	f.mu.Lock()
	f.refuseEvents = true
	f.mu.Unlock()
	f.drop()
	waitFor(t, 5*time.Second, "disconnected", func() bool { return !s.Connected() })
	f.setState("c32", "Ringing", false)
	if err := s.Record(context.Background(), "c32", "", Snoop{ID: "snoop-r32", Name: "r32", Spy: "both"}); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Record = %v after RequestTimeout disconnected, want ErrNotConnected", err)
	}
}

// TestSnoopRespawnsASnoopThatNeverEnteredTheApplication: a snoop channel
// destroyed before it entered the application (asked for just as the
// WebSocket dropped) is created again, up to maxRespawns times, and its
// recording starts; past that, or once the recording was stopped, it is
// left alone.
func TestSnoopRespawnsASnoopThatNeverEnteredTheApplication(t *testing.T) {
	tests := []struct {
		name      string
		die       int
		recording bool
	}{
		{"once", 1, true},
		{"twice", 2, true},
		{"more than maxRespawns", maxRespawns + 1, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSnoopARI(t)
			s := runSnoop(t, f.config())
			ch, name := fmt.Sprintf("c4%d", i), fmt.Sprintf("r4%d", i)
			f.setState(ch, "Ringing", false)
			f.mu.Lock()
			f.dieBeforeStasis = tt.die
			f.mu.Unlock()
			if err := s.Record(context.Background(), ch, "", Snoop{ID: "snoop-" + name, Name: name, Spy: "in"}); err != nil {
				t.Fatal(err)
			}
			if tt.recording {
				waitFor(t, 5*time.Second, "recording after the snoop channel was created again", func() bool { return f.recording(name) })
			} else {
				waitFor(t, 5*time.Second, "every respawn asked for", func() bool {
					return f.countCalls("POST /channels/"+ch+"/snoop") >= maxRespawns+1
				})
				time.Sleep(300 * time.Millisecond) // a respawn too many would come now
				if f.recording(name) {
					t.Error("recording after more than maxRespawns deaths")
				}
			}
			n := f.countCalls("POST /channels/" + ch + "/snoop")
			if want := min(tt.die, maxRespawns) + 1; n != want {
				t.Errorf("%d snoop requests, want %d", n, want)
			}
		})
	}
}

// TestSnoopRecordRequestLostOnTheWay: a record request that fails on the
// way (a connection cut) is checked against the live recordings: one that
// runs is kept, one that never reached Asterisk is asked for again (a
// check that meets the same cut: TestSnoopReadAfterCut; against this fake,
// Go's HTTP client sends a cut read again by itself on another of its
// warm connections).
func TestSnoopRecordRequestLostOnTheWay(t *testing.T) {
	for i, before := range []bool{false, true} {
		t.Run(fmt.Sprintf("before start %v", before), func(t *testing.T) {
			f := newFakeSnoopARI(t)
			s := runSnoop(t, f.config())
			ch, name := fmt.Sprintf("c5%d", i), fmt.Sprintf("r5%d", i)
			f.setState(ch, "Ringing", false)
			f.mu.Lock()
			f.loseRecord, f.loseBeforeStart = 1, before
			f.mu.Unlock()
			if err := s.Record(context.Background(), ch, "", Snoop{ID: "snoop-" + name, Name: name, Spy: "in"}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 5*time.Second, "recording", func() bool { return f.recording(name) })
			waitFor(t, 5*time.Second, "live recording read", func() bool { return f.hasCall("GET /recordings/live/" + name) })
			time.Sleep(50 * time.Millisecond)
			n := f.countCalls("POST /channels/snoop-" + name + "/record")
			if want := map[bool]int{false: 1, true: 2}[before]; n != want {
				t.Errorf("%d record requests, want %d", n, want)
			}
		})
	}
}

// TestSnoopSnoopRequestLostOnTheWay: a snoop request that fails on the
// way (a connection cut) does not fail the start: the snoop channel is
// read by its ID, kept when Asterisk created it, asked for again (same ID)
// when the request never reached Asterisk, and recorded either way.
func TestSnoopSnoopRequestLostOnTheWay(t *testing.T) {
	tests := []struct {
		name                 string
		before, race, refuse bool
		requests, gets       int
	}{
		{"created", false, false, false, 1, 1},
		{"never reached Asterisk", true, false, false, 2, 1},
		// Read before the first request was carried out: the second is
		// refused, and a second read finds the channel.
		{"carried out late", true, true, false, 2, 2},
		// The second is refused and the channel is gone: a third request.
		{"refused, its channel gone", true, false, true, 3, 2},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSnoopARI(t)
			s := runSnoop(t, f.config())
			ch, name := fmt.Sprintf("c6%d", i), fmt.Sprintf("r6%d", i)
			f.setState(ch, "Ringing", false)
			f.mu.Lock()
			f.loseSnoop, f.loseSnoopBeforeCreate, f.snoopRace, f.refuseRetry = 1, tt.before, tt.race, tt.refuse
			f.mu.Unlock()
			if err := s.Record(context.Background(), ch, "", Snoop{ID: "snoop-" + name, Name: name, Spy: "in"}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 5*time.Second, "recording", func() bool { return f.recording(name) })
			if n := f.countCalls("GET /channels/snoop-" + name); n != tt.gets {
				t.Errorf("the snoop channel read %d times after the cut, want %d", n, tt.gets)
			}
			if n := f.countCalls("POST /channels/" + ch + "/snoop"); n != tt.requests {
				t.Errorf("%d snoop requests, want %d", n, tt.requests)
			}
			if f.countCalls("DELETE /channels/snoop-"+name) != 0 {
				t.Error("the snoop channel was hung up")
			}
		})
	}
}

// TestSnoopRecordRefusedBeforeTheSnoopEnteredTheApplication: after a
// reconnect, the resynchronisation cannot tell whether a snoop channel
// asked for on the old connection has entered the application yet; a
// record request it sends too early is refused (409, "not in Stasis")
// and is sent again at the snoop channel's StasisStart. Before, the
// recording never started.
func TestSnoopRecordRefusedBeforeTheSnoopEnteredTheApplication(t *testing.T) {
	f := newFakeSnoopARI(t)
	s := runSnoop(t, f.config())
	f.setState("c70", "Ringing", false)
	gate := make(chan struct{}) // the snoop channel enters the application once the record request was refused
	// On a failure before the test opens it, the cleanup does.
	t.Cleanup(func() {
		select {
		case <-gate:
		default:
			close(gate)
		}
	})
	f.mu.Lock()
	f.stasisGate = gate
	before := f.connects
	f.mu.Unlock()
	if err := s.Record(context.Background(), "c70", "", Snoop{ID: "snoop-r70", Name: "r70", Spy: "in"}); err != nil {
		t.Fatal(err)
	}
	f.drop()
	waitFor(t, 5*time.Second, "reconnected", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.connects > before && s.Connected()
	})
	waitFor(t, 5*time.Second, "record request refused", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.refused409 > 0
	})
	close(gate)
	waitFor(t, 5*time.Second, "recording after the StasisStart", func() bool { return f.recording("r70") })
	if n := f.countCalls("POST /channels/snoop-r70/record"); n != 2 {
		t.Errorf("%d record requests, want 2 (refused, then at the StasisStart)", n)
	}
}

// TestSnoopReadAfterCut: a read that settles a request cut on the way is
// made once the application is connected, once more when it meets the
// cut itself, and not at all once the recording is no longer wanted.
func TestSnoopReadAfterCut(t *testing.T) {
	cut := errors.New("read tcp: software caused connection abort")
	tests := []struct {
		name     string
		results  []error
		stopped  bool
		wantRead bool
		wantErr  error
		calls    int
	}{
		{"answered", []error{nil}, false, true, nil, 1},
		{"not found", []error{&statusError{code: 404}}, false, true, ErrNotFound, 1},
		{"cut, then answered", []error{cut, nil}, false, true, nil, 2},
		{"cut twice", []error{cut, cut}, false, true, cut, 2},
		{"stopped", []error{nil}, true, false, nil, 0},
	}
	f := newFakeSnoopARI(t)
	s := runSnoop(t, f.config())
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("snoop-rc%d", i)
			s.mu.Lock()
			s.entries[id] = &snoopEntry{channelID: "c", snoopID: id, stopped: tt.stopped}
			s.mu.Unlock()
			calls := 0
			read, err := s.readAfterCut(context.Background(), id, func() error {
				calls++
				return tt.results[min(calls, len(tt.results))-1]
			})
			if read != tt.wantRead || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("readAfterCut = %v, %v; want %v, %v", read, err, tt.wantRead, tt.wantErr)
			}
			if calls != tt.calls {
				t.Errorf("%d reads, want %d", calls, tt.calls)
			}
		})
	}
}

// TestSnoopNotInStasisAfterAReconnect: a record request refused as "not
// in Stasis" is sent again at once when the application reconnected
// since it was sent (the StasisStart may have been lost with the
// connection), and at the StasisStart otherwise.
func TestSnoopNotInStasisAfterAReconnect(t *testing.T) {
	for i, reconnected := range []bool{true, false} {
		t.Run(fmt.Sprintf("reconnected %v", reconnected), func(t *testing.T) {
			f := newFakeSnoopARI(t)
			s := runSnoop(t, f.config())
			ch, id, name := fmt.Sprintf("c8%d", i), fmt.Sprintf("snoop-r8%d", i), fmt.Sprintf("r8%d", i)
			f.setState(ch, "Up", false)
			f.mu.Lock()
			f.snoops[id] = ch
			f.mu.Unlock()
			s.mu.Lock()
			s.entries[id] = &snoopEntry{channelID: ch, snoopID: id, name: name, spy: "in", checked: true, inStasis: true, recording: true}
			sent := sentAt{conn: s.subs.connection}
			if reconnected {
				sent.conn--
			}
			s.mu.Unlock()
			if !s.notInStasisYet(id, sent) {
				t.Fatal("notInStasisYet = false for a wanted recording")
			}
			if reconnected {
				waitFor(t, 5*time.Second, "record request sent again", func() bool { return f.recording(name) })
				return
			}
			time.Sleep(100 * time.Millisecond)
			if f.hasCall("POST /channels/" + id + "/record") {
				t.Fatal("record request sent again before the StasisStart")
			}
			f.send("StasisStart", map[string]any{"args": []string{}, "channel": chanJSON(id, "Up")})
			waitFor(t, 5*time.Second, "record request sent at the StasisStart", func() bool { return f.recording(name) })
		})
	}
}

func TestSnoopRecordWhileDisconnected(t *testing.T) {
	s := NewSnoopClient(Config{URL: "http://127.0.0.1:1/ari", Username: "u", Password: "p"}, nil, testLogger(t))
	err := s.Record(context.Background(), "c7", "", Snoop{ID: "snoop-r7", Name: "r7", Spy: "both"})
	if !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Record = %v, want ErrNotConnected", err)
	}
	if s.cfg.Application != DefaultSnoopApplication {
		t.Errorf("application %q, want %q", s.cfg.Application, DefaultSnoopApplication)
	}
}

func TestSnoopRecordFailsOnGoneChannel(t *testing.T) {
	f := newFakeSnoopARI(t)
	s := runSnoop(t, f.config())
	err := s.Record(context.Background(), "gone", "", Snoop{ID: "snoop-r8", Name: "r8", Spy: "both"})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Record = %v, want ErrNotFound", err)
	}
	s.mu.Lock()
	n := len(s.entries)
	s.mu.Unlock()
	if n != 0 {
		t.Errorf("%d entries left after a failed Record", n)
	}
}

// TestSnoopBothDirectionsApart: one recording through two snoop channels,
// one spying on what the channel receives (the phone's voice), one on what
// it hears: one subscription and one read of the channel, both snoop
// channels created, and both recorded once it answers.
func TestSnoopBothDirectionsApart(t *testing.T) {
	f := newFakeSnoopARI(t)
	s := runSnoop(t, f.config())
	f.setState("c9", "Ringing", false)
	err := s.Record(context.Background(), "c9", "", Snoop{ID: "snoop-r9.in", Name: "r9.in", Spy: "in"}, Snoop{ID: "snoop-r9.out", Name: "r9.out", Spy: "out"})
	if err != nil {
		t.Fatal(err)
	}
	if !f.hasCall("POST /channels/c9/snoop?app="+fakeSnoopApp+"&snoopId=snoop-r9.in&spy=in&whisper=none") ||
		!f.hasCall("POST /channels/c9/snoop?app="+fakeSnoopApp+"&snoopId=snoop-r9.out&spy=out&whisper=none") {
		t.Fatalf("snoop requests: %q", f.callLog())
	}
	f.mu.Lock()
	subs := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, "POST /applications/"+fakeSnoopApp+"/subscription") {
			subs++
		}
	}
	f.mu.Unlock()
	if subs != 1 {
		t.Errorf("%d subscriptions for one recording, want 1", subs)
	}
	f.setState("c9", "Up", true)
	waitFor(t, 5*time.Second, "both directions recorded", func() bool { return f.recording("r9.in") && f.recording("r9.out") })
}

// TestSnoopNamesTheChannelByName: the subscription and the snoop channel
// name the channel by name (a hash lookup in Asterisk), the read is by
// unique ID, and the recording starts on answer.
func TestSnoopNamesTheChannelByName(t *testing.T) {
	f := newFakeSnoopARI(t)
	s := runSnoop(t, f.config())
	f.setState("c12", "Ringing", false)
	if err := s.Record(context.Background(), "c12", fakeChanPrefix+"c12", Snoop{ID: "snoop-r12", Name: "r12", Spy: "both"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"POST /applications/" + fakeSnoopApp + "/subscription?eventSource=channel%3APJSIP%2F235-c12",
		"GET /channels/c12",
		"POST /channels/PJSIP%2F235-c12/snoop?",
	} {
		if !f.hasCall(want) {
			t.Errorf("no request %q in %q", want, f.callLog())
		}
	}
	f.setState("c12", "Up", true)
	waitFor(t, 5*time.Second, "record request", func() bool { return f.recording("r12") })
	if err := s.Stop(context.Background(), "snoop-r12", "r12"); err != nil {
		t.Fatal(err)
	}
	if !f.hasCall("DELETE /channels/Snoop%2Fc12-") || f.snoopExists("snoop-r12") {
		t.Errorf("snoop channel not hung up by its name: %q", f.callLog())
	}
}

// TestSnoopSubscriptionAndSnoopGoOutTogether: the snoop channel is asked
// for without waiting for the subscription's reply (each can wait a second
// on a loaded PBX).
func TestSnoopSubscriptionAndSnoopGoOutTogether(t *testing.T) {
	f, s := runSnoopOnAnswered(t, "c17")
	f.mu.Lock()
	f.holdSubscription = true
	f.mu.Unlock()
	if err := s.Record(context.Background(), "c17", fakeChanPrefix+"c17", Snoop{ID: "snoop-r17", Name: "r17", Spy: "both"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "recording", func() bool { return f.recording("r17") })
}

// TestSnoopRecordsBeforeTheSubscriptionReplies: the recording starts once
// its snoop channel is in the application, without waiting for the
// subscription to the recorded channel, whose reply a loaded PBX can keep
// a second; an answer after the subscription is still told with its time.
func TestSnoopRecordsBeforeTheSubscriptionReplies(t *testing.T) {
	f := newFakeSnoopARI(t)
	f.subscribeAfterRecording = true
	s := runSnoop(t, f.config())
	recordRinging(t, f, s, "c19", "Ringing", "r19")
	if !f.recording("r19") {
		t.Fatal("Record returned without the recording live")
	}
	f.setState("c19", "Up", true)
	tm := timesOf(s)
	waitFor(t, 5*time.Second, "answer time told", func() bool { _, an := tm.get("r19"); return len(an) == 1 })
	if _, an := tm.get("r19"); an[0].IsZero() {
		t.Error("answered at the zero time; want the event's time")
	}
}

// TestSnoopAnsweredBeforeTheSubscription: a channel that answered after
// its recording started but before the PBX served the subscription is read
// Up with no answer event: its answer is told at the zero time (when is
// not known), so nothing is cut and the file keeps the ringing it holds.
func TestSnoopAnsweredBeforeTheSubscription(t *testing.T) {
	f := newFakeSnoopARI(t)
	f.subscribeAfterRecording, f.answerBeforeSubscribing = true, "c22"
	s := runSnoop(t, f.config())
	recordRinging(t, f, s, "c22", "Ringing", "r22")
	tm := timesOf(s)
	waitFor(t, 5*time.Second, "answer told", func() bool { _, an := tm.get("r22"); return len(an) == 1 })
	st, an := tm.get("r22")
	if len(st) != 1 || !an[0].IsZero() {
		t.Errorf("started %v, answered %v: want a start, and the zero time for the answer", st, an)
	}
	if !f.recording("r22") {
		t.Error("the recording stopped")
	}
}

// TestSnoopSubscriptionFailureKeepsTheRecording: a subscription refused
// after the recording started fails nothing: the recording runs on (ending
// it would leave a fragment beside the retried recording), the snoop
// channel stays, and no answer is told here (the recording engine tells
// AMI's).
func TestSnoopSubscriptionFailureKeepsTheRecording(t *testing.T) {
	f, s := runSnoopOnAnswered(t, "c18")
	f.mu.Lock()
	f.failSubscription, f.subscribeAfterRecording = true, true
	f.mu.Unlock()
	if err := s.Record(context.Background(), "c18", fakeChanPrefix+"c18", Snoop{ID: "snoop-r18", Name: "r18", Spy: "both"}); err != nil {
		t.Fatalf("Record failed because the subscription did: %v", err)
	}
	waitFor(t, 5*time.Second, "recording", func() bool { return f.recording("r18") })
	if !f.snoopExists("snoop-r18") {
		t.Error("the snoop channel was hung up")
	}
	if _, an := timesOf(s).get("r18"); len(an) != 0 {
		t.Errorf("answer told (%v) although the subscription failed", an)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.entries) != 1 {
		t.Errorf("entries: %v, want the recording's", s.entries)
	}
}

// TestSnoopNameOfAnotherChannelFallsBackToTheUniqueID: a name that is
// unknown, or now another channel's, is not used for the snoop channel:
// the channel is named by its unique ID.
func TestSnoopNameOfAnotherChannelFallsBackToTheUniqueID(t *testing.T) {
	f, s := runSnoopOnAnswered(t, "c13", "other")
	f.names[fakeChanPrefix+"old13"] = "other"
	if err := s.Record(context.Background(), "c13", fakeChanPrefix+"old13", Snoop{ID: "snoop-r13", Name: "r13", Spy: "both"}); err != nil {
		t.Fatal(err)
	}
	f.setState("c14", "Up", false)
	if err := s.Record(context.Background(), "c14", fakeChanPrefix+"gone14", Snoop{ID: "snoop-r14", Name: "r14", Spy: "both"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "both recordings", func() bool { return f.recording("r13") && f.recording("r14") })
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.snoops["snoop-r13"] != "c13" || f.snoops["snoop-r14"] != "c14" {
		t.Errorf("snoop channels on %q and %q, want c13 and c14", f.snoops["snoop-r13"], f.snoops["snoop-r14"])
	}
	if !f.subscribed["channel:c13"] || !f.subscribed["channel:c14"] {
		t.Errorf("subscriptions %v: want c13 and c14 by unique ID", f.subscribed)
	}
}

// TestSnoopNameGoneBeforeTheSnoopFallsBack: a name that Asterisk no
// longer knows when the snoop channel is asked for (the channel renamed
// after it was read) falls back to the unique ID.
func TestSnoopNameGoneBeforeTheSnoopFallsBack(t *testing.T) {
	f, s := runSnoopOnAnswered(t, "c16")
	f.renameOnGet["c16"] = "nobody"
	if err := s.Record(context.Background(), "c16", fakeChanPrefix+"c16", Snoop{ID: "snoop-r16", Name: "r16", Spy: "both"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "recording", func() bool { return f.recording("r16") })
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.snoops["snoop-r16"] != "c16" {
		t.Errorf("snoop channel on %q, want c16", f.snoops["snoop-r16"])
	}
}

// TestSnoopOnAnotherChannelIsRefused: a snoop channel whose own name shows
// it spies on another channel than the one meant (the name changed hands
// after the check) fails the start, and is hung up.
func TestSnoopOnAnotherChannelIsRefused(t *testing.T) {
	f, s := runSnoopOnAnswered(t, "c15", "other")
	f.renameOnGet["c15"] = "other"
	err := s.Record(context.Background(), "c15", fakeChanPrefix+"c15", Snoop{ID: "snoop-r15", Name: "r15", Spy: "both"})
	if !errors.Is(err, ErrWrongChannel) {
		t.Fatalf("Record = %v, want ErrWrongChannel", err)
	}
	waitFor(t, 5*time.Second, "the wrong snoop channel hung up", func() bool { return !f.snoopExists("snoop-r15") })
	time.Sleep(100 * time.Millisecond)
	if f.recording("r15") {
		t.Error("recorded another channel")
	}
}

// runSnoopOnAnswered runs a SnoopClient against a fake on which the
// channels ids are answered.
func runSnoopOnAnswered(t *testing.T, ids ...string) (*fakeSnoopARI, *SnoopClient) {
	t.Helper()
	f := newFakeSnoopARI(t)
	s := runSnoop(t, f.config())
	for _, id := range ids {
		f.setState(id, "Up", false)
	}
	return f, s
}

// TestRespawnCause: a respawn's warning says the application was
// reconnecting only when its connection changed since the snoop channel
// was asked for, or is down; otherwise the snoop channel left the
// application on a live connection.
func TestRespawnCause(t *testing.T) {
	tests := []struct {
		name      string
		e         snoopEntry
		conn      int
		connected bool
		want      string
	}{
		{"asked for on this connection", snoopEntry{checked: true, conn: 3}, 3, true, causeLeft},
		{"asked for on an earlier connection", snoopEntry{checked: true, conn: 2}, 3, true, causeReconnect},
		{"application down", snoopEntry{checked: true, conn: 3}, 3, false, causeReconnect},
		{"not checked yet, connected", snoopEntry{}, 3, true, causeLeft},
		{"not checked yet, down", snoopEntry{}, 3, false, causeReconnect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := respawnCause(&tt.e, tt.conn, tt.connected); got != tt.want {
				t.Errorf("respawnCause = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSnoopStopLostOnTheWayHangsUpLater: a stop whose requests are both
// cut on the way (the PBX out of reach) returns its error, and the snoop
// channel is hung up again in the background until it lands: the
// recording ends, instead of running on until the call ends.
func TestSnoopStopLostOnTheWayHangsUpLater(t *testing.T) {
	f := newFakeSnoopARI(t)
	s := runSnoop(t, f.config())
	ch, name := "c90", "r90"
	f.setState(ch, "Up", false)
	if err := s.Record(context.Background(), ch, "", Snoop{ID: "snoop-" + name, Name: name, Spy: "in"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "recording", func() bool { return f.recording(name) })
	f.mu.Lock()
	f.loseStops = 4 // the stop, its hangup, then two hangups in the background
	f.mu.Unlock()
	err := s.Stop(context.Background(), "snoop-"+name, name)
	if err == nil || !strings.Contains(err.Error(), "hung up again in the background") {
		t.Fatalf("Stop = %v, want the cut's error, saying the snoop channel is hung up again", err)
	}
	waitFor(t, 10*time.Second, "the recording ended by a later hangup", func() bool { return !f.recording(name) })
	if n := f.countCalls("DELETE /channels/"); n != 4 {
		t.Errorf("%d hangups, want 4 (the stop's, two cut in the background, the one that landed)", n)
	}
}
