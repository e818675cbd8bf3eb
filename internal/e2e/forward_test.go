package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/internal/sandbox"
)

// forwardedCall makes phone from forward its calls to target (a SIP 302
// from the phone, which the PBX's Dial follows), places the call, talks,
// and checks what was filed: one whole recording of want, or none when want
// is empty; the forwarding phone's own leg (it only rang) leaves nothing in
// the spool.
func forwardedCall(t *testing.T, from, target, want string, place func(ctx context.Context) (*sandbox.Call, error)) {
	t.Helper()
	ctx := context.Background()
	t.Cleanup(func() { h.driver.ResetPhones(ctx) })
	if err := h.driver.SetForward(ctx, from, target, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	mark := h.filedCount()
	before := spoolFiles(t)
	call := placeAndTalk(t, place, 2*time.Second)
	if call.AnsweredBy() != target {
		t.Fatalf("answered by %s, want %s (the phone's forward)", call.AnsweredBy(), target)
	}
	if want == "" {
		waitFiled(t, mark, 0, 3*time.Second)
		if got := h.filedSince(mark); len(got) != 0 {
			t.Fatalf("filed %d recordings (first of extension %s), want none", len(got), got[0].Recording.Extension)
		}
	} else {
		oneWholeRecording(t, mark, want, call)
	}
	if after := spoolFiles(t); len(after) > len(before) {
		t.Errorf("files left in the spool: %v", after)
	}
}

// An external call to Annexe A extension 235, forwarded by the phone to
// Annexe A extension 250: 250 talks with the caller and is recorded; 235
// only rang.
func TestForwardToAnnexeAExtension(t *testing.T) {
	forwardedCall(t, "235", "250", "250", func(ctx context.Context) (*sandbox.Call, error) {
		return h.driver.Inbound(ctx, sandbox.DIDPrefix+"235", callerNumber(), sandbox.Options{Answerers: []string{"250"}})
	})
}

// An external call to 235 forwarded to the detainee phone: never recorded.
func TestForwardToDetaineePhone(t *testing.T) {
	forwardedCall(t, "235", "899", "", func(ctx context.Context) (*sandbox.Call, error) {
		return h.driver.Inbound(ctx, sandbox.DIDPrefix+"235", callerNumber(), sandbox.Options{Answerers: []string{"899"}})
	})
}

// An external call to 235 forwarded to an external number (a mobile): the
// conversation is between two phones outside Annexe A, and is not recorded
// (README, Policy decisions).
func TestForwardToExternalNumber(t *testing.T) {
	forwardedCall(t, "235", "5145559876", "", func(ctx context.Context) (*sandbox.Call, error) {
		return h.driver.Inbound(ctx, sandbox.DIDPrefix+"235", callerNumber(),
			sandbox.Options{Answerers: []string{"5145559876"}, AnswerSide: sandbox.SideCarrier})
	})
}

// Annexe A extension 250 calls 235, which forwards to an external number:
// 250 talks with an external party, an external call of 250's, recorded.
func TestInternalCallForwardedToExternalNumber(t *testing.T) {
	forwardedCall(t, "235", "5145559877", "250", func(ctx context.Context) (*sandbox.Call, error) {
		return h.driver.Internal(ctx, "250", "235",
			sandbox.Options{Answerers: []string{"5145559877"}, AnswerSide: sandbox.SideCarrier})
	})
}
