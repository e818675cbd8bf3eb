package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Env is what a test needs to know of the running sandbox.
type Env struct {
	Repo  string // repository root
	Root  string // the Asterisk chroot
	State string // logs, PostgreSQL data
	PGDSN string // the superuser, standing for the schema owner
	// PGAppDSN is the runtime login (member of recpolicy_runtime) the
	// daemon and the console connect with.
	PGAppDSN string
	Vars     map[string]string
	script   string
}

// RepoRoot finds the repository root (the directory holding go.mod) above
// the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repository root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Up makes sure the sandbox runs, starting it when it does not (this takes
// about a minute the first time, a few seconds with the chroot cached). The
// returned stop function stops it again only if Up started it. Up never
// skips: a sandbox that cannot start is an error that says why.
func Up(ctx context.Context) (*Env, func(), error) {
	repo, err := RepoRoot()
	if err != nil {
		return nil, nil, err
	}
	script := filepath.Join(repo, "docker", "sandbox")
	env := &Env{Repo: repo, script: script}
	unlock, err := lock(ctx)
	if err != nil {
		return nil, nil, err
	}
	stop := unlock
	if exec.CommandContext(ctx, script, "status").Run() != nil {
		logf, err := os.CreateTemp("", "recpolicy-sandbox-up-*.log")
		if err != nil {
			return nil, nil, err
		}
		defer logf.Close()
		cmd := exec.CommandContext(ctx, script, "up")
		cmd.Stdout, cmd.Stderr = logf, logf
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b, _ := os.ReadFile(logf.Name())
			return nil, nil, fmt.Errorf("start sandbox (docker/sandbox up, %s): %w\n%s", time.Since(start).Round(time.Second), err, b)
		}
		stop = func() {
			c := exec.Command(script, "down")
			c.Stdout, c.Stderr = logf, logf
			_ = c.Run()
			unlock()
		}
	}
	out, err := exec.CommandContext(ctx, script, "env").Output()
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("read sandbox env: %w", err)
	}
	env.Vars = map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok {
			env.Vars[k] = v
		}
	}
	env.Root = env.Vars["RECPOLICY_SANDBOX_ROOT"]
	env.State = env.Vars["RECPOLICY_SANDBOX_STATE"]
	env.PGDSN = env.Vars["RECPOLICY_PG_DSN"]
	env.PGAppDSN = env.Vars["RECPOLICY_PG_APP_DSN"]
	if env.PGAppDSN == "" {
		stop()
		return nil, nil, errors.New("the sandbox names no runtime database login (RECPOLICY_PG_APP_DSN): it was started by an older docker/sandbox; run docker/sandbox down, then up")
	}
	return env, stop, nil
}

// CopyRules copies the city's rules file and its greeting into dir, for a
// test that edits them, and returns the copy's path.
func (e *Env) CopyRules(dir string) (string, error) {
	src, err := os.ReadFile(filepath.Join(e.Repo, "rules", "mercier.yaml"))
	if err != nil {
		return "", err
	}
	wav, err := os.ReadFile(filepath.Join(e.Repo, "rules", "sounds", "avis-enregistrement.wav"))
	if err != nil {
		return "", fmt.Errorf("copy rules: the greeting is made by docker/sandbox up: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "sounds"), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "sounds", "avis-enregistrement.wav"), wav, 0o644); err != nil {
		return "", err
	}
	p := filepath.Join(dir, "rules.yaml")
	return p, os.WriteFile(p, src, 0o644)
}

// lock takes the sandbox for this process: test binaries that drive the one
// PBX (and register its one ARI application) run one after the other, even
// when started side by side.
func lock(ctx context.Context) (func(), error) {
	dir := os.Getenv("RECPOLICY_STATE")
	if dir == "" {
		dir = "/var/tmp/recpolicy-sandbox"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lock sandbox: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "sandbox.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock sandbox: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock sandbox: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock sandbox: another test run holds %s: %w", f.Name(), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Backend is the recorder backend the sandbox daemon uses: mixmonitor, or
// what RECPOLICY_E2E_BACKEND names (the end-to-end suite runs once per
// backend).
func (e *Env) Backend() string {
	if b := os.Getenv("RECPOLICY_E2E_BACKEND"); b != "" {
		return b
	}
	return "mixmonitor"
}

// Parties is how the sandbox daemon records the parties: apart (each on
// its own channel), or what RECPOLICY_E2E_PARTIES names.
func (e *Env) Parties() string {
	if p := os.Getenv("RECPOLICY_E2E_PARTIES"); p != "" {
		return p
	}
	return "apart"
}

// RecordingSpool is the daemon's view of the PBX's recording spool for
// the backend in use (see asteriskRecordingDir).
func (e *Env) RecordingSpool() string {
	return filepath.Join(e.Root, e.asteriskRecordingDir())
}

// asteriskRecordingDir is where the PBX writes recordings, as it sees it:
// MixMonitor takes any path; ARI records into <astspooldir>/recording.
func (e *Env) asteriskRecordingDir() string {
	if e.Backend() == "snoop" {
		return "/var/spool/asterisk/recording"
	}
	return "/var/spool/asterisk/monitor/recpolicy"
}

// CLI runs one Asterisk CLI command on the pbx or sim instance.
func (e *Env) CLI(ctx context.Context, instance, command string) (string, error) {
	out, err := exec.CommandContext(ctx, e.script, "cli", instance, command).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("sandbox cli %s %q: %w", instance, command, err)
	}
	return string(out), nil
}

// DaemonConfig writes a daemon configuration for the sandbox into dir and
// returns its path. Secrets come from the environment variables that
// SandboxSecrets names. rulesFile "" means the city's rules/mercier.yaml.
func (e *Env) DaemonConfig(dir, archiveDir, listen, rulesFile string) (string, error) {
	return e.DaemonConfigVia(dir, archiveDir, listen, rulesFile, Endpoints{})
}

// Endpoints are where the daemon reaches the PBX; empty fields mean the
// sandbox PBX itself (tests put a Proxy in between).
type Endpoints struct {
	AMI string // host:port, default 127.0.0.1:5038
	ARI string // ARI base URL, default http://127.0.0.1:8088/ari
}

// DaemonConfigVia is DaemonConfig with the PBX reached through ep.
func (e *Env) DaemonConfigVia(dir, archiveDir, listen, rulesFile string, ep Endpoints) (string, error) {
	if ep.AMI == "" {
		ep.AMI = "127.0.0.1:5038"
	}
	if ep.ARI == "" {
		ep.ARI = "http://127.0.0.1:8088/ari"
	}
	if rulesFile == "" {
		rulesFile = filepath.Join(e.Repo, "rules", "mercier.yaml")
	}
	cfg := fmt.Sprintf(`# recpolicy daemon configuration for the sandbox (written by internal/sandbox).
rules_file: %s
ami:
  address: %s
  username: recpolicy
  secret: {env: RECPOLICY_AMI_SECRET}
ari:
  url: %s
  username: recpolicy
  password: {env: RECPOLICY_ARI_PASSWORD}
  application: recpolicy
recording:
  backend: %s
  parties: %s
  asterisk_dir: %s
  local_dir: %s
archive:
  dir: %s
  spool_dir: %s
  dsn: {env: RECPOLICY_DSN}                 # the runtime login (recpolicy_runtime)
  migrate_dsn: {env: RECPOLICY_MIGRATE_DSN} # the schema's owner, for migrations only
  # the sandbox PBX runs in UTC; Cdr event times are its local time
  pbx_timezone: UTC
  # the PBX's own call records, for the compliance report
  pbx_cdr_csv: %s
listen: %s
log_level: info
`, rulesFile, ep.AMI, ep.ARI, e.Backend(), e.Parties(), e.asteriskRecordingDir(), e.RecordingSpool(), archiveDir, filepath.Join(filepath.Dir(archiveDir), "spool"),
		filepath.Join(e.Root, "var/log/asterisk/cdr-csv/Master.csv"), listen)
	p := filepath.Join(dir, "recpolicy.yaml")
	return p, os.WriteFile(p, []byte(cfg), 0o600)
}

// SandboxSecrets are the sandbox's credentials, as environment variables.
func (e *Env) SandboxSecrets() map[string]string {
	return map[string]string{
		"RECPOLICY_AMI_SECRET":   "sandbox-ami-secret",
		"RECPOLICY_ARI_PASSWORD": "sandbox-ari-secret",
		"RECPOLICY_DSN":          e.PGAppDSN,
		"RECPOLICY_MIGRATE_DSN":  e.PGDSN,
	}
}

// StopPG stops the sandbox's PostgreSQL (fast shutdown), for outage tests.
func (e *Env) StopPG(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "runuser", "-u", "postgres", "--", "/usr/lib/postgresql/15/bin/pg_ctl",
		"-D", filepath.Join(e.State, "pgdata"), "-m", "fast", "-w", "stop").CombinedOutput()
	if err != nil {
		return fmt.Errorf("stop postgresql: %w: %s", err, out)
	}
	return nil
}

// StartPG starts the sandbox's PostgreSQL again after StopPG.
func (e *Env) StartPG(ctx context.Context) error {
	u, err := url.Parse(e.PGDSN)
	if err != nil || u.Port() == "" {
		return fmt.Errorf("start postgresql: no port in %q", e.PGDSN)
	}
	port := u.Port()
	out, err := exec.CommandContext(ctx, "runuser", "-u", "postgres", "--", "/usr/lib/postgresql/15/bin/pg_ctl",
		"-D", filepath.Join(e.State, "pgdata"), "-l", filepath.Join(e.State, "postgresql.log"), "-w", "-t", "30",
		"-o", "-p "+port+" -k "+filepath.Join(e.State, "pgrun")+" -c listen_addresses=127.0.0.1", "start").CombinedOutput()
	if err != nil {
		return fmt.Errorf("start postgresql: %w: %s", err, out)
	}
	return nil
}

// Crash kills one Asterisk instance (pbx or sim) with SIGKILL, as a crash
// would, and Start starts it again.
func (e *Env) Crash(ctx context.Context, instance string) error {
	if out, err := exec.CommandContext(ctx, e.script, "crash", instance).CombinedOutput(); err != nil {
		return fmt.Errorf("crash %s: %w: %s", instance, err, out)
	}
	return nil
}

// Start starts one Asterisk instance again after Crash.
func (e *Env) Start(ctx context.Context, instance string) error {
	if out, err := exec.CommandContext(ctx, e.script, "start", instance).CombinedOutput(); err != nil {
		return fmt.Errorf("start %s: %w: %s", instance, err, out)
	}
	return nil
}

// Restart restarts one Asterisk instance the way an admin does (`core
// restart now`: every call is hung up, the process starts over and channel
// names restart from the same counters) and returns once it has fully
// booted again.
func (e *Env) Restart(ctx context.Context, instance string) error {
	before, _ := e.CLI(ctx, instance, "core show uptime seconds")
	if _, err := e.CLI(ctx, instance, "core restart now"); err != nil {
		return fmt.Errorf("restart %s: %w", instance, err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := e.CLI(ctx, instance, "core waitfullybooted")
		if err == nil && strings.Contains(out, "fully booted") {
			if up, _ := e.CLI(ctx, instance, "core show uptime seconds"); up != before {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("restart %s: not fully booted again within 60 s (%v)", instance, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
