package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"
	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/register"
	"github.com/villedemercier/recpolicy/archive/retention"
	"github.com/villedemercier/recpolicy/rules"
)

// JobOptions configure the retention and integrity jobs.
type JobOptions struct {
	// ArchiveDir is where recordings are filed (archive.dir); the jobs
	// touch no file outside it.
	ArchiveDir string
	// TrainingDir is the training copies' area; empty leaves them alone.
	TrainingDir string
	// MaxShare is the purge's limit on what may go at once
	// (retention.DefaultMaxShare when 0).
	MaxShare float64
	// ShutdownTimeout caps the wait for a running job at shutdown
	// (default 15s); the job's context is cancelled first.
	ShutdownTimeout time.Duration
	// RulesCheck is how often the rules are looked at for new schedules
	// (default 30s).
	RulesCheck time.Duration
	// ReportsDir is where the monthly compliance report is written
	// (schedules.report); Archive and RulesFile are what it reads.
	ReportsDir string
	Archive    *archive.Store
	RulesFile  string
	PBXCDRCSV  string // the PBX's own call records (archive.pbx_cdr_csv)
}

// Jobs runs the purge of recordings, training copies and call records past
// their retention, and the integrity check of the filed recordings, on the
// rules file's schedules (schedules.retention, schedules.integrity) in the
// rules' time zone. A run still going when its next time comes is skipped;
// a panic in a run is logged and the schedule goes on. Schedules follow a
// rules reload.
type Jobs struct {
	store *retention.Store
	reg   *register.Store // the access log, whose chain the integrity check walks
	rules func() *rules.Rules
	log   zerolog.Logger
	opts  JobOptions

	// One run of each job at a time, across schedule changes too.
	purging, verifying, reporting sync.Mutex
	reload                        chan struct{} // RulesChanged

	runs        *prometheus.CounterVec
	lastSuccess *prometheus.GaugeVec
	destroyed   *prometheus.CounterVec
	held        prometheus.Gauge
	problems    *prometheus.GaugeVec

	// every, when set (tests), replaces both schedules: the rules file
	// refuses anything more frequent than a minute.
	every time.Duration
}

// Job names, in logs and metrics.
const (
	JobRetention = "retention"
	JobIntegrity = "integrity"
)

// NewJobs prepares the jobs and registers their metrics with reg.
func NewJobs(store *archive.Store, rulesSource func() *rules.Rules, log zerolog.Logger, reg prometheus.Registerer, opts JobOptions) (*Jobs, error) {
	if opts.ArchiveDir == "" {
		return nil, errors.New("start jobs: no archive directory; set archive.dir")
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 15 * time.Second
	}
	if opts.RulesCheck <= 0 {
		opts.RulesCheck = 30 * time.Second
	}
	j := &Jobs{
		store: retention.NewStore(store), reg: register.NewStore(store), rules: rulesSource, log: log, opts: opts, reload: make(chan struct{}, 1),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recpolicy_job_runs_total", Help: "Runs of the periodic jobs, by outcome (ok, problems, refused, error).",
		}, []string{"job", "outcome"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "recpolicy_job_last_success_timestamp_seconds", Help: "When each periodic job last completed without error.",
		}, []string{"job"}),
		destroyed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recpolicy_retention_destroyed_total", Help: "Recordings, training copies and call records destroyed by the retention job.",
		}, []string{"kind"}),
		held: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "recpolicy_retention_held_recordings", Help: "Recordings past their retention kept by a hold, at the last purge.",
		}),
		problems: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "recpolicy_integrity_problems", Help: "Files found wrong by the last integrity check, by kind (missing, altered, unknown…), and the breaks of the access log's hash chain (access-log-chain).",
		}, []string{"kind"}),
	}
	for _, c := range []prometheus.Collector{j.runs, j.lastSuccess, j.destroyed, j.held, j.problems} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("start jobs: register metrics: %w", err)
		}
	}
	for _, k := range []string{archive.ProblemMissing, archive.ProblemAltered, archive.ProblemUnreadable, archive.ProblemOutside, archive.ProblemUnknown} {
		j.problems.WithLabelValues(k)
	}
	return j, nil
}

// schedule is what a cron instance was built from.
type schedule struct {
	retention, integrity, zone string
}

func scheduleOf(r *rules.Rules) schedule {
	s := r.Schedules()
	return schedule{retention: s.Retention, integrity: s.Integrity, zone: r.Location().String()}
}

// Run runs the jobs on their schedules until ctx is cancelled, then
// cancels a running job and waits for it, at most ShutdownTimeout.
func (j *Jobs) Run(ctx context.Context) error {
	jobCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := j.rules()
	cur, err := j.start(jobCtx, r)
	if err != nil {
		return err
	}
	// Every cron instance started: one per schedule change. Stop on a
	// stopped instance returns a context done once its jobs have returned.
	crons := []*cron.Cron{cur}
	sched := scheduleOf(r)
	tick := time.NewTicker(j.opts.RulesCheck)
	defer tick.Stop()
	for {
		var pushed bool
		select {
		case <-ctx.Done():
			cancel()
			deadline := time.NewTimer(j.opts.ShutdownTimeout)
			defer deadline.Stop()
			for _, c := range crons {
				select {
				case <-c.Stop().Done():
				case <-deadline.C:
					j.log.Error().Dur("timeout", j.opts.ShutdownTimeout).Msg("a job is still running at shutdown; not waiting any longer")
					return nil
				}
			}
			return nil
		case <-j.reload:
			pushed = true
		case <-tick.C:
		}
		r := j.rules()
		s := scheduleOf(r)
		if s == sched {
			if pushed {
				j.log.Info().Str("rules", r.Digest()).Msg("jobs took the new rules: same schedules; their retention classes apply from the next run")
			}
			continue
		}
		next, err := j.start(jobCtx, r)
		if err != nil {
			j.log.Error().Err(err).Msg("new job schedules refused; keeping the previous ones")
			sched = s // do not retry until the rules change again
			continue
		}
		cur.Stop() // a run in progress finishes; the per-job locks keep runs apart
		cur, sched = next, s
		crons = append(crons, next)
		j.log.Info().Str("rules", r.Digest()).Msg("jobs took the new rules: rescheduled")
	}
}

// RulesChanged tells the jobs that new rules are in force: they take
// their schedules and time zone at once. It never blocks.
func (j *Jobs) RulesChanged() {
	select {
	case j.reload <- struct{}{}:
	default:
	}
}

// start builds and starts a cron instance for r's schedules.
func (j *Jobs) start(ctx context.Context, r *rules.Rules) (*cron.Cron, error) {
	cl := cronLogger{j.log}
	c := cron.New(cron.WithLocation(r.Location()), cron.WithLogger(cl),
		cron.WithChain(cron.Recover(cl), cron.SkipIfStillRunning(cl)))
	s := r.Schedules()
	for _, job := range []struct {
		name, spec string
		run        func(context.Context) error
	}{{JobRetention, s.Retention, j.purgeOnce}, {JobIntegrity, s.Integrity, j.verifyOnce}, {JobReport, s.Report, j.reportOnce}} {
		if job.spec == "" || job.name == JobReport && (j.opts.ReportsDir == "" || j.opts.Archive == nil) {
			continue // schedules.report is optional, and needs its folder
		}
		run := job.run
		if j.every > 0 {
			job.spec = "@every " + j.every.String()
		}
		if _, err := c.AddFunc(job.spec, func() {
			if ctx.Err() != nil {
				return
			}
			_ = run(ctx)
		}); err != nil {
			return nil, fmt.Errorf("schedule %s job %q: %w", job.name, job.spec, err)
		}
	}
	c.Start()
	j.log.Info().Str("retention", s.Retention).Str("integrity", s.Integrity).Str("report", s.Report).Str("timezone", r.Location().String()).
		Msg("retention, integrity and report jobs scheduled")
	return c, nil
}

// purgeOnce runs the purge now, unless one is running.
func (j *Jobs) purgeOnce(ctx context.Context) error {
	if !j.purging.TryLock() {
		j.log.Warn().Str("job", JobRetention).Msg("purge still running; this run is skipped")
		return nil
	}
	defer j.purging.Unlock()
	_, err := j.Purge(ctx)
	return err
}

// Purge runs the retention purge once and reports it in the logs and
// metrics.
func (j *Jobs) Purge(ctx context.Context) (*retention.PurgeReport, error) {
	log := j.log.With().Str("job", JobRetention).Logger()
	start := time.Now()
	r := j.rules()
	rep, err := j.store.Purge(ctx, retention.PurgeOptions{
		Classes: r.Retention(), ArchiveDir: j.opts.ArchiveDir, TrainingDir: j.opts.TrainingDir,
		MaxShare: j.opts.MaxShare, Actor: retention.Actor{Name: JobRetention, Job: true},
		Period: r.Period(r.Schedules().Retention),
	})
	if rep != nil && rep.Capped > 0 {
		log.Warn().Int("left", rep.Capped).Int("cap", retention.DefaultMaxPerRun).Msg("more files were due than one purge destroys; the rest goes at the next run")
	}
	if rep != nil {
		for _, d := range append(rep.Recordings, rep.Training...) {
			log.Info().Str("kind", d.Kind).Int64("id", d.ID).Str("file", d.Path).Str("class", d.Class).
				Time("ended", d.Ended).Int64("log_id", d.LogID).Msg("destroyed: retention over")
		}
		for _, p := range rep.Problems {
			log.Warn().Str("problem", p.Kind).Str("area", p.Area).Int64("id", p.ID).Str("file", p.Path).Str("detail", p.Detail).
				Msg("kept past its retention")
		}
		j.destroyed.WithLabelValues(retention.KindRecording).Add(float64(len(rep.Recordings)))
		j.destroyed.WithLabelValues(retention.KindTraining).Add(float64(len(rep.Training)))
		j.destroyed.WithLabelValues(retention.KindCall).Add(float64(rep.Calls))
	}
	var refused *retention.RefusedError
	switch {
	case errors.As(err, &refused):
		j.runs.WithLabelValues(JobRetention, "refused").Inc()
		log.Error().Str("reason", refused.Reason).Str("hint", refused.Hint).Msg("purge refused; nothing destroyed")
		return rep, err
	case err != nil:
		j.runs.WithLabelValues(JobRetention, "error").Inc()
		log.Error().Err(err).Msg("purge failed")
		return rep, err
	}
	j.held.Set(float64(rep.Held))
	outcome := "ok"
	if len(rep.Problems) > 0 {
		outcome = "problems"
	}
	j.runs.WithLabelValues(JobRetention, outcome).Inc()
	j.lastSuccess.WithLabelValues(JobRetention).SetToCurrentTime()
	log.Info().Int("recordings", len(rep.Recordings)).Int("training", len(rep.Training)).Int64("calls", rep.Calls).
		Int("held", rep.Held).Int("resumed", rep.Resumed).Int("problems", len(rep.Problems)).
		Dur("took", time.Since(start)).Msg("purge done")
	return rep, nil
}

// verifyOnce runs the integrity check now, unless one is running.
func (j *Jobs) verifyOnce(ctx context.Context) error {
	if !j.verifying.TryLock() {
		j.log.Warn().Str("job", JobIntegrity).Msg("integrity check still running; this run is skipped")
		return nil
	}
	defer j.verifying.Unlock()
	_, err := j.Verify(ctx)
	return err
}

// Verify runs the integrity check once and reports it in the logs and
// metrics.
func (j *Jobs) Verify(ctx context.Context) (*retention.IntegrityReport, error) {
	log := j.log.With().Str("job", JobIntegrity).Logger()
	rep, err := j.store.Verify(ctx, retention.VerifyOptions{ArchiveDir: j.opts.ArchiveDir, TrainingDir: j.opts.TrainingDir})
	if err != nil {
		j.runs.WithLabelValues(JobIntegrity, "error").Inc()
		log.Error().Err(err).Msg("integrity check failed")
		return rep, err
	}
	counts := map[string]int{}
	for _, p := range rep.Problems {
		counts[p.Kind]++
		log.Error().Str("problem", p.Kind).Str("area", p.Area).Int64("id", p.ID).Str("file", p.Path).Str("detail", p.Detail).
			Msg("integrity problem")
	}
	for _, k := range []string{archive.ProblemMissing, archive.ProblemAltered, archive.ProblemUnreadable, archive.ProblemOutside, archive.ProblemUnknown} {
		j.problems.WithLabelValues(k).Set(float64(counts[k]))
	}
	chainOK, chainRows := j.verifyAccessLog(ctx, log)
	if err := j.store.LogIntegrityRun(ctx, retention.IntegrityRun{Report: rep, Actor: JobIntegrity, ChainOK: &chainOK, ChainRows: chainRows}); err != nil {
		log.Error().Err(err).Msg("integrity run not logged")
	}
	outcome := "ok"
	if !rep.OK() || !chainOK {
		outcome = "problems"
	}
	j.runs.WithLabelValues(JobIntegrity, outcome).Inc()
	j.lastSuccess.WithLabelValues(JobIntegrity).SetToCurrentTime()
	log.Info().Int("checked", rep.Checked).Int("problems", len(rep.Problems)).
		Dur("took", rep.Finished.Sub(rep.Started)).Msg("integrity check done")
	return rep, nil
}

// verifyAccessLog walks the access log's hash chain, logs each break and
// the head (kept in the daemon's log, the head shows later that no row was
// removed from the end), and sets the "access-log-chain" problem gauge.
func (j *Jobs) verifyAccessLog(ctx context.Context, log zerolog.Logger) (bool, int64) {
	rep, err := j.reg.VerifyAccessLog(ctx)
	if err != nil {
		log.Error().Err(err).Msg("access log chain not checked")
		return false, 0
	}
	for _, b := range rep.Breaks {
		log.Error().Int64("id", b.ID).Int64("seq", b.Seq).Str("detail", b.Reason).Msg("access log chain broken")
	}
	j.problems.WithLabelValues(ProblemAccessLogChain).Set(float64(len(rep.Breaks)))
	log.Info().Int64("rows", rep.Rows).Int64("head_seq", rep.HeadSeq).Str("head_hash", rep.HeadHash).
		Int64("unsealed", rep.Unsealed).Bool("ok", rep.OK()).Msg("access log chain checked")
	return rep.OK(), rep.Rows
}

// ProblemAccessLogChain labels the integrity problems gauge with the
// access log's chain breaks.
const ProblemAccessLogChain = "access-log-chain"

// cronLogger sends the cron library's messages to zerolog.
type cronLogger struct{ log zerolog.Logger }

func (l cronLogger) Info(msg string, kv ...any) {
	l.log.Debug().Fields(kv).Msg("cron: " + msg)
}

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error().Err(err).Fields(kv).Msg("cron: " + msg)
}
