package engine

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// writeWAV writes a mono 16-bit 8 kHz WAV whose header claims claimed bytes
// of samples while the file holds actual bytes.
func writeWAV(t *testing.T, path string, claimed, actual uint32) {
	t.Helper()
	b := make([]byte, 44+actual)
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], 36+claimed)
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], 8000)
	binary.LittleEndian.PutUint32(b[28:], 16000)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], claimed)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRepairWAV(t *testing.T) {
	tests := []struct {
		name            string
		claimed, actual uint32
		repaired        bool
		seconds         float64
	}{
		{"closed normally", 16000, 16000, false, 1},
		{"crash left zero length", 0, 32000, true, 2},
		{"header claims more than the file holds", 64000, 8000, true, 0.5},
		{"empty", 0, 0, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "r.wav")
			writeWAV(t, p, tc.claimed, tc.actual)
			got, err := RepairWAV(p)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.repaired {
				t.Errorf("repaired %v, want %v", got, tc.repaired)
			}
			info, err := ReadWAVInfo(p)
			if err != nil {
				t.Fatal(err)
			}
			if info.HeaderBytes != info.DataBytes || info.Duration() != tc.seconds {
				t.Errorf("after repair header %d bytes, data %d bytes, %.2f s; want equal and %.2f s", info.HeaderBytes, info.DataBytes, info.Duration(), tc.seconds)
			}
		})
	}
}

func TestReadWAVInfoRejectsOtherFiles(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.wav")
	os.WriteFile(p, []byte("not a wav file at all"), 0o644)
	if _, err := ReadWAVInfo(p); err == nil {
		t.Fatal("want an error for a file that is not WAV")
	}
}

// TestMarkStereo: a file MixMonitor's option D wrote (stereo frames under a
// one-channel header) gets a two-channel header; its length halves to the
// truth; a stereo header is left as it is.
func TestMarkStereo(t *testing.T) {
	p := filepath.Join(t.TempDir(), "d.wav")
	writeWAV(t, p, 32000, 32000) // one second of stereo, said to be two of mono
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	changed, err := markStereo(f, p)
	if err != nil || !changed {
		t.Fatalf("markStereo: %v %v", changed, err)
	}
	info, err := ReadWAVInfo(p)
	if err != nil || info.Channels != 2 || info.Duration() != 1 {
		t.Fatalf("after: %+v %v", info, err)
	}
	b, _ := os.ReadFile(p)
	if rate, align := binary.LittleEndian.Uint32(b[28:]), binary.LittleEndian.Uint16(b[32:]); rate != 32000 || align != 4 {
		t.Errorf("byte rate %d, block align %d; want 32000, 4", rate, align)
	}
	if again, err := markStereo(f, p); err != nil || again {
		t.Errorf("a stereo header changed again: %v %v", again, err)
	}
}
