package engine

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the core's Prometheus metrics.
type Metrics struct {
	CallsSeen          prometheus.Counter
	RecordingsStarted  prometheus.Counter
	RecordingsStopped  prometheus.Counter
	RecordingsFailed   prometheus.Counter
	RecordingsFiled    prometheus.Counter
	RecordingsEmpty    prometheus.Counter
	RecordingsPickedUp prometheus.Counter
	RecordingsRepaired prometheus.Counter
	RecordingsLate     prometheus.Counter
	RecordingsShort    prometheus.Counter
	DecisionLatency    prometheus.Histogram
	Violations         prometheus.Counter
	StartLatency       prometheus.Histogram
	StartsByUniqueid   prometheus.Counter
	EventDelivery      prometheus.Histogram
	EventQueue         prometheus.Histogram
}

// NewMetrics creates the core's metrics and registers them on reg (when not nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	// The AMI event delay histograms' buckets, in seconds.
	eventDelayBuckets := []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2, 5, 10}
	m := &Metrics{
		CallsSeen: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "recpolicy_calls_seen_total", Help: "Calls (linked ids) seen on the PBX.",
		}),
		RecordingsStarted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "recpolicy_recordings_started_total", Help: "Recordings started.",
		}),
		RecordingsStopped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "recpolicy_recordings_stopped_total", Help: "Recordings stopped because the pairing changed to one the policy does not record.",
		}),
		RecordingsFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "recpolicy_recordings_failed_total", Help: "Recordings the policy required that failed to start or to be filed (policy violations).",
		}),
		RecordingsFiled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "recpolicy_recordings_filed_total", Help: "Complete recordings filed in the archive.",
		}),
		RecordingsEmpty: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "recpolicy_recordings_discarded_empty_total", Help: "Recordings discarded because they hold no audio (unanswered legs).",
		}),
		RecordingsPickedUp: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "recpolicy_recordings_discarded_picked_up_total",
			Help: "Recordings of ringing legs that another phone picked up, discarded unfiled: Asterisk leaves their audio hooks on the picker's channel, whose call is decided on its own.",
		}),
		RecordingsRepaired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "recpolicy_recordings_repaired_total", Help: "Recordings whose WAV header was repaired from the file size.",
		}),
		RecordingsLate: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "recpolicy_recordings_started_late_total",
			Help: "Recordings started when the daemon (re)connected and found a call already bridged and unrecorded: the call's beginning is not recorded.",
		}),
		RecordingsShort: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "recpolicy_recordings_short_total",
			Help: "Recordings of legs that talked with another party but hold no audio, or much less than the leg talked (policy violations).",
		}),
		Violations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "recpolicy_policy_violations_total", Help: "Calls the policy requires to be recorded whose recording did not start or did not grow after answer.",
		}),
		StartLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "recpolicy_recording_start_seconds",
			Help:    "From the AMI event that called for a recording (its Timestamp, else when the daemon received it) to the recorder's confirmation.",
			Buckets: []float64{.001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2},
		}),
		StartsByUniqueid: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "recpolicy_recording_starts_by_uniqueid_total",
			Help: "Recording start attempts whose first AMI action (MixMonitor, or the snoop backend's mark) named the channel by its unique ID, not its name: no AMI session of the channel's run of Asterisk was connected (a channel from before a restart), or the run is unknown (CoreStatus refused). Slower under a burst; see the README.",
		}),
		EventDelivery: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "recpolicy_ami_event_delivery_seconds",
			Help:    "From an AMI event's Timestamp (Asterisk's clock) to when the daemon read it off the connection: how late Asterisk writes its events (needs timestampevents = yes; clocks kept in step when Asterisk runs on another host).",
			Buckets: eventDelayBuckets,
		}),
		EventQueue: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "recpolicy_ami_event_queue_seconds",
			Help:    "From when the daemon read an AMI event to when its tracker handled it: how far the daemon's event loop runs behind.",
			Buckets: eventDelayBuckets,
		}),
		DecisionLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "recpolicy_decision_seconds",
			Help:    "Time to decide whether a pairing is recorded.",
			Buckets: []float64{1e-6, 5e-6, 2e-5, 1e-4, 5e-4, 2e-3, 1e-2},
		}),
	}
	if reg != nil {
		reg.MustRegister(m.CallsSeen, m.RecordingsStarted, m.RecordingsStopped, m.RecordingsFailed,
			m.RecordingsFiled, m.RecordingsEmpty, m.RecordingsPickedUp, m.RecordingsRepaired, m.RecordingsLate, m.RecordingsShort, m.DecisionLatency, m.Violations, m.StartLatency, m.StartsByUniqueid,
			m.EventDelivery, m.EventQueue)
	}
	return m
}
