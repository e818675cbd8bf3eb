package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/internal/sandbox"
)

// An external call parked by one Annexe A extension (a blind transfer to
// the parking lot) and retrieved by another: the first is recorded until it
// parks the call, the second from the retrieval; nobody while the caller
// waits in the lot.
func TestParkedCallRetrievedByAnotherExtension(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	obs := observePBX(t)
	mark := h.filedCount()
	call, err := h.driver.Inbound(ctx, sandbox.DIDPrefix+"235", callerNumber(), sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswered(ctx, call, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	_, uid := call.AnswerChannel()
	since := time.Now().Add(-time.Second)
	if err := h.driver.BlindTransfer(ctx, uid, sandbox.ParkingLot); err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswerGone(ctx, call, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	space, err := obs.WaitParked(ctx, since, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// 235 talked until the caller entered the lot's bridge (then the lot
	// tells 235 the space, which is no conversation).
	parked, err := obs.WaitEnter(ctx, "PJSIP/carrier-", since, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the caller waits in the lot
	retriever, err := h.driver.Internal(ctx, "250", space, sandbox.Options{Answerers: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.driver.Forget(retriever)
	e, err := obs.WaitEnter(ctx, "PJSIP/250-", since, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if err := h.driver.Hangup(ctx, call); err != nil {
		t.Fatal(err)
	}
	end := call.HungUp()
	waitFiled(t, mark, 2, 2*time.Second)
	got := h.filedSince(mark)
	if len(got) != 2 {
		t.Fatalf("filed %d recordings (%s), want 2 (235 until it parked the call, 250 from the retrieval)", len(got), describeFiled(got))
	}
	for _, f := range got {
		switch f.Recording.Extension {
		case "235":
			// Bridged until the caller entered the lot; Asterisk may keep
			// 235 alone in the call's bridge while the lot tells it the
			// space, and MixMonitor records it there (only 235's side).
			a, err := sandbox.ReadWAV(f.Path)
			if err != nil {
				t.Fatal(err)
			}
			lo, hi := parked.At.Sub(call.Answered()).Seconds()-0.3, call.AnswerGone().Sub(call.Answered()).Seconds()+0.3
			if d := a.Duration(); d < lo || d > hi {
				t.Errorf("recording of 235 lasts %.2f s, want %.2f to %.2f s (answer to park, or to its hangup)", d, lo, hi)
			}
			if c := a.ToneShare(sandbox.CarrierFreq, 0.1, parked.At.Sub(call.Answered()).Seconds()-0.1); c < 0.1 {
				t.Errorf("recording of 235: carrier tone %.2f until the park; the caller must be in it", c)
			}
		case "250":
			checkRecording(t, f, "250", end.Sub(e.At))
		default:
			t.Errorf("recording of %q, want 235 and 250", f.Recording.Extension)
		}
	}
}

// Two calls parked in the same lot, an external caller and an Annexe A
// extension, while the daemon's AMI session is cut and comes back: the
// reconciliation finds both channels in one bridge, and must not take the
// lot (a holding bridge, which CoreShowChannels does not name) for a
// conversation between them. Only 235's talk before it parked the caller is
// filed.
func TestParkedCallsAfterAMIReconnection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	obs := observePBX(t)
	mark := h.filedCount()
	lateBefore := metric(t, "recpolicy_recordings_started_late_total")
	ext, err := h.driver.Inbound(ctx, sandbox.DIDPrefix+"235", callerNumber(), sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.driver.Forget(ext)
	if err := h.driver.WaitAnswered(ctx, ext, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	_, uid := ext.AnswerChannel()
	since := time.Now().Add(-time.Second)
	if err := h.driver.BlindTransfer(ctx, uid, sandbox.ParkingLot); err != nil {
		t.Fatal(err)
	}
	if _, err := obs.WaitParked(ctx, since, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// 250 calls 235, which parks 250 in the same lot.
	in, err := h.driver.Internal(ctx, "250", "235", sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.driver.Forget(in)
	if err := h.driver.WaitAnswered(ctx, in, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	_, uid = in.AnswerChannel()
	since = time.Now().Add(-100 * time.Millisecond)
	if err := h.driver.BlindTransfer(ctx, uid, sandbox.ParkingLot); err != nil {
		t.Fatal(err)
	}
	if _, err := obs.WaitParked(ctx, since, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	restore := cut(ctx, t, h.amiProxy, "ami")
	time.Sleep(500 * time.Millisecond)
	restore()
	if err := waitDaemonReady(ctx, h.health, h.daemonDone); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // both wait in the lot, the daemon reconciled
	for _, c := range []*sandbox.Call{ext, in} {
		if err := h.driver.Hangup(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	waitFiled(t, mark, 1, 3*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 || got[0].Recording.Extension != "235" {
		var exts []string
		for _, f := range got {
			exts = append(exts, f.Recording.Extension)
		}
		t.Fatalf("filed recordings of %v, want only 235's (until it parked the caller); nobody talks in a parking lot", exts)
	}
	if after := metric(t, "recpolicy_recordings_started_late_total"); after != lateBefore {
		t.Errorf("recpolicy_recordings_started_late_total went from %s to %s; the reconciliation started a recording in the parking lot", lateBefore, after)
	}
}
