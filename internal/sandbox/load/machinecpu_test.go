package main

import (
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name               string
		in                 string
		busy, steal, total float64
		ok                 bool
	}{
		{"all CPUs", "cpu  100 5 50 800 20 0 10 15 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n", 165, 15, 1000, true},
		{"old kernel without steal", "cpu 1 2 3 4 5 6 7\n", 0, 0, 0, false},
		{"not the first line", "intr 5\ncpu 1 2 3 4 5 6 7 8\n", 0, 0, 0, false},
		{"garbage", "cpu a b c d e f g h\n", 0, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			busy, steal, total, ok := parseProcStat(tt.in)
			if ok != tt.ok || (ok && (busy != tt.busy || steal != tt.steal || total != tt.total)) {
				t.Errorf("parseProcStat = %v %v %v %v, want %v %v %v %v", busy, steal, total, ok, tt.busy, tt.steal, tt.total, tt.ok)
			}
		})
	}
}

func TestParsePressure(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want time.Duration
		ok   bool
	}{
		{"psi", "some avg10=0.05 avg60=1.71 avg300=10.02 total=6994343042\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", 6994343042 * time.Microsecond, true},
		{"no some line", "full avg10=0.00 total=5\n", 0, false},
		{"bad total", "some avg10=0.05 total=x\n", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parsePressure(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("parsePressure = %v %v, want %v %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestMachineShare(t *testing.T) {
	a := cpuReading{busy: 100, steal: 10, total: 1000, stall: time.Second, ok: true, stallOK: true}
	b := cpuReading{busy: 600, steal: 60, total: 2000, stall: 2500 * time.Millisecond, ok: true, stallOK: true}
	s := machineShare(a, b, 2*time.Second)
	if got, want := s.String(), "50%/5%/75%"; got != want {
		t.Errorf("share = %s, want %s", got, want)
	}
	if got := machineShare(cpuReading{}, b, time.Second).String(); got != "?/?/?" {
		t.Errorf("share without readings = %s, want ?/?/?", got)
	}
}
