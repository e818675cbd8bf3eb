package e2e

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/internal/core"
	"github.com/villedemercier/recpolicy/internal/sandbox"
)

// checkRecording asserts a filed recording's extension, both tones, and its
// length against the time the extension's leg was bridged.
func checkRecording(t *testing.T, f core.Filed, ext string, bridged time.Duration) {
	t.Helper()
	if f.Recording.Extension != ext {
		t.Errorf("recording of extension %q, want %s", f.Recording.Extension, ext)
	}
	if want := "-" + ext; filepath.Ext(f.Path) != ".wav" || !containsName(filepath.Base(f.Path), want) {
		t.Errorf("file %s does not name extension %s", f.Path, ext)
	}
	a, err := sandbox.ReadWAV(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	if d := a.Duration(); math.Abs(d-bridged.Seconds()) > 0.3 {
		t.Errorf("recording of %s lasts %.2f s, bridged %.2f s (tolerance 0.3 s)", ext, d, bridged.Seconds())
	}
	end := a.Duration()
	p, c := a.ToneShare(sandbox.PhoneFreq, 0.1, end-0.1), a.ToneShare(sandbox.CarrierFreq, 0.1, end-0.1)
	if p < 0.1 || c < 0.1 {
		t.Errorf("recording of %s: phone tone %.2f, carrier tone %.2f; both directions must be in it", ext, p, c)
	}
}

func containsName(base, part string) bool {
	for i := 0; i+len(part) <= len(base); i++ {
		if base[i:i+len(part)] == part {
			return true
		}
	}
	return false
}

func TestOutboundExternalCallIsRecorded(t *testing.T) {
	mark := h.filedCount()
	call := placeAndTalk(t, func(ctx context.Context) (*sandbox.Call, error) {
		return h.driver.Outbound(ctx, "236", "5145550100", sandbox.Options{})
	}, 3*time.Second)
	waitFiled(t, mark, 1, 2*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("filed %d recordings, want 1", len(got))
	}
	checkRecording(t, got[0], "236", call.Bridged())
	if got[0].Recording.Direction != "outbound" {
		t.Errorf("direction %q, want outbound", got[0].Recording.Direction)
	}
}

func TestWithheldCallerIsRecorded(t *testing.T) {
	mark := h.filedCount()
	call := placeAndTalk(t, func(ctx context.Context) (*sandbox.Call, error) {
		return h.driver.Inbound(ctx, sandbox.DIDPrefix+"800", "", sandbox.Options{Withheld: true})
	}, 2*time.Second)
	waitFiled(t, mark, 1, 2*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("filed %d recordings, want 1", len(got))
	}
	checkRecording(t, got[0], "800", call.Bridged())
}

func TestRingGroupRecordsOnlyTheLegThatAnswered(t *testing.T) {
	ctx := context.Background()
	t.Cleanup(func() { h.driver.ResetPhones(ctx) })
	if err := h.driver.SetPhone(ctx, "230", "noanswer", 0); err != nil {
		t.Fatal(err)
	}
	if err := h.driver.SetPhone(ctx, "245", "noanswer", 0); err != nil {
		t.Fatal(err)
	}
	if err := h.driver.SetPhone(ctx, "800", "answer", 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	mark := h.filedCount()
	before := spoolFiles(t)
	call := placeAndTalk(t, func(ctx context.Context) (*sandbox.Call, error) {
		return h.driver.Inbound(ctx, sandbox.MainNumber, "5145550150", sandbox.Options{})
	}, 2*time.Second)
	if call.AnsweredBy() != "800" {
		t.Fatalf("answered by %s, want 800", call.AnsweredBy())
	}
	waitFiled(t, mark, 1, 3*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("ring group filed %d recordings, want only the leg that answered", len(got))
	}
	checkRecording(t, got[0], "800", call.Bridged())
	if after := spoolFiles(t); len(after) > len(before) {
		t.Errorf("unanswered legs left files in the spool: %v", after)
	}
}

// TestRingGroupThroughLocalChannels: ring group 201 dials its members
// through Local channels, as FreePBX builds ring groups and follow-me; the
// member that answers is recorded (both sides, whole length) once Asterisk
// has optimised the Local channels away, the other leaves nothing.
func TestRingGroupThroughLocalChannels(t *testing.T) {
	ctx := context.Background()
	t.Cleanup(func() { h.driver.ResetPhones(ctx) })
	if err := h.driver.SetPhone(ctx, "240", "noanswer", 0); err != nil {
		t.Fatal(err)
	}
	if err := h.driver.SetPhone(ctx, "241", "answer", time.Second); err != nil {
		t.Fatal(err)
	}
	mark := h.filedCount()
	before := spoolFiles(t)
	call := placeAndTalk(t, func(ctx context.Context) (*sandbox.Call, error) {
		return h.driver.Inbound(ctx, sandbox.LocalGroupNumber, "5145550151", sandbox.Options{})
	}, 3*time.Second)
	if call.AnsweredBy() != "241" {
		t.Fatalf("answered by %s, want 241", call.AnsweredBy())
	}
	waitFiled(t, mark, 1, 3*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("ring group through Local channels filed %d recordings, want only the leg that answered", len(got))
	}
	checkRecording(t, got[0], "241", call.Bridged())
	if after := spoolFiles(t); len(after) > len(before) {
		t.Errorf("unanswered legs left files in the spool: %v", after)
	}
}

func TestDetaineePhoneOnEveryPath(t *testing.T) {
	mark := h.filedCount()
	before := spoolFiles(t)
	paths := []struct {
		name  string
		place func(ctx context.Context) (*sandbox.Call, error)
	}{
		{"internal from an Annexe A extension", func(ctx context.Context) (*sandbox.Call, error) {
			return h.driver.Internal(ctx, "235", "899", sandbox.Options{})
		}},
		{"internal to an Annexe A extension", func(ctx context.Context) (*sandbox.Call, error) {
			return h.driver.Internal(ctx, "899", "801", sandbox.Options{})
		}},
		{"outbound with the 9 prefix", func(ctx context.Context) (*sandbox.Call, error) {
			return h.driver.Outbound(ctx, "899", "95145550197", sandbox.Options{Answerers: []string{"5145550197"}})
		}},
		{"inbound, number withheld", func(ctx context.Context) (*sandbox.Call, error) {
			return h.driver.Inbound(ctx, sandbox.DIDPrefix+"899", "", sandbox.Options{Withheld: true})
		}},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) { placeAndTalk(t, p.place, 2*time.Second) })
	}
	waitFiled(t, mark, 0, 3*time.Second)
	if got := h.filedSince(mark); len(got) != 0 {
		t.Fatalf("detainee phone calls filed %d recordings, want none", len(got))
	}
	if after := spoolFiles(t); len(after) > len(before) {
		t.Fatalf("detainee phone calls left files in the spool: %v", after)
	}
}

// blindTransfer runs: an external caller reaches from; after talk, from's
// phone transfers the call to target (SIP REFER); target talks, then the
// caller hangs up. It returns the call and the target's leg.
func blindTransfer(t *testing.T, from, target string, talk time.Duration) (*sandbox.Call, *sandbox.Call) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	call, err := h.driver.Inbound(ctx, sandbox.DIDPrefix+from, "5145550160", sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswered(ctx, call, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(talk)
	leg := h.driver.Expect(sandbox.SidePhone, target)
	_, uid := call.AnswerChannel()
	if err := h.driver.BlindTransfer(ctx, uid, target); err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswered(ctx, leg, 30*time.Second); err != nil {
		h.driver.Forget(leg)
		t.Fatal(err)
	}
	// The PBX hangs up on the transferring phone once the transfer is done.
	if err := h.driver.WaitAnswerGone(ctx, call, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(talk)
	if err := h.driver.Hangup(ctx, call); err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswerGone(ctx, leg, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return call, leg
}

func TestBlindTransferBetweenAnnexeAExtensions(t *testing.T) {
	mark := h.filedCount()
	call, leg := blindTransfer(t, "235", "250", 2*time.Second)
	waitFiled(t, mark, 2, 2*time.Second)
	got := h.filedSince(mark)
	if len(got) != 2 {
		t.Fatalf("filed %d recordings, want 2 (235 until the hand-off, then 250)", len(got))
	}
	byExt := map[string]core.Filed{got[0].Recording.Extension: got[0], got[1].Recording.Extension: got[1]}
	checkRecording(t, byExt["235"], "235", call.AnswerGone().Sub(call.Answered()))
	checkRecording(t, byExt["250"], "250", leg.AnswerGone().Sub(leg.Answered()))
}

func TestBlindTransferToPhoneOutsideAnnexeA(t *testing.T) {
	mark := h.filedCount()
	call, _ := blindTransfer(t, "235", "290", 2*time.Second)
	waitFiled(t, mark, 1, 3*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("filed %d recordings, want 1 (235 until the hand-off, nothing for 290)", len(got))
	}
	checkRecording(t, got[0], "235", call.AnswerGone().Sub(call.Answered()))
}

func TestBlindTransferFromOutsideAnnexeAIntoAnnexeA(t *testing.T) {
	mark := h.filedCount()
	_, leg := blindTransfer(t, "290", "235", 2*time.Second)
	waitFiled(t, mark, 1, 3*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("filed %d recordings, want 1 (235 from the hand-off on)", len(got))
	}
	checkRecording(t, got[0], "235", leg.AnswerGone().Sub(leg.Answered()))
}

func TestBlindTransferToDetaineePhone(t *testing.T) {
	mark := h.filedCount()
	call, _ := blindTransfer(t, "235", "899", 2*time.Second)
	waitFiled(t, mark, 1, 3*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("filed %d recordings, want 1 (235 until the hand-off, not a byte of 899)", len(got))
	}
	checkRecording(t, got[0], "235", call.AnswerGone().Sub(call.Answered()))
}

// TestAttendedTransferBetweenAnnexeAExtensions: an external caller talks
// with 235; 235 keys *2 250, consults 250 (an internal call: not recorded),
// then hangs up, handing the caller to 250. 250's recording holds both
// sides, from the moment Asterisk swaps the caller in for the Local channel
// of the consultation (a fraction of a second after the hand-off: see
// README, Known limits) to the end.
func TestAttendedTransferBetweenAnnexeAExtensions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	obs := observePBX(t)
	mark := h.filedCount()
	const caller = "5145550170"
	call, err := h.driver.Inbound(ctx, sandbox.DIDPrefix+"235", caller, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswered(ctx, call, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	// 250 keeps what it hears: the caller's voice must reach it (Asterisk
	// passes it) for its recording to be judged.
	if err := h.driver.SetHear(ctx, "250"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.driver.ResetPhones(context.Background()) })
	leg := h.driver.Expect(sandbox.SidePhone, "250")
	_, uid := call.AnswerChannel()
	keyed := time.Now()
	if err := h.driver.StartAttendedTransfer(ctx, uid, "250"); err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswered(ctx, leg, 30*time.Second); err != nil {
		h.driver.Forget(leg)
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the consultation
	if err := h.driver.HangupChannel(ctx, uid); err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswerGone(ctx, call, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	handOff := call.AnswerGone()
	time.Sleep(2 * time.Second)
	if err := h.driver.Hangup(ctx, call); err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswerGone(ctx, leg, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	waitFiled(t, mark, 2, 2*time.Second)
	got := h.filedSince(mark)
	if len(got) != 2 {
		t.Fatalf("filed %d recordings, want 2 (235 until *2, 250 after the hand-off; never the consultation)", len(got))
	}
	byExt := map[string]core.Filed{got[0].Recording.Extension: got[0], got[1].Recording.Extension: got[1]}
	f235, f250 := byExt["235"], byExt["250"]
	if f235.Path == "" || f250.Path == "" {
		t.Fatalf("filed %v and %v, want one recording of 235 and one of 250", got[0].Recording.Extension, got[1].Recording.Extension)
	}
	a, err := sandbox.ReadWAV(f235.Path)
	if err != nil {
		t.Fatal(err)
	}
	// 235's recording runs from answer until 235 enters the consultation
	// with 250 (while 235 keys *2 250 the caller is on hold and only 235's
	// side is heard); never during the consultation.
	min, max := keyed.Sub(call.Answered()).Seconds(), leg.Answered().Sub(call.Answered()).Seconds()
	if d := a.Duration(); d < min-0.3 || d > max+0.3 {
		t.Errorf("235's recording lasts %.2f s; want between %.2f s (until *2) and %.2f s (until 250 answered the consultation)", d, min, max)
	}
	// When the caller and 250 were first in one bridge (Asterisk swaps the
	// consultation's Local channel out one way or the other: the caller
	// into 250's bridge, or 250 into the caller's).
	var swap time.Time
	for _, e := range obs.BridgeEnters(obs.LinkedID(caller)) {
		if (strings.HasPrefix(e.Channel, "PJSIP/carrier-") || strings.HasPrefix(e.Channel, "PJSIP/250-")) && e.At.After(handOff.Add(-time.Second)) {
			swap = e.At
		}
	}
	if swap.IsZero() {
		t.Fatalf("the PBX never bridged the caller with 250 after the hand-off (bridge entries %+v)", obs.BridgeEnters(obs.LinkedID(caller)))
	}
	if gap := swap.Sub(handOff); gap > 1500*time.Millisecond {
		t.Errorf("the caller reached 250's bridge %s after the hand-off; want well under a second", gap)
	} else {
		t.Logf("hand-off to swap: %s (not recorded)", gap.Round(time.Millisecond))
	}
	checkRecording(t, f250, "250", leg.AnswerGone().Sub(swap))
	_, legUID := leg.AnswerChannel()
	heard := sandbox.HeardPath(h.env.Root, legUID)
	t.Cleanup(func() { os.Remove(heard) })
	if err := sandbox.WaitWAVClosed(ctx, heard, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if b, err := sandbox.ReadWAV(heard); err != nil {
		t.Fatal(err)
	} else if s := b.ToneShare(sandbox.CarrierFreq, b.Duration()-1.5, b.Duration()-0.1); s < 0.3 {
		t.Errorf("250 heard the caller for %.2f of the call's last second and a half; the PBX itself lost the caller's voice", s)
	}
}
