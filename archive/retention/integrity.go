package retention

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/internal/files"
)

// Problem is one file found wrong.
type Problem struct {
	Kind   string `json:"kind"` // ProblemMissing, ProblemAltered…
	Area   string `json:"area"` // "archive" or "training"
	ID     int64  `json:"id,omitempty"`
	Path   string `json:"path"`
	Detail string `json:"detail,omitempty"`
}

// DefaultUnknownGrace: files younger than this are not yet reported as
// unknown (the filer links a recording into the archive before its row
// reaches the database through the spool).
const DefaultUnknownGrace = time.Hour

// VerifyOptions configure Store.Verify.
type VerifyOptions struct {
	ArchiveDir  string // the recordings' directory (required)
	TrainingDir string // the training copies' directory; empty skips them
	// UnknownGrace: files modified less than this ago are not reported as
	// unknown (DefaultUnknownGrace when 0; negative: report all).
	UnknownGrace time.Duration
	Now          time.Time // zero: time.Now()
	// Progress, when set, is called after each file checked.
	Progress func(done, total int)
}

// IntegrityReport is what Verify found.
type IntegrityReport struct {
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Checked  int       `json:"checked"` // files of the archive's rows checked
	Problems []Problem `json:"problems"`
}

// Count returns the number of problems of one kind.
func (r *IntegrityReport) Count(kind string) int {
	n := 0
	for _, p := range r.Problems {
		if p.Kind == kind {
			n++
		}
	}
	return n
}

// OK reports whether no problem was found.
func (r *IntegrityReport) OK() bool { return len(r.Problems) == 0 }

// fileRow is a file the archive knows.
type fileRow struct {
	id        int64
	path, sum string
	size      int64
}

// Verify recomputes the SHA-256 of every recording and training copy the
// database knows and reports those missing, altered or outside their
// directory; it then walks the directories and reports the files the
// database does not know (it never deletes one). It changes nothing.
func (s *Store) Verify(ctx context.Context, o VerifyOptions) (*IntegrityReport, error) {
	if o.ArchiveDir == "" {
		return nil, errors.New("verify: no archive directory: set archive.dir in the configuration")
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.UnknownGrace == 0 {
		o.UnknownGrace = DefaultUnknownGrace
	}
	rep := &IntegrityReport{Started: time.Now().UTC(), Problems: []Problem{}}
	type area struct {
		name, dir, table string
	}
	areas := []area{{"archive", o.ArchiveDir, "recordings"}}
	if o.TrainingDir != "" {
		areas = append(areas, area{"training", o.TrainingDir, "training_copies"})
	}
	rowsOf := make([][]fileRow, len(areas))
	total := 0
	for i, a := range areas {
		rs, err := s.files(ctx, a.table)
		if err != nil {
			return nil, err
		}
		rowsOf[i] = rs
		total += len(rs)
	}
	known := make(map[string]bool, total)
	for i, a := range areas {
		for _, f := range rowsOf[i] {
			if err := ctx.Err(); err != nil {
				return rep, fmt.Errorf("verify: stopped after %d of %d files: %w", rep.Checked, total, err)
			}
			known[filepath.Clean(f.path)] = true
			err := files.Check(a.dir, f.path, f.sum, f.size)
			rep.Checked++
			if o.Progress != nil {
				o.Progress(rep.Checked, total)
			}
			var ie *archive.IntegrityError
			switch {
			case err == nil:
			case errors.As(err, &ie):
				rep.Problems = append(rep.Problems, Problem{Kind: ie.Problem, Area: a.name, ID: f.id, Path: f.path, Detail: ie.Detail})
			case errors.Is(err, archive.ErrOutsideArea):
				rep.Problems = append(rep.Problems, Problem{Kind: archive.ProblemOutside, Area: a.name, ID: f.id, Path: f.path, Detail: err.Error()})
			default:
				return rep, fmt.Errorf("verify: %w", err)
			}
		}
	}
	for _, a := range areas {
		unknown, err := unknownFiles(a.dir, known, o.Now.Add(-o.UnknownGrace))
		if err != nil {
			return rep, fmt.Errorf("verify: %w", err)
		}
		for _, p := range unknown {
			rep.Problems = append(rep.Problems, Problem{Kind: archive.ProblemUnknown, Area: a.name, Path: p,
				Detail: "the archive has no row for it; kept (file it, or remove it by hand after checking)"})
		}
	}
	rep.Finished = time.Now().UTC()
	return rep, nil
}

func (s *Store) files(ctx context.Context, table string) ([]fileRow, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, path, sha256, size FROM `+table+` ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("verify: list %s: %w", table, err)
	}
	defer rows.Close()
	var out []fileRow
	for rows.Next() {
		var f fileRow
		if err := rows.Scan(&f.id, &f.path, &f.sum, &f.size); err != nil {
			return nil, fmt.Errorf("verify: list %s: %w", table, err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("verify: list %s: %w", table, err)
	}
	return out, nil
}

// unknownFiles walks dir and returns the regular files not in known and
// modified before cutoff.
func unknownFiles(dir string, known map[string]bool, cutoff time.Time) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && p == dir {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() || known[filepath.Clean(p)] {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil // gone meanwhile
		}
		if info.ModTime().Before(cutoff) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", dir, err)
	}
	return out, nil
}
