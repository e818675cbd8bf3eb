package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/internal/engine"
	"github.com/villedemercier/recpolicy/internal/sandbox"
)

// referXfer is an attended transfer made by the phone itself (SIP REFER
// with Replaces), placed by referTransfer.
type referXfer struct {
	call, consult *sandbox.Call
	refer         time.Time // when the phone sent the REFER
	handOff       time.Time // when the PBX hung up the transferer's call with the caller
	swap          time.Time // when the caller and the target were first in one bridge
}

// referTransfer: an external caller reaches from and talks 2 s; from's
// phone places a second call to to (the consultation, internal) and talks
// 2 s, then its transfer key sends the PBX a REFER with Replaces, which
// joins the caller and to; they talk 2 s and the caller hangs up. to keeps
// what it hears. Unlike *2, no Local channel and no feature code: the PBX
// moves or merges the two calls' bridges (ast_bridge_transfer_attended).
func referTransfer(t *testing.T, from, to, caller string) referXfer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	obs := observePBX(t)
	var x referXfer
	var err error
	x.call, err = h.driver.Inbound(ctx, sandbox.DIDPrefix+from, caller, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.driver.Forget(x.call)
	if err := h.driver.WaitAnswered(ctx, x.call, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if err := h.driver.SetHear(ctx, to); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.driver.ResetPhones(context.Background()) })
	x.consult, err = h.driver.Internal(ctx, from, to, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.driver.Forget(x.consult)
	if err := h.driver.WaitAnswered(ctx, x.consult, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the consultation
	_, uid := x.call.AnswerChannel()
	x.refer = time.Now()
	if err := h.driver.TransferByRefer(ctx, uid, x.consult.ID, to); err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswerGone(ctx, x.call, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	x.handOff = x.call.AnswerGone()
	// The PBX moves one of the two far parties into the other's bridge.
	x.swap = firstEnter(ctx, obs, x.refer, "PJSIP/carrier-", "PJSIP/"+to+"-")
	if x.swap.IsZero() {
		t.Fatalf("the PBX never bridged the caller with %s after the REFER", to)
	}
	t.Logf("REFER to hand-off %s, to swap %s", x.handOff.Sub(x.refer).Round(time.Millisecond), x.swap.Sub(x.refer).Round(time.Millisecond))
	time.Sleep(2 * time.Second)
	if err := h.driver.Hangup(ctx, x.call); err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswerGone(ctx, x.consult, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	checkTargetHeardCaller(ctx, t, x.consult, to)
	return x
}

// firstEnter returns when a channel whose name starts with one of prefixes
// first entered a bridge at or after since (the REFER's swap moves either
// far party into the other's bridge), waiting up to 10 s; zero if none did.
func firstEnter(ctx context.Context, obs *sandbox.Observer, since time.Time, prefixes ...string) time.Time {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		for _, p := range prefixes {
			if e, err := obs.WaitEnter(ctx, p, since, 50*time.Millisecond); err == nil {
				return e.At
			}
		}
	}
	return time.Time{}
}

// checkReferTransferer asserts the transferer's recording: its whole call
// with the caller, from answer until the PBX hung it up after the REFER;
// the consultation is another call, internal, never in it.
func checkReferTransferer(t *testing.T, f engine.Filed, ext string, x referXfer) {
	t.Helper()
	checkRecording(t, f, ext, x.handOff.Sub(x.call.Answered()))
}

// TestReferTransferBetweenAnnexeAExtensions: 235 consults 250 on a second
// call and hands the caller over with its transfer key (REFER with
// Replaces). 235 is recorded until the hand-off, the consultation never,
// 250 with both sides from the swap to the end.
func TestReferTransferBetweenAnnexeAExtensions(t *testing.T) {
	mark := h.filedCount()
	x := referTransfer(t, "235", "250", "5145550180")
	waitFiled(t, mark, 2, 2*time.Second)
	got := h.filedSince(mark)
	if len(got) != 2 {
		t.Fatalf("filed %d recordings (%s), want 2 (235 until the hand-off, 250 after it; never the consultation)", len(got), describeFiled(got))
	}
	byExt := map[string]engine.Filed{got[0].Recording.Extension: got[0], got[1].Recording.Extension: got[1]}
	if byExt["235"].Path == "" || byExt["250"].Path == "" {
		t.Fatalf("filed %v and %v, want one recording of 235 and one of 250", got[0].Recording.Extension, got[1].Recording.Extension)
	}
	checkReferTransferer(t, byExt["235"], "235", x)
	checkRecording(t, byExt["250"], "250", x.consult.AnswerGone().Sub(x.swap))
}

// TestReferTransferToPhoneOutsideAnnexeA: 235 hands the caller to 290: 235
// recorded until the hand-off, 290 never.
func TestReferTransferToPhoneOutsideAnnexeA(t *testing.T) {
	mark := h.filedCount()
	x := referTransfer(t, "235", "290", "5145550181")
	waitFiled(t, mark, 1, 3*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("filed %d recordings (%s), want 1 (235 until the hand-off; nothing of 290)", len(got), describeFiled(got))
	}
	checkReferTransferer(t, got[0], "235", x)
}

// TestReferTransferFromOutsideAnnexeAIntoAnnexeA: 290 consults 235 and
// hands its external caller over: nothing before, 235 from the swap on.
func TestReferTransferFromOutsideAnnexeAIntoAnnexeA(t *testing.T) {
	mark := h.filedCount()
	x := referTransfer(t, "290", "235", "5145550182")
	waitFiled(t, mark, 1, 3*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("filed %d recordings (%s), want 1 (235 from the hand-off on)", len(got), describeFiled(got))
	}
	checkRecording(t, got[0], "235", x.consult.AnswerGone().Sub(x.swap))
}

// TestReferTransferToDetaineePhone: 235 hands the caller to 899: 235
// recorded until the hand-off; not a byte of 899, ever.
func TestReferTransferToDetaineePhone(t *testing.T) {
	mark := h.filedCount()
	before := spoolFiles(t)
	x := referTransfer(t, "235", "899", "5145550183")
	waitFiled(t, mark, 1, 3*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("filed %d recordings (%s), want 1 (235 until the hand-off; nothing of 899)", len(got), describeFiled(got))
	}
	checkReferTransferer(t, got[0], "235", x)
	if after := spoolFiles(t); len(after) > len(before) {
		t.Errorf("the transfer to 899 left files in the spool: %v", after)
	}
}

// TestReferTransferOfInternalCallToExternalNumber: 250 calls 235 (internal,
// not recorded); 235 consults an external number on a second call (235's
// outbound call, recorded) and hands 250 over to it with its transfer key:
// from the swap, 250 talks with an external party and is recorded.
func TestReferTransferOfInternalCallToExternalNumber(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	obs := observePBX(t)
	mark := h.filedCount()
	const number = "5145559878"
	in, err := h.driver.Internal(ctx, "250", "235", sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.driver.Forget(in)
	if err := h.driver.WaitAnswered(ctx, in, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	consult, err := h.driver.Outbound(ctx, "235", number, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.driver.Forget(consult)
	if err := h.driver.WaitAnswered(ctx, consult, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	_, uid := in.AnswerChannel()
	refer := time.Now()
	if err := h.driver.TransferByRefer(ctx, uid, consult.ID, number); err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswerGone(ctx, in, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	handOff := in.AnswerGone()
	swap := firstEnter(ctx, obs, refer, "PJSIP/carrier-", "PJSIP/250-")
	if swap.IsZero() {
		t.Fatal("the PBX never bridged 250 with the external number after the REFER")
	}
	time.Sleep(2 * time.Second)
	if err := h.driver.Hangup(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswerGone(ctx, consult, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	waitFiled(t, mark, 2, 2*time.Second)
	got := h.filedSince(mark)
	if len(got) != 2 {
		t.Fatalf("filed %d recordings (%s), want 2 (235's consultation with the number, 250 after the hand-off; never the internal call)", len(got), describeFiled(got))
	}
	byExt := map[string]engine.Filed{got[0].Recording.Extension: got[0], got[1].Recording.Extension: got[1]}
	if byExt["235"].Path == "" || byExt["250"].Path == "" {
		t.Fatalf("filed %v and %v, want one recording of 235 and one of 250", got[0].Recording.Extension, got[1].Recording.Extension)
	}
	checkRecording(t, byExt["235"], "235", handOff.Sub(consult.Answered()))
	checkRecording(t, byExt["250"], "250", consult.AnswerGone().Sub(swap))
	for ext, f := range byExt {
		if f.Recording.Direction != "outbound" {
			t.Errorf("%s's recording: direction %q, want outbound (the city called the number)", ext, f.Recording.Direction)
		}
	}
}
