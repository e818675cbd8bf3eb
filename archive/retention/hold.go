package retention

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/internal/pg"
)

// Kinds of hold.
const (
	HoldRecording = "recording" // one recording (and its call's records)
	HoldLinkedID  = "linkedid"  // every recording and call record of a call
	HoldExtension = "extension" // an extension's recordings and call records over a time range
)

// HoldRequest places a hold. Exactly one target: RecordingID, LinkedID,
// or Extension with Since and Until.
type HoldRequest struct {
	RecordingID int64
	LinkedID    string
	Extension   string
	Endpoint    string // the extension's PJSIP endpoint (its number when empty)
	Since       time.Time
	Until       time.Time
	Case        string // case reference (complaint or litigation file)
	Reason      string
	Class       string // retention class from the rules: how long it keeps after release
	Actor       Actor
}

// Hold is a hold as stored, with what it covers now.
type Hold struct {
	ID            int64      `json:"id"`
	Kind          string     `json:"kind"`
	RecordingID   *int64     `json:"recording_id,omitempty"`
	Path          string     `json:"path,omitempty"`
	LinkedID      string     `json:"linkedid,omitempty"`
	Extension     string     `json:"extension,omitempty"`
	Endpoint      string     `json:"endpoint,omitempty"`
	Since         *time.Time `json:"since,omitempty"`
	Until         *time.Time `json:"until,omitempty"`
	Case          string     `json:"case"`
	Reason        string     `json:"reason"`
	Class         string     `json:"retention_class"`
	CreatedAt     time.Time  `json:"created_at"`
	CreatedBy     string     `json:"created_by"`
	ReleasedAt    *time.Time `json:"released_at,omitempty"`
	ReleasedBy    string     `json:"released_by,omitempty"`
	ReleaseReason string     `json:"release_reason,omitempty"`
	// Recordings and Calls count the rows it covers now.
	Recordings int64 `json:"recordings"`
	Calls      int64 `json:"calls"`
}

// Target describes what the hold covers, for people.
func (h Hold) Target() string {
	switch h.Kind {
	case HoldRecording:
		return fmt.Sprintf("recording %d (%s)", *h.RecordingID, h.Path)
	case HoldLinkedID:
		return "linkedid " + h.LinkedID
	default:
		return fmt.Sprintf("extension %s from %s to %s", h.Extension,
			h.Since.UTC().Format(time.RFC3339), h.Until.UTC().Format(time.RFC3339))
	}
}

func (r *HoldRequest) check(cl Classes) error {
	n := 0
	if r.RecordingID != 0 {
		n++
	}
	if r.LinkedID != "" {
		n++
	}
	if r.Extension != "" {
		n++
	}
	if n != 1 {
		return errors.New("name exactly one target: a recording, a linkedid, or an extension with a time range")
	}
	if r.Extension != "" {
		if r.Since.IsZero() || r.Until.IsZero() {
			return errors.New("an extension hold needs a time range (since and until)")
		}
		if !r.Since.Before(r.Until) {
			return errors.New("the time range is empty: since must come before until")
		}
		if r.Endpoint == "" {
			r.Endpoint = r.Extension
		}
	}
	if strings.TrimSpace(r.Case) == "" {
		return errors.New("no case reference: name the complaint or litigation file")
	}
	if strings.TrimSpace(r.Reason) == "" {
		return errors.New("no reason: say why the hold is placed")
	}
	if _, ok := cl[r.Class]; !ok {
		return fmt.Errorf("%w %q: use one of %s", ErrUnknownClass, r.Class, strings.Join(cl.Names(), ", "))
	}
	return r.Actor.check()
}

// AddHold places a hold. cl are the rules' retention classes (the hold's
// class must be one).
func (s *Store) AddHold(ctx context.Context, r HoldRequest, cl Classes) (Hold, error) {
	if err := r.check(cl); err != nil {
		return Hold{}, fmt.Errorf("add hold: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Hold{}, fmt.Errorf("add hold: begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, holdsLockKey); err != nil {
		return Hold{}, fmt.Errorf("add hold: lock: %w", err)
	}
	kind, path, linked := HoldLinkedID, "", r.LinkedID
	var recID *int64
	var since, until *time.Time
	switch {
	case r.RecordingID != 0:
		kind, recID = HoldRecording, &r.RecordingID
		err := tx.QueryRowContext(ctx, `SELECT path, linkedid FROM recordings WHERE id = $1 FOR SHARE`, r.RecordingID).Scan(&path, &linked)
		if errors.Is(err, sql.ErrNoRows) {
			return Hold{}, fmt.Errorf("add hold: recording %d: %w (recpolicy recordings list shows what is archived)", r.RecordingID, archive.ErrNotFound)
		}
		if err != nil {
			return Hold{}, fmt.Errorf("add hold: %w", err)
		}
	case r.Extension != "":
		kind = HoldExtension
		s, u := r.Since.UTC(), r.Until.UTC()
		since, until = &s, &u
	}
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO holds (kind, recording_id, path, linkedid, extension, endpoint, since, until,
  case_ref, reason, retention_class, created_by, keep_secs) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
		kind, recID, path, linked, r.Extension, r.Endpoint, since, until, r.Case, r.Reason, r.Class, r.Actor.Name, cl[r.Class].Seconds()).Scan(&id)
	if err != nil {
		return Hold{}, fmt.Errorf("add hold: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return Hold{}, fmt.Errorf("add hold: commit: %w", err)
	}
	return s.GetHold(ctx, id)
}

// ReleaseHold releases a hold: what it covers is kept for its class's
// duration from now, then follows its own retention. With dryRun it only
// returns the hold.
func (s *Store) ReleaseHold(ctx context.Context, id int64, actor Actor, reason string, dryRun bool) (Hold, error) {
	if err := actor.check(); err != nil {
		return Hold{}, fmt.Errorf("release hold %d: %w", id, err)
	}
	if strings.TrimSpace(reason) == "" {
		return Hold{}, fmt.Errorf("release hold %d: no reason: say why (--reason TEXT)", id)
	}
	h, err := s.GetHold(ctx, id)
	if err != nil {
		return Hold{}, err
	}
	if h.ReleasedAt != nil {
		return h, fmt.Errorf("release hold %d: %w on %s by %s", id, ErrAlreadyReleased, h.ReleasedAt.UTC().Format(time.RFC3339), h.ReleasedBy)
	}
	if dryRun {
		return h, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Hold{}, fmt.Errorf("release hold %d: begin: %w", id, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, holdsLockKey); err != nil {
		return Hold{}, fmt.Errorf("release hold %d: lock: %w", id, err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE holds SET released_at = now(), released_by = $2, release_reason = $3
WHERE id = $1 AND released_at IS NULL`, id, actor.Name, reason)
	if err != nil {
		return Hold{}, fmt.Errorf("release hold %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return Hold{}, fmt.Errorf("release hold %d: %w (by someone else meanwhile)", id, ErrAlreadyReleased)
	}
	if err := tx.Commit(); err != nil {
		return Hold{}, fmt.Errorf("release hold %d: commit: %w", id, err)
	}
	return s.GetHold(ctx, id)
}

var holdColumns = `h.id, h.kind, h.recording_id, h.path, h.linkedid, h.extension, h.endpoint, h.since, h.until,
  h.case_ref, h.reason, h.retention_class, h.created_at, h.created_by, h.released_at, COALESCE(h.released_by, ''),
  COALESCE(h.release_reason, ''),
  (SELECT count(*) FROM recordings r WHERE (h.kind = 'recording' AND h.recording_id = r.id)
     OR (h.kind = 'linkedid' AND h.linkedid = r.linkedid)
     OR (h.kind = 'extension' AND h.extension = r.extension AND r.start_time < h.until AND COALESCE(r.end_time, r.start_time) >= h.since)),
  (SELECT count(*) FROM calls c WHERE (h.kind IN ('recording', 'linkedid') AND h.linkedid <> '' AND h.linkedid = c.linkedid)
     OR (h.kind = 'extension' AND c.start_time < h.until AND c.end_time >= h.since
         AND ` + pg.InvolvesOneSQL("c", "h.extension", "h.endpoint") + `))`

// scanHold reads holdColumns, then the extra columns that follow them.
func scanHold(sc interface{ Scan(...any) error }, extra ...any) (Hold, error) {
	var h Hold
	dest := append([]any{&h.ID, &h.Kind, &h.RecordingID, &h.Path, &h.LinkedID, &h.Extension, &h.Endpoint, &h.Since, &h.Until,
		&h.Case, &h.Reason, &h.Class, &h.CreatedAt, &h.CreatedBy, &h.ReleasedAt, &h.ReleasedBy, &h.ReleaseReason,
		&h.Recordings, &h.Calls}, extra...)
	err := sc.Scan(dest...)
	return h, err
}

// GetHold returns one hold.
func (s *Store) GetHold(ctx context.Context, id int64) (Hold, error) {
	h, err := scanHold(s.db.QueryRowContext(ctx, `SELECT `+holdColumns+` FROM holds h WHERE h.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Hold{}, fmt.Errorf("hold %d: %w (recpolicy hold list shows the holds)", id, archive.ErrNotFound)
	}
	if err != nil {
		return Hold{}, fmt.Errorf("read hold %d: %w", id, err)
	}
	return h, nil
}

// ListHolds returns the holds, newest first: only those not released
// unless all is set.
func (s *Store) ListHolds(ctx context.Context, all bool) ([]Hold, error) {
	q := `SELECT ` + holdColumns + ` FROM holds h`
	if !all {
		q += ` WHERE h.released_at IS NULL`
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY h.id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list holds: %w", err)
	}
	defer rows.Close()
	out := []Hold{}
	for rows.Next() {
		h, err := scanHold(rows)
		if err != nil {
			return nil, fmt.Errorf("list holds: %w", err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list holds: %w", err)
	}
	return out, nil
}
