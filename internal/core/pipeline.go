package core

import (
	"context"
	"hash/fnv"
	"sync"
	"time"
)

// OpKind is what the tracker asks of the recorder.
type OpKind int

// The recorder operations, carried out in this order for one channel.
const (
	OpStart OpKind = iota
	OpStop
	OpFinish
)

func (k OpKind) String() string {
	switch k {
	case OpStart:
		return "start"
	case OpStop:
		return "stop"
	default:
		return "finish"
	}
}

// Outcome is the result of a start or a stop, handed back to the tracker's
// goroutine (Tracker.Apply).
type Outcome struct {
	Kind OpKind
	Rec  *Recording
	Err  error
	// Done is when the recorder confirmed (or refused).
	Done time.Time
}

type op struct {
	kind OpKind
	r    *Recording
}

// Pipeline carries the tracker's recording orders to a Recorder off the
// event loop: nothing the tracker does waits for a round trip to Asterisk.
// Orders for one channel go through one lane, in the order given (start,
// stop, finish), so a stop never overtakes its start and a file is never
// handed to the filer before its recording was asked for; orders for
// different channels run in parallel on a fixed number of lanes. Each lane
// queue is unbounded, so the event loop never blocks on a slow PBX; the
// outcomes come back on Outcomes, which the event loop drains.
type Pipeline struct {
	rec      Recorder
	lanes    []*lane
	outcomes chan Outcome
	wg       sync.WaitGroup
	now      func() time.Time
}

type lane struct {
	mu     sync.Mutex
	items  []op
	closed bool
	signal chan struct{}
	// failed holds the recordings whose start failed, so that their
	// finish does not hand the filer a file that never existed.
	failed map[*Recording]bool
}

// NewPipeline returns a pipeline of n lanes in front of rec; Run starts
// them.
func NewPipeline(rec Recorder, n int) *Pipeline {
	if n < 1 {
		n = 1
	}
	p := &Pipeline{rec: rec, outcomes: make(chan Outcome, 4096), now: time.Now}
	for range n {
		p.lanes = append(p.lanes, &lane{signal: make(chan struct{}, 1), failed: make(map[*Recording]bool)})
	}
	return p
}

// Outcomes delivers the outcome of every start and stop.
func (p *Pipeline) Outcomes() <-chan Outcome { return p.outcomes }

// Submit queues an order. It never blocks.
func (p *Pipeline) Submit(kind OpKind, r *Recording) {
	h := fnv.New32a()
	h.Write([]byte(r.Uniqueid))
	l := p.lanes[int(h.Sum32()%uint32(len(p.lanes)))]
	l.mu.Lock()
	l.items = append(l.items, op{kind, r})
	l.mu.Unlock()
	select {
	case l.signal <- struct{}{}:
	default:
	}
}

// Run carries out orders until ctx is cancelled, then runs what is still
// queued (starts and stops with ctx cancelled, so they fail at once;
// finishes reach the filer) and returns. Outcomes is not closed.
func (p *Pipeline) Run(ctx context.Context) {
	for _, l := range p.lanes {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.runLane(ctx, l)
		}()
	}
	p.wg.Wait()
}

func (p *Pipeline) runLane(ctx context.Context, l *lane) {
	for {
		l.mu.Lock()
		batch := l.items
		l.items = nil
		l.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-l.signal:
				continue
			case <-ctx.Done():
				l.mu.Lock()
				rest := l.items
				l.items = nil
				l.mu.Unlock()
				if len(rest) == 0 {
					return
				}
				batch = rest
			}
		}
		for _, o := range batch {
			p.do(ctx, l, o)
		}
	}
}

func (p *Pipeline) do(ctx context.Context, l *lane, o op) {
	switch o.kind {
	case OpStart:
		err := p.rec.Start(ctx, o.r)
		if err != nil {
			l.failed[o.r] = true
		}
		p.report(ctx, Outcome{Kind: OpStart, Rec: o.r, Err: err, Done: p.now()})
	case OpStop:
		if l.failed[o.r] {
			return
		}
		err := p.rec.Stop(ctx, o.r)
		p.report(ctx, Outcome{Kind: OpStop, Rec: o.r, Err: err, Done: p.now()})
	case OpFinish:
		if l.failed[o.r] {
			delete(l.failed, o.r)
			return
		}
		p.rec.Finish(o.r)
	}
}

// report hands an outcome to the event loop; once ctx is done and nobody
// drains the channel any more, it is dropped rather than blocking the
// shutdown.
func (p *Pipeline) report(ctx context.Context, o Outcome) {
	select {
	case p.outcomes <- o:
		return
	default:
	}
	select {
	case p.outcomes <- o:
	case <-ctx.Done():
	}
}

// Run executes one order synchronously: the tracker's path when it has no
// pipeline (tests, tools).
func runSync(ctx context.Context, rec Recorder, kind OpKind, r *Recording) (Outcome, bool) {
	switch kind {
	case OpStart:
		return Outcome{Kind: OpStart, Rec: r, Err: rec.Start(ctx, r), Done: time.Now()}, true
	case OpStop:
		return Outcome{Kind: OpStop, Rec: r, Err: rec.Stop(ctx, r), Done: time.Now()}, true
	default:
		rec.Finish(r)
		return Outcome{}, false
	}
}
