package e2e

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/internal/sandbox"
)

// conferenceMember is one party placed into the conference room.
type conferenceMember struct {
	call  *sandbox.Call
	enter time.Time // when its PBX channel entered the conference's bridge
}

// joinConference places a call into the conference room: from the carrier
// (caller "" : an extension) or from extension ext, and waits until its PBX
// channel is in the conference.
func joinConference(ctx context.Context, t *testing.T, obs *sandbox.Observer, ext string) conferenceMember {
	t.Helper()
	since := time.Now().Add(-time.Second)
	var m conferenceMember
	var err error
	prefix := "PJSIP/" + ext + "-"
	if ext == "carrier" {
		m.call, err = h.driver.Inbound(ctx, sandbox.ConferenceNumber, callerNumber(), sandbox.Options{Answerers: []string{}})
	} else {
		m.call, err = h.driver.Internal(ctx, ext, sandbox.Conference, sandbox.Options{Answerers: []string{}})
	}
	if err != nil {
		t.Fatal(err)
	}
	e, err := obs.WaitEnter(ctx, prefix, since, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m.enter = e.At
	return m
}

// An Annexe A extension in a conference with an external caller is
// recorded while it is in the room with them: from its entry until it
// leaves, both the extension and the room in its recording.
func TestConferenceWithExternalCallerIsRecorded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	obs := observePBX(t)
	mark := h.filedCount()
	caller := joinConference(ctx, t, obs, "carrier")
	ext := joinConference(ctx, t, obs, "235")
	time.Sleep(3 * time.Second)
	if err := h.driver.Hangup(ctx, ext.call); err != nil {
		t.Fatal(err)
	}
	left := ext.call.HungUp()
	time.Sleep(time.Second)
	if err := h.driver.Hangup(ctx, caller.call); err != nil {
		t.Fatal(err)
	}
	waitFiled(t, mark, 1, 2*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("filed %d recordings (%s), want 1 (235 in the room with the caller)", len(got), describeFiled(got))
	}
	checkRecording(t, got[0], "235", left.Sub(ext.enter))
}

// The detainee phone in a conference stops every recording of the room
// while it is there: an Annexe A extension's recording, running with an
// external caller, ends when the detainee phone enters. It does too when
// the stop is lost on its way with its connection (a network fault at
// the wrong moment: written by the daemon, never read by Asterisk): with
// MixMonitor the StopMixMonitor, sent again by its ID once reconnected
// (stop 43's code left the recording running, the detainee phone's
// conversation in it); with the snoop backend the recording's stop,
// which the snoop channel's hangup backs.
func TestConferenceJoinedByDetaineePhone(t *testing.T) {
	for _, cut := range []bool{false, true} {
		t.Run(fmt.Sprintf("stop lost %v", cut), func(t *testing.T) { conferenceJoinedByDetainee(t, cut) })
	}
}

func conferenceJoinedByDetainee(t *testing.T, cut bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	obs := observePBX(t)
	mark := h.filedCount()
	caller := joinConference(ctx, t, obs, "carrier")
	ext := joinConference(ctx, t, obs, "235")
	time.Sleep(2 * time.Second)
	var cutDone <-chan struct{}
	if cut {
		proxy, pattern := h.amiProxy, "Action: StopMixMonitor"
		if h.env.Backend() == "snoop" {
			proxy, pattern = h.ariProxy, "/stop "
		}
		cutDone = proxy.CutRequest(pattern)
		t.Cleanup(proxy.Disarm)
	}
	detainee := joinConference(ctx, t, obs, "899")
	if cut {
		select {
		case <-cutDone:
		case <-time.After(10 * time.Second):
			t.Fatal("no stop request was lost: the test proves nothing")
		}
	}
	time.Sleep(2 * time.Second)
	// 235 leaves first: were the detainee phone to leave first, 235 would
	// be with the caller alone again for the few milliseconds before its
	// own hangup, and rightly recorded anew (TestConferenceLeftByDetaineePhone).
	for _, c := range []*sandbox.Call{ext.call, detainee.call, caller.call} {
		if err := h.driver.Hangup(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	waitFiled(t, mark, 1, 2*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("filed %d recordings (%s), want 1 (235 until the detainee phone entered)", len(got), describeFiled(got))
	}
	a, err := sandbox.ReadWAV(got[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	want := detainee.enter.Sub(ext.enter).Seconds()
	if d := a.Duration(); math.Abs(d-want) > 0.3 {
		t.Errorf("recording of 235 lasts %.2f s, want %.2f s (until the detainee phone entered; tolerance 0.3 s)", d, want)
	}
	checkBothSides(t, a, "235")
}

// When the external caller leaves a conference, the extensions left in the
// room talk internally: their recordings end when the caller leaves.
func TestConferenceLeftByTheExternalCaller(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	obs := observePBX(t)
	mark := h.filedCount()
	caller := joinConference(ctx, t, obs, "carrier")
	a := joinConference(ctx, t, obs, "235")
	b := joinConference(ctx, t, obs, "250")
	time.Sleep(2 * time.Second)
	if err := h.driver.Hangup(ctx, caller.call); err != nil {
		t.Fatal(err)
	}
	left := caller.call.HungUp()
	time.Sleep(2 * time.Second)
	for _, c := range []*sandbox.Call{a.call, b.call} {
		if err := h.driver.Hangup(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	waitFiled(t, mark, 2, 2*time.Second)
	got := h.filedSince(mark)
	if len(got) != 2 {
		t.Fatalf("filed %d recordings (%s), want 2 (235 and 250 until the caller left)", len(got), describeFiled(got))
	}
	for _, f := range got {
		m := map[string]conferenceMember{"235": a, "250": b}[f.Recording.Extension]
		if m.call == nil {
			t.Fatalf("recording of %q, want 235 and 250", f.Recording.Extension)
		}
		checkRecording(t, f, f.Recording.Extension, left.Sub(m.enter))
	}
}

// Once the detainee phone has left the conference, the Annexe A extension
// still in the room with the external caller is recorded again, in a
// recording of its own.
func TestConferenceLeftByDetaineePhone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	obs := observePBX(t)
	mark := h.filedCount()
	caller := joinConference(ctx, t, obs, "carrier")
	detainee := joinConference(ctx, t, obs, "899")
	ext := joinConference(ctx, t, obs, "235")
	time.Sleep(2 * time.Second)
	if err := h.driver.Hangup(ctx, detainee.call); err != nil {
		t.Fatal(err)
	}
	gone := detainee.call.HungUp()
	time.Sleep(3 * time.Second)
	if err := h.driver.Hangup(ctx, ext.call); err != nil {
		t.Fatal(err)
	}
	end := ext.call.HungUp()
	if err := h.driver.Hangup(ctx, caller.call); err != nil {
		t.Fatal(err)
	}
	waitFiled(t, mark, 1, 2*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("filed %d recordings (%s), want 1 (235 from the detainee phone's departure)", len(got), describeFiled(got))
	}
	checkRecording(t, got[0], "235", end.Sub(gone))
}
