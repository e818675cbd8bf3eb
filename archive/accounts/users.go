package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/lib/pq"
	"github.com/villedemercier/recpolicy/archive"
)

// Errors; test with errors.Is.
var (
	// ErrExists: a local account with this login exists already.
	ErrExists = errors.New("account exists")
	// ErrBadLogin: a login the accounts table cannot take.
	ErrBadLogin = errors.New("login not valid")
)

// LoginPattern is what a local account's login may be: lowercase letters,
// digits, ".", "_" and "-", starting with a letter or digit, at most 64.
var LoginPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// Store keeps the console's accounts and sessions. It is safe for
// concurrent use.
type Store struct{ db *sql.DB }

// NewStore returns the accounts side of the archive's database.
func NewStore(s *archive.Store) *Store { return &Store{db: s.DB()} }

// User is one local account.
type User struct {
	Login        string     `json:"login"`
	DisplayName  string     `json:"display_name"`
	PasswordHash string     `json:"-"`
	Disabled     bool       `json:"disabled"`
	FailedLogins int        `json:"failed_logins"`
	LockedUntil  *time.Time `json:"locked_until,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	ChangedAt    time.Time  `json:"password_changed_at"`
}

func checkLogin(login string) error {
	if !LoginPattern.MatchString(login) {
		return fmt.Errorf("%w: %q: use lowercase letters, digits, '.', '_' or '-' (at most 64), e.g. the directory's login", ErrBadLogin, login)
	}
	return nil
}

// AddUser creates a local account with a password hash (internal/auth).
func (s *Store) AddUser(ctx context.Context, login, displayName, hash string) error {
	if err := checkLogin(login); err != nil {
		return fmt.Errorf("add account: %w", err)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO console_users (login, display_name, password_hash) VALUES ($1, $2, $3)`, login, displayName, hash)
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "23505" {
		return fmt.Errorf("add account %s: %w (recpolicy users passwd changes its password)", login, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("add account %s: %w", login, err)
	}
	return nil
}

// GetUser returns one local account; the error wraps archive.ErrNotFound
// when there is none.
func (s *Store) GetUser(ctx context.Context, login string) (User, error) {
	var u User
	err := s.db.QueryRowContext(ctx, `SELECT login, display_name, password_hash, disabled, failed_logins, locked_until, created_at, password_changed_at
FROM console_users WHERE login = $1`, login).Scan(&u.Login, &u.DisplayName, &u.PasswordHash, &u.Disabled, &u.FailedLogins, &u.LockedUntil, &u.CreatedAt, &u.ChangedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("account %s: %w", login, archive.ErrNotFound)
	}
	if err != nil {
		return u, fmt.Errorf("read account %s: %w", login, err)
	}
	return u, nil
}

// ListUsers returns the local accounts, by login.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT login, display_name, password_hash, disabled, failed_logins, locked_until, created_at, password_changed_at
FROM console_users ORDER BY login`)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	out := []User{}
	for rows.Next() {
		var u User
		if err := rows.Scan(&u.Login, &u.DisplayName, &u.PasswordHash, &u.Disabled, &u.FailedLogins, &u.LockedUntil, &u.CreatedAt, &u.ChangedAt); err != nil {
			return nil, fmt.Errorf("list accounts: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// update runs one UPDATE of an account; none found wraps archive.ErrNotFound.
func (s *Store) update(ctx context.Context, what, login, q string, args ...any) error {
	res, err := s.db.ExecContext(ctx, q, append([]any{login}, args...)...)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, login, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s %s: %w (recpolicy users list shows the accounts)", what, login, archive.ErrNotFound)
	}
	return nil
}

// SetPassword replaces an account's password hash, unlocks it and ends
// its sessions.
func (s *Store) SetPassword(ctx context.Context, login, hash string) error {
	if err := s.update(ctx, "set password of", login, `UPDATE console_users SET password_hash = $2, password_changed_at = now(),
  failed_logins = 0, locked_until = NULL WHERE login = $1`, hash); err != nil {
		return err
	}
	return s.EndSessions(ctx, login)
}

// SetDisabled disables (and ends the sessions of) or enables an account.
func (s *Store) SetDisabled(ctx context.Context, login string, disabled bool) error {
	if err := s.update(ctx, "disable", login, `UPDATE console_users SET disabled = $2 WHERE login = $1`, disabled); err != nil {
		return err
	}
	if disabled {
		return s.EndSessions(ctx, login)
	}
	return nil
}

// LoginFailed counts a failed login of an existing account and locks it
// for lockFor once it reaches lockAfter failures in a row; it returns the
// lock's end (nil when not locked).
func (s *Store) LoginFailed(ctx context.Context, login string, lockAfter int, lockFor time.Duration) (*time.Time, error) {
	var until *time.Time
	err := s.db.QueryRowContext(ctx, `UPDATE console_users SET failed_logins = failed_logins + 1,
  locked_until = CASE WHEN failed_logins + 1 >= $2 THEN now() + make_interval(secs => $3) ELSE locked_until END
WHERE login = $1 RETURNING locked_until`, login, lockAfter, lockFor.Seconds()).Scan(&until)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("count failed login of %s: %w", login, err)
	}
	return until, nil
}

// LoginSucceeded resets an account's failed logins.
func (s *Store) LoginSucceeded(ctx context.Context, login string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE console_users SET failed_logins = 0, locked_until = NULL WHERE login = $1`, login)
	if err != nil {
		return fmt.Errorf("reset failed logins of %s: %w", login, err)
	}
	return nil
}
