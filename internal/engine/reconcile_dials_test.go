package engine

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/villedemercier/recpolicy/rules"
)

// listed is a CoreShowChannel item of call linked: a channel running app
// with data, in bridge ("" for none).
func listed(uid, name, linked, app, data, bridge, cid string) Event {
	return ev{"Event": "CoreShowChannel", "Uniqueid": uid, "Channel": name, "Linkedid": linked,
		"Application": app, "ApplicationData": data, "BridgeId": bridge, "CallerIDNum": cid, "Duration": "00:00:02"}
}

// ringing808 is the listing of an inbound call from the carrier that
// rings 808: the carrier's channel runs Dial, 808's was placed by it.
func ringing808() []Event {
	return []Event{
		listed("1", "PJSIP/carrier-00000001", "1", "Dial", "PJSIP/808,30,tT", "", "5145550142"),
		listed("2", "PJSIP/808-00000002", "1", "AppDial", "(Outgoing Line)", "", "808"),
	}
}

// answered808 is ringing808 once 808 answered, before the bridge.
func answered808() []Event {
	items := ringing808()
	items[1] = withState(items[1], "6")
	return items
}

// A dial made while the daemon could not see the PBX (its DialBegin
// unread) is decided at the reconnection, as at its DialBegin: its
// recording starts while the phone rings, not at its bridge, and it is not
// late. Internal dials and the never-record phone stay unrecorded; a dial
// whose dialler cannot be told is left to its bridge.
func TestTrackerReconcileDecidesDialsInProgress(t *testing.T) {
	r := cityRules(t)
	for _, tc := range []struct {
		name    string
		items   []Event
		started []string
	}{
		{"inbound, ringing", ringing808(), []string{"PJSIP/808-00000002"}},
		{"outbound, ringing", []Event{
			listed("1", "PJSIP/235-00000001", "1", "Dial", "PJSIP/5145550142@carrier,60", "", "235"),
			listed("2", "PJSIP/carrier-00000002", "1", "AppDial", "(Outgoing Line)", "", "5145550142"),
		}, []string{"PJSIP/235-00000001"}},
		{"internal", []Event{
			listed("1", "PJSIP/235-00000001", "1", "Dial", "PJSIP/236,30", "", "235"),
			listed("2", "PJSIP/236-00000002", "1", "AppDial", "(Outgoing Line)", "", "236"),
		}, nil},
		{"the never-record phone", []Event{
			listed("1", "PJSIP/carrier-00000001", "1", "Dial", "PJSIP/899,30", "", "5145550142"),
			listed("2", "PJSIP/899-00000002", "1", "AppDial", "(Outgoing Line)", "", "899"),
		}, nil},
		{"ring group through a Local channel", []Event{
			listed("1", "PJSIP/carrier-00000001", "1", "Dial", "Local/ring@city/n,30", "", "5145550142"),
			listed("2", "Local/ring@city-00000001;1", "1", "AppDial", "(Outgoing Line)", "", "5145550142"),
			listed("3", "Local/ring@city-00000001;2", "1", "Dial", "PJSIP/235&PJSIP/808,20", "", "5145550142"),
			listed("4", "PJSIP/235-00000004", "1", "AppDial", "(Outgoing Line)", "", "235"),
			listed("5", "PJSIP/808-00000005", "1", "AppDial", "(Outgoing Line)", "", "808"),
		}, []string{"PJSIP/235-00000004", "PJSIP/808-00000005"}},
		{"answered, not bridged yet", answered808(), []string{"PJSIP/808-00000002"}},
		{"queue, one member through a Local channel", []Event{
			listed("1", "PJSIP/carrier-00000001", "1", "Queue", "accueil,t", "", "5145550142"),
			listed("2", "PJSIP/235-00000002", "1", "AppQueue", "(Outgoing Line)", "", "235"),
			listed("3", "Local/250@queue-member-00000001;1", "1", "AppQueue", "(Outgoing Line)", "", "5145550142"),
			listed("4", "Local/250@queue-member-00000001;2", "1", "Dial", "PJSIP/250,30", "", "5145550142"),
			listed("5", "PJSIP/250-00000005", "1", "AppDial", "(Outgoing Line)", "", "250"),
		}, []string{"PJSIP/235-00000002", "PJSIP/250-00000005"}},
		{"a call the PBX placed (Originate), its Local channel's far side not dialled yet", []Event{
			listed("1", "Local/235@internal-00000001;1", "1", "AppDial2", "(Outgoing Line)", "", "5145550142"),
			listed("2", "Local/235@internal-00000001;2", "1", "Dial", "PJSIP/235,30", "", "5145550142"),
			listed("3", "PJSIP/235-00000003", "1", "AppDial", "(Outgoing Line)", "", "235"),
		}, nil},
		{"a forward's leg, which no target names", []Event{
			listed("1", "PJSIP/carrier-00000001", "1", "Dial", "PJSIP/236,30", "", "5145550142"),
			listed("2", "Local/5145550199@from-phones-00000001;1", "1", "AppDial", "(Outgoing Line)", "", "5145550142"),
		}, nil},
		{"dialler not told apart", []Event{
			listed("1", "PJSIP/carrier-00000001", "1", "Dial", "PJSIP/300,30", "", "5145550142"),
			listed("2", "PJSIP/carrier-00000002", "1", "Dial", "PJSIP/301,30", "", "5145550143"),
			listed("3", "PJSIP/808-00000003", "1", "AppDial", "(Outgoing Line)", "", "808"),
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &fakeRecorder{running: map[string]string{}}
			m := NewMetrics(nil)
			tr := NewTracker(zerolog.Nop(), func() *rules.Rules { return r }, rec, m, nil)
			tr.now = func() time.Time { return time.Unix(1795847500, 0) }
			tr.Reconcile(context.Background(), tc.items, nil)
			if got := channels(rec.started); !equal(got, tc.started) {
				t.Errorf("started %v, want %v", got, tc.started)
			}
			if got := testutil.ToFloat64(m.RecordingsLate); got != 0 {
				t.Errorf("late recordings %v, want 0 (the dial was decided before any bridge)", got)
			}
		})
	}
}

// A dial the tracker did not see is not decided when a channel of it
// already carries a recording (adopted: the bridge decides, and nothing is
// stopped), nor when whether one does could not be read.
func TestTrackerReconcileLeavesUnseenDialsItCannotJudge(t *testing.T) {
	r := cityRules(t)
	items := ringing808()
	for _, tc := range []struct {
		name string
		rec  *fakeRecorder
	}{
		{"adopted", &fakeRecorder{running: map[string]string{"2": "1795847391-808-inbound-2~1-1"}}},
		{"unreadable", &fakeRecorder{running: map[string]string{}, unreadable: map[string]bool{"2": true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracker(zerolog.Nop(), func() *rules.Rules { return r }, tc.rec, NewMetrics(nil), nil)
			tr.Reconcile(context.Background(), items, nil)
			if len(tc.rec.started) != 0 || len(tc.rec.stopped) != 0 {
				t.Errorf("started %v, stopped %v; want neither", channels(tc.rec.started), channels(tc.rec.stopped))
			}
		})
	}
}

// A dial whose DialBegin the tracker read before the AMI session dropped
// is not decided again at the reconnection: its recording runs already
// (adopted), and none starts twice.
func TestTrackerReconcileKeepsAKnownDial(t *testing.T) {
	r := cityRules(t)
	rec := &fakeRecorder{running: map[string]string{}}
	tr := NewTracker(zerolog.Nop(), func() *rules.Rules { return r }, rec, NewMetrics(nil), nil)
	ctx := context.Background()
	tr.Handle(ctx, newChan("1", "PJSIP/carrier-00000001", "1", "5145550142"))
	tr.Handle(ctx, dial("1", "PJSIP/carrier-00000001", "2", "PJSIP/808-00000002", "1", "PJSIP/808"))
	if len(rec.started) != 1 {
		t.Fatalf("started %v at the DialBegin, want 808's", channels(rec.started))
	}
	rec.running["2"] = rec.started[0].ID
	tr.Reconcile(ctx, ringing808(), nil)
	if len(rec.started) != 1 {
		t.Errorf("started %v, want 808's once", channels(rec.started))
	}
}

func withState(e Event, state string) Event {
	m := e.(ev)
	m["ChannelState"] = state
	return m
}

func TestDialTargetDevices(t *testing.T) {
	for _, tc := range []struct{ in, dev string }{
		{"PJSIP/808", "PJSIP/808"},
		{"PJSIP/5145550142@carrier", "PJSIP/carrier"},
		{"PJSIP/carrier/sip:5145550142@192.0.2.1", "PJSIP/carrier"},
		{"Local/ring@city/n", "Local/ring@city"},
		{"IAX2/peer/123", "IAX2/peer"},
		{"nothing", "nothing"},
	} {
		if got := targetDevice(tc.in); got != tc.dev {
			t.Errorf("targetDevice(%q) = %q, want %q", tc.in, got, tc.dev)
		}
	}
	for _, tc := range []struct{ in, dev string }{
		{"PJSIP/235-0000001a", "PJSIP/235"},
		{"PJSIP/carrier-00000004", "PJSIP/carrier"},
		{"Local/ring@city-00000003;1", "Local/ring@city"},
		{"Local/a-b@city-00000003;2", "Local/a-b@city"},
		{"DAHDI/1-1", "DAHDI/1"},
	} {
		if got := device(tc.in); got != tc.dev {
			t.Errorf("device(%q) = %q, want %q", tc.in, got, tc.dev)
		}
	}
}
