package ari

import "sync"

// queue is an unbounded FIFO with a readiness signal: push never blocks, so a
// producer (the WebSocket reader, a REST goroutine, a timer) can always hand
// over its message at once.
type queue[T any] struct {
	mu     sync.Mutex
	items  []T
	closed bool
	ready  chan struct{}
}

func newQueue[T any]() *queue[T] {
	return &queue[T]{ready: make(chan struct{}, 1)}
}

// push appends v; it reports false, dropping v, once the queue is closed.
func (q *queue[T]) push(v T) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, v)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

// signal is readable after a push; drain then takes everything queued.
func (q *queue[T]) signal() <-chan struct{} { return q.ready }

// drain removes and returns every queued item, oldest first.
func (q *queue[T]) drain() []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items
}

// close makes later pushes fail and drops what is queued.
func (q *queue[T]) close() {
	q.mu.Lock()
	q.closed = true
	q.items = nil
	q.mu.Unlock()
}
