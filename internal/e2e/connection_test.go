package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/internal/engine"
	"github.com/villedemercier/recpolicy/internal/sandbox"
)

// waitDown waits until the daemon's /healthz names part among the
// connections that are down.
func waitDown(ctx context.Context, t *testing.T, part string) {
	t.Helper()
	for {
		resp, err := http.Get(h.health)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(body), part) {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the daemon never reported its %s connection down", part)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// cut drops every connection through p and refuses new ones until the
// returned function is called; the daemon must see the drop.
func cut(ctx context.Context, t *testing.T, p *sandbox.Proxy, part string) (restore func()) {
	t.Helper()
	p.Refuse(true)
	if n := p.Drop(); n == 0 {
		p.Refuse(false)
		t.Fatalf("the daemon had no %s connection through the test proxy", part)
	}
	waitDown(ctx, t, part)
	return func() { p.Refuse(false) }
}

// filedOf returns the recordings of exts filed since mark. Only a test's
// own extensions count: a recording of an earlier test's call that the
// filer finishes meanwhile is logged and left out.
func filedOf(t *testing.T, mark int, exts ...string) []engine.Filed {
	t.Helper()
	var got []engine.Filed
	for _, f := range h.filedSince(mark) {
		if slices.Contains(exts, f.Recording.Extension) {
			got = append(got, f)
		} else {
			t.Logf("ignored: a recording of %s filed meanwhile (another test's call)", f.Recording.Extension)
		}
	}
	return got
}

// checkLateRecording asserts a recording that could only start once the
// daemon was reconnected: extension, both tones, and a length from the
// reconnection to the end of the call.
func checkLateRecording(t *testing.T, f engine.Filed, ext string, call *sandbox.Call, reconnected time.Time) {
	t.Helper()
	if f.Recording.Extension != ext {
		t.Fatalf("recording of extension %q, want %s", f.Recording.Extension, ext)
	}
	a, err := sandbox.ReadWAV(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	min, max := call.HungUp().Sub(reconnected).Seconds()-0.3, call.Bridged().Seconds()+0.3
	if d := a.Duration(); d < min || d > max {
		t.Errorf("recording of %s lasts %.2f s, want from the reconnection on: %.2f–%.2f s", ext, d, min, max)
	}
	checkBothSides(t, a, ext)
}

// TestAMIConnectionDroppedDuringCalls: the daemon's AMI session is cut while
// Asterisk stays up, and stays unreachable for a while. The call already
// recorded goes on being recorded in Asterisk and is filed whole, once; a
// call answered while the daemon could not reach AMI is recorded from the
// reconnection on (the reconcile finds it bridged and unrecorded).
func TestAMIConnectionDroppedDuringCalls(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mark := h.filedCount()
	lateBefore := metric(t, "recpolicy_recordings_started_late_total")
	a, err := h.driver.Inbound(ctx, sandbox.DIDPrefix+"242", "5145550192", sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswered(ctx, a, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)

	restore := cut(ctx, t, h.amiProxy, "ami")
	b, err := h.driver.Outbound(ctx, "243", "5145550193", sandbox.Options{})
	if err != nil {
		restore()
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswered(ctx, b, 30*time.Second); err != nil {
		restore()
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	restore()
	if err := waitDaemonReady(ctx, h.health, h.daemonDone); err != nil {
		t.Fatal(err)
	}
	reconnected := time.Now()
	time.Sleep(2 * time.Second)
	for _, c := range []*sandbox.Call{a, b} {
		if err := h.driver.Hangup(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := h.driver.WaitHungUp(ctx, c, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	waitFiled(t, mark, 2, 2*time.Second)
	got := filedOf(t, mark, "242", "243")
	if len(got) != 2 {
		t.Fatalf("filed %d recordings (%s), want 2 (242's whole call; 243's from the reconnection on)", len(got), describeFiled(got))
	}
	byExt := map[string]engine.Filed{got[0].Recording.Extension: got[0], got[1].Recording.Extension: got[1]}
	checkRecording(t, byExt["242"], "242", a.Bridged())
	checkLateRecording(t, byExt["243"], "243", b, reconnected)
	// Its name and row still carry the call's own start, not the
	// reconnection's (CoreShowChannels gives whole seconds).
	if cs := byExt["243"].Recording.CallStart; cs.After(b.Answered().Add(time.Second)) || b.Answered().Sub(cs) > 5*time.Second {
		t.Errorf("243's recording says its call started at %s; it was answered at %s", cs, b.Answered())
	}
	// The lost beginning is reported.
	if after := metric(t, "recpolicy_recordings_started_late_total"); after == lateBefore {
		t.Errorf("recpolicy_recordings_started_late_total stayed %s; the late start of 243's recording must be counted", after)
	}
}

// TestDialWhileAMIIsCutIsRecordedFromTheAnswer: the daemon's AMI session
// is cut while an inbound caller hears the greeting, so that the PBX dials
// the extension unseen (its DialBegin lost); the session comes back while
// the phone still rings. The reconciliation decides that dial as its
// DialBegin would have: the recording starts before the answer, is not
// counted late, and holds the whole call.
func TestDialWhileAMIIsCutIsRecordedFromTheAnswer(t *testing.T) {
	logOnFailure(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const ext = "248"
	// The greeting lasts 2.6 s, then the phone rings 6 s: the session is
	// back about 1 s into the ringing.
	if err := h.driver.SetPhone(ctx, ext, "answer", 6*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.driver.ResetPhones(context.Background()) })
	mark := h.filedCount()
	lateBefore := metric(t, "recpolicy_recordings_started_late_total")
	logFrom := logSize(t)
	placed := time.Now()
	c, err := h.driver.Inbound(ctx, sandbox.DIDPrefix+ext, "5145550196", sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	restore := cut(ctx, t, h.amiProxy, "ami")
	time.Sleep(time.Until(placed.Add(3700 * time.Millisecond)))
	restore()
	if err := waitDaemonReady(ctx, h.health, h.daemonDone); err != nil {
		t.Fatal(err)
	}
	filed := talkFiledOnce(ctx, t, c, ext, mark)
	if st := filed.Recording.Started; !st.Before(c.Answered()) {
		t.Errorf("recording started at %s, the phone answered at %s: the dial made while AMI was cut must be decided at the reconnection, before the answer",
			st.Format("15:04:05.000"), c.Answered().Format("15:04:05.000"))
	}
	if after := metric(t, "recpolicy_recordings_started_late_total"); after != lateBefore {
		t.Errorf("recpolicy_recordings_started_late_total went from %s to %s; the recording started before the answer", lateBefore, after)
	}
	// The dial was made while the session was cut: the reconciliation
	// decided it, not its DialBegin.
	if !logHas(t, logFrom, `"on":"unseen dial"`, `"channel":"PJSIP/`+ext+`-`) {
		t.Errorf("no decision on an unseen dial of %s in the daemon's log: the dial did not fall within the cut, the test proves nothing", ext)
	}
}

// TestRequestWhoseReplyIsCutIsRecordedWhole: an ARI request of the daemon
// reaches Asterisk, which carries it out, and its reply is lost with its
// connection (a network fault at the wrong moment). With the snoop
// backend it is the snoop channel's creation, the recording's first
// request: the daemon reads the snoop channel by its ID, keeps it, and
// records the call from before its answer, with no failed start (stop 41's
// code failed the start, logged a violation, and started again with new
// snoop channels). With MixMonitor it is the greeting's playback: the
// caller is handed to the dialplan, which plays the notice whole. Either
// way the call is recorded once, whole, both sides.
func TestRequestWhoseReplyIsCutIsRecordedWhole(t *testing.T) {
	logOnFailure(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := waitDaemonReady(ctx, h.health, h.daemonDone); err != nil {
		t.Fatal(err)
	}
	const ext = "249"
	snoop := h.env.Backend() == "snoop"
	pattern := "/play/"
	if snoop {
		pattern = "/snoop?"
	}
	// The phone rings 1 s: the snoop channel exists before the answer.
	c, mark, logFrom := callThroughCut(ctx, t, h.ariProxy, "ARI request", pattern, ext, "5145550197")
	filed := talkFiledOnce(ctx, t, c, ext, mark)
	if logHas(t, logFrom, "policy violation", "PJSIP/"+ext+"-") {
		t.Error("a policy violation was logged: the request whose reply was cut must not fail the recording")
	}
	if snoop {
		if !logHas(t, logFrom, "snoop request cut on the way; its snoop channel exists") {
			t.Error("the daemon did not settle the snoop request by reading its snoop channel")
		}
		if st := filed.Recording.Started; !st.Before(c.Answered()) {
			t.Errorf("recording started at %s, the phone answered at %s: it must start while the phone rings",
				st.Format("15:04:05.000"), c.Answered().Format("15:04:05.000"))
		}
		return
	}
	if !logHas(t, logFrom, "greeting played by the dialplan fallback") {
		t.Error("the greeting whose playback reply was cut was not handed to the dialplan fallback")
	}
}

// TestAMIActionWhoseAnswerIsCutIsRecordedWhole: the recorder's first AMI
// action reaches Asterisk, which carries it out, and its answer is lost
// with its session (a network fault at the wrong moment). With
// MixMonitor it is the MixMonitor itself: once reconnected the daemon
// reads the channel's MIXMONITOR_FILENAME, finds its own file and keeps
// the recording (stop 43's code failed the start, logged a violation and
// started a second MixMonitor, whose file came beside the first). With
// the snoop backend it is the mark's Setvar, which is sent again. Either
// way the call is recorded once, whole, both sides, with no violation.
func TestAMIActionWhoseAnswerIsCutIsRecordedWhole(t *testing.T) {
	logOnFailure(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := waitDaemonReady(ctx, h.health, h.daemonDone); err != nil {
		t.Fatal(err)
	}
	const ext = "245"
	pattern := "Action: MixMonitor"
	if h.env.Backend() == "snoop" {
		pattern = "Variable: " + engine.MarkVar
	}
	// The phone rings 1 s: the session is back before the answer.
	c, mark, logFrom := callThroughCut(ctx, t, h.amiProxy, "AMI action", pattern, ext, "5145550198")
	talkFiledOnce(ctx, t, c, ext, mark)
	if logHas(t, logFrom, "policy violation", "PJSIP/"+ext+"-") {
		t.Error("a policy violation was logged: the action whose answer was cut must not fail the recording")
	}
	if logHas(t, logFrom, `"level":"error"`, "PJSIP/"+ext+"-") {
		t.Error("an error was logged for the call: the action whose answer was cut must be settled")
	}
}

// callThroughCut places an inbound call from caller to ext, whose phone
// rings 1 s, with proxy armed to cut the reply of the daemon's next
// request holding pattern (what names the request in the test's
// failures), and waits for that cut. It returns the call, the filed
// count and the daemon log's size from before the call.
func callThroughCut(ctx context.Context, t *testing.T, proxy *sandbox.Proxy, what, pattern, ext, caller string) (c *sandbox.Call, mark int, logFrom int64) {
	t.Helper()
	if err := h.driver.SetPhone(ctx, ext, "answer", time.Second); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.driver.ResetPhones(context.Background()) })
	mark, logFrom = h.filedCount(), logSize(t)
	cutDone := proxy.CutReply(pattern)
	t.Cleanup(proxy.Disarm) // a failure before the cut must not leave it armed for the next test
	c, err := h.driver.Inbound(ctx, sandbox.DIDPrefix+ext, caller, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-cutDone:
	case <-time.After(20 * time.Second):
		t.Fatalf("no %s held %q: nothing was cut, the test proves nothing", what, pattern)
	}
	return c, mark, logFrom
}

// talkFiledOnce lets call c, placed to ext, talk 2 s and hang up, waits
// for its recording, the one recording of ext filed since mark, checks it
// whole, both sides, against c's bridged time, and returns it.
func talkFiledOnce(ctx context.Context, t *testing.T, c *sandbox.Call, ext string, mark int) engine.Filed {
	t.Helper()
	if err := h.driver.Talk(ctx, c, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitHungUp(ctx, c, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	waitFiled(t, mark, 1, 2*time.Second)
	got := filedOf(t, mark, ext)
	if len(got) != 1 {
		t.Fatalf("filed %d recordings (%s), want 1", len(got), describeFiled(got))
	}
	checkRecording(t, got[0], ext, c.Bridged())
	return got[0]
}

// logSize returns the daemon log's size now, for logHas.
func logSize(t *testing.T) int64 {
	t.Helper()
	fi, err := os.Stat(h.logPath)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// logHas tells whether a line of the daemon's log written after offset
// from holds every one of parts.
func logHas(t *testing.T, from int64, parts ...string) bool {
	t.Helper()
	b, err := os.ReadFile(h.logPath)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) < from {
		from = 0
	}
	for _, line := range strings.Split(string(b[from:]), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

// TestARIConnectionDroppedDuringCall: the daemon's ARI connections (the
// greeting app's and, with the snoop backend, the recorder's) are cut
// during a recorded call while Asterisk stays up. The recording goes on and
// is filed whole, once; after the reconnection the next caller is greeted
// and recorded as usual.
func TestARIConnectionDroppedDuringCall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mark := h.filedCount()
	a, err := h.driver.Inbound(ctx, sandbox.DIDPrefix+"244", "5145550194", sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswered(ctx, a, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	restore := cut(ctx, t, h.ariProxy, "ari")
	time.Sleep(1500 * time.Millisecond)
	restore()
	if err := waitDaemonReady(ctx, h.health, h.daemonDone); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := h.driver.Hangup(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitHungUp(ctx, a, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	b := placeAndTalk(t, func(ctx context.Context) (*sandbox.Call, error) {
		return h.driver.Inbound(ctx, sandbox.DIDPrefix+"240", "5145550195", sandbox.Options{})
	}, 2*time.Second)
	waitFiled(t, mark, 2, 2*time.Second)
	got := filedOf(t, mark, "244", "240")
	if len(got) != 2 {
		t.Fatalf("filed %d recordings (%s), want 2 (244 across the cut, then 240)", len(got), describeFiled(got))
	}
	byExt := map[string]engine.Filed{got[0].Recording.Extension: got[0], got[1].Recording.Extension: got[1]}
	checkRecording(t, byExt["244"], "244", a.Bridged())
	checkRecording(t, byExt["240"], "240", b.Bridged())
}

// TestBurstThroughARIBlipsIsRecordedWhole: 20 inbound calls arrive at once
// and the daemon's ARI connections are cut three times while they are
// greeted, dialled and their recordings start (a network blip: Asterisk
// stays up, the daemon reconnects at once). A start asked for while the
// application reconnects waits for it, and a snoop channel that could not
// enter the application meanwhile is created again: every call is recorded
// once, whole, both sides.
func TestBurstThroughARIBlipsIsRecordedWhole(t *testing.T) {
	logOnFailure(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := waitDaemonReady(ctx, h.health, h.daemonDone); err != nil {
		t.Fatal(err)
	}
	mark := h.filedCount()
	exts := []string{"231", "232", "233", "234", "236", "237", "238", "239", "240", "241",
		"242", "243", "244", "248", "249", "250", "251", "253", "256", "260"}
	wait := startBurst(ctx, exts, "51455508%02d", 3*time.Second)
	cuts := 0
	for _, at := range []time.Duration{2200 * time.Millisecond, 800 * time.Millisecond, 800 * time.Millisecond} {
		time.Sleep(at)
		cuts += h.ariProxy.Drop()
	}
	calls := wait(t)
	if cuts == 0 {
		t.Fatal("no ARI connection was cut")
	}
	checkBurstFiled(t, mark, exts, calls)
	if err := waitDaemonReady(ctx, h.health, h.daemonDone); err != nil {
		t.Fatal(err)
	}
}
