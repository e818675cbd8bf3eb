package wav

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// file builds a WAV: header, an optional LIST chunk, fmt, data.
func file(list bool, declared uint32, samples int) []byte {
	var b []byte
	b = append(b, "RIFF\x00\x00\x00\x00WAVE"...)
	if list {
		b = append(b, "LIST\x03\x00\x00\x00abc\x00"...) // odd length, padded
	}
	b = append(b, "fmt \x10\x00\x00\x00"...)
	b = binary.LittleEndian.AppendUint16(b, 1)     // PCM
	b = binary.LittleEndian.AppendUint16(b, 1)     // mono
	b = binary.LittleEndian.AppendUint32(b, 8000)  // rate
	b = binary.LittleEndian.AppendUint32(b, 16000) // byte rate
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 16)
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, declared)
	return append(b, make([]byte, samples)...)
}

func TestReadHeader(t *testing.T) {
	for _, tt := range []struct {
		name     string
		data     []byte
		offset   int64
		declared int64
		seconds  float64
	}{
		{"plain", file(false, 16000, 16000), 44, 16000, 1},
		{"header left at zero by a crash", file(false, 0, 32000), 44, 0, 2},
		{"metadata chunk before fmt", file(true, 8000, 8000), 56, 8000, 0.5},
	} {
		h, err := ReadHeader(bytes.NewReader(tt.data), int64(len(tt.data)))
		if err != nil || h.DataOffset != tt.offset || h.DeclaredBytes != tt.declared || h.Seconds() != tt.seconds || h.SampleRate != 8000 || len(h.Fmt) != 16 {
			t.Errorf("%s: %+v %v", tt.name, h, err)
		}
	}
	for _, bad := range [][]byte{nil, []byte("RIFX0000WAVE"), []byte("RIFF\x00\x00\x00\x00WAVEfmt \x02\x00\x00\x00ab"), file(false, 0, 0)[:40]} {
		if _, err := ReadHeader(bytes.NewReader(bad), int64(len(bad))); !errors.Is(err, ErrNotWAV) {
			t.Errorf("%q: %v, want ErrNotWAV", bad, err)
		}
	}
}

func FuzzReadHeader(f *testing.F) {
	f.Add(file(true, 10, 10))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadHeader(bytes.NewReader(data), int64(len(data)))
		if err == nil && (h.DataOffset > int64(len(data)) || h.DataBytes < 0) {
			t.Fatalf("%+v for %d bytes", h, len(data))
		}
	})
}

// TestPrefixReadsBack: a header written by Prefix and PCMFmt reads back as
// what it says, an odd length counting its pad byte in the RIFF length.
func TestPrefixReadsBack(t *testing.T) {
	for _, n := range []int64{0, 1600, 1601} {
		b, err := Prefix(PCMFmt(2, 8000, 16), n)
		if err != nil {
			t.Fatal(err)
		}
		f := append(b, make([]byte, n+n%2)...)
		h, err := ReadHeader(bytes.NewReader(f), int64(len(f)))
		if err != nil || h.Channels != 2 || h.SampleRate != 8000 || h.BitsPerSample != 16 || h.ByteRate != 32000 ||
			h.DataOffset != 44 || h.DeclaredBytes != n || binary.LittleEndian.Uint32(f[4:]) != uint32(len(f)-8) {
			t.Errorf("%d bytes: %+v %v", n, h, err)
		}
	}
	if _, err := Prefix(PCMFmt(1, 8000, 16), 1<<32); !errors.Is(err, ErrNotWAV) {
		t.Errorf("4 GiB of samples: %v", err)
	}
}
