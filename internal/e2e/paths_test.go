package e2e

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/internal/engine"
	"github.com/villedemercier/recpolicy/internal/sandbox"
)

// checkRecording asserts a filed recording's extension, both tones, and its
// length against the time the extension's leg was bridged.
func checkRecording(t *testing.T, f engine.Filed, ext string, bridged time.Duration) {
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
		// The PBX's own view (BridgeEnter to BridgeLeave, as the daemon
		// saw it) tells a late or short recording from a simulator that
		// timed the call differently.
		t.Errorf("recording of %s lasts %.2f s, bridged %.2f s (tolerance 0.3 s); the PBX bridged it %.2f s",
			ext, d, bridged.Seconds(), f.Recording.Bridged.Seconds())
	}
	checkBothSides(t, a, ext)
}

// checkBothSides asserts that both directions (the phone's tone and the
// carrier's) are in a recording of ext.
func checkBothSides(t *testing.T, a sandbox.Audio, ext string) {
	t.Helper()
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
		t.Fatalf("filed %d recordings (%s), want 1", len(got), describeFiled(got))
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
		t.Fatalf("filed %d recordings (%s), want 1", len(got), describeFiled(got))
	}
	checkRecording(t, got[0], "800", call.Bridged())
}

// ringGroupCall sets the group's phones (mode and ring delay by
// extension), places an external call to number that answerer takes, and
// asserts that only answerer's leg was filed, whole, and that the legs
// that rang left nothing in the spool.
func ringGroupCall(t *testing.T, number, caller string, phones map[string]time.Duration, answerer string, talk time.Duration) {
	t.Helper()
	ctx := context.Background()
	t.Cleanup(func() { h.driver.ResetPhones(ctx) })
	for ext, delay := range phones {
		mode := "noanswer"
		if ext == answerer {
			mode = "answer"
		}
		if err := h.driver.SetPhone(ctx, ext, mode, delay); err != nil {
			t.Fatal(err)
		}
	}
	mark := h.filedCount()
	before := spoolFiles(t)
	call := placeAndTalk(t, func(ctx context.Context) (*sandbox.Call, error) {
		return h.driver.Inbound(ctx, number, caller, sandbox.Options{})
	}, talk)
	if call.AnsweredBy() != answerer {
		t.Fatalf("answered by %s, want %s", call.AnsweredBy(), answerer)
	}
	waitFiled(t, mark, 1, 3*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		var what []string
		for _, f := range got {
			what = append(what, fmt.Sprintf("%s (%.2f s, channel %s, linkedid %s)", f.Path, f.Duration, f.Recording.Channel, f.Recording.Linkedid))
		}
		if len(got) > 0 {
			t.Logf("the daemon's log of that call:\n%s", callLog(got[0].Recording.Linkedid))
		}
		t.Fatalf("ring group filed %d recordings, want only the leg that answered (%s, bridged %.2f s): %s",
			len(got), answerer, call.Bridged().Seconds(), strings.Join(what, "; "))
	}
	checkRecording(t, got[0], answerer, call.Bridged())
	if after := spoolFiles(t); len(after) > len(before) {
		t.Errorf("unanswered legs left files in the spool: %v", after)
	}
}

func TestRingGroupRecordsOnlyTheLegThatAnswered(t *testing.T) {
	ringGroupCall(t, sandbox.MainNumber, "5145550150",
		map[string]time.Duration{"230": 0, "245": 0, "800": 1500 * time.Millisecond}, "800", 2*time.Second)
}

// TestRingGroupThroughLocalChannels: ring group 201 dials its members
// through Local channels, as FreePBX builds ring groups and follow-me; the
// member that answers is recorded (both sides, whole length), the other
// leaves nothing.
func TestRingGroupThroughLocalChannels(t *testing.T) {
	ringGroupCall(t, sandbox.LocalGroupNumber, "5145550151",
		map[string]time.Duration{"240": 0, "241": time.Second}, "241", 3*time.Second)
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
		t.Fatalf("detainee phone calls filed %d recordings (%s), want none", len(got), describeFiled(got))
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
		t.Fatalf("filed %d recordings (%s), want 2 (235 until the hand-off, then 250)", len(got), describeFiled(got))
	}
	byExt := map[string]engine.Filed{got[0].Recording.Extension: got[0], got[1].Recording.Extension: got[1]}
	checkRecording(t, byExt["235"], "235", call.AnswerGone().Sub(call.Answered()))
	checkRecording(t, byExt["250"], "250", leg.AnswerGone().Sub(leg.Answered()))
}

func TestBlindTransferToPhoneOutsideAnnexeA(t *testing.T) {
	mark := h.filedCount()
	call, _ := blindTransfer(t, "235", "290", 2*time.Second)
	waitFiled(t, mark, 1, 3*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("filed %d recordings (%s), want 1 (235 until the hand-off, nothing for 290)", len(got), describeFiled(got))
	}
	checkRecording(t, got[0], "235", call.AnswerGone().Sub(call.Answered()))
}

func TestBlindTransferFromOutsideAnnexeAIntoAnnexeA(t *testing.T) {
	mark := h.filedCount()
	_, leg := blindTransfer(t, "290", "235", 2*time.Second)
	waitFiled(t, mark, 1, 3*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("filed %d recordings (%s), want 1 (235 from the hand-off on)", len(got), describeFiled(got))
	}
	checkRecording(t, got[0], "235", leg.AnswerGone().Sub(leg.Answered()))
}

func TestBlindTransferToDetaineePhone(t *testing.T) {
	mark := h.filedCount()
	call, _ := blindTransfer(t, "235", "899", 2*time.Second)
	waitFiled(t, mark, 1, 3*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("filed %d recordings (%s), want 1 (235 until the hand-off, not a byte of 899)", len(got), describeFiled(got))
	}
	checkRecording(t, got[0], "235", call.AnswerGone().Sub(call.Answered()))
}

// atxfer is an attended transfer placed by attendedTransfer.
type atxfer struct {
	call, leg *sandbox.Call
	keyed     time.Time // when the transferer keyed *2
	handOff   time.Time // when the transferer hung up
	swap      time.Time // when the caller and the target were first in one bridge
}

// attendedTransfer: an external caller (number caller) reaches from and
// talks 2 s; from keys *2 to, consults to for 2 s (an internal call), then
// hangs up, handing the caller to to; they talk 2 s and the caller hangs up.
// to keeps what it hears (sandbox.HeardPath).
func attendedTransfer(t *testing.T, from, to, caller string) atxfer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	obs := observePBX(t)
	var x atxfer
	var err error
	x.call, err = h.driver.Inbound(ctx, sandbox.DIDPrefix+from, caller, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswered(ctx, x.call, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if err := h.driver.SetHear(ctx, to); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.driver.ResetPhones(context.Background()) })
	x.leg = h.driver.Expect(sandbox.SidePhone, to)
	_, uid := x.call.AnswerChannel()
	x.keyed = time.Now()
	if err := h.driver.StartAttendedTransfer(ctx, uid, to); err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswered(ctx, x.leg, 30*time.Second); err != nil {
		h.driver.Forget(x.leg)
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the consultation
	if err := h.driver.HangupChannel(ctx, uid); err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswerGone(ctx, x.call, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	x.handOff = x.call.AnswerGone()
	time.Sleep(2 * time.Second)
	if err := h.driver.Hangup(ctx, x.call); err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswerGone(ctx, x.leg, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// Asterisk swaps the consultation's Local channel out one way or the
	// other: the caller into the target's bridge, or the target into the
	// caller's.
	for _, e := range obs.BridgeEnters(obs.LinkedID(caller)) {
		if (strings.HasPrefix(e.Channel, "PJSIP/carrier-") || strings.HasPrefix(e.Channel, "PJSIP/"+to+"-")) && e.At.After(x.handOff.Add(-time.Second)) {
			x.swap = e.At
		}
	}
	if x.swap.IsZero() {
		t.Fatalf("the PBX never bridged the caller with %s after the hand-off (bridge entries %+v)", to, obs.BridgeEnters(obs.LinkedID(caller)))
	}
	if gap := x.swap.Sub(x.handOff); gap > 1500*time.Millisecond {
		t.Errorf("the caller reached %s's bridge %s after the hand-off; want well under a second", to, gap)
	} else {
		t.Logf("hand-off to swap: %s", gap.Round(time.Millisecond))
	}
	checkTargetHeardCaller(ctx, t, x.leg, to)
	return x
}

// checkTargetHeardCaller asserts that the transfer target's phone (set with
// SetHear; leg is the call it answered) heard the caller in the call's last
// second and a half: Asterisk passed the caller's voice, which the target's
// recording, if any, is judged against.
func checkTargetHeardCaller(ctx context.Context, t *testing.T, leg *sandbox.Call, to string) {
	t.Helper()
	_, legUID := leg.AnswerChannel()
	heard := sandbox.HeardPath(h.env.Root, legUID)
	t.Cleanup(func() { os.Remove(heard) })
	if err := sandbox.WaitWAVClosed(ctx, heard, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if b, err := sandbox.ReadWAV(heard); err != nil {
		t.Fatal(err)
	} else if s := b.ToneShare(sandbox.CarrierFreq, b.Duration()-1.5, b.Duration()-0.1); s < 0.3 {
		t.Errorf("%s heard the caller for %.2f of the call's last second and a half; the PBX itself lost the caller's voice", to, s)
	}
}

// checkTransfererRecording asserts the transferer's recording: from answer
// until it enters the consultation (while it keys *2 and the number the
// caller is on hold and only its side is heard); never the consultation.
func checkTransfererRecording(t *testing.T, f engine.Filed, ext string, x atxfer) {
	t.Helper()
	if f.Recording.Extension != ext {
		t.Fatalf("recording of %q, want the transferer %s", f.Recording.Extension, ext)
	}
	a, err := sandbox.ReadWAV(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	min, max := x.keyed.Sub(x.call.Answered()).Seconds(), x.leg.Answered().Sub(x.call.Answered()).Seconds()
	if d := a.Duration(); d < min-0.3 || d > max+0.3 {
		t.Errorf("%s's recording lasts %.2f s; want between %.2f s (until *2) and %.2f s (until the consultation was answered)", ext, d, min, max)
	}
	if c := a.ToneShare(sandbox.CarrierFreq, 0.1, x.keyed.Sub(x.call.Answered()).Seconds()-0.1); c < 0.1 {
		t.Errorf("%s's recording holds the caller's side for %.2f before *2; want it there", ext, c)
	}
}

// TestAttendedTransferBetweenAnnexeAExtensions: 235 hands an external
// caller to 250 after consulting it. 235 is recorded until *2, the
// consultation never, 250 with both sides from the moment Asterisk swaps
// the caller in for the consultation's Local channel (a fraction of a
// second after the hand-off: see README, Known limits) to the end.
func TestAttendedTransferBetweenAnnexeAExtensions(t *testing.T) {
	mark := h.filedCount()
	x := attendedTransfer(t, "235", "250", "5145550170")
	waitFiled(t, mark, 2, 2*time.Second)
	got := h.filedSince(mark)
	if len(got) != 2 {
		t.Fatalf("filed %d recordings (%s), want 2 (235 until *2, 250 after the hand-off; never the consultation)", len(got), describeFiled(got))
	}
	byExt := map[string]engine.Filed{got[0].Recording.Extension: got[0], got[1].Recording.Extension: got[1]}
	if byExt["235"].Path == "" || byExt["250"].Path == "" {
		t.Fatalf("filed %v and %v, want one recording of 235 and one of 250", got[0].Recording.Extension, got[1].Recording.Extension)
	}
	checkTransfererRecording(t, byExt["235"], "235", x)
	checkRecording(t, byExt["250"], "250", x.leg.AnswerGone().Sub(x.swap))
}

// TestAttendedTransferToPhoneOutsideAnnexeA: 235 hands the caller to 290
// (lunch room, outside Annexe A): 235 is recorded until *2, 290 never.
func TestAttendedTransferToPhoneOutsideAnnexeA(t *testing.T) {
	mark := h.filedCount()
	x := attendedTransfer(t, "235", "290", "5145550171")
	waitFiled(t, mark, 1, 3*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("filed %d recordings (%s), want 1 (235 until *2; nothing of 290)", len(got), describeFiled(got))
	}
	checkTransfererRecording(t, got[0], "235", x)
}

// TestAttendedTransferFromOutsideAnnexeAIntoAnnexeA: 290 (outside Annexe A)
// takes an external call, consults 235 and hands the caller over: nothing
// before the hand-off, 235 with both sides after it.
func TestAttendedTransferFromOutsideAnnexeAIntoAnnexeA(t *testing.T) {
	mark := h.filedCount()
	x := attendedTransfer(t, "290", "235", "5145550172")
	waitFiled(t, mark, 1, 3*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("filed %d recordings (%s), want 1 (235 from the hand-off on)", len(got), describeFiled(got))
	}
	checkRecording(t, got[0], "235", x.leg.AnswerGone().Sub(x.swap))
}

// TestAttendedTransferToDetaineePhone: 235 hands the caller to 899 after
// consulting it: 235 is recorded until *2; not a byte of 899, ever.
func TestAttendedTransferToDetaineePhone(t *testing.T) {
	mark := h.filedCount()
	before := spoolFiles(t)
	x := attendedTransfer(t, "235", "899", "5145550173")
	waitFiled(t, mark, 1, 3*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("filed %d recordings (%s), want 1 (235 until *2; nothing of 899)", len(got), describeFiled(got))
	}
	checkTransfererRecording(t, got[0], "235", x)
	if after := spoolFiles(t); len(after) > len(before) {
		t.Errorf("the transfer to 899 left files in the spool: %v", after)
	}
}
