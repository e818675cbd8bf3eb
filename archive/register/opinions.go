package register

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The two sides that decide a written request together.
const (
	SideIT     = "it"     // the IT department (the administrators)
	SideGreffe = "greffe" // the Greffe's reviewers
)

// ErrSamePerson: one person gave both sides' opinions.
var ErrSamePerson = errors.New("a request is decided by two distinct people")

// Opinion is one side's opinion on a request.
type Opinion struct {
	Side    string    `json:"side"`
	Login   string    `json:"login"`
	Grant   bool      `json:"grant"`
	Note    string    `json:"note"`
	GivenAt time.Time `json:"given_at"`
}

// Opinions returns a request's opinions, oldest first.
func (s *Store) Opinions(ctx context.Context, id int64) ([]Opinion, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT side, login, grant_access, note, given_at FROM request_opinions WHERE request_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("read opinions of request %d: %w", id, err)
	}
	defer rows.Close()
	out := []Opinion{}
	for rows.Next() {
		var o Opinion
		if err := rows.Scan(&o.Side, &o.Login, &o.Grant, &o.Note, &o.GivenAt); err != nil {
			return nil, fmt.Errorf("read opinions of request %d: %w", id, err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// GiveOpinion records side's opinion on a received request, by login. When
// the latest opinions of both sides then agree, and two distinct people
// gave them, the request is decided: granted or refused, decided_by the IT
// side's person, greffe_reviewer the Greffe's, with both grounds. It
// returns the request as it now stands.
func (s *Store) GiveOpinion(ctx context.Context, id int64, side, login string, grant bool, note string) (AccessRequest, error) {
	if side != SideIT && side != SideGreffe {
		return AccessRequest{}, fmt.Errorf("give opinion on request %d: side %q is not it or greffe", id, side)
	}
	if strings.TrimSpace(login) == "" || strings.TrimSpace(note) == "" {
		return AccessRequest{}, fmt.Errorf("give opinion on request %d: %w: who gives it and its grounds (--note TEXT) are required", id, ErrBadRequest)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return AccessRequest{}, fmt.Errorf("give opinion on request %d: %w", id, err)
	}
	defer tx.Rollback()
	var status string
	if err := tx.QueryRowContext(ctx, `SELECT status FROM access_requests WHERE id = $1 FOR UPDATE`, id).Scan(&status); err != nil {
		if _, gerr := s.GetRequest(ctx, id); gerr != nil {
			return AccessRequest{}, fmt.Errorf("give opinion: %w", gerr)
		}
		return AccessRequest{}, fmt.Errorf("give opinion on request %d: %w", id, err)
	}
	if status != RequestReceived {
		return AccessRequest{}, fmt.Errorf("give opinion on request %d: it is %s already: %w", id, status, ErrRequestState)
	}
	other := SideGreffe
	if side == SideGreffe {
		other = SideIT
	}
	var otherLogin, otherNote string
	var otherGrant bool
	err = tx.QueryRowContext(ctx, `SELECT login, grant_access, note FROM request_opinions WHERE request_id = $1 AND side = $2 ORDER BY id DESC LIMIT 1`,
		id, other).Scan(&otherLogin, &otherGrant, &otherNote)
	hasOther := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return AccessRequest{}, fmt.Errorf("give opinion on request %d: %w", id, err)
	}
	if hasOther && otherLogin == login {
		return AccessRequest{}, fmt.Errorf("give opinion on request %d: %s gave the %s side's opinion already: %w", id, login, other, ErrSamePerson)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO request_opinions (request_id, side, login, grant_access, note) VALUES ($1, $2, $3, $4, $5)`,
		id, side, login, grant, note); err != nil {
		return AccessRequest{}, fmt.Errorf("give opinion on request %d: %w", id, err)
	}
	if hasOther && otherGrant == grant {
		it, greffe, itNote, greffeNote := login, otherLogin, note, otherNote
		if side == SideGreffe {
			it, greffe, itNote, greffeNote = otherLogin, login, otherNote, note
		}
		status := RequestRefused
		if grant {
			status = RequestGranted
		}
		if _, err := tx.ExecContext(ctx, `UPDATE access_requests SET status = $2, decided_by = $3, greffe_reviewer = $4, decision_note = $5, decided_at = now()
WHERE id = $1 AND status = 'received'`, id, status, it, greffe, itNote+" — Greffe : "+greffeNote); err != nil {
			return AccessRequest{}, fmt.Errorf("decide request %d: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return AccessRequest{}, fmt.Errorf("give opinion on request %d: %w", id, err)
	}
	return s.GetRequest(ctx, id)
}
