package ari

import (
	"encoding/json"
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

const (
	fakeUser     = "recpolicy"
	fakePassword = "fake-secret"
	fakeApp      = "recpolicy"
)

// fakeARI is an in-memory Asterisk ARI: the events WebSocket and the REST
// requests the client makes, recorded in order.
type fakeARI struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	conns    []*websocket.Conn
	connects int
	// opening counts the event WebSockets whose handshake was accepted
	// and that are not in conns yet: Asterisk registers the application
	// with the handshake, so send waits for them.
	opening    int
	calls      []string
	channels   map[string]*fakeChannel
	playbacks  map[string]string // playback → channel
	fail       map[string]int    // operation → HTTP status to answer
	playResult string            // PlaybackFinished state sent after playDelay; "" = never
	playDelay  time.Duration
	eventFirst bool // send PlaybackFinished before replying to play
	appMissing bool // GET /applications/{app} answers 404
	refuseWS   bool // the events WebSocket closes at once (Asterisk's HTTP server down)
	silent     bool // the WebSocket neither reads nor answers pings
	stop       chan struct{}
}

type fakeChannel struct {
	id, state string
	inStasis  bool
	vars      map[string]string
}

func newFakeARI(t *testing.T) *fakeARI {
	f := &fakeARI{
		t:          t,
		channels:   map[string]*fakeChannel{},
		playbacks:  map[string]string{},
		fail:       map[string]int{},
		playResult: "done",
		playDelay:  50 * time.Millisecond,
		stop:       make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ari/events", eventSocket(&f.mu, &f.opening, nil, f.serveEvents))
	mux.HandleFunc("POST /ari/channels/{id}/answer", f.rest("answer", f.answer))
	mux.HandleFunc("POST /ari/channels/{id}/play/{pb}", f.rest("play", f.play))
	mux.HandleFunc("POST /ari/channels/{id}/variable", f.rest("setvar", f.setVar))
	mux.HandleFunc("GET /ari/channels/{id}/variable", f.rest("getvar", f.getVar))
	mux.HandleFunc("POST /ari/channels/{id}/continue", f.rest("continue", f.continueCh))
	mux.HandleFunc("GET /ari/channels/{id}", f.rest("channel", f.channel))
	mux.HandleFunc("DELETE /ari/channels/{id}", f.rest("hangup", f.hangup))
	mux.HandleFunc("GET /ari/playbacks/{pb}", f.rest("playback", f.playback))
	mux.HandleFunc("DELETE /ari/playbacks/{pb}", f.rest("stop", f.stopPlayback))
	mux.HandleFunc("GET /ari/applications/{app}", f.rest("application", f.application))
	mux.HandleFunc("GET /ari/asterisk/ping", servePing) // the warm connections' pings, not recorded
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		close(f.stop)
		f.drop()
		f.srv.Close()
	})
	return f
}

func (f *fakeARI) config() Config {
	return Config{
		URL:            f.srv.URL + "/ari",
		Username:       fakeUser,
		Password:       fakePassword,
		Application:    fakeApp,
		DialTimeout:    time.Second,
		RequestTimeout: time.Second,
		MinBackoff:     20 * time.Millisecond,
		MaxBackoff:     200 * time.Millisecond,
		HealthInterval: 100 * time.Millisecond,
	}
}

func (f *fakeARI) serveEvents(ws *websocket.Conn) {
	req := ws.Request()
	f.mu.Lock()
	if u, p, ok := req.BasicAuth(); !ok || u != fakeUser || p != fakePassword || req.URL.Query().Get("app") != fakeApp || f.refuseWS {
		f.opening--
		f.mu.Unlock()
		_ = ws.Close()
		return
	}
	f.opening--
	f.conns = append(f.conns, ws)
	f.connects++
	silent := f.silent
	f.mu.Unlock()
	defer f.forgetConn(ws)
	if silent {
		<-f.stop
		return
	}
	for { // reading answers pings
		var b []byte
		if err := websocket.Message.Receive(ws, &b); err != nil {
			return
		}
	}
}

func (f *fakeARI) forgetConn(ws *websocket.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.conns = slices.DeleteFunc(f.conns, func(c *websocket.Conn) bool { return c == ws })
}

// drop closes the event WebSockets, as when Asterisk restarts its HTTP
// server or the network fails.
func (f *fakeARI) drop() {
	f.mu.Lock()
	conns := slices.Clone(f.conns)
	f.conns = nil
	f.mu.Unlock()
	for _, ws := range conns {
		_ = ws.Close()
	}
}

func (f *fakeARI) connections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.connects
}

func (f *fakeARI) set(fn func(f *fakeARI)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// send writes an event to the connected WebSockets.
func (f *fakeARI) send(typ string, fields map[string]any) {
	ev := map[string]any{
		"type":        typ,
		"application": fakeApp,
		"timestamp":   time.Now().Format("2006-01-02T15:04:05.000-0700"),
		"asterisk_id": "02:fc:00:00:00:01",
	}
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

func (f *fakeARI) channelJSON(id string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.channelJSONLocked(id)
}

func (f *fakeARI) channelJSONLocked(id string) map[string]any {
	ch := f.channels[id]
	state := "Down"
	dialplan := map[string]any{"context": "recpolicy-inbound", "exten": "4506983235", "priority": 2, "app_name": "Goto", "app_data": ""}
	if ch != nil {
		state = ch.state
		if ch.inStasis {
			dialplan = map[string]any{"context": "recpolicy-greet", "exten": "s", "priority": 2, "app_name": "Stasis", "app_data": "recpolicy,greeting"}
		}
	}
	return map[string]any{
		"id":           id,
		"name":         "PJSIP/carrier-" + id,
		"state":        state,
		"caller":       map[string]any{"name": "", "number": "5145550000"},
		"connected":    map[string]any{"name": "", "number": ""},
		"accountcode":  "",
		"dialplan":     dialplan,
		"creationtime": time.Now().Format("2006-01-02T15:04:05.000-0700"),
		"language":     "fr",
	}
}

// addChannel puts a channel in Stasis without telling anyone (a channel
// left there by an earlier connection).
func (f *fakeARI) addChannel(id, state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.channels[id] = &fakeChannel{id: id, state: state, inStasis: true, vars: map[string]string{}}
}

// startCall puts a channel in Stasis and sends its StasisStart.
func (f *fakeARI) startCall(id, state string, args ...string) {
	f.addChannel(id, state)
	if args == nil {
		args = []string{}
	}
	f.send("StasisStart", map[string]any{"args": args, "channel": f.channelJSON(id)})
}

// hangupCaller: the caller hangs up while in Stasis.
func (f *fakeARI) hangupCaller(id string) {
	f.mu.Lock()
	ch := f.channels[id]
	delete(f.channels, id)
	var pbs []string
	for pb, c := range f.playbacks {
		if c == id {
			pbs = append(pbs, pb)
			delete(f.playbacks, pb)
		}
	}
	f.mu.Unlock()
	if ch == nil || !ch.inStasis {
		return
	}
	js := map[string]any{"id": id, "name": "PJSIP/carrier-" + id, "state": "Up"}
	f.send("ChannelHangupRequest", map[string]any{"cause": 16, "soft": false, "channel": js})
	for _, pb := range pbs {
		f.send("PlaybackFinished", map[string]any{"playback": map[string]any{"id": pb, "state": "failed", "target_uri": "channel:" + id}})
	}
	f.send("StasisEnd", map[string]any{"channel": js})
}

// finishPlayback ends a playback with state, as Asterisk would.
func (f *fakeARI) finishPlayback(pb, state string) {
	f.mu.Lock()
	id, ok := f.playbacks[pb]
	delete(f.playbacks, pb)
	f.mu.Unlock()
	if ok {
		f.send("PlaybackFinished", map[string]any{"playback": map[string]any{"id": pb, "state": state, "media_uri": "sound:x", "target_uri": "channel:" + id}})
	}
}

// playbackOf returns the channel's current playback, if any.
func (f *fakeARI) playbackOf(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for pb, c := range f.playbacks {
		if c == id {
			return pb
		}
	}
	return ""
}

func (f *fakeARI) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// hasCall reports whether a request starting with prefix was made.
func (f *fakeARI) hasCall(prefix string) bool {
	return slices.ContainsFunc(f.callLog(), func(c string) bool { return strings.HasPrefix(c, prefix) })
}

func (f *fakeARI) waitCall(t *testing.T, prefix string) {
	t.Helper()
	waitFor(t, 5*time.Second, "request "+prefix, func() bool { return f.hasCall(prefix) })
}

type handler func(w http.ResponseWriter, r *http.Request) (int, any)

// rest wraps a REST handler: authentication, recording, injected failures.
func (f *fakeARI) rest(op string, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != fakeUser || p != fakePassword {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		call := r.Method + " " + strings.TrimPrefix(r.URL.Path, "/ari")
		if r.URL.RawQuery != "" {
			call += "?" + r.URL.RawQuery
		}
		f.mu.Lock()
		f.calls = append(f.calls, call)
		code := f.fail[op]
		f.mu.Unlock()
		if code != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			fmt.Fprintf(w, `{"message":"injected failure"}`)
			return
		}
		status, body := h(w, r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if body != nil {
			_ = json.NewEncoder(w).Encode(body)
		}
	}
}

func notFound(what string) (int, any) {
	return http.StatusNotFound, map[string]string{"message": what + " not found"}
}

// inStasis returns the channel when it is in Stasis.
func (f *fakeARI) inStasis(id string) (*fakeChannel, int, any) {
	ch := f.channels[id]
	if ch == nil {
		code, body := notFound("Channel")
		return nil, code, body
	}
	if !ch.inStasis {
		return nil, http.StatusConflict, map[string]string{"message": "Channel not in Stasis application"}
	}
	return ch, 0, nil
}

func (f *fakeARI) answer(_ http.ResponseWriter, r *http.Request) (int, any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch, code, body := f.inStasis(r.PathValue("id"))
	if ch == nil {
		return code, body
	}
	ch.state = "Up"
	return http.StatusNoContent, nil
}

func (f *fakeARI) play(_ http.ResponseWriter, r *http.Request) (int, any) {
	id, pb := r.PathValue("id"), r.PathValue("pb")
	f.mu.Lock()
	ch, code, body := f.inStasis(id)
	if ch == nil {
		f.mu.Unlock()
		return code, body
	}
	f.playbacks[pb] = id
	result, delay, first := f.playResult, f.playDelay, f.eventFirst
	f.mu.Unlock()
	reply := map[string]any{"id": pb, "media_uri": r.URL.Query().Get("media"), "target_uri": "channel:" + id, "state": "queued"}
	if first {
		f.finishPlayback(pb, result)
		time.Sleep(50 * time.Millisecond)
	} else if result != "" {
		time.AfterFunc(delay, func() { f.finishPlayback(pb, result) })
	}
	return http.StatusCreated, reply
}

func (f *fakeARI) stopPlayback(_ http.ResponseWriter, r *http.Request) (int, any) {
	pb := r.PathValue("pb")
	f.mu.Lock()
	_, ok := f.playbacks[pb]
	f.mu.Unlock()
	if !ok {
		return notFound("Playback")
	}
	f.finishPlayback(pb, "done")
	return http.StatusNoContent, nil
}

func (f *fakeARI) playback(_ http.ResponseWriter, r *http.Request) (int, any) {
	pb := r.PathValue("pb")
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.playbacks[pb]
	if !ok {
		return notFound("Playback")
	}
	return http.StatusOK, map[string]any{"id": pb, "state": "playing", "target_uri": "channel:" + id}
}

func (f *fakeARI) setVar(_ http.ResponseWriter, r *http.Request) (int, any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := f.channels[r.PathValue("id")]
	if ch == nil {
		return notFound("Channel")
	}
	ch.vars[strings.TrimLeft(r.URL.Query().Get("variable"), "_")] = r.URL.Query().Get("value")
	return http.StatusNoContent, nil
}

func (f *fakeARI) getVar(_ http.ResponseWriter, r *http.Request) (int, any) {
	id, name := r.PathValue("id"), r.URL.Query().Get("variable")
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := f.channels[id]
	if ch == nil {
		return notFound("Channel")
	}
	switch name {
	case "CHANNEL(linkedid)":
		return http.StatusOK, map[string]string{"value": "linked-" + id}
	case "STACK_PEEK(1,e,1)":
		return http.StatusOK, map[string]string{"value": "4506983235"}
	}
	v, ok := ch.vars[name]
	if !ok {
		return notFound("Provided variable was")
	}
	return http.StatusOK, map[string]string{"value": v}
}

// variable returns a channel variable as the dialplan would read it.
func (f *fakeARI) variable(id, name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ch := f.channels[id]; ch != nil {
		return ch.vars[name]
	}
	return ""
}

func (f *fakeARI) continueCh(_ http.ResponseWriter, r *http.Request) (int, any) {
	id := r.PathValue("id")
	f.mu.Lock()
	ch, code, body := f.inStasis(id)
	if ch == nil {
		f.mu.Unlock()
		return code, body
	}
	ch.inStasis = false
	js := f.channelJSONLocked(id)
	f.mu.Unlock()
	f.send("StasisEnd", map[string]any{"channel": js})
	return http.StatusNoContent, nil
}

func (f *fakeARI) channel(_ http.ResponseWriter, r *http.Request) (int, any) {
	id := r.PathValue("id")
	f.mu.Lock()
	_, ok := f.channels[id]
	f.mu.Unlock()
	if !ok {
		return notFound("Channel")
	}
	return http.StatusOK, f.channelJSON(id)
}

func (f *fakeARI) hangup(_ http.ResponseWriter, r *http.Request) (int, any) {
	id := r.PathValue("id")
	f.mu.Lock()
	_, ok := f.channels[id]
	f.mu.Unlock()
	if !ok {
		return notFound("Channel")
	}
	f.hangupCaller(id)
	return http.StatusNoContent, nil
}

func (f *fakeARI) application(_ http.ResponseWriter, r *http.Request) (int, any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.PathValue("app") != fakeApp || f.appMissing {
		return notFound("Application")
	}
	ids := []string{}
	for id, ch := range f.channels {
		if ch.inStasis {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return http.StatusOK, map[string]any{"name": fakeApp, "channel_ids": ids, "bridge_ids": []string{}, "endpoint_ids": []string{}, "device_names": []string{}}
}
