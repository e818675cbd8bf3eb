package daemon

import (
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/villedemercier/recpolicy/rules"
)

// RuleSet holds the rules in force and swaps them on reload: the new file
// is compiled aside; a file that fails keeps the previous rules.
type RuleSet struct {
	path    string
	log     zerolog.Logger
	cur     atomic.Pointer[rules.Rules]
	modTime time.Time
	size    int64
	failed  prometheus.Gauge
	reloads *prometheus.CounterVec
	onLoad  func(r *rules.Rules, trigger string, at time.Time)
}

// OnLoad sets fn to be told of every version put in force by Reload (the
// first load is the caller's to report). fn must not block.
func (rs *RuleSet) OnLoad(fn func(r *rules.Rules, trigger string, at time.Time)) { rs.onLoad = fn }

// NewRuleSet loads the rules file once; an invalid file is an error.
func NewRuleSet(path string, log zerolog.Logger, reg prometheus.Registerer) (*RuleSet, error) {
	rs := &RuleSet{
		path: path,
		log:  log,
		failed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "recpolicy_rules_last_reload_failed",
			Help: "1 when the last reload of the rules file failed (the previous rules stay in force).",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recpolicy_rules_reloads_total", Help: "Reloads of the rules file by result.",
		}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(rs.failed, rs.reloads)
	}
	r, err := rules.Load(path)
	if err != nil {
		return nil, err
	}
	rs.cur.Store(r)
	rs.stamp()
	return rs, nil
}

// Current returns the rules in force.
func (rs *RuleSet) Current() *rules.Rules { return rs.cur.Load() }

func (rs *RuleSet) stamp() {
	if st, err := os.Stat(rs.path); err == nil {
		rs.modTime, rs.size = st.ModTime(), st.Size()
	}
}

// Changed reports whether the file changed since the last load attempt.
func (rs *RuleSet) Changed() bool {
	st, err := os.Stat(rs.path)
	if err != nil {
		return false
	}
	return !st.ModTime().Equal(rs.modTime) || st.Size() != rs.size
}

// Reload compiles the file aside and swaps it in when valid.
func (rs *RuleSet) Reload(why string) {
	rs.stamp()
	r, err := rules.Load(rs.path)
	if err != nil {
		rs.failed.Set(1)
		rs.reloads.WithLabelValues("failure").Inc()
		ev := rs.log.Error().Str("file", rs.path).Str("trigger", why)
		if errs, ok := err.(*rules.Errors); ok {
			for _, e := range errs.Errs {
				rs.log.Error().Str("file", rs.path).Msg(e.Error())
			}
		}
		ev.Err(err).Str("kept", rs.Current().Digest()).Msg("rules reload failed; the previous rules stay in force")
		return
	}
	old := rs.cur.Swap(r)
	if rs.onLoad != nil {
		rs.onLoad(r, why, time.Now())
	}
	rs.failed.Set(0)
	rs.reloads.WithLabelValues("success").Inc()
	rs.log.Info().Str("file", rs.path).Str("trigger", why).Str("digest", r.Digest()).
		Str("previous", old.Digest()).Int("extensions", len(r.Extensions())).Msg("rules reloaded")
}
