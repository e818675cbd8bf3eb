package ari

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// amiConn is a minimal Asterisk Manager Interface client for the sandbox
// tests: one action at a time, events switched off.
type amiConn struct {
	mu   sync.Mutex
	conn net.Conn
	r    *bufio.Reader
	seq  int
}

// dialAMI logs in to the AMI at addr.
func dialAMI(t *testing.T, addr, user, secret string) *amiConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial ami %s: %v", addr, err)
	}
	a := &amiConn{conn: conn, r: bufio.NewReader(conn)}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := a.r.ReadString('\n'); err != nil { // banner
		t.Fatalf("read ami banner: %v", err)
	}
	resp, err := a.action("Login", "Username", user, "Secret", secret, "Events", "off")
	if err != nil || resp["Response"] != "Success" {
		t.Fatalf("ami login %s: %v %v", addr, resp, err)
	}
	return a
}

// action sends an action with header name/value pairs and returns its
// response; Output lines are joined with newlines under "Output".
func (a *amiConn) action(name string, kv ...string) (map[string]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seq++
	id := fmt.Sprintf("recpolicy-test-%d", a.seq)
	var b strings.Builder
	fmt.Fprintf(&b, "Action: %s\r\nActionID: %s\r\n", name, id)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", kv[i], kv[i+1])
	}
	b.WriteString("\r\n")
	_ = a.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := a.conn.Write([]byte(b.String())); err != nil {
		return nil, fmt.Errorf("send ami action %s: %w", name, err)
	}
	for {
		msg := map[string]string{}
		for {
			line, err := a.r.ReadString('\n')
			if err != nil {
				return nil, fmt.Errorf("read ami response to %s: %w", name, err)
			}
			line = strings.TrimRight(line, "\r\n")
			if line == "" {
				break
			}
			k, v, _ := strings.Cut(line, ": ")
			if k == "Output" && msg[k] != "" {
				v = msg[k] + "\n" + v
			}
			msg[k] = v
		}
		if msg["ActionID"] == id && msg["Response"] != "" {
			return msg, nil
		}
	}
}

// command runs a CLI command and returns its output.
func (a *amiConn) command(cmd string) (string, error) {
	resp, err := a.action("Command", "Command", cmd)
	if err != nil {
		return "", err
	}
	if resp["Response"] != "Success" {
		return "", fmt.Errorf("ami command %q: %v", cmd, resp)
	}
	return resp["Output"], nil
}

// getvar reads a channel variable.
func (a *amiConn) getvar(channel, name string) (string, error) {
	resp, err := a.action("Getvar", "Channel", channel, "Variable", name)
	if err != nil {
		return "", err
	}
	if resp["Response"] != "Success" {
		return "", fmt.Errorf("ami getvar %s on %s: %v", name, channel, resp)
	}
	return resp["Value"], nil
}
