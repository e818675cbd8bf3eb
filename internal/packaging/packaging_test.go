package packaging

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// need fails the test (never skips) when a tool is missing.
func need(t *testing.T, tool, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Fatalf("%s is missing: docker/sandbox up installs Debian's %s (apt-get install %s)", tool, pkg, pkg)
	}
}

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	c := exec.Command(name, args...)
	c.Dir = dir
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestAlertRules: the shipped rules parse, and each alert fires on what
// should raise it and on nothing else (promtool's unit tests).
func TestAlertRules(t *testing.T) {
	need(t, "promtool", "prometheus")
	out := run(t, "alerts", "promtool", "check", "rules", "recpolicy.rules.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool check rules: %s", out)
	}
	out = run(t, "alerts", "promtool", "test", "rules", "recpolicy.rules.test.yml")
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules: %s", out)
	}
	// Every alert has a test that expects it to fire.
	rules, _ := os.ReadFile("alerts/recpolicy.rules.yml")
	tests, _ := os.ReadFile("alerts/recpolicy.rules.test.yml")
	for _, m := range regexp.MustCompile(`(?m)^\s*- alert: (\w+)`).FindAllStringSubmatch(string(rules), -1) {
		if !regexp.MustCompile(`alertname: ` + m[1] + `\n\s*exp_alerts:\n\s*- exp_labels`).Match(tests) {
			t.Errorf("alert %s has no test expecting it to fire", m[1])
		}
	}
}

// exported are the metric names the daemon's code registers.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	re := regexp.MustCompile(`"(recpolicy_[a-z_]+)"`)
	err := filepath.WalkDir("../..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "var" || d.Name() == ".git" || d.Name() == "vendor") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			names[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestMonitoringNamesRealMetrics: the alert rules and the dashboard use
// only metrics the daemon exports, and the dashboard is a Grafana
// dashboard with its datasource as a variable.
func TestMonitoringNamesRealMetrics(t *testing.T) {
	names := exported(t)
	re := regexp.MustCompile(`recpolicy_[a-z_]+`)
	check := func(file, text string) {
		for _, m := range re.FindAllString(text, -1) {
			base := m
			for _, suf := range []string{"_bucket", "_count", "_sum"} {
				base = strings.TrimSuffix(base, suf)
			}
			if !names[m] && !names[base] && m != "recpolicy_runtime" && m != "recpolicy_app" {
				t.Errorf("%s names %s, which the daemon does not export", file, m)
			}
		}
	}
	rules, _ := os.ReadFile("alerts/recpolicy.rules.yml")
	check("alerts/recpolicy.rules.yml", string(rules))
	b, err := os.ReadFile("grafana/recpolicy.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title      string `json:"title"`
		UID        string `json:"uid"`
		Templating struct {
			List []struct{ Type, Name string } `json:"list"`
		} `json:"templating"`
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("grafana/recpolicy.json: %v", err)
	}
	if dash.UID != "recpolicy" || len(dash.Templating.List) != 1 || dash.Templating.List[0].Type != "datasource" {
		t.Errorf("dashboard %q: uid %q, templating %+v", dash.Title, dash.UID, dash.Templating.List)
	}
	exprs := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			check("grafana/recpolicy.json: "+p.Title, tg.Expr)
			exprs++
		}
	}
	// The dashboard shows what the alerts watch.
	for _, m := range re.FindAllString(string(rules), -1) {
		if !strings.Contains(string(b), strings.TrimSuffix(m, "_bucket")) {
			t.Errorf("the dashboard shows nothing of %s, which an alert watches", m)
		}
	}
	if exprs < 20 {
		t.Errorf("the dashboard has %d queries", exprs)
	}
}

// exposure scores a unit with systemd-analyze security --offline.
func exposure(t *testing.T, unit string) float64 {
	t.Helper()
	c := exec.Command("systemd-analyze", "security", "--offline=true", unit)
	out, _ := c.CombinedOutput() // exits non-zero above its threshold
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+) (\w+)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("systemd-analyze security %s: %s", unit, out)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// TestUnitsAreHardened: each unit runs as recpolicy, writes only where it
// must, holds no capability but the console's port, and scores 2.0 or
// lower ("OK") by systemd-analyze security.
func TestUnitsAreHardened(t *testing.T) {
	need(t, "systemd-analyze", "systemd")
	for _, c := range []struct {
		unit, exec, caps string
		writes           []string
	}{
		{"recpolicy.service", "/usr/bin/recpolicy run --config /etc/recpolicy/recpolicy.yaml", "", []string{"/var/lib/recpolicy", "/var/spool/asterisk/recpolicy"}},
		{"recpolicy-console.service", "/usr/bin/recpolicy console --config /etc/recpolicy/recpolicy.yaml", "CAP_NET_BIND_SERVICE", nil},
	} {
		t.Run(c.unit, func(t *testing.T) {
			p := filepath.Join("systemd", c.unit)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			set := unitSettings(t, c.unit)
			want := map[string]string{"User": "recpolicy", "ProtectSystem": "strict", "NoNewPrivileges": "yes", "PrivateTmp": "yes",
				"ProtectHome": "yes", "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6", "CapabilityBoundingSet": c.caps,
				"ExecStart": c.exec}
			for k, v := range want {
				if !slices.Contains(set[k], v) {
					t.Errorf("%s: %s=%q, want %q", c.unit, k, set[k], v)
				}
			}
			if !slices.Contains(set["SystemCallFilter"], "@system-service") {
				t.Errorf("%s: SystemCallFilter %q", c.unit, set["SystemCallFilter"])
			}
			var writes []string
			for _, v := range set["ReadWritePaths"] {
				writes = append(writes, strings.Fields(v)...)
			}
			if !slices.Equal(writes, c.writes) {
				t.Errorf("%s: ReadWritePaths %q, want %q", c.unit, writes, c.writes)
			}
			for _, cred := range set["LoadCredential"] {
				if _, file, _ := strings.Cut(cred, ":"); !strings.HasPrefix(file, "/etc/recpolicy/") {
					t.Errorf("%s: credential %q not from /etc/recpolicy", c.unit, cred)
				}
			}
			if strings.Contains(string(b), "Environment=") {
				t.Errorf("%s: a secret or setting in the unit's environment", c.unit)
			}
			if v := exposure(t, p); v > 2.0 {
				t.Errorf("%s: exposure %.1f, want 2.0 or lower", c.unit, v)
			} else {
				t.Logf("%s: systemd-analyze security --offline=true: %.1f OK", c.unit, v)
			}
		})
	}
}

// unitSettings reads a unit file of systemd/: each setting's values, in
// order (comments left out).
func unitSettings(t *testing.T, name string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("systemd", name))
	if err != nil {
		t.Fatal(err)
	}
	set := map[string][]string{}
	for _, ln := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(ln, "="); ok && !strings.HasPrefix(ln, "#") {
			set[k] = append(set[k], v)
		}
	}
	return set
}
