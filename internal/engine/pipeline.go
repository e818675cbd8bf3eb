package engine

import (
	"context"
	"errors"
	"hash/fnv"
	"sync"
	"time"

	fifo "github.com/villedemercier/recpolicy/internal/queue"
)

// OpKind is what the tracker asks of the recorder.
type OpKind int

// The recorder operations, carried out in this order for one channel.
const (
	OpStart OpKind = iota
	OpStop
	OpFinish
)

// Outcome is the result of a start or a stop, handed back to the tracker's
// goroutine (Tracker.Apply).
type Outcome struct {
	Kind OpKind
	Rec  *Recording
	Err  error
	// Done is when the recorder confirmed (or refused).
	Done time.Time
}

// ErrStoppedBeforeStart is the outcome of a start the pipeline did not carry
// out because the tracker had already asked for the recording to stop (the
// channel hung up, or the decision changed) while the start waited in its
// lane behind a slow PBX.
var ErrStoppedBeforeStart = errors.New("start recording: not carried out, the recording was stopped while its start waited behind a slow PBX")

type op struct {
	kind OpKind
	r    *Recording
}

// Pipeline carries the tracker's recording orders to a Recorder off the
// event loop: nothing the tracker does waits for a round trip to Asterisk.
// Orders for one channel go through one lane, in the order given (start,
// stop, finish), so a stop never overtakes its start and a file is never
// handed to the filer before its recording was asked for; orders for
// different channels run in parallel on a fixed number of lanes. A start
// whose recording had to end meanwhile is not carried out, nor its stop: a
// channel that hung up (its round trips would only hold the lane from the
// live calls behind it), or a decision to stop (it would record what the
// policy no longer allows, such as a conference the detainee phone has
// joined). Each lane
// queue is unbounded, so the event loop never blocks on a slow PBX; the
// outcomes come back on Outcomes, which the event loop drains.
type Pipeline struct {
	rec      Recorder
	lanes    []*lane
	outcomes chan Outcome
	wg       sync.WaitGroup
}

type lane struct {
	orders *fifo.Queue[op]
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
	p := &Pipeline{rec: rec, outcomes: make(chan Outcome, 4096)}
	for range n {
		p.lanes = append(p.lanes, &lane{orders: fifo.New[op](), failed: make(map[*Recording]bool)})
	}
	return p
}

// Outcomes delivers the outcome of every start and stop.
func (p *Pipeline) Outcomes() <-chan Outcome { return p.outcomes }

// Submit queues an order. It never blocks.
func (p *Pipeline) Submit(kind OpKind, r *Recording) {
	h := fnv.New32a()
	h.Write([]byte(r.Uniqueid))
	p.lanes[int(h.Sum32()%uint32(len(p.lanes)))].orders.Push(op{kind, r})
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
	l.orders.Consume(ctx, func(batch []op) {
		for _, o := range batch {
			p.do(ctx, l, o)
		}
	})
}

// do carries out one order; a recording whose start failed is neither
// stopped nor handed to the filer.
func (p *Pipeline) do(ctx context.Context, l *lane, o op) {
	if o.kind != OpStart && l.failed[o.r] {
		if o.kind == OpFinish {
			delete(l.failed, o.r)
		}
		return
	}
	if o.kind == OpStart && o.r.stopAsked.Load() {
		l.failed[o.r] = true
		p.report(ctx, Outcome{Kind: OpStart, Rec: o.r, Err: ErrStoppedBeforeStart, Done: time.Now()})
		return
	}
	out, ok := carryOut(ctx, p.rec, o.kind, o.r)
	if o.kind == OpStart && out.Err != nil {
		l.failed[o.r] = true
	}
	if ok {
		p.report(ctx, out)
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

// carryOut runs one order on rec; it returns the outcome of a start or a
// stop (ok), nothing for a hand-over to the filer. The pipeline's lanes and
// the tracker without a pipeline (tests, tools) both use it.
func carryOut(ctx context.Context, rec Recorder, kind OpKind, r *Recording) (o Outcome, ok bool) {
	switch kind {
	case OpStart:
		err := rec.Start(ctx, r)
		return Outcome{Kind: OpStart, Rec: r, Err: err, Done: time.Now()}, true
	case OpStop:
		err := rec.Stop(ctx, r)
		return Outcome{Kind: OpStop, Rec: r, Err: err, Done: time.Now()}, true
	default:
		rec.Finish(r)
		return Outcome{}, false
	}
}
