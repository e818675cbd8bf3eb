package e2e

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/internal/engine"
	"github.com/villedemercier/recpolicy/internal/sandbox"
)

// placeAndTalk runs one call for talk and returns it hung up.
func placeAndTalk(t *testing.T, place func(ctx context.Context) (*sandbox.Call, error), talk time.Duration) *sandbox.Call {
	t.Helper()
	logOnFailure(t)
	ctx, cancel := context.WithTimeout(context.Background(), talk+60*time.Second)
	defer cancel()
	c, err := place(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.driver.Talk(ctx, c, talk); err != nil {
		t.Fatal(err)
	}
	return c
}

// waitFiled waits until want recordings were filed after mark, then a grace
// period to catch any extra one.
func waitFiled(t *testing.T, mark, want int, grace time.Duration) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for h.filedCount()-mark < want && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(grace)
}

// spoolFiles lists what the PBX left in the recording spool.
func spoolFiles(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(h.env.RecordingSpool())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// oneWholeRecording checks that exactly one recording of ext was filed
// since mark, as long as the call was bridged, with both directions' tones
// in it, and returns it.
func oneWholeRecording(t *testing.T, mark int, ext string, call *sandbox.Call) engine.Filed {
	t.Helper()
	waitFiled(t, mark, 1, 2*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("filed %d recordings, want exactly 1: %+v", len(got), got)
	}
	f := got[0]
	if f.Recording.Extension != ext {
		t.Errorf("recording of extension %q, want %s", f.Recording.Extension, ext)
	}
	audio, err := sandbox.ReadWAV(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	bridged := call.Bridged().Seconds()
	if d := audio.Duration(); math.Abs(d-bridged) > 0.3 {
		t.Errorf("recording lasts %.2f s, the call was bridged %.2f s (tolerance 0.3 s)", d, bridged)
	}
	end := audio.Duration()
	phone := audio.ToneShare(sandbox.PhoneFreq, 0.2, end-0.2)
	carrier := audio.ToneShare(sandbox.CarrierFreq, 0.2, end-0.2)
	if phone < 0.1 || carrier < 0.1 {
		t.Errorf("tone shares: phone (600 Hz) %.2f, carrier (1400 Hz) %.2f; both directions must be in the recording", phone, carrier)
	}
	t.Logf("filed %s: %.2f s for %.2f s bridged; phone tone %.2f, carrier tone %.2f", f.Path, audio.Duration(), bridged, phone, carrier)
	checkChannels(t, audio, h.env.Backend())
	return f
}

func TestInboundExternalCallIsRecordedOnce(t *testing.T) {
	mark := h.filedCount()
	talk := 4 * time.Second
	call := placeAndTalk(t, func(ctx context.Context) (*sandbox.Call, error) {
		return h.driver.Inbound(ctx, sandbox.DIDPrefix+"235", "5145550142", sandbox.Options{CallerName: "Jean Tremblay"})
	}, talk)
	f := oneWholeRecording(t, mark, "235", call)
	// <archive>/YYYY/MM/DD/YYYYMMDD-HHMM-235.wav in the city's time zone.
	loc, _ := time.LoadLocation("America/Toronto")
	start := f.Recording.CallStart.In(loc)
	wantDir := filepath.Join(h.archive, start.Format("2006/01/02"))
	if filepath.Dir(f.Path) != wantDir {
		t.Errorf("filed in %s, want %s", filepath.Dir(f.Path), wantDir)
	}
	if !regexp.MustCompile(`^` + start.Format("20060102-1504") + `-235(-[0-9]+)?\.wav$`).MatchString(filepath.Base(f.Path)) {
		t.Errorf("file name %s, want %s-235.wav", filepath.Base(f.Path), start.Format("20060102-1504"))
	}
}

// TestSpoofedCallerIDIsRecorded: what a caller presents never decides who
// it is. A carrier caller presenting the detainee phone's number, or an
// Annexe A extension's, is an outside caller: its call is recorded once,
// whole.
func TestSpoofedCallerIDIsRecorded(t *testing.T) {
	for _, cid := range []string{"899", "250"} {
		t.Run("presenting "+cid, func(t *testing.T) {
			mark := h.filedCount()
			call := placeAndTalk(t, func(ctx context.Context) (*sandbox.Call, error) {
				return h.driver.Inbound(ctx, sandbox.DIDPrefix+"235", cid, sandbox.Options{})
			}, 4*time.Second)
			oneWholeRecording(t, mark, "235", call)
		})
	}
}

func TestInternalCallIsNotRecorded(t *testing.T) {
	mark := h.filedCount()
	before := spoolFiles(t)
	placeAndTalk(t, func(ctx context.Context) (*sandbox.Call, error) {
		return h.driver.Internal(ctx, "235", "250", sandbox.Options{})
	}, 2*time.Second)
	waitFiled(t, mark, 0, 3*time.Second)
	if got := h.filedSince(mark); len(got) != 0 {
		t.Fatalf("internal call 235 → 250 filed %d recordings, want none: %+v", len(got), got)
	}
	if after := spoolFiles(t); len(after) > len(before) {
		t.Fatalf("internal call left files in the spool: %v", after)
	}
}

func TestDetaineePhoneIsNeverRecorded(t *testing.T) {
	mark := h.filedCount()
	before := spoolFiles(t)
	placeAndTalk(t, func(ctx context.Context) (*sandbox.Call, error) {
		return h.driver.Inbound(ctx, sandbox.DIDPrefix+"899", "5145550199", sandbox.Options{CallerName: "Me Avocat"})
	}, 2*time.Second)
	placeAndTalk(t, func(ctx context.Context) (*sandbox.Call, error) {
		return h.driver.Outbound(ctx, "899", "5145550198", sandbox.Options{})
	}, 2*time.Second)
	waitFiled(t, mark, 0, 3*time.Second)
	if got := h.filedSince(mark); len(got) != 0 {
		t.Fatalf("detainee phone calls filed %d recordings, want none: %+v", len(got), got)
	}
	if after := spoolFiles(t); len(after) > len(before) {
		t.Fatalf("detainee phone calls left files in the spool: %v", strings.Join(after, ", "))
	}
}

func TestTwoCallsSameExtensionSameMinute(t *testing.T) {
	// Both calls must start within one minute of the city's clock.
	if s := time.Now().Second(); s > 35 {
		time.Sleep(time.Duration(61-s) * time.Second)
	}
	mark := h.filedCount()
	for i := 0; i < 2; i++ {
		placeAndTalk(t, func(ctx context.Context) (*sandbox.Call, error) {
			return h.driver.Inbound(ctx, sandbox.DIDPrefix+"238", "514555012"+string(rune('0'+i)), sandbox.Options{})
		}, time.Second)
	}
	waitFiled(t, mark, 2, time.Second)
	got := h.filedSince(mark)
	if len(got) != 2 {
		t.Fatalf("filed %d recordings (%s), want 2", len(got), describeFiled(got))
	}
	a, b := filepath.Base(got[0].Path), filepath.Base(got[1].Path)
	loc, _ := time.LoadLocation("America/Toronto")
	if got[0].Recording.CallStart.In(loc).Truncate(time.Minute) != got[1].Recording.CallStart.In(loc).Truncate(time.Minute) {
		t.Fatalf("the calls straddled a minute (%s, %s) despite the wait", a, b)
	}
	if strings.TrimSuffix(a, ".wav")+"-2.wav" != b {
		t.Fatalf("second call in the same minute filed as %s, want %s", b, strings.TrimSuffix(a, ".wav")+"-2.wav")
	}
}

// checkChannels asserts which party is on which channel: each has its own
// (MixMonitor's option D; the snoop backend's two snoops, interleaved by
// the filer), the extension's phone (600 Hz) on the left and the other
// party (1400 Hz here) on the right.
func checkChannels(t *testing.T, a sandbox.Audio, backend string) {
	t.Helper()
	if len(a.Channels) != 2 {
		t.Fatalf("the %s backend filed %d channels, want 2 (each party on its own)", backend, max(1, len(a.Channels)))
	}
	end := a.Duration()
	left, right := a.Channel(0), a.Channel(1)
	lp, lc := left.ToneShare(sandbox.PhoneFreq, 0.2, end-0.2), left.ToneShare(sandbox.CarrierFreq, 0.2, end-0.2)
	rp, rc := right.ToneShare(sandbox.PhoneFreq, 0.2, end-0.2), right.ToneShare(sandbox.CarrierFreq, 0.2, end-0.2)
	t.Logf("left: phone %.2f carrier %.2f; right: phone %.2f carrier %.2f", lp, lc, rp, rc)
	if lp < 0.5 || lc > 0.1 || rc < 0.5 || rp > 0.1 {
		t.Errorf("channels: left phone %.2f carrier %.2f, right phone %.2f carrier %.2f; want the extension's phone alone on the left and the other party alone on the right", lp, lc, rp, rc)
	}
}
