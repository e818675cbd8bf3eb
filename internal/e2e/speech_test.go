package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/query"
	"github.com/villedemercier/recpolicy/archive/retention"
	"github.com/villedemercier/recpolicy/internal/redact"
	"github.com/villedemercier/recpolicy/internal/sandbox"
	"github.com/villedemercier/recpolicy/internal/wav"
)

// speech is French speech made with espeak-ng, 8 kHz mono: a caller who
// says who they are and their phone number; name and number are where, in
// seconds from its start, those words are said.
type speech struct {
	samples      []float64
	name, number [2]float64
}

// frenchSpeech makes the caller's speech with espeak-ng and sox (Debian's,
// which docker/sandbox installs; the test fails without them).
func frenchSpeech(t *testing.T) speech {
	t.Helper()
	for _, tool := range []string{"espeak-ng", "sox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: docker/sandbox up installs it (apt-get install espeak-ng sox)", tool)
		}
	}
	dir := t.TempDir()
	const rate = 8000
	silence := func(s float64) []float64 { return make([]float64, int(s*rate)) }
	sp := speech{samples: silence(0.5)}
	for i, seg := range []struct{ text, kind string }{
		{"Bonjour, j'appelle au sujet de ma demande de permis.", ""},
		{"Je m'appelle Jeanne Tremblay.", "name"},
		{"Mon numéro de téléphone est le cinq, un, quatre, cinq, cinq, cinq, zéro, un, deux, trois.", "number"},
		{"Merci, bonne journée.", ""},
	} {
		raw, wav := filepath.Join(dir, "raw.wav"), filepath.Join(dir, "seg.wav")
		if out, err := exec.Command("espeak-ng", "-v", "fr", "-s", "150", "-w", raw, seg.text).CombinedOutput(); err != nil {
			t.Fatalf("espeak-ng, segment %d: %v: %s", i, err, out)
		}
		if out, err := exec.Command("sox", raw, "-r", "8000", "-c", "1", "-b", "16", wav).CombinedOutput(); err != nil {
			t.Fatalf("sox, segment %d: %v: %s", i, err, out)
		}
		a, err := sandbox.ReadWAV(wav)
		if err != nil {
			t.Fatal(err)
		}
		at := [2]float64{float64(len(sp.samples)) / rate, float64(len(sp.samples)+len(a.Samples)) / rate}
		switch seg.kind {
		case "name":
			sp.name = at
		case "number":
			sp.number = at
		}
		sp.samples = append(sp.samples, a.Samples...)
		sp.samples = append(sp.samples, silence(0.6)...)
	}
	return sp
}

// writeMonoWAV writes 8 kHz mono 16-bit samples.
func writeMonoWAV(path string, s []float64) error {
	var b bytes.Buffer
	le := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	hdr, err := wav.Prefix(wav.PCMFmt(1, 8000, 16), int64(2*len(s)))
	if err != nil {
		return err
	}
	b.Write(hdr)
	for _, v := range s {
		le(int16(math.Max(-1, math.Min(1, v)) * 32767))
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// ncc is the normalised correlation of a and b (same length), their means
// removed.
func ncc(a, b []float64) float64 {
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= float64(len(a))
	mb /= float64(len(b))
	var ab, aa, bb float64
	for i := range a {
		x, y := a[i]-ma, b[i]-mb
		ab += x * y
		aa += x * x
		bb += y * y
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

// align finds where ref starts in x (in samples) and how well it matches:
// first on their envelopes (1 ms), then sample by sample around it.
func align(x, ref []float64) (int, float64) {
	env := func(s []float64) []float64 {
		e := make([]float64, len(s)/8)
		for i := range e {
			for _, v := range s[8*i : 8*i+8] {
				e[i] += math.Abs(v)
			}
		}
		return e
	}
	ex, er := env(x), env(ref)
	bestLag, best := 0, -1.0
	for lag := 0; lag+len(er) <= len(ex); lag++ {
		if c := ncc(ex[lag:lag+len(er)], er); c > best {
			bestLag, best = lag, c
		}
	}
	at, corr := 8*bestLag, -1.0
	for l := max(0, 8*bestLag-24); l <= 8*bestLag+24 && l+len(ref) <= len(x); l++ {
		if c := ncc(x[l:l+len(ref)], ref); c > corr {
			at, corr = l, c
		}
	}
	return at, corr
}

// TestCitizenSpeechRedacted: a caller says her name and her ten-digit
// number (French speech made with espeak-ng) in a real call to 235; the
// recording holds them on the citizen's channel. A training copy with those
// two intervals masked on the citizen's channel holds, there, only the
// mask (tone analysis), the employee's channel intact sample for sample,
// the citizen's untouched outside the masks, and no identifier in its
// name, its bytes or its metadata.
func TestCitizenSpeechRedacted(t *testing.T) {
	sp := frenchSpeech(t)
	simFile := "/var/lib/asterisk-sim/speech-e2e"
	if err := writeMonoWAV(filepath.Join(h.env.Root, simFile+".wav"), sp.samples); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(filepath.Join(h.env.Root, simFile+".wav")) })
	speechSecs := float64(len(sp.samples)) / 8000
	mark := h.filedCount()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const caller = "5145550177"
	call, err := h.driver.Inbound(ctx, sandbox.DIDPrefix+"235", caller, sandbox.Options{CallerName: "Jeanne Tremblay"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.driver.WaitAnswered(ctx, call, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := h.driver.Speak(ctx, call, simFile); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Duration((speechSecs + 1.5) * float64(time.Second)))
	if err := h.driver.Hangup(ctx, call); err != nil {
		t.Fatal(err)
	}
	waitFiled(t, mark, 1, 2*time.Second)
	got := h.filedSince(mark)
	if len(got) != 1 {
		t.Fatalf("filed %d recordings (%s), want 1", len(got), describeFiled(got))
	}
	orig, err := sandbox.ReadWAV(got[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	stereo := len(orig.Channels) == 2
	citizen := orig
	if stereo {
		citizen = orig.Channel(1)
	}
	at, corr := align(citizen.Samples, sp.samples)
	offset := float64(at) / 8000
	t.Logf("the speech starts %.3f s into the recording (correlation %.2f); name %.2f–%.2f s, number %.2f–%.2f s of it",
		offset, corr, sp.name[0], sp.name[1], sp.number[0], sp.number[1])
	if corr < 0.5 || offset+speechSecs > orig.Duration() {
		t.Fatalf("the caller's speech is not whole in the recording (correlation %.2f at %.2f s, recording %.2f s)", corr, offset, orig.Duration())
	}
	name := [2]float64{offset + sp.name[0], offset + sp.name[1]}
	number := [2]float64{offset + sp.number[0], offset + sp.number[1]}
	for _, iv := range [][2]float64{name, number} {
		if citizen.RMS(iv[0], iv[1]) < 0.01 || citizen.ToneShare(1000, iv[0], iv[1]) > 0.2 {
			t.Fatalf("no speech on the citizen's side at %.2f–%.2f s", iv[0], iv[1])
		}
		if stereo && orig.Channel(0).ToneShare(sandbox.PhoneFreq, iv[0], iv[1]) < 0.5 {
			t.Errorf("the employee's channel at %.2f–%.2f s is not the phone's tone alone", iv[0], iv[1])
		}
	}

	// The archive's row, then the copy, as the console produces it.
	st, err := archive.Connect(h.env.PGDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var rec archive.StoredRecording
	deadline := time.Now().Add(60 * time.Second)
	for {
		rec, err = query.NewStore(st).FindRecording(ctx, got[0].Path)
		if err == nil || !errors.Is(err, archive.ErrNotFound) || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("the recording's row: %v", err)
	}
	seg := func(iv [2]float64) redact.Segment {
		return redact.Segment{Start: time.Duration(iv[0] * float64(time.Second)), End: time.Duration(iv[1] * float64(time.Second))}
	}
	rc, err := retention.NewStore(st).ExportRedacted(ctx, retention.RedactedRequest{
		TrainingRequest: retention.TrainingRequest{Source: rec, ArchiveDir: h.archive, Dir: filepath.Join(filepath.Dir(h.archive), "training"), Actor: retention.Actor{Name: "e2e"}, KeepDays: 365},
		Masks:           []redact.Mask{{Segment: seg(name), Channels: []int{1}}, {Segment: seg(number), Channels: []int{1}}},
		Fill:            redact.Tone, HeardAll: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^formation-[0-9a-f]{24}\.wav$`).MatchString(filepath.Base(rc.Path)) {
		t.Errorf("the copy's name %s", filepath.Base(rc.Path))
	}
	raw, err := os.ReadFile(rc.Path)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{caller, "Tremblay", "Jeanne", "LIST", "INFO", "bext", filepath.Base(got[0].Path)} {
		if bytes.Contains(raw, []byte(id)) {
			t.Errorf("the copy's bytes hold %q", id)
		}
	}
	if string(raw[12:16]) != "fmt " || string(raw[36:40]) != "data" || int(binary.LittleEndian.Uint32(raw[40:44])) != len(raw)-44 {
		t.Errorf("the copy has chunks other than fmt and data")
	}
	cp, err := sandbox.ReadWAV(rc.Path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cp.Samples) != len(orig.Samples) || len(cp.Channels) != len(orig.Channels) {
		t.Fatalf("the copy has %d frames, %d channels; the recording %d, %d", len(cp.Samples), len(cp.Channels), len(orig.Samples), len(orig.Channels))
	}
	cpCitizen := cp
	if stereo {
		cpCitizen = cp.Channel(1)
	}
	for _, iv := range [][2]float64{name, number} {
		share := cpCitizen.ToneShare(1000, iv[0], iv[1])
		t.Logf("masked %.2f–%.2f s: 1 kHz share %.3f (the original's %.3f)", iv[0], iv[1], share, citizen.ToneShare(1000, iv[0], iv[1]))
		if share < 0.95 || math.Abs(cpCitizen.RMS(iv[0], iv[1])-0.25/math.Sqrt2) > 0.01 {
			t.Errorf("%.2f–%.2f s on the citizen's channel holds more than the mask: 1 kHz share %.3f, RMS %.3f", iv[0], iv[1], share, cpCitizen.RMS(iv[0], iv[1]))
		}
	}
	if stereo {
		for i, v := range orig.Channels[0] {
			if cp.Channels[0][i] != v {
				t.Fatalf("the employee's channel changed at %.3f s", float64(i)/8000)
			}
		}
	}
	masked := func(i int) bool {
		s := time.Duration(i) * time.Second / 8000
		for _, m := range rc.Masks {
			if s >= m.Start && s < m.End {
				return true
			}
		}
		return false
	}
	for i, v := range citizen.Samples {
		if !masked(i) && cpCitizen.Samples[i] != v {
			t.Fatalf("the citizen's channel changed outside the masks at %.3f s (masks %v)", float64(i)/8000, rc.Masks)
		}
	}
}
