package daemon

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/villedemercier/recpolicy/ari"
)

// Greeting outcomes counted by Greetings, the values of the outcome label of
// recpolicy_greetings_total.
const (
	// GreetedPlayed: the ARI application played the whole greeting.
	GreetedPlayed = "played"
	// GreetedCutShort: the caller hung up during the ARI greeting.
	GreetedCutShort = "cut_short"
	// GreetedFallback: the dialplan played the greeting itself (the ARI
	// application was not registered or failed).
	GreetedFallback = "fallback"
	// GreetedSkipped: the channel entered the application for something other
	// than the greeting and was continued at once.
	GreetedSkipped = "skipped"
)

// greetedVar is the channel variable dialplan/recpolicy.conf and the ARI
// application set once a call's caller has been greeted.
const greetedVar = "RECPOLICY_GREETED"

// outcomeMemory is how long a call's greeting outcome is remembered: for
// the evidence stored with its recordings when they are filed (at the end
// of the call), and so that a call greeted by the dialplan is counted once
// however many VarSet events carry it.
const outcomeMemory = 24 * time.Hour

// GreetedNone is the evidence of a call that is not inbound (no greeting is
// due); GreetedUnknown that of an inbound call whose greeting the daemon
// did not see (daemon restarted meanwhile, or the call outlived
// outcomeMemory).
const (
	GreetedNone    = "none"
	GreetedUnknown = "unknown"
)

// seenGreeting is a call's greeting outcome and when it was learnt.
type seenGreeting struct {
	outcome string
	at      time.Time
}

// Greetings turns what the daemon learns of each inbound greeting into one
// log line and the recpolicy_greetings_total counter. The ARI application
// reports its greetings (Observe); a greeting the dialplan played itself is
// known only from the AMI VarSet event of RECPOLICY_GREETED=dialplan
// (ObserveVarSet). Its methods are safe for concurrent use.
//
// A caller who hangs up during the dialplan fallback's greeting is counted
// as fallback: the daemon sees that the fallback started, not how it ended.
type Greetings struct {
	log      zerolog.Logger
	total    *prometheus.CounterVec
	failures prometheus.Counter
	duration prometheus.Histogram

	mu        sync.Mutex
	outcomes  map[string]seenGreeting // linkedid → its greeting's outcome
	lastPrune time.Time
	now       func() time.Time
}

// NewGreetings registers the greeting metrics with reg and returns a
// Greetings that logs to log.
func NewGreetings(reg prometheus.Registerer, log zerolog.Logger) *Greetings {
	g := &Greetings{
		log: log,
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recpolicy_greetings_total",
			Help: "Inbound callers greeted, by outcome: played (by the ARI application, in full), cut_short (the caller hung up during it), fallback (played by the dialplan), skipped (not a greeting).",
		}, []string{"outcome"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "recpolicy_greeting_ari_failures_total",
			Help: "Greetings the ARI application could not play; the dialplan fallback played them.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "recpolicy_greeting_duration_seconds",
			Help:    "Time a caller spent in the ARI application for a greeting played in full.",
			Buckets: []float64{1, 2, 3, 4, 5, 7.5, 10, 15, 30},
		}),
		outcomes: make(map[string]seenGreeting),
		now:      time.Now,
	}
	for _, o := range []string{GreetedPlayed, GreetedCutShort, GreetedFallback, GreetedSkipped} {
		g.total.WithLabelValues(o)
	}
	reg.MustRegister(g.total, g.failures, g.duration)
	return g
}

// Observe logs and counts one result of the ARI application. A failed
// greeting is not counted as an outcome here: the dialplan then plays it,
// and ObserveVarSet counts it as a fallback.
func (g *Greetings) Observe(r ari.GreetingResult) {
	d := r.Ended.Sub(r.Started)
	if r.Started.IsZero() || r.Ended.IsZero() {
		d = 0
	}
	var e *zerolog.Event
	switch r.Outcome {
	case ari.GreetingPlayed:
		g.total.WithLabelValues(GreetedPlayed).Inc()
		g.duration.Observe(d.Seconds())
		g.remember(r.LinkedID, GreetedPlayed)
		e = g.log.Info()
	case ari.GreetingCutShort:
		g.total.WithLabelValues(GreetedCutShort).Inc()
		g.remember(r.LinkedID, GreetedCutShort)
		e = g.log.Info()
	case ari.GreetingSkipped:
		g.total.WithLabelValues(GreetedSkipped).Inc()
		e = g.log.Info()
	default:
		g.failures.Inc()
		e = g.log.Warn()
	}
	e = e.Str("linkedid", r.LinkedID).Str("channel", r.ChannelName).Str("channel_id", r.ChannelID).
		Str("outcome", r.Outcome.String()).Dur("duration", d).Str("by", "ari")
	if r.Err != nil {
		e = e.AnErr("reason", r.Err)
	}
	if r.Outcome == ari.GreetingFailed {
		e.Msg("greeting: the ARI application could not play it; the dialplan fallback plays it")
		return
	}
	e.Msg("greeting")
}

// ObserveVarSet takes the fields of an AMI VarSet event (Channel, Linkedid,
// Variable, Value). RECPOLICY_GREETED=dialplan means the dialplan played the
// greeting itself: it is logged and counted once per call (linkedid). Every
// other variable or value is ignored.
func (g *Greetings) ObserveVarSet(channel, linkedid, variable, value string) {
	if strings.TrimLeft(variable, "_") != greetedVar || value != "dialplan" {
		return
	}
	if linkedid != "" && !g.remember(linkedid, GreetedFallback) {
		return
	}
	g.total.WithLabelValues(GreetedFallback).Inc()
	g.log.Warn().Str("linkedid", linkedid).Str("channel", channel).Str("outcome", GreetedFallback).Str("by", "dialplan").
		Msg("greeting played by the dialplan fallback (the ARI application was not registered or failed)")
}

// remember notes a call's greeting outcome; it reports false when the call
// already had that outcome. Outcomes older than outcomeMemory are dropped
// (looked for at most once a minute).
func (g *Greetings) remember(linkedid, outcome string) bool {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if prev, ok := g.outcomes[linkedid]; ok && prev.outcome == outcome {
		return false
	}
	if now.Sub(g.lastPrune) > time.Minute {
		g.lastPrune = now
		for id, seen := range g.outcomes {
			if now.Sub(seen.at) > outcomeMemory {
				delete(g.outcomes, id)
			}
		}
	}
	g.outcomes[strings.Clone(linkedid)] = seenGreeting{outcome: outcome, at: now}
	return true
}

// Outcome returns how the caller of call linkedid was greeted: played,
// cut_short, fallback or skipped; GreetedUnknown when the daemon did not
// see it.
func (g *Greetings) Outcome(linkedid string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if seen, ok := g.outcomes[linkedid]; ok && linkedid != "" {
		return seen.outcome
	}
	return GreetedUnknown
}
