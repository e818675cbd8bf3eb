// Command demo is `make demo`'s driver: with the sandbox up, it runs the
// recpolicy daemon, places a handful of real calls through the simulator and
// prints what was recorded and archived, and why.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/villedemercier/recpolicy/internal/sandbox"
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
	cfg, err := env.DaemonConfig(out, archive, "127.0.0.1:9642", "")
	if err != nil {
		return err
	}
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
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	fmt.Printf("demo: recpolicy daemon started (pid %d), config %s, log %s\n", cmd.Process.Pid, cfg, logPath)
	defer func() {
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
		fmt.Printf("  %-40s %5.1f s  phone tone %.2f  carrier tone %.2f\n", rel, a.Duration(),
			a.ToneShare(sandbox.PhoneFreq, 0, a.Duration()), a.ToneShare(sandbox.CarrierFreq, 0, a.Duration()))
		n++
		return nil
	})
	fmt.Printf("demo: %d recordings filed (expected 3)\n", n)
	if n != 3 {
		return fmt.Errorf("filed %d recordings, expected 3 (see %s)", n, logPath)
	}
	return nil
}

func waitHealthy(ctx context.Context, url string) error {
	deadline := time.Now().Add(30 * time.Second)
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
	return fmt.Errorf("the daemon did not connect to AMI and ARI within 30 s")
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
