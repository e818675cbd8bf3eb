package engine

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/villedemercier/recpolicy/rules"
)

// slowRecorder records the order of the calls it gets, each start taking
// a while (and waiting for hold to close, when set), and fails the next
// fail[uid] starts of a channel.
type slowRecorder struct {
	mu    sync.Mutex
	calls []string
	fail  map[string]int
	delay time.Duration
	hold  chan struct{}
}

func (s *slowRecorder) note(what string) {
	s.mu.Lock()
	s.calls = append(s.calls, what)
	s.mu.Unlock()
}

func (s *slowRecorder) Start(_ context.Context, r *Recording) error {
	if s.hold != nil {
		<-s.hold
	}
	time.Sleep(s.delay)
	s.note("start " + r.Uniqueid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail[r.Uniqueid] > 0 {
		s.fail[r.Uniqueid]--
		return errors.New("no such channel")
	}
	return nil
}
func (s *slowRecorder) Stop(_ context.Context, r *Recording) error {
	s.note("stop " + r.Uniqueid)
	return nil
}
func (s *slowRecorder) Finish(r *Recording) { s.note("finish " + r.Uniqueid) }
func (s *slowRecorder) Running(context.Context, string) (string, string, error) {
	return "", "", nil
}
func (s *slowRecorder) Paths(r *Recording) { r.LocalPath = r.ID + ".wav" }

func (s *slowRecorder) of(uid string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.calls {
		if len(c) > len(uid) && c[len(c)-len(uid)-1:] == " "+uid {
			out = append(out, c[:len(c)-len(uid)-1])
		}
	}
	return out
}

func TestPipelineKeepsOneChannelsOrderAndNeverBlocks(t *testing.T) {
	hold := make(chan struct{})
	rec := &slowRecorder{delay: 20 * time.Millisecond, fail: map[string]int{"bad": 1}, hold: hold}
	p := NewPipeline(rec, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()

	// 50 channels' orders queued at once while every worker is held in
	// the recorder: Submit must not wait for it (no time bound: a Submit
	// that waited would wait for ever).
	recs := map[string]*Recording{}
	bad := &Recording{Uniqueid: "bad"}
	submitted := make(chan struct{})
	go func() {
		defer close(submitted)
		for i := range 50 {
			uid := string(rune('A'+i%26)) + string(rune('a'+i/26))
			r := &Recording{Uniqueid: uid}
			recs[uid] = r
			p.Submit(OpStart, r)
			p.Submit(OpStop, r)
			p.Submit(OpFinish, r)
		}
		p.Submit(OpStart, bad)
		p.Submit(OpFinish, bad)
	}()
	select {
	case <-submitted:
	case <-time.After(5 * time.Second):
		close(hold)
		t.Fatal("submitting 152 orders waited for the recorder; the event loop must never wait for it")
	}
	close(hold)

	outcomes := map[OpKind]int{}
	var failed []Outcome
	for n := 0; n < 101; n++ {
		select {
		case o := <-p.Outcomes():
			outcomes[o.Kind]++
			if o.Err != nil {
				failed = append(failed, o)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d outcomes after 5 s", n)
		}
	}
	cancel()
	<-done
	if outcomes[OpStart] != 51 || outcomes[OpStop] != 50 {
		t.Errorf("outcomes %v, want 51 starts and 50 stops", outcomes)
	}
	if len(failed) != 1 || failed[0].Rec != bad {
		t.Errorf("failed outcomes %+v, want the start of bad", failed)
	}
	for uid := range recs {
		if got := rec.of(uid); len(got) != 3 || got[0] != "start" || got[1] != "stop" || got[2] != "finish" {
			t.Errorf("channel %s: %v, want start, stop, finish in that order", uid, got)
		}
	}
	if got := rec.of("bad"); len(got) != 1 || got[0] != "start" {
		t.Errorf("failed start: %v; its finish must not reach the filer", got)
	}
}

// gatedRecorder is a slowRecorder whose starts of one channel wait until
// its gate is closed.
type gatedRecorder struct {
	slowRecorder
	uid  string
	gate chan struct{}
}

func (g *gatedRecorder) Start(ctx context.Context, r *Recording) error {
	if r.Uniqueid == g.uid {
		<-g.gate
	}
	return g.slowRecorder.Start(ctx, r)
}

// TestPipelineSlowStartHoldsNoOtherChannel: a start the PBX keeps holds its
// own worker only; the other channels' orders go through the other
// workers meanwhile, whichever channels they are.
func TestPipelineSlowStartHoldsNoOtherChannel(t *testing.T) {
	rec := &gatedRecorder{uid: "slow", gate: make(chan struct{})}
	p := NewPipeline(rec, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	defer close(rec.gate)

	slow := &Recording{Uniqueid: "slow"}
	p.Submit(OpStart, slow)
	p.Submit(OpStop, slow)
	for i := range 40 {
		p.Submit(OpStart, &Recording{Uniqueid: string(rune('A'+i%26)) + string(rune('a'+i/26))})
	}
	for n := range 40 {
		select {
		case o := <-p.Outcomes():
			if o.Rec == slow {
				t.Fatal("the held start came out")
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of 40 other channels' starts carried out while one start was held", n)
		}
	}
	if got := rec.of("slow"); len(got) != 0 {
		t.Errorf("held channel: %v, want nothing yet (its stop waits for its start)", got)
	}
}

// TestPipelineRunsWhatIsQueuedAtShutdown: orders still queued when the
// pipeline stops are carried out once (starts and stops with the context
// done, so they fail at once on a real recorder; finishes reach the
// filer), and a channel that comes back with orders after its last ones
// were carried out is taken again.
func TestPipelineRunsWhatIsQueuedAtShutdown(t *testing.T) {
	rec := &slowRecorder{}
	p, ctx, stop := startPipeline(rec, 2)
	a := &Recording{Uniqueid: "a"}
	p.Submit(OpStart, a)
	awaitOutcome(t, p)
	stop()
	p.Submit(OpStop, a)
	p.Submit(OpFinish, a)
	p.Run(ctx) // already cancelled: runs what is queued, then returns
	if got := rec.of("a"); len(got) != 3 || got[0] != "start" || got[1] != "stop" || got[2] != "finish" {
		t.Errorf("channel a: %v, want start, stop, finish", got)
	}
}

// TestTrackerRetriesAFailedStart: a start that fails while the
// channel lives is tried again; one whose leg ended unanswered is not a
// violation; one whose leg talked is.
func TestTrackerRetriesAFailedStart(t *testing.T) {
	r := cityRules(t)
	rec := &slowRecorder{fail: map[string]int{"2": 1, "4": 1}}
	m := NewMetrics(nil)
	p := NewPipeline(rec, 2)
	tr := NewTracker(zerolog.Nop(), func() *rules.Rules { return r }, rec, m, p)
	ctx := context.Background()
	apply := func(n int) {
		t.Helper()
		for range n {
			select {
			case o := <-p.Outcomes():
				tr.Apply(ctx, o)
			case <-time.After(2 * time.Second):
				t.Fatal("no outcome")
			}
		}
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go p.Run(pctx)

	// The first start fails, the channel lives on: tried again.
	tr.Handle(ctx, newChan("1", "PJSIP/carrier-00000001", "1", "5145550142"))
	tr.Handle(ctx, dial("1", "PJSIP/carrier-00000001", "2", "PJSIP/235-00000002", "1", "PJSIP/235"))
	apply(2)
	if got := rec.of("2"); len(got) != 2 {
		t.Fatalf("calls for 2: %v, want a start and its retry", got)
	}
	if v := testutil.ToFloat64(m.Violations); v != 1 {
		t.Errorf("violations %v, want 1 (the failed start)", v)
	}
	if _, n := tr.Active(); n != 1 {
		t.Errorf("recordings running %d, want 1 after the retry", n)
	}

	// A ringing leg cancelled before its start was carried out: no violation.
	tr.Handle(ctx, newChan("3", "PJSIP/carrier-00000003", "3", "5145550143"))
	tr.Handle(ctx, dial("3", "PJSIP/carrier-00000003", "4", "PJSIP/236-00000004", "3", "PJSIP/236"))
	tr.Handle(ctx, hangup("4"))
	apply(1)
	if v := testutil.ToFloat64(m.Violations); v != 1 {
		t.Errorf("violations %v, want still 1: a leg that never talked needs no recording", v)
	}
}

// TestStartNotCarriedOutOnceStopped: a start still queued behind a slow PBX
// when the tracker asks for its stop (the detainee phone joined the call)
// or when its channel hangs up is never carried out, nor are its stop and
// finish: recording from then on would record what the policy no longer
// allows, or hold a worker for a channel already gone. A call that talked
// and was never recorded is still a violation.
func TestStartNotCarriedOutOnceStopped(t *testing.T) {
	r := cityRules(t)
	hold := make(chan struct{}) // the first start holds the one worker until every event is handled
	rec := &slowRecorder{hold: hold}
	m := NewMetrics(nil)
	p := NewPipeline(rec, 1) // one worker: the second call's start waits
	tr := NewTracker(zerolog.Nop(), func() *rules.Rules { return r }, rec, m, p)
	ctx := context.Background()
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go p.Run(pctx)

	for _, e := range []ev{
		newChan("1", "PJSIP/carrier-00000001", "1", "5145550142"),
		dial("1", "PJSIP/carrier-00000001", "2", "PJSIP/235-00000002", "1", "PJSIP/235"),
		newChan("3", "PJSIP/carrier-00000003", "3", "5145550143"),
		dial("3", "PJSIP/carrier-00000003", "4", "PJSIP/236-00000004", "3", "PJSIP/236"),
		enter("b2", "4", "PJSIP/236-00000004"), enter("b2", "3", "PJSIP/carrier-00000003"),
		// The detainee phone joins 236's call before its start was served.
		newChan("5", "PJSIP/899-00000005", "5", "899"),
		enter("b2", "5", "PJSIP/899-00000005"),
		// 237 talks, then hangs up before its start was served.
		newChan("6", "PJSIP/carrier-00000006", "6", "5145550144"),
		dial("6", "PJSIP/carrier-00000006", "7", "PJSIP/237-00000007", "6", "PJSIP/237"),
		enter("b3", "7", "PJSIP/237-00000007"), enter("b3", "6", "PJSIP/carrier-00000006"),
		hangup("7"),
	} {
		tr.Handle(ctx, e)
	}
	close(hold)
	var skipped, gone *Outcome
	for range 3 {
		select {
		case o := <-p.Outcomes():
			switch o.Rec.Uniqueid {
			case "4":
				skipped = &o
			case "7":
				gone = &o
			}
			tr.Apply(ctx, o)
		case <-time.After(3 * time.Second):
			t.Fatal("no outcome")
		}
	}
	if skipped == nil || !errors.Is(skipped.Err, ErrStoppedBeforeStart) {
		t.Fatalf("236's start outcome %+v, want ErrStoppedBeforeStart", skipped)
	}
	if gone == nil || !errors.Is(gone.Err, ErrStoppedBeforeStart) {
		t.Fatalf("237's start outcome %+v, want ErrStoppedBeforeStart", gone)
	}
	time.Sleep(400 * time.Millisecond) // let the worker run what it would
	if got := rec.of("4"); len(got) != 0 {
		t.Errorf("recorder calls for 236: %v, want none (stopped before its start was served)", got)
	}
	if got := rec.of("7"); len(got) != 0 {
		t.Errorf("recorder calls for 237: %v, want none (hung up before its start was served)", got)
	}
	if got := rec.of("2"); len(got) != 1 || got[0] != "start" {
		t.Errorf("recorder calls for 235: %v, want its start", got)
	}
	if v := testutil.ToFloat64(m.Violations); v != 2 {
		t.Errorf("violations %v, want 2 (236 and 237 talked with a caller and were never recorded)", v)
	}
}

// startPipeline runs a pipeline of n workers over rec; stop cancels its
// context (returned) and waits for it.
func startPipeline(rec Recorder, n int) (p *Pipeline, ctx context.Context, stop func()) {
	p = NewPipeline(rec, n)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	return p, ctx, func() { cancel(); <-done }
}

// awaitOutcome waits for the pipeline's next outcome.
func awaitOutcome(t *testing.T, p *Pipeline) {
	t.Helper()
	select {
	case <-p.Outcomes():
	case <-time.After(5 * time.Second):
		t.Fatal("no outcome")
	}
}
