package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/villedemercier/recpolicy/internal/daemon"
	"github.com/villedemercier/recpolicy/internal/engine"
	"github.com/villedemercier/recpolicy/internal/sandbox"
)

// harness is the sandbox, the running daemon and the call driver, shared
// by every test of the package (tests run one after the other).
type harness struct {
	env       *sandbox.Env
	driver    *sandbox.Driver
	archive   string
	logPath   string
	health    string
	metrics   string
	rulesFile string
	reload    chan struct{}
	cfgPath   string
	logf      *os.File
	// The daemon reaches the PBX's AMI and ARI through these, so that
	// tests can cut its connections while Asterisk stays up.
	amiProxy, ariProxy *sandbox.Proxy

	// The in-process daemon (startDaemon, stopDaemon).
	daemonStop context.CancelFunc
	daemonDone chan struct{}
	daemonErr  error

	mu     sync.Mutex
	filed  []engine.Filed
	logged map[*testing.T]bool // tests whose log is printed on failure
}

var h *harness

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	// Up waits for other test binaries using the sandbox, then starts it
	// when it is down.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	env, stopSandbox, err := sandbox.Up(ctx)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: the sandbox is required and could not start: %v\n", err)
		return 1
	}
	defer stopSandbox()
	dir, err := os.MkdirTemp("", "recpolicy-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	h = &harness{env: env, archive: filepath.Join(dir, "archive"), logPath: filepath.Join(dir, "daemon.log"), reload: make(chan struct{}, 1)}
	for k, v := range env.SandboxSecrets() {
		os.Setenv(k, v)
	}
	listen, err := freeAddr()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	h.health = "http://" + listen + "/healthz"
	h.rulesFile, err = env.CopyRules(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	h.metrics = "http://" + listen + "/metrics"
	if h.amiProxy, err = sandbox.NewProxy("127.0.0.1:5038"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer h.amiProxy.Close()
	if h.ariProxy, err = sandbox.NewProxy("127.0.0.1:8088"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer h.ariProxy.Close()
	h.cfgPath, err = env.DaemonConfigVia(dir, h.archive, listen, h.rulesFile,
		sandbox.Endpoints{AMI: h.amiProxy.Addr(), ARI: "http://" + h.ariProxy.Addr() + "/ari"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	h.logf, err = os.Create(h.logPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer h.logf.Close()
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h.driver, err = sandbox.NewDriver(ctx, sandbox.SimAMI, zerolog.Nop())
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer h.driver.Close()
	defer func() {
		if err := h.stopDaemon(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: daemon:", err)
		}
	}()
	if err := h.startDaemon(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		dumpLog(os.Stderr, h.logPath)
		return 1
	}
	code := m.Run()
	// RECPOLICY_E2E_LOG=1: the daemon log's tail even when every test passed.
	if code != 0 || os.Getenv("RECPOLICY_E2E_LOG") != "" {
		dumpLog(os.Stderr, h.logPath)
	}
	return code
}

// startDaemon starts the daemon in this process and waits until it is
// connected to AMI and ARI. Tests run one at a time: a test that stops the
// daemon starts it again before it ends.
func (h *harness) startDaemon(ctx context.Context) error {
	dctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	h.daemonStop, h.daemonDone, h.daemonErr = stop, done, nil
	go func() {
		defer close(done)
		h.daemonErr = daemon.Run(dctx, daemon.Options{ConfigFile: h.cfgPath, Log: h.logf, OnFiled: h.onFiled, Reload: h.reload, ShutdownTimeout: 20 * time.Second})
	}()
	return waitDaemonReady(ctx, h.health, done)
}

// stopDaemon stops the daemon (its ordered shutdown: the ARI application is
// unregistered first) and returns Run's error. Stopping a stopped daemon
// does nothing.
func (h *harness) stopDaemon() error {
	if h.daemonStop == nil {
		return nil
	}
	h.daemonStop()
	<-h.daemonDone
	h.daemonStop = nil
	return h.daemonErr
}

func (h *harness) onFiled(f engine.Filed) {
	h.mu.Lock()
	h.filed = append(h.filed, f)
	h.mu.Unlock()
}

func (h *harness) filedSince(n int) []engine.Filed {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]engine.Filed(nil), h.filed[n:]...)
}

func (h *harness) filedCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.filed)
}

// waitDaemonReady waits until the daemon's health endpoint says AMI and
// ARI are both up.
func waitDaemonReady(ctx context.Context, url string, exited <-chan struct{}) error {
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("the daemon exited before connecting to AMI and ARI")
		case <-ctx.Done():
			return fmt.Errorf("daemon not connected to AMI and ARI within the time limit (%s)", url)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// callLog is the daemon log's lines about one call (its linkedid), to say
// why a test failed.
func callLog(linkedid string) string {
	b, err := os.ReadFile(h.logPath)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, linkedid) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func dumpLog(w io.Writer, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	if len(b) > 20000 {
		b = b[len(b)-20000:]
	}
	fmt.Fprintf(w, "---- daemon log (%s, tail) ----\n%s\n----\n", path, b)
}

// logOnFailure prints, when t fails, what the daemon logged from now on
// (its last 40 kB), so that a failure in CI, whose temporary directory is
// gone, can be read; once per test.
func logOnFailure(t *testing.T) {
	h.mu.Lock()
	if h.logged == nil {
		h.logged = make(map[*testing.T]bool)
	}
	seen := h.logged[t]
	h.logged[t] = true
	h.mu.Unlock()
	if seen {
		return
	}
	fi, err := os.Stat(h.logPath)
	if err != nil {
		return
	}
	from := fi.Size()
	t.Cleanup(func() {
		h.mu.Lock()
		delete(h.logged, t)
		h.mu.Unlock()
		if !t.Failed() {
			return
		}
		b, err := os.ReadFile(h.logPath)
		if err != nil || int64(len(b)) < from {
			return
		}
		b = b[from:]
		if len(b) > 40000 {
			b = b[len(b)-40000:]
		}
		t.Logf("daemon log since the call was placed:\n%s", b)
	})
}

// describeFiled names the recordings filed, for a test's failure message:
// extension, length and file of each.
func describeFiled(fs []engine.Filed) string {
	if len(fs) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(fs))
	for _, f := range fs {
		parts = append(parts, fmt.Sprintf("%s: %.2f s bridged, %s", f.Recording.Extension, f.Recording.Bridged.Seconds(), filepath.Base(f.Path)))
	}
	return strings.Join(parts, "; ")
}
