package engine

import (
	"context"
	"errors"
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
	// OpAnswer hands the recorded channel's answer time to a Recorder that
	// is an AnswerNoter (the tracker's orders only); others ignore it.
	OpAnswer
)

// AnswerNoter is a Recorder whose recordings may begin before their
// channel answers (the snoop backend's): the tracker hands it, through the
// pipeline after the recording's start, the channel's answer time from the
// PBX's own AMI events (Newstate), so that what was recorded before the
// answer can be cut when the recording is filed. at is the zero time when
// the channel is known to be Up but not since when (found Up after a
// reconnect, or told so by an event without a Timestamp): nothing is cut
// then.
type AnswerNoter interface {
	Answered(r *Recording, at time.Time)
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

// ErrStoppedBeforeStart is the outcome of a start the pipeline did not carry
// out because the tracker had already asked for the recording to stop (the
// channel hung up, or the decision changed) while the start waited for a
// worker behind a slow PBX.
var ErrStoppedBeforeStart = errors.New("start recording: not carried out, the recording was stopped while its start waited behind a slow PBX")

type op struct {
	kind OpKind
	r    *Recording
	at   time.Time // OpAnswer's answer time
}

// Pipeline carries the tracker's recording orders to a Recorder off the
// event loop: nothing the tracker does waits for a round trip to Asterisk.
// One channel's orders are carried out one at a time, in the order given
// (start, stop, finish), so a stop never overtakes its start and a file is
// never handed to the filer before its recording was asked for; different
// channels' orders run in parallel on a fixed number of workers. A channel
// with orders waits only for a free worker, never behind another channel's
// slow start: a burst's starts each hold their worker while the PBX serves
// them, and with lanes fixed by a hash of the channel a start waited up to
// a second behind other channels' on its lane (stop 34 in the README). A
// start whose recording had to end meanwhile is not carried out, nor its
// stop: a channel that hung up (its round trips would only hold a worker
// from the live calls behind it), or a decision to stop (it would record
// what the policy no longer allows, such as a conference the detainee
// phone has joined). Submit never blocks, so the event loop never waits on
// a slow PBX; the outcomes come back on Outcomes, which the event loop
// drains.
type Pipeline struct {
	rec      Recorder
	workers  int
	outcomes chan Outcome
	wake     chan struct{} // capacity workers: a channel has orders for a worker
	mu       sync.Mutex
	channels map[string]*channelOrders // channels with orders queued or being carried out
	ready    []*channelOrders          // of those, the ones no worker has taken yet, oldest first
	wg       sync.WaitGroup
}

// channelOrders are one channel's orders not carried out yet.
type channelOrders struct {
	uniqueid string
	orders   []op
}

// NewPipeline returns a pipeline of n workers in front of rec; Run starts
// them.
func NewPipeline(rec Recorder, n int) *Pipeline {
	if n < 1 {
		n = 1
	}
	return &Pipeline{
		rec:      rec,
		workers:  n,
		outcomes: make(chan Outcome, 4096),
		wake:     make(chan struct{}, n),
		channels: make(map[string]*channelOrders),
	}
}

// Outcomes delivers the outcome of every start and stop.
func (p *Pipeline) Outcomes() <-chan Outcome { return p.outcomes }

// Submit queues an order. It never blocks.
func (p *Pipeline) Submit(kind OpKind, r *Recording) { p.submit(op{kind: kind, r: r}) }

// submit queues an order, an answer time too (the tracker's). It never
// blocks.
func (p *Pipeline) submit(o op) {
	r := o.r
	p.mu.Lock()
	c := p.channels[r.Uniqueid]
	if c == nil {
		c = &channelOrders{uniqueid: r.Uniqueid}
		p.channels[r.Uniqueid] = c
		p.ready = append(p.ready, c)
	}
	c.orders = append(c.orders, o)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default: // every worker has a wake-up pending already
	}
}

// Run carries out orders until ctx is cancelled, then runs what is still
// queued (starts and stops with ctx cancelled, so they fail at once;
// finishes reach the filer) and returns. Outcomes is not closed.
func (p *Pipeline) Run(ctx context.Context) {
	for range p.workers {
		p.wg.Go(func() { p.work(ctx) })
	}
	p.wg.Wait()
}

// work is one worker: it takes the channel that has waited longest and
// carries out its orders, until ctx is done and nothing is left.
func (p *Pipeline) work(ctx context.Context) {
	for {
		if c := p.next(); c != nil {
			p.carry(ctx, c)
			continue
		}
		select {
		case <-p.wake:
		case <-ctx.Done():
			for c := p.next(); c != nil; c = p.next() {
				p.carry(ctx, c)
			}
			return
		}
	}
}

// next takes the channel that has waited longest for a worker, or nil.
func (p *Pipeline) next() *channelOrders {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ready) == 0 {
		return nil
	}
	c := p.ready[0]
	p.ready[0] = nil
	p.ready = p.ready[1:]
	return c
}

// carry carries out c's orders, and those submitted meanwhile, then
// forgets c: its next order makes it wait for a worker again.
func (p *Pipeline) carry(ctx context.Context, c *channelOrders) {
	for {
		p.mu.Lock()
		orders := c.orders
		c.orders = nil
		if len(orders) == 0 {
			delete(p.channels, c.uniqueid)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		for _, o := range orders {
			p.do(ctx, o)
		}
	}
}

// do carries out one order; a recording whose start failed is neither
// stopped nor handed to the filer.
func (p *Pipeline) do(ctx context.Context, o op) {
	if o.kind != OpStart && o.r.startFailed {
		return
	}
	if o.kind == OpStart && o.r.stopAsked.Load() {
		o.r.startFailed = true
		p.report(ctx, Outcome{Kind: OpStart, Rec: o.r, Err: ErrStoppedBeforeStart, Done: time.Now()})
		return
	}
	out, ok := carryOut(ctx, p.rec, o)
	if o.kind == OpStart && out.Err != nil {
		o.r.startFailed = true
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
// stop (ok), nothing for a hand-over to the filer or an answer time. The pipeline's workers and
// the tracker without a pipeline (tests, tools) both use it.
func carryOut(ctx context.Context, rec Recorder, o op) (out Outcome, ok bool) {
	r := o.r
	switch o.kind {
	case OpStart:
		err := rec.Start(ctx, r)
		return Outcome{Kind: OpStart, Rec: r, Err: err, Done: time.Now()}, true
	case OpStop:
		err := rec.Stop(ctx, r)
		return Outcome{Kind: OpStop, Rec: r, Err: err, Done: time.Now()}, true
	case OpAnswer:
		if an, ok := rec.(AnswerNoter); ok {
			an.Answered(r, o.at)
		}
		return Outcome{}, false
	default:
		rec.Finish(r)
		return Outcome{}, false
	}
}
