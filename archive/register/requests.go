package register

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lib/pq"
	"github.com/villedemercier/recpolicy/archive"
)

// Register of requests: channels, purposes and states.
var (
	// RequestChannels: how a written request reaches the IT department.
	RequestChannels = []string{"courriel", "guichet"}
	// RequestPurposes: what a request is for.
	RequestPurposes = []string{"plainte", "commentaire", "litige"}
)

// Request states.
const (
	RequestReceived = "received"
	RequestGranted  = "granted"
	RequestRefused  = "refused"
	RequestClosed   = "closed"
)

// AccessRequest is one written request of the register.
type AccessRequest struct {
	ID           int64     `json:"id"`
	ReceivedOn   time.Time `json:"received_on"` // the date the written request arrived
	Channel      string    `json:"channel"`
	Requester    string    `json:"requester"`
	Purpose      string    `json:"purpose"`
	Subject      string    `json:"subject"`
	Recordings   []int64   `json:"recordings"`
	RegisteredBy string    `json:"registered_by"`
	RegisteredAt time.Time `json:"registered_at"`
	Status       string    `json:"status"`

	DecidedBy      string     `json:"decided_by,omitempty"`
	GreffeReviewer string     `json:"greffe_reviewer,omitempty"`
	DecisionNote   string     `json:"decision_note,omitempty"`
	DecidedAt      *time.Time `json:"decided_at,omitempty"`
	ClosedBy       string     `json:"closed_by,omitempty"`
	CloseNote      string     `json:"close_note,omitempty"`
	ClosedAt       *time.Time `json:"closed_at,omitempty"`
}

func (r *AccessRequest) check() error {
	var p []string
	if r.ReceivedOn.IsZero() {
		p = append(p, "the date the written request was received is required (--received 2026-11-20)")
	} else if r.ReceivedOn.After(time.Now().Add(24 * time.Hour)) {
		p = append(p, fmt.Sprintf("received %s is in the future", r.ReceivedOn.Format(time.DateOnly)))
	}
	if !slices.Contains(RequestChannels, r.Channel) {
		p = append(p, fmt.Sprintf("channel %q is unknown: use %s", r.Channel, strings.Join(RequestChannels, " or ")))
	}
	if !slices.Contains(RequestPurposes, r.Purpose) {
		p = append(p, fmt.Sprintf("purpose %q is unknown: use %s", r.Purpose, strings.Join(RequestPurposes, ", ")))
	}
	for _, f := range []struct{ name, v string }{{"requester", r.Requester}, {"subject", r.Subject}, {"registered by", r.RegisteredBy}} {
		if strings.TrimSpace(f.v) == "" {
			p = append(p, f.name+" is required")
		}
	}
	if len(r.Recordings) == 0 {
		p = append(p, "name the recordings the request is about (--recording ID, repeatable)")
	}
	if len(p) > 0 {
		return fmt.Errorf("%w: %s", ErrBadRequest, strings.Join(p, "; "))
	}
	return nil
}

// AddRequest registers a written request and the recordings it is about
// (they must exist).
func (s *Store) AddRequest(ctx context.Context, r AccessRequest) (AccessRequest, error) {
	if err := r.check(); err != nil {
		return r, fmt.Errorf("register request: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return r, fmt.Errorf("register request: %w", err)
	}
	defer tx.Rollback()
	var missing []int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(array_agg(x), '{}') FROM unnest($1::bigint[]) x WHERE NOT EXISTS (SELECT 1 FROM recordings WHERE id = x)`,
		pq.Array(r.Recordings)).Scan(pq.Array(&missing)); err != nil {
		return r, fmt.Errorf("register request: %w", err)
	}
	if len(missing) > 0 {
		return r, fmt.Errorf("register request: recordings %v: %w (recpolicy recordings list shows their ids)", missing, archive.ErrNotFound)
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO access_requests (received_on, channel, requester, purpose, subject, registered_by)
VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, registered_at, status`,
		r.ReceivedOn.Format(time.DateOnly), r.Channel, r.Requester, r.Purpose, r.Subject, r.RegisteredBy).Scan(&r.ID, &r.RegisteredAt, &r.Status)
	if err != nil {
		return r, fmt.Errorf("register request: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO access_request_recordings (request_id, recording_id)
SELECT $1, x FROM unnest($2::bigint[]) x ON CONFLICT DO NOTHING`, r.ID, pq.Array(r.Recordings)); err != nil {
		return r, fmt.Errorf("register request: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return r, fmt.Errorf("register request: %w", err)
	}
	return s.GetRequest(ctx, r.ID)
}

const requestColumns = `q.id, q.received_on, q.channel, q.requester, q.purpose, q.subject, q.registered_by, q.registered_at, q.status,
  coalesce(q.decided_by, ''), coalesce(q.greffe_reviewer, ''), coalesce(q.decision_note, ''), q.decided_at,
  coalesce(q.closed_by, ''), coalesce(q.close_note, ''), q.closed_at,
  ARRAY(SELECT recording_id FROM access_request_recordings WHERE request_id = q.id ORDER BY recording_id)`

func scanRequest(sc interface{ Scan(...any) error }) (AccessRequest, error) {
	var r AccessRequest
	err := sc.Scan(&r.ID, &r.ReceivedOn, &r.Channel, &r.Requester, &r.Purpose, &r.Subject, &r.RegisteredBy, &r.RegisteredAt, &r.Status,
		&r.DecidedBy, &r.GreffeReviewer, &r.DecisionNote, &r.DecidedAt, &r.ClosedBy, &r.CloseNote, &r.ClosedAt, pq.Array(&r.Recordings))
	return r, err
}

// GetRequest returns one request of the register.
func (s *Store) GetRequest(ctx context.Context, id int64) (AccessRequest, error) {
	r, err := scanRequest(s.db.QueryRowContext(ctx, `SELECT `+requestColumns+` FROM access_requests q WHERE q.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("request %d: %w (recpolicy requests list shows the register)", id, archive.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("request %d: %w", id, err)
	}
	return r, nil
}

// ListRequests returns the register, newest first; open limits it to the
// requests not closed.
func (s *Store) ListRequests(ctx context.Context, open bool) ([]AccessRequest, error) {
	where := ""
	if open {
		where = " WHERE q.status <> 'closed'"
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+requestColumns+` FROM access_requests q`+where+` ORDER BY q.id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	defer rows.Close()
	var out []AccessRequest
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			return nil, fmt.Errorf("list requests: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	return out, nil
}

// CloseRequest closes a decided request, once the requester's copies are
// no longer needed (the policy: every holder destroys them then).
func (s *Store) CloseRequest(ctx context.Context, id int64, by, note string) (AccessRequest, error) {
	if strings.TrimSpace(by) == "" || strings.TrimSpace(note) == "" {
		return AccessRequest{}, fmt.Errorf("close request %d: %w: who closes it and a note (--note TEXT, e.g. \"copies destroyed by the requester on 2026-12-01\") are required", id, ErrBadRequest)
	}
	// Closed only once every copy that left is confirmed destroyed.
	out, err := s.ListTransmissions(ctx, TransmissionFilter{RequestID: id, Outstanding: true})
	if err != nil {
		return AccessRequest{}, fmt.Errorf("close request %d: %w", id, err)
	}
	if len(out) > 0 {
		ids := make([]string, len(out))
		for i, t := range out {
			ids[i] = fmt.Sprint(t.ID)
		}
		return AccessRequest{}, fmt.Errorf("close request %d: %w: the holders of transmissions %s have not confirmed the copies destroyed (recpolicy requests confirm-destruction %d --transmission T --statement TEXT)",
			id, ErrRequestState, strings.Join(ids, ", "), id)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE access_requests SET status = 'closed', closed_by = $2, close_note = $3, closed_at = now()
WHERE id = $1 AND status IN ('granted', 'refused')`, id, by, note)
	if err != nil {
		return AccessRequest{}, fmt.Errorf("close request %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		cur, err := s.GetRequest(ctx, id)
		if err != nil {
			return cur, fmt.Errorf("close request: %w", err)
		}
		return cur, fmt.Errorf("close request %d: it is %s (only a granted or refused request closes): %w", id, cur.Status, ErrRequestState)
	}
	return s.GetRequest(ctx, id)
}

// RequestCovers tells whether request id is granted and names recording.
// The error wraps ErrNotFound or ErrRequestState with the reason.
func (s *Store) RequestCovers(ctx context.Context, id, recording int64) error {
	r, err := s.GetRequest(ctx, id)
	if err != nil {
		return err
	}
	if r.Status != RequestGranted {
		return fmt.Errorf("request %d is %s, not granted: %w", id, r.Status, ErrRequestState)
	}
	if !slices.Contains(r.Recordings, recording) {
		return fmt.Errorf("request %d does not name recording %d (it names %v): %w", id, recording, r.Recordings, ErrRequestState)
	}
	return nil
}
