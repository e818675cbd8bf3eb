package redact

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

const rate = 8000

// stereo builds a 2-channel recording of secs seconds; left and right say
// what each channel holds at time t (a sample in [-1, 1]).
func stereo(secs float64, left, right func(t float64) float64) PCM {
	n := int(secs * rate)
	p := PCM{Rate: rate, Channels: 2, Samples: make([]int16, 2*n)}
	for i := range n {
		t := float64(i) / rate
		p.Samples[2*i] = int16(32767 * left(t))
		p.Samples[2*i+1] = int16(32767 * right(t))
	}
	return p
}

func tone(f, amp float64) func(float64) float64 {
	return func(t float64) float64 { return amp * math.Sin(2*math.Pi*f*t) }
}

// between is f within [from, to) seconds, quiet noise elsewhere.
func between(from, to float64, f func(float64) float64, rng *rand.Rand) func(float64) float64 {
	return func(t float64) float64 {
		if t >= from && t < to {
			return f(t)
		}
		return 0.001 * (rng.Float64()*2 - 1)
	}
}

func TestTurnsPerChannel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// The employee speaks 0.5–2.0 s and 4.0–5.0 s (with a 150 ms pause at
	// 1.2 s, bridged); the citizen 2.3–3.8 s.
	emp := func(t float64) float64 {
		switch {
		case t >= 0.5 && t < 1.2, t >= 1.35 && t < 2.0, t >= 4.0 && t < 5.0:
			return 0.3 * (rng.Float64()*2 - 1)
		}
		return 0.001 * (rng.Float64()*2 - 1)
	}
	p := stereo(6, emp, between(2.3, 3.8, func(float64) float64 { return 0.3 * (rng.Float64()*2 - 1) }, rng))
	near := func(got time.Duration, want float64) bool { return math.Abs(got.Seconds()-want) <= 0.05 }
	left, err := Turns(p, 0)
	if err != nil || len(left) != 2 || !near(left[0].Start, 0.5) || !near(left[0].End, 2.0) || !near(left[1].Start, 4.0) || !near(left[1].End, 5.0) {
		t.Errorf("employee's turns %v %v; want 0.5–2.0 s and 4.0–5.0 s", left, err)
	}
	right, err := Turns(p, 1)
	if err != nil || len(right) != 1 || !near(right[0].Start, 2.3) || !near(right[0].End, 3.8) {
		t.Errorf("citizen's turns %v %v; want 2.3–3.8 s", right, err)
	}
	if _, err := Turns(p, 2); err == nil {
		t.Error("a third channel was accepted")
	}
}

func TestDTMF(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	// The citizen keys 5, 1, 4, # (80 ms each, 80 ms apart) from 1.0 s,
	// over faint noise; the employee speaks meanwhile.
	keys := []struct {
		lo, hi float64
		key    rune
	}{{770, 1336, '5'}, {697, 1209, '1'}, {770, 1209, '4'}, {941, 1477, '#'}}
	citizen := func(t float64) float64 {
		v := 0.002 * (rng.Float64()*2 - 1)
		for i, k := range keys {
			s := 1.0 + float64(i)*0.16
			if t >= s && t < s+0.08 {
				v += 0.2*math.Sin(2*math.Pi*k.lo*t) + 0.2*math.Sin(2*math.Pi*k.hi*t)
			}
		}
		return v
	}
	employee := func(t float64) float64 { return 0.3 * (rng.Float64()*2 - 1) }
	p := stereo(2.5, employee, citizen)
	got, err := DTMF(p, 1)
	if err != nil {
		t.Fatal(err)
	}
	var s string
	for _, d := range got {
		s += string(d.Key)
		if d.End-d.Start < 40*time.Millisecond {
			t.Errorf("digit %c lasts %s", d.Key, d.End-d.Start)
		}
	}
	if s != "514#" || got[0].Start < 980*time.Millisecond || got[0].Start > 1020*time.Millisecond {
		t.Errorf("digits %q (%v); want 514# from 1.0 s", s, got)
	}
	if got, _ := DTMF(p, 0); len(got) != 0 {
		t.Errorf("noise on the employee's channel read as digits %v", got)
	}
	// Speech-like single tones are no digits.
	if got, _ := DTMF(stereo(1, tone(697, 0.3), tone(1000, 0.3)), 0); len(got) != 0 {
		t.Errorf("a single low tone read as %v", got)
	}
}

func TestApplyMasksOnlyWhatItIsTold(t *testing.T) {
	p := stereo(4, tone(600, 0.3), tone(1400, 0.3))
	masked, done, err := Apply(p, []Mask{{Segment: Segment{time.Second, 2 * time.Second}, Channels: []int{1}}}, Tone)
	if err != nil || len(done) != 1 || done[0].Start != 750*time.Millisecond || done[0].End != 2250*time.Millisecond {
		t.Fatalf("apply: %v %v", done, err)
	}
	s, e := int(0.75*rate), int(2.25*rate)
	for i := range p.Frames() {
		if masked.Samples[2*i] != p.Samples[2*i] {
			t.Fatalf("the employee's channel changed at frame %d", i)
		}
		inside := i >= s && i < e
		if !inside && masked.Samples[2*i+1] != p.Samples[2*i+1] {
			t.Fatalf("the citizen's channel changed outside the mask at frame %d", i)
		}
	}
	// Inside, the 1 kHz tone replaced the 1400 Hz one.
	seg := make([]float64, e-s)
	for i := range seg {
		seg[i] = float64(masked.Samples[2*(s+i)+1]) / 32768
	}
	n := float64(len(seg))
	var energy float64
	for _, v := range seg {
		energy += v * v
	}
	if share := 2 * goertzel(seg, 1000, rate) / (n * energy); share < 0.9 {
		t.Errorf("the mask holds %.2f of a 1 kHz tone", share)
	}
	if share := 2 * goertzel(seg, 1400, rate) / (n * energy); share > 0.01 {
		t.Errorf("the citizen's tone is still heard under the mask: %.2f", share)
	}
	silent, _, _ := Apply(p, []Mask{{Segment: Segment{0, 500 * time.Millisecond}, Channels: []int{0, 1}}}, Silence)
	for i := range int(0.75 * rate) {
		if silent.Samples[2*i] != 0 || silent.Samples[2*i+1] != 0 {
			t.Fatalf("silence mask: frame %d not silent", i)
		}
	}
	for _, bad := range []Mask{{Segment: Segment{2 * time.Second, time.Second}, Channels: []int{1}}, {Segment: Segment{0, time.Second}}, {Segment: Segment{0, time.Second}, Channels: []int{2}}} {
		if _, _, err := Apply(p, []Mask{bad}, Tone); err == nil {
			t.Errorf("mask %+v accepted", bad)
		}
	}
}
