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
// times of its start, of its channel's answer and of its end, one line
// each ("started <time>", "answered <time>", or "answered -" when the
// channel was found answered without its answer seen: before its
// subscription took effect, or after a reconnect; and "finished <time>"),
// in <name>.times. A recording started while its channel still rang (the
// snoop backend, see ari.SnoopClient) holds pre-answer audio, which the
// filer cuts from these times, in this process or after a restart. The
// start, the end and the answer come from ARI's events (it implements
// ari.Times), the answer also from AMI's Newstate, through the tracker and
// the pipeline (see AnswerNoter), which Asterisk stamps later than ARI
// does (when its manager formats the event); the earliest time of each
// kind counts. Both are the PBX's clock.
type AnswerTimes struct {
	Dir string // the spool as the daemon sees it
	Log zerolog.Logger
}

// timesExt ends the name of a recording file's times, in place of .wav.
const timesExt = ".times"

// Started notes that the recording name started at the PBX's time at.
func (a AnswerTimes) Started(name string, at time.Time) { a.note(name, "started", at) }

// Answered notes that the channel of recording name answered at the PBX's
// time at (zero: found answered, since when unknown).
func (a AnswerTimes) Answered(name string, at time.Time) { a.note(name, "answered", at) }

// Finished notes that the recording name ended at the PBX's time at.
func (a AnswerTimes) Finished(name string, at time.Time) { a.note(name, "finished", at) }

func (a AnswerTimes) note(name, what string, at time.Time) {
	if name == "" || strings.ContainsAny(name, "/\\\r\n") {
		a.Log.Warn().Str("recording", name).Msg("write recording times: not a spool file name; skipped (a bug: report it)")
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
		a.Log.Warn().Err(err).Str("file", p).Msg("write recording times: the recording may be filed with its ringing, or discarded as never answered; let the daemon write in recording.local_dir")
	}
}

// timesPath is the times file of the spool file p (<name>.wav).
func timesPath(p string) string { return strings.TrimSuffix(p, ".wav") + timesExt }

// recTimes is what a times file says (zero: not said).
type recTimes struct {
	started, answered, finished time.Time
	answerSeen                  bool // an "answered" line, with a time or "-"
}

// readTimes reads the times of the spool file p; ok is false when it has
// none. The earliest of each kind counts.
func readTimes(p string) (rt recTimes, ok bool, err error) {
	tp := timesPath(p)
	fh, err := os.Open(tp)
	if errors.Is(err, os.ErrNotExist) {
		return rt, false, nil
	}
	if err != nil {
		return rt, false, fmt.Errorf("read recording times: %w", err)
	}
	defer fh.Close()
	earliest := func(t *time.Time, at time.Time) {
		if t.IsZero() || (!at.IsZero() && at.Before(*t)) {
			*t = at
		}
	}
	sc := bufio.NewScanner(fh)
	for n := 1; sc.Scan(); n++ {
		what, v, _ := strings.Cut(sc.Text(), " ")
		if what != "started" && what != "answered" && what != "finished" {
			return rt, false, fmt.Errorf("read recording times %s:%d: not \"started\", \"answered\" or \"finished\" and a time; the recording is filed whole (nothing cut)", tp, n)
		}
		var at time.Time
		if v != "-" {
			if at, err = time.Parse(time.RFC3339Nano, v); err != nil {
				return rt, false, fmt.Errorf("read recording times %s:%d: the time is not RFC 3339; the recording is filed whole (nothing cut)", tp, n)
			}
		}
		switch what {
		case "started":
			earliest(&rt.started, at)
		case "answered":
			rt.answerSeen = true
			earliest(&rt.answered, at)
		case "finished":
			earliest(&rt.finished, at)
		}
	}
	if err := sc.Err(); err != nil {
		return rt, false, fmt.Errorf("read recording times %s: %w", tp, err)
	}
	return rt, true, nil
}

// finishWait is how long the filer waits by default, after Asterisk
// closed a file, for its end time (written when RecordingFinished
// arrives; see Filer.finishWait).
const finishWait = time.Second

// preAnswer returns how many sample frames at the start of the spool file
// p (info its header) were recorded before its channel answered, from its
// times:
//   - answered at a known time: the answer's time less the start's, in
//     frames, less the frames the file lacks against its start and end
//     times (ticks a loaded PBX skipped: better keep a little ringing
//     than cut into the call);
//   - answered before the recording started, or when is not known (found
//     answered before the subscription or after a reconnect, and no time
//     from AMI): none;
//   - never answered, and the daemon saw it end: all of them (a failed
//     start's fragment too), unless the tracker saw the leg talk;
//   - never answered and no end seen: all, unless the tracker saw the
//     leg talk or the file is a crash's leftover (a daemon that missed
//     the end may have missed the answer).
//
// Frames kept whole for want of a time are logged: a recording is never
// lost to a missing time.
func (f *Filer) preAnswer(log zerolog.Logger, r *Recording, p string, info WAVInfo) int64 {
	read := f.readTimesWithEnd
	if r.orphan {
		read = readTimes // a crash's leftover: no end time is coming
	}
	rt, ok, err := read(p)
	if err != nil {
		log.Warn().Err(err).Msg("read recording times")
		return 0
	}
	ba := int64(info.Channels * info.BitsPerSample / 8)
	if !ok || ba == 0 || info.SampleRate == 0 {
		return 0
	}
	frames := info.DataBytes / ba
	rate := float64(info.SampleRate)
	switch {
	case rt.answerSeen && !rt.answered.IsZero() && !rt.started.IsZero():
		n := int64(rt.answered.Sub(rt.started).Seconds() * rate)
		var missing int64
		if !rt.finished.IsZero() {
			missing = int64(rt.finished.Sub(rt.started).Seconds()*rate) - frames
			n -= max(0, missing)
		}
		n = max(0, min(n, frames))
		if dl := log.Debug(); dl.Enabled() && n > 0 {
			dl.Str("file", p).Float64("cut_seconds", float64(n)/rate).
				Float64("answered_after_start", rt.answered.Sub(rt.started).Seconds()).
				Bool("end_known", !rt.finished.IsZero()).Float64("missing_seconds", float64(missing)/rate).
				Msg("recorded before the answer: cut")
		}
		return n
	case rt.answerSeen || rt.started.IsZero():
		return 0
	case r.Bridged > 0:
		log.Warn().Str("file", p).Msg("the leg talked but its answer's time is not known: filed whole, with what it holds from before the answer")
		return 0
	case r.orphan && rt.finished.IsZero():
		log.Warn().Str("file", p).Msg("left by a crash or restart, whether its channel answered is not known: filed whole, with what it holds from before any answer")
		return 0
	}
	return frames
}

// cutFrames drops n sample frames from the start of info's audio, and a
// trailing part of a frame.
func cutFrames(info *WAVInfo, n int64) {
	ba := int64(info.Channels * info.BitsPerSample / 8)
	if ba == 0 {
		return
	}
	n = max(0, min(n, info.DataBytes/ba))
	info.DataOffset += n * ba
	info.DataBytes -= n * ba
	info.DataBytes -= info.DataBytes % ba
}

// removeSpooled removes a spool file and its times.
func removeSpooled(p string) {
	os.Remove(p)
	os.Remove(timesPath(p))
}
