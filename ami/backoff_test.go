package ami

import (
	"strings"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		min, max time.Duration
	}{
		{200 * time.Millisecond, 10 * time.Second},
		{time.Millisecond, 3 * time.Millisecond},
		{time.Second, time.Second},
		{5 * time.Second, 4 * time.Second}, // min above max: capped at max
	}
	for _, tt := range tests {
		b := newBackoff(tt.min, tt.max)
		ceil := min(tt.min, tt.max)
		for i := range 40 {
			d := b.next()
			if d > tt.max {
				t.Fatalf("min %v max %v: delay %d = %v over cap", tt.min, tt.max, i, d)
			}
			if d < ceil/2 {
				t.Fatalf("min %v max %v: delay %d = %v below half of %v", tt.min, tt.max, i, d, ceil)
			}
			ceil = min(ceil*2, tt.max)
		}
		if b.cur != tt.max {
			t.Fatalf("min %v max %v: not capped: cur %v", tt.min, tt.max, b.cur)
		}
		b.reset()
		if d := b.next(); d > tt.min {
			t.Fatalf("after reset: %v > min %v", d, tt.min)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{Addr: "x:5038", Secret: "s3cret", MinBackoff: time.Second, MaxBackoff: time.Millisecond}.withDefaults()
	if c.Events != "on" || c.DialTimeout != DefaultDialTimeout || c.ActionTimeout != DefaultActionTimeout ||
		c.PingInterval != DefaultPingInterval || c.MaxBackoff != time.Second {
		t.Fatalf("defaults: %v", c)
	}
	for _, s := range []string{c.String(), c.GoString()} {
		if strings.Contains(s, "s3cret") {
			t.Fatalf("secret printed: %s", s)
		}
	}
}
