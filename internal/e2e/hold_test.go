package e2e

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/internal/sandbox"
)

// TestCallOnHoldIsRecordedThroughout: an external caller talks with 235;
// 235 presses hold (a re-INVITE with a=sendonly; the PBX plays music on hold
// to the caller), then takes the call back. The call is recorded once, from
// answer to hang-up, hold included, with both sides before and after.
func TestCallOnHoldIsRecordedThroughout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	mark := h.filedCount()
	call, heard, err := h.driver.InboundRecorded(ctx, h.env.Root, sandbox.DIDPrefix+"235", "5145550180", sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(heard) })
	if err := h.driver.WaitAnswered(ctx, call, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	_, uid := call.AnswerChannel()
	const before, held, after = 2 * time.Second, 3 * time.Second, 2 * time.Second
	time.Sleep(before)
	if err := h.driver.Hold(ctx, uid); err != nil {
		t.Fatal(err)
	}
	time.Sleep(held)
	if err := h.driver.Unhold(ctx, uid); err != nil {
		t.Fatal(err)
	}
	time.Sleep(after)
	if err := h.driver.Hangup(ctx, call); err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitHungUp(ctx, call, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	waitFiled(t, mark, 1, 2*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("filed %d recordings (%s), want 1 (one recording through the hold)", len(got), describeFiled(got))
	}
	checkRecording(t, got[0], "235", call.Bridged())
	a, err := sandbox.ReadWAV(got[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	end := a.Duration()
	// Both sides talk then: each tone holds about half the energy.
	if s := a.ToneShare(sandbox.PhoneFreq, end-after.Seconds()+0.5, end-0.2); s < 0.2 {
		t.Errorf("235's side after the hold is %.2f of the recording's last %s, want it there (the recording must go on after the hold)", s, after)
	}
	if s := a.ToneShare(sandbox.CarrierFreq, end-(after+held).Seconds()+0.5, end-after.Seconds()-0.5); s < 0.1 {
		t.Errorf("the caller's side during the hold is %.2f of the recording, want it there (the caller is still recorded while on hold)", s)
	}

	// The hold was real: the caller heard the PBX's music on hold.
	if err := sandbox.WaitWAVClosed(ctx, heard, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	b, err := sandbox.ReadWAV(heard)
	if err != nil {
		t.Fatal(err)
	}
	hend := b.Duration()
	if s := b.ToneShare(sandbox.MOHFreq, hend-(after+held).Seconds()+0.5, hend-after.Seconds()-0.5); s < 0.5 {
		t.Errorf("the caller heard music on hold for %.2f of the hold, want most of it (did the PBX see the hold?)", s)
	}
	if s := b.ToneShare(sandbox.PhoneFreq, hend-after.Seconds()+0.5, hend-0.2); s < 0.5 {
		t.Errorf("the caller heard 235 for %.2f of the time after the hold, want most of it", s)
	}
}
