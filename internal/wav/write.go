package wav

import (
	"encoding/binary"
	"fmt"
)

// PCMFmt is the body of a "fmt " chunk for integer PCM of channels
// channels at rate Hz, bits per sample.
func PCMFmt(channels, rate, bits int) []byte {
	block := channels * bits / 8
	b := make([]byte, 16)
	binary.LittleEndian.PutUint16(b[0:], 1) // PCM
	binary.LittleEndian.PutUint16(b[2:], uint16(channels))
	binary.LittleEndian.PutUint32(b[4:], uint32(rate))
	binary.LittleEndian.PutUint32(b[8:], uint32(rate*block))
	binary.LittleEndian.PutUint16(b[12:], uint16(block))
	binary.LittleEndian.PutUint16(b[14:], uint16(bits))
	return b
}

// Prefix is what a WAV file holding only a "fmt " chunk (body fmtBody)
// and n bytes of samples starts with, up to its first sample: the RIFF
// header (its length counting the pad byte an odd n needs), the fmt chunk,
// and the data chunk's header. The caller writes the samples, then the pad
// byte when n is odd.
func Prefix(fmtBody []byte, n int64) ([]byte, error) {
	riff := 4 + 8 + int64(len(fmtBody)) + 8 + n + n%2
	if n < 0 || riff > 0xFFFFFFFF {
		return nil, fmt.Errorf("%w: %d bytes of samples do not fit a RIFF file", ErrNotWAV, n)
	}
	var b []byte
	b = append(b, "RIFF"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(riff))
	b = append(b, "WAVEfmt "...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(fmtBody)))
	b = append(b, fmtBody...)
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	return b, nil
}
