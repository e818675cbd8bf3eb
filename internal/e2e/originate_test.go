package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/ami"
	"github.com/villedemercier/recpolicy/internal/sandbox"
)

// TestClickToCallIsRecorded: a call placed by the PBX itself on an
// extension's behalf (click-to-call from a directory or a CRM: AMI
// Originate rings the extension's phone, then dials the number once it
// answers). The extension's channel is not dialled by a caller, or dialled
// by a Local channel; either way its external call is recorded, whole, as
// an outbound call of the extension. Through a Local channel, the phone is
// bridged (with the Local channel) from its own answer and hears the number
// ring: that ringback, at most the carrier's ring time, is in the recording
// too (README, Known limits).
func TestClickToCallIsRecorded(t *testing.T) {
	for _, tc := range []struct{ name, ext, channel, number string }{
		{"phone channel", "235", "PJSIP/235", "5145559871"},
		{"through a Local channel (FreePBX style)", "235", "Local/235@internal", "5145559872"},
		{"the detainee phone, never recorded", "899", "Local/899@internal", "5145559873"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			obs := observePBX(t)
			mark := h.filedCount()
			far := h.driver.Expect(sandbox.SideCarrier, tc.number)
			defer h.driver.Forget(far)
			before := spoolFiles(t)
			phone := h.driver.Expect(sandbox.SidePhone, tc.ext)
			defer h.driver.Forget(phone)
			if _, err := obs.Action(ctx, "Originate", ami.Header{Key: "Channel", Value: tc.channel},
				ami.Header{Key: "Context", Value: "from-phones"}, ami.Header{Key: "Exten", Value: tc.number},
				ami.Header{Key: "Priority", Value: "1"}, ami.Header{Key: "CallerID", Value: tc.ext},
				ami.Header{Key: "Async", Value: "true"}); err != nil {
				t.Fatal(err)
			}
			if err := h.driver.WaitAnswered(ctx, far, 30*time.Second); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Second)
			_, uid := far.AnswerChannel()
			if err := h.driver.HangupChannel(ctx, uid); err != nil {
				t.Fatal(err)
			}
			if err := h.driver.WaitAnswerGone(ctx, far, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			if tc.ext == "899" {
				waitFiled(t, mark, 0, 3*time.Second)
				if got := h.filedSince(mark); len(got) != 0 {
					t.Fatalf("filed %d recordings (%s), want none", len(got), describeFiled(got))
				}
				if after := spoolFiles(t); len(after) > len(before) {
					t.Errorf("files left in the spool: %v", after)
				}
				return
			}
			waitFiled(t, mark, 1, 2*time.Second)
			got := h.filedSince(mark)
			if len(got) != 1 {
				t.Fatalf("filed %d recordings (%s), want exactly 1 (235's)", len(got), describeFiled(got))
			}
			f := got[0]
			if f.Recording.Extension != "235" {
				t.Fatalf("recording of %q, want 235", f.Recording.Extension)
			}
			a, err := sandbox.ReadWAV(f.Path)
			if err != nil {
				t.Fatal(err)
			}
			talk, rang := far.AnswerGone().Sub(far.Answered()).Seconds(), far.Answered().Sub(phone.Answered()).Seconds()
			if d := a.Duration(); d < talk-0.3 || d > talk+rang+0.3 {
				t.Errorf("recording lasts %.2f s; want the conversation, %.2f s, plus at most the %.2f s the number rang (tolerance 0.3 s)", d, talk, rang)
			}
			checkBothSides(t, a, "235")
			if f.Recording.Direction != "outbound" {
				t.Errorf("recording direction %q, want outbound", f.Recording.Direction)
			}
		})
	}
}
