// Package files holds the archive's file operations that must not go
// wrong: check that a file lies in its area and matches its checksum,
// remove it durably, write a file durably.
package files

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/villedemercier/recpolicy/archive"
)

// TempPrefix starts the name of a file WriteDurable has not finished:
// whoever reads the directory skips (and may remove) such files.
const TempPrefix = ".tmp-"

// Hash returns a file's SHA-256 (hex) and size.
func Hash(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// Check verifies that p is a regular file inside area (symbolic
// links resolved) whose content matches sum and size. It returns an
// *IntegrityError (missing, altered) or an error wrapping archive.ErrOutsideArea.
func Check(area, p, sum string, size int64) error {
	if err := Inside(area, p); err != nil {
		return err
	}
	fi, err := os.Lstat(p)
	if errors.Is(err, os.ErrNotExist) {
		return &archive.IntegrityError{Path: p, Problem: archive.ProblemMissing}
	}
	if err != nil {
		return &archive.IntegrityError{Path: p, Problem: archive.ProblemUnreadable, Detail: err.Error()}
	}
	if !fi.Mode().IsRegular() {
		return &archive.IntegrityError{Path: p, Problem: archive.ProblemAltered, Detail: "not a regular file (" + fi.Mode().Type().String() + ")"}
	}
	got, n, err := Hash(p)
	if err != nil {
		return &archive.IntegrityError{Path: p, Problem: archive.ProblemUnreadable, Detail: err.Error()}
	}
	if got != sum || n != size {
		return &archive.IntegrityError{Path: p, Problem: archive.ProblemAltered,
			Detail: fmt.Sprintf("sha256 %s, %d bytes; the archive recorded %s, %d bytes", got, n, sum, size)}
	}
	return nil
}

// Inside checks that p lies under dir, after resolving symbolic links of
// both (p's directory, when p itself is gone).
func Inside(dir, p string) error {
	if dir == "" {
		return fmt.Errorf("%w: %s: no area directory configured", archive.ErrOutsideArea, p)
	}
	if !filepath.IsAbs(p) {
		return fmt.Errorf("%w: %s is not an absolute path", archive.ErrOutsideArea, p)
	}
	rdir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("%w: resolve %s: %v", archive.ErrOutsideArea, dir, err)
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(p))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			parent = filepath.Clean(filepath.Dir(p))
		} else {
			return fmt.Errorf("%w: resolve %s: %v", archive.ErrOutsideArea, p, err)
		}
	}
	rel, err := filepath.Rel(rdir, filepath.Join(parent, filepath.Base(p)))
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("%w: %s is not under %s", archive.ErrOutsideArea, p, dir)
	}
	return nil
}

// Remove removes p and makes the removal durable (fsync of its
// directory).
func Remove(p string) error {
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	if err := SyncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	return nil
}

// WriteDurable writes data to dir/name through a temporary file, with the
// file and the directory fsync'd.
func WriteDurable(dir, name string, data []byte) error {
	tmp := filepath.Join(dir, TempPrefix+name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		os.Remove(tmp)
		return err
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory, so that a file created, renamed or removed
// in it stays so after a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
