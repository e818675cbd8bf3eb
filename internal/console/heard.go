package console

import (
	"math"
	"slices"
	"sync"
	"time"

	"github.com/villedemercier/recpolicy/archive"
)

// maxSpeed is the fastest playback whose seconds count as heard: the
// player offers no more, and reports that outrun it are cut to it.
const maxSpeed = 2.0

// maxGap is the longest stretch left unheard that still lets a call count
// as heard whole: the player reports four times a second.
const maxGap = 0.3

// trainingLife is how long a training session lasts without a report.
const trainingLife = 2 * time.Hour

// maxTrainings bounds the training sessions kept (the one nearest to
// expiring goes first).
const maxTrainings = 1000

// training is one recording opened for training in one console session
// (kept in a sessionStore): what of it was heard, so that the copy is
// released only once every second was played.
type training struct {
	rec      archive.StoredRecording // as the guard handed it over
	ticket   string                  // the audio's, kept alive by the reports
	duration time.Duration
	mu       sync.Mutex // guards what follows
	// heard are the intervals played, in seconds, sorted and merged.
	heard [][2]float64
	// budget is how many seconds the reports may still claim: it grows by
	// maxSpeed a second of wall time, up to maxBudget, and each span heard
	// takes from it (a token bucket: reports sent often gain nothing).
	budget float64
	last   time.Time
}

// maxBudget bounds the seconds of playback reports may claim at once (a
// player whose reports were held back ten seconds, at double speed).
const maxBudget = 10*maxSpeed + 1

// newTraining is a training of rec (duration d, audio ticket) opened at now.
func newTraining(rec archive.StoredRecording, ticket string, d time.Duration, now time.Time) *training {
	return &training{rec: rec, ticket: ticket, duration: d, budget: 1, last: now}
}

// trainings are the live training sessions: a restarted console asks for
// a new hearing.
type trainings = sessionStore[*training]

func newTrainings() *trainings { return newSessionStore[*training](trainingLife, maxTrainings) }

// coverageJSON is what of a call was heard.
type coverageJSON struct {
	Heard    float64      `json:"heard"`    // seconds heard
	Duration float64      `json:"duration"` // the call's seconds
	Missing  [][2]float64 `json:"missing"`  // the stretches not heard yet (longer than maxGap)
	Complete bool         `json:"complete"` // every second heard
	// Refused is what a report claimed beyond what the time since the
	// last one allows at maxSpeed (not counted).
	Refused float64 `json:"refused,omitempty"`
}

// hear adds what the player reports to have played, each span cut to the
// call and the whole to the budget (what wall time allows at maxSpeed); it
// returns the coverage.
func (tr *training) hear(spans [][2]float64, now time.Time) coverageJSON {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	budget := min(tr.budget+max(0, now.Sub(tr.last).Seconds())*maxSpeed, maxBudget)
	tr.last = now
	defer func() { tr.budget = budget }()
	dur := tr.duration.Seconds()
	refused := 0.0
	for _, s := range spans {
		from, to := math.Max(0, s[0]), math.Min(dur, s[1])
		if math.IsNaN(from) || math.IsNaN(to) || to <= from {
			continue
		}
		if to-from > budget {
			refused += to - from - budget
			to = from + budget
		}
		budget -= to - from
		if to > from {
			tr.heard = merge(tr.heard, [2]float64{from, to})
		}
	}
	c := tr.coverageLocked()
	c.Refused = refused
	return c
}

// coverage returns what of tr was heard.
func (tr *training) coverage() coverageJSON {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.coverageLocked()
}

func (tr *training) coverageLocked() coverageJSON {
	dur := tr.duration.Seconds()
	c := coverageJSON{Duration: dur, Missing: [][2]float64{}}
	at := 0.0
	for _, h := range tr.heard {
		c.Heard += h[1] - h[0]
		if h[0]-at > maxGap {
			c.Missing = append(c.Missing, [2]float64{at, h[0]})
		}
		at = h[1]
	}
	if dur-at > maxGap {
		c.Missing = append(c.Missing, [2]float64{at, dur})
	}
	c.Complete = len(c.Missing) == 0 && dur > 0
	return c
}

// merge adds s to the sorted, disjoint intervals hs.
func merge(hs [][2]float64, s [2]float64) [][2]float64 {
	hs = append(hs, s)
	slices.SortFunc(hs, func(a, b [2]float64) int {
		switch {
		case a[0] < b[0]:
			return -1
		case a[0] > b[0]:
			return 1
		}
		return 0
	})
	out := hs[:1]
	for _, h := range hs[1:] {
		last := &out[len(out)-1]
		if h[0] <= last[1] {
			last[1] = math.Max(last[1], h[1])
			continue
		}
		out = append(out, h)
	}
	return out
}
