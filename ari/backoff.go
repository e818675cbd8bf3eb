package ari

import (
	"math/rand/v2"
	"time"
)

// backoff yields capped exponential waits with jitter: the n-th wait lies in
// [d/2, d] where d = min(min·2ⁿ, max).
type backoff struct {
	min, max time.Duration
	cur      time.Duration
	jitter   func(n int64) int64 // uniform in [0, n); rand.Int64N by default
}

func newBackoff(min, max time.Duration) *backoff {
	return &backoff{min: min, max: max, jitter: rand.Int64N}
}

// next returns the wait before the next attempt and doubles the base.
func (b *backoff) next() time.Duration {
	switch {
	case b.cur == 0:
		b.cur = b.min
	case b.cur >= b.max/2:
		b.cur = b.max
	default:
		b.cur *= 2
	}
	half := b.cur / 2
	if half <= 0 {
		return b.cur
	}
	return half + time.Duration(b.jitter(int64(b.cur-half)+1))
}

// reset starts the sequence again from min.
func (b *backoff) reset() { b.cur = 0 }
