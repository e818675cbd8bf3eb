package register

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"
	"github.com/villedemercier/recpolicy/archive"
)

// Transmission is one package that left the city for a request.
type Transmission struct {
	ID             int64     `json:"id"`
	RequestID      int64     `json:"request_id"`
	Recipient      string    `json:"recipient"`
	Channel        string    `json:"channel"`
	Recordings     []int64   `json:"recordings"`
	PackageSHA256  string    `json:"package_sha256"`
	PackageSize    int64     `json:"package_size"`
	ManifestSHA256 string    `json:"manifest_sha256"`
	KeySHA256      string    `json:"key_sha256"`
	DestroyBy      time.Time `json:"destroy_by"`
	CreatedBy      string    `json:"created_by"`
	CreatedAt      time.Time `json:"created_at"`
	// The holder's confirmation that the copies are destroyed; nil while
	// outstanding.
	DestroyedStatement *string    `json:"destroyed_statement,omitempty"`
	DestroyedRecorded  *time.Time `json:"destroyed_recorded_at,omitempty"`
	DestroyedBy        *string    `json:"destroyed_recorded_by,omitempty"`
}

// Outstanding tells whether the holder has not confirmed destruction yet.
func (t Transmission) Outstanding() bool { return t.DestroyedStatement == nil }

// AddTransmission records a package that left for a granted request.
func (s *Store) AddTransmission(ctx context.Context, t Transmission) (Transmission, error) {
	r, err := s.GetRequest(ctx, t.RequestID)
	if err != nil {
		return t, fmt.Errorf("record transmission: %w", err)
	}
	if r.Status != RequestGranted {
		return t, fmt.Errorf("record transmission: request %d is %s, not granted: %w", r.ID, r.Status, ErrRequestState)
	}
	err = s.db.QueryRowContext(ctx, `INSERT INTO transmissions (request_id, recipient, channel, recordings, package_sha256, package_size,
  manifest_sha256, key_sha256, destroy_by, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id, created_at`,
		t.RequestID, t.Recipient, t.Channel, pq.Array(t.Recordings), t.PackageSHA256, t.PackageSize, t.ManifestSHA256, t.KeySHA256,
		t.DestroyBy.Format(time.DateOnly), t.CreatedBy).Scan(&t.ID, &t.CreatedAt)
	if err != nil {
		return t, fmt.Errorf("record transmission: %w", err)
	}
	return t, nil
}

// ConfirmDestroyed records the holder's confirmation that the copies of
// transmission id are destroyed.
func (s *Store) ConfirmDestroyed(ctx context.Context, id int64, statement, by string) error {
	if strings.TrimSpace(statement) == "" || strings.TrimSpace(by) == "" {
		return fmt.Errorf("confirm destruction: %w: the holder's statement (--statement TEXT, e.g. \"courriel de Me X du 2026-12-20\") is required", ErrBadRequest)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO transmission_destructions (transmission_id, statement, recorded_by) VALUES ($1, $2, $3)`, id, statement, by)
	var pqErr *pq.Error
	switch {
	case errors.As(err, &pqErr) && pqErr.Code == "23503":
		return fmt.Errorf("confirm destruction: transmission %d: %w (recpolicy requests copies lists them)", id, archive.ErrNotFound)
	case errors.As(err, &pqErr) && pqErr.Code == "23505":
		return fmt.Errorf("confirm destruction: transmission %d is confirmed already: %w", id, ErrRequestState)
	case err != nil:
		return fmt.Errorf("confirm destruction: %w", err)
	}
	return nil
}

// TransmissionFilter selects transmissions; zero fields select all.
type TransmissionFilter struct {
	RequestID   int64
	Outstanding bool // only those whose destruction is not confirmed
}

// ListTransmissions returns transmissions, the earliest due first.
func (s *Store) ListTransmissions(ctx context.Context, f TransmissionFilter) ([]Transmission, error) {
	q := `SELECT t.id, t.request_id, t.recipient, t.channel, t.recordings, t.package_sha256, t.package_size, t.manifest_sha256, t.key_sha256,
  t.destroy_by, t.created_by, t.created_at, d.statement, d.recorded_at, d.recorded_by
FROM transmissions t LEFT JOIN transmission_destructions d ON d.transmission_id = t.id
WHERE ($1 = 0 OR t.request_id = $1) AND (NOT $2 OR d.transmission_id IS NULL)
ORDER BY t.destroy_by, t.id`
	rows, err := s.db.QueryContext(ctx, q, f.RequestID, f.Outstanding)
	if err != nil {
		return nil, fmt.Errorf("list transmissions: %w", err)
	}
	defer rows.Close()
	out := []Transmission{}
	for rows.Next() {
		var t Transmission
		var stmt, by sql.NullString
		var at sql.NullTime
		if err := rows.Scan(&t.ID, &t.RequestID, &t.Recipient, &t.Channel, pq.Array(&t.Recordings), &t.PackageSHA256, &t.PackageSize,
			&t.ManifestSHA256, &t.KeySHA256, &t.DestroyBy, &t.CreatedBy, &t.CreatedAt, &stmt, &at, &by); err != nil {
			return nil, fmt.Errorf("list transmissions: %w", err)
		}
		if stmt.Valid {
			t.DestroyedStatement, t.DestroyedBy, t.DestroyedRecorded = &stmt.String, &by.String, &at.Time
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
