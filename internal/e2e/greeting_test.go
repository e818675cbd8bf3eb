package e2e

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"github.com/villedemercier/recpolicy/ami"
	"github.com/villedemercier/recpolicy/internal/sandbox"
)

// Issue 5: every inbound caller hears "Il est possible que l'appel soit
// enregistré" once, before the extension answers: played by the daemon's ARI
// application, or by the dialplan when that application is not registered.
// The simulator's carrier channel records what it receives (what the caller
// hears), so the tests check the greeting by its sound: broadband speech
// lasting as long as the greeting file, before the extension's 600 Hz tone.

// greeter is who is expected to greet the caller.
type greeter int

const (
	// byARI: the daemon runs; its ARI application greets.
	byARI greeter = iota
	// byDialplanAppMissing: the daemon runs, but the PBX hands calls to an
	// ARI application that nobody registered (RECPOLICY_APP changed on the
	// PBX): the dialplan greets, and the daemon sees it through AMI.
	byDialplanAppMissing
	// byDialplanDaemonStopped: the daemon is stopped, its application
	// unregistered: the dialplan greets.
	byDialplanDaemonStopped
)

// greetedValue is RECPOLICY_GREETED as set by who greets.
func (g greeter) greetedValue() string {
	if g == byARI {
		return "ari"
	}
	return "dialplan"
}

// Thresholds of what the caller must hear.
const (
	// greetingTolerance is how far the greeting heard may be from the
	// greeting file's duration.
	greetingTolerance = 0.5
	// speechTolerance is how far the speech heard may be from the speech
	// in the greeting file (which ends with silence).
	speechTolerance = 0.25
	// greetingLoudness is the share of the greeting file's speech RMS the
	// greeting heard must reach.
	greetingLoudness = 0.5
	// greetingMaxTone is the highest share of the greeting's energy that may
	// sit at the extension's tone (600 Hz): the greeting is speech.
	greetingMaxTone = 0.2
)

// greetingAudio reads the greeting file the PBX plays.
func greetingAudio(t *testing.T) sandbox.Audio {
	t.Helper()
	a, err := sandbox.ReadWAV(filepath.Join(h.env.Repo, sandbox.GreetingFile))
	if err != nil {
		t.Fatalf("read the greeting file: %v", err)
	}
	return a
}

// observePBX connects the test observer to the PBX's AMI for the test.
func observePBX(t *testing.T) *sandbox.Observer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	obs, err := sandbox.ObservePBX(ctx, sandbox.PBXObserverAMI)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(obs.Close)
	return obs
}

// callerNumber returns an external number no other test uses, so that the
// observer can find the call's linkedid by it.
func callerNumber() string {
	return fmt.Sprintf("514556%04d", time.Now().UnixNano()/1e3%10000)
}

// daemonControl is what the harness offers to stop and restart the
// in-process daemon (main_test.go).
type daemonControl interface {
	stopDaemon() error
	startDaemon(ctx context.Context) error
}

// setGreeter arranges for g to greet the callers of this test and undoes
// it when the test ends.
func setGreeter(t *testing.T, obs *sandbox.Observer, g greeter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	switch g {
	case byDialplanAppMissing:
		setPBXGlobal(t, obs, "RECPOLICY_APP", "recpolicy-not-registered")
		t.Cleanup(func() { setPBXGlobal(t, obs, "RECPOLICY_APP", "recpolicy") })
	case byDialplanDaemonStopped:
		dc, ok := any(h).(daemonControl)
		if !ok {
			t.Fatal("stop the daemon: the e2e harness has no stopDaemon/startDaemon (main_test.go)")
		}
		if err := dc.stopDaemon(); err != nil {
			t.Fatalf("stop the daemon: %v", err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := dc.startDaemon(ctx); err != nil {
				t.Errorf("restart the daemon: %v", err)
			}
		})
		if err := waitARIApp(ctx, false); err != nil {
			t.Fatal(err)
		}
	case byARI:
		if err := waitARIApp(ctx, true); err != nil {
			t.Fatal(err)
		}
	}
}

// setPBXGlobal sets a global variable of the PBX's dialplan.
func setPBXGlobal(t *testing.T, obs *sandbox.Observer, name, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := obs.Action(ctx, "Setvar", ami.Header{Key: "Variable", Value: name}, ami.Header{Key: "Value", Value: value}); err != nil {
		t.Fatalf("set the PBX global %s=%s: %v", name, value, err)
	}
}

// waitARIApp waits until the PBX lists the recpolicy ARI application as
// registered (want true) or not (want false).
func waitARIApp(ctx context.Context, want bool) error {
	for {
		out, err := h.env.CLI(ctx, "pbx", "ari show apps")
		if err == nil {
			registered := false
			for _, l := range strings.Split(out, "\n") {
				if strings.TrimSpace(l) == "recpolicy" {
					registered = true
				}
			}
			if registered == want {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the ARI application recpolicy to be registered=%v on the PBX: %w (last: %v %q)", want, ctx.Err(), err, out)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// greetingCount reads recpolicy_greetings_total{outcome} from the daemon.
func greetingCount(t *testing.T, outcome string) float64 {
	t.Helper()
	return metricValue(t, `recpolicy_greetings_total{outcome="`+outcome+`"}`)
}

// metricValue reads one sample of the daemon's metrics, named with its
// labels as /metrics prints it.
func metricValue(t *testing.T, sample string) float64 {
	t.Helper()
	resp, err := http.Get(h.metrics)
	if err != nil {
		t.Fatalf("read the daemon's metrics: %v", err)
	}
	defer resp.Body.Close()
	prefix := sample + " "
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("read the daemon's metrics: %s: %v", sc.Text(), err)
			}
			return f
		}
	}
	t.Fatalf("the daemon's metrics have no %s", sample)
	return 0
}

// waitGreetingCount waits until recpolicy_greetings_total{outcome} reaches want.
func waitGreetingCount(t *testing.T, outcome string, want float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	got := greetingCount(t, outcome)
	for got < want && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		got = greetingCount(t, outcome)
	}
	if got != want {
		t.Errorf("recpolicy_greetings_total{outcome=%q} = %v, want %v", outcome, got, want)
	}
}

// heardGreeting asserts that the carrier-side recording at path holds the
// greeting — speech as long and as loud as the greeting file, not the
// extension's tone — heard once, before the extension's tone. It returns
// the analysis.
func heardGreeting(t *testing.T, path string) sandbox.Heard {
	t.Helper()
	a, err := sandbox.ReadWAV(path)
	if err != nil {
		t.Fatalf("read what the caller heard: %v", err)
	}
	g := greetingAudio(t)
	file := sandbox.AnalyseHeard(g)
	got := sandbox.AnalyseHeard(a)
	t.Logf("the caller heard %.2f s: speech %.2f–%.2f s (RMS %.3f, 600 Hz share %.2f), extension's tone from %.2f s, speech after it %.2f s; greeting file %.2f s, speech %.2f–%.2f s (RMS %.3f)",
		got.Duration, got.SpeechStart, got.SpeechEnd, got.SpeechRMS, got.SpeechTone, got.ToneStart, got.SpeechAfterTone,
		g.Duration(), file.SpeechStart, file.SpeechEnd, file.SpeechRMS)
	if got.SpeechStart < 0 {
		t.Fatalf("the caller heard no greeting (%s)", path)
	}
	if got.SpeechStart > 1 {
		t.Errorf("the greeting starts %.2f s after the PBX answered, want at once", got.SpeechStart)
	}
	d := got.SpeechEnd - got.SpeechStart
	if math.Abs(d-g.Duration()) > greetingTolerance {
		t.Errorf("the greeting heard lasts %.2f s, the greeting file %.2f s (tolerance %.1f s)", d, g.Duration(), greetingTolerance)
	}
	if fd := file.SpeechEnd - file.SpeechStart; math.Abs(d-fd) > speechTolerance {
		t.Errorf("the greeting heard has %.2f s of speech, the greeting file %.2f s (tolerance %.2f s)", d, fd, speechTolerance)
	}
	if got.SpeechRMS < greetingLoudness*file.SpeechRMS {
		t.Errorf("the greeting heard has RMS %.3f, want at least %.3f (%.0f%% of the file's)", got.SpeechRMS, greetingLoudness*file.SpeechRMS, 100*greetingLoudness)
	}
	if got.SpeechTone > greetingMaxTone {
		t.Errorf("%.0f%% of the greeting's energy is at the extension's tone (%v Hz); want speech", 100*got.SpeechTone, sandbox.PhoneFreq)
	}
	if got.ToneStart < 0 {
		t.Fatalf("the caller never heard the extension's tone (%v Hz)", sandbox.PhoneFreq)
	}
	if got.SpeechEnd > got.ToneStart {
		t.Errorf("the greeting ends at %.2f s, after the extension's tone started (%.2f s)", got.SpeechEnd, got.ToneStart)
	}
	if got.SpeechAfterTone > 0.3 {
		t.Errorf("the caller heard %.2f s of speech after the extension answered: greeted twice?", got.SpeechAfterTone)
	}
	return got
}

// recordedCall places an inbound call to ext whose carrier side records
// what it hears, lets ext talk for talk, hangs up, and returns the call, its
// linkedid on the PBX and the closed recording's path.
func recordedCall(t *testing.T, obs *sandbox.Observer, ext string, talk time.Duration) (*sandbox.Call, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	num := callerNumber()
	c, path, err := h.driver.InboundRecorded(ctx, h.env.Root, sandbox.DIDPrefix+ext, num, sandbox.Options{CallerName: "Marie Gagnon"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	if err := h.driver.Talk(ctx, c, talk); err != nil {
		t.Fatal(err)
	}
	if err := sandbox.WaitWAVClosed(ctx, path, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	id := obs.LinkedID(num)
	if id == "" {
		t.Fatalf("the PBX observer saw no channel of caller %s", num)
	}
	return c, id, path
}

// checkGreetedOnce asserts that RECPOLICY_GREETED was set on the caller's
// channel (the carrier's) once, to want.
func checkGreetedOnce(t *testing.T, obs *sandbox.Observer, linkedid, want string) {
	t.Helper()
	all := obs.Greeted(linkedid)
	var caller []string
	for _, g := range all {
		if strings.HasPrefix(g.Channel, "PJSIP/carrier-") {
			caller = append(caller, g.Value)
		}
	}
	if len(caller) != 1 || caller[0] != want {
		t.Errorf("RECPOLICY_GREETED set to %q on the caller's channel of call %s (all: %+v), want once %q", caller, linkedid, all, want)
	}
}

func TestGreetingHeardBeforeTheExtension(t *testing.T) {
	tests := []struct {
		name string
		by   greeter
	}{
		{"ARI application of the running daemon", byARI},
		{"dialplan fallback, ARI application not registered", byDialplanAppMissing},
		{"dialplan fallback, daemon stopped", byDialplanDaemonStopped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := observePBX(t)
			setGreeter(t, obs, tt.by)
			outcome := map[greeter]string{byARI: "played", byDialplanAppMissing: "fallback"}[tt.by]
			var before float64
			if outcome != "" {
				before = greetingCount(t, outcome)
			}
			mark := h.filedCount()
			_, id, path := recordedCall(t, obs, "235", 1500*time.Millisecond)
			heardGreeting(t, path)
			checkGreetedOnce(t, obs, id, tt.by.greetedValue())
			if outcome != "" {
				waitGreetingCount(t, outcome, before+1)
				waitFiled(t, mark, 1, 0)
				if got := h.filedSince(mark); len(got) != 1 || got[0].Recording.Extension != "235" {
					t.Errorf("filed %+v, want one recording of 235", got)
				}
			}
		})
	}
}

func TestGreetingNotReplayedAfterBlindTransfer(t *testing.T) {
	obs := observePBX(t)
	setGreeter(t, obs, byARI)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	num := callerNumber()
	call, path, err := h.driver.InboundRecorded(ctx, h.env.Root, sandbox.DIDPrefix+"235", num, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	if err := h.driver.WaitAnswered(ctx, call, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	leg := h.driver.Expect(sandbox.SidePhone, "250")
	_, uid := call.AnswerChannel()
	if err := h.driver.BlindTransfer(ctx, uid, "250"); err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswered(ctx, leg, 15*time.Second); err != nil {
		h.driver.Forget(leg)
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := h.driver.Hangup(ctx, call); err != nil {
		t.Fatal(err)
	}
	if err := sandbox.WaitWAVClosed(ctx, path, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	got := heardGreeting(t, path)
	if after := got.Duration - got.ToneStart; after < 2 {
		t.Errorf("the caller heard the extensions for %.2f s, want both 235 and 250 (at least 2 s)", after)
	}
	checkGreetedOnce(t, obs, obs.LinkedID(num), "ari")
}

func TestGreetingCutShortLeavesNoRecordingAndACDR(t *testing.T) {
	tests := []struct {
		name    string
		by      greeter
		lastApp string // the CDR's last application: where the call ended
		outcome string // recpolicy_greetings_total outcome
	}{
		{"ARI application", byARI, "Stasis", "cut_short"},
		{"dialplan fallback", byDialplanAppMissing, "Playback", "fallback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := observePBX(t)
			setGreeter(t, obs, tt.by)
			before := greetingCount(t, tt.outcome)
			mark := h.filedCount()
			spool := spoolFiles(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			num := callerNumber()
			call, path, err := h.driver.InboundRecorded(ctx, h.env.Root, sandbox.DIDPrefix+"235", num, sandbox.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Remove(path) })
			// The carrier's recording starts when the PBX answers, i.e. when
			// the greeting starts; hang up 1 s into it.
			for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
				if _, err := os.Stat(path); err == nil {
					break
				}
				if time.Since(start) > 10*time.Second {
					t.Fatal("the PBX did not answer the caller within 10 s")
				}
			}
			time.Sleep(time.Second)
			if err := h.driver.Hangup(ctx, call); err != nil {
				t.Fatal(err)
			}
			if err := sandbox.WaitWAVClosed(ctx, path, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			id := obs.LinkedID(num)
			cdrs, err := obs.WaitCDR(ctx, id, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond) // any other CDR of the call
			cdrs = obs.CDRs(id)
			if len(cdrs) != 1 {
				t.Fatalf("call %s produced %d CDRs, want 1 (the caller's, ended in the greeting)", id, len(cdrs))
			}
			c := cdrs[0]
			t.Logf("CDR: disposition %s, last application %s(%s), destination channel %q, duration %s s",
				c.Get("Disposition"), c.Get("LastApplication"), c.Get("LastData"), c.Get("DestinationChannel"), c.Get("Duration"))
			if c.Get("LastApplication") != tt.lastApp || c.Get("DestinationChannel") != "" || c.Get("Source") != num {
				t.Errorf("CDR of call %s: last application %q, destination channel %q, source %q; want %s, none, %s",
					id, c.Get("LastApplication"), c.Get("DestinationChannel"), c.Get("Source"), tt.lastApp, num)
			}
			if c.Get("Disposition") != "ANSWERED" {
				t.Errorf("CDR of call %s: disposition %q, want ANSWERED (the PBX answered to greet)", id, c.Get("Disposition"))
			}
			checkArchivedCDR(t, id, tt.lastApp)
			waitGreetingCount(t, tt.outcome, before+1)
			waitFiled(t, mark, 0, 2*time.Second)
			if got := h.filedSince(mark); len(got) != 0 {
				t.Errorf("a caller who hung up during the greeting left %d recordings: %+v", len(got), got)
			}
			if after := spoolFiles(t); len(after) > len(spool) {
				t.Errorf("a caller who hung up during the greeting left files in the spool: %v", after)
			}
			a, err := sandbox.ReadWAV(path)
			if err != nil {
				t.Fatal(err)
			}
			heard := sandbox.AnalyseHeard(a)
			if heard.SpeechStart < 0 || heard.ToneStart >= 0 {
				t.Errorf("the caller heard speech %.2f–%.2f s and the extension's tone from %.2f s; want the start of the greeting only", heard.SpeechStart, heard.SpeechEnd, heard.ToneStart)
			}
		})
	}
}

// checkArchivedCDR waits until the daemon archived the call's CDR in
// PostgreSQL and asserts that it shows a call that ended in the greeting.
func checkArchivedCDR(t *testing.T, linkedid, lastApp string) {
	t.Helper()
	db, err := sql.Open("postgres", h.env.PGDSN)
	if err != nil {
		t.Fatalf("open the archive database: %v", err)
	}
	defer db.Close()
	var app, disp, dest string
	deadline := time.Now().Add(10 * time.Second)
	for {
		err = db.QueryRow(`SELECT last_application, disposition, destination_channel FROM calls WHERE linkedid = $1`, linkedid).Scan(&app, &disp, &dest)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("read the archived CDR of call %s: %v", linkedid, err)
	}
	if app != lastApp || disp != "ANSWERED" || dest != "" {
		t.Errorf("archived CDR of call %s: last application %q, disposition %q, destination channel %q; want %s, ANSWERED, none", linkedid, app, disp, dest, lastApp)
	}
}
