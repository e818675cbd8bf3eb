package mixmonitor

import (
	"context"
	"errors"
	"testing"

	"github.com/villedemercier/recpolicy/ami"
	"github.com/villedemercier/recpolicy/internal/engine"
)

// fakeAMI answers Getvar UNIQUEID with uids[channel] and MixMonitor with an
// id, recording every action; pinnable makes it an engine.Pinner.
type fakeAMI struct {
	uids    map[string]string
	actions []string
}

func (f *fakeAMI) Action(_ context.Context, action string, headers ...ami.Header) (*ami.Message, error) {
	var channel string
	for _, h := range headers {
		if h.Key == "Channel" {
			channel = h.Value
		}
	}
	f.actions = append(f.actions, action+" "+channel)
	switch action {
	case "Getvar":
		return ami.NewMessage(ami.Header{Key: "Response", Value: "Success"}, ami.Header{Key: "Value", Value: f.uids[channel]}), nil
	case "MixMonitor":
		return ami.NewMessage(ami.Header{Key: "Response", Value: "Success"}, ami.Header{Key: "MixMonitorID", Value: "0x1"}), nil
	}
	return ami.NewMessage(ami.Header{Key: "Response", Value: "Success"}), nil
}

type pinnableAMI struct{ *fakeAMI }

func (p pinnableAMI) Pin(context.Context) (engine.Actioner, error) { return p.fakeAMI, nil }

func recording() *engine.Recording {
	return &engine.Recording{ID: "1795847391-235-inbound-pbx-1.2~pbx-1.1-1", Channel: "PJSIP/235-00000002", Uniqueid: "pbx-1.2"}
}

func TestStartNamesTheChannelOnceChecked(t *testing.T) {
	for _, tc := range []struct {
		name    string
		uid     string // what the name answers now
		want    []string
		wantErr error
	}{
		{"the name still names the channel", "pbx-1.2", []string{"Getvar PJSIP/235-00000002", "MixMonitor PJSIP/235-00000002"}, nil},
		{"a restart gave the name to another channel", "pbx-9.2", []string{"Getvar PJSIP/235-00000002"}, engine.ErrNameReused},
		{"the channel is gone", "", []string{"Getvar PJSIP/235-00000002"}, engine.ErrNameReused},
	} {
		f := &fakeAMI{uids: map[string]string{"PJSIP/235-00000002": tc.uid}}
		m := &Recorder{AMI: pinnableAMI{f}, AsteriskDir: "/spool", LocalDir: "/spool"}
		r := recording()
		err := m.Start(context.Background(), r)
		if !errors.Is(err, tc.wantErr) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.wantErr)
		}
		if len(f.actions) != len(tc.want) || (len(tc.want) > 0 && f.actions[len(f.actions)-1] != tc.want[len(tc.want)-1]) {
			t.Errorf("%s: actions %v, want %v", tc.name, f.actions, tc.want)
		}
		if tc.wantErr == nil && r.BackendID != "0x1" {
			t.Errorf("%s: MixMonitor id %q, want 0x1", tc.name, r.BackendID)
		}
	}
}

// Without a session to pin (tests, tools), the channel is named by its
// unique ID, with no check.
func TestStartByUniqueIDWithoutPinning(t *testing.T) {
	f := &fakeAMI{}
	m := &Recorder{AMI: f, AsteriskDir: "/spool", LocalDir: "/spool"}
	if err := m.Start(context.Background(), recording()); err != nil {
		t.Fatal(err)
	}
	if len(f.actions) != 1 || f.actions[0] != "MixMonitor pbx-1.2" {
		t.Errorf("actions %v, want one MixMonitor by unique ID", f.actions)
	}
}
