// Command load is `make load`: with the sandbox taken (sandbox.Up), it runs
// the recpolicy daemon binary and places waves of concurrent external inbound
// calls to the Annexe A extensions through the simulator (each greeted
// through ARI, then bridged), in three profiles:
//
//   - burst: the calls placed within 2 s, each bridged about 3 s (many
//     people calling at once after an announcement);
//   - restart: the PBX restarted (`core restart now`), and the same burst as
//     soon as the daemon has reconnected;
//   - long: the calls ramped over 5 s, each bridged 15 s;
//   - daemon (not run unless asked): the same burst, with the daemon
//     stopped (SIGTERM) and started again -daemon-restart-at after the
//     wave's first call, as a package upgrade or `systemctl restart` would.
//
// For every wave it reports how many calls the PBX bridged (and how many at
// once), the recordings missed (an Annexe A extension answered, nothing
// filed), the recordings discarded empty or flagged short, the recording
// start latency (the daemon's recpolicy_recording_start_seconds histogram),
// the seconds lost at the start of each call (from the extension channel's
// BridgeEnter to its recording's start, MixMonitorStart on AMI or the
// snoops' RecordingStarted on ARI: the PBX's own events and clock), each
// call's shortfall (its bridged time by BridgeEnter/BridgeLeave, less the
// audio filed; the baseline's beside it), the
// daemon's peak memory, and the audio the daemon recorded against a
// FreePBX-style MixMonitor that the dialplan starts before Dial
// (LOAD_BASELINE, docker/asterisk/pbx/extensions.conf) in the same calls.
//
// It exits non-zero when a wave of at most -gate-calls calls misses a
// target: a recording missed or discarded empty, a total ratio under
// -min-ratio, a call under -min-call-ratio, a lost-start p99 over
// -max-lost-p99, a shortfall p99 over the baseline's by -max-shortfall-p99
// (larger waves probe the sandbox's capacity: reported, not
// enforced; a missed recording fails every wave). -runs repeats the
// profiles; -backend picks the recorder; -ami-delay puts the daemon's AMI
// behind a proxy that delivers its actions late (a loaded PBX). As systemd
// runs services, the daemon and each Asterisk instance run in a cpu cgroup
// of their own, the daemon with its unit's Nice= and CPUWeight=
// (-as-services; placement.go). Servers log to files under -out, never to
// the terminal.
package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/villedemercier/recpolicy/ami"
	"github.com/villedemercier/recpolicy/internal/engine"
	"github.com/villedemercier/recpolicy/internal/sandbox"
	"github.com/villedemercier/recpolicy/rules"
)

// baselineDir is where the dialplan's baseline MixMonitor writes, as the
// PBX sees it (docker/asterisk/pbx/extensions.conf, [city-inbound]).
const baselineDir = "/var/spool/asterisk/monitor/baseline"

type options struct {
	waves        []int
	profiles     []profile
	runs         int
	backend      string
	parties      string
	amiDelay     time.Duration
	ramp         time.Duration // of the wave being placed
	talk         time.Duration
	bin          string
	out          string
	minRatio     float64
	minCallRatio float64
	maxLostP99   time.Duration
	maxShortP99  time.Duration
	gate         int
	daemonAt     time.Duration // the daemon profile: when the daemon restarts, from the wave's first call
	keep         bool
	noBuild      bool
	asServices   bool // each Asterisk and the daemon in a cpu cgroup of its own, as systemd runs them
	control      bool // also a dialplan MixMonitor on the extension's channel (LOAD_BASELINE=2)
}

// baselineMode is the PBX's LOAD_BASELINE during the run: 1 the baseline,
// 2 the baseline and the control (docker/asterisk/pbx/extensions.conf).
func (o options) baselineMode() string {
	if o.control {
		return "2"
	}
	return "1"
}

// profile is one shape of load.
type profile struct {
	name       string
	ramp, talk time.Duration
	restart    bool  // restart the PBX first
	daemon     bool  // restart the daemon during the wave (-daemon-restart-at)
	blipPorts  []int // cut the daemon's connections to these ports of the PBX during the wave (blipAt): ARI's, AMI's
	outbound   bool  // the extensions call out (through the carrier) instead of being called
}

var profiles = map[string]profile{
	"burst":    {name: "burst", ramp: 2 * time.Second, talk: 3 * time.Second},
	"restart":  {name: "restart", ramp: 2 * time.Second, talk: 3 * time.Second, restart: true},
	"long":     {name: "long", ramp: 5 * time.Second, talk: 15 * time.Second},
	"daemon":   {name: "daemon", ramp: 2 * time.Second, talk: 3 * time.Second, daemon: true},
	"blip":     {name: "blip", ramp: 2 * time.Second, talk: 3 * time.Second, blipPorts: []int{ariPort}},
	"amiblip":  {name: "amiblip", ramp: 2 * time.Second, talk: 3 * time.Second, blipPorts: []int{amiPort}},
	"netblip":  {name: "netblip", ramp: 2 * time.Second, talk: 3 * time.Second, blipPorts: []int{amiPort, ariPort}},
	"outburst": {name: "outburst", ramp: 2 * time.Second, talk: 3 * time.Second, outbound: true},
}

func main() {
	var o options
	waves := flag.String("calls", "100", "concurrent calls of each wave, comma-separated")
	profs := flag.String("profiles", "burst,restart,long", "load shapes, in order: burst (within 2 s, bridged 3 s), restart (the PBX restarted, then a burst), long (ramped over 5 s, bridged 15 s), daemon (a burst, the daemon restarted -daemon-restart-at into it), blip (a burst, the daemon's ARI connections cut 2, 3.5 and 5 s into it, as by a network blip), amiblip (the same with its AMI sessions), netblip (both at once, as a blip of the network between the daemon and a PBX on another host), outburst (the burst's shape, the extensions calling out through the carrier)")
	ramp := flag.Duration("ramp", 0, "override every profile's time over which a wave's calls are placed")
	talk := flag.Duration("talk", 0, "override every profile's talk time after answer")
	flag.IntVar(&o.runs, "runs", 1, "how many times to run the profiles in a row")
	flag.StringVar(&o.backend, "backend", "mixmonitor", "recorder backend: mixmonitor or snoop")
	flag.StringVar(&o.parties, "parties", "apart", "apart (each party on its own channel) or mixed")
	flag.DurationVar(&o.amiDelay, "ami-delay", 0, "deliver the daemon's AMI actions this late, through a proxy (a loaded PBX)")
	flag.StringVar(&o.bin, "recpolicy", "bin/recpolicy", "where the daemon binary is built")
	flag.StringVar(&o.out, "out", "var/load", "where the daemon's config, logs and archive go")
	flag.Float64Var(&o.minRatio, "min-ratio", 0.999, "lowest acceptable daemon/baseline audio ratio of a wave")
	flag.Float64Var(&o.minCallRatio, "min-call-ratio", 0.98, "lowest acceptable daemon/baseline audio ratio of one call")
	flag.DurationVar(&o.maxLostP99, "max-lost-p99", 50*time.Millisecond, "highest acceptable p99 of the seconds lost at a call's start: from its bridge to its recording's start, by the PBX's own events (BridgeEnter; MixMonitorStart or ARI RecordingStarted)")
	flag.DurationVar(&o.maxShortP99, "max-shortfall-p99", 50*time.Millisecond, "highest acceptable p99 of a call's shortfall (its bridged time less its recording's audio), beyond the baseline's own p99")
	flag.DurationVar(&o.daemonAt, "daemon-restart-at", time.Second, "the daemon profile: when the daemon is restarted, from the wave's first call (1s: while calls are greeted; 4s: while most are bridged and recorded)")
	flag.IntVar(&o.gate, "gate-calls", 100, "the audio targets fail the run for waves of at most this many calls; larger waves probe the sandbox's capacity and only report it (missed recordings fail every wave)")
	flag.BoolVar(&o.keep, "keep", false, "keep the archived recordings")
	flag.BoolVar(&o.asServices, "as-services", true, "run the daemon and each Asterisk in a cpu cgroup of its own, with the package unit's Nice= and CPUWeight=, as systemd runs services (false: every process shares the sandbox's one group, thread by thread)")
	flag.BoolVar(&o.control, "control", false, "also record every call with a dialplan MixMonitor on the extension's channel, started before the dial (a pre-dial handler), and compare the daemon and the baseline with it: how far two recordings Asterisk makes of one call differ on this PBX (one more audiohook a call: not for the targets' runs)")
	flag.BoolVar(&o.noBuild, "no-build", false, "run the -recpolicy binary as it is (to measure another build)")
	flag.Parse()
	for _, w := range strings.Split(*waves, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "load: -calls: %q is not a positive number\n", w)
			os.Exit(2)
		}
		o.waves = append(o.waves, n)
	}
	for _, name := range strings.Split(*profs, ",") {
		pr, ok := profiles[strings.TrimSpace(name)]
		if !ok {
			fmt.Fprintf(os.Stderr, "load: -profiles: %q is not one of burst, restart, long, daemon\n", name)
			os.Exit(2)
		}
		if *ramp > 0 {
			pr.ramp = *ramp
		}
		if *talk > 0 {
			pr.talk = *talk
		}
		o.profiles = append(o.profiles, pr)
	}
	if o.backend != "mixmonitor" && o.backend != "snoop" {
		fmt.Fprintf(os.Stderr, "load: -backend: %q is not mixmonitor or snoop\n", o.backend)
		os.Exit(2)
	}
	if o.runs < 1 {
		fmt.Fprintln(os.Stderr, "load: -runs: want at least 1")
		os.Exit(2)
	}
	// The sandbox's recording directory follows the backend (sandbox.Env).
	os.Setenv("RECPOLICY_E2E_BACKEND", o.backend)
	if o.parties != "apart" && o.parties != "mixed" {
		fmt.Fprintf(os.Stderr, "load: -parties: %q is not apart or mixed\n", o.parties)
		os.Exit(2)
	}
	os.Setenv("RECPOLICY_E2E_PARTIES", o.parties)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

func say(format string, a ...any) {
	fmt.Printf("load: "+format+"\n", a...)
}

func run(ctx context.Context, o options) (bool, error) {
	upCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	env, stopSandbox, err := sandbox.Up(upCtx)
	cancel()
	if err != nil {
		return false, err
	}
	defer stopSandbox()
	if !filepath.IsAbs(o.out) {
		o.out = filepath.Join(env.Repo, o.out)
	}
	if !filepath.IsAbs(o.bin) {
		o.bin = filepath.Join(env.Repo, o.bin)
	}
	if err := os.RemoveAll(o.out); err != nil {
		return false, err
	}
	if err := os.MkdirAll(o.out, 0o750); err != nil {
		return false, err
	}

	// The sandbox may run an older configuration: restart its Asterisk
	// instances with this checkout's (the baseline dialplan among it).
	say("docker/sandbox up (restarts Asterisk with this checkout's config; log %s)", filepath.Join(o.out, "sandbox-up.log"))
	if err := runLogged(ctx, env.Repo, filepath.Join(o.out, "sandbox-up.log"), filepath.Join(env.Repo, "docker", "sandbox"), "up"); err != nil {
		return false, err
	}
	if !o.noBuild {
		say("building %s", o.bin)
	}
	if err := func() error {
		if o.noBuild {
			return nil
		}
		return runLogged(ctx, env.Repo, filepath.Join(o.out, "build.log"), goTool(), "build", "-o", o.bin, "./cmd/recpolicy")
	}(); err != nil {
		return false, err
	}
	sched := unitSched{weight: defaultCPUWeight}
	var place func(int) error
	if o.asServices {
		if sched, err = readUnitSched(filepath.Join(env.Repo, "internal", "packaging", "systemd", "recpolicy.service")); err != nil {
			return false, err
		}
		pl, err := newPlacement()
		if err != nil {
			return false, fmt.Errorf("place the processes as services: %w (run as root, or -as-services=false)", err)
		}
		defer pl.close()
		for _, inst := range []string{"pbx", "sim"} {
			pid, err := asteriskPid(env.Root, inst)
			if err != nil {
				return false, err
			}
			if err := pl.place("asterisk-"+inst, pid, defaultCPUWeight); err != nil {
				return false, err
			}
		}
		place = func(pid int) error { return pl.place("recpolicy", pid, sched.weight) }
		say("as services: each Asterisk and the daemon in a cpu cgroup of its own (%s); the daemon with Nice=%d, CPUWeight=%d from its unit", pl.base, sched.nice, sched.weight)
	}
	show, err := env.CLI(ctx, "pbx", "dialplan show 4506983235@city-inbound")
	if err != nil || !strings.Contains(show, "LOAD_BASELINE") {
		return false, fmt.Errorf("the PBX dialplan has no LOAD_BASELINE step in [city-inbound] (docker/asterisk/pbx/extensions.conf): %v\n%s", err, show)
	}

	r, err := rules.Load(filepath.Join(env.Repo, "rules", "mercier.yaml"))
	if err != nil {
		return false, err
	}
	var exts []string
	endpoints := map[string]string{}
	for _, e := range r.Extensions() {
		if e.Number == "899" {
			continue
		}
		exts = append(exts, e.Number)
		endpoints[e.Endpoint] = e.Number
	}
	if len(exts) == 0 {
		return false, errors.New("rules/mercier.yaml lists no Annexe A extension")
	}

	// The baseline recordings' directory, owned by Asterisk's user.
	baseDir := filepath.Join(env.Root, baselineDir)
	if err := os.RemoveAll(baseDir); err != nil {
		return false, err
	}
	if err := os.MkdirAll(baseDir, 0o775); err != nil {
		return false, err
	}
	defer os.RemoveAll(baseDir)
	if uid, gid, err := chrootUser(env.Root, "asterisk"); err == nil {
		_ = os.Chown(baseDir, uid, gid)
	} else {
		return false, err
	}

	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	skip := 0
	if o.control {
		skip = 1 // the control's MixMonitorStart comes first
	}
	obs, err := observePBX(cctx, endpoints, skip)
	cancel()
	if err != nil {
		return false, err
	}
	defer obs.close()
	// The snoop backend's recordings start in ARI: their start is timed by
	// the PBX's RecordingStarted events, which only an application
	// subscribed to every event sees (the MixMonitor backend's start is on
	// AMI: no such load on the PBX then).
	var aw *ariWatch
	if o.backend == "snoop" {
		aw = watchARI(obs.recordingStarted)
		defer aw.close()
		if !aw.waitConnected(ctx, 0, 30*time.Second) {
			return false, fmt.Errorf("connect to the PBX ARI %s as %s (docker/asterisk/pbx/ari.conf; docker/sandbox up)", sandbox.PBXObserverARI.Base, sandbox.PBXObserverARI.Username)
		}
	}
	if err := obs.setGlobal(ctx, "LOAD_BASELINE", o.baselineMode()); err != nil {
		return false, err
	}
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := obs.setGlobal(c, "LOAD_BASELINE", "0"); err != nil {
			say("warning: %v", err)
		}
	}()

	// The daemon.
	listen, err := freeAddr()
	if err != nil {
		return false, err
	}
	archive := filepath.Join(o.out, "archive")
	if !o.keep {
		defer os.RemoveAll(archive)
	}
	var ep sandbox.Endpoints
	if o.amiDelay > 0 {
		px, err := sandbox.NewProxy("127.0.0.1:5038")
		if err != nil {
			return false, err
		}
		defer px.Close()
		px.SetDelay(o.amiDelay)
		ep.AMI = px.Addr()
		say("the daemon's AMI actions reach the PBX %s late (proxy %s)", o.amiDelay, px.Addr())
	}
	cfg, err := env.DaemonConfigVia(o.out, archive, listen, "", ep)
	if err != nil {
		return false, err
	}
	logPath := filepath.Join(o.out, "recpolicy.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return false, err
	}
	defer logf.Close()
	dmn := &daemonProc{bin: o.bin, cfg: cfg, log: logf, env: env.SandboxSecrets(), health: "http://" + listen + "/healthz", nice: sched.nice, place: place}
	if err := dmn.start(); err != nil {
		return false, err
	}
	defer dmn.stop()
	say("daemon pid %d on %s, config %s, log %s", dmn.pid, listen, cfg, logPath)
	if err := waitHealthy(ctx, dmn.health, dmn.exited); err != nil {
		return false, fmt.Errorf("%w (see %s)", err, logPath)
	}

	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	// A simulator saturated by the waves answers pings late: be patient
	// rather than reconnect (a reconnect loses events and actions).
	simCfg := sandbox.SimAMI
	simCfg.ActionTimeout, simCfg.PingInterval = 30*time.Second, 10*time.Second
	d, err := sandbox.NewDriver(dctx, simCfg, zerolog.Nop())
	cancel()
	if err != nil {
		return false, err
	}
	defer d.Close()
	if err := d.ResetPhones(ctx); err != nil {
		return false, err
	}

	w := &waver{o: o, env: env, d: d, obs: obs, ari: aw, tail: newLogTail(logPath), exts: exts,
		metrics: "http://" + listen + "/metrics", health: dmn.health, baseDir: baseDir, daemon: dmn}
	var results []*waveResult
	first := true
	for run := 1; run <= o.runs; run++ {
		for _, pr := range o.profiles {
			for _, n := range o.waves {
				// Let the PBX settle between waves (3 s), and read the
				// machine's load in the last second of it, before a
				// restart: others' work, the harness's being idle.
				settle := 3 * time.Second
				if first {
					settle = time.Second
				}
				before, err := settleReading(ctx, settle)
				if err != nil {
					return false, err
				}
				first = false
				if pr.restart {
					if err := w.restartPBX(ctx); err != nil {
						return false, err
					}
				}
				w.o.ramp, w.o.talk = pr.ramp, pr.talk
				w.restartDaemon, w.blipPorts, w.outbound = pr.daemon, pr.blipPorts, pr.outbound
				w.obs.setOutbound(pr.outbound)
				res, err := w.wave(ctx, n)
				if err != nil {
					return false, err
				}
				res.machineBefore = before
				res.profile, res.run = pr.name, run
				results = append(results, res)
			}
		}
	}
	hwm := procStatus(dmn.pid, "VmHWM")
	rss := procStatus(dmn.pid, "VmRSS")
	_ = w.tail.poll()
	dmn.stop()
	// What the daemon did not file itself (a wave's stragglers) is still in
	// the log now.
	_ = w.tail.poll()

	if err := writeCalls(filepath.Join(o.out, "calls.csv"), results); err != nil {
		say("warning: %v", err)
	}
	return report(o, results, hwm, rss, w.tail, logPath), nil
}

// writeCalls writes every bridged call of every wave to path, one row
// each: what was lost at its start by the PBX's events, its bridged time,
// the audio filed by the daemon, by the baseline and (-control) by the
// control.
func writeCalls(path string, results []*waveResult) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write per-call results: %w", err)
	}
	defer f.Close()
	cw := csv.NewWriter(f)
	_ = cw.Write([]string{"profile", "run", "linkedid", "extension", "missed", "lost_at_start_s", "bridged_s", "filed_s", "baseline_s", "shortfall_s", "ratio", "control_s"})
	num := func(v float64) string {
		if v < 0 {
			return ""
		}
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
	for _, r := range results {
		for _, c := range r.perCall {
			short, ratio := -1.0, -1.0
			if c.bridged >= 0 && !c.missed {
				short = max(0, c.bridged-c.filed)
			}
			if c.baseline > 0 {
				ratio = c.filed / c.baseline
			}
			_ = cw.Write([]string{r.profile, strconv.Itoa(r.run), c.linkedid, c.extension, strconv.FormatBool(c.missed),
				num(c.startLost), num(c.bridged), num(c.filed), num(c.baseline), num(short), num(ratio), num(c.control)})
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write per-call results: %w", err)
	}
	return f.Close()
}

// waver places the waves of calls.
type waver struct {
	o       options
	env     *sandbox.Env
	d       *sandbox.Driver
	obs     *observer
	ari     *ariWatch
	tail    *logTail
	exts    []string
	metrics string
	health  string
	baseDir string
	daemon  *daemonProc
	seq     int
	// restartDaemon: this wave restarts the daemon -daemon-restart-at
	// after its first call (the daemon profile).
	restartDaemon bool
	// blipPorts: this wave cuts the daemon's connections to these ports
	// of the PBX at blipAt (the blip, amiblip and netblip profiles).
	blipPorts []int
	// outbound: this wave's calls are placed by the extensions, to
	// external numbers (the outburst profile).
	outbound bool
}

type waveResult struct {
	profile      string
	run          int
	calls        int
	startLost    []float64 // per call: seconds from its bridge to its recording's start, by the PBX's events (0 when before)
	worstStart   string
	lost         []float64 // per call: seconds of its bridged time missing from its recording (the shortfall)
	baseLost     []float64 // the same for the baseline recording
	worstLost    string
	placeErrs    map[string]int // why calls were not answered, counted
	hangupErrs   map[string]int // why calls could not be hung up, counted
	notEnded     []string       // Annexe A legs still bridged after the wave
	late         int            // recordings started after the leg was bridged
	maxLate      time.Duration
	lateSeen     int // legs whose BridgeEnter and MixMonitorStart were both seen
	driverAnswer int
	bridged      int // calls an Annexe A extension answered (PBX BridgeEnter)
	peak         int // extension legs bridged at once
	together     time.Duration
	missed       []string
	latOK        bool
	p50, p99     float64
	p50Over      bool
	p99Over      bool
	latCount     float64
	// AMI events' delays p99 (the daemon's histograms): Asterisk to the
	// daemon, and in the daemon's event queue.
	deliveryP99, queueP99   float64
	deliveryOver, queueOver bool
	deliveryOK, queueOK     bool
	counters                map[string]float64
	daemonSec               float64
	baseSec                 float64
	baseMissing             int
	worst                   float64 // worst per-call daemon/baseline ratio
	worstCall               string
	under, over             int                // calls under -min-call-ratio, and over its inverse (the baseline short instead)
	ctl                     controlStats       // -control: the dialplan's recording of the extension's channel
	cpu                     map[string]float64 // CPU seconds used during the wave
	// machineBefore: the machine's load in the last second of the pause
	// before the wave, or before the PBX's restart that precedes it
	// (others' work: the harness's is idle); machineDial: from the
	// wave's start until its last call was answered (the dials, greetings
	// and answers, when recordings start).
	machineBefore, machineDial cpuShare
	wall                       time.Duration
	ramp, talk                 time.Duration
	perCall                    []callRow
}

// callRow is one bridged call of a wave, as calls.csv reports it; a value
// the harness could not measure is negative.
type callRow struct {
	linkedid, extension string
	missed              bool
	startLost           float64 // bridge to the recording's start, by the PBX's events
	bridged             float64 // BridgeEnter to BridgeLeave
	filed, baseline     float64 // audio seconds
	control             float64 // audio seconds of the control recording (-control)
}

// restartPBX restarts the PBX as an admin would, turns the baseline on
// again (a restart resets the dialplan's globals) and returns once the
// daemon reports itself connected again.
func (w *waver) restartPBX(ctx context.Context) error {
	say("restarting the PBX (core restart now)")
	t0 := time.Now()
	var sessions int64
	if w.ari != nil {
		sessions = w.ari.connects.Load()
	}
	if err := w.env.Restart(ctx, "pbx"); err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := w.obs.setGlobal(ctx, "LOAD_BASELINE", w.o.baselineMode())
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The daemon's health drops when it notices the restart; wait until it
	// is connected again (both AMI sessions and ARI).
	time.Sleep(300 * time.Millisecond)
	if err := waitHealthy(ctx, w.health, nil); err != nil {
		return fmt.Errorf("after the PBX restart: %w", err)
	}
	if w.ari != nil && !w.ari.waitConnected(ctx, sessions, 30*time.Second) {
		return errors.New("after the PBX restart: the harness's ARI events did not reconnect within 30 s")
	}
	say("PBX restarted and the daemon reconnected in %s", time.Since(t0).Round(10*time.Millisecond))
	return nil
}

type placed struct {
	num, did, ext string
	call          *sandbox.Call
	err           error // not placed or not answered
	hangupErr     error // not hung up
}

func (w *waver) wave(ctx context.Context, n int) (*waveResult, error) {
	res := &waveResult{calls: n, placeErrs: map[string]int{}, hangupErrs: map[string]int{}, counters: map[string]float64{}, cpu: map[string]float64{}, worst: 1, ctl: newControlStats()}
	before, err := scrapeMetrics(w.metrics)
	if err != nil {
		return nil, err
	}
	pids := map[string]int{"daemon": w.daemon.pid}
	for inst, f := range map[string]string{"pbx": "run/asterisk/asterisk.pid", "sim": "run/asterisk-sim/asterisk.pid"} {
		if b, err := os.ReadFile(filepath.Join(w.env.Root, f)); err == nil {
			if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				pids[inst] = p
			}
		}
	}
	cpu0 := map[string]float64{}
	for k, p := range pids {
		cpu0[k] = cpuSeconds(p)
	}
	w.obs.resetPeak()
	res.ramp, res.talk = w.o.ramp, w.o.talk
	say("wave of %d calls: placing them over %s, each talks %s after answer", n, w.o.ramp, w.o.talk)
	start := time.Now()
	atStart := readMachineCPU()
	var (
		answered  atomic.Int32
		dialOnce  sync.Once
		dialEnd   cpuReading
		dialEndAt time.Time
	)
	dialDone := func() { dialOnce.Do(func() { dialEnd, dialEndAt = readMachineCPU(), time.Now() }) }
	calls := make([]*placed, n)
	var wg sync.WaitGroup
	// The daemon profile: the daemon's counters until it stops are kept
	// (carried), its successor's are added to them.
	var carried scrape
	var restartErr error
	if w.restartDaemon {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-time.After(w.o.daemonAt):
			case <-ctx.Done():
				return
			}
			carried, restartErr = w.daemonRestart(ctx, before)
		}()
	}
	var blipErr error
	if len(w.blipPorts) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var cut []int
			cut, blipErr = blips(ctx, start, w.daemon.pid, w.blipPorts)
			say("connections of the daemon to ports %v cut %v times at %v into the wave: %v", w.blipPorts, len(cut), blipAt[:len(cut)], cut)
		}()
	}
	for i := range calls {
		w.seq++
		ext := w.exts[i%len(w.exts)]
		p := &placed{num: fmt.Sprintf("514%07d", 6000000+w.seq), did: sandbox.DIDPrefix + ext, ext: ext}
		calls[i] = p
		at := start.Add(time.Duration(i) * w.o.ramp / time.Duration(n))
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-time.After(time.Until(at)):
			case <-ctx.Done():
				p.err = ctx.Err()
				return
			}
			var c *sandbox.Call
			var err error
			if w.outbound {
				// p.num is then the external number the extension dials.
				c, err = w.d.Outbound(ctx, p.ext, p.num, sandbox.Options{})
			} else {
				c, err = w.d.Inbound(ctx, p.did, p.num, sandbox.Options{CallerName: "Charge"})
			}
			if err != nil {
				p.err = err
				return
			}
			p.call = c
			defer func() {
				// Hang up even when interrupted: the simulator would
				// otherwise keep the call for two hours.
				p.hangupErr = hangup(w.d, c, 90*time.Second)
			}()
			if err := w.d.WaitAnswered(ctx, c, 60*time.Second); err != nil {
				p.err = err
				return
			}
			if answered.Add(1) == int32(n) {
				dialDone()
			}
			select {
			case <-time.After(w.o.talk):
			case <-ctx.Done():
				p.err = ctx.Err()
				return
			}
		}()
	}
	wg.Wait()
	res.wall = time.Since(start)
	dialDone() // calls that were never answered: until the last call ended
	res.machineDial = machineShare(atStart, dialEnd, dialEndAt.Sub(start))
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if restartErr != nil {
		return nil, restartErr
	}
	if blipErr != nil {
		return nil, blipErr
	}
	if carried != nil {
		// The CPU of the daemon that stopped is not counted.
		pids["daemon"] = w.daemon.pid
		cpu0["daemon"] = 0
	}
	res.peak = w.obs.peakBridged()

	// Calls the PBX bridged to an Annexe A extension.
	type bridgedCall struct {
		p        *placed
		linkedid string
		ans      *answer
	}
	var bridged []bridgedCall
	var maxEnter, minLeave time.Time
	for _, p := range calls {
		if p.err != nil {
			res.placeErrs[shortErr(p.err)]++
		} else {
			res.driverAnswer++
		}
		if p.hangupErr != nil {
			res.hangupErrs[shortErr(p.hangupErr)]++
		}
		id := w.obs.linkedID(p.num)
		if id == "" {
			continue
		}
		a := w.obs.answeredBy(id)
		if a == nil {
			continue
		}
		bridged = append(bridged, bridgedCall{p, id, a})
		w.obs.mu.Lock()
		s := w.obs.spans[id]
		w.obs.mu.Unlock()
		if maxEnter.IsZero() || s[0].After(maxEnter) {
			maxEnter = s[0]
		}
		if !s[1].IsZero() && (minLeave.IsZero() || s[1].Before(minLeave)) {
			minLeave = s[1]
		}
	}
	res.bridged = len(bridged)
	if !maxEnter.IsZero() && minLeave.After(maxEnter) {
		res.together = minLeave.Sub(maxEnter)
	}
	say("wave of %d calls: %d bridged to an Annexe A extension (at most %d at once); waiting for the recordings to be filed", n, res.bridged, res.peak)

	// Wait until every bridged call has its recording filed (the filer
	// waits for Asterisk to close each file; close_timeout is 15 s).
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := w.tail.poll(); err != nil {
			return nil, err
		}
		missing := 0
		for _, b := range bridged {
			if len(filedFor(w.tail, b.linkedid, b.ans.Extension)) == 0 {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	for k, p := range pids {
		res.cpu[k] = cpuSeconds(p) - cpu0[k]
	}

	// Audio: the daemon's filed recordings against the baseline.
	for _, b := range bridged {
		fs := filedFor(w.tail, b.linkedid, b.ans.Extension)
		if len(fs) == 0 && !w.obs.ended(b.linkedid) {
			// Still recording: the harness could not end the call.
			res.notEnded = append(res.notEnded, fmt.Sprintf("%s (extension %s, %s)", b.linkedid, b.ans.Extension, b.ans.Channel))
			continue
		}
		row := callRow{linkedid: b.linkedid, extension: b.ans.Extension, startLost: -1, bridged: -1, baseline: -1, control: -1}
		br, brOK := w.obs.bridgedFor(b.ans.Uniqueid)
		if brOK {
			row.bridged = br
		}
		if len(fs) == 0 {
			res.missed = append(res.missed, fmt.Sprintf("%s (extension %s, %s)", b.linkedid, b.ans.Extension, b.ans.Channel))
			row.missed = true
			res.perCall = append(res.perCall, row)
			continue
		}
		if l, ok := w.obs.lateStart(b.ans.Uniqueid); ok {
			row.startLost = l.Seconds()
			res.lateSeen++
			if l > 0 {
				res.late++
				if l > res.maxLate {
					res.worstStart = fmt.Sprintf("%s ext %s: recording started %s after the bridge", b.linkedid, b.ans.Extension, fmtDur(l.Seconds()))
				}
				res.maxLate = max(res.maxLate, l)
			}
			res.startLost = append(res.startLost, l.Seconds())
		}
		var dsec float64
		for _, f := range fs {
			if info, err := engine.ReadWAVInfo(f.File); err == nil {
				dsec += info.Duration()
			} else {
				dsec += f.Seconds
			}
		}
		row.filed = dsec
		bsec, err := closedWAVSeconds(ctx, filepath.Join(w.baseDir, b.linkedid+".wav"))
		if err != nil {
			res.baseMissing++
			res.perCall = append(res.perCall, row)
			say("warning: baseline recording of %s: %v", b.linkedid, err)
			continue
		}
		row.baseline = bsec
		if w.o.control {
			row.control = controlSeconds(ctx, w.baseDir, b.linkedid)
			res.ctl.add(dsec, bsec, row.control, w.o.minCallRatio)
		}
		res.perCall = append(res.perCall, row)
		if brOK {
			l := max(0, br-dsec)
			if len(res.lost) == 0 || l > slices.Max(res.lost) {
				res.worstLost = fmt.Sprintf("%s ext %s: %.3f s recorded of %.3f s bridged", b.linkedid, b.ans.Extension, dsec, br)
			}
			res.lost = append(res.lost, l)
			res.baseLost = append(res.baseLost, max(0, br-bsec))
		}
		res.daemonSec += dsec
		res.baseSec += bsec
		if bsec > 0 && dsec/bsec < w.o.minCallRatio {
			res.under++
		}
		if dsec > 0 && bsec/dsec < w.o.minCallRatio {
			res.over++
		}
		if bsec > 0 && dsec/bsec < res.worst {
			res.worst = dsec / bsec
			res.worstCall = fmt.Sprintf("%s ext %s: %.3f s vs %.3f s", b.linkedid, b.ans.Extension, dsec, bsec)
			if row.bridged > 0 {
				res.worstCall += fmt.Sprintf(" (bridged %.3f s by the PBX's events)", row.bridged)
			}
		}
	}

	after, err := scrapeMetrics(w.metrics)
	if err != nil {
		return nil, err
	}
	var diff scrape
	if carried != nil {
		// The stopped daemon's counters since before, plus its successor's.
		diff = carried.add(after)
	} else {
		diff = after.sub(before)
	}
	bs := diff.buckets("recpolicy_recording_start_seconds")
	res.p50, res.p50Over, res.latOK = quantile(bs, 0.50)
	res.p99, res.p99Over, _ = quantile(bs, 0.99)
	res.latCount = diff["recpolicy_recording_start_seconds_count"]
	res.deliveryP99, res.deliveryOver, res.deliveryOK = quantile(diff.buckets("recpolicy_ami_event_delivery_seconds"), 0.99)
	res.queueP99, res.queueOver, res.queueOK = quantile(diff.buckets("recpolicy_ami_event_queue_seconds"), 0.99)
	for _, k := range []string{"recpolicy_recordings_started_total", "recpolicy_recordings_filed_total",
		"recpolicy_recordings_discarded_empty_total", "recpolicy_recordings_failed_total",
		"recpolicy_recordings_repaired_total", "recpolicy_policy_violations_total", "recpolicy_calls_seen_total",
		"recpolicy_recordings_short_total", "recpolicy_recording_starts_by_uniqueid_total"} {
		res.counters[k] = diff[k]
	}
	return res, nil
}

// closedWAVSeconds returns the audio seconds of a recording Asterisk writes
// at path (the baseline's, the control's) once it has closed it, waiting
// at most 5 s.
func closedWAVSeconds(ctx context.Context, path string) (float64, error) {
	if err := sandbox.WaitWAVClosed(ctx, path, 5*time.Second); err != nil {
		return 0, err
	}
	info, err := engine.ReadWAVInfo(path)
	if err != nil {
		return 0, err
	}
	return info.Duration(), nil
}

// hangup hangs the call's placing channel up, retrying while the
// simulator's AMI is unreachable (a saturated simulator misses pings and
// the client reconnects). A channel the simulator no longer knows is gone.
func hangup(d *sandbox.Driver, c *sandbox.Call, within time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var last error
	for {
		if !c.HungUp().IsZero() {
			return nil
		}
		_, err := d.Action(ctx, "Hangup", ami.Header{Key: "Channel", Value: c.ID})
		var ae *ami.ActionError
		switch {
		case err == nil:
			if d.WaitHungUp(ctx, c, 5*time.Second) == nil {
				return nil
			}
			// The Hangup event may have been lost in a reconnect: ask again.
		case errors.As(err, &ae):
			return nil // no such channel: it is gone
		default:
			last = err
		}
		select {
		case <-ctx.Done():
			if last == nil {
				last = ctx.Err()
			}
			return fmt.Errorf("hang up %s: %w", c.ID, last)
		case <-time.After(time.Second):
		}
	}
}

// filedFor returns the recordings the daemon filed for one leg.
func filedFor(t *logTail, linkedid, ext string) []filed {
	var out []filed
	for _, f := range t.filed[linkedid] {
		if f.Extension == ext {
			out = append(out, f)
		}
	}
	return out
}

func shortErr(err error) string {
	s := err.Error()
	// "wait answer of sim-123-4: hung up before answer (...)" → drop the call id.
	if i := strings.Index(s, ": "); i >= 0 && strings.HasPrefix(s, "wait answer of ") {
		s = "wait answer: " + s[i+2:]
	}
	if len(s) > 90 {
		s = s[:90] + "…"
	}
	return s
}

func report(o options, results []*waveResult, hwm, rss string, tail *logTail, logPath string) bool {
	ok := true
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(name string, f func(r *waveResult) string) {
		fmt.Fprintf(tw, "%s\t", name)
		for _, r := range results {
			fmt.Fprintf(tw, "%s\t", f(r))
		}
		fmt.Fprintln(tw)
	}
	row("profile (run)", func(r *waveResult) string { return fmt.Sprintf("%s (%d)", r.profile, r.run) })
	row("wave", func(r *waveResult) string { return fmt.Sprintf("%d calls", r.calls) })
	row("placed over / talk", func(r *waveResult) string { return fmt.Sprintf("%s / %s", r.ramp, r.talk) })
	row("answered (simulator)", func(r *waveResult) string { return strconv.Itoa(r.driverAnswer) })
	row("not hung up by the harness", func(r *waveResult) string { return strconv.Itoa(len(r.notEnded)) })
	row("bridged to Annexe A (PBX)", func(r *waveResult) string { return strconv.Itoa(r.bridged) })
	row("most bridged at once", func(r *waveResult) string { return strconv.Itoa(r.peak) })
	row("all bridged together", func(r *waveResult) string { return fmt.Sprintf("%.1f s", r.together.Seconds()) })
	row("missed recordings", func(r *waveResult) string { return strconv.Itoa(len(r.missed)) })
	row("recording start p50", func(r *waveResult) string { return latency(r.p50, r.p50Over, r.latOK) })
	row("recording start p99", func(r *waveResult) string { return latency(r.p99, r.p99Over, r.latOK) })
	row("  (observations)", func(r *waveResult) string { return fmt.Sprintf("%.0f", r.latCount) })
	row("AMI events late p99: PBX/daemon", func(r *waveResult) string {
		return latency(r.deliveryP99, r.deliveryOver, r.deliveryOK) + "/" + latency(r.queueP99, r.queueOver, r.queueOK)
	})
	row("started after bridging (max)", func(r *waveResult) string {
		if r.lateSeen == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%d (%s)", r.late, fmtDur(r.maxLate.Seconds()))
	})
	row("lost at start p50/p99 (PBX events)", func(r *waveResult) string {
		if len(r.startLost) == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%s/%s", fmtDur(pct(r.startLost, 0.5)), fmtDur(pct(r.startLost, 0.99)))
	})
	row("  (calls timed)", func(r *waveResult) string { return strconv.Itoa(len(r.startLost)) })
	row("recordings started/filed", func(r *waveResult) string {
		return fmt.Sprintf("%.0f/%.0f", r.counters["recpolicy_recordings_started_total"], r.counters["recpolicy_recordings_filed_total"])
	})
	row("  of which named by unique ID", func(r *waveResult) string {
		return fmt.Sprintf("%.0f", r.counters["recpolicy_recording_starts_by_uniqueid_total"])
	})
	row("empty/failed/repaired/violations", func(r *waveResult) string {
		return fmt.Sprintf("%.0f/%.0f/%.0f/%.0f", r.counters["recpolicy_recordings_discarded_empty_total"], r.counters["recpolicy_recordings_failed_total"],
			r.counters["recpolicy_recordings_repaired_total"], r.counters["recpolicy_policy_violations_total"])
	})
	row("daemon audio", func(r *waveResult) string { return fmt.Sprintf("%.2f s", r.daemonSec) })
	row("baseline audio (dialplan MixMonitor)", func(r *waveResult) string { return fmt.Sprintf("%.2f s", r.baseSec) })
	row("ratio daemon/baseline", func(r *waveResult) string { return ratio(r) })
	row("worst call ratio", func(r *waveResult) string { return fmt.Sprintf("%.4f", r.worst) })
	// Asterisk drops a loaded channel's frames in the baseline as in the
	// daemon's recording: calls over the baseline by as much as others are
	// under it tell noise from a loss of the daemon's own.
	row(fmt.Sprintf("calls under %.2f / baseline under", o.minCallRatio), func(r *waveResult) string {
		return fmt.Sprintf("%d/%d", r.under, r.over)
	})
	row("shortfall p50/p99/max", func(r *waveResult) string {
		return fmt.Sprintf("%s/%s/%s", fmtDur(pct(r.lost, 0.5)), fmtDur(pct(r.lost, 0.99)), fmtDur(pct(r.lost, 1)))
	})
	row("  baseline's p50/p99/max", func(r *waveResult) string {
		return fmt.Sprintf("%s/%s/%s", fmtDur(pct(r.baseLost, 0.5)), fmtDur(pct(r.baseLost, 0.99)), fmtDur(pct(r.baseLost, 1)))
	})
	if o.control {
		for _, c := range controlRows(o.minCallRatio) {
			row(c.name, c.f)
		}
	}
	row("short recordings (violations)", func(r *waveResult) string {
		return fmt.Sprintf("%.0f", r.counters["recpolicy_recordings_short_total"])
	})
	row("CPU s pbx/sim/daemon", func(r *waveResult) string {
		return fmt.Sprintf("%.0f/%.0f/%.1f", r.cpu["pbx"], r.cpu["sim"], r.cpu["daemon"])
	})
	row("machine CPU busy/steal/stalled: before", func(r *waveResult) string { return r.machineBefore.String() })
	row("  from the first dial to the last answer", func(r *waveResult) string { return r.machineDial.String() })
	row("wave wall time", func(r *waveResult) string { return r.wall.Round(100 * time.Millisecond).String() })
	tw.Flush()
	fmt.Printf("daemon peak memory (VmHWM, whole run): %s (VmRSS at the end %s)\n", hwm, rss)
	fmt.Printf("daemon log: %s (%d error lines, %d warnings)\n", logPath, tail.errors, tail.warns)
	fmt.Printf("per call (lost at start, bridged, filed, baseline): %s\n", filepath.Join(o.out, "calls.csv"))
	for _, r := range results {
		for why, k := range r.placeErrs {
			fmt.Printf("wave %d: %d calls not placed or not answered: %s\n", r.calls, k, why)
		}
		for why, k := range r.hangupErrs {
			fmt.Printf("wave %d: %d calls not hung up cleanly: %s\n", r.calls, k, why)
		}
		if len(r.notEnded) > 0 {
			fmt.Printf("wave %d: %d Annexe A legs still bridged after the wave (the harness could not hang them up; not counted): %s\n",
				r.calls, len(r.notEnded), strings.Join(r.notEnded[:min(3, len(r.notEnded))], ", "))
			ok = false
		}
		if r.bridged < r.calls {
			fmt.Printf("wave %d: only %d of %d calls bridged: the sandbox's limit on this machine\n", r.calls, r.bridged, r.calls)
		}
		for _, m := range r.missed {
			fmt.Printf("wave %d: MISSED recording: %s\n", r.calls, m)
		}
		if r.worstCall != "" && r.worst < 1 {
			fmt.Printf("wave %d: worst call %s\n", r.calls, r.worstCall)
		}
		if len(r.missed) > 0 {
			ok = false
		}
		if r.baseMissing > 0 {
			fmt.Printf("wave %d: %d calls have no baseline recording\n", r.calls, r.baseMissing)
			ok = false
		}
		if r.baseSec <= 0 || r.daemonSec/r.baseSec < o.minRatio {
			if r.calls <= o.gate {
				fmt.Printf("wave %d: audio ratio %s is below %.4f\n", r.calls, ratio(r), o.minRatio)
				ok = false
			} else {
				fmt.Printf("wave %d: audio ratio %s is below %.4f: past what this machine carries (capacity probe above -gate-calls %d; not failing the run)\n",
					r.calls, ratio(r), o.minRatio, o.gate)
			}
		}
		if r.bridged == 0 {
			ok = false
		}
		if r.calls <= o.gate {
			tag := fmt.Sprintf("%s run %d, wave %d", r.profile, r.run, r.calls)
			if e := r.counters["recpolicy_recordings_discarded_empty_total"] + r.counters["recpolicy_recordings_short_total"]; e > 0 {
				fmt.Printf("%s: %.0f recordings discarded empty or flagged short\n", tag, e)
				ok = false
			}
			if r.worst < o.minCallRatio {
				fmt.Printf("%s: worst call ratio %.4f is below %.2f\n", tag, r.worst, o.minCallRatio)
				ok = false
			}
			if p := pct(r.startLost, 0.99); p > o.maxLostP99.Seconds() {
				fmt.Printf("%s: lost-at-start p99 %s is over %s (worst: %s)\n", tag, fmtDur(p), o.maxLostP99, r.worstStart)
				ok = false
			}
			if filed := r.bridged - len(r.missed) - len(r.notEnded); len(r.startLost) < filed {
				fmt.Printf("%s: lost-at-start timed for %d of %d recorded calls only (the observers missed bridge or recording events)\n", tag, len(r.startLost), filed)
				ok = false
			}
			// Asterisk's own MixMonitor, started before Dial, also misses
			// frames of a bridge on a loaded PBX (at its end, and when an
			// audiohook resynchronises its two directions): the target is
			// on what the daemon loses beyond it.
			if p, b := pct(r.lost, 0.99), pct(r.baseLost, 0.99); p-b > o.maxShortP99.Seconds() {
				fmt.Printf("%s: shortfall p99 %s is over the baseline's %s by more than %s (worst: %s)\n", tag, fmtDur(p), fmtDur(b), o.maxShortP99, r.worstLost)
				ok = false
			}
		}
	}
	if ok {
		fmt.Println("load: PASS")
	} else {
		fmt.Println("load: FAIL")
	}
	return ok
}

// pct returns the q-quantile (nearest rank) of xs, 0 when empty.
func pct(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ratio(r *waveResult) string {
	if r.baseSec <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.5f", r.daemonSec/r.baseSec)
}

func latency(v float64, over, ok bool) string {
	if !ok {
		return "n/a"
	}
	if over {
		return fmt.Sprintf("> %s", fmtDur(v))
	}
	return fmtDur(v)
}

func fmtDur(s float64) string {
	if s < 1 {
		return fmt.Sprintf("%.1f ms", s*1000)
	}
	return fmt.Sprintf("%.2f s", s)
}

// procStatus returns one field of /proc/<pid>/status ("123456 kB"), or "?".
func procStatus(pid int, field string) string {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			v = strings.TrimSpace(v)
			if kb, ok := strings.CutSuffix(v, " kB"); ok {
				if n, err := strconv.Atoi(kb); err == nil {
					return fmt.Sprintf("%.1f MiB", float64(n)/1024)
				}
			}
			return v
		}
	}
	return "?"
}

// cpuSeconds returns the user+system CPU time a process has used.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	// After the command: state is field 3; utime and stime are 14 and 15.
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// chrootUser returns the uid and gid of a user of the chroot.
func chrootUser(root, name string) (int, int, error) {
	b, err := os.ReadFile(filepath.Join(root, "etc", "passwd"))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 4 && f[0] == name {
			uid, err1 := strconv.Atoi(f[2])
			gid, err2 := strconv.Atoi(f[3])
			if err1 == nil && err2 == nil {
				return uid, gid, nil
			}
		}
	}
	return 0, 0, fmt.Errorf("no user %s in %s/etc/passwd", name, root)
}

// runLogged runs a command in dir with its output in logPath.
func runLogged(ctx context.Context, dir, logPath, name string, args ...string) error {
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, f, f
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(logPath)
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, b)
	}
	return nil
}

// goTool is the go command: the one on PATH, else the usual install.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitHealthy(ctx context.Context, url string, exited <-chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	c := http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		if resp, err := c.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("the daemon exited before connecting to AMI and ARI")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return errors.New("the daemon did not connect to AMI and ARI within 30 s")
}
