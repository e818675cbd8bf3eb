// Package mixmonitor is the recorder backend that records with Asterisk's
// MixMonitor, started and stopped over AMI.
package mixmonitor

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
	"github.com/villedemercier/recpolicy/internal/engine"
)

// Recorder records channels with Asterisk's MixMonitor, started and
// stopped over AMI. Asterisk writes into AsteriskDir; the daemon sees the
// same directory as LocalDir.
type Recorder struct {
	AMI         engine.Actioner
	AsteriskDir string
	LocalDir    string
	Filer       *engine.Filer
	// Mixed records both parties on one channel (no option D).
	Mixed bool
	// ByUniqueid, when set, counts the starts that named the channel by
	// its unique ID (see Start).
	ByUniqueid prometheus.Counter
}

// idVar is the channel variable MixMonitor stores its id in (option i).
const idVar = "RECPOLICY_MIXMON_ID"

// Start begins recording r.Channel into <AsteriskDir>/<r.ID>.wav, with
// option b: only while the channel is bridged, so the caller's audio that
// Dial passes to a ringing phone is not in the recording, and a leg that
// never answers leaves an empty file that the filer discards. Asterisk
// writes the WAV header's lengths when it closes the file: that is how the
// filer knows the recording is complete (MixMonitor's Command option would
// need the AMI 'system' right, which the daemon does not ask for).
//
// The channel is named as engine.SendToChannel says: by its name on an AMI
// session of its run of Asterisk, else by its unique ID.
func (m *Recorder) Start(ctx context.Context, r *engine.Recording) error {
	if strings.ContainsAny(r.ID, ",|()\r\n/ ") || r.Uniqueid == "" || strings.ContainsAny(r.Uniqueid, ",\r\n") {
		return fmt.Errorf("start mixmonitor on %s: %w: %q", r.Channel, engine.ErrUnsafeName, r.ID)
	}
	if r.AsteriskPath == "" {
		m.Paths(r)
	}
	resp, ref, err := engine.SendToChannel(ctx, m.AMI, r, m.ByUniqueid, "MixMonitor",
		ami.Header{Key: "File", Value: r.AsteriskPath},
		// b: only while bridged; i(var): its ID in a channel variable; D:
		// each party on its own channel (left what the extension's channel
		// receives from its phone, right what it sends to it).
		ami.Header{Key: "Options", Value: m.options()})
	if uncertain(err) {
		// The session ended between the action's write and its answer,
		// or the answer is late: Asterisk may have started it. Read it
		// back rather than fail a recording that runs (a violation, and
		// a second MixMonitor when the start is tried again, which the
		// recording's stop would not end).
		backendID, started, rerr := m.startedAnyway(ctx, r, ref)
		if started {
			return m.mark(ctx, r, ref, backendID)
		}
		if rerr != nil {
			err = errors.Join(err, fmt.Errorf("read whether it started: %w", rerr))
		}
	}
	if err != nil {
		return fmt.Errorf("start mixmonitor on %s: %w", r.Channel, err)
	}
	// The mark goes the same way (by name: on a session of the same run).
	return m.mark(ctx, r, ref, strings.Clone(resp.Get("MixMonitorID")))
}

// uncertain tells whether err leaves an action's outcome unknown: its
// session ended after it was written (ami.ErrNoAnswer), or its answer did
// not come in time (ami.ErrTimeout).
func uncertain(err error) bool {
	return errors.Is(err, ami.ErrNoAnswer) || errors.Is(err, ami.ErrTimeout)
}

// startedAnyway's pace: the file name is read again once, recheckAfter
// later, when it is not the start's; the ID is read idReadGap after the
// file name, and again while it is not set, at most idReads times.
const (
	recheckAfter = time.Second
	idReads      = 5
	idReadGap    = 50 * time.Millisecond
)

// startedAnyway tells whether r's MixMonitor, whose outcome is unknown
// (uncertain), started all the same, and its MixMonitor ID, reading the
// channel's variables through ref (on another connected session at
// once, or once one is back: engine.Patient). MixMonitor names its file
// in MIXMONITOR_FILENAME before it starts, then its ID in idVar, in the
// one call that carries out the action: the file name is r's own path
// only if this start's action ran (each start has its own ID, hence its
// own path). Not yet when first read may be an action that Asterisk
// still holds behind the cut session's earlier ones: it is read again
// recheckAfter later. The ID is read idReadGap after the file name (an
// earlier MixMonitor's, left on the channel by a stop that could not
// clear it, is then overwritten), and again while it is not set. Not
// started when read twice does not mean never: an action still queued
// may run later, which the scan for leftovers then files. started with
// an error: it runs, its ID unknown (Stop then names none).
func (m *Recorder) startedAnyway(ctx context.Context, r *engine.Recording, ref engine.ChannelRef) (backendID string, started bool, err error) {
	get := func(v string) (string, error) { return getvar(ctx, ref, v) }
	pause := func(d time.Duration) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
			return nil
		}
	}
	f, err := get("MIXMONITOR_FILENAME")
	if err == nil && f != r.AsteriskPath {
		if err = pause(recheckAfter); err == nil {
			f, err = get("MIXMONITOR_FILENAME")
		}
	}
	if err != nil || f != r.AsteriskPath {
		return "", false, err
	}
	for i := 1; ; i++ {
		if err := pause(idReadGap); err != nil {
			return "", true, err
		}
		id, err := get(idVar)
		if err != nil || id != "" || i == idReads {
			return id, true, err
		}
	}
}

// mark keeps MixMonitor's ID backendID and marks the channel (named and
// reached through ref) with the recording's ID.
func (m *Recorder) mark(ctx context.Context, r *engine.Recording, ref engine.ChannelRef, backendID string) error {
	r.BackendID = backendID
	// Mark the channel, so that after a reconnect or a daemon restart the
	// recording is adopted instead of started twice.
	// This runs off the event loop (Pipeline), after the recording already
	// runs: it costs the call nothing. Should it fail, Running still finds
	// the recording from MixMonitor's own variables.
	if _, err := ref.Action(ctx, "Setvar", engine.MarkHeaders(r.ID)...); err != nil {
		return fmt.Errorf("mark recording on %s: %w", r.Channel, err)
	}
	return nil
}

// Running tells which recording of ours runs on a channel (by unique ID),
// from the mark Start set, or else from MixMonitor's own variables (its
// id, and MIXMONITOR_FILENAME when the file is in our spool): its ID and
// MixMonitor ID, or "" when none.
func (m *Recorder) Running(ctx context.Context, uniqueid string) (id, backendID string, err error) {
	ref := engine.ChannelRef{Channel: uniqueid, Send: m.AMI.Action}
	get := func(v string) (string, error) { return getvar(ctx, ref, v) }
	if backendID, err = get(idVar); err != nil || backendID == "" {
		return "", "", err
	}
	if id, err = get(engine.MarkVar); err != nil {
		return "", "", err
	}
	if id == "" {
		// Started, but the daemon stopped before marking it.
		f, err := get("MIXMONITOR_FILENAME")
		if err != nil {
			return "", "", err
		}
		if path.Dir(f) != path.Clean(m.AsteriskDir) || !strings.HasSuffix(f, ".wav") {
			return "", "", nil
		}
		id = strings.TrimSuffix(path.Base(f), ".wav")
	}
	return id, backendID, nil
}

// getvar reads channel variable v on the channel ref names.
func getvar(ctx context.Context, ref engine.ChannelRef, v string) (string, error) {
	resp, err := ref.Action(ctx, "Getvar", ami.Header{Key: "Variable", Value: v})
	if err != nil {
		return "", fmt.Errorf("read %s on %s: %w", v, ref.Channel, err)
	}
	return strings.Clone(resp.Get("Value")), nil
}

// Paths sets r's spool paths from its ID.
func (m *Recorder) Paths(r *engine.Recording) {
	r.AsteriskPath = path.Join(m.AsteriskDir, r.ID+".wav")
	r.LocalPath = filepath.Join(m.LocalDir, r.ID+".wav")
}

// Stop ends the recording by its MixMonitor id, so a recording started
// later on the same channel is left alone, on the channel that carries it
// now (engine.Recording.StopOn: after a call pickup, the picker's).
//
// A recording whose MixMonitor ID is unknown (a start read back whose
// ID could not be read) is stopped by the ID MixMonitor has set since
// (idVar), read first: a StopMixMonitor without one ends the channel's
// newest MixMonitor (Asterisk finds the first of its datastores, the
// last added), which may be another's (a queue's, the dialplan's). Not
// on a picker's channel, whose idVar may be its own recording's. When
// that read fails, the stop goes without an ID, and its failure names
// the read's.
func (m *Recorder) Stop(ctx context.Context, r *engine.Recording) error {
	backendID := r.BackendID
	var readErr error
	if backendID == "" && r.MovedTo == "" {
		backendID, readErr = getvar(ctx, engine.ChannelRef{Channel: r.StopOn(), Send: m.AMI.Action}, idVar)
	}
	h := []ami.Header{{Key: "Channel", Value: r.StopOn()}}
	if backendID != "" {
		h = append(h, ami.Header{Key: "MixMonitorID", Value: backendID})
	}
	if _, err := m.AMI.Action(ctx, "StopMixMonitor", h...); err != nil {
		if !uncertain(err) || backendID == "" {
			return fmt.Errorf("stop mixmonitor on %s: %w", r.StopOn(), errors.Join(err, readErr))
		}
		// The session ended between the stop's write and its answer, or
		// the answer is late: it may not have run, and the recording
		// would then go on.
		if aerr := m.stopAgain(ctx, h); aerr != nil {
			return fmt.Errorf("stop mixmonitor on %s: %w", r.StopOn(), errors.Join(err, fmt.Errorf("send it again: %w", aerr)))
		}
	}
	if r.MovedTo != "" {
		// The marks sit on the picker's channel now, where its own
		// recording, started by another pipeline worker, may have just set
		// them: they are left alone (a stale one is discarded again at a
		// reconciliation).
		return nil
	}
	for _, v := range []string{engine.MarkVar, idVar} {
		if _, err := m.AMI.Action(ctx, "Setvar", ami.Header{Key: "Channel", Value: r.StopOn()},
			ami.Header{Key: "Variable", Value: v}, ami.Header{Key: "Value", Value: ""}); err != nil {
			return fmt.Errorf("unmark recording on %s: %w", r.Channel, err)
		}
	}
	return nil
}

// stopAgain sends once more a StopMixMonitor (headers h, naming its
// MixMonitor ID) whose outcome is unknown (uncertain): by its ID a second copy
// stops nothing else, whenever either runs. Asterisk's refusal to find
// it (gone) says it no longer runs: the first copy stopped it, or its
// channel ended.
func (m *Recorder) stopAgain(ctx context.Context, h []ami.Header) error {
	_, err := m.AMI.Action(ctx, "StopMixMonitor", h...)
	var ae *ami.ActionError
	if errors.As(err, &ae) && gone(ae.Message) {
		return nil
	}
	return err
}

// gone tells whether msg is Asterisk's answer to a StopMixMonitor that
// finds no such MixMonitor on the channel, or no such channel
// (app_mixmonitor.c's manager_stop_mixmonitor).
func gone(msg string) bool {
	return msg == "Could not stop monitoring channel" || msg == "No such channel"
}

// Finish hands the recording to the filer.
func (m *Recorder) Finish(r *engine.Recording) { m.Filer.Submit(r) }

// options are MixMonitor's: b (only while bridged), i (its id in idVar),
// and D (each party on its own channel) unless Mixed.
func (m *Recorder) options() string {
	if m.Mixed {
		return "bi(" + idVar + ")"
	}
	return "bi(" + idVar + ")D"
}
