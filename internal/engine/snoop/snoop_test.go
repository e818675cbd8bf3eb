package snoop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/villedemercier/recpolicy/ami"
	"github.com/villedemercier/recpolicy/ari"
	"github.com/villedemercier/recpolicy/internal/engine"
)

// fakeSnooper records the calls the Snoop recorder makes to ARI.
type fakeSnooper struct {
	mu        sync.Mutex
	calls     []string
	recordErr error
	onRecord  func() // called by Record, before it returns
}

func (f *fakeSnooper) log(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeSnooper) Record(_ context.Context, channelID, _ string, snoops ...ari.Snoop) error {
	for _, sn := range snoops {
		f.log("record " + channelID + " " + sn.ID + " " + sn.Name + " " + sn.Spy)
	}
	if f.onRecord != nil {
		f.onRecord()
	}
	return f.recordErr
}
func (f *fakeSnooper) Stop(_ context.Context, snoopID, name string) error {
	f.log("stop " + snoopID + " " + name)
	return nil
}
func (f *fakeSnooper) Release(snoopID string) { f.log("release " + snoopID) }

// running reports whether a snoop channel was recorded and neither
// stopped nor released since.
func (f *fakeSnooper) running() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	live := map[string]bool{}
	for _, c := range f.calls {
		w := strings.Fields(c)
		switch w[0] {
		case "record":
			live[w[2]] = true
		case "stop", "release":
			delete(live, w[1])
		}
	}
	return len(live) > 0
}
func (f *fakeSnooper) Adopt(channelID, snoopID, name string) {
	f.log("adopt " + channelID + " " + snoopID + " " + name)
}

// fakeAMI answers Setvar and Getvar from a map of channel variables.
type fakeAMI struct {
	mu   sync.Mutex
	vars map[string]string // channel/variable → value
	acts []string
}

func (f *fakeAMI) Action(_ context.Context, action string, headers ...ami.Header) (*ami.Message, error) {
	h := map[string]string{}
	for _, x := range headers {
		h[x.Key] = x.Value
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acts = append(f.acts, action+" "+h["Channel"]+" "+h["Variable"]+"="+h["Value"])
	key := h["Channel"] + "/" + h["Variable"]
	switch action {
	case "Setvar":
		f.vars[key] = h["Value"]
		return ami.NewMessage(ami.Header{Key: "Response", Value: "Success"}), nil
	case "Getvar":
		return ami.NewMessage(ami.Header{Key: "Response", Value: "Success"}, ami.Header{Key: "Value", Value: f.vars[key]}), nil
	}
	return nil, errors.New("unexpected action " + action)
}

func newSnoopForTest(t *testing.T) (*Recorder, *fakeSnooper, *fakeAMI) {
	t.Helper()
	sn := &fakeSnooper{}
	a := &fakeAMI{vars: map[string]string{}}
	dir := t.TempDir()
	f := engine.NewFiler(dir, t.TempDir(), time.Second, zerolog.Nop(), engine.NewMetrics(prometheus.NewRegistry()), nil)
	return &Recorder{ARI: sn, AMI: a, AsteriskDir: "/var/spool/asterisk/recording", LocalDir: dir, Filer: f}, sn, a
}

// TestSnoopStartMarksAndRecords: the mark and the snoop channels go out
// together; Stop clears the mark.
func TestSnoopStartMarksAndRecords(t *testing.T) {
	s, sn, a := newSnoopForTest(t)
	r := &engine.Recording{ID: "1700000000-235-inbound-1700000000.12-1", Channel: "PJSIP/235-00000001", Uniqueid: "1700000000.12"}
	if err := s.Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if r.AsteriskPath != "/var/spool/asterisk/recording/"+r.ID+".wav" {
		t.Errorf("asterisk path %q", r.AsteriskPath)
	}
	if r.BackendID != "recpolicy-snoop-"+r.ID {
		t.Errorf("backend id %q", r.BackendID)
	}
	if got := a.vars["1700000000.12/RECPOLICY_REC"]; got != r.ID {
		t.Errorf("RECPOLICY_REC = %q, want %q", got, r.ID)
	}
	// One snoop per direction: the extension's voice (in), what it hears (out).
	want := []string{"record 1700000000.12 " + r.BackendID + ".in " + r.ID + ".in in", "record 1700000000.12 " + r.BackendID + ".out " + r.ID + ".out out"}
	if !slices.Equal(sn.calls, want) {
		t.Errorf("ari calls %q, want %q", sn.calls, want)
	}
	if len(r.Parts) != 2 || r.Parts[0] != filepath.Join(s.LocalDir, r.ID+".in.wav") || r.Parts[1] != filepath.Join(s.LocalDir, r.ID+".out.wav") {
		t.Errorf("parts %q", r.Parts)
	}

	if err := s.Stop(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if got := a.vars["1700000000.12/RECPOLICY_REC"]; got != "" {
		t.Errorf("after Stop, RECPOLICY_REC = %q, want cleared", got)
	}
	s.Finish(r)
	want = []string{"stop " + r.BackendID + ".in " + r.ID + ".in", "stop " + r.BackendID + ".out " + r.ID + ".out", "release " + r.BackendID + ".in", "release " + r.BackendID + ".out"}
	if !slices.Equal(sn.calls[2:], want) {
		t.Errorf("ari calls %q, want %q", sn.calls[2:], want)
	}
}

func TestSnoopStartFailureClearsMark(t *testing.T) {
	s, sn, a := newSnoopForTest(t)
	sn.recordErr = errors.New("record channel: ari status 500")
	r := &engine.Recording{ID: "1700000000-235-inbound-1700000000.12-1", Channel: "PJSIP/235-00000001", Uniqueid: "1700000000.12"}
	if err := s.Start(context.Background(), r); err == nil {
		t.Fatal("Start succeeded although ARI failed")
	}
	if got := a.vars["1700000000.12/RECPOLICY_REC"]; got != "" {
		t.Errorf("RECPOLICY_REC = %q after a failed start, want cleared", got)
	}
}

// heldAMI holds each Setvar until release is closed (at most 2 s).
type heldAMI struct {
	*fakeAMI
	release chan struct{}
}

func (h heldAMI) Action(ctx context.Context, action string, headers ...ami.Header) (*ami.Message, error) {
	if action == "Setvar" {
		select {
		case <-h.release:
		case <-time.After(2 * time.Second):
			return nil, errors.New("setvar held: the snoop channels were not asked for meanwhile")
		}
	}
	return h.fakeAMI.Action(ctx, action, headers...)
}

// TestSnoopStartDoesNotWaitForTheMark: the snoop channels are asked for
// while the mark's Setvar is still unanswered.
func TestSnoopStartDoesNotWaitForTheMark(t *testing.T) {
	s, sn, a := newSnoopForTest(t)
	release := make(chan struct{})
	s.AMI = heldAMI{fakeAMI: a, release: release}
	sn.onRecord = func() { close(release) }
	r := &engine.Recording{ID: "1700000000-235-inbound-1700000000.12-1", Channel: "PJSIP/235-00000001", Uniqueid: "1700000000.12"}
	if err := s.Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if got := a.vars["1700000000.12/RECPOLICY_REC"]; got != r.ID {
		t.Errorf("RECPOLICY_REC = %q, want %q", got, r.ID)
	}
}

// TestSnoopStartBothFailing: a start whose snoop channels and mark both
// failed reports both.
func TestSnoopStartBothFailing(t *testing.T) {
	s, sn, a := newSnoopForTest(t)
	noSuch := &ami.ActionError{Action: "Setvar", Message: "No such channel"}
	ariErr := errors.New("record channel: ari status 500")
	s.AMI = bootAMI{fakeAMI: a, boot: "2026-12-03 15:06:35", refuse: noSuch}
	sn.recordErr = ariErr
	r := &engine.Recording{ID: "1700000000-235-inbound-1700000000.12-1", Channel: "PJSIP/235-00000001", Uniqueid: "1700000000.12", Boot: "2026-12-03 15:06:35"}
	err := s.Start(context.Background(), r)
	if !errors.Is(err, ariErr) || !errors.Is(err, noSuch) {
		t.Fatalf("Start = %v, want both the snoop channels' and the mark's errors", err)
	}
}

func TestSnoopStartRefusesUnsafeID(t *testing.T) {
	s, sn, _ := newSnoopForTest(t)
	r := &engine.Recording{ID: "../etc/passwd", Channel: "PJSIP/235-00000001", Uniqueid: "1.2"}
	if err := s.Start(context.Background(), r); !errors.Is(err, engine.ErrUnsafeName) {
		t.Fatalf("Start = %v, want engine.ErrUnsafeName", err)
	}
	if len(sn.calls) != 0 {
		t.Errorf("ari called: %q", sn.calls)
	}
}

func TestSnoopRunningAdopts(t *testing.T) {
	s, sn, a := newSnoopForTest(t)
	id := "1700000000-235-outbound-1700000000.7-2"
	a.vars["PJSIP/235-00000002/RECPOLICY_REC"] = id
	gotID, backend, err := s.Running(context.Background(), "PJSIP/235-00000002")
	if err != nil {
		t.Fatal(err)
	}
	if gotID != id || backend != ID(id) {
		t.Errorf("Running = %q, %q", gotID, backend)
	}
	if want := []string{"adopt 1700000000.7 " + ID(id) + ".in " + id + ".in", "adopt 1700000000.7 " + ID(id) + ".out " + id + ".out"}; !slices.Equal(sn.calls, want) {
		t.Errorf("ari calls %q, want %q", sn.calls, want)
	}
	if id, _, err := s.Running(context.Background(), "PJSIP/250-00000003"); err != nil || id != "" {
		t.Errorf("unmarked channel: Running = %q, %v", id, err)
	}
}

// TestSnoopMixed: with the parties mixed, one snoop channel spies on both
// directions into <ID>.wav, and there are no parts to interleave.
func TestSnoopMixed(t *testing.T) {
	s, sn, _ := newSnoopForTest(t)
	s.Mixed = true
	r := &engine.Recording{ID: "1700000000-235-inbound-1700000000.12-1", Channel: "PJSIP/235-00000001", Uniqueid: "1700000000.12"}
	if err := s.Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if want := []string{"record 1700000000.12 " + ID(r.ID) + " " + r.ID + " both"}; !slices.Equal(sn.calls, want) {
		t.Errorf("ari calls %q, want %q", sn.calls, want)
	}
	if len(r.Parts) != 0 || r.LocalPath != filepath.Join(s.LocalDir, r.ID+".wav") {
		t.Errorf("parts %q, local path %q", r.Parts, r.LocalPath)
	}
}

// bootAMI is a fakeAMI connected to run boot, which sends on that run
// only; refuse, when set, answers what is sent on the run instead.
type bootAMI struct {
	*fakeAMI
	boot   string
	refuse error
}

func (b bootAMI) ActionOnBoot(ctx context.Context, boot, action string, h ...ami.Header) (*ami.Message, error) {
	if b.refuse != nil {
		return nil, b.refuse
	}
	if boot == "" || boot != b.boot {
		return nil, fmt.Errorf("action %s: %w", action, ami.ErrOtherBoot)
	}
	return b.Action(ctx, action, h...)
}

// The mark of a recording whose run is connected names the channel by its
// name (a hash lookup for Asterisk, not a walk of every channel), and so
// does its removal after a failed start; ARI still gets the unique ID.
func TestSnoopMarkNamesTheChannelOnItsRun(t *testing.T) {
	const run = "2026-12-03 15:06:35"
	for _, fail := range []bool{false, true} {
		s, sn, a := newSnoopForTest(t)
		s.AMI = bootAMI{fakeAMI: a, boot: run}
		if fail {
			sn.recordErr = errors.New("record channel: ari status 500")
		}
		r := &engine.Recording{ID: "1700000000-235-inbound-1700000000.12-1", Channel: "PJSIP/235-00000001", Uniqueid: "1700000000.12", Boot: run}
		err := s.Start(context.Background(), r)
		if (err != nil) != fail {
			t.Fatalf("ARI failing %v: Start = %v", fail, err)
		}
		want := []string{"Setvar PJSIP/235-00000001 RECPOLICY_REC=" + r.ID}
		if fail {
			want = append(want, "Setvar PJSIP/235-00000001 RECPOLICY_REC=")
		}
		if !slices.Equal(a.acts, want) {
			t.Errorf("ARI failing %v: AMI actions %q, want %q", fail, a.acts, want)
		}
		if len(sn.calls) == 0 || !strings.HasPrefix(sn.calls[0], "record 1700000000.12 ") {
			t.Errorf("ARI failing %v: ari calls %q, want the snoop asked by unique ID", fail, sn.calls)
		}
	}
}

// The mark of a recording whose run has no session connected names the
// channel by its unique ID, and counts it; a mark refused by name is not
// tried again by unique ID, and the snoop channels asked for meanwhile are
// stopped.
func TestSnoopMarkFallsBackToTheUniqueID(t *testing.T) {
	const run = "2026-12-03 15:06:35"
	noSuch := &ami.ActionError{Action: "Setvar", Message: "No such channel"}
	for _, tt := range []struct {
		name     string
		ami      func(*fakeAMI) engine.Actioner
		wantErr  error
		wantActs []string
		wantUID  float64
		wantLeft bool // a snoop channel left running
	}{
		{"sessions on another run", func(a *fakeAMI) engine.Actioner { return bootAMI{fakeAMI: a, boot: "2026-12-03 15:20:00"} },
			nil, []string{"Setvar 1700000000.12 RECPOLICY_REC=" + "1700000000-235-inbound-1700000000.12-1"}, 1, true},
		{"refused by name", func(a *fakeAMI) engine.Actioner { return bootAMI{fakeAMI: a, boot: run, refuse: noSuch} },
			noSuch, nil, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, sn, a := newSnoopForTest(t)
			byUID := prometheus.NewCounter(prometheus.CounterOpts{Name: "by_uniqueid"})
			s.AMI, s.ByUniqueid = tt.ami(a), byUID
			r := &engine.Recording{ID: "1700000000-235-inbound-1700000000.12-1", Channel: "PJSIP/235-00000001", Uniqueid: "1700000000.12", Boot: run}
			if err := s.Start(context.Background(), r); !errors.Is(err, tt.wantErr) {
				t.Fatalf("Start = %v, want %v", err, tt.wantErr)
			}
			if !slices.Equal(a.acts, tt.wantActs) {
				t.Errorf("AMI actions %q, want %q", a.acts, tt.wantActs)
			}
			if n := testutil.ToFloat64(byUID); n != tt.wantUID {
				t.Errorf("marks by unique ID counted %v, want %v", n, tt.wantUID)
			}
			if got := sn.running(); got != tt.wantLeft {
				t.Errorf("ari calls %q, want a snoop channel left: %v", sn.calls, tt.wantLeft)
			}
		})
	}
}

// TestSnoopAnsweredWritesEachPartsTime: the answer time the tracker hands
// over is written beside each direction's file, for the filer's cut.
func TestSnoopAnsweredWritesEachPartsTime(t *testing.T) {
	s, _, _ := newSnoopForTest(t)
	s.Times = &engine.AnswerTimes{Dir: s.LocalDir, Log: zerolog.Nop()}
	r := &engine.Recording{ID: "1700000000-235-inbound-1700000000.12-1", Channel: "PJSIP/235-00000001", Uniqueid: "1700000000.12"}
	at := time.Date(2026, 12, 5, 14, 3, 7, 250_000_000, time.UTC)
	s.Answered(r, at)
	for _, suffix := range engine.PartSuffixes {
		b, err := os.ReadFile(filepath.Join(s.LocalDir, r.ID+suffix+".times"))
		if err != nil {
			t.Fatal(err)
		}
		if want := "answered 2026-12-05T14:03:07.25Z\n"; string(b) != want {
			t.Errorf("%s: %q, want %q", suffix, b, want)
		}
	}
}
