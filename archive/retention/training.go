package retention

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/internal/files"
	wavfile "github.com/villedemercier/recpolicy/internal/wav"
)

// ErrNotWAV: a file that is not a RIFF/WAVE file with fmt and data chunks.
var ErrNotWAV = errors.New("not a WAV file")

// TrainingCopy is a de-identified copy of a recording kept for staff
// training. It carries none of the call's identifiers: its name is random,
// and neither its file nor its row holds a number, an extension, the
// call's time, or a link to the recording it came from.
type TrainingCopy struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Path      string    `json:"path"`
	SHA256    string    `json:"sha256"`
	Size      int64     `json:"size"`
	Duration  float64   `json:"duration"`
	Class     string    `json:"retention_class"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

// TrainingRequest asks for a training copy of a recording.
type TrainingRequest struct {
	Source     archive.StoredRecording
	ArchiveDir string // the source must lie under it
	Dir        string // the training area; created when missing; must not be inside ArchiveDir
	Actor      Actor
	DryRun     bool
	// KeepDays is how long the rules keep class "training" (RetentionDays);
	// 0 when the rules have no such class: no copy is then made, since
	// nothing would ever destroy it.
	KeepDays int
}

// ErrNoTrainingClass: the rules file has no retention class "training".
var ErrNoTrainingClass = errors.New(`the rules have no retention class "training"`)

// TrainingKeep returns how many days the rules' classes keep training
// copies, or ErrNoTrainingClass: asked before anything is opened, by the
// console and the CLI alike.
func TrainingKeep(c Classes) (int, error) {
	d, ok := c[TrainingRetention]
	if !ok || d <= 0 {
		return 0, errNoTrainingClass()
	}
	return int(d / (24 * time.Hour)), nil
}

// errNoTrainingClass is ErrNoTrainingClass with the operator's fix.
func errNoTrainingClass() error {
	return fmt.Errorf("%w: add it under retention: (days, at least 365)", ErrNoTrainingClass)
}

// ExportTraining writes a training copy of a recording: its checksum is
// verified first; the copy keeps only the WAV's format and audio (every
// other chunk, such as LIST/INFO or bext metadata, is dropped) under a
// random name in the training area, and is registered with the class
// "training". The recording's audio itself may still say names or
// numbers: whoever exports listens to it first.
func (s *Store) ExportTraining(ctx context.Context, req TrainingRequest) (TrainingCopy, error) {
	tc, err := req.prepare()
	if err != nil {
		return tc, fmt.Errorf("export training copy: %w", err)
	}
	if req.DryRun {
		return tc, nil
	}
	src := req.Source
	err = writeCopy(req.Dir, tc.Path, func(w io.Writer) error {
		in, err := os.Open(src.Path)
		if err != nil {
			return err
		}
		defer in.Close()
		fi, err := in.Stat()
		if err != nil {
			return err
		}
		tc.Duration, err = StripWAV(bufio.NewReader(in), fi.Size(), w)
		return err
	}, &tc)
	if err != nil {
		return tc, fmt.Errorf("export training copy of recording %d: %w", src.ID, err)
	}
	if err := insertCopy(ctx, s.db, &tc); err != nil {
		_ = files.Remove(tc.Path) // never leave a copy the archive does not know
		return tc, fmt.Errorf("export training copy: register: %w", err)
	}
	return tc, nil
}

// prepare checks a training request (who, where, the source's file
// against its checksum) and names the copy: a random name in the training
// area, the class "training".
func (req TrainingRequest) prepare() (TrainingCopy, error) {
	var tc TrainingCopy
	if err := req.Actor.check(); err != nil {
		return tc, err
	}
	if req.KeepDays <= 0 {
		return tc, errNoTrainingClass()
	}
	if req.Dir == "" || !filepath.IsAbs(req.Dir) {
		return tc, fmt.Errorf("training directory %q must be an absolute path", req.Dir)
	}
	if err := files.Inside(req.ArchiveDir, filepath.Join(req.Dir, "x")); err == nil || filepath.Clean(req.Dir) == filepath.Clean(req.ArchiveDir) {
		return tc, fmt.Errorf("the training directory %s lies inside the archive %s: give a separate area", req.Dir, req.ArchiveDir)
	}
	src := req.Source
	if err := files.Check(req.ArchiveDir, src.Path, src.SHA256, src.Size); err != nil {
		return tc, fmt.Errorf("recording %d: %w", src.ID, err)
	}
	token := make([]byte, 12)
	if _, err := rand.Read(token); err != nil {
		return tc, err
	}
	tc.Name = "formation-" + hex.EncodeToString(token)
	tc.Path = filepath.Join(req.Dir, tc.Name+".wav")
	tc.Class, tc.CreatedBy = TrainingRetention, req.Actor.Name
	return tc, nil
}

// writeCopy creates the training area, writes a copy with write through
// a temporary file (fsync'd, claimed with link(2) so nothing is
// overwritten) at dst, and sets tc's SHA-256 and size.
func writeCopy(dir, dst string, write func(io.Writer) error, tc *TrainingCopy) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	bw := bufio.NewWriter(io.MultiWriter(tmp, h))
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if err != nil {
		return err
	}
	st, err := tmp.Stat()
	if err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), dst); err != nil {
		return err
	}
	if err := files.SyncDir(dir); err != nil {
		return err
	}
	tc.SHA256, tc.Size = hex.EncodeToString(h.Sum(nil)), st.Size()
	return nil
}

// insertCopy registers a written training copy (on db or in a transaction).
func insertCopy(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, tc *TrainingCopy) error {
	return q.QueryRowContext(ctx, `INSERT INTO training_copies (name, path, sha256, size, duration, retention_class, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, created_at`, tc.Name, tc.Path, tc.SHA256, tc.Size, tc.Duration,
		tc.Class, tc.CreatedBy).Scan(&tc.ID, &tc.CreatedAt)
}

// StripWAV copies a RIFF/WAVE stream of the given size keeping only its
// "fmt " and "data" chunks, and returns the audio's duration in seconds.
// A data chunk whose declared length runs past the end of the file is cut
// to what the file holds.
func StripWAV(r io.Reader, size int64, w io.Writer) (float64, error) {
	h, err := wavfile.ReadHeader(r, size)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrNotWAV, err)
	}
	if h.Fmt == nil {
		return 0, fmt.Errorf("%w: data before fmt", ErrNotWAV)
	}
	n := h.DeclaredBytes
	if n > size-h.DataOffset || n == 0xFFFFFFFF {
		n = size - h.DataOffset
	}
	return copyData(r, w, h.Fmt, n)
}

func copyData(r io.Reader, w io.Writer, fmtChunk []byte, n int64) (float64, error) {
	pad := n % 2
	b, err := wavfile.Prefix(fmtChunk, n)
	if err != nil {
		return 0, fmt.Errorf("%w: too large for RIFF", ErrNotWAV)
	}
	if _, err := w.Write(b); err != nil {
		return 0, err
	}
	if _, err := io.CopyN(w, r, n); err != nil {
		return 0, fmt.Errorf("copy audio: %w", err)
	}
	if pad == 1 {
		if _, err := w.Write([]byte{0}); err != nil {
			return 0, err
		}
	}
	byteRate := binary.LittleEndian.Uint32(fmtChunk[8:12])
	if byteRate == 0 {
		return 0, nil
	}
	return float64(n) / float64(byteRate), nil
}

// ListTraining returns the training copies, newest first.
func (s *Store) ListTraining(ctx context.Context) ([]TrainingCopy, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, path, sha256, size, duration, retention_class, created_at, created_by
FROM training_copies ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list training copies: %w", err)
	}
	defer rows.Close()
	out := []TrainingCopy{}
	for rows.Next() {
		var t TrainingCopy
		if err := rows.Scan(&t.ID, &t.Name, &t.Path, &t.SHA256, &t.Size, &t.Duration, &t.Class, &t.CreatedAt, &t.CreatedBy); err != nil {
			return nil, fmt.Errorf("list training copies: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list training copies: %w", err)
	}
	return out, nil
}
