package access

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Under sudo the CLI runs as root for someone else: that person must not
// be able to make it read a file they chose (a config that names them
// administrator, a root-only file whose content an error would show) or
// write where they chose. What the CLI may trust under sudo is decided
// here.

// Sentinel errors of the sudo checks; test with errors.Is.
var (
	// ErrUntrusted: under sudo, a file the CLI would read is not root's
	// alone (see *UntrustedError).
	ErrUntrusted = errors.New("file not trusted under sudo")
	// ErrNotCallers: under sudo, a file the CLI would write is not in a
	// folder of the caller's own.
	ErrNotCallers = errors.New("not a folder of the caller's own")
)

// SudoCaller is the person behind sudo.
type SudoCaller struct {
	Login    string
	UID, GID int
}

// Sudo returns the person behind sudo when the process runs as root
// through sudo (SUDO_USER, SUDO_UID and SUDO_GID set by sudo); ok is false
// otherwise (root's own session, or not root).
func Sudo() (c SudoCaller, ok bool) {
	if os.Geteuid() != 0 {
		return c, false
	}
	c.Login = strings.TrimSpace(os.Getenv("SUDO_USER"))
	if c.Login == "" {
		return c, false
	}
	uid, err1 := strconv.Atoi(os.Getenv("SUDO_UID"))
	gid, err2 := strconv.Atoi(os.Getenv("SUDO_GID"))
	if err1 != nil || err2 != nil || uid < 0 || gid < 0 {
		// sudo always sets them; without them, trust no folder as the caller's.
		uid, gid = -1, -1
	}
	c.UID, c.GID = uid, gid
	return c, true
}

// UntrustedError says which file (or folder above it) is not root's alone,
// and what to do. It wraps ErrUntrusted.
type UntrustedError struct {
	File   string // the file the CLI was asked to read
	Path   string // the file itself or a folder above it
	Reason string
}

func (e *UntrustedError) Error() string {
	return fmt.Sprintf("%s: %s %s; under sudo the CLI reads only files that root alone can change "+
		"(owned by root, not writable by group or others, in folders alike): use the system's config, "+
		"e.g. --config /etc/recpolicy/recpolicy.yaml, or ask an administrator", e.File, e.Path, e.Reason)
}

// Unwrap makes errors.Is(err, ErrUntrusted) true.
func (e *UntrustedError) Unwrap() error { return ErrUntrusted }

// CheckTrusted returns nil when only root can change what p holds: p (its
// links resolved) and every folder above it are owned by root and not
// writable by group or others (a folder with the sticky bit, such as /tmp,
// may be: no one but root can rename or remove root's entries in it). It
// never reads p's content.
func CheckTrusted(p string) error {
	abs, err := filepath.Abs(p)
	if err != nil {
		return fmt.Errorf("check %s: %w", p, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return fmt.Errorf("check %s: %w", p, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return fmt.Errorf("check %s: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		return &UntrustedError{File: p, Path: real, Reason: "is not a regular file"}
	}
	if why := notRootsAlone(fi, false); why != "" {
		return &UntrustedError{File: p, Path: real, Reason: why}
	}
	for dir := filepath.Dir(real); ; dir = filepath.Dir(dir) {
		di, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("check %s: %w", p, err)
		}
		if why := notRootsAlone(di, true); why != "" {
			return &UntrustedError{File: p, Path: dir, Reason: why}
		}
		if dir == filepath.Dir(dir) {
			return nil
		}
	}
}

// notRootsAlone says why fi is not root's alone ("" when it is).
func notRootsAlone(fi fs.FileInfo, dir bool) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "has no owner the system can tell"
	}
	if st.Uid != 0 {
		return fmt.Sprintf("is owned by uid %d, not root", st.Uid)
	}
	if fi.Mode().Perm()&0o022 != 0 && !(dir && fi.Mode()&fs.ModeSticky != 0) {
		return fmt.Sprintf("is writable by group or others (mode %04o)", fi.Mode().Perm())
	}
	return ""
}

// CheckCallersFolder returns nil when dir is a folder the caller behind
// sudo owns (a real folder, not a link): the only kind of place where the
// CLI, as root, writes for them.
func CheckCallersFolder(c SudoCaller, dir string) error {
	di, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("check %s: %w", dir, err)
	}
	st, ok := di.Sys().(*syscall.Stat_t)
	if !di.IsDir() || !ok || c.UID < 0 || int(st.Uid) != c.UID {
		return fmt.Errorf("%w: under sudo a copy is written only in a folder %s owns (e.g. their home), and %s is not one",
			ErrNotCallers, c.Login, dir)
	}
	return nil
}

// CreateFor creates dst, a new file, for the caller behind sudo: dst's
// folder must be the caller's own (CheckCallersFolder), dst must not exist
// (it is never followed if it is a link), and the file is created mode
// 0600 and given to the caller. So root writes only where the caller could
// have written themselves, and the copy is theirs to read and destroy.
func CreateFor(c SudoCaller, dst string) (*os.File, error) {
	if err := CheckCallersFolder(c, filepath.Dir(dst)); err != nil {
		return nil, fmt.Errorf("create %s: %w", dst, err)
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w (give a new file name)", dst, err)
	}
	if err := f.Chown(c.UID, c.GID); err != nil {
		f.Close()
		os.Remove(dst)
		return nil, fmt.Errorf("create %s: give it to %s: %w", dst, c.Login, err)
	}
	return f, nil
}
