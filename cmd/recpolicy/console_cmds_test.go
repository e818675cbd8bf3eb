package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a buffer a running command writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestUsersAndConsole: an administrator adds a local account (password on
// stdin), lists it; the console command starts on loopback, answers its
// login page, and stops on cancel.
func TestUsersAndConsole(t *testing.T) {
	cfg, _ := archiveTestConfig(t)
	body, _ := os.ReadFile(cfg)
	body = append(body, "access: {administrators: [root]}\nconsole: {listen: \"127.0.0.1:0\"}\n"...)
	os.WriteFile(cfg, body, 0o600)
	t.Setenv(asEnv, "root")
	if rc, out, errs := runCmd(func(a []string, o, e *bytes.Buffer) int { return group("migrate")(a, o, e) }, "--config", cfg); rc != 0 {
		t.Fatalf("migrate: %s %s", out, errs)
	}
	users := func(step, stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		rc := usersCmd(step, strings.NewReader(stdin))(context.Background(), args, &out, &errb)
		return rc, out.String(), errb.String()
	}
	if rc, _, errs := users("add", "court\n", "chef.police", "--config", cfg); rc != 2 || !strings.Contains(errs, "password shorter than 12") {
		t.Errorf("short password: %d %q", rc, errs)
	}
	if rc, _, errs := users("add", "", "chef.police", "--config", cfg); rc != 2 || !strings.Contains(errs, "standard input") {
		t.Errorf("no password: %d %q", rc, errs)
	}
	if rc, out, errs := users("add", "une phrase de passe assez longue\n", "chef.police", "--name", "Chef de police", "--config", cfg); rc != 0 {
		t.Fatalf("add: %d %q %q", rc, out, errs)
	}
	if rc, _, errs := users("add", "une phrase de passe assez longue\n", "chef.police", "--config", cfg); rc != 1 || !strings.Contains(errs, "account exists") {
		t.Errorf("add twice: %d %q", rc, errs)
	}
	if rc, _, errs := users("add", "une phrase de passe assez longue\n", "Chef Police", "--config", cfg); rc != 1 || !strings.Contains(errs, "login not valid") {
		t.Errorf("bad login: %d %q", rc, errs)
	}
	if rc, _, _ := users("disable", "", "chef.police", "--config", cfg); rc != 0 {
		t.Errorf("disable: %d", rc)
	}
	if rc, out, _ := users("list", "", "--config", cfg); rc != 0 || !regexp.MustCompile(`chef.police\s+Chef de police\s+disabled`).MatchString(out) {
		t.Errorf("list: %d %q", rc, out)
	}
	t.Setenv(asEnv, "dupont")
	if rc, _, errs := users("list", "", "--config", cfg); rc != 1 || !strings.Contains(errs, "access denied to dupont") {
		t.Errorf("list by someone else: %d %q", rc, errs)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- runConsole(ctx, []string{"--config", cfg}, io.Discard, &stderr) }()
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := regexp.MustCompile(`"url":"(http://127\.0\.0\.1:\d+/)"`).FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		cancel()
		t.Fatalf("console did not start: %s", stderr.String())
	}
	res, err := http.Get(addr + "connexion")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(page), "Mot de passe") {
		t.Errorf("login page: %d %s", res.StatusCode, page)
	}
	cancel()
	select {
	case rc := <-done:
		if rc != 0 {
			t.Errorf("console exit %d: %s", rc, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("console did not stop within 15 s of cancel")
	}
}
