package ari

import (
	"testing"
)

func TestOutcomeAndStateNames(t *testing.T) {
	for o, want := range map[GreetingOutcome]string{GreetingPlayed: "played", GreetingCutShort: "cut_short", GreetingFailed: "failed", GreetingSkipped: "skipped", 0: "unknown"} {
		if o.String() != want {
			t.Errorf("%d: %q", o, o.String())
		}
	}
	for s, want := range map[ConnState]string{StateIdle: "idle", StateConnecting: "connecting", StateConnected: "connected", StateDisconnected: "disconnected", StateStopped: "stopped"} {
		if s.String() != want {
			t.Errorf("%d: %q", s, s.String())
		}
	}
}
