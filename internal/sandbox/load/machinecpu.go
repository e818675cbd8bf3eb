package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// cpuReading is a reading of the whole machine's CPU counters: from
// /proc/stat, the jiffies all CPUs spent busy, stolen by the hypervisor
// and in all; from /proc/pressure/cpu, the time some runnable task waited
// for a CPU (PSI "some"). Two readings tell how loaded the machine was
// between them, whoever loaded it: the harness's own calls, or other work
// on the machine (a hot hour), which a process's own CPU time does not
// show.
type cpuReading struct {
	busy, steal, total float64
	stall              time.Duration
	ok                 bool // /proc/stat was read
	stallOK            bool // /proc/pressure/cpu was read (kernels with PSI)
}

// readMachineCPU reads the machine's CPU counters now.
func readMachineCPU() cpuReading {
	var r cpuReading
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		r.busy, r.steal, r.total, r.ok = parseProcStat(string(b))
	}
	if b, err := os.ReadFile("/proc/pressure/cpu"); err == nil {
		r.stall, r.stallOK = parsePressure(string(b))
	}
	return r
}

// parseProcStat reads /proc/stat's first line (all CPUs): user nice
// system idle iowait irq softirq steal ...; busy is everything but idle,
// iowait and steal.
func parseProcStat(s string) (busy, steal, total float64, ok bool) {
	line, _, _ := strings.Cut(s, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, 0, false
	}
	var v [8]float64
	for i := range v {
		x, err := strconv.ParseFloat(f[i+1], 64)
		if err != nil {
			return 0, 0, 0, false
		}
		v[i] = x
		total += x
	}
	steal = v[7]
	return total - v[3] - v[4] - steal, steal, total, true
}

// parsePressure reads the "some" line's total (microseconds) of
// /proc/pressure/cpu.
func parsePressure(s string) (time.Duration, bool) {
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "some" {
			continue
		}
		for _, kv := range f[1:] {
			if v, ok := strings.CutPrefix(kv, "total="); ok {
				us, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return 0, false
				}
				return time.Duration(us) * time.Microsecond, true
			}
		}
	}
	return 0, false
}

// cpuShare is how loaded the machine was between two readings over the
// wall time d: busy and stolen shares of all CPUs' time, and the share of
// d during which some task waited for a CPU.
type cpuShare struct {
	busy, steal, stalled float64
	ok, stallOK          bool
}

func machineShare(a, b cpuReading, d time.Duration) cpuShare {
	var s cpuShare
	if a.ok && b.ok && b.total > a.total {
		t := b.total - a.total
		s.busy, s.steal, s.ok = (b.busy-a.busy)/t, (b.steal-a.steal)/t, true
	}
	if a.stallOK && b.stallOK && d > 0 {
		s.stalled, s.stallOK = float64(b.stall-a.stall)/float64(d), true
	}
	return s
}

// String is "busy/steal/stalled" in percent, "?" for what was not read.
func (s cpuShare) String() string {
	pc := func(ok bool, x float64) string {
		if !ok {
			return "?"
		}
		return fmt.Sprintf("%.0f%%", 100*x)
	}
	return pc(s.ok, s.busy) + "/" + pc(s.ok, s.steal) + "/" + pc(s.stallOK, s.stalled)
}

// settleReading waits d (at least a second), and returns the machine's
// load in its last second.
func settleReading(ctx context.Context, d time.Duration) (cpuShare, error) {
	wait := func(d time.Duration) error {
		select {
		case <-time.After(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := wait(max(0, d-time.Second)); err != nil {
		return cpuShare{}, err
	}
	a, at := readMachineCPU(), time.Now()
	if err := wait(time.Second); err != nil {
		return cpuShare{}, err
	}
	return machineShare(a, readMachineCPU(), time.Since(at)), nil
}
