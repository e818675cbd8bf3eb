package packaging

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/lib/pq" // the test reads the archive's rows as the superuser
	"github.com/rs/zerolog"

	"github.com/villedemercier/recpolicy/internal/sandbox"
)

// cleanChroot returns a pristine Debian bookworm (debootstrap minbase),
// made once in $RECPOLICY_CACHE and copied for each run: the machine a city
// installs recpolicy on, before anything of ours.
func cleanChroot(t *testing.T) string {
	t.Helper()
	cache := os.Getenv("RECPOLICY_CACHE")
	if cache == "" {
		cache = "/var/cache/recpolicy"
	}
	pristine := filepath.Join(cache, "debian-bookworm-minbase")
	if _, err := os.Stat(filepath.Join(pristine, ".recpolicy-ready")); err != nil {
		need(t, "debootstrap", "debootstrap")
		tmp := pristine + ".tmp"
		os.RemoveAll(tmp)
		out, err := exec.Command("debootstrap", "--variant=minbase", "bookworm", tmp).CombinedOutput()
		if err != nil {
			t.Fatalf("debootstrap bookworm: %v\n%s", err, tail(out))
		}
		os.WriteFile(filepath.Join(tmp, ".recpolicy-ready"), nil, 0o644)
		os.RemoveAll(pristine)
		if err := os.Rename(tmp, pristine); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := os.MkdirTemp("", "recpolicy-install-")
	if err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "root")
	// Removed only once nothing is mounted in it any more: a bind mount
	// left would make the removal reach the PBX's files or /dev.
	t.Cleanup(func() {
		out, _ := exec.Command("findmnt", "-rn", "-o", "TARGET").Output()
		for _, m := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(m, work) {
				t.Errorf("%s is still mounted: %s left in place", m, dir)
				return
			}
		}
		os.RemoveAll(dir)
	})
	if out, err := exec.Command("cp", "-a", pristine, work).CombinedOutput(); err != nil {
		t.Fatalf("copy the clean chroot: %v: %s", err, out)
	}
	return work
}

// mount mounts src on dst (a bind mount unless fstype is given) until the
// test ends.
func mount(t *testing.T, src, dst, fstype string) {
	t.Helper()
	var err error
	if fstype != "" {
		err = syscall.Mount(src, dst, fstype, 0, "")
	} else {
		err = syscall.Mount(src, dst, "", syscall.MS_BIND, "")
	}
	if err != nil {
		t.Fatalf("mount %s on %s: %v", src, dst, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dst, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dst, err)
		}
	})
}

func tail(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// freePort returns a free loopback address.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// unit is what a systemd unit says of how its service runs.
type unit struct {
	user, group, umask string
	groups, exec       []string
	creds              map[string]string // credential → file
}

func readUnit(t *testing.T, name string) unit {
	t.Helper()
	set := unitSettings(t, name)
	last := func(k string) string {
		if v := set[k]; len(v) > 0 {
			return v[len(v)-1]
		}
		return ""
	}
	u := unit{user: last("User"), group: last("Group"), umask: last("UMask"), groups: strings.Fields(last("SupplementaryGroups")),
		exec: strings.Fields(last("ExecStart")), creds: map[string]string{}}
	for _, c := range set["LoadCredential"] {
		id, file, _ := strings.Cut(c, ":")
		u.creds[id] = file
	}
	return u
}

// start runs a unit's ExecStart inside root as the unit defines it: its
// user, group and supplementary groups, its umask, and its credentials
// copied from their files into a folder only that user reads
// ($CREDENTIALS_DIRECTORY, as systemd's LoadCredential= does). Its output
// goes to a log file.
func start(t *testing.T, root, name string, u unit) (*exec.Cmd, string) {
	t.Helper()
	creds := filepath.Join("/run/credentials", name)
	if err := os.MkdirAll(filepath.Join(root, "/run/credentials"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, creds), 0o700); err != nil {
		t.Fatal(err)
	}
	for id, file := range u.creds {
		b, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			t.Fatalf("%s: LoadCredential=%s:%s: %v", name, id, file, err)
		}
		if err := os.WriteFile(filepath.Join(root, creds, id), b, 0o400); err != nil {
			t.Fatal(err)
		}
	}
	// chown inside the chroot: the unit's user exists only there.
	if out, err := exec.Command("chroot", root, "chown", "-R", u.user+":"+u.group, creds).CombinedOutput(); err != nil {
		t.Fatalf("chown credentials: %v: %s", err, out)
	}
	args := []string{"--userspec=" + u.user + ":" + u.group}
	if len(u.groups) > 0 {
		args = append(args, "--groups="+strings.Join(u.groups, ","))
	}
	args = append(args, root, "/bin/sh", "-c", "umask "+u.umask+" && exec env -i PATH=/usr/bin:/bin CREDENTIALS_DIRECTORY="+creds+` "$@"`, "sh")
	args = append(args, u.exec...)
	cmd := exec.Command("chroot", args...)
	logPath := filepath.Join(t.TempDir(), name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
			}
		}
	})
	return cmd, logPath
}

func stop(t *testing.T, cmd *exec.Cmd, name string) {
	t.Helper()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s stopped with %v", name, err)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Errorf("%s did not stop within 30 s", name)
	}
}

func waitHTTP(t *testing.T, url, logPath string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	b, _ := os.ReadFile(logPath)
	t.Fatalf("%s did not answer 200 within 30 s:\n%s", url, tail(b))
}

// TestInstallInCleanDebian: the package built by build-deb installs in a
// clean Debian with apt-get (dependencies resolved by apt), makes its user,
// folders and key; the units' ExecStart lines, run as the units define
// them, record and archive a real call of the sandbox PBX; removing and
// purging the package leaves the recording, its row and the secrets.
func TestInstallInCleanDebian(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test installs a package in a chroot: run it as root (make test does)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	env, stopSandbox, err := sandbox.Up(ctx)
	if err != nil {
		t.Fatalf("the sandbox is required and could not start: %v", err)
	}
	defer stopSandbox()
	if env.Backend() != "mixmonitor" {
		t.Fatalf("the installed daemon's packaged config records with MixMonitor; the sandbox runs %s", env.Backend())
	}

	// The package, built as make deb builds it.
	bin := filepath.Join(t.TempDir(), "recpolicy")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "../../cmd/recpolicy")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command("./build-deb", bin, t.TempDir()).CombinedOutput()
	if err != nil {
		t.Fatalf("build-deb: %v\n%s", err, out)
	}
	deb := strings.TrimSpace(string(out))

	root := cleanChroot(t)
	chroot := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("chroot", append([]string{root}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("chroot %s: %v\n%s", strings.Join(args, " "), err, tail(out))
		}
		return string(out)
	}
	mount(t, "proc", filepath.Join(root, "proc"), "proc")
	mount(t, "/dev", filepath.Join(root, "dev"), "")
	// Asterisk's user, as on the PBX (same ids: the recordings it writes
	// are the asterisk user's on both sides of the bind mount below).
	ids := func(what string) string {
		out, err := exec.Command("chroot", env.Root, "id", what, "asterisk").Output()
		if err != nil {
			t.Fatalf("the PBX's asterisk user: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	uid, gid := ids("-u"), ids("-g")
	chroot("groupadd", "--system", "--gid", gid, "asterisk")
	chroot("useradd", "--system", "--uid", uid, "--gid", gid, "--home-dir", "/var/lib/asterisk", "--shell", "/usr/sbin/nologin", "asterisk")
	if err := os.MkdirAll(filepath.Join(root, "var/spool/asterisk"), 0o755); err != nil {
		t.Fatal(err)
	}

	// Install, as an administrator would.
	if err := copyFile(deb, filepath.Join(root, "tmp", filepath.Base(deb))); err != nil {
		t.Fatal(err)
	}
	inst := exec.Command("chroot", root, "apt-get", "install", "-y", "-q", "--no-install-recommends", "/tmp/"+filepath.Base(deb))
	inst.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := inst.CombinedOutput(); err != nil {
		t.Fatalf("apt-get install ./%s: %v\n%s", filepath.Base(deb), err, tail(out))
	} else {
		t.Logf("apt-get install: %s", tail(out))
	}
	if got := chroot("id", "-nG", "recpolicy"); !strings.Contains(got, "recpolicy") || !strings.Contains(got, "asterisk") {
		t.Errorf("the recpolicy user's groups: %q, want recpolicy and asterisk", got)
	}
	for p, want := range map[string]string{
		"/var/lib/recpolicy": "750 recpolicy recpolicy", "/var/lib/recpolicy/archive": "750 recpolicy recpolicy",
		"/var/lib/recpolicy/spool": "750 recpolicy recpolicy", "/etc/recpolicy/signing-key.pem": "600 root root",
		"/etc/recpolicy/recpolicy.yaml": "640 root recpolicy", "/etc/recpolicy/secrets": "700 root root",
		"/var/spool/asterisk/recpolicy": "2770 asterisk asterisk",
	} {
		if got := strings.TrimSpace(chroot("stat", "-c", "%a %U %G", p)); got != want {
			t.Errorf("%s: %s, want %s", p, got, want)
		}
	}
	if got := chroot("dpkg-query", "-W", "-f=${Conffiles}", "recpolicy"); !strings.Contains(got, "/etc/recpolicy/recpolicy.yaml") ||
		!strings.Contains(got, "/etc/recpolicy/rules.yaml") || !strings.Contains(got, "/etc/recpolicy/sounds/avis-enregistrement.wav") {
		t.Errorf("conffiles: %q", got)
	}

	// Configure, as the README tells an administrator: the secrets, the
	// PBX's recording folder, the schema.
	secrets := map[string]string{"ami-secret": "sandbox-ami-secret", "ari-password": "sandbox-ari-secret", "dsn": env.PGAppDSN, "migrate-dsn": env.PGDSN}
	for name, v := range secrets {
		if err := os.WriteFile(filepath.Join(root, "etc/recpolicy/secrets", name), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	metrics, consoleAddr := freePort(t), freePort(t)
	cfgPath := filepath.Join(root, "etc/recpolicy/recpolicy.yaml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.NewReplacer(
		// The sandbox PBX writes under its monitor folder; the daemon sees
		// it at the packaged path (bind-mounted below).
		"  asterisk_dir: /var/spool/asterisk/recpolicy", "  asterisk_dir: /var/spool/asterisk/monitor/recpolicy",
		"  # pbx_timezone: America/Toronto", "  pbx_timezone: UTC",
		"listen: 127.0.0.1:9642", "listen: "+metrics,
		"  listen: 127.0.0.1:8443", "  listen: "+consoleAddr,
	).Replace(string(cfg))
	if edited == string(cfg) {
		t.Fatal("the packaged config did not change: its lines moved")
	}
	if err := os.WriteFile(cfgPath, []byte(edited), 0o640); err != nil {
		t.Fatal(err)
	}
	mount(t, env.RecordingSpool(), filepath.Join(root, "var/spool/asterisk/recpolicy"), "")
	// The PBX's own call records, where the packaged config reads them.
	cdrCSV := filepath.Join(root, "var/log/asterisk/cdr-csv")
	if err := os.MkdirAll(cdrCSV, 0o755); err != nil {
		t.Fatal(err)
	}
	mount(t, filepath.Join(env.Root, "var/log/asterisk/cdr-csv"), cdrCSV, "")
	t.Log(chroot("/usr/bin/recpolicy", "migrate", "--config", "/etc/recpolicy/recpolicy.yaml"))

	// The units' ExecStart lines, as the units run them.
	daemon, daemonLog := start(t, root, "recpolicy.service", readUnit(t, "recpolicy.service"))
	waitHTTP(t, "http://"+metrics+"/healthz", daemonLog)
	console, consoleLog := start(t, root, "recpolicy-console.service", readUnit(t, "recpolicy-console.service"))
	waitHTTP(t, "http://"+consoleAddr+"/connexion", consoleLog)

	// The doctor, as the package's postinst tells the administrator to run
	// it: everything holds (the PBX's files are not on this machine: warnings).
	doc := exec.Command("chroot", root, "/usr/bin/recpolicy", "doctor", "--config", "/etc/recpolicy/recpolicy.yaml")
	if out, err := doc.CombinedOutput(); err != nil {
		t.Errorf("recpolicy doctor in the installed system: %v\n%s", err, out)
	} else if !strings.Contains(string(out), "database role") || !strings.Contains(string(out), "recording folder") {
		t.Errorf("recpolicy doctor: %s", out)
	}

	d, err := sandbox.NewDriver(ctx, sandbox.SimAMI, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.ResetPhones(ctx)
	call, err := d.Inbound(ctx, sandbox.DIDPrefix+"235", "5145550142", sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Talk(ctx, call, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(root, "var/lib/recpolicy/archive")
	var file string
	for deadline := time.Now().Add(30 * time.Second); file == "" && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		filepath.Walk(archive, func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() && strings.Contains(filepath.Base(p), "-235") && fi.ModTime().After(time.Now().Add(-time.Minute)) {
				file = p
			}
			return nil
		})
	}
	if file == "" {
		b, _ := os.ReadFile(daemonLog)
		t.Fatalf("no recording of 235 filed in %s:\n%s", archive, tail(b))
	}
	a, err := sandbox.ReadWAV(file)
	if err != nil || a.Duration() < 2.5 || a.ToneShare(sandbox.CarrierFreq, 0, a.Duration()) < 0.3 {
		t.Errorf("the recording %s: %v", file, err)
	}
	st, _ := os.Stat(file)
	if sys := st.Sys().(*syscall.Stat_t); fmt.Sprintf("%o", st.Mode().Perm()) != "640" || fmt.Sprint(sys.Uid) == uid {
		t.Errorf("the archived file: mode %o, uid %d (want 0640, the recpolicy user's)", st.Mode().Perm(), sys.Uid)
	}
	inArchive := strings.TrimPrefix(file, root)
	db, err := sql.Open("postgres", env.PGDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	row := func() int {
		var n int
		db.QueryRow(`SELECT count(*) FROM recordings WHERE path = $1`, inArchive).Scan(&n)
		return n
	}
	for deadline := time.Now().Add(20 * time.Second); row() == 0 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
	}
	if row() != 1 {
		t.Fatalf("the recording %s is not in the database", inArchive)
	}
	stop(t, console, "recpolicy-console")
	stop(t, daemon, "recpolicy")

	// Remove, then purge: the recording, its row, the secrets and the key stay.
	chroot("apt-get", "remove", "-y", "-q", "recpolicy")
	chroot("apt-get", "purge", "-y", "-q", "recpolicy")
	if got, err := exec.Command("chroot", root, "dpkg-query", "-W", "-f=${db:Status-Status}", "recpolicy").CombinedOutput(); err == nil && !strings.Contains(string(got), "not-installed") {
		t.Errorf("after purge, dpkg knows recpolicy as %q", got)
	}
	for _, p := range []string{file, filepath.Join(root, "etc/recpolicy/secrets/dsn"), filepath.Join(root, "etc/recpolicy/signing-key.pem")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("after purge: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "usr/bin/recpolicy")); err == nil {
		t.Error("after purge: /usr/bin/recpolicy is still there")
	}
	if row() != 1 {
		t.Error("after purge: the recording's row is gone")
	}
	if b, err := os.ReadFile(file); err != nil || len(b) < 44 {
		t.Errorf("after purge: the recording is unreadable: %v", err)
	}
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
