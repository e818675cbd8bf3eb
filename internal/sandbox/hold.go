package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/net/websocket"

	"github.com/villedemercier/recpolicy/ami"
)

// SimARI is the simulator's ARI (docker/asterisk/sim/http.conf, ari.conf):
// the driver's hold key.
var SimARI = ARIUser{
	Base: "http://127.0.0.1:8089/ari", Username: "driver", Password: "sandbox-sim-ari-secret", App: "sim-hold",
}

// ARIUser is an ARI base URL, a user and the application it registers.
type ARIUser struct{ Base, Username, Password, App string }

// PBXObserverARI is the PBX's read-only ARI user for tests and make load
// (docker/asterisk/pbx/ari.conf); the daemon never uses it.
var PBXObserverARI = ARIUser{Base: "http://127.0.0.1:8088/ari", Username: "sandbox-observer", Password: "sandbox-observer-secret", App: "load-observer"}

// DialARIEvents opens u's events WebSocket, registering its application;
// with all, the application receives every event of the instance
// (subscribeAll), not only its own channels'.
func DialARIEvents(ctx context.Context, u ARIUser, all bool) (*websocket.Conn, error) {
	addr, err := url.Parse(u.Base + "/events")
	if err != nil {
		return nil, err
	}
	addr.Scheme = "ws"
	q := url.Values{"app": {u.App}, "api_key": {u.Username + ":" + u.Password}}
	if all {
		q.Set("subscribeAll", "true")
	}
	addr.RawQuery = q.Encode()
	cfg, err := websocket.NewConfig(addr.String(), "http://"+addr.Host)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return cfg.DialContext(dctx)
}

// holdContext is the simulator's dialplan context that hands a phone's
// channel to the hold app (docker/asterisk/sim/extensions.conf).
const holdContext = "sim-hold"

// holdKey registers the simulator's hold app: its events WebSocket must stay
// open for Stasis(sim-hold) to accept channels. Events are read and thrown
// away; holds are made over REST.
type holdKey struct {
	http *http.Client

	mu   sync.Mutex
	ws   *websocket.Conn
	done chan struct{} // closed when the reader ends
}

func newHoldKey() *holdKey {
	return &holdKey{http: &http.Client{Timeout: 5 * time.Second}}
}

// register opens the app's WebSocket unless it is open.
func (k *holdKey) register(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ws != nil {
		select {
		case <-k.done:
			k.ws = nil // the simulator closed it: open a new one
		default:
			return nil
		}
	}
	ws, err := DialARIEvents(ctx, ARIUser(SimARI), false)
	if err != nil {
		return fmt.Errorf("register simulator ARI app %s at %s (is the sandbox's simulator config current? docker/sandbox up): %w", SimARI.App, SimARI.Base, err)
	}
	k.ws, k.done = ws, make(chan struct{})
	go func(ws *websocket.Conn, done chan struct{}) {
		defer close(done)
		_, _ = io.Copy(io.Discard, ws)
	}(ws, k.done)
	return nil
}

// close closes the WebSocket and waits for its reader.
func (k *holdKey) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ws != nil {
		_ = k.ws.Close()
		<-k.done
		k.ws = nil
	}
}

// errNotInStasis is ARI's 409 (or 404) while the channel has not reached the app.
var errNotInStasis = errors.New("channel not in the hold app yet")

// call sends one REST request to the simulator's ARI.
func (k *holdKey) call(ctx context.Context, method, path string) error {
	req, err := http.NewRequestWithContext(ctx, method, SimARI.Base+path, nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(SimARI.Username, SimARI.Password)
	resp, err := k.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusConflict || resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%w: %s %s: %s", errNotInStasis, method, path, body)
	default:
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, body)
	}
}

// Hold presses the hold key of the phone whose simulator channel has
// uniqueid simUID: the simulator sends the PBX a re-INVITE with a=sendonly
// and stops sending audio; the PBX then plays music on hold to the other
// party, as it does for a desk phone. It returns once the hold is indicated.
func (d *Driver) Hold(ctx context.Context, simUID string) error {
	if err := d.hold.register(ctx); err != nil {
		return fmt.Errorf("hold %s: %w", simUID, err)
	}
	if _, err := d.client.Action(ctx, "Redirect", ami.Header{Key: "Channel", Value: simUID},
		ami.Header{Key: "Context", Value: holdContext}, ami.Header{Key: "Exten", Value: "s"}, ami.Header{Key: "Priority", Value: "1"}); err != nil {
		return fmt.Errorf("hold %s: %w", simUID, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := d.hold.call(ctx, http.MethodPost, "/channels/"+url.PathEscape(simUID)+"/hold")
		if err == nil {
			return nil
		}
		if !errors.Is(err, errNotInStasis) || time.Now().After(deadline) {
			return fmt.Errorf("hold %s: %w", simUID, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("hold %s: %w", simUID, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Unhold releases the hold key: the simulator sends a re-INVITE with
// a=sendrecv and the phone talks (its tone) again.
func (d *Driver) Unhold(ctx context.Context, simUID string) error {
	path := "/channels/" + url.PathEscape(simUID)
	if err := d.hold.call(ctx, http.MethodDelete, path+"/hold"); err != nil {
		return fmt.Errorf("unhold %s: %w", simUID, err)
	}
	if err := d.hold.call(ctx, http.MethodPost, path+"/continue"); err != nil {
		return fmt.Errorf("unhold %s: %w", simUID, err)
	}
	return nil
}
