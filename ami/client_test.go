package ami_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/villedemercier/recpolicy/ami"
	"github.com/villedemercier/recpolicy/ami/amitest"
)

const (
	testUser   = "recpolicy"
	testSecret = "s3cret"
	waitLong   = 10 * time.Second
)

func h(k, v string) ami.Header { return ami.Header{Key: k, Value: v} }

// handler answers the actions used by the tests.
func handler(s *amitest.Session, a *ami.Message) {
	switch a.Get("Action") {
	case "Echo":
		_ = s.Reply(a, "Success", h("Echo", a.Get("Value")))
	case "Interleaved":
		id := a.Get("ActionID")
		_ = s.Event("Before", h("ActionID", id))
		_ = s.Event("Unrelated", h("Channel", "PJSIP/1001-00000001"))
		_ = s.Reply(a, "Success", h("Echo", a.Get("Value")))
		_ = s.Event("After", h("ActionID", id))
	case "Fail":
		_ = s.Reply(a, "Error", h("Message", "Permission denied"))
	case "Never":
	case "Late":
		go func() {
			time.Sleep(1500 * time.Millisecond)
			_ = s.Reply(a, "Success", h("Echo", "late"))
		}()
	case "CoreShowChannels":
		id := a.Get("ActionID")
		_ = s.Reply(a, "Success", h("EventList", "start"), h("Message", "Channels will follow"))
		_ = s.Event("Newchannel", h("Channel", "PJSIP/1002-00000009"))
		for i := range 3 {
			_ = s.Event("CoreShowChannel", h("ActionID", id), h("Channel", fmt.Sprintf("PJSIP/100%d-0000000%d", i, i)),
				h("Uniqueid", fmt.Sprintf("1764306315.%d", i)))
		}
		_ = s.Event("CoreShowChannelsComplete", h("ActionID", id), h("EventList", "Complete"), h("ListItems", "3"))
	case "EmptyList":
		_ = s.ReplyList(a, "Item", nil, "EmptyListComplete")
	case "SlowList":
		go func() {
			time.Sleep(300 * time.Millisecond)
			_ = s.ReplyList(a, "SlowItem", [][]ami.Header{{h("N", "1")}, {h("N", "2")}}, "SlowListComplete")
		}()
	default:
		_ = s.Reply(a, "Error", h("Message", "Invalid/unknown command"))
	}
}

func newServer(t *testing.T) *amitest.Server {
	return amitest.Start(t, amitest.Config{Username: testUser, Secret: testSecret, Handler: handler})
}

// startClient runs a client against srv until the test ends (or stop is
// called), checking that Run returns nil.
func startClient(t *testing.T, srv *amitest.Server, mod func(*ami.Config)) (*ami.Client, func()) {
	t.Helper()
	cfg := ami.Config{
		Addr:          srv.Addr(),
		Username:      testUser,
		Secret:        testSecret,
		ActionTimeout: 2 * time.Second,
		PingInterval:  time.Hour,
		MinBackoff:    10 * time.Millisecond,
		MaxBackoff:    50 * time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	c := ami.NewClient(cfg, zerolog.New(zerolog.NewTestWriter(t)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v", err)
				}
			case <-time.After(waitLong):
				t.Errorf("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return c, stop
}

// next returns the next notification.
func next(t *testing.T, c *ami.Client) ami.Notification {
	t.Helper()
	select {
	case n, ok := <-c.Notifications():
		if !ok {
			t.Fatal("notifications closed")
		}
		return n
	case <-time.After(waitLong):
		t.Fatal("no notification")
	}
	return ami.Notification{}
}

// waitKind skips notifications until one of kind k (and, for events, name).
func waitKind(t *testing.T, c *ami.Client, k ami.NotificationKind, event string) ami.Notification {
	t.Helper()
	deadline := time.After(waitLong)
	for {
		select {
		case n, ok := <-c.Notifications():
			if !ok {
				t.Fatalf("notifications closed waiting for %v %s", k, event)
			}
			if n.Kind == k && (event == "" || n.Msg.Event() == event) {
				return n
			}
		case <-deadline:
			t.Fatalf("no %v %s notification", k, event)
		}
	}
}

// connected waits for the first session and its FullyBooted event.
func connected(t *testing.T, c *ami.Client) ami.Notification {
	t.Helper()
	n := next(t, c)
	if n.Kind != ami.KindConnected {
		t.Fatalf("first notification is %v, want connected", n.Kind)
	}
	if ev := next(t, c); ev.Kind != ami.KindEvent || ev.Msg.Event() != "FullyBooted" {
		t.Fatalf("after connected got %v %q, want FullyBooted", ev.Kind, ev.Msg.Event())
	}
	return n
}

func TestClientConnect(t *testing.T) {
	srv := newServer(t)
	c, _ := startClient(t, srv, nil)
	n := connected(t, c)
	if n.Restarted {
		t.Error("first session reported as restart")
	}
	if n.Msg == nil || n.Msg.Event() != "FullyBooted" || n.Msg.Get("Uptime") == "" {
		t.Errorf("Connected.Msg = %v, want FullyBooted with Uptime", n.Msg)
	}
	if !c.Connected() || c.LastError() != nil {
		t.Errorf("Connected() = %v, LastError() = %v", c.Connected(), c.LastError())
	}
	if srv.Logins() != 1 || srv.ActionCount("CoreStatus") != 1 {
		t.Errorf("logins %d, CoreStatus %d", srv.Logins(), srv.ActionCount("CoreStatus"))
	}
	// The consumer may reconcile at once.
	items, err := c.List(context.Background(), "CoreShowChannels")
	if err != nil || len(items) != 3 {
		t.Fatalf("List = %d items, %v", len(items), err)
	}
}

func TestClientActionInterleavedEvents(t *testing.T) {
	srv := newServer(t)
	c, _ := startClient(t, srv, nil)
	connected(t, c)
	resp, err := c.Action(context.Background(), "Interleaved", h("Value", "v1"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Get("Echo") != "v1" || resp.Get("Response") != "Success" || !strings.HasPrefix(resp.ActionID(), "rp-") {
		t.Fatalf("response %q", resp)
	}
	for _, want := range []string{"Before", "Unrelated", "After"} {
		n := next(t, c)
		if n.Kind != ami.KindEvent || n.Msg.Event() != want {
			t.Fatalf("got %v %q, want event %s", n.Kind, n.Msg.Event(), want)
		}
		if want != "Unrelated" && n.Msg.ActionID() != resp.ActionID() {
			t.Fatalf("event %s ActionID %q, want %q", want, n.Msg.ActionID(), resp.ActionID())
		}
	}
}

func TestClientConcurrentActions(t *testing.T) {
	srv := newServer(t)
	c, _ := startClient(t, srv, nil)
	connected(t, c)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for g := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				v := fmt.Sprintf("%d-%d", g, i)
				resp, err := c.Action(context.Background(), "Echo", h("Value", v))
				if err != nil {
					errs <- err
					return
				}
				if resp.Get("Echo") != v {
					errs <- fmt.Errorf("sent %s, got %s", v, resp.Get("Echo"))
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestClientActionError(t *testing.T) {
	srv := newServer(t)
	c, _ := startClient(t, srv, nil)
	connected(t, c)
	_, err := c.Action(context.Background(), "Fail")
	var ae *ami.ActionError
	if !errors.As(err, &ae) || ae.Message != "Permission denied" || ae.Action != "Fail" || ae.Response == nil {
		t.Fatalf("err = %#v", err)
	}
	if !strings.HasPrefix(err.Error(), "action Fail: ") {
		t.Errorf("error text %q", err)
	}
}

func TestClientActionTimeout(t *testing.T) {
	srv := newServer(t)
	// Bounds far apart (1 s of ActionTimeout, a context of 30 ms, an
	// answer 1.5 s late), so that a loaded machine cannot blur them.
	c, _ := startClient(t, srv, func(cfg *ami.Config) { cfg.ActionTimeout = time.Second })
	connected(t, c)

	tests := []struct {
		name    string
		action  string
		ctx     func() (context.Context, context.CancelFunc)
		max     time.Duration
		timeout bool
	}{
		{"config timeout", "Never", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, 1400 * time.Millisecond, true},
		{"ctx deadline first", "Never", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 30*time.Millisecond)
		}, 700 * time.Millisecond, true},
		{"ctx cancelled", "Never", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(30*time.Millisecond, cancel)
			return ctx, cancel
		}, 700 * time.Millisecond, false},
		{"late response", "Late", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }, 1400 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			_, err := c.Action(ctx, tt.action)
			if el := time.Since(start); el > tt.max {
				t.Errorf("took %v", el)
			}
			if errors.Is(err, ami.ErrTimeout) != tt.timeout {
				t.Fatalf("err = %v, timeout %v", err, tt.timeout)
			}
			if !tt.timeout && !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if !strings.Contains(err.Error(), tt.action) {
				t.Errorf("error %q does not name the action", err)
			}
		})
	}
	// The late answer arrives while this action waits; it must be dropped
	// and must not satisfy it.
	time.Sleep(800 * time.Millisecond)
	resp, err := c.Action(context.Background(), "Echo", h("Value", "fresh"))
	if err != nil || resp.Get("Echo") != "fresh" {
		t.Fatalf("after late response: %q, %v", resp, err)
	}
	select {
	case n := <-c.Notifications():
		t.Fatalf("unexpected notification %v %q", n.Kind, n.Msg)
	default:
	}
	if srv.Logins() != 1 {
		t.Errorf("timeouts caused a reconnect")
	}
}

func TestClientList(t *testing.T) {
	for _, events := range []string{"on", "off"} {
		t.Run("events "+events, func(t *testing.T) {
			srv := newServer(t)
			c, _ := startClient(t, srv, func(cfg *ami.Config) { cfg.Events = events })
			if n := next(t, c); n.Kind != ami.KindConnected {
				t.Fatalf("got %v", n.Kind)
			}
			if events == "on" {
				waitKind(t, c, ami.KindEvent, "FullyBooted")
			}
			items, err := c.List(context.Background(), "CoreShowChannels")
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != 3 {
				t.Fatalf("%d items", len(items))
			}
			for i, it := range items {
				if it.Event() != "CoreShowChannel" || it.Get("Uniqueid") != fmt.Sprintf("1764306315.%d", i) {
					t.Errorf("item %d: %q", i, it)
				}
			}
			// Only the unrelated event is a notification.
			n := next(t, c)
			if n.Kind != ami.KindEvent || n.Msg.Event() != "Newchannel" {
				t.Fatalf("got %v %q, want Newchannel", n.Kind, n.Msg.Event())
			}
			if err := srv.Push("Marker"); err != nil {
				t.Fatal(err)
			}
			if events == "on" {
				if n := next(t, c); n.Msg.Event() != "Marker" {
					t.Fatalf("got %q after list, want Marker", n.Msg.Event())
				}
			}
		})
	}
	srv := newServer(t)
	c, _ := startClient(t, srv, nil)
	connected(t, c)
	tests := []struct {
		action string
		n      int
		isErr  bool
	}{
		{"EmptyList", 0, false},
		{"Fail", 0, true},
		{"Echo", 0, false}, // a success without EventList: start ends the list
	}
	for _, tt := range tests {
		items, err := c.List(context.Background(), tt.action)
		var ae *ami.ActionError
		if len(items) != tt.n || errors.As(err, &ae) != tt.isErr || (!tt.isErr && err != nil) {
			t.Errorf("List(%s) = %d items, %v", tt.action, len(items), err)
		}
	}
}

func TestClientListTimeoutDropsLateItems(t *testing.T) {
	srv := newServer(t)
	c, _ := startClient(t, srv, func(cfg *ami.Config) { cfg.ActionTimeout = 100 * time.Millisecond })
	connected(t, c)
	if _, err := c.List(context.Background(), "SlowList"); !errors.Is(err, ami.ErrTimeout) {
		t.Fatalf("err = %v", err)
	}
	time.Sleep(400 * time.Millisecond)
	if err := srv.Push("Marker"); err != nil {
		t.Fatal(err)
	}
	if n := next(t, c); n.Kind != ami.KindEvent || n.Msg.Event() != "Marker" {
		t.Fatalf("got %v %q, want Marker (late list items must be dropped)", n.Kind, n.Msg.Event())
	}
}

func TestClientInvalidAction(t *testing.T) {
	srv := newServer(t)
	c, _ := startClient(t, srv, nil)
	connected(t, c)
	long := strings.Repeat("x", 1100)
	many := make([]ami.Header, 127)
	for i := range many {
		many[i] = h("Variable", "A=1")
	}
	tests := []struct {
		name    string
		action  string
		headers []ami.Header
	}{
		{"CRLF in value", "Echo", []ami.Header{h("Value", "x\r\nAction: Originate")}},
		{"LF in value", "Echo", []ami.Header{h("Value", "x\nAction: Originate")}},
		{"CR in value", "Echo", []ami.Header{h("Value", "x\r")}},
		{"CRLF in key", "Echo", []ami.Header{h("Value\r\nAction", "Originate")}},
		{"CRLF in action", "Echo\r\nAction: Originate", nil},
		{"colon in key", "Echo", []ami.Header{h("Va:lue", "x")}},
		{"empty key", "Echo", []ami.Header{h("", "x")}},
		{"empty action", "", nil},
		{"line too long", "Echo", []ami.Header{h("Value", long)}},
		{"too many headers", "Echo", many},
		{"ActionID override", "Echo", []ami.Header{h("ActionID", "x")}},
	}
	for _, tt := range tests {
		_, err := c.Action(context.Background(), tt.action, tt.headers...)
		if !errors.Is(err, ami.ErrInvalidAction) {
			t.Errorf("%s: err = %v, want ErrInvalidAction", tt.name, err)
		}
		if _, err := c.List(context.Background(), tt.action, tt.headers...); !errors.Is(err, ami.ErrInvalidAction) {
			t.Errorf("%s: List err = %v, want ErrInvalidAction", tt.name, err)
		}
	}
	// Nothing was written: the server saw no Echo nor Originate, and the
	// stream is intact.
	if n := srv.ActionCount("Echo") + srv.ActionCount("Originate"); n != 0 {
		t.Fatalf("server received %d rejected actions", n)
	}
	if resp, err := c.Action(context.Background(), "Echo", h("Value", "ok")); err != nil || resp.Get("Echo") != "ok" {
		t.Fatalf("valid action after rejections: %v", err)
	}
	// Validation comes first, even when not connected.
	idle := ami.NewClient(ami.Config{Addr: srv.Addr()}, zerolog.Nop())
	if _, err := idle.Action(context.Background(), "Echo", h("V", "a\nb")); !errors.Is(err, ami.ErrInvalidAction) {
		t.Errorf("idle client: %v", err)
	}
}

func TestClientNotConnected(t *testing.T) {
	c := ami.NewClient(ami.Config{Addr: "127.0.0.1:1"}, zerolog.Nop())
	if c.Connected() {
		t.Fatal("connected before Run")
	}
	if _, err := c.Action(context.Background(), "Ping"); !errors.Is(err, ami.ErrNotConnected) {
		t.Fatalf("Action: %v", err)
	}
	if _, err := c.List(context.Background(), "CoreShowChannels"); !errors.Is(err, ami.ErrNotConnected) {
		t.Fatalf("List: %v", err)
	}
}

// startPingingClient starts a client of a new fake server that pings every
// 100 ms and waits 500 ms for an answer, once connected.
func startPingingClient(t *testing.T) (*amitest.Server, *ami.Client) {
	t.Helper()
	srv := newServer(t)
	c, _ := startClient(t, srv, func(cfg *ami.Config) {
		cfg.PingInterval = 100 * time.Millisecond
		cfg.ActionTimeout = 500 * time.Millisecond
	})
	connected(t, c)
	return srv, c
}

func TestClientPingDetectsDeadPeer(t *testing.T) {
	srv, c := startPingingClient(t)
	waitFor(t, func() bool { return srv.ActionCount("Ping") >= 2 })
	srv.SetPingsAnswered(false)
	n := waitKind(t, c, ami.KindDisconnected, "")
	if !errors.Is(n.Err, ami.ErrTimeout) || !strings.Contains(n.Err.Error(), "ping") {
		t.Fatalf("disconnect error %v, want ping timeout", n.Err)
	}
	srv.SetPingsAnswered(true)
	n = waitKind(t, c, ami.KindConnected, "")
	if n.Restarted {
		t.Error("reconnect to the same Asterisk reported as restart")
	}
	if srv.Logins() < 2 {
		t.Fatalf("logins = %d", srv.Logins())
	}
}

// TestClientPingBehindBusySessionKeepsIt: a ping that waits behind other
// actions Asterisk is answering (a burst of starts on one session) is late,
// not a sign of a dead peer: the session is kept while the other actions
// are answered, and ended once nothing is.
func TestClientPingBehindBusySessionKeepsIt(t *testing.T) {
	srv, c := startPingingClient(t)
	srv.SetPingsAnswered(false)
	busyUntil := time.Now().Add(2 * time.Second)
	for time.Now().Before(busyUntil) {
		if _, err := c.Action(context.Background(), "Echo", h("Value", "busy")); err != nil {
			t.Fatalf("action while pings go unanswered: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if srv.Logins() != 1 {
		t.Fatalf("logins = %d: the busy session was ended", srv.Logins())
	}
	n := waitKind(t, c, ami.KindDisconnected, "")
	if !errors.Is(n.Err, ami.ErrTimeout) || !strings.Contains(n.Err.Error(), "ping") {
		t.Fatalf("disconnect error %v, want ping timeout once idle", n.Err)
	}
}

func TestClientReconnectAndRestart(t *testing.T) {
	srv := newServer(t)
	c, _ := startClient(t, srv, nil)
	connected(t, c)

	srv.DropConnections()
	if n := waitKind(t, c, ami.KindDisconnected, ""); n.Err == nil {
		t.Error("Disconnected without error")
	}
	if n := waitKind(t, c, ami.KindConnected, ""); n.Restarted {
		t.Error("dropped connection reported as restart")
	}
	if _, err := c.Action(context.Background(), "Echo", h("Value", "x")); err != nil {
		t.Fatalf("action after reconnect: %v", err)
	}

	srv.Restart()
	waitKind(t, c, ami.KindEvent, "Shutdown")
	if n := next(t, c); n.Kind != ami.KindDisconnected {
		t.Fatalf("after Shutdown got %v, want disconnected", n.Kind)
	}
	if n := waitKind(t, c, ami.KindConnected, ""); !n.Restarted {
		t.Error("restart not detected")
	}
}

func TestClientActionOnBoot(t *testing.T) {
	srv := newServer(t)
	c, _ := startClient(t, srv, nil)
	first := connected(t, c)
	if first.Boot == "" {
		t.Fatal("Connected.Boot is empty; want the run's CoreStartupDate and CoreStartupTime")
	}
	if _, err := c.ActionOnBoot(context.Background(), first.Boot, "Echo", h("Value", "x")); err != nil {
		t.Fatalf("action on the session's own run: %v", err)
	}
	for _, boot := range []string{"", "2019-05-01 08:00:00"} {
		before := srv.ActionCount("Echo")
		if _, err := c.ActionOnBoot(context.Background(), boot, "Echo", h("Value", "x")); !errors.Is(err, ami.ErrOtherBoot) {
			t.Errorf("action on run %q = %v; want ErrOtherBoot", boot, err)
		}
		if srv.ActionCount("Echo") != before {
			t.Errorf("action on run %q was sent; want nothing written", boot)
		}
	}

	// A reconnection to the same run keeps its identity; a restart is
	// another run, and the earlier run's actions are refused.
	srv.DropConnections()
	if n := waitKind(t, c, ami.KindConnected, ""); n.Boot != first.Boot {
		t.Errorf("reconnection to the same run: Boot %q, want %q", n.Boot, first.Boot)
	}
	srv.Restart()
	n := waitKind(t, c, ami.KindConnected, "")
	if n.Boot == "" || n.Boot == first.Boot {
		t.Fatalf("after a restart Boot = %q; want a new run (was %q)", n.Boot, first.Boot)
	}
	if ev := next(t, c); ev.Kind == ami.KindEvent && ev.Boot != n.Boot {
		t.Errorf("event after the restart has Boot %q, want %q", ev.Boot, n.Boot)
	}
	if _, err := c.ActionOnBoot(context.Background(), first.Boot, "Echo", h("Value", "x")); !errors.Is(err, ami.ErrOtherBoot) {
		t.Errorf("action meant for the run before the restart = %v; want ErrOtherBoot", err)
	}
	if _, err := c.ActionOnBoot(context.Background(), n.Boot, "Echo", h("Value", "x")); err != nil {
		t.Errorf("action on the new run: %v", err)
	}
}

// An action whose session ends after it was written may have been carried
// out: its error says so (ErrNoAnswer), so that nobody sends it again
// blindly. One that never went out says only ErrNotConnected.
func TestClientSessionLostBeforeTheAnswer(t *testing.T) {
	srv := newServer(t)
	c, _ := startClient(t, srv, nil)
	connected(t, c)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Action(context.Background(), "Never")
		errc <- err
	}()
	for srv.ActionCount("Never") == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	srv.DropConnections()
	select {
	case err := <-errc:
		if !errors.Is(err, ami.ErrNotConnected) || !errors.Is(err, ami.ErrNoAnswer) {
			t.Errorf("action lost with its session = %v; want ErrNotConnected and ErrNoAnswer", err)
		}
	case <-time.After(waitLong):
		t.Fatal("no answer after the session was lost")
	}
	waitKind(t, c, ami.KindDisconnected, "")
	if _, err := c.Action(context.Background(), "Echo"); err != nil && errors.Is(err, ami.ErrNoAnswer) {
		t.Errorf("action sent with no session = %v; want no ErrNoAnswer (it never went out)", err)
	}
}

func TestClientActionOnBootUnknownRun(t *testing.T) {
	// CoreStatus refused: the run is unknown, no action may count on it.
	srv := amitest.Start(t, amitest.Config{Secret: testSecret, Handler: handler, RefuseCoreStatus: true})
	c, _ := startClient(t, srv, nil)
	if n := connected(t, c); n.Boot != "" {
		t.Errorf("Boot = %q with CoreStatus refused; want empty", n.Boot)
	}
	if _, err := c.ActionOnBoot(context.Background(), "", "Echo", h("Value", "x")); !errors.Is(err, ami.ErrOtherBoot) {
		t.Errorf("action on an unknown run = %v; want ErrOtherBoot", err)
	}
}

func TestClientRestartDetectedFromUptime(t *testing.T) {
	// CoreStatus refused: restart detection falls back to FullyBooted.
	srv := amitest.Start(t, amitest.Config{Secret: testSecret, Handler: handler, RefuseCoreStatus: true})
	c, _ := startClient(t, srv, nil)
	connected(t, c)
	srv.DropConnections()
	if n := waitKind(t, c, ami.KindConnected, ""); n.Restarted {
		t.Error("dropped connection reported as restart")
	}
	srv.Restart()
	if n := waitKind(t, c, ami.KindConnected, ""); !n.Restarted {
		t.Error("restart not detected from Uptime")
	}
}

func TestClientReloadDoesNotReconnect(t *testing.T) {
	srv := newServer(t)
	c, _ := startClient(t, srv, nil)
	connected(t, c)
	if err := srv.Push("Reload", h("Privilege", "system,all"), h("Module", "manager"), h("Status", "0")); err != nil {
		t.Fatal(err)
	}
	if n := next(t, c); n.Kind != ami.KindEvent || n.Msg.Event() != "Reload" {
		t.Fatalf("got %v %q", n.Kind, n.Msg.Event())
	}
	select {
	case n := <-c.Notifications():
		t.Fatalf("unexpected %v after Reload", n.Kind)
	case <-time.After(300 * time.Millisecond):
	}
	if srv.Logins() != 1 || !c.Connected() {
		t.Fatalf("logins %d, connected %v", srv.Logins(), c.Connected())
	}
}

func TestClientAuthFailureBackoffCapped(t *testing.T) {
	srv := newServer(t)
	srv.SetSecret("other")
	c, _ := startClient(t, srv, func(cfg *ami.Config) {
		cfg.MinBackoff = 20 * time.Millisecond
		cfg.MaxBackoff = 40 * time.Millisecond
	})
	// Capped at 40ms (at least 20ms with jitter): the 11 waits between 12
	// attempts take about a quarter to half a second. Uncapped doubling
	// would take 20 to 41 s.
	deadline := time.Now().Add(3 * time.Second)
	for srv.LoginFailures() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("no login attempt in 3 s")
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	for srv.LoginFailures() < 12 {
		if time.Now().After(deadline) {
			t.Fatalf("%d login attempts in 3 s with backoff 20ms..40ms: the backoff is not capped", srv.LoginFailures())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Errorf("12 login attempts in %v: no backoff between them", took)
	}
	if err := c.LastError(); !errors.Is(err, ami.ErrAuth) {
		t.Errorf("LastError = %v, want ErrAuth", err)
	}
	if strings.Contains(fmt.Sprint(c.LastError()), testSecret) {
		t.Error("secret in error")
	}
	select {
	case n := <-c.Notifications():
		t.Fatalf("notification %v while login fails", n.Kind)
	default:
	}
	srv.SetSecret(testSecret)
	waitKind(t, c, ami.KindConnected, "")
	if c.LastError() != nil {
		t.Errorf("LastError after login = %v", c.LastError())
	}
}

func TestClientSlowConsumerDoesNotStallReader(t *testing.T) {
	srv := newServer(t)
	c, _ := startClient(t, srv, nil)
	connected(t, c)
	const total, batch = 100_000, 1000
	start := time.Now()
	var b strings.Builder
	for i := 0; i < total; i += batch {
		b.Reset()
		for j := i; j < i+batch; j++ {
			b.WriteString("Event: VarSet\r\nPrivilege: dialplan,all\r\nChannel: PJSIP/1001-0000002a\r\nChannelState: 6\r\n" +
				"ChannelStateDesc: Up\r\nCallerIDNum: 1001\r\nCallerIDName: Jean Dupont\r\nContext: from-internal\r\n" +
				"Exten: 0612345678\r\nUniqueid: 1764306315.84\r\nLinkedid: 1764306315.84\r\nVariable: SEQ\r\nValue: ")
			b.WriteString(strconv.Itoa(j))
			b.WriteString("\r\n\r\n")
		}
		// amitest fails a write that cannot complete within 10s.
		if err := srv.PushRaw(b.String()); err != nil {
			t.Fatalf("server write stalled after %d events: %v", i, err)
		}
	}
	t.Logf("pushed %d events in %v without a reader", total, time.Since(start))
	// The response to this action follows the 100k events on the wire: it
	// is matched only if the reader got through all of them while nobody
	// consumed notifications.
	if _, err := c.Action(context.Background(), "Echo", h("Value", "sync")); err != nil {
		t.Fatal(err)
	}
	for i := range total {
		n := next(t, c)
		if n.Kind != ami.KindEvent || n.Msg.Get("Value") != strconv.Itoa(i) {
			t.Fatalf("notification %d: %v %q", i, n.Kind, n.Msg.Get("Value"))
		}
	}
	if srv.Logins() != 1 {
		t.Fatal("client reconnected")
	}
}

func TestClientRunStopsWithoutLeaks(t *testing.T) {
	base := runtime.NumGoroutine()
	srv, err := amitest.NewServer(amitest.Config{Secret: testSecret, Handler: handler})
	if err != nil {
		t.Fatal(err)
	}
	c := ami.NewClient(ami.Config{Addr: srv.Addr(), Secret: testSecret, PingInterval: 20 * time.Millisecond}, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	connected(t, c)
	if _, err := c.Action(ctx, "Echo", h("Value", "x")); err != nil {
		t.Fatal(err)
	}
	// Leave a waiting action and undelivered notifications behind.
	go func() { _, _ = c.Action(context.Background(), "Never") }()
	for range 10 {
		_ = srv.Push("Pending")
	}
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(waitLong):
		t.Fatal("Run did not return")
	}
	for range c.Notifications() { // must be closed
	}
	if c.Connected() {
		t.Error("still connected")
	}
	if err := c.Run(context.Background()); err == nil {
		t.Error("second Run succeeded")
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return runtime.NumGoroutine() <= base })
}

func TestClientDialFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := ami.NewClient(ami.Config{Addr: addr, MinBackoff: 5 * time.Millisecond, MaxBackoff: 10 * time.Millisecond}, zerolog.Nop())
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := c.Run(ctx); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if c.LastError() == nil {
		t.Error("no LastError after failed dials")
	}
	if _, ok := <-c.Notifications(); ok {
		t.Error("notification after failed dials")
	}
}

func TestClientRejectsNonAMIBanner(t *testing.T) {
	srv := amitest.Start(t, amitest.Config{Secret: testSecret, Banner: "SSH-2.0-OpenSSH_9.6"})
	c, _ := startClient(t, srv, nil)
	waitFor(t, func() bool { return c.LastError() != nil })
	var pe *ami.ProtocolError
	if !errors.As(c.LastError(), &pe) {
		t.Fatalf("LastError = %v, want *ProtocolError", c.LastError())
	}
	if srv.ActionCount("Login") != 0 {
		t.Fatal("logged in to a non-AMI server")
	}
}

func TestClientConfigErrors(t *testing.T) {
	c := ami.NewClient(ami.Config{}, zerolog.Nop())
	if err := c.Run(context.Background()); err == nil {
		t.Fatal("Run with empty Addr succeeded")
	}
	if _, ok := <-c.Notifications(); ok {
		t.Fatal("notifications not closed")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestClientEventFilter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		refuse bool
		want   []string
	}{
		{"applied", false, []string{"Wanted", "VarSet"}},
		{"refused: every event flows", true, []string{"Unwanted", "WantedNot", "Wanted", "VarSet", "VarSet", "End"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := amitest.Start(t, amitest.Config{Username: testUser, Secret: testSecret, Handler: handler, RefuseFilter: tc.refuse})
			c, _ := startClient(t, srv, func(cfg *ami.Config) {
				cfg.Filter = `Event: (Wanted|FullyBooted)[[:space:]]|Variable: _*KEEP[[:space:]]`
			})
			connected(t, c)
			if srv.ActionCount("Filter") != 1 {
				t.Fatalf("Filter sent %d times, want 1", srv.ActionCount("Filter"))
			}
			_ = srv.Push("Unwanted")
			_ = srv.Push("WantedNot")
			_ = srv.Push("Wanted")
			_ = srv.Push("VarSet", h("Variable", "__KEEP"), h("Value", "1"))
			_ = srv.Push("VarSet", h("Variable", "KEEPNOT"), h("Value", "1"))
			_ = srv.Push("End")
			var got []string
			deadline := time.After(waitLong)
			for len(got) < len(tc.want) {
				select {
				case n := <-c.Notifications():
					if n.Kind == ami.KindEvent {
						got = append(got, n.Msg.Event())
					}
				case <-deadline:
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
