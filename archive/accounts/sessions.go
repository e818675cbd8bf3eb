package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
	"github.com/villedemercier/recpolicy/archive"
)

// Session is one console session, as the database holds it.
type Session struct {
	Login     string
	Source    string // local or ldap
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time // the absolute end
	Roles     []string  // from the directory's groups at login
}

// CreateSession stores a new session under idHash (the SHA-256, in hex, of
// the cookie's token), ending at the latest after maxAge.
func (s *Store) CreateSession(ctx context.Context, idHash, login, source, remote string, roles []string, maxAge time.Duration) error {
	if roles == nil {
		roles = []string{}
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO console_sessions (id_hash, login, source, remote, expires_at, roles)
VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5), $6)`, idHash, login, source, remote, maxAge.Seconds(), pq.Array(roles))
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// TouchSession returns the live session under idHash and records that it
// was used now. A session idle for longer than idle, or past its absolute
// end, is removed and reported as archive.ErrNotFound.
func (s *Store) TouchSession(ctx context.Context, idHash string, idle time.Duration) (Session, error) {
	var se Session
	err := s.db.QueryRowContext(ctx, `UPDATE console_sessions SET last_seen = now()
WHERE id_hash = $1 AND expires_at > now() AND last_seen + make_interval(secs => $2) > now()
RETURNING login, source, created_at, last_seen, expires_at, roles`, idHash, idle.Seconds()).
		Scan(&se.Login, &se.Source, &se.CreatedAt, &se.LastSeen, &se.ExpiresAt, pq.Array(&se.Roles))
	if errors.Is(err, sql.ErrNoRows) {
		_, _ = s.db.ExecContext(ctx, `DELETE FROM console_sessions WHERE id_hash = $1`, idHash)
		return se, fmt.Errorf("session: %w", archive.ErrNotFound)
	}
	if err != nil {
		return se, fmt.Errorf("read session: %w", err)
	}
	return se, nil
}

// EndSession removes one session (logout).
func (s *Store) EndSession(ctx context.Context, idHash string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM console_sessions WHERE id_hash = $1`, idHash); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// EndSessions removes every session of a login.
func (s *Store) EndSessions(ctx context.Context, login string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM console_sessions WHERE login = $1`, login); err != nil {
		return fmt.Errorf("end sessions of %s: %w", login, err)
	}
	return nil
}

// PruneSessions removes the sessions past their absolute end or idle for
// longer than idle; it returns how many.
func (s *Store) PruneSessions(ctx context.Context, idle time.Duration) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM console_sessions WHERE expires_at <= now() OR last_seen + make_interval(secs => $1) <= now()`, idle.Seconds())
	if err != nil {
		return 0, fmt.Errorf("prune sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
