package access

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// nobody is the caller behind sudo in these tests.
var nobody = SudoCaller{Login: "nobody", UID: 65534, GID: 65534}

func mustRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("these tests change files' owners: run them as root, as make test does")
	}
}

func TestCheckTrusted(t *testing.T) {
	mustRoot(t)
	dir := t.TempDir() // root's, 0700, under /tmp (sticky)
	file := func(name string, mode os.FileMode, uid int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x: 1\n"), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		os.Chown(p, uid, 0)
		return p
	}
	userDir := filepath.Join(dir, "home")
	os.Mkdir(userDir, 0o755)
	os.Chown(userDir, nobody.UID, nobody.GID)
	inUserDir := filepath.Join(userDir, "cfg.yaml")
	os.WriteFile(inUserDir, []byte("x: 1\n"), 0o600) // root's file in someone's folder: they can replace it
	openDir := filepath.Join(dir, "open")
	os.Mkdir(openDir, 0o777)
	os.Chmod(openDir, 0o777)
	inOpenDir := filepath.Join(openDir, "cfg.yaml")
	os.WriteFile(inOpenDir, []byte("x: 1\n"), 0o600)
	link := filepath.Join(userDir, "link.yaml")
	good := file("good.yaml", 0o600, 0)
	os.Symlink(good, link)
	tests := []struct {
		name string
		path string
		ok   bool
	}{
		{"root's 0600", good, true},
		{"root's 0644", file("readable.yaml", 0o644, 0), true},
		{"someone else's", file("theirs.yaml", 0o600, nobody.UID), false},
		{"group-writable", file("gw.yaml", 0o620, 0), false},
		{"world-writable", file("ww.yaml", 0o606, 0), false},
		{"root's file in someone's folder", inUserDir, false},
		{"root's file in a folder anyone can write", inOpenDir, false},
		{"a link in someone's folder to root's file", link, true}, // what is read is root's file
		{"a folder", dir, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckTrusted(tc.path)
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrUntrusted) {
				t.Fatalf("got %v, want ErrUntrusted", err)
			}
		})
	}
	if err := CheckTrusted(filepath.Join(dir, "missing.yaml")); err == nil || errors.Is(err, ErrUntrusted) {
		t.Errorf("missing file: got %v, want a plain not-found error", err)
	}
}

func TestCreateFor(t *testing.T) {
	mustRoot(t)
	dir := t.TempDir()
	theirs := filepath.Join(dir, "home")
	os.Mkdir(theirs, 0o700)
	os.Chown(theirs, nobody.UID, nobody.GID)

	f, err := CreateFor(nobody, filepath.Join(theirs, "copy.wav"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	fi, _ := os.Stat(filepath.Join(theirs, "copy.wav"))
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != nobody.UID || int(st.Gid) != nobody.GID || fi.Mode().Perm() != 0o600 {
		t.Errorf("copy is %d:%d %04o, want %d:%d 0600", st.Uid, st.Gid, fi.Mode().Perm(), nobody.UID, nobody.GID)
	}
	// Root's folders, a link in place of the folder, a link in place of the file: refused.
	os.Symlink("/etc", filepath.Join(theirs, "etc"))
	os.Symlink("/etc/passwd", filepath.Join(theirs, "passwd.wav"))
	for _, dst := range []string{"/etc/recpolicy-copy.wav", filepath.Join(dir, "copy.wav"), filepath.Join(theirs, "etc", "x.wav")} {
		if _, err := CreateFor(nobody, dst); !errors.Is(err, ErrNotCallers) {
			t.Errorf("%s: got %v, want ErrNotCallers", dst, err)
		}
		if _, err := os.Lstat(dst); err == nil && dst != filepath.Join(theirs, "etc", "x.wav") {
			t.Errorf("%s was created", dst)
		}
	}
	if _, err := CreateFor(nobody, filepath.Join(theirs, "passwd.wav")); err == nil {
		t.Error("a link in place of the copy was followed")
	}
	if _, err := CreateFor(SudoCaller{Login: "x", UID: -1, GID: -1}, filepath.Join(theirs, "y.wav")); !errors.Is(err, ErrNotCallers) {
		t.Errorf("caller without uid: got %v, want ErrNotCallers", err)
	}
}

func TestSudo(t *testing.T) {
	mustRoot(t)
	t.Setenv("SUDO_USER", "")
	if _, ok := Sudo(); ok {
		t.Error("root's own session taken for sudo")
	}
	t.Setenv("SUDO_USER", "dupont")
	t.Setenv("SUDO_UID", "1001")
	t.Setenv("SUDO_GID", "1002")
	if c, ok := Sudo(); !ok || c != (SudoCaller{Login: "dupont", UID: 1001, GID: 1002}) {
		t.Errorf("got %+v %v", c, ok)
	}
	t.Setenv("SUDO_UID", "x")
	if c, ok := Sudo(); !ok || c.UID != -1 {
		t.Errorf("bad SUDO_UID: got %+v %v, want no uid", c, ok)
	}
}
