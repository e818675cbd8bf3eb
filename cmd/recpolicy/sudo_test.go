package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// asSudoCaller makes the CLI run as root through sudo for uid 65534.
func asSudoCaller(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test runs the CLI as root through sudo: run it as root, as make test does")
	}
	t.Setenv("SUDO_USER", "nobody")
	t.Setenv("SUDO_UID", "65534")
	t.Setenv("SUDO_GID", "65534")
}

// TestSudoEscalationRefused: under sudo the CLI reads only root's own
// files, never shows what a file holds, and writes a copy only in the
// caller's own folder. None of these cases needs the database: each is
// refused before it.
func TestSudoEscalationRefused(t *testing.T) {
	good := cityRules(t)
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	os.Mkdir(home, 0o755)
	os.Chown(home, 65534, 65534)
	write := func(p, body string, mode os.FileMode, uid int) string {
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		os.Chown(p, uid, 0)
		return p
	}
	const secret = "s3cr3t-hash-should-never-show"
	// A director's own config naming themselves administrator.
	mine := write(filepath.Join(home, "mine.yaml"), "rules_file: "+good+"\naccess: {administrators: [nobody]}\n", 0o644, 65534)
	// Root's config writable by its group.
	groupWritable := write(filepath.Join(dir, "gw.yaml"), "rules_file: "+good+"\n", 0o664, 0)
	// A root-only file that is not a config (like /etc/shadow).
	shadow := write(filepath.Join(dir, "shadow"), "root:$6$"+secret+":19000:0:99999:7:::\n", 0o640, 0)
	// A root-owned rules file with a secret in an unknown field.
	leakyRules := write(filepath.Join(dir, "leaky.yaml"), "password: "+secret+"\n", 0o600, 0)
	// Root's valid config, for the --out case.
	cfg := write(filepath.Join(dir, "recpolicy.yaml"), `rules_file: `+good+`
ami: {address: 127.0.0.1:5038, username: x, secret: {env: UNUSED_AMI}}
ari: {url: http://127.0.0.1:8088/ari, username: x, password: {env: UNUSED_ARI}}
recording: {asterisk_dir: /tmp/a, local_dir: `+dir+`/rec}
archive: {dir: `+dir+`/archive, spool_dir: `+dir+`/spool, dsn: {env: RECPOLICY_UNUSED_DSN}}
`, 0o600, 0)
	asSudoCaller(t)
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"a config of one's own", []string{"recordings", "list", "--config", mine}, 1, "is owned by uid 65534, not root"},
		{"a config writable by its group", []string{"calls", "list", "--config", groupWritable}, 1, "is writable by group or others"},
		{"a root-only file as config", []string{"recordings", "list", "--config", shadow}, 1, "details withheld under sudo"},
		{"a root-only file as rules", []string{"rules", "check", shadow}, 1, "details withheld under sudo"},
		{"a rules file with a secret", []string{"rules", "check", leakyRules}, 1, "leaky.yaml:1:1: not valid here"},
		{"the daemon with a root-only file", []string{"run", "--config", shadow}, 1, "details withheld under sudo"},
		{"the daemon with one's own config", []string{"run", "--config", mine}, 1, "not root"},
		{"a copy written in root's folder", []string{"recordings", "get", "1", "--config", cfg, "--out", filepath.Join(dir, "copy.wav"), "--purpose", "x"}, 1, "not a folder of the caller's own"},
		{"a copy written in /etc", []string{"recordings", "get", "1", "--config", cfg, "--out", "/etc/cron.d/recpolicy-copy", "--purpose", "x"}, 1, "not a folder of the caller's own"},
		{"root's rules still checked", []string{"rules", "check", good}, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, &out, &errb)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, errb.String())
			}
			if !strings.Contains(errb.String(), tc.err) {
				t.Errorf("stderr %q does not contain %q", errb.String(), tc.err)
			}
			if s := out.String() + errb.String(); strings.Contains(s, secret) || strings.Contains(s, "$6$") {
				t.Errorf("a file's content was shown: %q", s)
			}
		})
	}
	for _, p := range []string{filepath.Join(dir, "copy.wav"), "/etc/cron.d/recpolicy-copy"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was created", p)
		}
	}
	// As root (no sudo), the same rules file's problem is shown in full.
	t.Setenv("SUDO_USER", "")
	var out, errb bytes.Buffer
	if code := run([]string{"rules", "check", leakyRules}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "password") {
		t.Errorf("as root: exit %d, stderr %q; want the problem named", code, errb.String())
	}
}
