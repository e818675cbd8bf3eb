package ari

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	b := newBackoff(100*time.Millisecond, time.Second)
	b.jitter = func(n int64) int64 { return n - 1 } // the top of each range
	var got []time.Duration
	for range 7 {
		got = append(got, b.next())
	}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000, 1000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("waits %v, want %v ms", got, want)
		}
	}
	b.reset()
	b.jitter = func(int64) int64 { return 0 } // the bottom
	if d := b.next(); d != 50*time.Millisecond {
		t.Errorf("after reset %v", d)
	}
	rb := newBackoff(10*time.Millisecond, 80*time.Millisecond)
	for range 20 {
		if d := rb.next(); d < 5*time.Millisecond || d > 80*time.Millisecond {
			t.Fatalf("wait %v out of range", d)
		}
	}
}
