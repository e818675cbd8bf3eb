package backoff

import (
	"testing"
	"time"
)

func TestBackoffDoublesToItsCap(t *testing.T) {
	b := New(100*time.Millisecond, time.Second)
	b.Jitter = func(n int64) int64 { return n - 1 } // the top of each range
	want := []time.Duration{100, 200, 400, 800, 1000, 1000, 1000}
	for i, w := range want {
		if got := b.Next(); got != w*time.Millisecond {
			t.Fatalf("wait %d = %v, want %v ms", i, got, w)
		}
	}
	b.Reset()
	b.Jitter = func(int64) int64 { return 0 } // the bottom
	if d := b.Next(); d != 50*time.Millisecond {
		t.Errorf("after reset %v, want 50ms", d)
	}
}

func TestBackoffStaysInRange(t *testing.T) {
	for _, tt := range []struct{ min, max time.Duration }{
		{200 * time.Millisecond, 10 * time.Second},
		{time.Millisecond, 3 * time.Millisecond},
		{time.Second, time.Second},
		{5 * time.Second, 4 * time.Second}, // max below min: raised to min
	} {
		b := New(tt.min, tt.max)
		hi := max(tt.min, tt.max)
		for i := range 40 {
			if d := b.Next(); d > hi || d < tt.min/2 {
				t.Fatalf("min %v max %v: wait %d = %v out of range", tt.min, tt.max, i, d)
			}
		}
		if b.Current() != hi {
			t.Fatalf("min %v max %v: not capped: %v", tt.min, tt.max, b.Current())
		}
	}
}

func TestAfter(t *testing.T) {
	for n := 1; n < 30; n++ {
		want := min(10*time.Millisecond<<(n-1), time.Second)
		if n > 8 {
			want = time.Second
		}
		if d := After(n, 10*time.Millisecond, time.Second); d > want || d < want/2 {
			t.Fatalf("After(%d) = %v, want in [%v, %v]", n, d, want/2, want)
		}
	}
}
