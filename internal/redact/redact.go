// Package redact holds the audio work behind de-identified training
// copies, without any speech-recognition model: it finds, per channel, the
// turns of speech (energy against the channel's own noise floor) so that a
// person can step through a call turn by turn, finds in-band DTMF digits (a
// caller keying a card or file number) to propose them for masking, and
// masks intervals of a 16-bit PCM recording — one channel or both — with a
// tone or silence and a fixed padding either side, leaving every other
// sample as it was. It reads and writes samples only; who may redact, and
// what is kept of it, is decided elsewhere.
package redact

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
)

// PCM is 16-bit linear audio, channels interleaved.
type PCM struct {
	Rate     int
	Channels int
	Samples  []int16 // frame i, channel c at i*Channels+c
}

// Frames returns the number of frames.
func (p PCM) Frames() int {
	if p.Channels <= 0 {
		return 0
	}
	return len(p.Samples) / p.Channels
}

// Duration returns the audio's length.
func (p PCM) Duration() time.Duration {
	if p.Rate <= 0 {
		return 0
	}
	return time.Duration(p.Frames()) * time.Second / time.Duration(p.Rate)
}

// channel returns channel c as float samples in [-1, 1].
func (p PCM) channel(c int) []float64 {
	out := make([]float64, p.Frames())
	for i := range out {
		out[i] = float64(p.Samples[i*p.Channels+c]) / 32768
	}
	return out
}

func (p PCM) check(c int) error {
	switch {
	case p.Rate <= 0 || p.Channels <= 0:
		return errors.New("no audio format")
	case c < 0 || c >= p.Channels:
		return fmt.Errorf("channel %d: the recording has %d", c, p.Channels)
	}
	return nil
}

// Segment is an interval of a recording.
type Segment struct {
	Start, End time.Duration
}

// frame is the analysis frame for turns and DTMF.
const frame = 20 * time.Millisecond

// Turns returns the turns of speech on channel c: runs of frames whose
// energy stands above the channel's noise floor (its 10th percentile) by
// 12 dB and above -50 dBFS, bridged over pauses shorter than 300 ms, and
// kept when at least 200 ms long.
func Turns(p PCM, c int) ([]Segment, error) {
	if err := p.check(c); err != nil {
		return nil, fmt.Errorf("turns: %w", err)
	}
	x := p.channel(c)
	n := int(int64(p.Rate) * int64(frame) / int64(time.Second))
	if n <= 0 || len(x) < n {
		return nil, nil
	}
	var db []float64
	for i := 0; i+n <= len(x); i += n {
		var e float64
		for _, v := range x[i : i+n] {
			e += v * v
		}
		db = append(db, 10*math.Log10(e/float64(n)+1e-12))
	}
	sorted := append([]float64(nil), db...)
	sort.Float64s(sorted)
	floor := sorted[len(sorted)/10]
	thr := max(floor+12, -50)
	var segs []Segment
	in := false
	var start int
	for i, v := range db {
		switch {
		case v > thr && !in:
			in, start = true, i
		case v <= thr && in:
			in = false
			segs = append(segs, Segment{time.Duration(start) * frame, time.Duration(i) * frame})
		}
	}
	if in {
		segs = append(segs, Segment{time.Duration(start) * frame, time.Duration(len(db)) * frame})
	}
	// Bridge short pauses, drop short blips.
	var out []Segment
	for _, s := range segs {
		if len(out) > 0 && s.Start-out[len(out)-1].End < 300*time.Millisecond {
			out[len(out)-1].End = s.End
			continue
		}
		out = append(out, s)
	}
	kept := out[:0]
	for _, s := range out {
		if s.End-s.Start >= 200*time.Millisecond {
			kept = append(kept, s)
		}
	}
	return kept, nil
}

// Digit is an in-band DTMF key found in a recording.
type Digit struct {
	Key rune
	Segment
}

var (
	dtmfLow  = [4]float64{697, 770, 852, 941}
	dtmfHigh = [4]float64{1209, 1336, 1477, 1633}
	dtmfKeys = [4][4]rune{{'1', '2', '3', 'A'}, {'4', '5', '6', 'B'}, {'7', '8', '9', 'C'}, {'*', '0', '#', 'D'}}
)

// goertzel returns the power of freq in x.
func goertzel(x []float64, freq float64, rate int) float64 {
	coeff := 2 * math.Cos(2*math.Pi*freq/float64(rate))
	var s1, s2 float64
	for _, v := range x {
		s0 := v + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	return s1*s1 + s2*s2 - coeff*s1*s2
}

// DTMF returns the DTMF keys on channel c: frames where one low and one
// high DTMF frequency hold most of the energy, each well above the other
// frequencies of its group, within 8 dB of each other (twist), for at least
// 40 ms; a key is one run of such frames.
func DTMF(p PCM, c int) ([]Digit, error) {
	if err := p.check(c); err != nil {
		return nil, fmt.Errorf("dtmf: %w", err)
	}
	x := p.channel(c)
	n := int(int64(p.Rate) * int64(frame) / int64(time.Second))
	if n <= 0 {
		return nil, nil
	}
	var out []Digit
	var cur rune
	var start, run int
	flush := func(i int) {
		if cur != 0 && time.Duration(run)*frame >= 40*time.Millisecond {
			out = append(out, Digit{Key: cur, Segment: Segment{time.Duration(start) * frame, time.Duration(i) * frame}})
		}
		cur, run = 0, 0
	}
	for f := 0; (f+1)*n <= len(x); f++ {
		w := x[f*n : (f+1)*n]
		var total float64
		for _, v := range w {
			total += v * v
		}
		key := rune(0)
		if total/float64(n) > 1e-5 { // above about -50 dBFS
			lo, hi := best(w, dtmfLow, p.Rate), best(w, dtmfHigh, p.Rate)
			if lo.ok && hi.ok {
				// A pure tone of amplitude A over n samples gives power
				// (A n / 2)^2 and energy A^2 n / 2: share = 2 P / (n E).
				share := 2 * (lo.power + hi.power) / (float64(n) * total)
				twist := 10 * math.Log10(lo.power/hi.power)
				if share > 0.7 && math.Abs(twist) < 8 {
					key = dtmfKeys[lo.i][hi.i]
				}
			}
		}
		switch {
		case key == 0:
			flush(f)
		case key == cur:
			run++
		default:
			flush(f)
			cur, start, run = key, f, 1
		}
	}
	flush(len(x) / n)
	return out, nil
}

type peak struct {
	i     int
	power float64
	ok    bool
}

// best finds the strongest of four frequencies, and whether it stands
// 10 dB above the others.
func best(w []float64, freqs [4]float64, rate int) peak {
	var p [4]float64
	top := 0
	for i, f := range freqs {
		p[i] = goertzel(w, f, rate)
		if p[i] > p[top] {
			top = i
		}
	}
	for i := range p {
		if i != top && p[i]*10 > p[top] {
			return peak{top, p[top], false}
		}
	}
	return peak{top, p[top], true}
}

// Mask says how one interval is masked.
type Mask struct {
	Segment
	// Channels are the channels masked (e.g. only the citizen's).
	Channels []int
}

// Fill is what replaces masked audio.
type Fill int

// Fills.
const (
	Tone    Fill = iota // a 1 kHz tone at -12 dBFS: a listener hears that something was removed
	Silence             // digital silence
)

// Padding is added either side of every masked interval.
const Padding = 250 * time.Millisecond

// Apply returns a copy of p with each mask's interval, widened by Padding
// either side (within the recording), replaced by fill on its channels;
// every other sample is left exactly as it was. It also returns the
// intervals actually masked (padded, within the recording), for the
// redaction log.
func Apply(p PCM, masks []Mask, fill Fill) (PCM, []Mask, error) {
	out := PCM{Rate: p.Rate, Channels: p.Channels, Samples: append([]int16(nil), p.Samples...)}
	if p.Rate <= 0 || p.Channels <= 0 {
		return out, nil, errors.New("mask: no audio format")
	}
	frames := p.Frames()
	at := func(d time.Duration) int {
		i := int(int64(d) * int64(p.Rate) / int64(time.Second))
		return min(max(i, 0), frames)
	}
	var done []Mask
	for _, m := range masks {
		if m.End <= m.Start {
			return out, nil, fmt.Errorf("mask %s–%s: the end comes before the start", m.Start, m.End)
		}
		if len(m.Channels) == 0 {
			return out, nil, fmt.Errorf("mask %s–%s: name the channels to mask", m.Start, m.End)
		}
		for _, c := range m.Channels {
			if c < 0 || c >= p.Channels {
				return out, nil, fmt.Errorf("mask %s–%s: channel %d, the recording has %d", m.Start, m.End, c, p.Channels)
			}
		}
		s, e := at(m.Start-Padding), at(m.End+Padding)
		for i := s; i < e; i++ {
			var v int16
			if fill == Tone {
				v = int16(0.25 * 32767 * math.Sin(2*math.Pi*1000*float64(i)/float64(p.Rate)))
			}
			for _, c := range m.Channels {
				out.Samples[i*p.Channels+c] = v
			}
		}
		done = append(done, Mask{Segment: Segment{time.Duration(s) * time.Second / time.Duration(p.Rate), time.Duration(e) * time.Second / time.Duration(p.Rate)}, Channels: m.Channels})
	}
	return out, done, nil
}
