package main

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// blipAt are the moments, from a blip wave's first call, at which the
// daemon's ARI connections are cut: while the first callers are greeted,
// while most calls are dialled and their recordings start, and while the
// last ones are.
var blipAt = []time.Duration{2 * time.Second, 3500 * time.Millisecond, 5 * time.Second}

// The PBX's ports in the sandbox: ARI's (docker/asterisk/pbx/http.conf)
// and AMI's (manager.conf).
const (
	ariPort = 8088
	amiPort = 5038
)

// blips cuts the daemon's TCP connections to the PBX's ports (ARI's: the
// event WebSockets and the REST connections; AMI's: the event and action
// sessions) at each of blipAt from start, as a network blip would: the
// kernel aborts them (ss -K, iproute2; the kernel needs
// CONFIG_INET_DIAG_DESTROY, as Debian's has). It returns how many it cut
// each time.
func blips(ctx context.Context, start time.Time, pid int, ports []int) ([]int, error) {
	var cut []int
	for _, at := range blipAt {
		select {
		case <-time.After(time.Until(start.Add(at))):
		case <-ctx.Done():
			return cut, ctx.Err()
		}
		n, err := cutConnections(ctx, pid, ports)
		if err != nil {
			return cut, fmt.Errorf("blip at %s: %w", at, err)
		}
		if n == 0 {
			return cut, fmt.Errorf("blip at %s: the daemon (pid %d) has no connection to 127.0.0.1 ports %v to cut", at, pid, ports)
		}
		cut = append(cut, n)
	}
	return cut, nil
}

// cutConnections aborts process pid's established TCP connections to
// 127.0.0.1 on ports, all at once, and returns how many there were.
func cutConnections(ctx context.Context, pid int, ports []int) (int, error) {
	out, err := exec.CommandContext(ctx, "ss", "-tnpH", "state", "established", "dst", "127.0.0.1").Output()
	if err != nil {
		return 0, fmt.Errorf("list connections (ss, from iproute2): %w", err)
	}
	var or []string
	for _, port := range ports {
		for _, p := range localPorts(string(out), pid, port) {
			or = append(or, "( dport = :"+strconv.Itoa(port)+" and sport = :"+p+" )")
		}
	}
	if len(or) == 0 {
		return 0, nil
	}
	filter := "dst 127.0.0.1 and ( " + strings.Join(or, " or ") + " )"
	if out, err := exec.CommandContext(ctx, "ss", append([]string{"-K"}, strings.Fields(filter)...)...).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("abort connections (ss -K; the kernel needs CONFIG_INET_DIAG_DESTROY): %w: %s", err, strings.TrimSpace(string(out)))
	}
	return len(or), nil
}

// localPorts returns the local ports of process pid's connections to peer
// port in out, ss -tnpH's listing of established connections (Recv-Q,
// Send-Q, local address:port, peer address:port, process).
func localPorts(out string, pid, port int) []string {
	var ports []string
	owner := "pid=" + strconv.Itoa(pid) + ","
	peer := ":" + strconv.Itoa(port)
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || !strings.Contains(f[4], owner) || !strings.HasSuffix(f[3], peer) {
			continue
		}
		if i := strings.LastIndexByte(f[2], ':'); i >= 0 && i+1 < len(f[2]) {
			ports = append(ports, f[2][i+1:])
		}
	}
	return ports
}
