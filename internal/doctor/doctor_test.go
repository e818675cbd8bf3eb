package doctor

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/internal/config"
	"github.com/villedemercier/recpolicy/internal/pgtest"
	"github.com/villedemercier/recpolicy/internal/sandbox"
	"github.com/villedemercier/recpolicy/rules"
)

// fixture is the sandbox PBX and database in good order, as the daemon's
// sandbox configuration reaches them.
type fixture struct {
	env   *sandbox.Env
	dir   string
	cfg   string
	rules string
	etc   string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	env, stop, err := sandbox.Up(ctx)
	if err != nil {
		t.Fatalf("the sandbox is required and could not start: %v", err)
	}
	t.Cleanup(stop)
	for k, v := range env.SandboxSecrets() {
		t.Setenv(k, v)
	}
	// The archive's schema, migrated by its owner as `recpolicy migrate`
	// does (the doctor then finds it current).
	owner, err := archive.Connect(env.PGDSN)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Migrate(ctx); err != nil {
		t.Fatalf("migrate the sandbox's archive: %v", err)
	}
	owner.Close()
	dir := t.TempDir()
	rulesFile, err := env.CopyRules(dir)
	if err != nil {
		t.Fatal(err)
	}
	archiveDir := filepath.Join(dir, "archive")
	os.MkdirAll(archiveDir, 0o750)
	os.MkdirAll(filepath.Join(dir, "spool"), 0o750)
	cfg, err := env.DaemonConfig(dir, archiveDir, "127.0.0.1:1", rulesFile) // no daemon listens there
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{env: env, dir: dir, cfg: cfg, rules: rulesFile, etc: filepath.Join(env.Repo, "docker", "asterisk", "pbx")}
}

// run checks with the fixture's config and rules, changed by mod.
func (f *fixture) run(t *testing.T, mod func(*config.Config, *Options)) *Report {
	t.Helper()
	cfg, err := config.Load(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Config: cfg, ConfigFile: f.cfg, AsteriskEtc: f.etc, DaemonUser: "root", Log: zerolog.Nop()}
	if mod != nil {
		mod(cfg, &o)
	}
	if o.Rules == nil {
		if o.Rules, err = rules.Load(cfg.RulesFile); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return Run(ctx, o)
}

func find(r *Report, check string) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Check == check {
			out = append(out, f)
		}
	}
	return out
}

// rulesWith writes a copy of the fixture's rules file changed by edit.
func (f *fixture) rulesWith(t *testing.T, old, new string) *rules.Rules {
	t.Helper()
	b, err := os.ReadFile(f.rules)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("the rules file has no %q", old)
	}
	p := filepath.Join(filepath.Dir(f.rules), "rules-edited.yaml")
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := rules.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// etcWith copies the PBX's configuration folder with one file changed.
func (f *fixture) etcWith(t *testing.T, file, old, new string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "asterisk")
	if out, err := exec.Command("cp", "-r", f.etc, dst).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v: %s", f.etc, err, out)
	}
	p := filepath.Join(dst, file)
	b, _ := os.ReadFile(p)
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", file, old)
	}
	os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644)
	return dst
}

// TestDoctorAgainstTheSandbox: in good order nothing fails (the daemon is
// not running: its application and /healthz are warnings); then each item
// is broken in turn, and the doctor names it, says what to change and
// where, and fails.
func TestDoctorAgainstTheSandbox(t *testing.T) {
	f := newFixture(t)
	good := f.run(t, nil)
	for _, x := range good.Findings {
		firstCall := x.Check == "PBX call records" && strings.Contains(x.Detail, "does not exist yet") // a sandbox that took no call yet
		if x.Status == Fail || (x.Status == Warn && x.Check != "ARI applications" && x.Check != "daemon" && !firstCall) {
			t.Errorf("in good order: %+v", x)
		}
	}
	if !good.OK() || len(good.Findings) < 15 {
		t.Fatalf("in good order: OK %v, %d findings", good.OK(), len(good.Findings))
	}

	// A full archive: a 1 MiB tmpfs, filled.
	full := filepath.Join(t.TempDir(), "full")
	os.MkdirAll(full, 0o750)
	if err := syscall.Mount("tmpfs", full, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mount a small tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(full, syscall.MNT_DETACH) })
	os.WriteFile(filepath.Join(full, "filler"), make([]byte, 1<<20), 0o600)
	// A recording folder Asterisk cannot write into.
	closed := filepath.Join(t.TempDir(), "closed")
	os.Mkdir(closed, 0o700)
	unmigrated := pgtest.DB(t)

	for _, c := range []struct {
		name, check, want, file string
		mod                     func(*testing.T, *config.Config, *Options)
	}{
		{"AMI secret", "AMI login", "refused user recpolicy", "manager.conf", func(t *testing.T, c *config.Config, _ *Options) {
			t.Setenv("RECPOLICY_AMI_SECRET", "not-the-secret")
		}},
		{"AMI permissions", "AMI permissions", "may not send MixMonitor (write = system)", "manager.conf [recpolicy-limited]", func(t *testing.T, c *config.Config, _ *Options) {
			c.AMI.Username = "recpolicy-limited"
			t.Setenv("RECPOLICY_AMI_SECRET", "sandbox-limited-secret")
		}},
		{"AMI events", "AMI events", "does not receive cdr, dialplan, reporting events", "manager.conf", func(t *testing.T, c *config.Config, _ *Options) {
			c.AMI.Username = "recpolicy-limited"
			t.Setenv("RECPOLICY_AMI_SECRET", "sandbox-limited-secret")
		}},
		{"ARI password", "ARI login", "refused user recpolicy", "ari.conf", func(t *testing.T, c *config.Config, _ *Options) {
			t.Setenv("RECPOLICY_ARI_PASSWORD", "not-the-password")
		}},
		{"cdr_manager mappings", "call records", "[mappings] lacks linkedid", "cdr_manager.conf", func(t *testing.T, c *config.Config, o *Options) {
			o.AsteriskEtc = f.etcWith(t, "cdr_manager.conf", "linkedid => LinkedID", "")
		}},
		{"dialplan include", "dialplan include", "calls from trunk carrier-direct enter context city-inbound, which never goes to recpolicy-inbound", "extensions.conf", func(t *testing.T, c *config.Config, o *Options) {
			o.Rules = f.rulesWith(t, "trunks: [carrier]", "trunks: [carrier, carrier-direct]")
		}},
		{"greeting language", "greeting sound", "has no sound recpolicy/avis-enregistrement in es", "/usr/share/asterisk/sounds/", func(t *testing.T, c *config.Config, o *Options) {
			o.Rules = f.rulesWith(t, "language: fr", "language: es")
		}},
		{"recording folder", "recording folder", "nobody (Asterisk) cannot write into it", closed, func(t *testing.T, c *config.Config, _ *Options) {
			c.Recording.LocalDir = closed
			c.Recording.SpoolOwner = "nobody" // Asterisk's user, as this machine knows it
		}},
		{"PBX call records", "PBX call records", "5 columns a line, not 21", "cdr.conf", func(t *testing.T, c *config.Config, _ *Options) {
			p := filepath.Join(t.TempDir(), "Master.csv")
			os.WriteFile(p, []byte(`"","5145550100","235","internal","x"`+"\n"), 0o644)
			c.Archive.PBXCDRCSV = p
		}},
		{"archive space", "archive space", "recordings stop being filed when it is full", full, func(t *testing.T, c *config.Config, _ *Options) {
			c.Archive.Dir = full
		}},
		{"database role", "database role", "is a superuser", "archive.dsn", func(t *testing.T, c *config.Config, _ *Options) {
			t.Setenv("RECPOLICY_DSN", f.env.PGDSN)
		}},
		{"database schema", "database", "read schema version", "", func(t *testing.T, c *config.Config, _ *Options) {
			t.Setenv("RECPOLICY_DSN", unmigrated)
		}},
		{"clock", "clock (PostgreSQL)", "PostgreSQL's clock is", "timesyncd.conf", func(t *testing.T, c *config.Config, o *Options) {
			o.Now = func() time.Time { return time.Now().Add(-10 * time.Second) }
		}},
		{"clock", "clock (Asterisk)", "Asterisk's clock is", "timesyncd.conf", func(t *testing.T, c *config.Config, o *Options) {
			o.Now = func() time.Time { return time.Now().Add(-10 * time.Second) }
		}},
	} {
		t.Run(c.name+"/"+c.check, func(t *testing.T) {
			r := f.run(t, func(cfg *config.Config, o *Options) { c.mod(t, cfg, o) })
			if r.OK() {
				t.Fatalf("%s broken, the doctor passes", c.name)
			}
			var hit *Finding
			for _, x := range find(r, c.check) {
				if x.Status == Fail && strings.Contains(x.Detail, c.want) {
					hit = &x
				}
			}
			if hit == nil {
				t.Fatalf("no failing %q finding with %q: %+v (all: %+v)", c.check, c.want, find(r, c.check), r.Findings)
			}
			if hit.Fix == "" || !strings.Contains(hit.File, c.file) {
				t.Errorf("finding %+v: want what to change, in %s", *hit, c.file)
			}
			for _, x := range r.Findings {
				for _, s := range []string{"not-the-secret", "not-the-password", "sandbox-ami-secret", "sandbox-ari-secret", "sandbox-limited-secret", "sandbox-app-secret"} {
					if strings.Contains(x.Detail+x.Fix, s) {
						t.Errorf("a finding shows a secret: %+v", x)
					}
				}
			}
		})
	}
}
