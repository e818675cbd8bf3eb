package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"github.com/villedemercier/recpolicy/ami"
	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/ari"
	"github.com/villedemercier/recpolicy/internal/config"
	"github.com/villedemercier/recpolicy/internal/engine"
	"github.com/villedemercier/recpolicy/internal/engine/mixmonitor"
	"github.com/villedemercier/recpolicy/internal/engine/snoop"
	"github.com/villedemercier/recpolicy/rules"
)

// Options are what main hands to Run.
type Options struct {
	ConfigFile string
	// Reload receives a value for each SIGHUP.
	Reload <-chan struct{}
	// Log is where JSON logs go (os.Stderr when nil).
	Log io.Writer
	// OnFiled, when set, is told of every recording filed (tests, demo).
	OnFiled func(engine.Filed)
	// ShutdownTimeout caps the ordered shutdown (default 20s).
	ShutdownTimeout time.Duration
}

// Daemon is the recording daemon's parts, built by New, run by Run and
// released by Close, in the way litestream's server is: every part is
// built before anything runs, so a configuration mistake stops the start
// with nothing half-running; Run starts them in order and stops them in
// the reverse order, each stage capped.
type Daemon struct {
	cfg  *config.Config
	opts Options
	log  zerolog.Logger
	reg  *prometheus.Registry

	rules     *RuleSet
	metrics   *engine.Metrics
	connected *prometheus.GaugeVec
	greetings *Greetings

	amiClient   *ami.Client   // the event session
	amiActions  []*ami.Client // the recorder's action sessions
	ariClient   *ari.Client
	snoopClient *ari.SnoopClient // nil with the MixMonitor backend
	// answerTimes keeps the snoop backend's times beside its files.
	answerTimes *engine.AnswerTimes

	archiver *Archiver
	jobStore *archive.Store
	jobs     *Jobs
	closes   *engine.CloseWatch // nil when the spool cannot be watched
	filer    *engine.Filer
	pipe     *engine.Pipeline
	tracker  *engine.Tracker

	health []healthCheck
	srv    *http.Server
	ln     net.Listener
}

// Run builds the daemon, runs it until ctx is cancelled and releases it.
func Run(ctx context.Context, opts Options) error {
	d, err := New(ctx, opts)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Run(ctx)
}

// New loads the configuration and the rules and builds every part of the
// daemon; nothing runs yet. On error it releases what it built.
func New(ctx context.Context, opts Options) (d *Daemon, err error) {
	cfg, err := config.Load(opts.ConfigFile)
	if err != nil {
		return nil, err
	}
	w := opts.Log
	if w == nil {
		w = os.Stderr
	}
	lvl, _ := zerolog.ParseLevel(cfg.LogLevel)
	d = &Daemon{cfg: cfg, opts: opts, log: NewLogger(w, lvl, "recpolicy")}
	defer func() {
		if err != nil {
			d.Close()
			d = nil
		}
	}()
	d.log.Info().Msg(cfg.String())
	for _, dir := range []string{cfg.Recording.LocalDir, cfg.Archive.Dir} {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return d, fmt.Errorf("start daemon: %w", err)
		}
	}
	d.reg = prometheus.NewRegistry()
	d.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if d.rules, err = NewRuleSet(cfg.RulesFile, d.part("rules"), d.reg); err != nil {
		return d, fmt.Errorf("start daemon: load rules %s: %w", cfg.RulesFile, err)
	}
	d.log.Info().Str("file", cfg.RulesFile).Str("digest", d.rules.Current().Digest()).
		Int("extensions", len(d.rules.Current().Extensions())).Msg("rules loaded")
	d.metrics = engine.NewMetrics(d.reg)
	d.connected = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "recpolicy_connected", Help: "1 when the connection to Asterisk is up.",
	}, []string{"interface"})
	d.reg.MustRegister(d.connected)
	d.greetings = NewGreetings(d.reg, d.part("greeting"))
	if err := d.buildConnections(); err != nil {
		return d, err
	}
	if err := d.buildArchive(ctx); err != nil {
		return d, err
	}
	if err := d.buildEngine(); err != nil {
		return d, err
	}
	d.rules.OnLoad(d.rulesLoaded)
	d.health = []healthCheck{{"ami", d.amiClient.Connected}, {"ari", d.ariClient.Connected}, {"ami-actions", d.actionsUp}}
	if d.snoopClient != nil {
		d.health = append(d.health, healthCheck{"ari-snoop", d.snoopClient.Connected})
	}
	if d.srv, d.ln, err = listen(cfg.Listen, d.reg, d.health); err != nil {
		return d, fmt.Errorf("start daemon: %w", err)
	}
	return d, nil
}

// part is the logger of one part of the daemon.
func (d *Daemon) part(name string) zerolog.Logger { return d.log.With().Str("part", name).Logger() }

// buildConnections builds the AMI sessions and the ARI clients. One AMI
// session reads the events; others, with events off, carry the recorder's
// actions, so that Asterisk never makes an action wait behind the events
// it writes to the reading session, and serves a burst of starts on several
// sessions at once.
func (d *Daemon) buildConnections() error {
	cfg := d.cfg
	amiSecret, err := cfg.AMI.Secret.Resolve()
	if err != nil {
		return fmt.Errorf("start daemon: ami secret: %w", err)
	}
	ariPassword, err := cfg.ARI.Password.Resolve()
	if err != nil {
		return fmt.Errorf("start daemon: ari password: %w", err)
	}
	amiConfig := ami.Config{
		Addr:          cfg.AMI.Address,
		Username:      cfg.AMI.Username,
		Secret:        amiSecret,
		Events:        "on",
		Filter:        eventFilter(),
		ActionTimeout: cfg.AMI.ActionTimeout.Std(),
		PingInterval:  cfg.AMI.PingInterval.Std(),
		MaxBackoff:    cfg.AMI.MaxBackoff.Std(),
	}
	d.amiClient = ami.NewClient(amiConfig, d.part("ami"))
	actConfig := amiConfig
	actConfig.Events, actConfig.Filter = "off", ""
	d.amiActions = make([]*ami.Client, actionSessions)
	for i := range d.amiActions {
		d.amiActions[i] = ami.NewClient(actConfig, d.log.With().Str("part", "ami-actions").Int("session", i+1).Logger())
	}
	ariConfig := ari.Config{
		URL:            cfg.ARI.URL,
		Username:       cfg.ARI.Username,
		Password:       ariPassword,
		Application:    cfg.ARI.Application,
		DialTimeout:    cfg.ARI.Timeout.Std(),
		RequestTimeout: cfg.ARI.Timeout.Std(),
		MaxBackoff:     cfg.ARI.MaxBackoff.Std(),
	}
	d.ariClient = ari.NewClient(ariConfig, ari.GreetingConfig{Sound: "sound:" + d.rules.Current().Greeting().Sound}, d.part("ari"))
	if cfg.Recording.Backend == "snoop" {
		ariConfig.Application = cfg.ARI.SnoopApplication
		d.answerTimes = &engine.AnswerTimes{Dir: cfg.Recording.LocalDir, Log: d.part("recording-times")}
		d.snoopClient = ari.NewSnoopClient(ariConfig, d.answerTimes, d.part("ari-snoop"))
		d.snoopClient.WatchEndpoints(annexeAEndpoints(d.rules.Current()))
	}
	return nil
}

// buildArchive opens the archive's spool and the jobs' connection.
func (d *Daemon) buildArchive(ctx context.Context) error {
	cfg := d.cfg
	dsn, err := cfg.Archive.DSN.Resolve()
	if err != nil {
		return fmt.Errorf("start daemon: archive dsn: %w", err)
	}
	var migrateDSN string
	if cfg.Archive.MigrateDSN.Set() {
		migrateDSN, err = cfg.Archive.MigrateDSN.Resolve()
		switch {
		case errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrNotExist):
			// The packaged service: the owner's secret is root's, for
			// `recpolicy migrate`; the daemon runs on the schema as it is.
			d.log.Warn().Err(err).Msg("archive.migrate_dsn is not readable by the daemon: the schema's owner migrates with recpolicy migrate (as root); the daemon uses archive.dsn")
			migrateDSN = ""
		case err != nil:
			return fmt.Errorf("start daemon: archive migrate_dsn: %w", err)
		}
	}
	if d.archiver, err = OpenArchiver(ctx, dsn, migrateDSN, cfg.Archive.SpoolDir, cfg.Archive.PBXTimezone, d.rules.Current, d.part("archive")); err != nil {
		return fmt.Errorf("start daemon: %w", err)
	}
	d.reg.MustRegister(d.archiver.Collectors()...)
	d.reg.MustRegister(newDiskCollector(map[string]string{"archive": cfg.Archive.Dir, "spool": cfg.Archive.SpoolDir, "recordings": cfg.Recording.LocalDir}))
	d.archiver.SetGreetings(d.greetings.Outcome)
	d.archiver.RulesLoaded(d.rules.Current(), "start", time.Now())
	if d.jobStore, err = archive.Connect(dsn); err != nil {
		return fmt.Errorf("start daemon: %w", err)
	}
	if d.jobs, err = NewJobs(d.jobStore, d.rules.Current, d.part("jobs"), d.reg,
		JobOptions{ArchiveDir: cfg.Archive.Dir, TrainingDir: cfg.TrainingDir(), ReportsDir: cfg.ReportsDir(), Archive: d.jobStore, RulesFile: cfg.RulesFile, PBXCDRCSV: cfg.Archive.PBXCDRCSV}); err != nil {
		return fmt.Errorf("start daemon: %w", err)
	}
	return nil
}

// buildEngine builds the filer, the recorder backend, the pipeline and the
// tracker.
func (d *Daemon) buildEngine() error {
	cfg := d.cfg
	archiveUID, archiveGID, err := cfg.ArchiveOwner()
	if err != nil {
		return fmt.Errorf("start daemon: config %s: %w", cfg.Path, err)
	}
	spoolUID, err := cfg.SpoolOwner()
	if err != nil {
		return fmt.Errorf("start daemon: config %s: %w", cfg.Path, err)
	}
	if d.closes, err = engine.NewCloseWatch(cfg.Recording.LocalDir); err != nil {
		d.log.Warn().Err(err).Msg("the recording spool cannot be watched; the filer judges files by their looks")
		d.closes = nil
	}
	d.filer = engine.NewWatchedFiler(cfg.Recording.LocalDir, cfg.Archive.Dir, cfg.Recording.CloseTimeout.Std(), d.part("filer"), d.metrics, d.archiver.OnFiled(d.opts.OnFiled), d.closes)
	d.filer.SetArchiveOwner(archiveUID, archiveGID)
	d.filer.SetSpoolOwner(spoolUID)
	// MixMonitor writes each party on its own channel (option D).
	mixed := cfg.Recording.Parties == config.PartiesMixed
	d.filer.SetInterleaved(cfg.Recording.Backend == "mixmonitor" && !mixed)
	sessions := make([]engine.Session, len(d.amiActions))
	for i, c := range d.amiActions {
		sessions[i] = c
	}
	// Orders wait up to 5 s for the actions session when it is reconnecting.
	actions := engine.Patient(engine.Spread(sessions...), 5*time.Second)
	var recorder engine.Recorder = &mixmonitor.Recorder{AMI: actions, AsteriskDir: cfg.Recording.AsteriskDir, LocalDir: cfg.Recording.LocalDir, Filer: d.filer, Mixed: mixed, ByUniqueid: d.metrics.StartsByUniqueid}
	if d.snoopClient != nil {
		recorder = &snoop.Recorder{ARI: d.snoopClient, AMI: actions, AsteriskDir: cfg.Recording.AsteriskDir, LocalDir: cfg.Recording.LocalDir, Filer: d.filer, Mixed: mixed, ByUniqueid: d.metrics.StartsByUniqueid, Times: d.answerTimes}
	}
	d.pipe = engine.NewPipeline(recorder, pipelineWorkers)
	d.tracker = engine.NewTracker(d.part("tracker"), d.rules.Current, recorder, d.metrics, d.pipe)
	return nil
}

// rulesLoaded hands new rules to every part that depends on them, which
// takes them at once and says so: the tracker gives new calls a snapshot
// of them (a call keeps the rules it started with); the archive keeps the
// version; the greeting and the Cdr time zone follow; the jobs reschedule.
// It runs on the event loop and never blocks.
func (d *Daemon) rulesLoaded(r *rules.Rules, trigger string, at time.Time) {
	d.archiver.RulesLoaded(r, trigger, at)
	d.ariClient.SetGreetingSound("sound:" + r.Greeting().Sound)
	if d.cfg.Archive.PBXTimezone == "" {
		d.archiver.SetLocation(r.Location())
	}
	d.jobs.RulesChanged()
	if d.snoopClient != nil {
		d.snoopClient.WatchEndpoints(annexeAEndpoints(r))
	}
	d.log.Info().Str("part", "tracker").Str("rules", r.Digest()).Msg("tracker took the new rules: calls that start from now on are decided with them")
}

// annexeAEndpoints names, as ARI event sources, the PJSIP endpoints of
// the Annexe A extensions: the snoop client subscribes to them so that it
// knows their channels from their creation (ari.SnoopClient.WatchEndpoints).
func annexeAEndpoints(r *rules.Rules) []string {
	exts := r.Extensions()
	eps := make([]string, 0, len(exts))
	for _, e := range exts {
		eps = append(eps, "PJSIP/"+e.Endpoint)
	}
	return eps
}

// actionsUp tells whether every actions session is connected.
func (d *Daemon) actionsUp() bool {
	for _, c := range d.amiActions {
		if !c.Connected() {
			return false
		}
	}
	return true
}

// Close releases what New built and Run did not: the jobs' connection,
// the archive when it never ran, the listener. It is safe to call more
// than once, and on a daemon New gave up building.
func (d *Daemon) Close() error {
	if d.ln != nil {
		d.ln.Close()
	}
	if d.jobStore != nil {
		d.jobStore.Close()
		d.jobStore = nil
	}
	if d.archiver != nil {
		d.archiver.Close()
	}
	return nil
}

// stage is a group of goroutines that start and stop together.
type stage struct {
	name   string
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Run runs the daemon until ctx is cancelled. Ordered lifetimes: the
// connections and the tracker stop first; the recorder pipeline carries
// out what the tracker handed it; the filer then drains; the jobs stop;
// the archive spools and replays what the filer produced; the HTTP server
// last. The whole shutdown is capped by Options.ShutdownTimeout.
func (d *Daemon) Run(ctx context.Context) error {
	connCtx, stopConns := context.WithCancel(ctx)
	defer stopConns()
	newStage := func(name string) (*stage, context.Context) {
		c, cancel := context.WithCancel(context.Background())
		return &stage{name: name, cancel: cancel}, c
	}
	conns := &stage{name: "connections", cancel: stopConns}
	piping, pipeCtx := newStage("recorder pipeline")
	filing, filerCtx := newStage("filer")
	jobbing, jobsCtx := newStage("jobs")
	archiving, archCtx := newStage("archive")
	serving, _ := newStage("http server")
	for _, st := range []*stage{piping, filing, jobbing, archiving, serving} {
		defer st.cancel()
	}

	goLogged(&archiving.wg, d.log, "archive stopped", func() error { d.archiver.Run(archCtx); return nil })
	goLogged(&piping.wg, d.log, "recorder pipeline stopped", func() error { d.pipe.Run(pipeCtx); return nil })
	goLogged(&jobbing.wg, d.log, "jobs stopped", func() error { return d.jobs.Run(jobsCtx) })
	goLogged(&serving.wg, d.log, "metrics server stopped", func() error {
		if err := d.srv.Serve(d.ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	goLogged(&filing.wg, d.log, "filer stopped", func() error { d.filer.Run(filerCtx, d.cfg.Workers); return nil })
	goLogged(&filing.wg, d.log, "archive spooler stopped", func() error { d.archiver.RunSpooler(filerCtx); return nil })
	if d.closes != nil {
		goLogged(&filing.wg, d.log, "recording spool watch stopped; the filer judges files by their looks", func() error { return d.closes.Run(filerCtx) })
	}
	d.runConnections(connCtx, &conns.wg)

	events := d.amiClient.Notifications()
	d.eventLoop(ctx, connCtx, events)

	d.log.Info().Msg("shutting down")
	timeout := d.opts.ShutdownTimeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	deadline := time.After(timeout)
	stopConns()
	go func() {
		// Keep draining so the AMI client can close its notification channel.
		for range events {
		}
	}()
	// What the tracker handed over reaches the filer; recordings still
	// running stay so: the channels carry their IDs, and the next start
	// adopts them (or files what a crash left).
	for _, st := range []*stage{conns, piping, filing, jobbing, archiving} {
		st.cancel()
		waitOr(&st.wg, deadline, d.log, st.name)
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = d.srv.Shutdown(shutCtx)
	waitOr(&serving.wg, deadline, d.log, serving.name)
	d.log.Info().Msg("stopped")
	return nil
}

// runConnections starts the AMI sessions and the ARI clients, and the
// goroutines that read their notifications besides the event loop.
func (d *Daemon) runConnections(ctx context.Context, wg *sync.WaitGroup) {
	for _, c := range d.amiActions {
		goLogged(wg, d.log, "ami actions client stopped", func() error { return c.Run(ctx) })
		goLogged(wg, d.log, "", func() error {
			// Events are off on these sessions: only their state comes
			// here; it ends when the client closes the channel.
			for n := range c.Notifications() {
				if n.Kind == ami.KindDisconnected {
					d.log.Warn().Err(n.Err).Msg("ami actions session lost; reconnecting")
				}
			}
			return nil
		})
	}
	goLogged(wg, d.log, "ami client stopped", func() error { return d.amiClient.Run(ctx) })
	goLogged(wg, d.log, "ari client stopped", func() error { return d.ariClient.Run(ctx) })
	if d.snoopClient != nil {
		goLogged(wg, d.log, "ari snoop client stopped", func() error { return d.snoopClient.Run(ctx) })
	}
	goLogged(wg, d.log, "", func() error {
		for res := range d.ariClient.Results() {
			d.greetings.Observe(res)
		}
		return nil
	})
}

// eventLoop feeds the tracker in event order, with the recorder's
// outcomes, the reloads and a one-second tick, until ctx is cancelled or
// the AMI client stops.
func (d *Daemon) eventLoop(ctx, connCtx context.Context, events <-chan ami.Notification) {
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	ticks := 0
	for {
		select {
		case n, ok := <-events:
			if !ok {
				return
			}
			d.notification(connCtx, n)
		case o := <-d.pipe.Outcomes():
			d.tracker.Apply(connCtx, o)
		case <-d.opts.Reload:
			d.rules.Reload("SIGHUP")
		case <-ticker.C:
			d.tracker.CheckGrowth(fileSize)
			d.tracker.Tick(connCtx)
			if ticks++; ticks%30 == 0 && d.amiClient.Connected() {
				// Files a crash of Asterisk left behind while the daemon
				// stayed up (they are not touched any more).
				d.filer.Orphans(d.tracker.RunningIDs(), d.rules.Current())
			}
			if d.rules.Changed() {
				d.rules.Reload("file changed")
			}
			for _, c := range d.health[1:] { // AMI's is set on its notifications
				d.connected.WithLabelValues(c.name).Set(boolGauge(c.up()))
			}
		case <-ctx.Done():
			return
		}
	}
}

// notification applies one notification of the AMI event session.
func (d *Daemon) notification(ctx context.Context, n ami.Notification) {
	switch n.Kind {
	case ami.KindEvent:
		d.tracker.HandleAt(ctx, n.Msg, n.Received)
		d.archiver.HandleEvent(n.Msg)
		if n.Msg.Event() == "VarSet" {
			d.greetings.ObserveVarSet(n.Msg.Get("Channel"), n.Msg.Get("Linkedid"), n.Msg.Get("Variable"), n.Msg.Get("Value"))
		}
	case ami.KindConnected:
		d.connected.WithLabelValues("ami").Set(1)
		d.log.Info().Bool("asterisk_restarted", n.Restarted).Str("asterisk_boot", n.Boot).Msg("ami connected")
		d.tracker.SetBoot(n.Boot)
		reconcile(ctx, d.log, d.amiClient, d.tracker, d.filer, d.rules.Current)
	case ami.KindDisconnected:
		d.connected.WithLabelValues("ami").Set(0)
		d.log.Warn().Err(n.Err).Msg("ami disconnected; reconnecting")
	}
}

// actionSessions is how many AMI sessions carry the recorder's actions.
const actionSessions = 4

// pipelineWorkers is how many recorder orders may be in flight at once
// (one channel's orders go one at a time, in order). A start holds its
// worker for its round trips to the PBX (a snoop start: an AMI Setvar and
// up to three ARI requests in turn): 64 leaves room for a burst's starts
// while a loaded PBX serves each in up to a second; their ARI requests wait
// for one of the client's connections, which stay under Asterisk's 100 HTTP
// sessions (see ari's REST client).
const pipelineWorkers = 64

// goLogged runs run in a goroutine counted by wg, logging its error with
// msg.
func goLogged(wg *sync.WaitGroup, log zerolog.Logger, msg string, run func() error) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := run(); err != nil && msg != "" {
			log.Error().Err(err).Msg(msg)
		}
	}()
}

func waitOr(wg *sync.WaitGroup, deadline <-chan time.Time, log zerolog.Logger, what string) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-deadline:
		log.Error().Str("part", what).Msg("shutdown time cap reached; not waiting any longer")
	}
}

// healthCheck is one connection /healthz reports on.
type healthCheck struct {
	name string
	up   func() bool
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func listen(addr string, reg *prometheus.Registry, checks []healthCheck) (*http.Server, net.Listener, error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		var down []string
		for _, c := range checks {
			if !c.up() {
				down = append(down, c.name)
			}
		}
		if len(down) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "down: %s\n", strings.Join(down, ", "))
			return
		}
		fmt.Fprintln(w, "ok")
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln, nil
}

// reconcile brings the tracker in line with the calls up after a (re)connect,
// then files what a crash left in the spool.
func reconcile(ctx context.Context, log zerolog.Logger, c *ami.Client, t *engine.Tracker, f *engine.Filer, rules engine.RulesSource) {
	items, err := c.List(ctx, "CoreShowChannels")
	if err != nil {
		log.Error().Err(err).Msg("reconcile: list channels failed; the tracker follows new events only")
		return
	}
	// Which bridges are parking lots: CoreShowChannels does not say.
	var bridges []engine.Event
	if list, err := c.List(ctx, "BridgeList"); err != nil {
		log.Warn().Err(err).Msg("reconcile: list bridges failed; channels parked in one lot are taken for talking together until their next bridge event")
	} else {
		bridges = asEvents(list)
	}
	adopted := t.Reconcile(ctx, asEvents(items), bridges)
	orphans := f.Orphans(t.RunningIDs(), rules())
	log.Info().Int("channels", len(items)).Int("adopted", adopted).Int("orphans", orphans).Msg("reconciled with the calls up")
}

// asEvents gives AMI list items to the tracker.
func asEvents(ms []*ami.Message) []engine.Event {
	evs := make([]engine.Event, len(ms))
	for i, m := range ms {
		evs[i] = m
	}
	return evs
}

func fileSize(p string) (int64, error) {
	st, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}
