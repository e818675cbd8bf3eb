package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// Run runs the daemon until ctx is cancelled.
func Run(ctx context.Context, opts Options) error {
	cfg, err := config.Load(opts.ConfigFile)
	if err != nil {
		return err
	}
	w := opts.Log
	if w == nil {
		w = os.Stderr
	}
	lvl, _ := zerolog.ParseLevel(cfg.LogLevel)
	log := zerolog.New(w).Level(lvl).With().Timestamp().Str("service", "recpolicy").Logger()
	log.Info().Msg(cfg.String())

	amiSecret, err := cfg.AMI.Secret.Resolve()
	if err != nil {
		return fmt.Errorf("start daemon: ami secret: %w", err)
	}
	ariPassword, err := cfg.ARI.Password.Resolve()
	if err != nil {
		return fmt.Errorf("start daemon: ari password: %w", err)
	}
	for _, d := range []string{cfg.Recording.LocalDir, cfg.Archive.Dir} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return fmt.Errorf("start daemon: %w", err)
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ruleSet, err := NewRuleSet(cfg.RulesFile, log.With().Str("part", "rules").Logger(), reg)
	if err != nil {
		return fmt.Errorf("start daemon: load rules %s: %w", cfg.RulesFile, err)
	}
	log.Info().Str("file", cfg.RulesFile).Str("digest", ruleSet.Current().Digest()).
		Int("extensions", len(ruleSet.Current().Extensions())).Msg("rules loaded")
	metrics := engine.NewMetrics(reg)
	connected := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "recpolicy_connected", Help: "1 when the connection to Asterisk is up.",
	}, []string{"interface"})
	reg.MustRegister(connected)

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
	// One session reads the events; others, with events off, carry the
	// recorder's actions, so that Asterisk never makes an action wait
	// behind the events it writes to the reading session, and serves a
	// burst of starts on several sessions at once.
	amiClient := ami.NewClient(amiConfig, log.With().Str("part", "ami").Logger())
	actConfig := amiConfig
	actConfig.Events = "off"
	actConfig.Filter = ""
	amiActions := make([]*ami.Client, actionSessions)
	sessions := make([]engine.Session, actionSessions)
	for i := range amiActions {
		amiActions[i] = ami.NewClient(actConfig, log.With().Str("part", "ami-actions").Int("session", i+1).Logger())
		sessions[i] = amiActions[i]
	}

	greetings := NewGreetings(reg, log.With().Str("part", "greeting").Logger())
	greet := ruleSet.Current().Greeting()
	ariClient := ari.NewClient(ari.Config{
		URL:            cfg.ARI.URL,
		Username:       cfg.ARI.Username,
		Password:       ariPassword,
		Application:    cfg.ARI.Application,
		DialTimeout:    cfg.ARI.Timeout.Std(),
		RequestTimeout: cfg.ARI.Timeout.Std(),
		MaxBackoff:     cfg.ARI.MaxBackoff.Std(),
	}, ari.GreetingConfig{Sound: "sound:" + greet.Sound}, log.With().Str("part", "ari").Logger())

	dsn, err := cfg.Archive.DSN.Resolve()
	if err != nil {
		return fmt.Errorf("start daemon: archive dsn: %w", err)
	}
	archiver, err := OpenArchiver(ctx, dsn, cfg.Archive.SpoolDir, cfg.Archive.PBXTimezone, ruleSet.Current, log.With().Str("part", "archive").Logger())
	if err != nil {
		return fmt.Errorf("start daemon: %w", err)
	}
	jobStore, err := archive.Connect(dsn)
	if err != nil {
		return fmt.Errorf("start daemon: %w", err)
	}
	defer jobStore.Close()
	jobs, err := NewJobs(jobStore, ruleSet.Current, log.With().Str("part", "jobs").Logger(), reg,
		JobOptions{ArchiveDir: cfg.Archive.Dir, TrainingDir: cfg.TrainingDir()})
	if err != nil {
		return fmt.Errorf("start daemon: %w", err)
	}
	closes, err := engine.NewCloseWatch(cfg.Recording.LocalDir)
	if err != nil {
		log.Warn().Err(err).Msg("the recording spool cannot be watched; the filer judges files by their looks")
		closes = nil
	}
	reg.MustRegister(archiver.Collectors()...)
	archiveUID, archiveGID, err := cfg.ArchiveOwner()
	if err != nil {
		return fmt.Errorf("start daemon: config %s: %w", cfg.Path, err)
	}
	spoolUID, err := cfg.SpoolOwner()
	if err != nil {
		return fmt.Errorf("start daemon: config %s: %w", cfg.Path, err)
	}
	archiver.SetGreetings(greetings.Outcome)
	archiver.RulesLoaded(ruleSet.Current(), "start", time.Now())
	ruleSet.OnLoad(func(r *rules.Rules, trigger string, at time.Time) {
		// Every part that depends on the rules takes them at once, and
		// says so: the tracker gives new calls a snapshot of them (a call
		// keeps the rules it started with); the archive keeps the version;
		// the greeting and the Cdr time zone follow; the jobs reschedule.
		archiver.RulesLoaded(r, trigger, at)
		ariClient.SetGreetingSound("sound:" + r.Greeting().Sound)
		if cfg.Archive.PBXTimezone == "" {
			archiver.SetLocation(r.Location())
		}
		jobs.RulesChanged()
		log.Info().Str("part", "tracker").Str("rules", r.Digest()).Msg("tracker took the new rules: calls that start from now on are decided with them")
	})
	filer := engine.NewWatchedFiler(cfg.Recording.LocalDir, cfg.Archive.Dir, cfg.Recording.CloseTimeout.Std(), log.With().Str("part", "filer").Logger(), metrics, archiver.OnFiled(opts.OnFiled), closes)
	filer.SetArchiveOwner(archiveUID, archiveGID)
	filer.SetSpoolOwner(spoolUID)
	// Orders wait up to 5 s for the actions session when it is reconnecting.
	actions := engine.Patient(engine.Spread(sessions...), 5*time.Second)
	var recorder engine.Recorder = &mixmonitor.Recorder{AMI: actions, AsteriskDir: cfg.Recording.AsteriskDir, LocalDir: cfg.Recording.LocalDir, Filer: filer}
	var snoopClient *ari.SnoopClient
	if cfg.Recording.Backend == "snoop" {
		snoopClient = ari.NewSnoopClient(ari.Config{
			URL:            cfg.ARI.URL,
			Username:       cfg.ARI.Username,
			Password:       ariPassword,
			Application:    cfg.ARI.SnoopApplication,
			DialTimeout:    cfg.ARI.Timeout.Std(),
			RequestTimeout: cfg.ARI.Timeout.Std(),
			MaxBackoff:     cfg.ARI.MaxBackoff.Std(),
		}, log.With().Str("part", "ari-snoop").Logger())
		recorder = &snoop.Recorder{ARI: snoopClient, AMI: actions, AsteriskDir: cfg.Recording.AsteriskDir, LocalDir: cfg.Recording.LocalDir, Filer: filer}
	}
	pipe := engine.NewPipeline(recorder, pipelineLanes)
	tracker := engine.NewTracker(log.With().Str("part", "tracker").Logger(), ruleSet.Current, recorder, metrics, pipe)

	health := []healthCheck{{"ami", amiClient.Connected}, {"ari", ariClient.Connected}, {"ami-actions", func() bool {
		for _, c := range amiActions {
			if !c.Connected() {
				return false
			}
		}
		return true
	}}}
	if snoopClient != nil {
		health = append(health, healthCheck{"ari-snoop", snoopClient.Connected})
	}
	srv, ln, err := listen(cfg.Listen, reg, health)
	if err != nil {
		return fmt.Errorf("start daemon: %w", err)
	}

	// Ordered lifetimes: the connections and the tracker stop first; the
	// filer then drains what the tracker handed it; the archive then spools
	// and replays what the filer produced; the HTTP server last.
	connCtx, stopConns := context.WithCancel(ctx)
	defer stopConns()
	pipeCtx, stopPipe := context.WithCancel(context.Background())
	defer stopPipe()
	filerCtx, stopFiler := context.WithCancel(context.Background())
	defer stopFiler()
	archCtx, stopArchive := context.WithCancel(context.Background())
	defer stopArchive()
	var conns, piping, filing, archiving, serving sync.WaitGroup
	archiving.Add(1)
	go func() { defer archiving.Done(); archiver.Run(archCtx) }()
	piping.Add(1)
	go func() { defer piping.Done(); pipe.Run(pipeCtx) }()
	jobsCtx, stopJobs := context.WithCancel(context.Background())
	defer stopJobs()
	var jobbing sync.WaitGroup
	jobbing.Add(1)
	go func() { defer jobbing.Done(); _ = jobs.Run(jobsCtx) }()

	serving.Add(1)
	go func() {
		defer serving.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("metrics server stopped")
		}
	}()
	filing.Add(2)
	go func() { defer filing.Done(); filer.Run(filerCtx, cfg.Workers) }()
	go func() { defer filing.Done(); archiver.RunSpooler(filerCtx) }()
	if closes != nil {
		goLogged(&filing, log, "recording spool watch stopped; the filer judges files by their looks", func() error { return closes.Run(filerCtx) })
	}
	for _, c := range amiActions {
		goLogged(&conns, log, "ami actions client stopped", func() error { return c.Run(connCtx) })
		conns.Add(1)
		go func() {
			// Events are off on these sessions: only their state comes
			// here; it ends when the client closes the channel.
			defer conns.Done()
			for n := range c.Notifications() {
				if n.Kind == ami.KindDisconnected {
					log.Warn().Err(n.Err).Msg("ami actions session lost; reconnecting")
				}
			}
		}()
	}
	goLogged(&conns, log, "ami client stopped", func() error { return amiClient.Run(connCtx) })
	goLogged(&conns, log, "ari client stopped", func() error { return ariClient.Run(connCtx) })
	if snoopClient != nil {
		goLogged(&conns, log, "ari snoop client stopped", func() error { return snoopClient.Run(connCtx) })
	}
	conns.Add(1)
	go func() {
		defer conns.Done()
		for res := range ariClient.Results() {
			greetings.Observe(res)
		}
	}()

	// The event loop: one goroutine feeds the tracker in event order.
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	events := amiClient.Notifications()
	ticks := 0
loop:
	for {
		select {
		case n, ok := <-events:
			if !ok {
				break loop
			}
			switch n.Kind {
			case ami.KindEvent:
				tracker.HandleAt(connCtx, n.Msg, n.Received)
				archiver.HandleEvent(n.Msg)
				if n.Msg.Event() == "VarSet" {
					greetings.ObserveVarSet(n.Msg.Get("Channel"), n.Msg.Get("Linkedid"), n.Msg.Get("Variable"), n.Msg.Get("Value"))
				}
			case ami.KindConnected:
				connected.WithLabelValues("ami").Set(1)
				log.Info().Bool("asterisk_restarted", n.Restarted).Msg("ami connected")
				reconcile(connCtx, log, amiClient, tracker, filer, ruleSet.Current)
			case ami.KindDisconnected:
				connected.WithLabelValues("ami").Set(0)
				log.Warn().Err(n.Err).Msg("ami disconnected; reconnecting")
			}
		case o := <-pipe.Outcomes():
			tracker.Apply(connCtx, o)
		case <-opts.Reload:
			ruleSet.Reload("SIGHUP")
		case <-ticker.C:
			tracker.CheckGrowth(fileSize)
			tracker.Tick(connCtx)
			if ticks++; ticks%30 == 0 && amiClient.Connected() {
				// Files a crash of Asterisk left behind while the daemon
				// stayed up (they are not touched any more).
				filer.Orphans(tracker.RunningIDs(), ruleSet.Current())
			}
			if ruleSet.Changed() {
				ruleSet.Reload("file changed")
			}
			for _, c := range health[1:] { // AMI's is set on its notifications
				connected.WithLabelValues(c.name).Set(boolGauge(c.up()))
			}
		case <-ctx.Done():
			break loop
		}
	}
	log.Info().Msg("shutting down")
	timeout := opts.ShutdownTimeout
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
	waitOr(&conns, deadline, log, "connections")
	// What the tracker handed over reaches the filer; recordings still
	// running stay so: the channels carry their IDs, and the next start
	// adopts them (or files what a crash left).
	stopPipe()
	waitOr(&piping, deadline, log, "recorder pipeline")
	stopFiler()
	waitOr(&filing, deadline, log, "filer")
	stopJobs()
	waitOr(&jobbing, deadline, log, "jobs")
	stopArchive()
	waitOr(&archiving, deadline, log, "archive")
	shutCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	waitOr(&serving, deadline, log, "http server")
	log.Info().Msg("stopped")
	return nil
}

// actionSessions is how many AMI sessions carry the recorder's actions.
const actionSessions = 4

// pipelineLanes is how many recorder orders may be in flight at once (each
// lane carries one channel's orders in order).
const pipelineLanes = 16

// goLogged runs run in a goroutine counted by wg, logging its error with
// msg.
func goLogged(wg *sync.WaitGroup, log zerolog.Logger, msg string, run func() error) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := run(); err != nil {
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
	evs := make([]engine.Event, len(items))
	for i, it := range items {
		evs[i] = it
	}
	adopted := t.Reconcile(ctx, evs)
	orphans := f.Orphans(t.RunningIDs(), rules())
	log.Info().Int("channels", len(items)).Int("adopted", adopted).Int("orphans", orphans).Msg("reconciled with the calls up")
}

func fileSize(p string) (int64, error) {
	st, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}
