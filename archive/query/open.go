package query

import (
	"fmt"
	"os"
	"syscall"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/internal/files"
)

// Verify checks a recording's file against the archive: inside area (the
// archive's folder), a regular file, its size and SHA-256 as archived.
// It returns an *archive.IntegrityError or an error wrapping
// archive.ErrOutsideArea when it does not hold.
func Verify(area string, r archive.StoredRecording) error {
	if err := files.Check(area, r.Path, r.SHA256, r.Size); err != nil {
		return fmt.Errorf("verify recording %d: %w", r.ID, err)
	}
	return nil
}

// Open opens a recording's file to be served, cheaply re-checked (inside
// area, never through a link, a regular file of the archived size): call
// Verify once before serving it the first time.
func Open(area string, r archive.StoredRecording) (*os.File, error) {
	if err := files.Inside(area, r.Path); err != nil {
		return nil, fmt.Errorf("open recording %d: %w", r.ID, err)
	}
	f, err := os.OpenFile(r.Path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("open recording %d: %w", r.ID, err)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != r.Size {
		f.Close()
		return nil, fmt.Errorf("open recording %d: %w", r.ID, &archive.IntegrityError{Path: r.Path, Problem: archive.ProblemAltered,
			Detail: "not the regular file of the archived size"})
	}
	return f, nil
}
