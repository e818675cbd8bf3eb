package ami

import (
	"context"

	fifo "github.com/villedemercier/recpolicy/internal/queue"
)

// maxSpareCap bounds the capacity of the slice the dispatcher keeps for
// reuse, so that memory taken by a burst is given back.
const maxSpareCap = 4096

// dispatch delivers the notifications queued in q (by the reader, which
// never blocks on the consumer) to out in order until ctx is done.
// Notifications still queued then are dropped.
func dispatch(ctx context.Context, q *fifo.Queue[Notification], out chan<- Notification) {
	var spare []Notification
	for {
		batch := q.Take(spare)
		if len(batch) == 0 {
			spare = batch
			select {
			case <-q.Ready():
				continue
			case <-ctx.Done():
				return
			}
		}
		for i := range batch {
			select {
			case out <- batch[i]:
				batch[i] = Notification{}
			case <-ctx.Done():
				return
			}
		}
		if cap(batch) <= maxSpareCap {
			spare = batch[:0]
		} else {
			spare = nil
		}
	}
}
