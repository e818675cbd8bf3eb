// Command demo is `make demo`'s driver: with the sandbox up, it runs the
// recpolicy daemon, places a handful of real calls through the simulator and
// prints what was recorded and archived, and why.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/villedemercier/recpolicy/internal/sandbox"
	"github.com/villedemercier/recpolicy/rules"
)

func main() {
	bin := flag.String("recpolicy", "bin/recpolicy", "the recpolicy binary")
	out := flag.String("out", "var/demo", "where the demo writes its config, logs and archive")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, *out); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

type scenario struct {
	what   string
	want   string // "recorded" or "not recorded"
	place  func(ctx context.Context, d *sandbox.Driver) (*sandbox.Call, error)
	answer time.Duration
}

func run(ctx context.Context, bin, out string) error {
	env, stopSandbox, err := sandbox.Up(ctx)
	if err != nil {
		return err
	}
	defer stopSandbox()
	out, _ = filepath.Abs(out)
	archive := filepath.Join(out, "archive")
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o750); err != nil {
		return err
	}
	rulesFile, err := demoRules(env.Repo, out)
	if err != nil {
		return err
	}
	cfg, err := env.DaemonConfig(out, archive, "127.0.0.1:9642", rulesFile)
	if err != nil {
		return err
	}
	// The console's section, and who administers: root (the demo's CLI) and admin.
	if err := appendFile(cfg, "access: {administrators: [root, admin], trainers: [formation]}\nconsole: {listen: \"127.0.0.1:8443\"}\n"); err != nil {
		return err
	}
	keep := os.Getenv("KEEP") == "1"
	logPath := filepath.Join(out, "recpolicy.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = os.Environ()
	for k, v := range env.SandboxSecrets() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // with KEEP=1 it outlives the demo
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	fmt.Printf("demo: recpolicy daemon started (pid %d), config %s, log %s\n", cmd.Process.Pid, cfg, logPath)
	defer func() {
		if keep {
			return
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
	}()
	if err := waitHealthy(ctx, "http://127.0.0.1:9642/healthz"); err != nil {
		return fmt.Errorf("%w (see %s)", err, logPath)
	}
	d, err := sandbox.NewDriver(ctx, sandbox.SimAMI, zerolog.Nop())
	if err != nil {
		return err
	}
	defer d.Close()
	_ = d.ResetPhones(ctx)

	scenarios := []scenario{
		{"inbound: 514-555-0142 calls the IT director (235)", "recorded", func(ctx context.Context, d *sandbox.Driver) (*sandbox.Call, error) {
			return d.Inbound(ctx, sandbox.DIDPrefix+"235", "5145550142", sandbox.Options{CallerName: "Jean Tremblay"})
		}, 3 * time.Second},
		{"outbound: the treasurer (236) calls 514-555-0100", "recorded", func(ctx context.Context, d *sandbox.Driver) (*sandbox.Call, error) {
			return d.Outbound(ctx, "236", "5145550100", sandbox.Options{})
		}, 3 * time.Second},
		{"inbound, number withheld, to police reception (800)", "recorded", func(ctx context.Context, d *sandbox.Driver) (*sandbox.Call, error) {
			return d.Inbound(ctx, sandbox.DIDPrefix+"800", "", sandbox.Options{Withheld: true})
		}, 3 * time.Second},
		{"internal: 235 calls 250", "not recorded", func(ctx context.Context, d *sandbox.Driver) (*sandbox.Call, error) {
			return d.Internal(ctx, "235", "250", sandbox.Options{})
		}, 2 * time.Second},
		{"inbound: a lawyer calls the detainee phone (899)", "not recorded", func(ctx context.Context, d *sandbox.Driver) (*sandbox.Call, error) {
			return d.Inbound(ctx, sandbox.DIDPrefix+"899", "5145550199", sandbox.Options{CallerName: "Me Avocat"})
		}, 2 * time.Second},
		{"outbound: the lunch room (290) calls 514-555-0177", "not recorded", func(ctx context.Context, d *sandbox.Driver) (*sandbox.Call, error) {
			return d.Outbound(ctx, "290", "5145550177", sandbox.Options{})
		}, 2 * time.Second},
	}
	fmt.Println("demo: placing calls (each caller first hears the greeting, about 3 s)")
	for _, s := range scenarios {
		c, err := s.place(ctx, d)
		if err != nil {
			return err
		}
		if err := d.Talk(ctx, c, s.answer); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
		fmt.Printf("  %-58s bridged %.1f s, expected: %s\n", s.what, c.Bridged().Seconds(), s.want)
	}
	time.Sleep(2 * time.Second)
	fmt.Println("\ndemo: decisions the daemon logged:")
	printDecisions(logPath)
	fmt.Printf("\ndemo: archive %s:\n", archive)
	n := 0
	_ = filepath.WalkDir(archive, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return nil
		}
		a, err := sandbox.ReadWAV(p)
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(archive, p)
		fmt.Printf("  %-40s %5.1f s  phone tone %.2f  carrier tone %.2f", rel, a.Duration(),
			a.ToneShare(sandbox.PhoneFreq, 0, a.Duration()), a.ToneShare(sandbox.CarrierFreq, 0, a.Duration()))
		if len(a.Channels) == 2 {
			l, r := a.Channel(0), a.Channel(1)
			fmt.Printf("  left (the extension) phone %.2f, right (the other party) carrier %.2f", l.ToneShare(sandbox.PhoneFreq, 0, a.Duration()), r.ToneShare(sandbox.CarrierFreq, 0, a.Duration()))
		}
		fmt.Println()
		n++
		return nil
	})
	fmt.Printf("demo: %d recordings filed (expected 3)\n", n)
	if n != 3 {
		return fmt.Errorf("filed %d recordings, expected 3 (see %s)", n, logPath)
	}
	rl, err := rules.Load(rulesFile)
	if err != nil {
		return err
	}
	if err := printReport(ctx, bin, cfg, out, cmd.Env, rl); err != nil {
		return err
	}
	return runConsole(ctx, bin, cfg, out, cmd.Env, keep, cmd.Process.Pid, rl.DirectorExtensions("dir.comm"))
}

// demoRules writes the city's rules with a director for communications-ti
// (235, whose call the demo records), so that the console shows a director.
func demoRules(repo, out string) (string, error) {
	src, err := os.ReadFile(filepath.Join(repo, "rules", "mercier.yaml"))
	if err != nil {
		return "", err
	}
	src = []byte(strings.Replace(string(src), "  - id: communications-ti\n", "  - id: communications-ti\n    director_user: dir.comm\n", 1))
	// The greeting is named relative to the rules file: keep it where it is.
	src = []byte(strings.ReplaceAll(string(src), "sounds/", filepath.Join(repo, "rules", "sounds")+"/"))
	p := filepath.Join(out, "rules.yaml")
	return p, os.WriteFile(p, src, 0o644)
}

func appendFile(p, text string) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(text)
	return err
}

// runConsole gives the console two local accounts (the IT director
// "admin" and the communications director "dir.comm"), starts it, and
// prints its address and logins; with KEEP=1 it leaves it running.
// dirExts are the extensions dir.comm may hear (the database may hold
// earlier runs' and tests' recordings of the whole department).
func runConsole(ctx context.Context, bin, cfg, out string, envv []string, keep bool, daemonPID int, dirExts []string) error {
	logins := map[string]string{"admin": randomPassword(), "dir.comm": randomPassword(), "formation": randomPassword()}
	for _, login := range []string{"admin", "dir.comm", "formation"} {
		for _, step := range []string{"add", "passwd"} {
			c := exec.CommandContext(ctx, bin, "users", step, login, "--config", cfg)
			c.Env = envv
			c.Stdin = strings.NewReader(logins[login] + "\n")
			b, err := c.CombinedOutput()
			if err == nil {
				break
			}
			if step == "passwd" || !strings.Contains(string(b), "account exists") {
				return fmt.Errorf("recpolicy users %s %s: %v: %s", step, login, err, b)
			}
		}
	}
	logPath := filepath.Join(out, "console.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	c := exec.Command(bin, "console", "--config", cfg)
	c.Stdout, c.Stderr, c.Env = logf, logf, envv
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := c.Start(); err != nil {
		return fmt.Errorf("start the console: %w", err)
	}
	if !keep {
		defer func() {
			_ = c.Process.Signal(syscall.SIGTERM)
			_, _ = c.Process.Wait()
		}()
	}
	const url = "http://127.0.0.1:8443/"
	if err := waitURL(ctx, url+"connexion", 15*time.Second); err != nil {
		return fmt.Errorf("the console did not answer: %w (see %s)", err, logPath)
	}
	seen, err := consoleSees(ctx, url, "dir.comm", logins["dir.comm"])
	if err != nil {
		return fmt.Errorf("the console: %w (see %s)", err, logPath)
	}
	of235 := 0
	for _, f := range seen {
		// <YYYYMMDD>-<HHMM>-<extension>[-n].wav
		parts := strings.Split(strings.TrimSuffix(f, ".wav"), "-")
		if len(parts) < 3 || !slices.Contains(dirExts, parts[2]) {
			return fmt.Errorf("the console shows dir.comm %s, not one of their department's (%s)", f, strings.Join(dirExts, ", "))
		}
		if parts[2] == "235" {
			of235++
		}
	}
	if of235 == 0 {
		return fmt.Errorf("the console shows dir.comm no recording of 235 (see %s)", logPath)
	}
	fmt.Printf("\ndemo: console %s (log %s): dir.comm sees %d recordings of their department in the database (%d of 235; newest %s), none of 236's or 800's\n",
		url, logPath, len(seen), of235, seen[0])
	fmt.Printf("  IT director:              login admin     password %s\n", logins["admin"])
	fmt.Printf("  director, communications: login dir.comm  password %s (sees their department's recordings only: 235's and its colleagues')\n", logins["dir.comm"])
	fmt.Printf("  trainer:                  login formation password %s (prepares de-identified training copies: a recording's page, « Préparer une copie de formation »)\n", logins["formation"])
	if keep {
		fmt.Printf("demo: KEEP=1: the daemon (pid %d), the console (pid %d) and the sandbox keep running; stop them with\n"+
			"  kill %d %d; docker/sandbox down\n", daemonPID, c.Process.Pid, daemonPID, c.Process.Pid)
	} else {
		fmt.Println("demo: (KEEP=1 make demo leaves the console running, to open it in a browser)")
	}
	return nil
}

// consoleSees logs in to the console as login and returns the files of
// the recordings its API lists for them.
func consoleSees(ctx context.Context, base, login, password string) ([]string, error) {
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"connexion",
		strings.NewReader("identifiant="+login+"&mot_de_passe="+password))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := noRedirect.Do(req)
	if err != nil {
		return nil, err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || len(res.Cookies()) == 0 {
		return nil, fmt.Errorf("login as %s: %s", login, res.Status)
	}
	req, _ = http.NewRequestWithContext(ctx, "GET", base+"api/recordings", nil)
	req.AddCookie(res.Cookies()[0])
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var body struct{ Recordings []struct{ File string } }
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("list as %s: %s %v", login, res.Status, err)
	}
	var files []string
	for _, r := range body.Recordings {
		files = append(files, r.File)
	}
	return files, nil
}

// randomPassword is a demo account's password: 16 letters and digits.
func randomPassword() string {
	const letters = "abcdefghijkmnpqrstuvwxyz23456789"
	b := make([]byte, 16)
	rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}

// waitURL waits until url answers 200, within the given time.
func waitURL(ctx context.Context, url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer within %s", url, within)
}

// waitHealthy waits until the daemon's health endpoint says AMI and ARI
// are up.
func waitHealthy(ctx context.Context, url string) error {
	if err := waitURL(ctx, url, 30*time.Second); err != nil {
		return fmt.Errorf("the daemon did not connect to AMI and ARI within 30 s: %w", err)
	}
	return nil
}

func printDecisions(logPath string) {
	f, err := os.Open(logPath)
	if err != nil {
		return
	}
	defer f.Close()
	seen := map[string]bool{}
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil || m["rule"] == nil {
			continue
		}
		key := fmt.Sprint(m["linkedid"], m["channel"], m["record"])
		if seen[key] {
			continue
		}
		seen[key] = true
		rec := "no  "
		if m["record"] == true {
			rec = "REC "
		}
		lines = append(lines, fmt.Sprintf("  %s %-28s %-14s %s", rec, m["channel"], m["rule"], m["message"]))
	}
	fmt.Println(strings.Join(lines, "\n"))
}

// printReport makes this month's compliance report with the CLI (CSV to
// the demo's folder, HTML beside it) and prints its totals.
func printReport(ctx context.Context, bin, cfg, out string, envv []string, rl *rules.Rules) error {
	month := time.Now().In(rl.Location()).Format("2006-01")
	var totals []string
	for _, format := range []string{"csv", "html"} {
		file := filepath.Join(out, "rapport-conformite-"+month+"."+format)
		os.Remove(file)
		c := exec.CommandContext(ctx, bin, "report", "--config", cfg, "--month", month, "--format", format, "--out", file)
		c.Env = envv
		if b, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("recpolicy report: %v: %s", err, b)
		}
		if format == "csv" {
			b, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			for _, line := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(line, "couverture-ville,") {
					totals = strings.Split(line, ",")
				}
			}
		}
	}
	if len(totals) < 7 {
		return fmt.Errorf("recpolicy report: no city total in the CSV (see %s)", out)
	}
	fmt.Printf("\ndemo: compliance report %s (recpolicy report --month %s; %s/rapport-conformite-%s.html): %s external calls of Annexe A extensions in the archive this month, %s recorded, coverage %s\n",
		month, month, out, month, totals[4], totals[5], totals[6])
	return nil
}
