package retention

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/internal/files"
	"github.com/villedemercier/recpolicy/internal/redact"
	wavfile "github.com/villedemercier/recpolicy/internal/wav"
)

// ErrNotHeard: the operator has not confirmed hearing the whole call.
var ErrNotHeard = errors.New("the whole call was not heard")

// RedactedRequest asks for a training copy with intervals masked.
type RedactedRequest struct {
	TrainingRequest
	Masks []redact.Mask
	Fill  redact.Fill
	// Drop, when not nil, leaves that channel out of the copy (the
	// citizen's, 1): the copy is then the other channel alone.
	Drop *int
	// HeardAll is the operator's confirmation of having heard every second
	// of the call; the copy is refused without it.
	HeardAll bool
}

// RedactedCopy is a redacted training copy and what its log keeps.
type RedactedCopy struct {
	TrainingCopy
	Masks []redact.Mask `json:"masks"`
}

// ExportRedacted writes a training copy of a 16-bit PCM recording with
// req.Masks masked (tone or silence, padded) and, with Drop, one channel
// left out; the copy has a random name and no metadata, the class
// "training"; the redaction (intervals, channels, fill, who confirmed
// hearing the whole call, when, the source recording) goes to the
// administrators' training_redactions log in the same transaction.
func (s *Store) ExportRedacted(ctx context.Context, req RedactedRequest) (RedactedCopy, error) {
	var rc RedactedCopy
	fail := func(err error) (RedactedCopy, error) {
		return rc, fmt.Errorf("export redacted copy of recording %d: %w", req.Source.ID, err)
	}
	if !req.HeardAll {
		return fail(fmt.Errorf("%w: confirm that every second was heard before the copy is released", ErrNotHeard))
	}
	tc, err := req.prepare()
	if err != nil {
		return fail(err)
	}
	src := req.Source
	masked, done, err := req.render()
	if err != nil {
		return fail(err)
	}
	rc.TrainingCopy, rc.Masks = tc, done
	if req.DryRun {
		return rc, nil
	}
	tc.Duration = masked.Duration().Seconds()
	if err := writeCopy(req.Dir, tc.Path, func(w io.Writer) error { return writePCM(masked, w) }, &tc); err != nil {
		return fail(err)
	}
	masksJSON, err := json.Marshal(logMasks(done))
	if err != nil {
		return fail(err)
	}
	fill := "tone"
	if req.Fill == redact.Silence {
		fill = "silence"
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		_ = files.Remove(tc.Path)
		return fail(err)
	}
	defer tx.Rollback()
	err = insertCopy(ctx, tx, &tc)
	if err == nil {
		_, err = tx.ExecContext(ctx, `INSERT INTO training_redactions (copy_id, source_recording_id, masks, fill, dropped_channel, heard_all, confirmed_by)
VALUES ($1, $2, $3, $4, $5, true, $6)`, tc.ID, src.ID, string(masksJSON), fill, req.Drop, req.Actor.Name)
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		_ = files.Remove(tc.Path) // never leave a copy the archive does not know
		return fail(fmt.Errorf("register: %w", err))
	}
	rc.TrainingCopy = tc
	return rc, nil
}

// render reads the source's audio and applies the request's masks and
// dropped channel; it returns the result and the intervals masked.
func (req RedactedRequest) render() (redact.PCM, []redact.Mask, error) {
	pcm, err := readPCM(req.Source.Path)
	if err != nil {
		return pcm, nil, err
	}
	if req.Drop != nil && (pcm.Channels != 2 || *req.Drop < 0 || *req.Drop > 1) {
		return pcm, nil, fmt.Errorf("channel %d cannot be dropped from a %d-channel recording", *req.Drop, pcm.Channels)
	}
	masks := req.Masks
	if pcm.Channels == 1 {
		// A mono recording mixes both parties: every mask covers it.
		masks = make([]redact.Mask, len(req.Masks))
		for i, m := range req.Masks {
			masks[i] = redact.Mask{Segment: m.Segment, Channels: []int{0}}
		}
	}
	masked, done, err := redact.Apply(pcm, masks, req.Fill)
	if err != nil {
		return pcm, nil, err
	}
	if req.Drop != nil {
		masked = keepChannel(masked, 1-*req.Drop)
	}
	return masked, done, nil
}

// PreviewRedacted writes to w what ExportRedacted would file for req (the
// source checked against its checksum first), and keeps nothing: the
// operator hears the masks before producing the copy. It returns the
// intervals masked.
func PreviewRedacted(req RedactedRequest, w io.Writer) ([]redact.Mask, error) {
	if err := files.Check(req.ArchiveDir, req.Source.Path, req.Source.SHA256, req.Source.Size); err != nil {
		return nil, fmt.Errorf("preview redacted copy of recording %d: %w", req.Source.ID, err)
	}
	masked, done, err := req.render()
	if err != nil {
		return nil, fmt.Errorf("preview redacted copy of recording %d: %w", req.Source.ID, err)
	}
	if err := writePCM(masked, w); err != nil {
		return nil, fmt.Errorf("preview redacted copy of recording %d: %w", req.Source.ID, err)
	}
	return done, nil
}

// Analysis is what helps an operator redact a recording without a speech
// model: its length and channels, its turns of speech per channel, and the
// in-band DTMF digits heard on the citizen's side (the mix, on a mono
// recording), proposed for masking.
type Analysis struct {
	Duration time.Duration
	Channels int
	// Turns[c] are channel c's turns: 0 the extension's phone, 1 what it
	// hears (the citizen) on a two-channel recording.
	Turns  [][]redact.Segment
	Digits []redact.Digit
}

// Analyse reads a recording (checked against its checksum first) and
// finds its turns and DTMF digits.
func Analyse(archiveDir string, src archive.StoredRecording) (Analysis, error) {
	var a Analysis
	if err := files.Check(archiveDir, src.Path, src.SHA256, src.Size); err != nil {
		return a, fmt.Errorf("analyse recording %d: %w", src.ID, err)
	}
	pcm, err := readPCM(src.Path)
	if err != nil {
		return a, fmt.Errorf("analyse recording %d: %w", src.ID, err)
	}
	a.Duration, a.Channels = pcm.Duration(), pcm.Channels
	for c := 0; c < pcm.Channels; c++ {
		t, err := redact.Turns(pcm, c)
		if err != nil {
			return a, fmt.Errorf("analyse recording %d: %w", src.ID, err)
		}
		a.Turns = append(a.Turns, t)
	}
	if a.Digits, err = redact.DTMF(pcm, pcm.Channels-1); err != nil {
		return a, fmt.Errorf("analyse recording %d: %w", src.ID, err)
	}
	return a, nil
}

// logMasks is the masks as the log keeps them, in seconds.
func logMasks(ms []redact.Mask) []MaskLogged {
	out := []MaskLogged{}
	for _, m := range ms {
		out = append(out, MaskLogged{Start: m.Start.Seconds(), End: m.End.Seconds(), Channels: m.Channels})
	}
	return out
}

// readPCM reads a 16-bit PCM WAV file.
func readPCM(path string) (redact.PCM, error) {
	f, err := os.Open(path)
	if err != nil {
		return redact.PCM{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return redact.PCM{}, err
	}
	br := bufio.NewReader(f)
	h, err := wavfile.ReadHeader(br, fi.Size())
	if err != nil {
		return redact.PCM{}, fmt.Errorf("%w: %w", ErrNotWAV, err)
	}
	if h.Fmt == nil || binary.LittleEndian.Uint16(h.Fmt[0:2]) != 1 || h.BitsPerSample != 16 || h.Channels < 1 || h.Channels > 2 {
		return redact.PCM{}, fmt.Errorf("%w: redaction takes 16-bit PCM, mono or stereo", ErrNotWAV)
	}
	n := h.DeclaredBytes
	if n > h.DataBytes {
		n = h.DataBytes
	}
	buf := make([]byte, n-n%int64(2*h.Channels))
	if _, err := io.ReadFull(br, buf); err != nil {
		return redact.PCM{}, fmt.Errorf("read audio: %w", err)
	}
	p := redact.PCM{Rate: h.SampleRate, Channels: h.Channels, Samples: make([]int16, len(buf)/2)}
	for i := range p.Samples {
		p.Samples[i] = int16(binary.LittleEndian.Uint16(buf[2*i:]))
	}
	return p, nil
}

// keepChannel returns channel c of p alone.
func keepChannel(p redact.PCM, c int) redact.PCM {
	out := redact.PCM{Rate: p.Rate, Channels: 1, Samples: make([]int16, p.Frames())}
	for i := range out.Samples {
		out.Samples[i] = p.Samples[i*p.Channels+c]
	}
	return out
}

// writePCM writes p as a WAV file with only its fmt and data chunks.
func writePCM(p redact.PCM, w io.Writer) error {
	fmtChunk := wavfile.PCMFmt(p.Channels, p.Rate, 16)
	data := make([]byte, 2*len(p.Samples))
	for i, v := range p.Samples {
		binary.LittleEndian.PutUint16(data[2*i:], uint16(v))
	}
	_, err := copyData(bytes.NewReader(data), w, fmtChunk, int64(len(data)))
	return err
}

// ParseMask reads a mask as the CLI takes it: "12.5-18:citizen" (seconds,
// the citizen's channel, 1) or "30-31.2:both".
func ParseMask(s string) (redact.Mask, error) {
	var from, to float64
	var which string
	if n, err := fmt.Sscanf(s, "%f-%f:%s", &from, &to, &which); err != nil || n != 3 {
		return redact.Mask{}, fmt.Errorf("mask %q: write START-END:citizen or START-END:both, in seconds, e.g. 12.5-18:citizen", s)
	}
	m := redact.Mask{Segment: redact.Segment{Start: time.Duration(from * float64(time.Second)), End: time.Duration(to * float64(time.Second))}}
	switch which {
	case "citizen":
		m.Channels = []int{1}
	case "both":
		m.Channels = []int{0, 1}
	default:
		return redact.Mask{}, fmt.Errorf("mask %q: the channel is citizen or both", s)
	}
	if m.End <= m.Start {
		return redact.Mask{}, fmt.Errorf("mask %q: the end comes before the start", s)
	}
	return m, nil
}

// Redaction is one redacted training copy as the administrators' log keeps
// it: the copy (its name while it exists), the recording it came from,
// what was masked, and who confirmed having heard the whole call, when.
type Redaction struct {
	CopyID         int64        `json:"copy_id"`
	CopyName       string       `json:"copy_name,omitempty"` // "" once the copy was destroyed
	Source         int64        `json:"source_recording_id"`
	Masks          []MaskLogged `json:"masks"`
	Fill           string       `json:"fill"`
	DroppedChannel *int         `json:"dropped_channel,omitempty"`
	ConfirmedBy    string       `json:"confirmed_by"`
	ConfirmedAt    time.Time    `json:"confirmed_at"`
}

// MaskLogged is a masked interval as the log keeps it, in seconds.
type MaskLogged struct {
	Start    float64 `json:"start"`
	End      float64 `json:"end"`
	Channels []int   `json:"channels"`
}

// ListRedactions returns the redaction log, newest first.
func (s *Store) ListRedactions(ctx context.Context) ([]Redaction, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT r.copy_id, coalesce(c.name, ''), r.source_recording_id, r.masks, r.fill, r.dropped_channel, r.confirmed_by, r.confirmed_at
FROM training_redactions r LEFT JOIN training_copies c ON c.id = r.copy_id ORDER BY r.confirmed_at DESC, r.id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list redactions: %w", err)
	}
	defer rows.Close()
	out := []Redaction{}
	for rows.Next() {
		var r Redaction
		var masks []byte
		if err := rows.Scan(&r.CopyID, &r.CopyName, &r.Source, &masks, &r.Fill, &r.DroppedChannel, &r.ConfirmedBy, &r.ConfirmedAt); err != nil {
			return nil, fmt.Errorf("list redactions: %w", err)
		}
		if err := json.Unmarshal(masks, &r.Masks); err != nil {
			return nil, fmt.Errorf("list redactions: copy %d: masks: %w", r.CopyID, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list redactions: %w", err)
	}
	return out, nil
}
