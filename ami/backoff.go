package ami

import (
	"math/rand/v2"
	"time"
)

// backoff yields capped exponential delays with jitter: each delay is drawn
// uniformly in [d/2, d], where d starts at min and doubles up to max.
type backoff struct {
	min, max, cur time.Duration
}

func newBackoff(min, max time.Duration) *backoff {
	return &backoff{min: min, max: max, cur: min}
}

// next returns the next delay, never more than max.
func (b *backoff) next() time.Duration {
	d := b.cur
	if d < b.min {
		d = b.min
	}
	if d > b.max {
		d = b.max
	}
	b.cur = d * 2
	if b.cur > b.max || b.cur <= 0 {
		b.cur = b.max
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(d-half)+1))
}

// reset starts again from min.
func (b *backoff) reset() { b.cur = b.min }
