package engine

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/rs/zerolog"

	"github.com/villedemercier/recpolicy/internal/wav"
)

// PartSuffixes end the IDs (and file names, before .wav) of the two files
// of a recording made of one file per party, in channel order: the
// extension's voice, then what it hears (see Recording.Parts).
var PartSuffixes = [2]string{".in", ".out"}

// part is one party's spool file, open, and its header.
type part struct {
	f    *os.File
	info WAVInfo
}

// fileParts files a recording made of one file per party (r.Parts): it
// waits until Asterisk has closed each, then writes them interleaved into
// one two-channel file (left the first part, right the second), the
// shorter padded with silence at its end and a missing one silent, so that
// the archived file is what MixMonitor's option D would have written. What
// a part recorded before its channel answered is cut first (preAnswer).
func (f *Filer) fileParts(log zerolog.Logger, r *Recording) {
	if f.watch != nil {
		for _, p := range r.Parts {
			defer f.watch.Forget(filepath.Base(p))
		}
	}
	closed := true
	if !r.orphan {
		for _, p := range r.Parts {
			closed = f.waitClosed(p) && closed
		}
	}
	parts := make([]part, len(r.Parts))
	defer func() {
		for _, p := range parts {
			if p.f != nil {
				p.f.Close()
			}
		}
	}()
	var frames int64
	rate := 0
	repaired := false
	for i, p := range r.Parts {
		fh, err := f.openSpooled(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			f.fail(log, r, err)
			return
		}
		parts[i].f = fh
		info, err := readWAVInfo(fh, p)
		if err != nil {
			if st, serr := fh.Stat(); serr == nil && st.Size() <= 44 {
				continue // a header alone: no audio yet
			}
			f.fail(log, r, err)
			return
		}
		if info.Channels != 1 || info.BitsPerSample != 16 || (rate != 0 && info.SampleRate != rate) {
			f.fail(log, r, fmt.Errorf("file recording: %s: %d channels, %d bits, %d Hz; the parts of a recording must be mono 16-bit at one rate",
				p, info.Channels, info.BitsPerSample, info.SampleRate))
			return
		}
		rate = info.SampleRate
		repaired = repaired || info.HeaderBytes != info.DataBytes
		cutFrames(&info, f.preAnswer(log, r, p, info))
		parts[i].info = info
		frames = max(frames, info.DataBytes/2)
	}
	if !closed {
		log.Warn().Strs("files", r.Parts).Dur("waited", f.closeTimeout).
			Msg("Asterisk did not report the recording closed; filing it as it is")
	}
	if frames == 0 {
		if !f.silentlyEmpty(log, r, 0) {
			f.metrics.RecordingsEmpty.Inc()
			log.Info().Msg("no audio recorded after the answer (the leg never answered); nothing to file")
		}
		for _, p := range r.Parts {
			removeSpooled(p)
		}
		return
	}
	seconds := float64(frames) / float64(rate)
	f.silentlyEmpty(log, r, seconds)
	dst, sum, size, _, err := f.archive(r, func(tmp *os.File) (bool, error) { return repaired, interleave(tmp, parts, frames, rate) })
	if err != nil {
		f.fail(log, r, err)
		return
	}
	for _, p := range r.Parts {
		removeSpooled(p)
	}
	f.filed(log, Filed{Recording: r, Path: dst, SHA256: sum, Size: size, Duration: seconds, Repaired: repaired})
}

// interleave writes a two-channel 16-bit WAV file of frames frames at rate
// into w: frame i is sample i of parts[0] and of parts[1] (silence past a
// part's end, or for a part without a file).
func interleave(w io.Writer, parts []part, frames int64, rate int) error {
	hdr, err := wav.Prefix(wav.PCMFmt(2, rate, 16), frames*4)
	if err != nil {
		return fmt.Errorf("file recording: %d frames: %w", frames, err)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	if _, err := bw.Write(hdr); err != nil {
		return fmt.Errorf("file recording: write: %w", err)
	}
	readers := make([]*bufio.Reader, len(parts))
	left := make([]int64, len(parts)) // frames each part still has
	for i, p := range parts {
		if p.f == nil || p.info.DataBytes == 0 {
			continue
		}
		left[i] = p.info.DataBytes / 2
		readers[i] = bufio.NewReaderSize(io.NewSectionReader(p.f, p.info.DataOffset, left[i]*2), 64<<10)
	}
	var frame [4]byte
	for n := int64(0); n < frames; n++ {
		for c := 0; c < 2; c++ {
			frame[2*c], frame[2*c+1] = 0, 0
			if c < len(readers) && readers[c] != nil && left[c] > 0 {
				if _, err := io.ReadFull(readers[c], frame[2*c:2*c+2]); err != nil {
					return fmt.Errorf("file recording: read part %d: %w", c, err)
				}
				left[c]--
			}
		}
		if _, err := bw.Write(frame[:]); err != nil {
			return fmt.Errorf("file recording: write: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("file recording: write: %w", err)
	}
	return nil
}
