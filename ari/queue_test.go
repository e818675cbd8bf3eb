package ari

import (
	"testing"
)

func TestQueue(t *testing.T) {
	q := newQueue[int]()
	for i := range 1000 { // far more than any fixed buffer: never blocks
		q.push(i)
	}
	select {
	case <-q.signal():
	default:
		t.Fatal("no signal after push")
	}
	got := q.drain()
	if len(got) != 1000 || got[0] != 0 || got[999] != 999 {
		t.Fatalf("drained %d items", len(got))
	}
	if len(q.drain()) != 0 {
		t.Error("second drain not empty")
	}
	q.close()
	if q.push(1) {
		t.Error("push after close succeeded")
	}
}
