package register

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/internal/files"
	"github.com/villedemercier/recpolicy/archive/internal/pg"
)

// Access: the policy's "Accès aux fichiers d'appels". Directors see the
// recordings and call records of their department's extensions, never the
// calls made or received by staff bound by professional confidentiality;
// requests for access to handle complaints or comments are made in
// writing, kept in a register and decided jointly with the Greffe; every
// access, and every refusal, is written to an append-only access log.

// Store is the register of written requests and the access log. It is
// safe for concurrent use.
type Store struct{ db *sql.DB }

// NewStore returns the register side of the archive's database.
func NewStore(s *archive.Store) *Store { return &Store{db: s.DB()} }

// Register errors; test with errors.Is.
var (
	// ErrRequestState: the register's request is not in a state that allows
	// the step asked (decide a decided request, use a refused one…).
	ErrRequestState = errors.New("request in the wrong state")
	// ErrBadRequest: a request for the register misses facts or has wrong ones.
	ErrBadRequest = errors.New("incomplete request")
)

// Access roles.
const (
	RoleAdministrator = "administrator"
	RoleDirector      = "director"
	RoleReviewer      = "reviewer" // the Greffe's reviewer of written requests
	RoleTrainer       = "trainer"  // prepares de-identified training copies
	RoleNone          = "none"
)

// Access outcomes.
const (
	Granted = "granted"
	Refused = "refused"
)

// AccessEntry is one line of the access log.
type AccessEntry struct {
	ID        int64          `json:"id"`
	At        time.Time      `json:"at"`
	Login     string         `json:"login"`
	Role      string         `json:"role"`
	Action    string         `json:"action"` // the command: "recordings list", "recordings get"…
	Object    string         `json:"object"` // what it was about: a recording id, a request id, filters
	RequestID *int64         `json:"request_id,omitempty"`
	Purpose   string         `json:"purpose,omitempty"`
	Outcome   string         `json:"outcome"`
	Detail    map[string]any `json:"detail,omitempty"`
}

// LogAccess appends an entry to the access log. An access the log cannot
// record must not happen: callers act only after it returns nil.
func (s *Store) LogAccess(ctx context.Context, e AccessEntry) (int64, error) {
	if strings.TrimSpace(e.Login) == "" || strings.TrimSpace(e.Action) == "" {
		return 0, errors.New("log access: login and action are required")
	}
	switch e.Role {
	case RoleAdministrator, RoleDirector, RoleReviewer, RoleTrainer, RoleNone:
	default:
		return 0, fmt.Errorf("log access: role %q is unknown", e.Role)
	}
	if e.Outcome != Granted && e.Outcome != Refused {
		return 0, fmt.Errorf("log access: outcome %q is unknown", e.Outcome)
	}
	detail := []byte("{}")
	if len(e.Detail) > 0 {
		var err error
		if detail, err = json.Marshal(e.Detail); err != nil {
			return 0, fmt.Errorf("log access: %w", err)
		}
	}
	id, err := s.appendChained(ctx, e, detail)
	if err != nil {
		return 0, fmt.Errorf("log access: %w", err)
	}
	return id, nil
}

// AccessLogFilter selects access log entries; zero fields select all.
type AccessLogFilter struct {
	Login        string
	Since, Until time.Time
	Limit        int
}

// AccessLog returns access log entries, newest first.
func (s *Store) AccessLog(ctx context.Context, f AccessLogFilter) ([]AccessEntry, error) {
	var q pg.Querier
	if f.Login != "" {
		q.Add("login = " + q.Arg(f.Login))
	}
	if !f.Since.IsZero() {
		q.Add("at >= " + q.Arg(f.Since.UTC()))
	}
	if !f.Until.IsZero() {
		q.Add("at < " + q.Arg(f.Until.UTC()))
	}
	query := `SELECT id, at, login, role, action, object, request_id, purpose, outcome, detail FROM access_log` + q.SQL() + ` ORDER BY id DESC`
	if f.Limit > 0 {
		query += " LIMIT " + q.Arg(f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, query, q.Args...)
	if err != nil {
		return nil, fmt.Errorf("read access log: %w", err)
	}
	defer rows.Close()
	var out []AccessEntry
	for rows.Next() {
		var e AccessEntry
		var detail []byte
		if err := rows.Scan(&e.ID, &e.At, &e.Login, &e.Role, &e.Action, &e.Object, &e.RequestID, &e.Purpose, &e.Outcome, &detail); err != nil {
			return nil, fmt.Errorf("read access log: %w", err)
		}
		if len(detail) > 2 {
			if err := json.Unmarshal(detail, &e.Detail); err != nil {
				return nil, fmt.Errorf("read access log entry %d: detail: %w", e.ID, err)
			}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read access log: %w", err)
	}
	return out, nil
}

// CopyOut copies a recording out of the archive (area) to dst, a new file
// made by create (the caller decides how: the CLI makes it mode 0600,
// never over a file nor through a link, given to the caller under sudo),
// after checking the archived file against its checksum; the copy
// is checked too, and removed when anything failed.
func CopyOut(area string, r archive.StoredRecording, dst string, create func(string) (*os.File, error)) error {
	if err := files.Check(area, r.Path, r.SHA256, r.Size); err != nil {
		return fmt.Errorf("copy recording %d: %w", r.ID, err)
	}
	src, err := os.Open(r.Path)
	if err != nil {
		return fmt.Errorf("copy recording %d: %w", r.ID, err)
	}
	defer src.Close()
	out, err := create(dst)
	if err != nil {
		return fmt.Errorf("copy recording %d: %w (give a new file name)", r.ID, err)
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(out, h), src)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && hex.EncodeToString(h.Sum(nil)) != r.SHA256 {
		err = fmt.Errorf("the copy does not match the archived checksum: %w", archive.ErrIntegrity)
	}
	if err != nil {
		os.Remove(dst)
		return fmt.Errorf("copy recording %d to %s: %w", r.ID, dst, err)
	}
	return nil
}
