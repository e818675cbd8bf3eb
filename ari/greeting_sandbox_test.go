package ari

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	sbx "github.com/villedemercier/recpolicy/internal/sandbox"
)

// The sandbox (docker/sandbox): the city's PBX and a simulator of phones and
// carrier. The first test that needs it takes it (waiting for other test
// binaries that drive it) and starts it when it is down; TestMain gives it
// back. Nothing skips: a sandbox that cannot start fails the test.
const (
	sandboxARIUser     = "recpolicy"
	sandboxARIPassword = "sandbox-ari-secret"
	sandboxSimUser     = "driver"
	sandboxSimSecret   = "sandbox-sim-secret"
	sandboxPBXUser     = "sandbox-observer"
	sandboxPBXSecret   = "sandbox-observer-secret"
	// sandboxDID reaches extension 235 through the PBX's carrier trunk.
	sandboxDID = "4506983235"
)

type sandbox struct {
	ariURL string
	sim    *amiConn
	pbx    *amiConn
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

var (
	sandboxOnce    sync.Once
	sandboxErr     error
	sandboxRelease = func() {}
)

func TestMain(m *testing.M) {
	code := m.Run()
	sandboxRelease()
	os.Exit(code)
}

// needSandbox takes the sandbox (starting it when it is down) and connects
// to the simulator's and the PBX's AMI.
func needSandbox(t *testing.T) *sandbox {
	t.Helper()
	sandboxOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		_, stop, err := sbx.Up(ctx)
		if err != nil {
			sandboxErr = err
			return
		}
		sandboxRelease = stop
	})
	if sandboxErr != nil {
		t.Fatalf("the sandbox is required and could not start: %v", sandboxErr)
	}
	return &sandbox{
		ariURL: envOr("RECPOLICY_PBX_ARI", "http://127.0.0.1:8088/ari"),
		sim:    dialAMI(t, envOr("RECPOLICY_SIM_AMI", "127.0.0.1:5039"), sandboxSimUser, sandboxSimSecret),
		pbx:    dialAMI(t, envOr("RECPOLICY_PBX_AMI", "127.0.0.1:5038"), sandboxPBXUser, sandboxPBXSecret),
	}
}

func (sb *sandbox) config() Config {
	return Config{
		URL:            sb.ariURL,
		Username:       sandboxARIUser,
		Password:       sandboxARIPassword,
		Application:    "recpolicy",
		HealthInterval: 500 * time.Millisecond,
	}
}

// call is one inbound call placed by the carrier simulator.
type call struct {
	callerNum string // unique per call: finds the PBX side
	simID     string // the simulator's channel unique ID
}

// placeCall makes the carrier simulator call the PBX's DID for 235.
func (sb *sandbox) placeCall(t *testing.T) call {
	t.Helper()
	c := call{
		callerNum: fmt.Sprintf("514555%04d", rand.IntN(10000)),
		simID:     fmt.Sprintf("recpolicy-ari-test-%08x", rand.Uint32()),
	}
	resp, err := sb.sim.action("Originate",
		"Channel", "PJSIP/"+sandboxDID+"@pbx-carrier",
		"Context", "sim-originated", "Exten", "carrier", "Priority", "1",
		"CallerID", "recpolicy ari test <"+c.callerNum+">",
		"ChannelId", c.simID,
		"Async", "true")
	if err != nil || resp["Response"] != "Success" {
		t.Fatalf("originate: %v %v", resp, err)
	}
	t.Cleanup(func() { sb.hangupSim(c) })
	return c
}

// hangupSim hangs up the simulator's side of the call (the caller).
func (sb *sandbox) hangupSim(c call) {
	_, _ = sb.sim.action("Hangup", "Channel", c.simID)
}

// waitResult reads results until one for the call arrives.
func waitResult(t *testing.T, c *Client, cl call, timeout time.Duration) GreetingResult {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case r, ok := <-c.Results():
			if !ok {
				t.Fatal("results closed")
			}
			t.Logf("result: %+v", r)
			if r.CallerNum == cl.callerNum {
				return r
			}
		case <-timer.C:
			t.Fatalf("no greeting result for caller %s within %v", cl.callerNum, timeout)
		}
	}
}

// waitAnswered waits until the call's PBX channel is answered in the
// application (Stasis), which starts the greeting at once: a test that
// acts during the greeting counts from there, not from the Originate,
// whose call setup a loaded machine may slow.
func (sb *sandbox) waitAnswered(t *testing.T, cl call) {
	t.Helper()
	waitFor(t, 10*time.Second, "the call answered in the application", func() bool {
		for _, f := range sb.conciseChannels(t) {
			if f[7] == cl.callerNum && f[4] == "Up" && f[5] == "Stasis" {
				return true
			}
		}
		return false
	})
}

// conciseChannels returns the PBX's channels as concise CLI fields.
func (sb *sandbox) conciseChannels(t *testing.T) [][]string {
	t.Helper()
	out, err := sb.pbx.command("core show channels concise")
	if err != nil {
		t.Fatalf("core show channels: %v", err)
	}
	var chans [][]string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Split(line, "!"); len(f) >= 14 {
			chans = append(chans, f)
		}
	}
	return chans
}

func TestGreetingSandbox(t *testing.T) {
	sb := needSandbox(t)
	rc := startClient(t, sb.config(), GreetingConfig{}, 0)
	cl := sb.placeCall(t)

	r := waitResult(t, rc.Client, cl, 20*time.Second)
	if r.Outcome != GreetingPlayed || r.Err != nil {
		t.Fatalf("outcome %v (%v), want played", r.Outcome, r.Err)
	}
	if r.Exten != sandboxDID || r.LinkedID == "" || !strings.HasPrefix(r.ChannelName, "PJSIP/") {
		t.Errorf("result details: exten %q linked %q channel %q", r.Exten, r.LinkedID, r.ChannelName)
	}
	if d := r.Ended.Sub(r.Started); d < 2*time.Second || d > 10*time.Second {
		t.Errorf("greeting took %v, want about 3s", d)
	}
	t.Cleanup(func() { _, _ = sb.pbx.action("Hangup", "Channel", r.ChannelName) })

	// After the greeting the call goes on: the PBX dials 235, which answers.
	var peer string
	waitFor(t, 10*time.Second, "the PBX to bridge the call with PJSIP/235", func() bool {
		chans := sb.conciseChannels(t)
		for _, f := range chans {
			if f[0] != r.ChannelName || f[5] != "Dial" || !strings.HasPrefix(f[6], "PJSIP/235") || f[12] == "" {
				continue
			}
			for _, g := range chans {
				if strings.HasPrefix(g[0], "PJSIP/235-") && g[12] == f[12] {
					peer = g[0]
					return true
				}
			}
		}
		return false
	})

	// Greeted once, by the application: the fallback would have set
	// RECPOLICY_GREETED=dialplan, and the dialled phone inherits it.
	for _, ch := range []string{r.ChannelName, peer} {
		v, err := sb.pbx.getvar(ch, "RECPOLICY_GREETED")
		if err != nil || v != "ari" {
			t.Errorf("RECPOLICY_GREETED on %s = %q (%v), want ari", ch, v, err)
		}
	}
	select {
	case r2 := <-rc.Results():
		if r2.ChannelID == r.ChannelID {
			t.Errorf("second result for the channel: %+v", r2)
		}
	case <-time.After(500 * time.Millisecond):
	}

	if d := rc.stop(t); d > 3*time.Second {
		t.Errorf("Run took %v to return after cancel", d)
	}
	if rc.Connected() || rc.State() != StateStopped {
		t.Errorf("after Run: connected %v state %v", rc.Connected(), rc.State())
	}
	if _, ok := <-rc.Results(); ok {
		t.Error("Results not closed after Run returned")
	}
}

func TestGreetingSandboxCutShort(t *testing.T) {
	sb := needSandbox(t)
	rc := startClient(t, sb.config(), GreetingConfig{}, 0)
	cl := sb.placeCall(t)
	sb.waitAnswered(t, cl)
	time.Sleep(time.Second) // into the 2.8 s greeting
	sb.hangupSim(cl)
	r := waitResult(t, rc.Client, cl, 10*time.Second)
	if r.Outcome != GreetingCutShort {
		t.Fatalf("outcome %v (%v), want cut_short", r.Outcome, r.Err)
	}
}

// A channel left in Stasis by a connection that dropped (here: a bare
// WebSocket registering the application, then closed) is continued by the
// next client after it connects, without RECPOLICY_GREETED, so the dialplan
// fallback greets the caller.
func TestGreetingSandboxResync(t *testing.T) {
	sb := needSandbox(t)
	cfg := sb.config().withDefaults()
	rest, err := newRESTClient(cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ghost, err := dialEvents(ctx, cfg)
	if err != nil {
		t.Fatalf("register the application: %v", err)
	}
	cl := sb.placeCall(t)
	var stuck string
	waitFor(t, 10*time.Second, "the call to enter Stasis", func() bool {
		app, err := rest.application(ctx, cfg.Application)
		if err != nil {
			return false
		}
		for _, id := range app.ChannelIDs {
			if ch, err := rest.channel(ctx, id); err == nil && ch.Caller != nil && ch.Caller.Number == cl.callerNum {
				stuck = ch.Name
				return true
			}
		}
		return false
	})
	ghost.close() // the channel stays in Stasis: nobody will continue it
	t.Cleanup(func() { _, _ = sb.pbx.action("Hangup", "Channel", stuck) })
	time.Sleep(300 * time.Millisecond)

	rc := startClient(t, sb.config(), GreetingConfig{}, 0)
	r := waitResult(t, rc.Client, cl, 15*time.Second)
	if r.Outcome != GreetingFailed || !errors.Is(r.Err, ErrOrphaned) || r.ChannelName != stuck {
		t.Fatalf("result %+v, want failed/orphaned for %s", r, stuck)
	}
	waitFor(t, 10*time.Second, "the dialplan fallback to greet the caller", func() bool {
		v, err := sb.pbx.getvar(stuck, "RECPOLICY_GREETED")
		return err == nil && v == "dialplan"
	})
}

// Stopping the client during a greeting continues the channel without
// RECPOLICY_GREETED: the dialplan fallback greets the caller.
func TestGreetingSandboxShutdown(t *testing.T) {
	sb := needSandbox(t)
	rc := startClient(t, sb.config(), GreetingConfig{}, 0)
	cl := sb.placeCall(t)
	sb.waitAnswered(t, cl)
	time.Sleep(time.Second) // into the 2.8 s greeting
	if d := rc.stop(t); d > 3*time.Second {
		t.Errorf("Run took %v to return after cancel", d)
	}
	r := waitResult(t, rc.Client, cl, time.Second)
	if r.Outcome != GreetingFailed || !errors.Is(r.Err, ErrShutdown) {
		t.Fatalf("result %+v, want failed/shutdown", r)
	}
	t.Cleanup(func() { _, _ = sb.pbx.action("Hangup", "Channel", r.ChannelName) })
	waitFor(t, 5*time.Second, "the dialplan fallback to greet the caller", func() bool {
		v, err := sb.pbx.getvar(r.ChannelName, "RECPOLICY_GREETED")
		return err == nil && v == "dialplan"
	})
}

// The event WebSocket drops during a greeting (through a proxy cut, while
// REST stays direct). Back within the greeting, the client still sees its
// end; back after it, the greeting is failed over to the dialplan.
func TestGreetingSandboxReconnect(t *testing.T) {
	sb := needSandbox(t)
	base := sb.config()
	u, err := base.eventsURL()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		down    time.Duration
		outcome GreetingOutcome
		greeted string
	}{
		{"back during the greeting", 0, GreetingPlayed, "ari"},
		{"back after the greeting", 3 * time.Second, GreetingFailed, "dialplan"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			proxy := newTCPProxy(t, u.Host)
			cfg := base
			cfg.WebsocketURL = "ws://" + proxy.addr() + u.Path
			rc := startClient(t, cfg, GreetingConfig{}, 0)
			cl := sb.placeCall(t)
			sb.waitAnswered(t, cl)
			time.Sleep(700 * time.Millisecond) // into the 2.8 s greeting
			proxy.block(tt.down > 0)
			proxy.cut()
			waitFor(t, 5*time.Second, "the client to see the drop", func() bool { return !rc.Connected() })
			time.Sleep(tt.down)
			proxy.block(false)
			waitFor(t, 15*time.Second, "the client to reconnect", rc.Connected)
			r := waitResult(t, rc.Client, cl, 15*time.Second)
			t.Cleanup(func() { _, _ = sb.pbx.action("Hangup", "Channel", r.ChannelName) })
			if r.Outcome != tt.outcome {
				t.Fatalf("result %+v, want %v", r, tt.outcome)
			}
			waitFor(t, 5*time.Second, "RECPOLICY_GREETED="+tt.greeted, func() bool {
				v, err := sb.pbx.getvar(r.ChannelName, "RECPOLICY_GREETED")
				return err == nil && v == tt.greeted
			})
		})
	}
}
