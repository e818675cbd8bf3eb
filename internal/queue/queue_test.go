package queue

import (
	"context"
	"sync"
	"testing"
)

func TestQueueKeepsOrderAndNeverBlocks(t *testing.T) {
	q := New[int]()
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				q.Push(p*1000 + i)
			}
		}()
	}
	wg.Wait()
	select {
	case <-q.Ready():
	default:
		t.Fatal("Ready not signalled after Push")
	}
	got := q.Take(nil)
	if len(got) != 4000 {
		t.Fatalf("took %d items, want 4000", len(got))
	}
	last := map[int]int{0: -1, 1: 999, 2: 1999, 3: 2999}
	for _, v := range got {
		p := v / 1000
		if v <= last[p] {
			t.Fatalf("producer %d's items out of order: %d after %d", p, v, last[p])
		}
		last[p] = v
	}
	if rest := q.Take(got); len(rest) != 0 {
		t.Errorf("took %d items from a drained queue", len(rest))
	}
	q.Push(7)
	if got := q.Take(nil); len(got) != 1 || got[0] != 7 {
		t.Errorf("after reuse of the drained slice: %v, want [7]", got)
	}
}

func TestConsumeHandsOverWhatIsQueuedAtShutdown(t *testing.T) {
	q := New[int]()
	ctx, cancel := context.WithCancel(context.Background())
	inHandle, release := make(chan struct{}), make(chan struct{})
	var got []int
	done := make(chan struct{})
	go func() {
		q.Consume(ctx, func(batch []int) {
			got = append(got, batch...)
			if len(got) == 1 {
				close(inHandle)
				<-release
			}
		})
		close(done)
	}()
	q.Push(1)
	<-inHandle
	// Queued while the consumer is busy, then shutdown: still handed over.
	q.Push(2)
	cancel()
	close(release)
	<-done
	if len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Errorf("handed %v, want [1 2]", got)
	}
}
