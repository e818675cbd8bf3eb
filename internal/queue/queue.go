// Package queue holds the unbounded FIFO that lets a producer that must
// never wait (the AMI reader, the daemon's event loop) hand work to a
// consumer that may be slow (the tracker, the Cdr spooler).
package queue

import (
	"context"
	"sync"
)

// Queue is an unbounded FIFO: Push never blocks on the consumer. It is safe
// for concurrent use by producers; one consumer takes what is queued.
type Queue[T any] struct {
	mu    sync.Mutex
	items []T
	ready chan struct{} // capacity 1: "items may be queued"
}

// New returns an empty queue.
func New[T any]() *Queue[T] {
	return &Queue[T]{ready: make(chan struct{}, 1)}
}

// Push appends v. It never waits for the consumer.
func (q *Queue[T]) Push(v T) {
	q.mu.Lock()
	q.items = append(q.items, v)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// Take returns every queued item, in order, and leaves spare (emptied; nil
// is fine) as the queue's new backing array, so that a consumer can reuse
// the slice it has drained.
func (q *Queue[T]) Take(spare []T) []T {
	q.mu.Lock()
	out := q.items
	q.items = spare[:0]
	q.mu.Unlock()
	return out
}

// Ready receives a value after a Push: items may be queued. A consumer
// that found the queue empty waits on it before it takes again.
func (q *Queue[T]) Ready() <-chan struct{} { return q.ready }

// Consume hands each batch queued to handle, in order, until ctx is done;
// it then hands over what is still queued, once, and returns. It is for a
// consumer that must not lose what was queued before shutdown.
func (q *Queue[T]) Consume(ctx context.Context, handle func(batch []T)) {
	for {
		batch := q.Take(nil)
		if len(batch) == 0 {
			select {
			case <-q.ready:
				continue
			case <-ctx.Done():
				if batch = q.Take(nil); len(batch) == 0 {
					return
				}
			}
		}
		handle(batch)
	}
}
