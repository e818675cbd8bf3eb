package ari

import (
	"errors"
	"slices"
	"testing"
	"time"
)

var (
	errBoom     = errors.New("boom")
	errNotFound = &statusError{code: 404}
	errConflict = &statusError{code: 409}
)

// kinds lists the action kinds.
func kinds(acts []action) []actionKind {
	var out []actionKind
	for _, a := range acts {
		out = append(out, a.kind)
	}
	return out
}

// emitted returns the result among acts.
func emitted(acts []action) (GreetingResult, bool) {
	for _, a := range acts {
		if a.kind == actEmit {
			return a.result, true
		}
	}
	return GreetingResult{}, false
}

type step struct {
	in   input
	want []actionKind
}

func TestSessionPaths(t *testing.T) {
	now := time.Unix(1000, 0)
	pb := "pb1"
	finished := func(state string) input { return input{kind: inPlaybackFinished, playbackID: pb, state: state} }
	tests := []struct {
		name    string
		args    []string
		up      bool
		start   []actionKind
		steps   []step
		outcome GreetingOutcome
		err     error
	}{
		{
			name: "played", args: []string{"greeting"}, start: []actionKind{actAnswer},
			steps: []step{
				{input{kind: inAnswered}, []actionKind{actPlay}},
				{input{kind: inPlayReplied, playbackID: pb}, nil},
				{finished("done"), []actionKind{actSetVar}},
				{input{kind: inVarSet}, []actionKind{actContinue}},
				{input{kind: inContinued}, []actionKind{actEmit, actForget}},
			},
			outcome: GreetingPlayed,
		},
		{
			name: "up channel, event before reply, StasisEnd before continue reply", args: []string{"greeting", "x"}, up: true,
			start: []actionKind{actPlay},
			steps: []step{
				{finished("done"), []actionKind{actSetVar}},
				{input{kind: inPlayReplied, playbackID: pb}, nil},
				{input{kind: inVarSet}, []actionKind{actContinue}},
				{input{kind: inLeft}, []actionKind{actEmit, actForget}},
				{input{kind: inContinued}, nil},
			},
			outcome: GreetingPlayed,
		},
		{
			name: "skipped", args: []string{"other"}, start: []actionKind{actContinue},
			steps:   []step{{input{kind: inContinued}, []actionKind{actEmit, actForget}}},
			outcome: GreetingSkipped,
		},
		{
			name: "no args", start: []actionKind{actContinue},
			steps:   []step{{input{kind: inLeft}, []actionKind{actEmit, actForget}}},
			outcome: GreetingSkipped,
		},
		{
			name: "hangup during playback", args: []string{"greeting"}, up: true, start: []actionKind{actPlay},
			steps: []step{
				{input{kind: inHangupRequested}, []actionKind{actEmit}},
				{finished("failed"), nil},
				{input{kind: inLeft}, []actionKind{actForget}},
			},
			outcome: GreetingCutShort,
		},
		{
			name: "hangup while marking", args: []string{"greeting"}, up: true, start: []actionKind{actPlay},
			steps: []step{
				{finished("done"), []actionKind{actSetVar}},
				{input{kind: inHangupRequested}, []actionKind{actEmit}},
				{input{kind: inVarSet, err: errNotFound}, nil},
				{input{kind: inLeft}, []actionKind{actForget}},
			},
			outcome: GreetingPlayed,
		},
		{
			name: "hung up before answer", args: []string{"greeting"}, start: []actionKind{actAnswer},
			steps:   []step{{input{kind: inAnswered, err: errNotFound}, []actionKind{actEmit, actForget}}},
			outcome: GreetingCutShort, err: ErrNotFound,
		},
		{
			name: "answer fails", args: []string{"greeting"}, start: []actionKind{actAnswer},
			steps: []step{
				{input{kind: inAnswered, err: errBoom}, []actionKind{actContinue}},
				{input{kind: inContinued}, []actionKind{actEmit, actForget}},
			},
			outcome: GreetingFailed, err: errBoom,
		},
		{
			name: "play fails", args: []string{"greeting"}, up: true, start: []actionKind{actPlay},
			steps: []step{
				{input{kind: inPlayReplied, playbackID: pb, err: errBoom}, []actionKind{actContinue}},
				{input{kind: inContinued}, []actionKind{actEmit, actForget}},
			},
			outcome: GreetingFailed, err: errBoom,
		},
		{
			name: "playback failed", args: []string{"greeting"}, up: true, start: []actionKind{actPlay},
			steps: []step{
				{input{kind: inPlaybackFinished, playbackID: "other", state: "done"}, nil},
				{finished("failed"), []actionKind{actContinue}},
				{input{kind: inContinued}, []actionKind{actEmit, actForget}},
			},
			outcome: GreetingFailed, err: ErrPlaybackFailed,
		},
		{
			name: "set variable fails", args: []string{"greeting"}, up: true, start: []actionKind{actPlay},
			steps: []step{
				{finished("done"), []actionKind{actSetVar}},
				{input{kind: inVarSet, err: errBoom}, []actionKind{actContinue}},
				{input{kind: inContinued}, []actionKind{actEmit, actForget}},
			},
			outcome: GreetingFailed, err: errBoom,
		},
		{
			name: "continue retried then done", args: []string{"greeting"}, up: true, start: []actionKind{actPlay},
			steps: []step{
				{finished("done"), []actionKind{actSetVar}},
				{input{kind: inVarSet}, []actionKind{actContinue}},
				{input{kind: inContinued, err: errBoom}, []actionKind{actRetryContinue}},
				{input{kind: inRetryContinue}, []actionKind{actContinue}},
				{input{kind: inContinued, err: errConflict}, []actionKind{actEmit, actForget}},
			},
			outcome: GreetingPlayed,
		},
		{
			name: "continue finds the channel gone after a failure", args: []string{"greeting"}, up: true, start: []actionKind{actPlay},
			steps: []step{
				{finished("failed"), []actionKind{actContinue}},
				{input{kind: inContinued, err: errNotFound}, []actionKind{actEmit, actForget}},
			},
			outcome: GreetingCutShort, err: ErrPlaybackFailed,
		},
		{
			name: "continue keeps failing until the timeout", args: []string{"greeting"}, up: true, start: []actionKind{actPlay},
			steps: []step{
				{finished("done"), []actionKind{actSetVar}},
				{input{kind: inVarSet}, []actionKind{actContinue}},
				{input{kind: inContinued, err: errBoom}, []actionKind{actRetryContinue}},
				{input{kind: inTimeout}, []actionKind{actEmit, actHangup, actForget}},
				{input{kind: inRetryContinue}, nil},
			},
			outcome: GreetingFailed, err: ErrTimeout,
		},
		{
			name: "timeout while playing stops the playback", args: []string{"greeting"}, up: true, start: []actionKind{actPlay},
			steps: []step{
				{input{kind: inTimeout}, []actionKind{actContinue}},
				{finished("done"), nil},
				{input{kind: inContinued}, []actionKind{actEmit, actForget}},
			},
			outcome: GreetingFailed, err: ErrTimeout,
		},
		{
			name: "timeout after hangup unsticks", args: []string{"greeting"}, start: []actionKind{actAnswer},
			steps: []step{
				{input{kind: inHangupRequested}, []actionKind{actEmit}},
				{input{kind: inTimeout}, []actionKind{actContinue, actForget}},
			},
			outcome: GreetingCutShort,
		},
		{
			name: "playback lost while disconnected", args: []string{"greeting"}, up: true, start: []actionKind{actPlay},
			steps: []step{
				{input{kind: inPlaybackLost, playbackID: "other"}, nil},
				{input{kind: inPlaybackLost, playbackID: pb}, []actionKind{actContinue}},
				{input{kind: inContinued}, []actionKind{actEmit, actForget}},
			},
			outcome: GreetingFailed, err: ErrEventsLost,
		},
		{
			name: "left unseen while playing", args: []string{"greeting"}, up: true, start: []actionKind{actPlay},
			steps:   []step{{input{kind: inLeft}, []actionKind{actEmit, actForget}}},
			outcome: GreetingCutShort,
		},
		{
			name: "abandoned while playing", args: []string{"greeting"}, up: true, start: []actionKind{actPlay},
			steps: []step{
				{input{kind: inAbandon, err: ErrShutdown}, []actionKind{actContinue}},
				{input{kind: inAbandon, err: ErrShutdown}, nil},
				{input{kind: inContinued}, []actionKind{actEmit, actForget}},
			},
			outcome: GreetingFailed, err: ErrShutdown,
		},
		{
			name: "abandon while marking lets it finish", args: []string{"greeting"}, up: true, start: []actionKind{actPlay},
			steps: []step{
				{finished("done"), []actionKind{actSetVar}},
				{input{kind: inAbandon, err: ErrShutdown}, nil},
				{input{kind: inVarSet}, []actionKind{actContinue}},
				{input{kind: inContinued}, []actionKind{actEmit, actForget}},
			},
			outcome: GreetingPlayed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := channelInfo{id: "c1", name: "PJSIP/x", callerNum: "514", exten: "450"}
			s, acts := newSession(7, info, tt.args, tt.up, pb, now)
			if got := kinds(acts); !slices.Equal(got, tt.start) {
				t.Fatalf("start: actions %v, want %v", got, tt.start)
			}
			var results []GreetingResult
			for i, st := range tt.steps {
				acts := s.handle(st.in, now.Add(time.Second))
				if got := kinds(acts); !slices.Equal(got, st.want) {
					t.Fatalf("step %d (input %d): actions %v, want %v", i, st.in.kind, got, st.want)
				}
				if r, ok := emitted(acts); ok {
					results = append(results, r)
				}
			}
			if len(results) != 1 {
				t.Fatalf("%d results, want 1", len(results))
			}
			r := results[0]
			if r.Outcome != tt.outcome {
				t.Errorf("outcome %v (%v), want %v", r.Outcome, r.Err, tt.outcome)
			}
			if (tt.err == nil) != (r.Err == nil) || (tt.err != nil && !errors.Is(r.Err, tt.err)) {
				t.Errorf("err %v, want %v", r.Err, tt.err)
			}
			if r.ChannelID != "c1" || r.ChannelName != "PJSIP/x" || r.CallerNum != "514" || r.Exten != "450" ||
				!r.Started.Equal(now) || !r.Ended.Equal(now.Add(time.Second)) {
				t.Errorf("result fields %+v", r)
			}
		})
	}
}

// A continue after a timeout or an abandon while playing must first stop
// the playback (Asterisk runs the continue only after it), but not after a
// failed playback.
func TestSessionContinueStopsPlayback(t *testing.T) {
	for _, in := range []input{{kind: inTimeout}, {kind: inAbandon, err: ErrShutdown}, {kind: inPlayReplied, playbackID: "pb", err: errBoom}} {
		s, _ := newSession(1, channelInfo{id: "c"}, []string{"greeting"}, true, "pb", time.Now())
		acts := s.handle(in, time.Now())
		if len(acts) != 1 || acts[0].kind != actContinue || acts[0].playbackID != "pb" {
			t.Errorf("input %d: actions %+v, want a continue stopping pb", in.kind, acts)
		}
	}
	s, _ := newSession(1, channelInfo{id: "c"}, []string{"greeting"}, true, "pb", time.Now())
	acts := s.handle(input{kind: inPlaybackFinished, playbackID: "pb", state: "failed"}, time.Now())
	if len(acts) != 1 || acts[0].kind != actContinue || acts[0].playbackID != "" {
		t.Errorf("actions %+v, want a plain continue", acts)
	}
}

func TestSessionRetryDelayIsCapped(t *testing.T) {
	s, _ := newSession(1, channelInfo{id: "c"}, []string{"x"}, true, "pb", time.Now())
	var delays []time.Duration
	for range 6 {
		acts := s.handle(input{kind: inContinued, err: errBoom}, time.Now())
		delays = append(delays, acts[0].delay)
		s.handle(input{kind: inRetryContinue}, time.Now())
	}
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second}
	if !slices.Equal(delays, want) {
		t.Errorf("delays %v, want %v", delays, want)
	}
}
