package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lib/pq"
)

// Retention: what the policy asks of the archive's end of life.
//
// Recordings and call records are kept at least one year (the rules file's
// retention classes, each at least 365 days), from the call's end time as
// the database holds it (UTC), never from a file's time. A hold keeps what
// it covers while it is active and for its class's duration after its
// release. A file is destroyed only when its row is in the database, its
// checksum matches, and a "pending" row of the destruction log is committed;
// the row then turns "done". A file the archive does not know is reported,
// never deleted.

// Retention errors; test with errors.Is.
var (
	// ErrNotFound: no recording, hold or training copy answers to the
	// reference given.
	ErrNotFound = errors.New("not found")
	// ErrHeld: a hold covers the recording.
	ErrHeld = errors.New("under hold")
	// ErrRetentionNotOver: the recording's retention has not run out.
	ErrRetentionNotOver = errors.New("retention not over")
	// ErrPurgeRefused: the purge saw data or a clock it does not trust
	// (see *RefusedError).
	ErrPurgeRefused = errors.New("purge refused")
	// ErrIntegrity: a file is missing, or does not match its checksum
	// (see *IntegrityError).
	ErrIntegrity = errors.New("integrity check failed")
	// ErrUnknownClass: a retention class the rules file does not define.
	ErrUnknownClass = errors.New("unknown retention class")
	// ErrOutsideArea: a file lies outside the directory it must be in.
	ErrOutsideArea = errors.New("file outside its area")
	// ErrAlreadyReleased: the hold was released before.
	ErrAlreadyReleased = errors.New("hold already released")
)

// MinRetention is the policy's floor: files and call logs are kept at
// least one year.
const MinRetention = 365 * 24 * time.Hour

// Retention classes this package names.
const (
	// TrainingRetention is the class of training copies.
	TrainingRetention = "training"
)

// RefusedError says why the purge would not run, and what to check.
// It wraps ErrPurgeRefused.
type RefusedError struct {
	Reason string
	Hint   string
}

func (e *RefusedError) Error() string {
	s := "purge refused: " + e.Reason
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Unwrap makes errors.Is(err, ErrPurgeRefused) true.
func (e *RefusedError) Unwrap() error { return ErrPurgeRefused }

// IntegrityError says what is wrong with one file. It wraps ErrIntegrity.
type IntegrityError struct {
	Path    string
	Problem string // ProblemMissing, ProblemAltered…
	Detail  string
}

func (e *IntegrityError) Error() string {
	s := fmt.Sprintf("%s: %s", e.Path, e.Problem)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap makes errors.Is(err, ErrIntegrity) true.
func (e *IntegrityError) Unwrap() error { return ErrIntegrity }

// Actor is who destroys or holds: a scheduled job or a person.
type Actor struct {
	Name string // "retention" for the job; a person's name or login
	Job  bool
}

func (a Actor) kind() string {
	if a.Job {
		return "job"
	}
	return "person"
}

func (a Actor) check() error {
	if strings.TrimSpace(a.Name) == "" {
		return errors.New("no actor: say who acts (--by NAME)")
	}
	return nil
}

// Classes are retention classes and their durations, as rules.Retention
// returns them.
type Classes map[string]time.Duration

// check refuses a class shorter than the policy's one year.
func (c Classes) check() error {
	if _, ok := c[DefaultRetention]; !ok {
		return fmt.Errorf("check retention classes: %w: %q is missing (the rules file's retention: must define it)", ErrUnknownClass, DefaultRetention)
	}
	for name, d := range c {
		if d < MinRetention {
			return fmt.Errorf("check retention classes: class %q keeps %s, less than the policy's one year", name, d)
		}
	}
	return nil
}

// args returns the classes as two parallel arrays (names, seconds) for
// the unnest of the retention queries.
func (c Classes) args() (any, any) {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	slices.Sort(names)
	secs := make([]float64, len(names))
	for i, n := range names {
		secs[i] = c[n].Seconds()
	}
	return pq.Array(names), pq.Array(secs)
}

// Names returns the class names, sorted.
func (c Classes) Names() []string {
	var out []string
	for n := range c {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// StoredRecording is a recording as the database holds it, with its row id.
type StoredRecording struct {
	ID int64 `json:"id"`
	Recording
}

// hashFile returns a file's SHA-256 (hex) and size.
func hashFile(p string) (string, int64, error) {
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

// checkFile verifies that p is a regular file inside area (symbolic
// links resolved) whose content matches sum and size. It returns an
// *IntegrityError (missing, altered) or an error wrapping ErrOutsideArea.
func checkFile(area, p, sum string, size int64) error {
	if err := inside(area, p); err != nil {
		return err
	}
	fi, err := os.Lstat(p)
	if errors.Is(err, os.ErrNotExist) {
		return &IntegrityError{Path: p, Problem: ProblemMissing}
	}
	if err != nil {
		return &IntegrityError{Path: p, Problem: ProblemUnreadable, Detail: err.Error()}
	}
	if !fi.Mode().IsRegular() {
		return &IntegrityError{Path: p, Problem: ProblemAltered, Detail: "not a regular file (" + fi.Mode().Type().String() + ")"}
	}
	got, n, err := hashFile(p)
	if err != nil {
		return &IntegrityError{Path: p, Problem: ProblemUnreadable, Detail: err.Error()}
	}
	if got != sum || n != size {
		return &IntegrityError{Path: p, Problem: ProblemAltered,
			Detail: fmt.Sprintf("sha256 %s, %d bytes; the archive recorded %s, %d bytes", got, n, sum, size)}
	}
	return nil
}

// inside checks that p lies under dir, after resolving symbolic links of
// both (p's directory, when p itself is gone).
func inside(dir, p string) error {
	if dir == "" {
		return fmt.Errorf("%w: %s: no area directory configured", ErrOutsideArea, p)
	}
	if !filepath.IsAbs(p) {
		return fmt.Errorf("%w: %s is not an absolute path", ErrOutsideArea, p)
	}
	rdir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("%w: resolve %s: %v", ErrOutsideArea, dir, err)
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(p))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			parent = filepath.Clean(filepath.Dir(p))
		} else {
			return fmt.Errorf("%w: resolve %s: %v", ErrOutsideArea, p, err)
		}
	}
	rel, err := filepath.Rel(rdir, filepath.Join(parent, filepath.Base(p)))
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("%w: %s is not under %s", ErrOutsideArea, p, dir)
	}
	return nil
}

// removeFile removes p and makes the removal durable (fsync of its
// directory).
func removeFile(p string) error {
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	return nil
}
