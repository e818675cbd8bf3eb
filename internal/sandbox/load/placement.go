package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// defaultCPUWeight is systemd's CPUWeight= when a unit sets none (Debian's
// asterisk.service among them).
const defaultCPUWeight = 100

// unitSched is what the package's systemd unit asks of the scheduler for
// the daemon (internal/packaging/systemd/recpolicy.service).
type unitSched struct {
	nice   int // Nice=
	weight int // CPUWeight=
}

// readUnitSched reads Nice= and CPUWeight= from a systemd unit; either
// missing is systemd's default (0, defaultCPUWeight).
func readUnitSched(path string) (unitSched, error) {
	s := unitSched{weight: defaultCPUWeight}
	f, err := os.Open(path)
	if err != nil {
		return s, fmt.Errorf("read the daemon's unit: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		switch k {
		case "Nice":
			if s.nice, err = strconv.Atoi(v); err != nil || s.nice < -20 || s.nice > 19 {
				return s, fmt.Errorf("%s:%d: Nice=%q is not a number from -20 to 19", path, n, v)
			}
		case "CPUWeight":
			if s.weight, err = strconv.Atoi(v); err != nil || s.weight < 1 || s.weight > 10000 {
				return s, fmt.Errorf("%s:%d: CPUWeight=%q is not a number from 1 to 10000", path, n, v)
			}
		}
	}
	return s, sc.Err()
}

// placement puts the daemon and each Asterisk instance in a cpu cgroup of
// its own, as systemd places services (recpolicy.service beside
// asterisk.service), with the weight the package's unit gives the daemon.
// The chroot sandbox otherwise runs every process in one group, where the
// scheduler shares the processors thread by thread: the PBX's and the
// simulator's hundreds of threads then keep the daemon's few waiting, which
// no installed system does.
type placement struct {
	base string // the groups' parent
	root string // the hierarchy's root group (where processes return)
	v2   bool
}

// errNoCPUCgroup: this machine offers no writable cpu cgroup hierarchy.
var errNoCPUCgroup = errors.New("no writable cpu cgroup hierarchy (/sys/fs/cgroup/cpu or cgroup v2 with the cpu controller)")

// newPlacement makes the groups' parent, recpolicy-load, in the cpu
// hierarchy (cgroup v1's cpu controller, or v2's).
func newPlacement() (*placement, error) {
	if st, err := os.Stat("/sys/fs/cgroup/cpu/cpu.shares"); err == nil && st.Mode().IsRegular() {
		p := &placement{root: "/sys/fs/cgroup/cpu", base: "/sys/fs/cgroup/cpu/recpolicy-load"}
		if err := os.MkdirAll(p.base, 0o755); err != nil {
			return nil, fmt.Errorf("%w: %v", errNoCPUCgroup, err)
		}
		return p, nil
	}
	ctl, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
	if err != nil || !strings.Contains(" "+string(ctl)+" ", " cpu ") {
		return nil, errNoCPUCgroup
	}
	p := &placement{root: "/sys/fs/cgroup", base: "/sys/fs/cgroup/recpolicy-load", v2: true}
	if err := os.MkdirAll(p.base, 0o755); err != nil {
		return nil, fmt.Errorf("%w: %v", errNoCPUCgroup, err)
	}
	for _, d := range []string{p.root, p.base} {
		if err := os.WriteFile(filepath.Join(d, "cgroup.subtree_control"), []byte("+cpu"), 0o644); err != nil {
			return nil, fmt.Errorf("%w: enable cpu in %s: %v", errNoCPUCgroup, d, err)
		}
	}
	return p, nil
}

// place moves a process, every thread of it, into the group name with a
// CPUWeight-like weight (defaultCPUWeight is the default share; cgroup v1
// gives that 1024 shares).
func (p *placement) place(name string, pid, weight int) error {
	dir := filepath.Join(p.base, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("place %s: %w", name, err)
	}
	file, val := "cpu.weight", strconv.Itoa(weight)
	if !p.v2 {
		file, val = "cpu.shares", strconv.Itoa(weight*1024/defaultCPUWeight)
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(val), 0o644); err != nil {
		return fmt.Errorf("place %s: set %s: %w", name, file, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("place %s: move pid %d: %w", name, pid, err)
	}
	return nil
}

// close returns the processes still in the groups to the root group and
// removes the groups.
func (p *placement) close() {
	groups, _ := os.ReadDir(p.base)
	for _, g := range groups {
		if !g.IsDir() {
			continue
		}
		dir := filepath.Join(p.base, g.Name())
		if procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs")); err == nil {
			for _, pid := range strings.Fields(string(procs)) {
				_ = os.WriteFile(filepath.Join(p.root, "cgroup.procs"), []byte(pid), 0o644)
			}
		}
		_ = os.Remove(dir)
	}
	_ = os.Remove(p.base)
}

// asteriskPid reads the pid of a sandbox Asterisk instance (pbx or sim)
// from its pid file in the chroot.
func asteriskPid(root, instance string) (int, error) {
	f := filepath.Join(root, "run", "asterisk", "asterisk.pid")
	if instance == "sim" {
		f = filepath.Join(root, "run", "asterisk-sim", "asterisk.pid")
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return 0, fmt.Errorf("read asterisk %s's pid: %w", instance, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("read asterisk %s's pid: %s holds no pid", instance, f)
	}
	return pid, nil
}
