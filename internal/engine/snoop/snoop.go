// Package snoop is the recorder backend that records through ARI: a snoop
// channel on the recorded channel, recorded in its own Stasis application.
package snoop

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/villedemercier/recpolicy/ami"
	"github.com/villedemercier/recpolicy/ari"
	"github.com/villedemercier/recpolicy/internal/engine"
)

// Snooper records channels through ARI snoop channels (ari.SnoopClient).
type Snooper interface {
	// Record starts recording channelID's audio (an Asterisk unique ID;
	// name is the channel's name, "" when unknown) through snoops, each a
	// snoop channel recorded into Asterisk's recording spool as
	// <Name>.wav; on failure none is left.
	Record(ctx context.Context, channelID, name string, snoops ...ari.Snoop) error
	// Stop stops the recording and hangs up its snoop channel.
	Stop(ctx context.Context, snoopID, name string) error
	// Release hangs up the snoop channel of a recording whose channel hung
	// up, in the background.
	Release(snoopID string)
	// Adopt takes over a recording started by an earlier connection or
	// process, in the background.
	Adopt(channelID, snoopID, name string)
}

// Recorder records channels through ARI: two snoop channels on the recorded
// channel, one spying on what it receives from its endpoint (the
// extension's voice), one on what Asterisk sends it (what the extension
// hears, the other party), each recorded into Asterisk's ARI recording
// directory (<astspooldir>/recording, which is AsteriskDir as Asterisk sees
// it and LocalDir as the daemon sees it) as <ID>.in.wav and <ID>.out.wav;
// the filer interleaves the two into one two-channel file (left the
// extension, right the other party), as MixMonitor's option D writes it.
// The recording starts as soon as its snoop channels exist, most often
// while the channel rings, and the filer cuts what it holds from before
// the answer, from the PBX's times written beside each file
// (engine.AnswerTimes): the recording's start, end and channel's answer,
// which the ARI client reads from its events (see ari.SnoopClient), and
// the channel's answer again, which the tracker reads from AMI (Newstate)
// and hands over through Answered, for an answer the ARI client saw only
// as a state (it came before the subscription, on a channel the client
// does not know through its endpoint's subscription). The audio Dial passes to
// a ringing phone is not filed, and a leg that never answers files
// nothing. Like MixMonitor, the recorded channel carries the recording's
// ID in RECPOLICY_REC (set over AMI), for adoption after a
// reconnect or a restart.
type Recorder struct {
	ARI         Snooper
	AMI         engine.Actioner
	AsteriskDir string
	LocalDir    string
	Filer       *engine.Filer
	// Mixed records both parties through one snoop channel spying on both
	// directions, into one mixed channel (<ID>.wav): half the snoop
	// channels, for a PBX that cannot carry two per call.
	Mixed bool
	// ByUniqueid, when set, counts the starts whose mark named the channel
	// by its unique ID (see engine.SendToChannel).
	ByUniqueid prometheus.Counter
	// Times keeps the recorded channel's answer time from AMI beside each
	// file (Answered), with the ARI client's own; nil writes none of
	// AMI's, and the cut then rests on the ARI client's alone.
	Times *engine.AnswerTimes
}

// Answered writes the answer time of r's channel (zero: found Up, since
// when unknown) beside each of r's files; the filer cuts what they hold
// from before it. It implements engine.AnswerNoter.
func (s *Recorder) Answered(r *engine.Recording, at time.Time) {
	if s.Times == nil {
		return
	}
	for _, d := range s.dirs() {
		s.Times.Answered(r.ID+d.suffix, at)
	}
}

// snoopIDPrefix starts the ID of every snoop channel the daemon creates;
// the rest is the recording's ID, so the snoop channels of a recording are
// known from its ID alone.
const snoopIDPrefix = "recpolicy-snoop-"

// ID returns the recording id's backend ID, the stem of its snoop
// channels' IDs.
func ID(id string) string { return snoopIDPrefix + id }

// direction is one snoop of a recording: which way it spies, and the
// suffix of its snoop channel's ID and of its file's name.
type direction struct{ spy, suffix string }

// directions are a recording's two snoops, in the file's channel order:
// left the extension's voice, right what it hears.
var directions = [2]direction{{"in", engine.PartSuffixes[0]}, {"out", engine.PartSuffixes[1]}}

// mixed is the one snoop of a recording whose parties are mixed.
var mixed = []direction{{"both", ""}}

// dirs are the recorder's snoops per recording.
func (s *Recorder) dirs() []direction {
	if s.Mixed {
		return mixed
	}
	return directions[:]
}

// snoopID is the snoop channel of direction d of the recording whose
// backend ID is backendID.
func snoopID(backendID string, d direction) string { return backendID + d.suffix }

// Start marks r.Channel with r.ID and starts the snoop channels and their
// recordings of <AsteriskDir>/<r.ID>.wav, both at once: under a burst the
// PBX can keep either request over a second, and the recording, which
// starts once its snoop channels exist, need not wait for the mark. Like
// MixMonitor's, a recording may thus run unmarked for that moment; a daemon stopped just then leaves its file to the scan for a
// crash's leftovers (engine.Filer.Orphans) instead of adoption, and starts
// the call's recording anew. When either fails, the snoop channels are
// stopped and a mark that was set is removed (on a context of their own:
// the start's may be what failed); a recording already running then
// keeps its file, which the scan for leftovers files when its times say
// its channel answered, and discards when they say it ended unanswered
// (see engine.AnswerTimes). The mark names the channel as
// engine.SendToChannel says (by its name on an AMI session of its run,
// else by its unique ID); the subscription and the snoop channels name it
// by name too, checked through ARI against the unique ID, which no channel
// of a later run has (it holds the channel's creation time): see
// ari.SnoopClient.Record.
func (s *Recorder) Start(ctx context.Context, r *engine.Recording) error {
	if strings.ContainsAny(r.ID, "/\\ \r\n") || r.ID == "" || r.Uniqueid == "" {
		return fmt.Errorf("start snoop on %s: %w: %q", r.Channel, engine.ErrUnsafeName, r.ID)
	}
	if r.AsteriskPath == "" {
		s.Paths(r)
	}
	r.BackendID = ID(r.ID)
	var (
		ref     engine.ChannelRef
		markErr error
		marked  = make(chan struct{})
	)
	go func() {
		defer close(marked)
		_, ref, markErr = engine.SendToChannel(ctx, s.AMI, r, s.ByUniqueid, "Setvar", engine.MarkHeaders(r.ID)...)
	}()
	// The two directions start together (one name check, one subscription
	// and read of the state unless the channel's endpoint's subscription
	// tells all, the two snoop channels created in parallel).
	snoops := make([]ari.Snoop, len(s.dirs()))
	for i, d := range s.dirs() {
		snoops[i] = ari.Snoop{ID: snoopID(r.BackendID, d), Name: r.ID + d.suffix, Spy: d.spy}
	}
	err := s.ARI.Record(ctx, r.Uniqueid, r.Channel, snoops...)
	<-marked
	// Undoing must not fail because the start's context ended; each
	// request keeps its client's own timeout.
	undo := context.WithoutCancel(ctx)
	switch {
	case err != nil:
		if markErr != nil {
			err = errors.Join(err, fmt.Errorf("mark recording: %w", markErr))
		} else if _, uerr := ref.Action(undo, "Setvar", engine.MarkHeaders("")...); uerr != nil {
			err = errors.Join(err, fmt.Errorf("unmark recording: %w", uerr))
		}
		return fmt.Errorf("start snoop on %s: %w", r.Channel, err)
	case markErr != nil:
		errs := append([]error{fmt.Errorf("mark recording on %s: %w", r.Channel, markErr)}, s.stopSnoops(undo, r)...)
		return errors.Join(errs...)
	}
	return nil
}

// stopSnoops stops r's recordings and hangs up their snoop channels; it
// returns what failed.
func (s *Recorder) stopSnoops(ctx context.Context, r *engine.Recording) []error {
	var errs []error
	for _, d := range s.dirs() {
		if err := s.ARI.Stop(ctx, snoopID(s.backendID(r), d), r.ID+d.suffix); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// mark sets RECPOLICY_REC on the channel, named by its unique ID ("" clears it).
func (s *Recorder) mark(ctx context.Context, uniqueid, id string) error {
	_, err := engine.ChannelRef{Channel: uniqueid, Send: s.AMI.Action}.Action(ctx, "Setvar", engine.MarkHeaders(id)...)
	return err
}

// Stop stops the recording (its file is kept), hangs up its snoop channel
// and clears the channel's mark (unless a call pickup moved it, see
// engine.Recording.MovedTo).
func (s *Recorder) Stop(ctx context.Context, r *engine.Recording) error {
	errs := s.stopSnoops(ctx, r)
	// After a call pickup the mark sits on the picker's channel, where its
	// own recording may have just set it: it is left alone then.
	if r.MovedTo == "" {
		if err := s.mark(ctx, r.Uniqueid, ""); err != nil {
			errs = append(errs, fmt.Errorf("unmark recording: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stop snoop on %s: %w", r.Channel, err)
	}
	return nil
}

// Finish hangs up the snoop channels if they are still there (so Asterisk
// closes the files now) and hands the recording to the filer.
func (s *Recorder) Finish(r *engine.Recording) {
	for _, d := range s.dirs() {
		s.ARI.Release(snoopID(s.backendID(r), d))
	}
	if r.LocalPath == "" {
		s.Paths(r)
	}
	s.Filer.Submit(r)
}

// Running tells which recording of ours runs on a channel, from the mark
// Start set: its ID and snoop channel ID, or "" when none. A marked
// recording is handed to the ARI client to adopt, which subscribes to the
// channel again (for its answer's time; the tracker tells AMI's too) and
// starts the recording if its snoop channel exists and it does not run.
func (s *Recorder) Running(ctx context.Context, channel string) (id, backendID string, err error) {
	// channel is the recorded channel's unique ID.
	resp, err := s.AMI.Action(ctx, "Getvar", ami.Header{Key: "Channel", Value: channel}, ami.Header{Key: "Variable", Value: engine.MarkVar})
	if err != nil {
		return "", "", fmt.Errorf("read %s on %s: %w", engine.MarkVar, channel, err)
	}
	id = strings.Clone(resp.Get("Value"))
	if id == "" {
		return "", "", nil
	}
	info, err := engine.ParseSpoolID(id)
	if err != nil {
		return "", "", fmt.Errorf("read %s on %s: %w", engine.MarkVar, channel, err)
	}
	backendID = ID(id)
	for _, d := range s.dirs() {
		s.ARI.Adopt(info.Uniqueid, snoopID(backendID, d), id+d.suffix)
	}
	return id, backendID, nil
}

// Paths sets r's spool paths from its ID: the two directions' files
// (Parts), and the name of the file they make together (LocalPath, never
// written in the spool).
func (s *Recorder) Paths(r *engine.Recording) {
	r.AsteriskPath = path.Join(s.AsteriskDir, r.ID+".wav")
	r.LocalPath = filepath.Join(s.LocalDir, r.ID+".wav")
	r.Parts = nil
	if s.Mixed {
		return
	}
	for _, d := range directions {
		r.Parts = append(r.Parts, filepath.Join(s.LocalDir, r.ID+d.suffix+".wav"))
	}
}

// backendID is r's snoop channel ID (derived from its ID when unset).
func (s *Recorder) backendID(r *engine.Recording) string {
	if r.BackendID != "" {
		return r.BackendID
	}
	return ID(r.ID)
}
