package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/internal/sandbox"
)

// picked is a call picked up by placePickup.
type picked struct {
	call   *sandbox.Call // the external caller's
	bridge time.Time     // when the picker entered the caller's bridge
	end    time.Time     // when the caller hung up
}

// placePickup: an external caller dials ringing's number; ringing's phone
// rings and never answers; picker keys code (*8 or **<ringing>) and takes
// the call; they talk 2 s and the caller hangs up. Asterisk moves the
// picker's phone into the ringing leg's channel (a masquerade): the leg's
// audio hooks stay with it and it takes the picker's name and unique ID.
func placePickup(t *testing.T, ringing, picker, code string) picked {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	obs := observePBX(t)
	if err := h.driver.SetPhone(ctx, ringing, "noanswer", 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.driver.ResetPhones(context.Background()) })
	start := time.Now().Add(-time.Second)
	var p picked
	var err error
	p.call, err = h.driver.Inbound(ctx, sandbox.DIDPrefix+ringing, callerNumber(), sandbox.Options{Answerers: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := obs.WaitRinging(ctx, "PJSIP/"+ringing+"-", start, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	pick, err := h.driver.Internal(ctx, picker, code, sandbox.Options{Answerers: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.driver.Forget(pick)
	e, err := obs.WaitEnter(ctx, "PJSIP/"+picker+"-", start, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p.bridge = e.At
	time.Sleep(2 * time.Second)
	if err := h.driver.Hangup(ctx, p.call); err != nil {
		t.Fatal(err)
	}
	p.end = p.call.HungUp()
	if err := h.driver.WaitHungUp(ctx, pick, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return p
}

// An Annexe A extension that picks up an external call ringing at a phone
// outside Annexe A is recorded from the pickup; the ringing phone leaves
// nothing.
func TestPickupByAnnexeAExtension(t *testing.T) {
	mark := h.filedCount()
	p := placePickup(t, "290", "250", "*8")
	waitFiled(t, mark, 1, 3*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("filed %d recordings (%s), want 1 (250 from the pickup)", len(got), describeFiled(got))
	}
	checkRecording(t, got[0], "250", p.end.Sub(p.bridge))
	// The picker took the ringing leg's place in the caller's call.
	if d := got[0].Recording.Direction; d != "inbound" {
		t.Errorf("the picker's recording is %q, want inbound (the external caller's call)", d)
	}
}

// An external call ringing at an Annexe A extension and picked up by
// another Annexe A extension is recorded as the picker's call, never as the
// ringing extension's (it never talked).
func TestPickupBetweenAnnexeAExtensions(t *testing.T) {
	mark := h.filedCount()
	p := placePickup(t, "235", "250", "**235")
	waitFiled(t, mark, 1, 3*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("filed %d recordings (%s), want 1 (250 from the pickup, nothing for 235)", len(got), describeFiled(got))
	}
	checkRecording(t, got[0], "250", p.end.Sub(p.bridge))
}

// The detainee phone that picks up an external call ringing at an Annexe A
// extension is never recorded: no recording is filed and nothing stays in
// the spool, although the ringing leg's recording had started at the dial.
func TestPickupByDetaineePhone(t *testing.T) {
	mark := h.filedCount()
	before := spoolFiles(t)
	for _, code := range []string{"*8", "**235"} {
		t.Run(code, func(t *testing.T) { placePickup(t, "235", "899", code) })
	}
	waitFiled(t, mark, 0, 3*time.Second)
	if got := h.filedSince(mark); len(got) != 0 {
		t.Fatalf("the detainee phone's pickups filed %d recordings, want none: %+v", len(got), got)
	}
	if after := spoolFiles(t); len(after) > len(before) {
		t.Fatalf("the detainee phone's pickups left files in the spool: %v", after)
	}
}
