package console

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/ingest"
	"github.com/villedemercier/recpolicy/archive/register"
	"github.com/villedemercier/recpolicy/internal/wav"
)

// stereoSecs is the length of the two-channel test recording.
const stereoSecs = 6.0

// stereoWAV is a two-channel call: the employee (left) a 600 Hz tone from
// 0.5 to 5.5 s, the citizen (right) a 1400 Hz tone in two turns (1–2.5 s,
// 4–5 s) and the DTMF key 5 from 3.0 to 3.2 s.
func stereoWAV() []byte {
	n := int(stereoSecs * 8000)
	var b bytes.Buffer
	le := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	hdr, _ := wav.Prefix(wav.PCMFmt(2, 8000, 16), int64(4*n))
	b.Write(hdr)
	for i := 0; i < n; i++ {
		t := float64(i) / 8000
		var l, r float64
		if t >= 0.5 && t < 5.5 {
			l = 0.3 * math.Sin(2*math.Pi*600*t)
		}
		if (t >= 1 && t < 2.5) || (t >= 4 && t < 5) {
			r = 0.3 * math.Sin(2*math.Pi*1400*t)
		}
		if t >= 3 && t < 3.2 {
			r = 0.2*math.Sin(2*math.Pi*770*t) + 0.2*math.Sin(2*math.Pi*1336*t)
		}
		le(int16(l * 32767))
		le(int16(r * 32767))
	}
	return b.Bytes()
}

// addStereo files the two-channel call of extension 235 (communications,
// not confidential) with its call record, and returns its id.
func (f *fixture) addStereo(t testing.TB) int64 {
	t.Helper()
	start := time.Date(2026, 11, 27, 16, 0, 0, 0, time.UTC)
	ft := func(t time.Time) string { return t.Format("2006-01-02 15:04:05") }
	cdr, _, err := ingest.ParseCDR([]ingest.Field{
		{Key: "Source", Value: "5145550199"}, {Key: "Destination", Value: "235"}, {Key: "Channel", Value: "PJSIP/carrier-00000077"},
		{Key: "DestinationChannel", Value: "PJSIP/235-00000078"}, {Key: "StartTime", Value: ft(start)}, {Key: "AnswerTime", Value: ft(start)},
		{Key: "EndTime", Value: ft(start.Add(6 * time.Second))}, {Key: "Duration", Value: "6"}, {Key: "BillableSeconds", Value: "6"},
		{Key: "Disposition", Value: "ANSWERED"}, {Key: "UniqueID", Value: "Lstereo"}, {Key: "LinkedID", Value: "Lstereo"}, {Key: "Sequence", Value: "9"},
	}, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	data := stereoWAV()
	p := filepath.Join(f.archive, "2026", "11", "27", "stereo.wav")
	os.MkdirAll(filepath.Dir(p), 0o750)
	if err := os.WriteFile(p, data, 0o640); err != nil {
		t.Fatal(err)
	}
	f.wavs["stereo"] = data
	sum := sha256.Sum256(data)
	rec := &archive.Recording{Path: p, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)), Duration: stereoSecs,
		Extension: "235", Direction: "inbound", Start: start, End: start.Add(6 * time.Second), UniqueID: "Lstereob", LinkedID: "Lstereo",
		RetentionClass: "standard", DecisionRule: "external-call", Greeting: "played"}
	if _, err := ingest.NewStore(f.st).InsertBatch(t.Context(), []*ingest.CDR{&cdr}, []*archive.Recording{rec}); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := f.st.DB().QueryRow(`SELECT id FROM recordings WHERE path = $1`, p).Scan(&id); err != nil {
		t.Fatal(err)
	}
	f.ids["stereo"] = id
	return id
}

// openJSON is what POST /api/recordings/{id}/formation answers.
type openJSON struct {
	Training string       `json:"training"`
	Audio    string       `json:"audio"`
	Duration float64      `json:"duration"`
	Channels int          `json:"channels"`
	Turns    [][]spanJSON `json:"turns"`
	Digits   []digitJSON  `json:"digits"`
}

// redaction is a row of training_redactions.
type redaction struct {
	copyID, source int64
	masks          []struct {
		Start, End float64
		Channels   []int
	}
	fill, by string
	dropped  *int
	path     string
}

func (f *fixture) redactions(t testing.TB) []redaction {
	t.Helper()
	rows, err := f.st.DB().Query(`SELECT r.copy_id, r.source_recording_id, r.masks, r.fill, r.dropped_channel, r.confirmed_by, c.path
FROM training_redactions r JOIN training_copies c ON c.id = r.copy_id ORDER BY r.id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []redaction
	for rows.Next() {
		var r redaction
		var masks []byte
		if err := rows.Scan(&r.copyID, &r.source, &masks, &r.fill, &r.dropped, &r.by, &r.path); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(masks, &r.masks); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// TestConsoleTraining: a trainer sees only the training purpose, cannot
// open a call that involved a confidential extension (not even one handed
// on to another), opens the two-channel call (turns per channel, the DTMF
// key proposed), cannot have the copy before every second was heard (nor
// by reporting faster than twice real time), nor without confirming; the
// copy then masks the citizen's channel only where asked, the employee's
// is the original sample for sample, and the redaction is logged. A
// director cannot open a recording for training.
func TestConsoleTraining(t *testing.T) {
	f := newFixture(t)
	id := f.addStereo(t)
	c := f.client(t)
	f.login(t, c, "formateur", password)
	st, body, _ := f.do(t, c, "GET", "/api/moi", nil)
	if st != 200 || !strings.Contains(body, `"trainer"`) || strings.Contains(body, `"service"`) || !strings.Contains(body, `"formation"`) {
		t.Fatalf("the trainer's rights: %d %s", st, body)
	}
	// Listening for anything but training is refused.
	if st, body, _ := f.do(t, c, "POST", fmt.Sprintf("/api/recordings/%d/ecoute", id), map[string]any{"purpose": "service"}); st != 403 {
		t.Errorf("a trainer listening for customer service: %d %s", st, body)
	}
	for _, label := range []string{"confidential", "transfert252"} {
		st, body, _ := f.do(t, c, "POST", fmt.Sprintf("/api/recordings/%d/formation", f.ids[label]), map[string]any{})
		if st != 403 && st != 404 {
			t.Errorf("training on %s: %d %s", label, st, body)
		}
	}
	// A director cannot.
	dc := f.client(t)
	f.login(t, dc, "jtremblay", password)
	if st, body, _ := f.do(t, dc, "POST", fmt.Sprintf("/api/recordings/%d/formation", id), map[string]any{}); st != 404 {
		t.Errorf("a director opening for training: %d %s", st, body)
	}
	if st, _, _ := f.do(t, dc, "GET", fmt.Sprintf("/formation/%d", id), nil); st != 404 {
		t.Errorf("the training page for a director: %d", st)
	}

	st, body, _ = f.do(t, c, "POST", fmt.Sprintf("/api/recordings/%d/formation", id), map[string]any{})
	if st != 200 {
		t.Fatalf("open for training: %d %s", st, body)
	}
	var o openJSON
	json.Unmarshal([]byte(body), &o)
	if o.Channels != 2 || math.Abs(o.Duration-stereoSecs) > 0.01 || len(o.Turns) != 2 || len(o.Turns[1]) != 3 || len(o.Turns[0]) != 1 {
		t.Errorf("analysis: %d channels, %.2f s, turns %v", o.Channels, o.Duration, o.Turns)
	}
	if len(o.Digits) != 1 || o.Digits[0].Key != "5" || math.Abs(o.Digits[0].Start-3) > 0.05 {
		t.Errorf("digits: %v; want 5 at 3.0 s", o.Digits)
	}
	base := "/api/formation/" + o.Training
	copyReq := map[string]any{"masks": []map[string]any{{"start": 1.2, "end": 2.0, "channel": "citizen"}, {"start": o.Digits[0].Start, "end": o.Digits[0].End, "channel": "citizen"}},
		"fill": "tone", "confirm": true}
	if st, body, _ := f.do(t, c, "POST", base+"/copie", copyReq); st != 409 {
		t.Fatalf("a copy before anything was heard: %d %s", st, body)
	}
	// Claiming the whole call at once is more than twice real time.
	st, body, _ = f.do(t, c, "POST", base+"/ecoute", map[string]any{"spans": [][2]float64{{0, stereoSecs}}})
	var cov coverageJSON
	json.Unmarshal([]byte(body), &cov)
	if st != 200 || cov.Complete || cov.Refused < 3 {
		t.Fatalf("a report faster than real time: %d %s", st, body)
	}
	// Ten seconds later (the session's clock moved back), the rest of the call
	// but half a second.
	f.console.trainings.mu.Lock()
	tr := f.console.trainings.m[o.Training].v
	f.console.trainings.mu.Unlock()
	tr.mu.Lock()
	tr.last = time.Now().Add(-10 * time.Second)
	tr.mu.Unlock()
	_, body, _ = f.do(t, c, "POST", base+"/ecoute", map[string]any{"spans": [][2]float64{{0, 4}, {4.5, stereoSecs}}})
	json.Unmarshal([]byte(body), &cov)
	if cov.Complete || len(cov.Missing) != 1 || cov.Missing[0] != [2]float64{4, 4.5} {
		t.Fatalf("half a second unheard: %s", body)
	}
	if st, body, _ := f.do(t, c, "POST", base+"/copie", copyReq); st != 409 {
		t.Fatalf("a copy with half a second unheard: %d %s", st, body)
	}
	_, body, _ = f.do(t, c, "POST", base+"/ecoute", map[string]any{"spans": [][2]float64{{3.9, 4.6}}})
	json.Unmarshal([]byte(body), &cov)
	if !cov.Complete {
		t.Fatalf("the whole call heard: %s", body)
	}
	// The preview is the copy's audio, kept nowhere.
	st, prev, hdr := f.do(t, c, "POST", base+"/apercu", copyReq)
	if st != 200 || hdr.Get("Content-Type") != "audio/wav" {
		t.Fatalf("preview: %d %s", st, hdr)
	}
	noConfirm := map[string]any{"masks": copyReq["masks"], "fill": "tone"}
	if st, body, _ := f.do(t, c, "POST", base+"/copie", noConfirm); st != 400 {
		t.Errorf("a copy without the confirmation: %d %s", st, body)
	}
	bad := map[string]any{"masks": []map[string]any{{"start": 2, "end": 1, "channel": "citizen"}}, "confirm": true}
	if st, body, _ := f.do(t, c, "POST", base+"/copie", bad); st != 400 || !strings.Contains(body, "Intervalle 1") {
		t.Errorf("a mask ending before it starts: %d %s", st, body)
	}
	st, body, _ = f.do(t, c, "POST", base+"/copie", copyReq)
	if st != 200 {
		t.Fatalf("the copy: %d %s", st, body)
	}
	rs := f.redactions(t)
	if len(rs) != 1 || rs[0].source != id || rs[0].by != "formateur" || rs[0].fill != "tone" || rs[0].dropped != nil || len(rs[0].masks) != 2 {
		t.Fatalf("the redaction log: %+v", rs)
	}
	copyData, err := os.ReadFile(rs[0].path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(copyData, []byte(prev)) {
		t.Error("the copy differs from its preview")
	}
	var spans [][2]float64
	for _, m := range rs[0].masks {
		spans = append(spans, [2]float64{m.Start, m.End})
	}
	checkRedacted(t, f.wavs["stereo"], copyData, spans)
	if strings.Contains(filepath.Base(rs[0].path), "235") || bytes.Contains(copyData, []byte("LIST")) {
		t.Errorf("the copy names the call: %s", rs[0].path)
	}
	var opened, produced bool
	for _, e := range f.accessLog(t) {
		opened = opened || (e.Login == "formateur" && e.Role == "trainer" && e.Action == "console training open" && e.Outcome == register.Granted && e.Object == fmt.Sprint(id))
		produced = produced || (e.Login == "formateur" && e.Action == "console training copy" && e.Outcome == register.Granted)
	}
	if !opened || !produced {
		t.Errorf("access log: opened %v, copy %v", opened, produced)
	}
	// Dropping the citizen's channel leaves the employee's alone.
	drop := map[string]any{"drop_citizen": true, "fill": "silence", "confirm": true}
	if st, body, _ := f.do(t, c, "POST", base+"/copie", drop); st != 200 {
		t.Fatalf("a copy without the citizen: %d %s", st, body)
	}
	rs = f.redactions(t)
	if len(rs) != 2 || rs[1].dropped == nil || *rs[1].dropped != 1 {
		t.Fatalf("the redaction log: %+v", rs)
	}
	// The redaction log is the administrators' alone.
	if st, body, _ := f.do(t, c, "GET", "/api/formation/caviardages", nil); st != 403 {
		t.Errorf("the redaction log for a trainer: %d %s", st, body)
	}
	ac := f.client(t)
	f.login(t, ac, "mlaroche", password)
	st, body, _ = f.do(t, ac, "GET", "/api/formation/caviardages", nil)
	if st != 200 || strings.Count(body, `"confirmed_by": "formateur"`) != 2 || !strings.Contains(body, fmt.Sprintf(`"source_recording_id": %d`, id)) {
		t.Errorf("the redaction log for an administrator: %d %s", st, body)
	}
	mono, _ := os.ReadFile(rs[1].path)
	src := f.wavs["stereo"]
	if len(mono) != 44+(len(src)-44)/2 || binary.LittleEndian.Uint16(mono[22:]) != 1 {
		t.Fatalf("the copy without the citizen is %d bytes, %d channels", len(mono), binary.LittleEndian.Uint16(mono[22:]))
	}
	for i := 0; 44+4*i+2 <= len(src) && 44+2*i+2 <= len(mono); i++ {
		if !bytes.Equal(mono[44+2*i:44+2*i+2], src[44+4*i:44+4*i+2]) {
			t.Fatalf("frame %d of the employee's voice changed", i)
		}
	}
}

// checkRedacted checks a two-channel copy of src masked with a tone on
// the citizen's channel over masks (padded already): there, the right
// channel is the 1 kHz mask and nothing of the 1400 Hz voice; the
// employee's channel, and the citizen's outside the masks, are the
// original's samples.
func checkRedacted(t *testing.T, src, dst []byte, masks [][2]float64) {
	t.Helper()
	if len(src) != len(dst) {
		t.Fatalf("the copy is %d bytes, the original %d", len(dst), len(src))
	}
	frames := (len(src) - 44) / 4
	sample := func(b []byte, i, c int) int16 { return int16(binary.LittleEndian.Uint16(b[44+4*i+2*c:])) }
	var in []float64
	for i := 0; i < frames; i++ {
		t0 := float64(i) / 8000
		if sample(src, i, 0) != sample(dst, i, 0) {
			t.Fatalf("the employee's channel changed at %.3f s", t0)
		}
		masked := false
		for _, m := range masks {
			masked = masked || (t0 >= m[0]-0.001 && t0 < m[1]+0.001)
		}
		switch {
		case t0 >= masks[0][0] && t0 < masks[0][1]:
			in = append(in, float64(sample(dst, i, 1))/32768)
		case !masked && sample(src, i, 1) != sample(dst, i, 1):
			t.Fatalf("the citizen's channel changed outside the masks at %.3f s", t0)
		}
	}
	if len(in) == 0 {
		t.Fatal("no masked samples")
	}
	if f1000, f1400 := power(in, 1000), power(in, 1400); f1000 < 100*f1400 || f1400 > 1e-6 {
		t.Errorf("the masked interval holds 1 kHz %.3g, the voice's 1400 Hz %.3g", f1000, f1400)
	}
}

// power is the mean power of freq in x (Goertzel), normalised.
func power(x []float64, freq float64) float64 {
	coeff := 2 * math.Cos(2*math.Pi*freq/8000)
	var s1, s2 float64
	for _, v := range x {
		s0 := v + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	n := float64(len(x))
	return (s1*s1 + s2*s2 - coeff*s1*s2) / (n * n)
}
