package sandbox

import (
	"math"
	"testing"
)

func TestToneShare(t *testing.T) {
	const rate = 8000
	mk := func(freqs ...float64) Audio {
		s := make([]float64, rate*2)
		for i := range s {
			for _, f := range freqs {
				s[i] += 0.3 * math.Sin(2*math.Pi*f*float64(i)/rate)
			}
		}
		return Audio{Rate: rate, Samples: s}
	}
	tests := []struct {
		name        string
		a           Audio
		phone, carr bool
	}{
		{"both", mk(PhoneFreq, CarrierFreq), true, true},
		{"phone only", mk(PhoneFreq), true, false},
		{"carrier only", mk(CarrierFreq), false, true},
		{"silence", Audio{Rate: rate, Samples: make([]float64, rate)}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.a.ToneShare(PhoneFreq, 0, 2) > 0.2
			c := tc.a.ToneShare(CarrierFreq, 0, 2) > 0.2
			if p != tc.phone || c != tc.carr {
				t.Fatalf("phone %v carrier %v, want %v %v", p, c, tc.phone, tc.carr)
			}
		})
	}
}
