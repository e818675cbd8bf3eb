package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// daemonProc is the recpolicy daemon the harness runs, which the daemon
// profile stops and starts again mid-wave.
type daemonProc struct {
	bin, cfg string
	log      *os.File          // both streams, every run of the daemon
	env      map[string]string // secrets added to the environment
	health   string            // its /healthz URL
	pid      int
	exited   chan struct{} // closed when the running daemon exits
	cmd      *exec.Cmd
	nice     int             // the unit's Nice=
	place    func(int) error // puts a started daemon in its group, or nil
}

// start runs the daemon.
func (p *daemonProc) start() error {
	argv := []string{p.bin, "run", "--config", p.cfg}
	if p.nice != 0 {
		// nice(1) sets the priority before exec: every thread inherits it.
		argv = append([]string{"nice", "-n", strconv.Itoa(p.nice)}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.Env = os.Environ()
	for k, v := range p.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	p.cmd, p.pid, p.exited = cmd, cmd.Process.Pid, exited
	if p.place != nil {
		if err := p.place(p.pid); err != nil {
			p.stop() // not left running unmeasured, nor orphaned
			p.cmd = nil
			return err
		}
	}
	return nil
}

// stop stops the daemon as systemd would (SIGTERM, then SIGKILL after
// 30 s); a daemon already stopped is left alone.
func (p *daemonProc) stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// daemonRestart stops the daemon and starts it again, as `systemctl
// restart` would, and waits until it is connected again. It returns the
// counters the stopped daemon added since before.
func (w *waver) daemonRestart(ctx context.Context, before scrape) (scrape, error) {
	last, err := scrapeMetrics(w.metrics)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	w.daemon.stop()
	stopped := time.Since(t0)
	if err := w.daemon.start(); err != nil {
		return nil, err
	}
	if err := waitHealthy(ctx, w.health, w.daemon.exited); err != nil {
		return nil, fmt.Errorf("after the daemon's restart: %w", err)
	}
	say("daemon restarted mid-wave: stopped in %s, pid %d connected again %s after the stop began", stopped.Round(10*time.Millisecond), w.daemon.pid, time.Since(t0).Round(10*time.Millisecond))
	return last.sub(before), nil
}
