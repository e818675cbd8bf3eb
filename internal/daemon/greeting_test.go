package daemon

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"
	"github.com/villedemercier/recpolicy/ari"
)

func TestGreetingsCountsOneOutcomePerCall(t *testing.T) {
	start := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	res := func(id string, o ari.GreetingOutcome, d time.Duration, err error) ari.GreetingResult {
		return ari.GreetingResult{ChannelID: id, LinkedID: id, ChannelName: "PJSIP/carrier-" + id, Outcome: o, Started: start, Ended: start.Add(d), Err: err}
	}
	type varset struct{ channel, linkedid, variable, value string }
	tests := []struct {
		name     string
		results  []ari.GreetingResult
		varsets  []varset
		want     map[string]float64
		failures float64
		lines    int
	}{
		{name: "played by ari", results: []ari.GreetingResult{res("1", ari.GreetingPlayed, 2800*time.Millisecond, nil)},
			varsets: []varset{{"PJSIP/carrier-1", "1", "__RECPOLICY_GREETED", "ari"}},
			want:    map[string]float64{GreetedPlayed: 1}, lines: 1},
		{name: "cut short", results: []ari.GreetingResult{res("2", ari.GreetingCutShort, time.Second, ari.ErrNotFound)},
			want: map[string]float64{GreetedCutShort: 1}, lines: 1},
		{name: "skipped", results: []ari.GreetingResult{res("3", ari.GreetingSkipped, 0, nil)},
			want: map[string]float64{GreetedSkipped: 1}, lines: 1},
		{name: "daemon's ari down: dialplan fallback, counted once per call",
			varsets: []varset{{"PJSIP/carrier-4", "4", "__RECPOLICY_GREETED", "dialplan"}, {"PJSIP/235-5", "4", "__RECPOLICY_GREETED", "dialplan"}},
			want:    map[string]float64{GreetedFallback: 1}, lines: 1},
		{name: "ari failed, then the fallback",
			results: []ari.GreetingResult{res("6", ari.GreetingFailed, time.Second, ari.ErrPlaybackFailed)},
			varsets: []varset{{"PJSIP/carrier-6", "6", "__RECPOLICY_GREETED", "dialplan"}},
			want:    map[string]float64{GreetedFallback: 1}, failures: 1, lines: 2},
		{name: "other variables ignored",
			varsets: []varset{{"PJSIP/carrier-7", "7", "RECPOLICY_CONTINUE", "dialplan"}, {"PJSIP/carrier-7", "7", "RECPOLICY_GREETED", ""}},
			want:    map[string]float64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			reg := prometheus.NewRegistry()
			g := NewGreetings(reg, zerolog.New(&buf))
			for _, r := range tt.results {
				g.Observe(r)
			}
			for _, v := range tt.varsets {
				g.ObserveVarSet(v.channel, v.linkedid, v.variable, v.value)
			}
			for _, o := range []string{GreetedPlayed, GreetedCutShort, GreetedFallback, GreetedSkipped} {
				if got := value(t, g.total.WithLabelValues(o)); got != tt.want[o] {
					t.Errorf("recpolicy_greetings_total{outcome=%q} = %v, want %v", o, got, tt.want[o])
				}
			}
			if got := value(t, g.failures); got != tt.failures {
				t.Errorf("recpolicy_greeting_ari_failures_total = %v, want %v", got, tt.failures)
			}
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if buf.Len() == 0 {
				lines = nil
			}
			if len(lines) != tt.lines {
				t.Fatalf("%d log lines, want %d:\n%s", len(lines), tt.lines, buf.String())
			}
			for _, l := range lines {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatalf("log line %q: %v", l, err)
				}
				for _, k := range []string{"linkedid", "channel", "outcome"} {
					if _, ok := m[k]; !ok {
						t.Errorf("log line %s lacks %q", l, k)
					}
				}
			}
		})
	}
}

func TestGreetingsLogsDuration(t *testing.T) {
	var buf bytes.Buffer
	g := NewGreetings(prometheus.NewRegistry(), zerolog.New(&buf))
	start := time.Now()
	g.Observe(ari.GreetingResult{LinkedID: "1", ChannelName: "PJSIP/carrier-1", Outcome: ari.GreetingPlayed, Started: start, Ended: start.Add(2800 * time.Millisecond)})
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m["duration"] != 2800.0 || m["outcome"] != "played" || m["linkedid"] != "1" {
		t.Errorf("log line %s: want duration 2800 (ms), outcome played, linkedid 1", buf.String())
	}
	var h dto.Metric
	if err := g.duration.Write(&h); err != nil {
		t.Fatal(err)
	}
	if h.GetHistogram().GetSampleCount() != 1 || h.GetHistogram().GetSampleSum() != 2.8 {
		t.Errorf("duration histogram: %d samples summing to %v s, want 1 of 2.8 s", h.GetHistogram().GetSampleCount(), h.GetHistogram().GetSampleSum())
	}
}

func TestGreetingsForgetsOldOutcomes(t *testing.T) {
	g := NewGreetings(prometheus.NewRegistry(), zerolog.Nop())
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	g.now = func() time.Time { return now }
	g.ObserveVarSet("PJSIP/carrier-1", "1", "__RECPOLICY_GREETED", "dialplan")
	g.Observe(ari.GreetingResult{LinkedID: "3", Outcome: ari.GreetingCutShort, Started: now, Ended: now.Add(time.Second)})
	if got := g.Outcome("1"); got != GreetedFallback {
		t.Errorf("Outcome(1) = %q, want fallback", got)
	}
	if got := g.Outcome("3"); got != GreetedCutShort {
		t.Errorf("Outcome(3) = %q, want cut_short", got)
	}
	now = now.Add(outcomeMemory + time.Minute)
	g.ObserveVarSet("PJSIP/carrier-2", "2", "__RECPOLICY_GREETED", "dialplan")
	if len(g.outcomes) != 1 || g.Outcome("1") != GreetedUnknown || g.Outcome("2") != GreetedFallback {
		t.Errorf("remembers %d calls (1: %q, 2: %q), want only the recent one", len(g.outcomes), g.Outcome("1"), g.Outcome("2"))
	}
	if got := value(t, g.total.WithLabelValues(GreetedFallback)); got != 2 {
		t.Errorf("fallbacks counted %v, want 2", got)
	}
}

// value reads a counter.
func value(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
