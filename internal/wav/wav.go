// Package wav reads the chunk layout of RIFF/WAVE files, and writes the
// canonical header of a PCM one: the one reader and writer the recording
// engine (header checks and repair, a recording's parts interleaved) and
// the archive (training copies stripped of their metadata, redacted) share.
package wav

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrNotWAV marks a stream that is not a RIFF/WAVE file with a data chunk.
var ErrNotWAV = errors.New("not a WAV file")

// Header is what comes before a WAV file's samples.
type Header struct {
	Fmt           []byte // the "fmt " chunk's body; nil when none came before the data
	FmtOffset     int64  // where the "fmt " chunk's body begins
	SampleRate    int
	Channels      int
	BitsPerSample int
	ByteRate      int
	DataOffset    int64 // where the samples begin
	DeclaredBytes int64 // the data chunk's length as its header says
	DataBytes     int64 // the sample bytes actually in the file (from its size)
}

// maxFmt bounds a "fmt " chunk's body (16 to 40 bytes in practice).
const maxFmt = 1024

// ReadHeader reads r, a WAV file of size bytes, up to the start of its
// samples, skipping chunks other than "fmt " and "data": on return r is at
// the first sample byte. DataBytes comes from size, so a header left at
// zero length by a crash still yields the real length.
func ReadHeader(r io.Reader, size int64) (Header, error) {
	var h Header
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil || string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return h, fmt.Errorf("%w: no RIFF/WAVE header", ErrNotWAV)
	}
	pos := int64(12)
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return h, fmt.Errorf("%w: no data chunk", ErrNotWAV)
		}
		pos += 8
		id, n := string(ch[0:4]), int64(binary.LittleEndian.Uint32(ch[4:8]))
		switch id {
		case "fmt ":
			if n < 16 || n > maxFmt {
				return h, fmt.Errorf("%w: fmt chunk of %d bytes", ErrNotWAV, n)
			}
			h.Fmt, h.FmtOffset = make([]byte, n), pos
			if _, err := io.ReadFull(r, h.Fmt); err != nil {
				return h, fmt.Errorf("%w: short fmt chunk", ErrNotWAV)
			}
			h.Channels = int(binary.LittleEndian.Uint16(h.Fmt[2:4]))
			h.SampleRate = int(binary.LittleEndian.Uint32(h.Fmt[4:8]))
			h.ByteRate = int(binary.LittleEndian.Uint32(h.Fmt[8:12]))
			h.BitsPerSample = int(binary.LittleEndian.Uint16(h.Fmt[14:16]))
		case "data":
			h.DataOffset, h.DeclaredBytes = pos, n
			h.DataBytes = max(0, size-pos)
			return h, nil
		default:
			if _, err := io.CopyN(io.Discard, r, n); err != nil {
				return h, fmt.Errorf("%w: short %q chunk", ErrNotWAV, strings.TrimSpace(id))
			}
		}
		if n%2 == 1 { // chunks are word-aligned
			if _, err := io.CopyN(io.Discard, r, 1); err != nil {
				return h, fmt.Errorf("%w: truncated", ErrNotWAV)
			}
			n++
		}
		pos += n
		if pos > size {
			return h, fmt.Errorf("%w: no data chunk", ErrNotWAV)
		}
	}
}

// Seconds returns the length of the file's samples.
func (h Header) Seconds() float64 {
	bps := int64(h.Channels * h.BitsPerSample / 8)
	if bps == 0 || h.SampleRate == 0 {
		return 0
	}
	return float64(h.DataBytes/bps) / float64(h.SampleRate)
}
