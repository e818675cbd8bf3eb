package retention

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/internal/files"
	"github.com/villedemercier/recpolicy/archive/internal/pg"
)

// Kinds of destroyed objects in the destruction log.
const (
	KindRecording = "recording"
	KindTraining  = "training"
	KindCall      = "call"
)

// holdsLockKey is the PostgreSQL advisory lock that orders hold changes
// (exclusive) before destruction decisions (shared): a hold committed
// before a decision is always seen by it.
const holdsLockKey int64 = 0x72656370686f6c64 // "recphold"

// Destroyed is one file destroyed, or that would be with --dry-run.
type Destroyed struct {
	Kind    string    `json:"kind"` // KindRecording or KindTraining
	ID      int64     `json:"id"`
	Path    string    `json:"path"`
	Class   string    `json:"retention_class"`
	Ended   time.Time `json:"ended"`             // the age's origin: the call's end, a training copy's creation
	Expired time.Time `json:"expired,omitzero"`  // when its retention ran out (zero for an early destruction)
	LogID   int64     `json:"log_id,omitempty"`  // its row in the destruction log
	Note    string    `json:"note,omitempty"`    // e.g. the file was already missing
	DryRun  bool      `json:"dry_run,omitempty"` // nothing was destroyed
}

// NotOverError says when a recording's retention runs out. It wraps
// ErrRetentionNotOver.
type NotOverError struct {
	ID      int64
	Class   string
	Expires time.Time
}

func (e *NotOverError) Error() string {
	return fmt.Sprintf("recording %d: retention %q runs until %s; the policy keeps recordings at least that long (an exceptional instruction of the mayor or the director general: --early REFERENCE)",
		e.ID, e.Class, e.Expires.UTC().Format(time.RFC3339))
}

// Unwrap makes errors.Is(err, ErrRetentionNotOver) true.
func (e *NotOverError) Unwrap() error { return ErrRetentionNotOver }

// destroyMode says what a destruction requires.
type destroyMode struct {
	requireDue   bool   // its retention must have run out
	early        string // reference of an exceptional instruction allowing an early destruction
	allowMissing bool   // a missing file still ends the row (noted in the log)
	dryRun       bool
}

// target is a row locked for destruction.
type target struct {
	kind, path, sum, class string
	id, size               int64
	ended, expires         time.Time
	detail                 []byte
	known, due, held       bool
}

const lockRecording = `WITH ` + classesCTE + `
SELECT r.path, r.sha256, r.size, r.retention_class, ` + recordingEnd + `,
  ` + recordingEnd + ` + make_interval(secs => COALESCE(rc.secs, 0)),
  json_build_object('extension', r.extension, 'direction', r.direction, 'uniqueid', r.uniqueid,
    'linkedid', r.linkedid, 'start', r.start_time, 'end', r.end_time),
  rc.name IS NOT NULL, COALESCE(` + recordingDue + `, false), ` + recordingHeld + `
FROM recordings r LEFT JOIN cls rc ON rc.name = r.retention_class
WHERE r.id = $4 FOR UPDATE OF r`

const lockTraining = `WITH ` + classesCTE + `
SELECT t.path, t.sha256, t.size, t.retention_class, t.created_at,
  t.created_at + make_interval(secs => COALESCE(rc.secs, 0)),
  json_build_object('name', t.name, 'created_by', t.created_by),
  rc.name IS NOT NULL, COALESCE(t.created_at + make_interval(secs => rc.secs) <= $3, false), false
FROM training_copies t LEFT JOIN cls rc ON rc.name = t.retention_class
WHERE t.id = $4 FOR UPDATE OF t`

// lockTarget locks a recording's or a training copy's row in tx and reads what
// the destruction decision needs.
func lockTarget(ctx context.Context, tx *sql.Tx, kind string, id int64, cl Classes, now time.Time) (*target, error) {
	q := lockRecording
	if kind == KindTraining {
		q = lockTraining
	}
	names, secs := cl.args()
	t := &target{kind: kind, id: id}
	err := tx.QueryRowContext(ctx, q, names, secs, now.UTC(), id).Scan(&t.path, &t.sum, &t.size, &t.class,
		&t.ended, &t.expires, &t.detail, &t.known, &t.due, &t.held)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%s %d: %w", kind, id, archive.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// destroy destroys one recording or training copy: in one transaction it
// locks the row, checks the decision (class known, no hold, retention
// over unless early), verifies the file's checksum and commits a pending
// row of the destruction log; it then removes the file and, in a second
// transaction, marks the log row done and deletes the archive's row.
func (s *Store) destroy(ctx context.Context, kind string, id int64, area string, cl Classes, now time.Time,
	actor Actor, reason string, mode destroyMode) (Destroyed, error) {
	d := Destroyed{Kind: kind, ID: id, DryRun: mode.dryRun}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return d, fmt.Errorf("destroy %s %d: begin: %w", kind, id, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, holdsLockKey); err != nil {
		return d, fmt.Errorf("destroy %s %d: lock holds: %w", kind, id, err)
	}
	t, err := lockTarget(ctx, tx, kind, id, cl, now)
	if err != nil {
		return d, fmt.Errorf("destroy: %w", err)
	}
	d.Path, d.Class, d.Ended = t.path, t.class, t.ended
	if t.known {
		d.Expired = t.expires
	}
	switch {
	case t.held:
		return d, fmt.Errorf("destroy %s %d: %w: release its hold first (recpolicy hold list)", kind, id, ErrHeld)
	case !t.known && mode.early == "":
		return d, fmt.Errorf("destroy %s %d: %w %q: the rules file's retention: does not define it", kind, id, ErrUnknownClass, t.class)
	case mode.requireDue && !t.due && mode.early == "":
		return d, &NotOverError{ID: id, Class: t.class, Expires: t.expires}
	}
	if mode.early != "" && !t.due {
		d.Expired = time.Time{}
		d.Note = "early destruction: " + mode.early
	}
	missing := false
	if err := files.Check(area, t.path, t.sum, t.size); err != nil {
		var ie *archive.IntegrityError
		if !mode.allowMissing || !errors.As(err, &ie) || ie.Problem != archive.ProblemMissing {
			return d, fmt.Errorf("destroy %s %d: %w", kind, id, err)
		}
		missing = true
		d.Note = joinNote(d.Note, "the file was already missing")
	}
	if mode.dryRun {
		return d, nil
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO destruction_log
  (kind, object_id, path, sha256, size, retention_class, ended_at, detail, reason, actor, actor_kind, state, note)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending', $12) RETURNING id`,
		kind, id, t.path, t.sum, t.size, t.class, t.ended, string(t.detail), reason, actor.Name, actor.kind(), d.Note).Scan(&d.LogID)
	if err != nil {
		return d, fmt.Errorf("destroy %s %d: log: %w", kind, id, err)
	}
	if err := tx.Commit(); err != nil {
		return d, fmt.Errorf("destroy %s %d: commit log: %w", kind, id, err)
	}
	if !missing {
		if err := files.Remove(t.path); err != nil {
			s.failLog(d.LogID, err.Error())
			return d, fmt.Errorf("destroy %s %d: %w", kind, id, err)
		}
	}
	if err := s.finish(ctx, d.LogID, kind, id, ""); err != nil {
		return d, fmt.Errorf("destroy %s %d: %w (the next purge completes it)", kind, id, err)
	}
	return d, nil
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// finish marks a pending log row done and deletes the destroyed object's
// row.
func (s *Store) finish(ctx context.Context, logID int64, kind string, id int64, note string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("finish destruction: begin: %w", err)
	}
	defer tx.Rollback()
	// The runtime role may not UPDATE the log: only this function, which
	// runs as the owner, turns a pending row done (migration 00006).
	if _, err := tx.ExecContext(ctx, `SELECT destruction_log_finish($1, 'done', $2)`, logID, note); err != nil {
		return fmt.Errorf("finish destruction: %w", err)
	}
	table := "recordings"
	if kind == KindTraining {
		table = "training_copies"
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE id = $1`, id); err != nil {
		return fmt.Errorf("finish destruction: delete row: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("finish destruction: commit: %w", err)
	}
	return nil
}

// failLog marks a pending log row failed; it uses its own short context
// so that a cancelled run still records the failure.
func (s *Store) failLog(logID int64, note string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = s.db.ExecContext(ctx, `SELECT destruction_log_finish($1, 'failed', $2)`, logID, note)
}

// resumePending completes the destructions a previous run committed but
// did not finish (a crash between the log row and the file's removal).
func (s *Store) resumePending(ctx context.Context, areas map[string]string, cl Classes, now time.Time) (int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, kind, object_id, path, sha256, size FROM destruction_log
WHERE state = 'pending' AND kind IN ('recording', 'training') ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("resume destructions: %w", err)
	}
	type pending struct {
		logID, id, size int64
		kind, path, sum string
	}
	var ps []pending
	for rows.Next() {
		var p pending
		if err := rows.Scan(&p.logID, &p.kind, &p.id, &p.path, &p.sum, &p.size); err != nil {
			rows.Close()
			return 0, fmt.Errorf("resume destructions: %w", err)
		}
		ps = append(ps, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("resume destructions: %w", err)
	}
	n := 0
	for _, p := range ps {
		if _, err := os.Lstat(p.path); err == nil {
			if p.kind == KindRecording {
				held, err := s.recordingHeldNow(ctx, p.id, cl, now)
				if err != nil {
					return n, fmt.Errorf("resume destructions: %w", err)
				}
				if held {
					s.failLog(p.logID, "kept: a hold was placed before the destruction completed")
					continue
				}
			}
			if err := files.Check(areas[p.kind], p.path, p.sum, p.size); err != nil {
				s.failLog(p.logID, "kept: "+err.Error())
				continue
			}
			if err := files.Remove(p.path); err != nil {
				s.failLog(p.logID, err.Error())
				continue
			}
		}
		if err := s.finish(ctx, p.logID, p.kind, p.id, "completed by a later run"); err != nil {
			return n, fmt.Errorf("resume destructions: %w", err)
		}
		n++
	}
	return n, nil
}

func (s *Store) recordingHeldNow(ctx context.Context, id int64, cl Classes, now time.Time) (bool, error) {
	names, secs := cl.args()
	var held bool
	err := s.db.QueryRowContext(ctx, `WITH `+classesCTE+` SELECT `+recordingHeld+` FROM recordings r WHERE r.id = $4`,
		names, secs, now.UTC(), id).Scan(&held)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return held, err
}

// DestroyRequest asks for one recording or training copy to be destroyed
// by hand.
type DestroyRequest struct {
	Kind   string // KindRecording (default) or KindTraining
	ID     int64
	Area   string // the archive directory (recordings) or the training directory
	Reason string
	Actor  Actor
	// Classes are the rules' retention classes.
	Classes Classes
	// Early, when set, names the exceptional instruction (policy: the mayor
	// or the director general) that allows destroying a recording before
	// its retention runs out. Training copies need none: their holders
	// destroy them once no longer needed.
	Early  string
	DryRun bool
	Now    time.Time // zero: time.Now()
}

// Destroy destroys one recording or training copy by hand, leaving a row
// in the destruction log. A held recording is refused (ErrHeld); so is
// one whose retention has not run out (a *NotOverError) unless Early names
// an exceptional instruction; so is a file whose checksum does not match
// (an *IntegrityError). A file already missing is noted in the log.
func (s *Store) Destroy(ctx context.Context, req DestroyRequest) (Destroyed, error) {
	if err := req.Actor.check(); err != nil {
		return Destroyed{}, fmt.Errorf("destroy: %w", err)
	}
	if req.Reason == "" {
		return Destroyed{}, errors.New("destroy: no reason: say why (--reason TEXT)")
	}
	if req.Kind == "" {
		req.Kind = KindRecording
	}
	if req.Now.IsZero() {
		req.Now = time.Now()
	}
	mode := destroyMode{requireDue: req.Kind == KindRecording, early: req.Early, allowMissing: true, dryRun: req.DryRun}
	return s.destroy(ctx, req.Kind, req.ID, req.Area, req.Classes, req.Now, req.Actor, req.Reason, mode)
}

// Destruction is one row of the destruction log.
type Destruction struct {
	ID          int64           `json:"id"`
	Kind        string          `json:"kind"`
	ObjectID    int64           `json:"object_id"`
	Path        string          `json:"path,omitempty"`
	SHA256      string          `json:"sha256,omitempty"`
	Class       string          `json:"retention_class,omitempty"`
	Ended       *time.Time      `json:"ended,omitempty"`
	Detail      json.RawMessage `json:"detail"`
	Reason      string          `json:"reason"`
	Actor       string          `json:"actor"`
	ActorKind   string          `json:"actor_kind"`
	State       string          `json:"state"`
	Note        string          `json:"note,omitempty"`
	RequestedAt time.Time       `json:"requested_at"`
	DestroyedAt *time.Time      `json:"destroyed_at,omitempty"`
}

// DestructionFilter selects rows of the destruction log.
type DestructionFilter struct {
	Since, Until time.Time // requested in [Since, Until)
	Kind         string    // "" for every kind
	Limit        int       // 0: no limit
}

// ListDestructions returns rows of the destruction log, newest first.
func (s *Store) ListDestructions(ctx context.Context, f DestructionFilter) ([]Destruction, error) {
	var q pg.Querier
	if !f.Since.IsZero() {
		q.Add("requested_at >= " + q.Arg(f.Since.UTC()))
	}
	if !f.Until.IsZero() {
		q.Add("requested_at < " + q.Arg(f.Until.UTC()))
	}
	if f.Kind != "" {
		q.Add("kind = " + q.Arg(f.Kind))
	}
	query := `SELECT id, kind, object_id, path, sha256, retention_class, ended_at, detail, reason, actor, actor_kind,
  state, note, requested_at, destroyed_at FROM destruction_log` + q.SQL() + ` ORDER BY id DESC`
	if f.Limit > 0 {
		query += " LIMIT " + q.Arg(f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, query, q.Args...)
	if err != nil {
		return nil, fmt.Errorf("list destructions: %w", err)
	}
	defer rows.Close()
	var out []Destruction
	for rows.Next() {
		var d Destruction
		var detail []byte
		if err := rows.Scan(&d.ID, &d.Kind, &d.ObjectID, &d.Path, &d.SHA256, &d.Class, &d.Ended, &detail,
			&d.Reason, &d.Actor, &d.ActorKind, &d.State, &d.Note, &d.RequestedAt, &d.DestroyedAt); err != nil {
			return nil, fmt.Errorf("list destructions: %w", err)
		}
		d.Detail = json.RawMessage(detail)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list destructions: %w", err)
	}
	return out, nil
}
