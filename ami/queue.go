package ami

import (
	"context"
	"sync"
)

// maxSpareCap bounds the capacity of the slice the dispatcher keeps for
// reuse, so that memory taken by a burst is given back.
const maxSpareCap = 4096

// queue is an unbounded FIFO of notifications: push never blocks on the
// consumer.
type queue struct {
	mu     sync.Mutex
	items  []Notification
	signal chan struct{} // capacity 1: "items may be non-empty"
}

func newQueue() *queue {
	return &queue{signal: make(chan struct{}, 1)}
}

// push appends n. It never blocks for long.
func (q *queue) push(n Notification) {
	q.mu.Lock()
	q.items = append(q.items, n)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// take returns every queued item, leaving spare (emptied) as the new queue.
func (q *queue) take(spare []Notification) []Notification {
	q.mu.Lock()
	out := q.items
	q.items = spare[:0]
	q.mu.Unlock()
	return out
}

// dispatch delivers queued notifications to out in order until ctx is done.
// Notifications still queued then are dropped.
func (q *queue) dispatch(ctx context.Context, out chan<- Notification) {
	var spare []Notification
	for {
		batch := q.take(spare)
		if len(batch) == 0 {
			spare = batch
			select {
			case <-q.signal:
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
