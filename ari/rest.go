package ari

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/CyCoreSystems/ari/v6"
)

// maxReplyBytes caps the size of a REST reply read into memory.
const maxReplyBytes = 4 << 20

// restClient issues the ARI REST requests of a client (greeting, snoop),
// each with a context and a timeout (the library's native client has
// neither), over one or two lanes of connections.
type restClient struct {
	base     string
	user     string
	password string
	timeout  time.Duration
	main     *lane // every request but the prompt lane's
	// prompt is a lane of connections of its own for the requests that a
	// recording's start waits on and that Asterisk answers in tens of
	// milliseconds (see promptConns); nil sends them on main.
	prompt *lane
}

// lane is a pool of connections to Asterisk with its own cap and accept
// gate.
type lane struct {
	http  *http.Client
	gate  *acceptGate // paces the new connections
	conns int
}

// maxConnsPerClient bounds each REST client's main lane: two clients
// (greeting, snoop), the snoop client's prompt lane and the two WebSockets
// stay under Asterisk's default of 100 HTTP sessions (40 + 40 + 8 + 2).
const maxConnsPerClient = 40

// promptConns is the snoop client's prompt lane (restClient.doPrompt): the
// requests that a recording's start waits on and that Asterisk answers in
// tens of milliseconds (the channel reads that check the name and the
// state, the record request once the snoop channel exists, and the reads
// that settle a snoop or record request cut on the way). Under a
// burst Asterisk holds each snoop channel's creation and each subscription
// for hundreds of milliseconds (stop 38, 100 calls in 2 s: median 0.27 s
// of those over 0.1 s, up to 4.5 s), and those filled the 40 connections
// while the channel reads and record requests, which Asterisk answered in
// 13 to 28 ms (median), waited 0.8 s (median of those that waited over
// 0.1 s) to 1.5 s for one of them: the recordings started that much
// later. Its connections are kept warm, so it rarely opens one: it has
// one accept slot (promptPendingAccepts).
const promptConns = 8

// idleConnTimeout is how long the client keeps an idle connection to
// Asterisk, which closes it itself after its HTTP session_keep_alive (15 s
// by default). Closing it first, at 12 s, would spare a request written on
// a connection Asterisk is closing (net/http does not retry a POST), but
// measured under load it made bursts a few seconds apart open more
// connections (snoop, 3 runs of burst, restart and long, twice: 14 of 18
// waves within every target, against 23 of 24 with 60 s): the client
// reuses the most recently used connection first, so one Asterisk is
// about to close is the last it picks.
const idleConnTimeout = 60 * time.Second

// newRESTClient builds a client for cfg, which must have its defaults
// applied and be valid: one lane of maxConnsPerClient connections, and,
// with prompt, a prompt lane of promptConns more (see restClient.doPrompt)
// with promptPendingAccepts accept slots of its own.
func newRESTClient(cfg Config, prompt bool) (*restClient, error) {
	base, err := cfg.restBase()
	if err != nil {
		return nil, err
	}
	r := &restClient{
		base:     base,
		user:     cfg.Username,
		password: cfg.Password,
		timeout:  cfg.RequestTimeout,
	}
	r.main = newLane(cfg, maxConnsPerClient, maxPendingAccepts)
	if prompt {
		r.prompt = newLane(cfg, promptConns, promptPendingAccepts)
	}
	return r, nil
}

// newLane builds a pool of at most conns connections to Asterisk, of
// which at most pending await Asterisk's first reply at once.
func newLane(cfg Config, conns, pending int) *lane {
	dialer := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 15 * time.Second}
	gate := newAcceptGate(pending, dialer.DialContext)
	transport := &http.Transport{
		Proxy:                 nil, // the PBX is reached directly, whatever HTTP_PROXY says
		DialContext:           gate.DialContext,
		TLSHandshakeTimeout:   cfg.DialTimeout,
		ResponseHeaderTimeout: cfg.RequestTimeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          conns,
		MaxIdleConnsPerHost:   conns,
		// Asterisk serves at most 100 HTTP sessions at once (http.conf's
		// sessionlimit), WebSockets included, and closes the connections
		// past that: under a burst the requests wait here for a
		// connection instead.
		MaxConnsPerHost: conns,
		IdleConnTimeout: idleConnTimeout,
	}
	return &lane{
		gate:  gate,
		conns: conns,
		http: &http.Client{
			Transport: transport,
			Timeout:   cfg.RequestTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
}

// warmConns is how many idle connections each REST client's main lane
// keeps open to Asterisk (warm), so that a burst of requests finds them
// ready instead of opening them all at once through Asterisk's listen
// backlog; a prompt lane keeps all its connections warm.
const warmConns = 16

// warm sends n pings at once, and as many as the prompt lane holds on it,
// which leaves up to that many connections idle in the pools, and returns
// once all have ended: their errors joined, nil when all succeeded.
func (r *restClient) warm(ctx context.Context, n int) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	ping := func(c *http.Client) {
		if err := r.ping(ctx, c); err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	for range n {
		wg.Go(func() { ping(r.main.http) })
	}
	if r.prompt != nil {
		for range r.prompt.conns {
			wg.Go(func() { ping(r.prompt.http) })
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ping asks Asterisk whether it is up (GET /asterisk/ping).
func (r *restClient) ping(ctx context.Context, c *http.Client) error {
	if err := r.send(ctx, c, http.MethodGet, "/asterisk/ping", nil, nil); err != nil {
		return fmt.Errorf("ping asterisk: %w", err)
	}
	return nil
}

// close releases idle connections.
func (r *restClient) close() {
	r.main.http.CloseIdleConnections()
	if r.prompt != nil {
		r.prompt.http.CloseIdleConnections()
	}
}

// do sends one request and decodes a JSON reply into out when out is not nil.
func (r *restClient) do(ctx context.Context, method, path string, query url.Values, out any) error {
	return r.send(ctx, r.main.http, method, path, query, out)
}

// doPrompt is do on the prompt lane, when the client has one: for a request
// that a recording's start waits on and that Asterisk answers at once,
// which must not wait for a connection behind the requests Asterisk holds
// long under a burst (snoop channels created, subscriptions).
func (r *restClient) doPrompt(ctx context.Context, method, path string, query url.Values, out any) error {
	if r.prompt == nil {
		return r.do(ctx, method, path, query, out)
	}
	return r.send(ctx, r.prompt.http, method, path, query, out)
}

// send sends one request on c.
func (r *restClient) send(ctx context.Context, c *http.Client, method, path string, query url.Values, out any) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	target := r.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.SetBasicAuth(r.user, r.password)
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // its message repeats the URL; the caller names the action
		}
		return err
	}
	defer resp.Body.Close() //nolint:errcheck // read-only body
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	if err != nil {
		return fmt.Errorf("read reply: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		serr := &statusError{code: resp.StatusCode}
		var msg struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &msg) == nil {
			serr.message = msg.Message
		}
		return serr
	}
	if out != nil && len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("decode reply: %w", err)
		}
	}
	return nil
}

func channelPath(id string, rest string) string {
	return "/channels/" + url.PathEscape(id) + rest
}

// answer answers the channel.
func (r *restClient) answer(ctx context.Context, channelID string) error {
	if err := r.do(ctx, http.MethodPost, channelPath(channelID, "/answer"), nil, nil); err != nil {
		return fmt.Errorf("answer channel: %w", err)
	}
	return nil
}

// play starts playing media on the channel under the given playback ID.
func (r *restClient) play(ctx context.Context, channelID, playbackID, media string) error {
	q := url.Values{"media": {media}}
	if err := r.do(ctx, http.MethodPost, channelPath(channelID, "/play/"+url.PathEscape(playbackID)), q, nil); err != nil {
		return fmt.Errorf("play greeting: %w", err)
	}
	return nil
}

// stopPlayback stops a playback.
func (r *restClient) stopPlayback(ctx context.Context, playbackID string) error {
	if err := r.do(ctx, http.MethodDelete, "/playbacks/"+url.PathEscape(playbackID), nil, nil); err != nil {
		return fmt.Errorf("stop playback: %w", err)
	}
	return nil
}

// playback reads a playback; ErrNotFound once it has finished.
func (r *restClient) playback(ctx context.Context, playbackID string) (*ari.PlaybackData, error) {
	var pb ari.PlaybackData
	if err := r.do(ctx, http.MethodGet, "/playbacks/"+url.PathEscape(playbackID), nil, &pb); err != nil {
		return nil, fmt.Errorf("get playback: %w", err)
	}
	return &pb, nil
}

// setVar sets a channel variable.
func (r *restClient) setVar(ctx context.Context, channelID, name, value string) error {
	q := url.Values{"variable": {name}, "value": {value}}
	if err := r.do(ctx, http.MethodPost, channelPath(channelID, "/variable"), q, nil); err != nil {
		return fmt.Errorf("set variable %s: %w", name, err)
	}
	return nil
}

// getVar reads a channel variable or dialplan function; ErrNotFound when the
// variable is not set.
func (r *restClient) getVar(ctx context.Context, channelID, name string) (string, error) {
	var v struct {
		Value string `json:"value"`
	}
	if err := r.do(ctx, http.MethodGet, channelPath(channelID, "/variable"), url.Values{"variable": {name}}, &v); err != nil {
		return "", fmt.Errorf("get variable %s: %w", name, err)
	}
	return v.Value, nil
}

// continueInDialplan makes the channel leave Stasis and resume the dialplan
// at the priority after the Stasis application (empty context, extension and
// priority mean "next priority").
func (r *restClient) continueInDialplan(ctx context.Context, channelID string) error {
	if err := r.do(ctx, http.MethodPost, channelPath(channelID, "/continue"), nil, nil); err != nil {
		return fmt.Errorf("continue in dialplan: %w", err)
	}
	return nil
}

// hangup hangs the channel up.
func (r *restClient) hangup(ctx context.Context, channelID string) error {
	if err := r.do(ctx, http.MethodDelete, channelPath(channelID, ""), url.Values{"reason": {"normal"}}, nil); err != nil {
		return fmt.Errorf("hang up channel: %w", err)
	}
	return nil
}

// channel reads a channel.
func (r *restClient) channel(ctx context.Context, channelID string) (*ari.ChannelData, error) {
	return r.readChannel(ctx, r.do, channelID)
}

// channelPrompt reads a channel on the prompt lane: for a read that a
// recording's start waits on (SnoopClient.Record). Asterisk answers it from
// its snapshot cache, at once. Reads that catch up after a reconnect, many
// at once, stay on the main lane (channel) and leave this one to new
// calls' starts; the record requests a reconnect finds missing, one per
// recording, and the reads that settle a request cut on the way (one per
// start the cut reached, which waits on it), still come here.
func (r *restClient) channelPrompt(ctx context.Context, channelID string) (*ari.ChannelData, error) {
	return r.readChannel(ctx, r.doPrompt, channelID)
}

// readChannel reads a channel through do (restClient.do or doPrompt).
func (r *restClient) readChannel(ctx context.Context, do func(context.Context, string, string, url.Values, any) error, channelID string) (*ari.ChannelData, error) {
	var ch ari.ChannelData
	if err := do(ctx, http.MethodGet, channelPath(channelID, ""), nil, &ch); err != nil {
		return nil, fmt.Errorf("get channel: %w", err)
	}
	return &ch, nil
}

// application reads the Stasis application; ErrNotFound when Asterisk does
// not know it.
func (r *restClient) application(ctx context.Context, name string) (*ari.ApplicationData, error) {
	var app ari.ApplicationData
	if err := r.do(ctx, http.MethodGet, "/applications/"+url.PathEscape(name), nil, &app); err != nil {
		return nil, fmt.Errorf("get application: %w", err)
	}
	return &app, nil
}
