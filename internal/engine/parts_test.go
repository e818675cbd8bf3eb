package engine

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// writePart writes a mono 16-bit 8 kHz WAV of samples; with crashed, its
// header claims no data (as a crash leaves it).
func writePart(t *testing.T, path string, samples []int16, crashed bool) {
	t.Helper()
	writeWAV(t, path, 0, 0)
	b, _ := os.ReadFile(path)
	for _, s := range samples {
		b = binary.LittleEndian.AppendUint16(b, uint16(s))
	}
	if !crashed {
		binary.LittleEndian.PutUint32(b[4:], uint32(36+2*len(samples)))
		binary.LittleEndian.PutUint32(b[40:], uint32(2*len(samples)))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func ramp(n int, from int16) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = from + int16(i%1000)
	}
	return s
}

// TestFilerInterleavesParts: a recording made of one file per party (the
// snoop backend) is archived as one two-channel file, left the first part
// and right the second, sample for sample, the shorter padded with silence;
// a part a crash left with an unfinished header counts whole (and the
// recording as repaired); the parts leave the spool. With one part
// missing, its channel is silent.
func TestFilerInterleavesParts(t *testing.T) {
	for _, tc := range []struct {
		name       string
		left, righ []int16
		crashed    bool
		missing    int // -1: none
	}{
		{name: "right shorter, crashed", left: ramp(8000, 100), righ: ramp(6400, -500), crashed: true, missing: -1},
		{name: "left shorter", left: ramp(4000, 7), righ: ramp(8000, 9), missing: -1},
		{name: "right missing", left: ramp(8000, 3), missing: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spool, arch := t.TempDir(), filepath.Join(t.TempDir(), "archive")
			f := NewFiler(spool, arch, 200*time.Millisecond, zerolog.Nop(), NewMetrics(nil), nil)
			r := &Recording{ID: "1700000000-235-inbound-pbx-1.2~pbx-1.1-1", Extension: "235", Uniqueid: "pbx-1.2", CallStart: time.Unix(1700000000, 0)}
			r.LocalPath = filepath.Join(spool, r.ID+".wav")
			r.Parts = []string{filepath.Join(spool, r.ID+".in.wav"), filepath.Join(spool, r.ID+".out.wav")}
			parts := [][]int16{tc.left, tc.righ}
			for i, p := range r.Parts {
				if i != tc.missing {
					writePart(t, p, parts[i], tc.crashed && i == 1)
				}
			}
			got := fileOne(t, f, r)
			if len(got) != 1 {
				t.Fatalf("filed %d, want 1", len(got))
			}
			frames := max(len(tc.left), len(tc.righ))
			info, err := ReadWAVInfo(got[0].Path)
			if err != nil || info.Channels != 2 || info.HeaderBytes != int64(4*frames) || info.DataBytes != int64(4*frames) ||
				got[0].Duration != float64(frames)/8000 || got[0].Repaired != tc.crashed {
				t.Fatalf("archived %+v %v, filed %+v; want %d stereo frames", info, err, got[0], frames)
			}
			b, _ := os.ReadFile(got[0].Path)
			for i := 0; i < frames; i++ {
				for c, s := range parts {
					want := int16(0)
					if i < len(s) {
						want = s[i]
					}
					if v := int16(binary.LittleEndian.Uint16(b[44+4*i+2*c:])); v != want {
						t.Fatalf("frame %d channel %d = %d, want %d", i, c, v, want)
					}
				}
			}
			for _, p := range r.Parts {
				if _, err := os.Stat(p); !os.IsNotExist(err) {
					t.Errorf("%s still in the spool", p)
				}
			}
		})
	}
}

// TestOrphanPartsFiledOnce: the two files of a recording a crash left in
// the spool are filed together, once, as one two-channel recording.
func TestOrphanPartsFiledOnce(t *testing.T) {
	spool, arch := t.TempDir(), filepath.Join(t.TempDir(), "archive")
	f := NewFiler(spool, arch, 200*time.Millisecond, zerolog.Nop(), NewMetrics(nil), nil)
	var got []Filed
	f.onFiled = func(fd Filed) { got = append(got, fd) }
	id := "1700000000-235-inbound-pbx-1.2~pbx-1.1-1"
	old := time.Now().Add(-time.Minute)
	for _, s := range PartSuffixes {
		p := filepath.Join(spool, id+s+".wav")
		writePart(t, p, ramp(800, 1), true)
		os.Chtimes(p, old, old)
	}
	if n := f.Orphans(map[string]bool{}, nil); n != 1 {
		t.Fatalf("queued %d orphans, want 1", n)
	}
	f.poll = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx, 1); close(done) }()
	f.Wait()
	cancel()
	<-done
	if len(got) != 1 || got[0].Recording.ID != id || got[0].Duration != 0.1 {
		t.Fatalf("filed %+v, want one recording %s of 0.1 s", got, id)
	}
	if info, _ := ReadWAVInfo(got[0].Path); info.Channels != 2 {
		t.Errorf("the orphan was filed with %d channels", info.Channels)
	}
	// A running recording's parts are left alone.
	for _, s := range PartSuffixes {
		p := filepath.Join(spool, "1700000000-235-inbound-pbx-1.3-2"+s+".wav")
		writePart(t, p, ramp(800, 1), true)
		os.Chtimes(p, old, old)
	}
	if n := f.Orphans(map[string]bool{"1700000000-235-inbound-pbx-1.3-2": true}, nil); n != 0 {
		t.Errorf("queued %d files of a running recording", n)
	}
}
