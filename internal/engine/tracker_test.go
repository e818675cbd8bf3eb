package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/rs/zerolog"

	"github.com/villedemercier/recpolicy/rules"
)

// ev is an AMI event for tests.
type ev map[string]string

func (e ev) Get(k string) string { return e[k] }

type fakeRecorder struct {
	started, stopped, finished []*Recording
	running                    map[string]string // channel → recording ID
	unreadable                 map[string]bool   // channel → Running fails
}

func (f *fakeRecorder) Start(_ context.Context, r *Recording) error {
	f.Paths(r)
	f.started = append(f.started, r)
	return nil
}
func (f *fakeRecorder) Stop(_ context.Context, r *Recording) error {
	f.stopped = append(f.stopped, r)
	return nil
}
func (f *fakeRecorder) Finish(r *Recording) { f.finished = append(f.finished, r) }
func (f *fakeRecorder) Running(_ context.Context, channel string) (string, string, error) {
	if f.unreadable[channel] {
		return "", "", errors.New("read RECPOLICY_REC on " + channel + ": ami: action timed out")
	}
	return f.running[channel], "", nil
}
func (f *fakeRecorder) Paths(r *Recording) { r.LocalPath = r.ID + ".wav" }

func cityRules(t testing.TB) *rules.Rules {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", "rules", "mercier.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sounds"), 0o755)
	os.WriteFile(filepath.Join(dir, "sounds", "avis-enregistrement.wav"), []byte("RIFF"), 0o644)
	r, err := rules.Parse(filepath.Join(dir, "rules.yaml"), src, dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newChan(uid, name, linked, cid string) ev {
	return ev{"Event": "Newchannel", "Uniqueid": uid, "Channel": name, "Linkedid": linked, "CallerIDNum": cid}
}

// up is a Newstate to Up with no Timestamp (answer_test.go's newstate
// stamps one, for the answer time).
func up(uid string) ev {
	return ev{"Event": "Newstate", "Uniqueid": uid, "ChannelState": "6", "ChannelStateDesc": "Up"}
}

func dial(src, srcName, dst, dstName, linked, dialString string) ev {
	return ev{"Event": "DialBegin", "Uniqueid": src, "Channel": srcName, "Linkedid": linked,
		"DestUniqueid": dst, "DestChannel": dstName, "DestLinkedid": linked, "DialString": dialString}
}

func enter(bridge, uid, name string) ev {
	return ev{"Event": "BridgeEnter", "BridgeUniqueid": bridge, "Uniqueid": uid, "Channel": name}
}

func hangup(uid string) ev { return ev{"Event": "Hangup", "Uniqueid": uid} }

// decisionCase is one call of TestTrackerDecisions: its events, and the
// channels whose recordings the tracker started and stopped.
type decisionCase struct {
	name     string
	events   []ev
	started  []string // channels recorded
	stopped  []string
	finished int
	tick     bool // then let localDeferMax pass: deferred recordings start
}

func TestTrackerDecisions(t *testing.T) {
	r := cityRules(t)
	tests := []decisionCase{
		{
			name: "inbound external to Annexe A extension is recorded at dial",
			events: []ev{
				newChan("1", "PJSIP/carrier-00000001", "1", "5145550142"),
				dial("1", "PJSIP/carrier-00000001", "2", "PJSIP/235-00000002", "1", "PJSIP/235"),
				enter("b1", "2", "PJSIP/235-00000002"),
				enter("b1", "1", "PJSIP/carrier-00000001"),
				hangup("1"), hangup("2"),
			},
			started: []string{"PJSIP/235-00000002"}, finished: 1,
		},
		{
			name: "outbound external from Annexe A extension records the extension's channel",
			events: []ev{
				newChan("1", "PJSIP/236-00000001", "1", "236"),
				dial("1", "PJSIP/236-00000001", "2", "PJSIP/carrier-00000002", "1", "5145550100@carrier"),
				enter("b1", "2", "PJSIP/carrier-00000002"),
				enter("b1", "1", "PJSIP/236-00000001"),
				hangup("2"), hangup("1"),
			},
			started: []string{"PJSIP/236-00000001"}, finished: 1,
		},
		{
			name: "internal call is not recorded",
			events: []ev{
				newChan("1", "PJSIP/235-00000001", "1", "235"),
				dial("1", "PJSIP/235-00000001", "2", "PJSIP/250-00000002", "1", "PJSIP/250"),
				enter("b1", "2", "PJSIP/250-00000002"),
				enter("b1", "1", "PJSIP/235-00000001"),
				hangup("1"), hangup("2"),
			},
		},
		{
			name: "detainee phone inbound is never recorded",
			events: []ev{
				newChan("1", "PJSIP/carrier-00000001", "1", "5145550199"),
				dial("1", "PJSIP/carrier-00000001", "2", "PJSIP/899-00000002", "1", "PJSIP/899"),
				enter("b1", "2", "PJSIP/899-00000002"),
				enter("b1", "1", "PJSIP/carrier-00000001"),
				hangup("1"), hangup("2"),
			},
		},
		{
			name: "phone outside Annexe A calling out is not recorded",
			events: []ev{
				newChan("1", "PJSIP/290-00000001", "1", "290"),
				dial("1", "PJSIP/290-00000001", "2", "PJSIP/carrier-00000002", "1", "5145550177@carrier"),
				enter("b1", "1", "PJSIP/290-00000001"),
				enter("b1", "2", "PJSIP/carrier-00000002"),
			},
		},
		{
			name: "ring group: every ringing Annexe A leg starts, each is finished",
			events: []ev{
				newChan("1", "PJSIP/carrier-00000001", "1", "5145550142"),
				dial("1", "PJSIP/carrier-00000001", "2", "PJSIP/230-00000002", "1", "PJSIP/230"),
				dial("1", "PJSIP/carrier-00000001", "3", "PJSIP/800-00000003", "1", "PJSIP/800"),
				hangup("3"),
				enter("b1", "2", "PJSIP/230-00000002"),
				enter("b1", "1", "PJSIP/carrier-00000001"),
				hangup("1"), hangup("2"),
			},
			started: []string{"PJSIP/230-00000002", "PJSIP/800-00000003"}, finished: 2,
		},
		{
			name: "a carrier caller presenting the detainee phone's number is recorded",
			events: []ev{
				newChan("1", "PJSIP/carrier-00000001", "1", "899"),
				dial("1", "PJSIP/carrier-00000001", "2", "PJSIP/235-00000002", "1", "PJSIP/235"),
				enter("b1", "2", "PJSIP/235-00000002"),
				enter("b1", "1", "PJSIP/carrier-00000001"),
				hangup("1"), hangup("2"),
			},
			started: []string{"PJSIP/235-00000002"}, finished: 1,
		},
		{
			name: "a carrier caller presenting an Annexe A number is recorded",
			events: []ev{
				newChan("1", "PJSIP/carrier-00000001", "1", "250"),
				dial("1", "PJSIP/carrier-00000001", "2", "PJSIP/235-00000002", "1", "PJSIP/235"),
				enter("b1", "2", "PJSIP/235-00000002"),
				enter("b1", "1", "PJSIP/carrier-00000001"),
				hangup("1"), hangup("2"),
			},
			started: []string{"PJSIP/235-00000002"}, finished: 1,
		},
		{
			name: "a second carrier party presenting 899 joining the bridge stops nothing",
			events: []ev{
				newChan("1", "PJSIP/carrier-00000001", "1", "5145550142"),
				dial("1", "PJSIP/carrier-00000001", "2", "PJSIP/235-00000002", "1", "PJSIP/235"),
				enter("b1", "2", "PJSIP/235-00000002"),
				enter("b1", "1", "PJSIP/carrier-00000001"),
				newChan("3", "PJSIP/carrier-00000003", "3", "899"),
				enter("b1", "3", "PJSIP/carrier-00000003"),
				hangup("1"), hangup("3"), hangup("2"),
			},
			started: []string{"PJSIP/235-00000002"}, finished: 1,
		},
		{
			name: "transfer of a recorded call to the detainee phone stops the recording",
			events: []ev{
				newChan("1", "PJSIP/carrier-00000001", "1", "5145550142"),
				dial("1", "PJSIP/carrier-00000001", "2", "PJSIP/235-00000002", "1", "PJSIP/235"),
				enter("b1", "2", "PJSIP/235-00000002"),
				enter("b1", "1", "PJSIP/carrier-00000001"),
				enter("b1", "3", "PJSIP/899-00000003"),
			},
			started: []string{"PJSIP/235-00000002"}, stopped: []string{"PJSIP/235-00000002"}, finished: 1,
		},
	}
	leave := func(bridge, uid string) ev {
		return ev{"Event": "BridgeLeave", "BridgeUniqueid": bridge, "Uniqueid": uid}
	}
	tests = append(tests, decisionCase{
		name: "conference: the external party leaving stops the extensions, who talk internally now",
		events: []ev{
			newChan("1", "PJSIP/carrier-00000001", "1", "5145550142"),
			newChan("2", "PJSIP/235-00000002", "2", "235"),
			newChan("3", "PJSIP/250-00000003", "3", "250"),
			enter("c1", "1", "PJSIP/carrier-00000001"),
			enter("c1", "2", "PJSIP/235-00000002"),
			enter("c1", "3", "PJSIP/250-00000003"),
			leave("c1", "1"), hangup("1"),
		},
		started: []string{"PJSIP/235-00000002", "PJSIP/250-00000003"},
		stopped: []string{"PJSIP/235-00000002", "PJSIP/250-00000003"}, finished: 2,
	}, decisionCase{
		name: "conference: recorded again, in a new recording, once the detainee phone has left",
		events: []ev{
			newChan("1", "PJSIP/carrier-00000001", "1", "5145550142"),
			newChan("2", "PJSIP/235-00000002", "2", "235"),
			newChan("3", "PJSIP/899-00000003", "3", "899"),
			enter("c1", "1", "PJSIP/carrier-00000001"),
			enter("c1", "2", "PJSIP/235-00000002"),
			enter("c1", "3", "PJSIP/899-00000003"),
			leave("c1", "3"), hangup("3"),
		},
		started: []string{"PJSIP/235-00000002", "PJSIP/235-00000002"},
		stopped: []string{"PJSIP/235-00000002"}, finished: 1,
	}, decisionCase{
		name: "attended transfer through Local channels: 235 stops at the consultation, 250 starts at completion",
		events: []ev{
			newChan("1", "PJSIP/carrier-00000001", "1", "5145550142"),
			dial("1", "PJSIP/carrier-00000001", "2", "PJSIP/235-00000002", "1", "PJSIP/235"),
			enter("b1", "2", "PJSIP/235-00000002"),
			enter("b1", "1", "PJSIP/carrier-00000001"),
			// *2 250: 235 moves to a consultation bridge with a Local channel
			newChan("3", "Local/250@from-phones-00000001;1", "1", "235"),
			newChan("4", "Local/250@from-phones-00000001;2", "1", "235"),
			leave("b1", "2"),
			enter("b2", "2", "PJSIP/235-00000002"),
			enter("b2", "3", "Local/250@from-phones-00000001;1"),
			dial("4", "Local/250@from-phones-00000001;2", "5", "PJSIP/250-00000005", "1", "PJSIP/250"),
			enter("b3", "5", "PJSIP/250-00000005"),
			enter("b3", "4", "Local/250@from-phones-00000001;2"),
			// 235 hangs up: the carrier takes its place in the consultation bridge
			leave("b2", "2"), hangup("2"),
			leave("b1", "1"),
			enter("b2", "1", "PJSIP/carrier-00000001"),
			// the Local pair optimises away: 250 joins the carrier directly
			leave("b3", "5"), leave("b2", "3"), hangup("3"), hangup("4"),
			enter("b2", "5", "PJSIP/250-00000005"),
			hangup("1"), hangup("5"),
		},
		started: []string{"PJSIP/235-00000002", "PJSIP/250-00000005"}, stopped: []string{"PJSIP/235-00000002"}, finished: 2,
	})
	tests = append(tests, decisionCase{
		// Seen under load in the sandbox: Asterisk puts the caller's Local
		// half alone in its bridge before the caller joins it, and the
		// answering member's bridge forms meanwhile. The member's recording,
		// started at the dial, must go on (it was stopped and restarted,
		// leaving a 0.02 s file beside the call's).
		name: "ring group through Local channels: the caller's Local half alone in its bridge for a moment",
		events: []ev{
			newChan("1", "PJSIP/carrier-00000001", "1", "5145550151"),
			dial("1", "PJSIP/carrier-00000001", "2", "Local/201@ringgroup-00000001;1", "1", "Local/201@ringgroup"),
			newChan("3", "Local/201@ringgroup-00000001;2", "1", "5145550151"),
			dial("3", "Local/201@ringgroup-00000001;2", "4", "PJSIP/241-00000004", "1", "PJSIP/241"),
			enter("b1", "2", "Local/201@ringgroup-00000001;1"),
			enter("b2", "4", "PJSIP/241-00000004"),
			enter("b2", "3", "Local/201@ringgroup-00000001;2"),
			enter("b1", "1", "PJSIP/carrier-00000001"),
			// the Local pair optimises away
			leave("b2", "4"), leave("b1", "2"), hangup("2"), hangup("3"),
			enter("b1", "4", "PJSIP/241-00000004"),
			hangup("1"), hangup("4"),
		},
		started: []string{"PJSIP/241-00000004"}, finished: 1,
	})
	// forwarded: 250 calls 235, whose phone forwards (SIP 302) to an
	// external number; Dial follows the forward through a Local channel.
	// twoUpEarly says whether ;2 is Up before 250's bridge with ;1 (the
	// usual order) or only after it: the halves' Newstates come in no fixed
	// order.
	forwarded := func(twoUpEarly bool) []ev {
		evs := []ev{
			newChan("1", "PJSIP/250-00000001", "1", "250"),
			dial("1", "PJSIP/250-00000001", "2", "PJSIP/235-00000002", "1", "PJSIP/235"),
			// Dial follows the 302: both Local halves exist before its dial
			newChan("3", "Local/5145559877@from-phones-00000001;1", "1", "250"),
			newChan("4", "Local/5145559877@from-phones-00000001;2", "1", "250"),
			dial("1", "PJSIP/250-00000001", "3", "Local/5145559877@from-phones-00000001;1", "1", "Local/5145559877@from-phones"),
			hangup("2"),
			dial("4", "Local/5145559877@from-phones-00000001;2", "5", "PJSIP/carrier-00000005", "1", "PJSIP/5145559877@carrier"),
			up("5"), // the carrier answers
		}
		if twoUpEarly {
			evs = append(evs, up("4"))
		}
		evs = append(evs, up("3"),
			enter("b1", "3", "Local/5145559877@from-phones-00000001;1"),
			enter("b1", "1", "PJSIP/250-00000001"))
		if !twoUpEarly {
			evs = append(evs, up("4"))
		}
		return append(evs,
			enter("b2", "5", "PJSIP/carrier-00000005"),
			enter("b2", "4", "Local/5145559877@from-phones-00000001;2"),
			// the Local pair optimises away
			leave("b2", "5"), leave("b1", "3"), hangup("3"), hangup("4"),
			enter("b1", "5", "PJSIP/carrier-00000005"),
			hangup("5"), hangup("1"))
	}
	tests = append(tests, decisionCase{
		// Seen in the sandbox (snoop end-to-end suite): 250 joins its bridge
		// with the Local half before the other half's bridge with the
		// carrier forms, and before Asterisk sets ;2 Up; the carrier had
		// answered. The recording started at the dial must go on (it was
		// stopped and started again, leaving a 4 ms file).
		name:    "internal call forwarded to an external number: the Local half bridged before its far side",
		events:  forwarded(false),
		started: []string{"PJSIP/250-00000001"}, finished: 1,
	}, decisionCase{
		name:    "internal call forwarded to an external number: ;2 Up before 250's bridge",
		events:  forwarded(true),
		started: []string{"PJSIP/250-00000001"}, finished: 1,
	}, decisionCase{
		// Asterisk starts a Local channel's dialplan before it tells of the
		// Dial that created it: ;2's dial to the carrier can come before
		// 250's to ;1. 250 is recorded from the dial all the same (else its
		// recording would wait for the bridge, and then for the swap).
		name: "internal call forwarded to an external number: ;2's dial told before 250's",
		events: []ev{
			newChan("1", "PJSIP/250-00000001", "1", "250"),
			newChan("3", "Local/5145559877@from-phones-00000001;1", "1", "250"),
			newChan("4", "Local/5145559877@from-phones-00000001;2", "1", "250"),
			dial("4", "Local/5145559877@from-phones-00000001;2", "5", "PJSIP/carrier-00000005", "1", "PJSIP/5145559877@carrier"),
			dial("1", "PJSIP/250-00000001", "3", "Local/5145559877@from-phones-00000001;1", "1", "Local/5145559877@from-phones"),
		},
		started: []string{"PJSIP/250-00000001"},
	}, decisionCase{
		// The answered callee stands for its Local half only until it has
		// met someone: here 241, recorded with the carrier through a ring
		// group's Local pair that is not optimised away, starts a
		// consultation with the detainee phone; the carrier's bridge decided
		// again meanwhile must not take 241 for the carrier's party.
		name: "ring group through Local channels: a member consulting elsewhere is not the caller's party any more",
		events: []ev{
			newChan("1", "PJSIP/carrier-00000001", "1", "5145550151"),
			newChan("2", "Local/201@ringgroup-00000001;1", "1", "5145550151"),
			newChan("3", "Local/201@ringgroup-00000001;2", "1", "5145550151"),
			dial("1", "PJSIP/carrier-00000001", "2", "Local/201@ringgroup-00000001;1", "1", "Local/201@ringgroup"),
			dial("3", "Local/201@ringgroup-00000001;2", "4", "PJSIP/241-00000004", "1", "PJSIP/241"),
			up("4"),
			enter("b2", "4", "PJSIP/241-00000004"),
			enter("b2", "3", "Local/201@ringgroup-00000001;2"),
			enter("b1", "2", "Local/201@ringgroup-00000001;1"),
			enter("b1", "1", "PJSIP/carrier-00000001"),
			// 241 consults the detainee phone (*2 899)
			newChan("5", "Local/899@from-phones-00000002;1", "4", "241"),
			newChan("6", "Local/899@from-phones-00000002;2", "4", "241"),
			leave("b2", "4"),
			enter("b3", "4", "PJSIP/241-00000004"),
			enter("b3", "5", "Local/899@from-phones-00000002;1"),
			dial("6", "Local/899@from-phones-00000002;2", "7", "PJSIP/899-00000007", "4", "PJSIP/899"),
			up("7"),
			enter("b4", "7", "PJSIP/899-00000007"),
			enter("b4", "6", "Local/899@from-phones-00000002;2"),
			// the carrier's bridge decided again (a member re-entering)
			leave("b1", "1"), enter("b1", "1", "PJSIP/carrier-00000001"),
		},
		started: []string{"PJSIP/241-00000004"}, stopped: []string{"PJSIP/241-00000004"}, finished: 1, tick: true,
	})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &fakeRecorder{}
			tr := NewTracker(zerolog.Nop(), func() *rules.Rules { return r }, rec, NewMetrics(nil), nil)
			for _, e := range tc.events {
				tr.Handle(context.Background(), e)
			}
			if tc.tick {
				later := time.Now().Add(2 * localDeferMax)
				tr.now = func() time.Time { return later }
				tr.Tick(context.Background())
			}
			if got := channels(rec.started); !equal(got, tc.started) {
				t.Errorf("started %v, want %v", got, tc.started)
			}
			if got := channels(rec.stopped); !equal(got, tc.stopped) {
				t.Errorf("stopped %v, want %v", got, tc.stopped)
			}
			if len(rec.finished) != tc.finished {
				t.Errorf("finished %d, want %d", len(rec.finished), tc.finished)
			}
		})
	}
}

// A call pickup moves the picker into the ringing leg's channel: the leg's
// recording is stopped on the picker's channel (where its hooks now are)
// and discarded; the picker is decided on its own at the bridge.
func TestTrackerPickup(t *testing.T) {
	r := cityRules(t)
	pickup := func(picker, pickerName, target, targetName string) ev {
		return ev{"Event": "Pickup", "Uniqueid": picker, "Channel": pickerName, "Linkedid": picker,
			"TargetUniqueid": target, "TargetChannel": targetName}
	}
	tests := []struct {
		name    string
		picker  string
		started []string // channels recorded, in order
		discard int
	}{
		{"the detainee phone picks up: nothing of it kept", "PJSIP/899-00000003", []string{"PJSIP/235-00000002"}, 1},
		{"another Annexe A extension picks up: its own recording", "PJSIP/250-00000003", []string{"PJSIP/235-00000002", "PJSIP/250-00000003"}, 1},
		{"a phone outside Annexe A picks up: nothing of it kept", "PJSIP/290-00000003", []string{"PJSIP/235-00000002"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &fakeRecorder{}
			tr := NewTracker(zerolog.Nop(), func() *rules.Rules { return r }, rec, NewMetrics(nil), nil)
			for _, e := range []ev{
				newChan("1", "PJSIP/carrier-00000001", "1", "5145550142"),
				dial("1", "PJSIP/carrier-00000001", "2", "PJSIP/235-00000002", "1", "PJSIP/235"),
				newChan("3", tc.picker, "3", "0"),
				pickup("3", tc.picker, "2", "PJSIP/235-00000002"),
				enter("b1", "3", tc.picker),
				enter("b1", "1", "PJSIP/carrier-00000001"),
				hangup("2"), hangup("1"), hangup("3"),
			} {
				tr.Handle(context.Background(), e)
			}
			if got := channels(rec.started); !equal(got, tc.started) {
				t.Errorf("started %v, want %v", got, tc.started)
			}
			if len(rec.stopped) != 1 || rec.stopped[0] != rec.started[0] || rec.stopped[0].StopOn() != "3" || rec.stopped[0].Uniqueid != "2" {
				t.Fatalf("stopped %+v, want the ringing leg's recording, on the picker's channel", rec.stopped)
			}
			if len(rec.started) == 2 {
				if own := rec.started[1]; own.Direction != "inbound" || own.Linkedid != "1" {
					t.Errorf("the picker's recording: direction %q, linkedid %q; want inbound, in the caller's call 1", own.Direction, own.Linkedid)
				}
			}
			discarded := 0
			for _, f := range rec.finished {
				if f.Discard != "" {
					discarded++
				}
			}
			if discarded != tc.discard || len(rec.finished) != len(tc.started) {
				t.Errorf("finished %d, %d discarded; want %d, %d discarded", len(rec.finished), discarded, len(tc.started), tc.discard)
			}
		})
	}
}

func channels(rs []*Recording) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Channel)
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A recording found after a reconnection on a channel other than the one
// it was started on was moved there by a call pickup the daemon did not
// see: it is stopped and discarded, and the channel is decided on its own.
func TestTrackerReconcileDiscardsAPickedUpRecording(t *testing.T) {
	r := cityRules(t)
	item := func(uid, name, cid string) Event {
		return ev{"Event": "CoreShowChannel", "Uniqueid": uid, "Channel": name, "Linkedid": "1", "BridgeId": "b1", "CallerIDNum": cid}
	}
	for _, tc := range []struct {
		picker  string
		started []string
	}{
		{"PJSIP/899-00000003", nil},
		{"PJSIP/250-00000003", []string{"PJSIP/250-00000003"}},
	} {
		// 235's leg (unique ID 2) rang with its recording started; the
		// picker (3) took it while the daemon was away.
		rec := &fakeRecorder{running: map[string]string{"3": "1795847391-235-inbound-2~1-1"}}
		m := NewMetrics(nil)
		tr := NewTracker(zerolog.Nop(), func() *rules.Rules { return r }, rec, m, nil)
		adopted := tr.Reconcile(context.Background(), []Event{
			item("1", "PJSIP/carrier-00000001", "5145550142"),
			item("3", tc.picker, "0"),
		}, nil)
		if adopted != 0 {
			t.Errorf("%s: adopted %d, want 0", tc.picker, adopted)
		}
		if len(rec.stopped) != 1 || rec.stopped[0].Uniqueid != "3" || rec.stopped[0].Discard == "" {
			t.Fatalf("%s: stopped %+v, want the moved recording, on the picker, to discard", tc.picker, rec.stopped)
		}
		if len(rec.finished) != 1 || rec.finished[0] != rec.stopped[0] {
			t.Errorf("%s: finished %v, want the discarded recording", tc.picker, channels(rec.finished))
		}
		if got := channels(rec.started); !equal(got, tc.started) {
			t.Errorf("%s: started %v, want %v", tc.picker, got, tc.started)
		}
	}
}

// A pickup made while the AMI session was down, the ringing leg's
// recording still tracked: the reconciliation discards that recording (it
// holds the picker's call) instead of filing it with the vanished leg.
func TestTrackerReconcileDiscardsAPickedUpLegStillTracked(t *testing.T) {
	r := cityRules(t)
	rec := &fakeRecorder{running: map[string]string{}}
	tr := NewTracker(zerolog.Nop(), func() *rules.Rules { return r }, rec, NewMetrics(nil), nil)
	for _, e := range []ev{
		newChan("1", "PJSIP/carrier-00000001", "1", "5145550142"),
		dial("1", "PJSIP/carrier-00000001", "2", "PJSIP/235-00000002", "1", "PJSIP/235"),
	} {
		tr.Handle(context.Background(), e)
	}
	if len(rec.started) != 1 {
		t.Fatalf("started %v, want 235's leg", channels(rec.started))
	}
	leg := rec.started[0]
	rec.running["3"] = leg.ID // the detainee phone picked it up meanwhile
	item := func(uid, name, cid string) Event {
		return ev{"Event": "CoreShowChannel", "Uniqueid": uid, "Channel": name, "Linkedid": "1", "BridgeId": "b1", "CallerIDNum": cid}
	}
	tr.Reconcile(context.Background(), []Event{
		item("1", "PJSIP/carrier-00000001", "5145550142"),
		item("3", "PJSIP/899-00000003", "899"),
	}, nil)
	if len(rec.stopped) != 1 || rec.stopped[0] != leg || leg.StopOn() != "3" || leg.Discard == "" {
		t.Fatalf("stopped %v (discard %q, on %q), want 235's leg, on the picker, discarded", channels(rec.stopped), leg.Discard, leg.StopOn())
	}
	if len(rec.finished) != 1 || rec.finished[0] != leg {
		t.Errorf("finished %v, want 235's leg once, discarded", channels(rec.finished))
	}
	if len(rec.started) != 1 {
		t.Errorf("started %v, want nothing for the detainee phone", channels(rec.started))
	}
}

// Channels parked in one lot share a holding bridge without talking
// together: nobody is recorded there.
func TestTrackerHoldingBridgeIsNoConversation(t *testing.T) {
	r := cityRules(t)
	rec := &fakeRecorder{}
	tr := NewTracker(zerolog.Nop(), func() *rules.Rules { return r }, rec, NewMetrics(nil), nil)
	hold := func(uid, name string) ev {
		e := enter("lot", uid, name)
		e["BridgeTechnology"] = "holding_bridge"
		return e
	}
	for _, e := range []ev{
		newChan("1", "PJSIP/carrier-00000001", "1", "5145550142"),
		newChan("2", "PJSIP/235-00000002", "2", "235"),
		hold("1", "PJSIP/carrier-00000001"),
		hold("2", "PJSIP/235-00000002"),
	} {
		tr.Handle(context.Background(), e)
	}
	if len(rec.started) != 0 {
		t.Errorf("started %v, want none", channels(rec.started))
	}
}

func TestTrackerReconcile(t *testing.T) {
	r := cityRules(t)
	item := func(uid, name, bridge, cid string) Event {
		return ev{"Event": "CoreShowChannel", "Uniqueid": uid, "Channel": name, "Linkedid": "1", "BridgeId": bridge, "CallerIDNum": cid}
	}
	rec := &fakeRecorder{running: map[string]string{"2": "1795847391-235-inbound-2-1"}}
	m := NewMetrics(nil)
	tr := NewTracker(zerolog.Nop(), func() *rules.Rules { return r }, rec, m, nil)
	now := time.Unix(1795847500, 0)
	tr.now = func() time.Time { return now }
	// A channel tracked before the reconnect that is gone now.
	tr.Handle(context.Background(), newChan("9", "PJSIP/carrier-00000009", "9", "5145550100"))
	tr.Handle(context.Background(), dial("9", "PJSIP/carrier-00000009", "10", "PJSIP/236-0000000a", "9", "PJSIP/236"))
	adopted := tr.Reconcile(context.Background(), []Event{
		item("1", "PJSIP/carrier-00000001", "b1", "5145550142"),
		item("2", "PJSIP/235-00000002", "b1", "235"), // already recorded: adopt
		withDuration(item("3", "PJSIP/carrier-00000003", "b2", "5145550143"), "00:01:05"),
		withDuration(item("4", "PJSIP/250-00000004", "b2", "250"), "00:01:04"), // not recorded yet: start, late
	}, nil)
	if adopted != 1 {
		t.Errorf("adopted %d, want 1", adopted)
	}
	if got := channels(rec.started); !equal(got, []string{"PJSIP/236-0000000a", "PJSIP/250-00000004"}) {
		t.Errorf("started %v, want the dial before the reconnect and 250 after", got)
	}
	if len(rec.finished) != 1 || rec.finished[0].Channel != "PJSIP/236-0000000a" {
		t.Errorf("finished %v, want the recording of the channel gone during the outage", channels(rec.finished))
	}
	ids := tr.RunningIDs()
	if !ids["1795847391-235-inbound-2-1"] || len(ids) != 2 {
		t.Errorf("running %v, want the adopted recording and 250's", ids)
	}
	if got := testutil.ToFloat64(m.RecordingsLate); got != 1 {
		t.Errorf("late recordings %v, want 1 (250's call was bridged before the reconnect)", got)
	}
	if len(rec.stopped) != 0 {
		t.Errorf("stopped %v, want none", channels(rec.stopped))
	}
	if got := testutil.ToFloat64(m.Violations); got != 1 {
		t.Errorf("violations %v, want 1 (the beginning of 250's call is lost)", got)
	}
	// The call began when its first channel did, not at the reconnection.
	if late := rec.started[1]; !late.CallStart.Equal(now.Add(-65 * time.Second)) {
		t.Errorf("250's recording names its call as started at %v, want %v (CoreShowChannel Duration)", late.CallStart, now.Add(-65*time.Second))
	}
}

// After a reconnection, an extension and an external caller parked in the
// same lot are not in a conversation: BridgeList names the lot a holding
// bridge, and neither is recorded. Without the listing (it failed), the
// shared bridge is taken for a conversation, as before.
func TestTrackerReconcileParkedChannelsDoNotTalk(t *testing.T) {
	r := cityRules(t)
	items := []Event{
		ev{"Event": "CoreShowChannel", "Uniqueid": "1", "Channel": "PJSIP/carrier-00000001", "Linkedid": "1", "BridgeId": "lot", "CallerIDNum": "5145550142"},
		ev{"Event": "CoreShowChannel", "Uniqueid": "2", "Channel": "PJSIP/235-00000002", "Linkedid": "2", "BridgeId": "lot", "CallerIDNum": "235"},
	}
	for _, tc := range []struct {
		name    string
		bridges []Event
		started []string
	}{
		{"holding bridge", []Event{ev{"Event": "BridgeListItem", "BridgeUniqueid": "lot", "BridgeType": "basic", "BridgeTechnology": "holding_bridge"}}, nil},
		{"mixing bridge", []Event{ev{"Event": "BridgeListItem", "BridgeUniqueid": "lot", "BridgeType": "basic", "BridgeTechnology": "simple_bridge"}}, []string{"PJSIP/235-00000002"}},
		{"no listing", nil, []string{"PJSIP/235-00000002"}},
	} {
		rec := &fakeRecorder{running: map[string]string{}}
		tr := NewTracker(zerolog.Nop(), func() *rules.Rules { return r }, rec, NewMetrics(nil), nil)
		tr.Reconcile(context.Background(), items, tc.bridges)
		if got := channels(rec.started); !equal(got, tc.started) {
			t.Errorf("%s: started %v, want %v", tc.name, got, tc.started)
		}
	}
}

// A call the PBX places on an extension's behalf (click-to-call: AMI
// Originate of Local/235@internal, which rings 235, then dials the number)
// begins with a Local channel: 235's recording is of an outbound call, even
// when the originate presents the customer's number to 235's phone.
func TestTrackerDirectionOfACallThePBXPlaced(t *testing.T) {
	r := cityRules(t)
	rec := &fakeRecorder{}
	tr := NewTracker(zerolog.Nop(), func() *rules.Rules { return r }, rec, NewMetrics(nil), nil)
	for _, e := range []ev{
		newChan("1", "Local/235@internal-00000001;1", "1", "5145550142"),
		newChan("2", "Local/235@internal-00000001;2", "1", "5145550142"),
		dial("2", "Local/235@internal-00000001;2", "3", "PJSIP/235-00000003", "1", "PJSIP/235"),
		enter("b1", "3", "PJSIP/235-00000003"), enter("b1", "2", "Local/235@internal-00000001;2"),
		dial("1", "Local/235@internal-00000001;1", "4", "PJSIP/carrier-00000004", "1", "PJSIP/5145550142@carrier"),
	} {
		tr.Handle(context.Background(), e)
	}
	if len(rec.started) != 1 || rec.started[0].Extension != "235" {
		t.Fatalf("started %v, want 235's recording", channels(rec.started))
	}
	if d := rec.started[0].Direction; d != "outbound" {
		t.Errorf("direction %q, want outbound (the PBX placed the call for 235)", d)
	}
}

// After a reconnection, channels of one call all created within the same
// second tie on their start (CoreShowChannels gives whole seconds): the
// originator is the channel whose unique ID is the linkedid, not the
// smallest unique ID as a string (".10" sorts before ".9").
func TestTrackerDirectionAfterReconnectByLinkedid(t *testing.T) {
	r := cityRules(t)
	rec := &fakeRecorder{running: map[string]string{}}
	tr := NewTracker(zerolog.Nop(), func() *rules.Rules { return r }, rec, NewMetrics(nil), nil)
	now := time.Unix(1795847500, 0)
	tr.now = func() time.Time { return now }
	item := func(uid, name, bridge, cid string) Event {
		return withDuration(ev{"Event": "CoreShowChannel", "Uniqueid": uid, "Channel": name, "Linkedid": "pbx-1.9", "BridgeId": bridge, "CallerIDNum": cid}, "00:00:05")
	}
	tr.Reconcile(context.Background(), []Event{
		item("pbx-1.9", "PJSIP/carrier-00000009", "b1", "5145550142"),
		item("pbx-1.10", "Local/250@queue-member-00000001;1", "b1", "5145550142"),
		item("pbx-1.11", "Local/250@queue-member-00000001;2", "b2", "5145550142"),
		item("pbx-1.12", "PJSIP/250-0000000c", "b2", "250"),
	}, nil)
	if len(rec.started) != 1 || rec.started[0].Extension != "250" {
		t.Fatalf("started %v, want 250's recording", channels(rec.started))
	}
	if d := rec.started[0].Direction; d != "inbound" {
		t.Errorf("direction %q, want inbound (the carrier's channel originated the call)", d)
	}
}

func withDuration(e Event, d string) Event {
	m := e.(ev)
	m["Duration"] = d
	return m
}

func TestParseHMS(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"00:00:00": 0, "00:01:05": 65 * time.Second, "12:00:01": 12*time.Hour + time.Second,
		"": 0, "1:2": 0, "ab:cd:ef": 0, "-1:00:00": 0,
	} {
		if got := parseHMS(in); got != want {
			t.Errorf("parseHMS(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestCheckGrowthRaisesViolation(t *testing.T) {
	r := cityRules(t)
	rec := &fakeRecorder{}
	m := NewMetrics(nil)
	tr := NewTracker(zerolog.Nop(), func() *rules.Rules { return r }, rec, m, nil)
	now := time.Unix(1795847391, 0)
	tr.now = func() time.Time { return now }
	for _, e := range []ev{
		newChan("1", "PJSIP/carrier-00000001", "1", "5145550142"),
		dial("1", "PJSIP/carrier-00000001", "2", "PJSIP/235-00000002", "1", "PJSIP/235"),
		newChan("3", "PJSIP/carrier-00000003", "3", "5145550143"),
		dial("3", "PJSIP/carrier-00000003", "4", "PJSIP/236-00000004", "3", "PJSIP/236"),
		enter("b1", "2", "PJSIP/235-00000002"), enter("b1", "1", "PJSIP/carrier-00000001"),
		enter("b2", "4", "PJSIP/236-00000004"), enter("b2", "3", "PJSIP/carrier-00000003"),
	} {
		tr.Handle(context.Background(), e)
	}
	sizes := map[string]int64{rec.started[0].LocalPath: 64000, rec.started[1].LocalPath: 44}
	size := func(p string) (int64, error) { return sizes[p], nil }
	tr.CheckGrowth(size)
	if got := testutil.ToFloat64(m.Violations); got != 0 {
		t.Fatalf("violations %v before the grace period, want 0", got)
	}
	now = now.Add(4 * time.Second)
	tr.CheckGrowth(size)
	tr.CheckGrowth(size)
	if got := testutil.ToFloat64(m.Violations); got != 1 {
		t.Fatalf("violations %v, want 1 (236's file holds only a header), reported once", got)
	}
}

// TestRecordingWaitsForLocalSwap: after an attended transfer, 250 is bridged
// with a Local channel whose other half reaches the carrier; its recording
// starts only once Asterisk swapped the carrier in for the Local channel
// (an audiohook attached before that swap loses the carrier's voice), or
// after localDeferMax when no swap comes.
func TestRecordingWaitsForLocalSwap(t *testing.T) {
	r := cityRules(t)
	leave := func(bridge, uid string) ev {
		return ev{"Event": "BridgeLeave", "BridgeUniqueid": bridge, "Uniqueid": uid}
	}
	setup := []ev{
		newChan("1", "PJSIP/carrier-00000001", "1", "5145550142"),
		dial("1", "PJSIP/carrier-00000001", "2", "PJSIP/235-00000002", "1", "PJSIP/235"),
		enter("b1", "2", "PJSIP/235-00000002"), enter("b1", "1", "PJSIP/carrier-00000001"),
		// *2 250: the consultation through a Local pair
		newChan("3", "Local/250@from-phones-00000001;1", "1", "235"),
		newChan("4", "Local/250@from-phones-00000001;2", "1", "235"),
		leave("b1", "2"), enter("b2", "2", "PJSIP/235-00000002"), enter("b2", "3", "Local/250@from-phones-00000001;1"),
		dial("4", "Local/250@from-phones-00000001;2", "5", "PJSIP/250-00000005", "1", "PJSIP/250"),
		enter("b3", "5", "PJSIP/250-00000005"), enter("b3", "4", "Local/250@from-phones-00000001;2"),
		// 235 hangs up: the Local channel takes its place beside the carrier
		leave("b2", "2"), hangup("2"), leave("b2", "3"), enter("b1", "3", "Local/250@from-phones-00000001;1"),
	}
	run := func(t *testing.T, events []ev) (*fakeRecorder, *Tracker, *time.Time) {
		rec := &fakeRecorder{}
		tr := NewTracker(zerolog.Nop(), func() *rules.Rules { return r }, rec, NewMetrics(nil), nil)
		now := time.Unix(1795847391, 0)
		tr.now = func() time.Time { return now }
		for _, e := range events {
			tr.Handle(context.Background(), e)
		}
		return rec, tr, &now
	}
	t.Run("swap", func(t *testing.T) {
		rec, tr, _ := run(t, setup)
		if got := channels(rec.started); !equal(got, []string{"PJSIP/235-00000002"}) {
			t.Fatalf("started %v while 250 is still bridged with the Local channel, want only 235's", got)
		}
		// The swap: the carrier replaces Local;2 beside 250.
		for _, e := range []ev{leave("b1", "1"), enter("b3", "1", "PJSIP/carrier-00000001")} {
			tr.Handle(context.Background(), e)
		}
		if len(rec.started) != 1 {
			t.Fatalf("started %v before the Local channel left", channels(rec.started))
		}
		tr.Handle(context.Background(), leave("b3", "4"))
		if got := channels(rec.started); !equal(got, []string{"PJSIP/235-00000002", "PJSIP/250-00000005"}) {
			t.Errorf("started %v after the swap, want 250's recording", got)
		}
	})
	t.Run("no swap", func(t *testing.T) {
		rec, tr, now := run(t, setup)
		tr.Tick(context.Background())
		if len(rec.started) != 1 {
			t.Fatalf("started %v at once on Tick, want to wait %s", channels(rec.started), localDeferMax)
		}
		*now = now.Add(localDeferMax)
		tr.Tick(context.Background())
		if got := channels(rec.started); !equal(got, []string{"PJSIP/235-00000002", "PJSIP/250-00000005"}) {
			t.Errorf("started %v after %s without a swap, want 250's recording", got, localDeferMax)
		}
	})
	t.Run("never-record party arrives instead", func(t *testing.T) {
		rec, tr, now := run(t, setup)
		for _, e := range []ev{
			newChan("9", "PJSIP/899-00000009", "1", "899"),
			enter("b3", "9", "PJSIP/899-00000009"),
		} {
			tr.Handle(context.Background(), e)
		}
		*now = now.Add(localDeferMax)
		tr.Tick(context.Background())
		if len(rec.started) != 1 {
			t.Errorf("started %v: a deferred recording must be dropped when 899 joins", channels(rec.started))
		}
	})
}

// A recording carries the run of Asterisk its channel was seen in (not the
// run of the latest session), so that the backend names the channel by its
// name only on a session of that run.
func TestTrackerRecordingKnowsItsRun(t *testing.T) {
	const before, after = "2026-12-03 15:06:35", "2026-12-03 15:20:00"
	r := cityRules(t)
	rec := &fakeRecorder{}
	tr := NewTracker(zerolog.Nop(), func() *rules.Rules { return r }, rec, NewMetrics(nil), nil)
	ctx := context.Background()
	tr.SetBoot(before)
	tr.Handle(ctx, newChan("1", "PJSIP/carrier-00000001", "1", "5145550142"))
	tr.Handle(ctx, newChan("3", "PJSIP/235-00000002", "1", "235"))
	// A new session (Asterisk restarted, or the events of the old run
	// still queued behind its KindConnected): the channels seen before
	// keep their run.
	tr.SetBoot(after)
	tr.Handle(ctx, dial("1", "PJSIP/carrier-00000001", "3", "PJSIP/235-00000002", "1", "PJSIP/235"))
	tr.Handle(ctx, newChan("11", "PJSIP/carrier-00000001", "11", "5145550199"))
	tr.Handle(ctx, dial("11", "PJSIP/carrier-00000001", "13", "PJSIP/250-00000001", "11", "PJSIP/250"))
	if len(rec.started) != 2 {
		t.Fatalf("started %v, want 235's and 250's recordings", channels(rec.started))
	}
	for i, want := range []string{before, after} {
		if b := rec.started[i].Boot; b != want {
			t.Errorf("recording of %s: run %q, want %q (its channel's)", rec.started[i].Channel, b, want)
		}
	}
}

// TestEventDelaysAreMeasured: how late Asterisk wrote an event (its
// Timestamp to its reading) and how long it waited for the event loop
// (its reading to its handling) go to their own histograms.
func TestEventDelaysAreMeasured(t *testing.T) {
	r := cityRules(t)
	m := NewMetrics(nil)
	tr := NewTracker(zerolog.Nop(), func() *rules.Rules { return r }, &fakeRecorder{}, m, nil)
	stamped := time.Unix(1796400000, 0)
	received := stamped.Add(300 * time.Millisecond)
	tr.now = func() time.Time { return received.Add(200 * time.Millisecond) }
	e := newChan("u1", "PJSIP/235-00000001", "u1", "235")
	e["Timestamp"] = "1796400000.000000"
	tr.HandleAt(context.Background(), e, received)
	// Without a Timestamp (timestampevents off), only the queue is known.
	tr.HandleAt(context.Background(), hangup("u1"), received)
	if n := testutil.CollectAndCount(m.EventDelivery); n != 1 {
		t.Fatalf("delivery histogram: %d series", n)
	}
	for _, c := range []struct {
		name       string
		h          interface{ Write(*dto.Metric) error }
		count      uint64
		sumSeconds float64
	}{
		{"delivery", m.EventDelivery, 1, 0.3},
		{"queue", m.EventQueue, 2, 0.4},
	} {
		var d dto.Metric
		if err := c.h.Write(&d); err != nil {
			t.Fatal(err)
		}
		h := d.GetHistogram()
		if h.GetSampleCount() != c.count || h.GetSampleSum() < c.sumSeconds-1e-6 || h.GetSampleSum() > c.sumSeconds+1e-6 {
			t.Errorf("%s: %d samples summing %.6f s, want %d summing %.1f s", c.name, h.GetSampleCount(), h.GetSampleSum(), c.count, c.sumSeconds)
		}
	}
}
