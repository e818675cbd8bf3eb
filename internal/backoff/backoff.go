// Package backoff is the capped exponential backoff with jitter that every
// retry loop of recpolicy uses: the AMI and ARI reconnects, the archive's
// replay into PostgreSQL, the spooler's writes.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Backoff yields capped exponential waits with jitter: the n-th wait (from
// 0) lies in [d/2, d], where d = min(Min·2ⁿ, Max). The zero value is not
// usable: create it with New. Not safe for concurrent use.
type Backoff struct {
	min, max time.Duration
	cur      time.Duration
	// Jitter returns a number uniform in [0, n); rand.Int64N by default
	// (tests fix it).
	Jitter func(n int64) int64
}

// New returns a Backoff from lo to hi; hi below lo is raised to lo.
func New(lo, hi time.Duration) *Backoff {
	return &Backoff{min: lo, max: max(lo, hi), Jitter: rand.Int64N}
}

// Next returns the wait before the next attempt and doubles the base.
func (b *Backoff) Next() time.Duration {
	switch {
	case b.cur == 0:
		b.cur = b.min
	case b.cur >= b.max/2:
		b.cur = b.max
	default:
		b.cur *= 2
	}
	return jittered(b.cur, b.Jitter)
}

// Reset starts the sequence again from min.
func (b *Backoff) Reset() { b.cur = 0 }

// Current returns the base of the last wait (0 before the first).
func (b *Backoff) Current() time.Duration { return b.cur }

// After returns the wait after n consecutive failures (n from 1), from lo
// to hi, for loops that count their failures themselves.
func After(n int, lo, hi time.Duration) time.Duration {
	hi = max(lo, hi)
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	return jittered(min(d, hi), rand.Int64N)
}

// jittered draws a wait uniformly in [d/2, d].
func jittered(d time.Duration, jitter func(int64) int64) time.Duration {
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + time.Duration(jitter(int64(d-half)+1))
}
