package e2e

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/internal/engine"
	"github.com/villedemercier/recpolicy/internal/sandbox"
)

// TestDaemonRestartDuringCallAdoptsTheRecording: the daemon stops and starts
// again while a recorded call goes on. MixMonitor keeps recording in
// Asterisk; the new daemon finds the recording through the channel's
// RECPOLICY_REC variable, adopts it (no second recording) and files it whole.
func TestDaemonRestartDuringCallAdoptsTheRecording(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mark := h.filedCount()
	call, err := h.driver.Inbound(ctx, sandbox.DIDPrefix+"240", "5145550190", sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswered(ctx, call, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := h.stopDaemon(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := h.startDaemon(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := h.driver.Hangup(ctx, call); err != nil {
		t.Fatal(err)
	}
	waitFiled(t, mark, 1, 2*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("filed %d recordings (%s) across a daemon restart, want exactly 1", len(got), describeFiled(got))
	}
	checkRecording(t, got[0], "240", call.Bridged())
}

// TestAsteriskCrashDuringCallFilesWhatWasRecorded: the PBX is killed during
// a recorded call. Asterisk never closes the file (its WAV header still says
// zero length); once the PBX is back, the daemon reconnects, finds the file
// in the spool, repairs its header from its size and files it.
func TestAsteriskCrashDuringCallFilesWhatWasRecorded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	mark := h.filedCount()
	call, err := h.driver.Inbound(ctx, sandbox.DIDPrefix+"241", "5145550191", sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswered(ctx, call, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	crashed := time.Now()
	if err := h.env.Crash(ctx, "pbx"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Leave the simulator without the PBX's calls.
		_ = h.env.Start(context.Background(), "pbx")
	})
	if err := h.env.Start(ctx, "pbx"); err != nil {
		t.Fatal(err)
	}
	_ = h.driver.Hangup(ctx, call) // the simulator's side of the dead call
	// The spool is scanned on reconnect and every 30 s; a file counts as left
	// over once untouched for 10 s.
	// Earlier crashes may have left files too: they are filed as well; this
	// test looks for its own (extension 241, this call).
	began := call.Answered().Add(-time.Minute)
	var f engine.Filed
	deadline := time.Now().Add(90 * time.Second)
	for f.Path == "" && time.Now().Before(deadline) {
		for _, g := range h.filedSince(mark) {
			if g.Recording.Extension == "241" && g.Recording.CallStart.After(began) {
				f = g
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	if f.Path == "" {
		t.Fatalf("the recording of 241 made before the crash was not filed within 90 s (filed: %d others)", len(h.filedSince(mark)))
	}
	if !f.Repaired {
		t.Errorf("the crash left a WAV header Asterisk never finished; want it repaired")
	}
	if f.Recording.Extension != "241" {
		t.Errorf("recording of %q, want 241", f.Recording.Extension)
	}
	a, err := sandbox.ReadWAV(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	// What was bridged before the crash is in the file, but for what
	// Asterisk had not written yet: each recording file goes through a
	// 32 KiB stdio buffer, 1.02 s of MixMonitor's interleaved stereo at
	// 8 kHz, 2.05 s of a snoop channel's mono (whose file also holds the
	// ringing, cut at filing: the measured failure of stop 33, 1.55 s
	// filed of 3.01 s, was exactly that buffer).
	unwritten := 32768.0 / (8000 * 2 * 2)
	if h.env.Backend() == "snoop" {
		unwritten *= 2
	}
	if want := crashed.Sub(call.Answered()).Seconds(); a.Duration() < want-unwritten || a.Duration() > want+0.3 {
		t.Errorf("recording lasts %.2f s; the call was bridged %.2f s before the crash (up to %.2f s may be lost unwritten)", a.Duration(), want, unwritten)
	}
	if p, c := a.ToneShare(sandbox.PhoneFreq, 0.1, a.Duration()-0.1), a.ToneShare(sandbox.CarrierFreq, 0.1, a.Duration()-0.1); p < 0.1 || c < 0.1 || math.IsNaN(p) {
		t.Errorf("phone tone %.2f, carrier tone %.2f; both directions must be in it", p, c)
	}
}

// TestBurstRightAfterPBXRestartIsRecordedWhole: the PBX restarts (`core
// restart now`: channel names start over from the same counters), the
// daemon reconnects on its own, and 24 inbound calls arrive at once, each
// greeted, then bridged about 3 s. Every one is recorded once, whole, both
// sides, with no policy violation; and, every AMI session being back on
// the new run, every start names its channel by name on that run (none by
// unique ID, the slow way).
func TestBurstRightAfterPBXRestartIsRecordedWhole(t *testing.T) {
	logOnFailure(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := h.env.Restart(ctx, "pbx"); err != nil {
		t.Fatal(err)
	}
	// The daemon notices the restart, then reconnects (AMI and ARI).
	time.Sleep(300 * time.Millisecond)
	if err := waitDaemonReady(ctx, h.health, nil); err != nil {
		t.Fatal(err)
	}
	mark := h.filedCount()
	violations := metricValue(t, "recpolicy_policy_violations_total")
	byUID := metricValue(t, "recpolicy_recording_starts_by_uniqueid_total")
	exts := []string{"231", "232", "233", "234", "236", "237", "238", "239", "240", "241", "242", "243",
		"244", "248", "249", "250", "251", "253", "256", "260", "261", "271", "312", "314"}
	calls := startBurst(ctx, exts, "51455507%02d", 3*time.Second)(t)
	checkBurstFiled(t, mark, exts, calls)
	if v := metricValue(t, "recpolicy_policy_violations_total"); v != violations {
		t.Errorf("policy violations went from %.0f to %.0f during the burst", violations, v)
	}
	if v := metricValue(t, "recpolicy_recording_starts_by_uniqueid_total"); v != byUID {
		t.Errorf("%.0f starts named their channel by unique ID after the restart, want none: the sessions are on the new run", v-byUID)
	}
}
