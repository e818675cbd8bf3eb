package mixmonitor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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

// cutAMI answers MixMonitor with a session cut after the write
// (ami.ErrNoAnswer) and Getvar from vars, which idAfter Getvars of idVar
// leave unset (MixMonitor sets its ID just after the file name).
type cutAMI struct {
	vars      map[string]string
	idAfter   int
	fileAfter int // so many Getvars of MIXMONITOR_FILENAME find it unset
	getErr    error
	got       []string
}

func (c *cutAMI) Action(_ context.Context, action string, h ...ami.Header) (*ami.Message, error) {
	c.got = append(c.got, action)
	switch action {
	case "MixMonitor":
		return nil, fmt.Errorf("action MixMonitor: %w: %w", ami.ErrNotConnected, ami.ErrNoAnswer)
	case "Getvar":
		if c.getErr != nil {
			return nil, c.getErr
		}
		v := ""
		for _, x := range h {
			if x.Key == "Variable" {
				v = x.Value
			}
		}
		if v == "MIXMONITOR_FILENAME" && c.fileAfter > 0 {
			c.fileAfter--
			return ami.NewMessage(ami.Header{Key: "Response", Value: "Success"}, ami.Header{Key: "Value", Value: ""}), nil
		}
		if v == idVar && c.idAfter > 0 {
			c.idAfter--
			return ami.NewMessage(ami.Header{Key: "Response", Value: "Success"}, ami.Header{Key: "Value", Value: ""}), nil
		}
		return ami.NewMessage(ami.Header{Key: "Response", Value: "Success"}, ami.Header{Key: "Value", Value: c.vars[v]}), nil
	}
	return ami.NewMessage(ami.Header{Key: "Response", Value: "Success"}), nil
}

// TestStartReadsBackAMixMonitorWhoseAnswerWasCut: a MixMonitor whose
// session ended before its answer is read back: when its file name is the
// start's own (at once, or a moment later), the start succeeds with its
// ID and marks the channel; otherwise (another recording's file or none,
// read twice; a read that fails) the start fails as before, and the
// action is not sent again.
func TestStartReadsBackAMixMonitorWhoseAnswerWasCut(t *testing.T) {
	const path = "/spool/rec-1.wav"
	readErr := &ami.ActionError{Action: "Getvar", Message: "No such channel"}
	tests := []struct {
		name    string
		ami     *cutAMI
		wantErr bool
		wantID  string
		want    []string
	}{
		{"it ran", &cutAMI{vars: map[string]string{"MIXMONITOR_FILENAME": path, idVar: "0x7f1"}},
			false, "0x7f1", []string{"MixMonitor", "Getvar", "Getvar", "Setvar"}},
		{"it ran, its ID set a moment later", &cutAMI{vars: map[string]string{"MIXMONITOR_FILENAME": path, idVar: "0x7f1"}, idAfter: 2},
			false, "0x7f1", []string{"MixMonitor", "Getvar", "Getvar", "Getvar", "Getvar", "Setvar"}},
		{"it ran, its ID never read", &cutAMI{vars: map[string]string{"MIXMONITOR_FILENAME": path, idVar: "0x7f1"}, idAfter: idReads},
			false, "", append(append([]string{"MixMonitor", "Getvar"}, slices.Repeat([]string{"Getvar"}, idReads)...), "Setvar")},
		{"it ran a moment after the first read", &cutAMI{vars: map[string]string{"MIXMONITOR_FILENAME": path, idVar: "0x7f1"}, fileAfter: 1},
			false, "0x7f1", []string{"MixMonitor", "Getvar", "Getvar", "Getvar", "Setvar"}},
		{"another recording's file, read twice", &cutAMI{vars: map[string]string{"MIXMONITOR_FILENAME": "/spool/rec-0.wav", idVar: "0x7f0"}},
			true, "", []string{"MixMonitor", "Getvar", "Getvar"}},
		{"no MixMonitor, read twice", &cutAMI{vars: map[string]string{}},
			true, "", []string{"MixMonitor", "Getvar", "Getvar"}},
		{"the read fails", &cutAMI{getErr: readErr},
			true, "", []string{"MixMonitor", "Getvar"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Recorder{AMI: tt.ami, AsteriskDir: "/spool", LocalDir: t.TempDir()}
			r := &engine.Recording{ID: "rec-1", Channel: "PJSIP/235-0000002a", Uniqueid: "1764774395.81"}
			err := m.Start(context.Background(), r)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Start = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ami.ErrNoAnswer) {
				t.Errorf("Start = %v, want it to wrap ami.ErrNoAnswer", err)
			}
			if r.BackendID != tt.wantID {
				t.Errorf("BackendID = %q, want %q", r.BackendID, tt.wantID)
			}
			if !slices.Equal(tt.ami.got, tt.want) {
				t.Errorf("actions %v, want %v", tt.ami.got, tt.want)
			}
		})
	}
}

// stopAMI answers a Getvar with id (or getErr), and each StopMixMonitor
// in turn with stops (nil, or past its end: done); it keeps each action
// with its Channel, Variable and MixMonitorID headers.
type stopAMI struct {
	id     string
	getErr error
	stops  []error
	got    []string
}

func (s *stopAMI) Action(_ context.Context, action string, h ...ami.Header) (*ami.Message, error) {
	line := action
	for _, x := range h {
		switch x.Key {
		case "Channel", "Variable", "MixMonitorID":
			line += " " + x.Key + "=" + x.Value
		}
	}
	s.got = append(s.got, line)
	switch {
	case action == "Getvar" && s.getErr != nil:
		return nil, s.getErr
	case action == "Getvar":
		return ami.NewMessage(ami.Header{Key: "Response", Value: "Success"}, ami.Header{Key: "Value", Value: s.id}), nil
	case action == "StopMixMonitor" && len(s.stops) > 0:
		err := s.stops[0]
		s.stops = s.stops[1:]
		if err != nil {
			return nil, err
		}
	}
	return ami.NewMessage(ami.Header{Key: "Response", Value: "Success"}), nil
}

// actions are the names of the actions s received, in order.
func (s *stopAMI) actions() []string {
	var names []string
	for _, l := range s.got {
		names = append(names, strings.Fields(l)[0])
	}
	return names
}

// stopIDs are the MixMonitor IDs the StopMixMonitors named ("" for none).
func (s *stopAMI) stopIDs() []string {
	var ids []string
	for _, l := range s.got {
		if strings.HasPrefix(l, "StopMixMonitor ") {
			_, id, _ := strings.Cut(l, " MixMonitorID=")
			ids = append(ids, id)
		}
	}
	return ids
}

// TestStopSendsAgainAStopWhoseAnswerWasCut: a StopMixMonitor whose
// session ended before its answer, or whose answer came too late, is sent
// again by its MixMonitor ID; an
// answer that finds no such MixMonitor or channel means it is stopped.
// Without an ID, the one MixMonitor has set since is read first and
// named; when none is set (a second copy could stop another MixMonitor),
// or when the second copy fails otherwise, the stop fails and the marks
// stay.
func TestStopSendsAgainAStopWhoseAnswerWasCut(t *testing.T) {
	refused := func(msg string) error { return &ami.ActionError{Action: "StopMixMonitor", Message: msg} }
	timeout := fmt.Errorf("action StopMixMonitor: %w: %w", ami.ErrTimeout, context.DeadlineExceeded)
	tests := []struct {
		name      string
		backendID string
		idSince   string // the MixMonitor ID a Getvar reads
		first     error
		again     error
		wantErr   bool
		want      []string
	}{
		{"the second copy stops it", "0x7f1", "", nil, nil, false, []string{"StopMixMonitor", "StopMixMonitor", "Setvar", "Setvar"}},
		{"the first copy's answer late: sent again", "0x7f1", "", timeout, nil, false, []string{"StopMixMonitor", "StopMixMonitor", "Setvar", "Setvar"}},
		{"the first copy had stopped it", "0x7f1", "", nil, refused("Could not stop monitoring channel"), false, []string{"StopMixMonitor", "StopMixMonitor", "Setvar", "Setvar"}},
		{"the channel ended", "0x7f1", "", nil, refused("No such channel"), false, []string{"StopMixMonitor", "StopMixMonitor", "Setvar", "Setvar"}},
		{"the second copy refused otherwise", "0x7f1", "", nil, refused("Permission denied"), true, []string{"StopMixMonitor", "StopMixMonitor"}},
		{"the second copy cut too", "0x7f1", "", nil, fmt.Errorf("action StopMixMonitor: %w: %w", ami.ErrNotConnected, ami.ErrNoAnswer), true, []string{"StopMixMonitor", "StopMixMonitor"}},
		{"no MixMonitor ID, none set since: not sent again", "", "", nil, nil, true, []string{"Getvar", "StopMixMonitor"}},
		{"no MixMonitor ID, the one set since named and sent again", "", "0x7f1", nil, nil, false, []string{"Getvar", "StopMixMonitor", "StopMixMonitor", "Setvar", "Setvar"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cut := fmt.Errorf("action StopMixMonitor: %w: %w", ami.ErrNotConnected, ami.ErrNoAnswer)
			a := &stopAMI{id: tt.idSince, stops: []error{cmp.Or(tt.first, cut), tt.again}}
			m := &Recorder{AMI: a, AsteriskDir: "/spool", LocalDir: t.TempDir()}
			r := &engine.Recording{ID: "rec-1", Channel: "PJSIP/235-0000002a", Uniqueid: "1764774395.81", BackendID: tt.backendID}
			err := m.Stop(context.Background(), r)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Stop = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !uncertain(err) {
				t.Errorf("Stop = %v, want it to wrap the first copy's error", err)
			}
			if !slices.Equal(a.actions(), tt.want) {
				t.Errorf("actions %v, want %v", a.actions(), tt.want)
			}
			wantID := cmp.Or(tt.backendID, tt.idSince)
			for _, id := range a.stopIDs() {
				if id != wantID {
					t.Errorf("a stop named MixMonitor ID %q, want %q", id, wantID)
				}
			}
		})
	}
}

// TestStopWithoutIDReadsTheIDSetSince: a recording whose MixMonitor ID is
// unknown is stopped by the one MixMonitor has set since, read on the
// channel first; none set, or a read that fails, stops it without an ID
// as before (a failure then names the read's too); on a picker's channel
// nothing is read (its variable may be the picker's own recording's).
func TestStopWithoutIDReadsTheIDSetSince(t *testing.T) {
	const uid, picker = "1764774395.81", "1764774395.90"
	readErr := &ami.ActionError{Action: "Getvar", Message: "Permission denied"}
	stopErr := &ami.ActionError{Action: "StopMixMonitor", Message: "Permission denied"}
	getvar := "Getvar Channel=" + uid + " Variable=" + idVar
	unmark := []string{
		"Setvar Channel=" + uid + " Variable=" + engine.MarkVar,
		"Setvar Channel=" + uid + " Variable=" + idVar,
	}
	tests := []struct {
		name     string
		ami      *stopAMI
		movedTo  string
		wantErrs []error // what a failed Stop wraps; nil: Stop succeeds
		want     []string
	}{
		{"the ID set since is named", &stopAMI{id: "0x7f1"}, "", nil,
			append([]string{getvar, "StopMixMonitor Channel=" + uid + " MixMonitorID=0x7f1"}, unmark...)},
		{"none set since: stopped without an ID", &stopAMI{}, "", nil,
			append([]string{getvar, "StopMixMonitor Channel=" + uid}, unmark...)},
		{"the read fails: stopped without an ID", &stopAMI{getErr: readErr}, "", nil,
			append([]string{getvar, "StopMixMonitor Channel=" + uid}, unmark...)},
		{"the read and the stop fail: both named", &stopAMI{getErr: readErr, stops: []error{stopErr}}, "", []error{readErr, stopErr},
			[]string{getvar, "StopMixMonitor Channel=" + uid}},
		{"on a picker's channel: not read", &stopAMI{id: "0x7f9"}, picker, nil,
			[]string{"StopMixMonitor Channel=" + picker}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Recorder{AMI: tt.ami, AsteriskDir: "/spool", LocalDir: t.TempDir()}
			r := &engine.Recording{ID: "rec-1", Channel: "PJSIP/235-0000002a", Uniqueid: uid, MovedTo: tt.movedTo}
			err := m.Stop(context.Background(), r)
			if (err != nil) != (tt.wantErrs != nil) {
				t.Fatalf("Stop = %v, want error %v", err, tt.wantErrs != nil)
			}
			for _, want := range tt.wantErrs {
				if !errors.Is(err, want) {
					t.Errorf("Stop = %v, want it to wrap %v", err, want)
				}
			}
			if !slices.Equal(tt.ami.got, tt.want) {
				t.Errorf("actions\n%q\nwant\n%q", tt.ami.got, tt.want)
			}
			if r.BackendID != "" {
				t.Errorf("BackendID = %q, want it left unset", r.BackendID)
			}
		})
	}
}
