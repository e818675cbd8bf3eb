package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/villedemercier/recpolicy/rules"
)

// answerRecorder is a fakeRecorder that is an AnswerNoter: it logs the
// orders it carries out, answers included.
type answerRecorder struct {
	fakeRecorder
	mu      sync.Mutex
	log     []string
	answers map[string][]time.Time // recording ID → times told
	fail    bool                   // every start fails
}

func (a *answerRecorder) Start(ctx context.Context, r *Recording) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.log = append(a.log, "start "+r.Channel)
	if a.fail {
		return errors.New("start refused")
	}
	return a.fakeRecorder.Start(ctx, r)
}

func (a *answerRecorder) Answered(r *Recording, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.log = append(a.log, "answer "+r.Channel)
	a.answers[r.ID] = append(a.answers[r.ID], at)
}

func (a *answerRecorder) told(id string) []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.answers[id])
}

func newstate(uid, state string, at time.Time) ev {
	desc := map[string]string{"4": "Ring", "5": "Ringing", "6": "Up"}[state]
	return ev{"Event": "Newstate", "Uniqueid": uid, "ChannelState": state, "ChannelStateDesc": desc,
		"Timestamp": stamp(at)}
}

// stamp is an AMI Timestamp header: seconds with microseconds.
func stamp(at time.Time) string { return fmt.Sprintf("%d.%06d", at.Unix(), at.Nanosecond()/1000) }

// TestTrackerTellsTheAnswerTime: a recorder that starts before the answer
// (an AnswerNoter, the snoop backend) is told each recorded channel's
// answer time from AMI's Newstate, once, after the start; a channel that
// answered before its recording was decided is told at once, with its
// time; a recorder that is no AnswerNoter is told nothing.
func TestTrackerTellsTheAnswerTime(t *testing.T) {
	r := cityRules(t)
	ctx := context.Background()
	rec := &answerRecorder{answers: map[string][]time.Time{}}
	tr := NewTracker(zerolog.Nop(), func() *rules.Rules { return r }, rec, NewMetrics(nil), nil)
	answeredAt := time.Date(2026, 12, 5, 14, 3, 7, 250_000_000, time.UTC)

	// Inbound: decided at the dial, while 235 rings; it answers later.
	tr.Handle(ctx, newChan("1", "PJSIP/carrier-00000001", "1", "5145550142"))
	tr.Handle(ctx, dial("1", "PJSIP/carrier-00000001", "2", "PJSIP/235-00000002", "1", "PJSIP/235"))
	tr.Handle(ctx, newstate("2", "5", answeredAt.Add(-time.Second)))
	if len(rec.started) != 1 {
		t.Fatalf("started %v, want 235's leg", channels(rec.started))
	}
	id := rec.started[0].ID
	if got := rec.told(id); len(got) != 0 {
		t.Fatalf("told %v while the leg rings", got)
	}
	tr.Handle(ctx, newstate("2", "6", answeredAt))
	tr.Handle(ctx, newstate("2", "6", answeredAt.Add(time.Second))) // told once
	if got := rec.told(id); len(got) != 1 || !got[0].Equal(answeredAt) {
		t.Errorf("told %v, want once at %v (the Newstate's Timestamp)", got, answeredAt)
	}
	if want := []string{"start PJSIP/235-00000002", "answer PJSIP/235-00000002"}; !slices.Equal(rec.log, want) {
		t.Errorf("orders %q, want %q", rec.log, want)
	}

	// Outbound from 236: its channel answers (Up) before the bridge, where
	// it is decided here (a dial the tracker did not see).
	tr.Handle(ctx, newChan("11", "PJSIP/236-0000000b", "11", "236"))
	tr.Handle(ctx, newChan("12", "PJSIP/carrier-0000000c", "11", "5145550100"))
	tr.Handle(ctx, newstate("11", "6", answeredAt))
	tr.Handle(ctx, enter("b2", "12", "PJSIP/carrier-0000000c"))
	tr.Handle(ctx, enter("b2", "11", "PJSIP/236-0000000b"))
	if len(rec.started) != 2 || rec.started[1].Channel != "PJSIP/236-0000000b" {
		t.Fatalf("started %v, want 236's channel second", channels(rec.started))
	}
	if got := rec.told(rec.started[1].ID); len(got) != 1 || !got[0].Equal(answeredAt) {
		t.Errorf("told %v, want the answer before the decision, at %v", got, answeredAt)
	}

	// MixMonitor's recorder records from the bridge: told nothing.
	plain := &fakeRecorder{}
	tr2 := NewTracker(zerolog.Nop(), func() *rules.Rules { return r }, plain, NewMetrics(nil), nil)
	tr2.Handle(ctx, newChan("1", "PJSIP/carrier-00000001", "1", "5145550142"))
	tr2.Handle(ctx, dial("1", "PJSIP/carrier-00000001", "2", "PJSIP/235-00000002", "1", "PJSIP/235"))
	tr2.Handle(ctx, newstate("2", "6", answeredAt))
	if len(plain.started) != 1 {
		t.Errorf("started %v, want 235's leg", channels(plain.started))
	}
}

// TestTrackerAdoptedRecordingOfAnAnsweredChannel: after a reconnect, a
// recording adopted on a channel found Up, whose answer the tracker did not
// see, is told the zero time (since when unknown: the filer cuts nothing).
func TestTrackerAdoptedRecordingOfAnAnsweredChannel(t *testing.T) {
	r := cityRules(t)
	rec := &answerRecorder{answers: map[string][]time.Time{}}
	rec.running = map[string]string{"2": "1795847391-235-inbound-2-1"}
	tr := NewTracker(zerolog.Nop(), func() *rules.Rules { return r }, rec, NewMetrics(nil), nil)
	item := func(uid, name, cid string) Event {
		return ev{"Event": "CoreShowChannel", "Uniqueid": uid, "Channel": name, "Linkedid": "1", "BridgeId": "b1",
			"CallerIDNum": cid, "ChannelState": "6", "ChannelStateDesc": "Up"}
	}
	if n := tr.Reconcile(context.Background(), []Event{item("1", "PJSIP/carrier-00000001", "5145550142"), item("2", "PJSIP/235-00000002", "235")}, nil); n != 1 {
		t.Fatalf("adopted %d, want 1", n)
	}
	if got := rec.told("1795847391-235-inbound-2-1"); len(got) != 1 || !got[0].IsZero() {
		t.Errorf("told %v, want the zero time once", got)
	}
}

// TestPipelineAnswerFollowsItsStart: the answer time is carried out after
// the recording's start, and not at all when the start failed.
func TestPipelineAnswerFollowsItsStart(t *testing.T) {
	for _, fail := range []bool{false, true} {
		rec := &answerRecorder{answers: map[string][]time.Time{}, fail: fail}
		p, _, stop := startPipeline(rec, 4)
		r := &Recording{ID: "r1", Channel: "PJSIP/235-00000001", Uniqueid: "1"}
		p.Submit(OpStart, r)
		p.submit(op{kind: OpAnswer, r: r, at: time.Unix(1795847391, 0)})
		awaitOutcome(t, p)
		stop()
		want := []string{"start PJSIP/235-00000001", "answer PJSIP/235-00000001"}
		if fail {
			want = want[:1]
		}
		if !slices.Equal(rec.log, want) {
			t.Errorf("start failing %v: orders %q, want %q", fail, rec.log, want)
		}
	}
}

// ringing235 returns a tracker over an answerRecorder, with an external
// call ringing Annexe A extension 235 (unique ID "2"), decided at the dial.
func ringing235(t *testing.T) (*Tracker, *answerRecorder) {
	t.Helper()
	r := cityRules(t)
	ctx := context.Background()
	rec := &answerRecorder{answers: map[string][]time.Time{}}
	tr := NewTracker(zerolog.Nop(), func() *rules.Rules { return r }, rec, NewMetrics(nil), nil)
	tr.Handle(ctx, newChan("1", "PJSIP/carrier-00000001", "1", "5145550142"))
	tr.Handle(ctx, dial("1", "PJSIP/carrier-00000001", "2", "PJSIP/235-00000002", "1", "PJSIP/235"))
	return tr, rec
}

// TestTrackerAnswerSeenAcrossAReconnect: a recording the tracker holds
// through an AMI outage, whose channel answered meanwhile, is told the zero
// time at the reconciliation; the Newstate queued behind the listing then
// brings the time, told too (the filer takes the time over the zero time).
func TestTrackerAnswerSeenAcrossAReconnect(t *testing.T) {
	ctx := context.Background()
	tr, rec := ringing235(t)
	if len(rec.started) != 1 {
		t.Fatalf("started %v, want 235's leg", channels(rec.started))
	}
	id := rec.started[0].ID
	item := func(uid, name, cid string) Event {
		return ev{"Event": "CoreShowChannel", "Uniqueid": uid, "Channel": name, "Linkedid": "1", "BridgeId": "b1",
			"CallerIDNum": cid, "ChannelState": "6", "ChannelStateDesc": "Up"}
	}
	tr.Reconcile(ctx, []Event{item("1", "PJSIP/carrier-00000001", "5145550142"), item("2", "PJSIP/235-00000002", "235")}, nil)
	if got := rec.told(id); len(got) != 1 || !got[0].IsZero() {
		t.Fatalf("told %v after the reconnect, want the zero time", got)
	}
	at := time.Date(2026, 12, 5, 14, 3, 7, 0, time.UTC)
	tr.Handle(ctx, newstate("2", "6", at))
	tr.Handle(ctx, newstate("2", "6", at.Add(time.Second)))
	if got := rec.told(id); len(got) != 2 || !got[1].Equal(at) {
		t.Errorf("told %v, want the zero time then %v, once", got, at)
	}
}

// TestTrackerAnswerWithoutTimestampIsUnknown: a Newstate without a
// Timestamp (timestampevents off) tells the zero time, not when the daemon
// received it, which is no time of the PBX's.
func TestTrackerAnswerWithoutTimestampIsUnknown(t *testing.T) {
	ctx := context.Background()
	tr, rec := ringing235(t)
	tr.Handle(ctx, ev{"Event": "Newstate", "Uniqueid": "2", "ChannelState": "6", "ChannelStateDesc": "Up"})
	if got := rec.told(rec.started[0].ID); len(got) != 1 || !got[0].IsZero() {
		t.Errorf("told %v, want the zero time once", got)
	}
}
