package mixmonitor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/villedemercier/recpolicy/ami"
	"github.com/villedemercier/recpolicy/internal/engine"
)

// sent is one action a fake session received: its name, the channel it
// named, and the run it was sent on ("" for a plain Action).
type sent struct{ action, channel, boot string }

// plainAMI is an Actioner that cannot tell runs apart.
type plainAMI struct{ got []sent }

func (p *plainAMI) Action(_ context.Context, action string, h ...ami.Header) (*ami.Message, error) {
	p.got = append(p.got, sent{action, h[0].Value, ""})
	return ami.NewMessage(ami.Header{Key: "Response", Value: "Success"}, ami.Header{Key: "MixMonitorID", Value: "0x1"}), nil
}

// bootAMI is connected to run boot; onBoot, when set, answers the actions
// sent on a run instead.
type bootAMI struct {
	plainAMI
	boot   string
	onBoot error
}

func (b *bootAMI) ActionOnBoot(ctx context.Context, boot, action string, h ...ami.Header) (*ami.Message, error) {
	if b.onBoot != nil {
		return nil, b.onBoot
	}
	if boot == "" || boot != b.boot {
		return nil, fmt.Errorf("action %s: %w", action, ami.ErrOtherBoot)
	}
	m, err := b.Action(ctx, action, h...)
	b.got[len(b.got)-1].boot = boot
	return m, err
}

func TestStartNamesTheChannelOnlyInItsRun(t *testing.T) {
	const run, name, uid = "2026-12-03 15:06:35", "PJSIP/235-0000002a", "1764774395.81"
	noSuch := &ami.ActionError{Action: "MixMonitor", Message: "No such channel"}
	tests := []struct {
		name    string
		ami     engine.Actioner
		boot    string
		want    []sent
		wantErr error
	}{
		{"same run: by name, on that run", &bootAMI{boot: run}, run,
			[]sent{{"MixMonitor", name, run}, {"Setvar", name, run}}, nil},
		{"the sessions talk to another run: by unique ID", &bootAMI{boot: "2026-12-03 15:20:00"}, run,
			[]sent{{"MixMonitor", uid, ""}, {"Setvar", uid, ""}}, nil},
		{"the channel's run unknown: by unique ID", &bootAMI{boot: run}, "",
			[]sent{{"MixMonitor", uid, ""}, {"Setvar", uid, ""}}, nil},
		{"sessions that cannot tell their run: by unique ID", &plainAMI{}, run,
			[]sent{{"MixMonitor", uid, ""}, {"Setvar", uid, ""}}, nil},
		{"refused by name: no second try by unique ID", &bootAMI{boot: run, onBoot: noSuch}, run,
			nil, noSuch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			byUID := prometheus.NewCounter(prometheus.CounterOpts{Name: "by_uniqueid"})
			m := &Recorder{AMI: tt.ami, AsteriskDir: "/spool", LocalDir: t.TempDir(), ByUniqueid: byUID}
			r := &engine.Recording{ID: "rec-1", Channel: name, Uniqueid: uid, Boot: tt.boot}
			err := m.Start(context.Background(), r)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Start = %v, want %v", err, tt.wantErr)
			}
			var got []sent
			switch a := tt.ami.(type) {
			case *bootAMI:
				got = a.got
			case *plainAMI:
				got = a.got
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("sent %v, want %v", got, tt.want)
			}
			// The counter tells an operator how many starts took the slow way.
			want := 0.0
			if len(tt.want) > 0 && tt.want[0].channel == uid {
				want = 1
			}
			if n := testutil.ToFloat64(byUID); n != want {
				t.Errorf("starts by unique ID counted %v, want %v", n, want)
			}
			if err == nil && r.BackendID != "0x1" {
				t.Errorf("BackendID = %q, want MixMonitor's ID from its answer", r.BackendID)
			}
		})
	}
}
