package engine

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// AnswerTimes keeps, beside a recording's file in the spool, the PBX's
// times of its start and of its channel's answer, one line each
// ("started <time>", "answered <time>", or "answered -" when the channel
// answered before the recording started, or when is not known), in
// <name>.times. A recording started while its channel still rang (the
// snoop backend, see ari.SnoopClient) holds pre-answer audio, which the
// filer cuts from these times, in this process or after a restart. It
// implements ari.Times.
type AnswerTimes struct {
	Dir string // the spool as the daemon sees it
	Log zerolog.Logger
}

// timesExt ends the name of a recording file's times, in place of .wav.
const timesExt = ".times"

// Started notes that the recording name started at the PBX's time at.
func (a AnswerTimes) Started(name string, at time.Time) { a.note(name, "started", at) }

// Answered notes that the channel of recording name answered at the PBX's
// time at (zero: before the recording started, or unknown).
func (a AnswerTimes) Answered(name string, at time.Time) { a.note(name, "answered", at) }

func (a AnswerTimes) note(name, what string, at time.Time) {
	if name == "" || strings.ContainsAny(name, "/\\\r\n") {
		a.Log.Warn().Str("recording", name).Msg("recording times: not a spool name; ignored")
		return
	}
	v := "-"
	if !at.IsZero() {
		v = at.UTC().Format(time.RFC3339Nano)
	}
	p := filepath.Join(a.Dir, name+timesExt)
	fh, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err == nil {
		_, err = fmt.Fprintf(fh, "%s %s\n", what, v)
		err = errors.Join(err, fh.Close())
	}
	if err != nil {
		a.Log.Warn().Err(err).Str("file", p).Msg("write recording times: what the recording holds from before the answer will be filed with it; check recording.local_dir's permissions")
	}
}

// timesPath is the times file of the spool file p (<name>.wav).
func timesPath(p string) string { return strings.TrimSuffix(p, ".wav") + timesExt }

// leadState is what a recording's times say of its pre-answer audio.
type leadState int

const (
	leadNone       leadState = iota // no times: nothing to cut
	leadKnown                       // cut the lead
	leadUnanswered                  // started, and never answered
)

// readLead reads the times of the spool file p: how long it recorded
// before its channel answered. A recording without times, or whose answer
// came without a time, has nothing to cut.
func readLead(p string) (time.Duration, leadState, error) {
	tp := timesPath(p)
	fh, err := os.Open(tp)
	if errors.Is(err, os.ErrNotExist) {
		return 0, leadNone, nil
	}
	if err != nil {
		return 0, leadNone, fmt.Errorf("read recording times: %w", err)
	}
	defer fh.Close()
	var started, answered time.Time
	var answerSeen bool
	sc := bufio.NewScanner(fh)
	for n := 1; sc.Scan(); n++ {
		what, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || (what != "started" && what != "answered") {
			return 0, leadNone, fmt.Errorf("read recording times %s:%d: not \"started <time>\" or \"answered <time>\"; remove the file to file the recording whole", tp, n)
		}
		var at time.Time
		if v != "-" {
			if at, err = time.Parse(time.RFC3339Nano, v); err != nil {
				return 0, leadNone, fmt.Errorf("read recording times %s:%d: the time is not RFC 3339; remove the file to file the recording whole", tp, n)
			}
		}
		switch what {
		case "started":
			if started.IsZero() || (!at.IsZero() && at.Before(started)) {
				started = at
			}
		case "answered":
			answerSeen = true
			if answered.IsZero() || (!at.IsZero() && at.Before(answered)) {
				answered = at
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 0, leadNone, fmt.Errorf("read recording times %s: %w", tp, err)
	}
	switch {
	case answerSeen && !answered.IsZero() && !started.IsZero():
		return max(0, answered.Sub(started)), leadKnown, nil
	case answerSeen:
		return 0, leadKnown, nil
	case !started.IsZero():
		return 0, leadUnanswered, nil
	}
	return 0, leadNone, nil
}

// preAnswer returns how many sample frames at the start of the spool file
// p (info its header) were recorded before its channel answered, from its
// times: all of them when it never answered, unless the tracker saw its
// leg talk or the file is a crash's leftover (then none: a recording is
// never lost to a missing time).
func (f *Filer) preAnswer(log zerolog.Logger, r *Recording, p string, info WAVInfo) int64 {
	lead, st, err := readLead(p)
	if err != nil {
		log.Warn().Err(err).Msg("recording filed whole, with what it holds from before the answer")
		return 0
	}
	ba := int64(info.Channels * info.BitsPerSample / 8)
	if ba == 0 {
		return 0
	}
	frames := info.DataBytes / ba
	switch st {
	case leadKnown:
		n := int64(lead.Seconds() * float64(info.SampleRate))
		if n > 0 {
			log.Debug().Str("file", p).Dur("cut", lead).Msg("recorded before the answer: cut")
		}
		return min(n, frames)
	case leadUnanswered:
		if r.orphan || r.Bridged > 0 {
			log.Warn().Str("file", p).Msg("the recording's channel answered, but when is not known: filed whole, with what it holds from before the answer")
			return 0
		}
		return frames
	}
	return 0
}

// cutFrames drops n sample frames from the start of info's audio.
func cutFrames(info *WAVInfo, n int64) {
	ba := int64(info.Channels * info.BitsPerSample / 8)
	info.DataOffset += n * ba
	info.DataBytes -= n * ba
}

// removeSpooled removes a spool file and its times.
func removeSpooled(p string) {
	os.Remove(p)
	os.Remove(timesPath(p))
}
