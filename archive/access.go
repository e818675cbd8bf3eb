package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/lib/pq"
)

// Access: the policy's "Accès aux fichiers d'appels". Directors see the
// recordings and call records of their department's extensions, never the
// calls made or received by staff bound by professional confidentiality;
// requests for access to handle complaints or comments are made in
// writing, kept in a register and decided jointly with the Greffe; every
// access, and every refusal, is written to an append-only access log.

// Access errors; test with errors.Is.
var (
	// ErrAccessDenied: the person may not see what was asked (see *DeniedError).
	ErrAccessDenied = errors.New("access denied")
	// ErrRequestState: the register's request is not in a state that allows
	// the step asked (decide a decided request, use a refused one…).
	ErrRequestState = errors.New("request in the wrong state")
	// ErrBadRequest: a request for the register misses facts or has wrong ones.
	ErrBadRequest = errors.New("incomplete request")
)

// DeniedError says why an access is refused and what to do about it.
type DeniedError struct {
	Login  string
	Reason string
	Hint   string
}

func (e *DeniedError) Error() string {
	s := fmt.Sprintf("access denied to %s: %s", e.Login, e.Reason)
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Unwrap makes errors.Is(err, ErrAccessDenied) true.
func (e *DeniedError) Unwrap() error { return ErrAccessDenied }

// Confidential is the directors' filter. It hides a recording or call
// record when any call record or recording of its call (linkedid) involves
// one of Numbers or Endpoints (the confidential extensions of the rules in
// force). With Directors set, it also fails closed on what the archive
// cannot vouch for: a recording the daemon flagged as part of a call in
// which a confidential extension took part (whatever the rules say today),
// and one that cannot be tied to its call yet (no linkedid, or none of its
// call's records archived: still in the daemon's spool, or quarantined) —
// hidden until it can.
type Confidential struct {
	Numbers, Endpoints []string
	Directors          bool
}

func (c Confidential) empty() bool {
	return len(c.Numbers) == 0 && len(c.Endpoints) == 0 && !c.Directors
}

// involvesSQL is a condition on a calls row aliased a: it involves one of
// the numbers nums or endpoints eps (parameters).
func involvesSQL(a, nums, eps string) string {
	return fmt.Sprintf("(%s.source = ANY(%s) OR %s.destination = ANY(%s) OR %s = ANY(%s) OR %s = ANY(%s))",
		a, nums, a, nums, endpointSQL(a+".channel"), eps, endpointSQL(a+".destination_channel"), eps)
}

// hideRecordings adds the conditions that hide recordings of calls that
// involve a confidential extension, or cannot be shown not to.
func (c Confidential) hideRecordings(q *querier) {
	if c.empty() {
		return
	}
	nums, eps := q.arg(pq.Array(nonNil(c.Numbers))), q.arg(pq.Array(nonNil(c.Endpoints)))
	q.add(fmt.Sprintf(`NOT (r.extension = ANY(%[1]s))
  AND NOT EXISTS (SELECT 1 FROM recordings r2 WHERE r.linkedid <> '' AND r2.linkedid = r.linkedid AND (r2.extension = ANY(%[1]s) OR r2.call_confidential))
  AND NOT EXISTS (SELECT 1 FROM calls c2 WHERE r.linkedid <> '' AND c2.linkedid = r.linkedid AND %[2]s)`,
		nums, involvesSQL("c2", nums, eps)))
	if c.Directors {
		q.add(`NOT r.call_confidential AND r.linkedid <> ''
  AND EXISTS (SELECT 1 FROM calls c3 WHERE c3.linkedid = r.linkedid)`)
	}
}

// hideCalls adds the conditions that hide call records of calls that
// involve a confidential extension, or cannot be shown not to.
func (c Confidential) hideCalls(q *querier) {
	if c.empty() {
		return
	}
	nums, eps := q.arg(pq.Array(nonNil(c.Numbers))), q.arg(pq.Array(nonNil(c.Endpoints)))
	q.add(fmt.Sprintf(`NOT %[1]s
  AND NOT EXISTS (SELECT 1 FROM calls c2 WHERE c.linkedid <> '' AND c2.linkedid = c.linkedid AND %[2]s)
  AND NOT EXISTS (SELECT 1 FROM recordings r2 WHERE c.linkedid <> '' AND r2.linkedid = c.linkedid AND (r2.extension = ANY(%[3]s) OR r2.call_confidential))`,
		involvesSQL("c", nums, eps), involvesSQL("c2", nums, eps), nums))
	if c.Directors {
		q.add(`c.linkedid <> ''`)
	}
}

// RecordingHidden tells whether the recording with row id is of a call that
// involves a confidential extension.
func (s *Store) RecordingHidden(ctx context.Context, id int64, c Confidential) (bool, error) {
	if c.empty() {
		return false, nil
	}
	q := querier{}
	q.add("r.id = " + q.arg(id))
	c.hideRecordings(&q)
	var visible bool
	if err := s.db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM recordings r"+q.sql()+")", q.args...).Scan(&visible); err != nil {
		return false, fmt.Errorf("check recording %d: %w", id, err)
	}
	return !visible, nil
}

// Access roles.
const (
	RoleAdministrator = "administrator"
	RoleDirector      = "director"
	RoleReviewer      = "reviewer" // the Greffe's reviewer of written requests
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
	case RoleAdministrator, RoleDirector, RoleReviewer, RoleNone:
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
	var id int64
	err := s.db.QueryRowContext(ctx, `INSERT INTO access_log (login, role, action, object, request_id, purpose, outcome, detail)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		e.Login, e.Role, e.Action, e.Object, e.RequestID, e.Purpose, e.Outcome, string(detail)).Scan(&id)
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
	var q querier
	if f.Login != "" {
		q.add("login = " + q.arg(f.Login))
	}
	if !f.Since.IsZero() {
		q.add("at >= " + q.arg(f.Since.UTC()))
	}
	if !f.Until.IsZero() {
		q.add("at < " + q.arg(f.Until.UTC()))
	}
	query := `SELECT id, at, login, role, action, object, request_id, purpose, outcome, detail FROM access_log` + q.sql() + ` ORDER BY id DESC`
	if f.Limit > 0 {
		query += " LIMIT " + q.arg(f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, query, q.args...)
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
// (never overwritten, mode 0600), after checking the archived file against
// its checksum; the copy is checked too.
func CopyOut(area string, r StoredRecording, dst string) error {
	if err := checkFile(area, r.Path, r.SHA256, r.Size); err != nil {
		return fmt.Errorf("copy recording %d: %w", r.ID, err)
	}
	src, err := os.Open(r.Path)
	if err != nil {
		return fmt.Errorf("copy recording %d: %w", r.ID, err)
	}
	defer src.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
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
		err = fmt.Errorf("the copy does not match the archived checksum: %w", ErrIntegrity)
	}
	if err != nil {
		os.Remove(dst)
		return fmt.Errorf("copy recording %d to %s: %w", r.ID, dst, err)
	}
	return nil
}
