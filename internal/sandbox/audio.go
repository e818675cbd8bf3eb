package sandbox

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"

	"github.com/villedemercier/recpolicy/internal/engine"
)

// Tones of the simulator (docker/asterisk/sim/extensions.conf).
const (
	PhoneFreq   = 600.0
	CarrierFreq = 1400.0
	// MOHFreq is the sandbox's music on hold (docker/asterisk/common/musiconhold.conf).
	MOHFreq = 425.0
)

// Audio is a 16-bit PCM recording: Samples the mono signal (the channels'
// mean for a stereo file, as a mixing recorder would write it), Channels
// each channel of a stereo file (nil for a mono one).
type Audio struct {
	Rate     int
	Samples  []float64 // -1..1
	Channels [][]float64
}

// Channel returns channel i of a stereo recording as a mono one.
func (a Audio) Channel(i int) Audio {
	if i < 0 || i >= len(a.Channels) {
		return Audio{Rate: a.Rate}
	}
	return Audio{Rate: a.Rate, Samples: a.Channels[i]}
}

// Duration returns the audio's length in seconds.
func (a Audio) Duration() float64 { return float64(len(a.Samples)) / float64(a.Rate) }

// ReadWAV reads a mono or stereo 16-bit PCM WAV file.
func ReadWAV(path string) (Audio, error) {
	info, err := engine.ReadWAVInfo(path)
	if err != nil {
		return Audio{}, err
	}
	if (info.Channels != 1 && info.Channels != 2) || info.BitsPerSample != 16 {
		return Audio{}, fmt.Errorf("read wav %s: %d channels, %d bits; want mono or stereo 16-bit", path, info.Channels, info.BitsPerSample)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Audio{}, err
	}
	data := b[info.DataOffset:]
	sample := func(i int) float64 { return float64(int16(binary.LittleEndian.Uint16(data[2*i:]))) / 32768 }
	if info.Channels == 1 {
		s := make([]float64, len(data)/2)
		for i := range s {
			s[i] = sample(i)
		}
		return Audio{Rate: info.SampleRate, Samples: s}, nil
	}
	n := len(data) / 4
	a := Audio{Rate: info.SampleRate, Samples: make([]float64, n), Channels: [][]float64{make([]float64, n), make([]float64, n)}}
	for i := range n {
		l, r := sample(2*i), sample(2*i+1)
		a.Channels[0][i], a.Channels[1][i] = l, r
		a.Samples[i] = (l + r) / 2
	}
	return a, nil
}

// ToneShare returns, for the window [from, to) in seconds, the share of the
// signal's energy at freq (Goertzel), between 0 and 1.
func (a Audio) ToneShare(freq, from, to float64) float64 {
	i0, i1 := int(from*float64(a.Rate)), int(to*float64(a.Rate))
	if i0 < 0 {
		i0 = 0
	}
	if i1 > len(a.Samples) {
		i1 = len(a.Samples)
	}
	n := i1 - i0
	if n <= 0 {
		return 0
	}
	var total float64
	for _, v := range a.Samples[i0:i1] {
		total += v * v
	}
	if total == 0 {
		return 0
	}
	w := 2 * math.Pi * freq / float64(a.Rate)
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range a.Samples[i0:i1] {
		s0 := v + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	// A pure sine of amplitude A over n samples gives power (A n / 2)^2 and
	// total energy A^2 n / 2: the ratio below is 1 for a pure tone.
	return 2 * power / (float64(n) * total)
}

// RMS returns the root mean square of the window [from, to) in seconds.
func (a Audio) RMS(from, to float64) float64 {
	i0, i1 := int(from*float64(a.Rate)), int(to*float64(a.Rate))
	if i0 < 0 {
		i0 = 0
	}
	if i1 > len(a.Samples) {
		i1 = len(a.Samples)
	}
	if i1 <= i0 {
		return 0
	}
	var sum float64
	for _, v := range a.Samples[i0:i1] {
		sum += v * v
	}
	return math.Sqrt(sum / float64(i1-i0))
}
