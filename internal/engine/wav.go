package engine

import (
	"bufio"
	"github.com/villedemercier/recpolicy/internal/wav"
	"io"

	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrNotWAV marks a file that is not a RIFF/WAVE file.
var ErrNotWAV = errors.New("not a WAV file")

// WAVInfo describes a PCM WAV file.
type WAVInfo struct {
	SampleRate    int
	Channels      int
	BitsPerSample int
	FmtOffset     int64 // where the "fmt " chunk's body begins
	DataOffset    int64 // where the samples begin
	DataBytes     int64 // sample bytes actually in the file
	HeaderBytes   int64 // sample bytes the header claims
}

// Duration returns the audio's length in seconds.
func (w WAVInfo) Duration() float64 {
	bps := int64(w.Channels * w.BitsPerSample / 8)
	if bps == 0 || w.SampleRate == 0 {
		return 0
	}
	return float64(w.DataBytes/bps) / float64(w.SampleRate)
}

// ReadWAVInfo reads the header of the WAV file at path, never through a
// symbolic link. DataBytes comes from the file's size, so a header left at
// zero length by a crash still yields the real length.
func ReadWAVInfo(path string) (WAVInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return WAVInfo{}, err
	}
	defer f.Close()
	return readWAVInfo(f, path)
}

// readWAVInfo reads the header of an open WAV file; name is for errors.
func readWAVInfo(f *os.File, name string) (WAVInfo, error) {
	st, err := f.Stat()
	if err != nil {
		return WAVInfo{}, err
	}
	h, err := wav.ReadHeader(bufio.NewReader(io.NewSectionReader(f, 0, st.Size())), st.Size())
	if err != nil {
		return WAVInfo{}, fmt.Errorf("read wav header of %s: %w: %w", name, ErrNotWAV, err)
	}
	return WAVInfo{SampleRate: h.SampleRate, Channels: h.Channels, BitsPerSample: h.BitsPerSample, FmtOffset: h.FmtOffset,
		DataOffset: h.DataOffset, DataBytes: h.DataBytes, HeaderBytes: h.DeclaredBytes}, nil
}

// RepairWAV rewrites the RIFF and data length fields of the WAV file at path
// from its size when they disagree (Asterisk writes them on close; a crash
// leaves zero). It never follows a symbolic link. It reports whether it
// changed the file.
func RepairWAV(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return false, fmt.Errorf("repair wav %s: %w", path, err)
	}
	defer f.Close()
	return repairWAV(f, path)
}

// repairWAV repairs the header of an open WAV file (read-write), fsync'd.
func repairWAV(f *os.File, name string) (bool, error) {
	info, err := readWAVInfo(f, name)
	if err != nil {
		return false, err
	}
	if info.HeaderBytes == info.DataBytes {
		return false, nil
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(info.DataOffset+info.DataBytes-8))
	if _, err := f.WriteAt(b[:], 4); err != nil {
		return false, fmt.Errorf("repair wav %s: %w", name, err)
	}
	binary.LittleEndian.PutUint32(b[:], uint32(info.DataBytes))
	if _, err := f.WriteAt(b[:], info.DataOffset-4); err != nil {
		return false, fmt.Errorf("repair wav %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		return false, fmt.Errorf("repair wav %s: %w", name, err)
	}
	return true, nil
}

// markStereo rewrites the fmt chunk of an open WAV file whose samples are
// two channels interleaved but whose header says one (MixMonitor's option
// D writes such files): channels 2, byte rate and block align doubled. It
// reports whether it changed the file; a header that already says two
// channels is left alone.
func markStereo(f *os.File, name string) (bool, error) {
	info, err := readWAVInfo(f, name)
	if err != nil {
		return false, err
	}
	if info.Channels != 1 {
		return false, nil
	}
	bps := info.BitsPerSample / 8
	var b [12]byte
	binary.LittleEndian.PutUint16(b[0:2], 2)                              // channels
	binary.LittleEndian.PutUint32(b[2:6], uint32(info.SampleRate))        // sample rate
	binary.LittleEndian.PutUint32(b[6:10], uint32(info.SampleRate*2*bps)) // byte rate
	binary.LittleEndian.PutUint16(b[10:12], uint16(2*bps))                // block align
	if _, err := f.WriteAt(b[:], info.FmtOffset+2); err != nil {
		return false, fmt.Errorf("mark wav %s stereo: %w", name, err)
	}
	return true, nil
}
