package retention

import (
	"context"
	"fmt"
	"time"
)

// DueRecording is a recording whose retention runs out by a schedule's
// horizon: the purge destroys it at its first run after DueAt, unless a
// hold keeps it.
type DueRecording struct {
	ID        int64     `json:"id"`
	Extension string    `json:"extension"`
	Start     time.Time `json:"start"`
	Class     string    `json:"retention_class"`
	DueAt     time.Time `json:"due_at"`
	Held      bool      `json:"held"`
}

// DueDay counts the recordings whose retention runs out on one day (in
// the schedule's time zone).
type DueDay struct {
	Day        string `json:"day"` // YYYY-MM-DD
	Recordings int64  `json:"recordings"`
	Held       int64  `json:"held"` // kept by a hold past that day
}

// Schedule is what retention will destroy and when, from Now to Until.
type Schedule struct {
	Now   time.Time `json:"now"`
	Until time.Time `json:"until"`
	// Overdue are recordings already past their retention and not held:
	// the next purge destroys them.
	Overdue int64 `json:"overdue"`
	// HeldPastDue are recordings past their retention that a hold keeps.
	HeldPastDue int64 `json:"held_past_due"`
	// Days are the days from Now to Until on which recordings fall due.
	Days []DueDay `json:"days"`
	// Next are the first recordings to fall due (overdue first), at most
	// the limit asked for.
	Next []DueRecording `json:"next"`
	// TrainingDue counts training copies whose retention runs out by Until.
	TrainingDue int64 `json:"training_due"`
}

// ScheduleOptions configure Store.Schedule.
type ScheduleOptions struct {
	Classes Classes
	Now     time.Time      // zero: time.Now()
	Horizon time.Duration  // how far ahead (default 90 days)
	Limit   int            // recordings listed in Next (default 100)
	Loc     *time.Location // the days' time zone (default UTC)
}

// Schedule tells what the purge will destroy from now to the horizon,
// day by day, and which recordings come first. Recordings whose class the
// rules do not define are never destroyed and are not listed.
func (s *Store) Schedule(ctx context.Context, o ScheduleOptions) (*Schedule, error) {
	if err := o.Classes.check(); err != nil {
		return nil, fmt.Errorf("retention schedule: %w", err)
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Horizon <= 0 {
		o.Horizon = 90 * 24 * time.Hour
	}
	if o.Limit <= 0 {
		o.Limit = 100
	}
	zone := "UTC"
	if o.Loc != nil && o.Loc.String() != "Local" {
		zone = o.Loc.String()
	}
	sc := &Schedule{Now: o.Now.UTC(), Until: o.Now.Add(o.Horizon).UTC(), Days: []DueDay{}, Next: []DueRecording{}}
	names, secs := o.Classes.args()
	// $4 the horizon (and, for the days, $5 their time zone).
	due := `WITH ` + classesCTE + `, due AS (
  SELECT r.id, r.extension, r.start_time, r.retention_class, ` + recordingEnd + ` + make_interval(secs => rc.secs) AS due_at,
         ` + recordingHeld + ` AS held
  FROM recordings r JOIN cls rc ON rc.name = r.retention_class
  WHERE ` + recordingEnd + ` + make_interval(secs => rc.secs) <= $4)`
	err := s.db.QueryRowContext(ctx, due+` SELECT count(*) FILTER (WHERE due_at <= $3 AND NOT held),
  count(*) FILTER (WHERE due_at <= $3 AND held) FROM due`,
		names, secs, sc.Now, sc.Until).Scan(&sc.Overdue, &sc.HeldPastDue)
	if err != nil {
		return nil, fmt.Errorf("retention schedule: count due: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, due+` SELECT to_char(due_at AT TIME ZONE $5, 'YYYY-MM-DD') AS day,
  count(*) FILTER (WHERE NOT held), count(*) FILTER (WHERE held)
FROM due WHERE due_at > $3 GROUP BY day ORDER BY day`, names, secs, sc.Now, sc.Until, zone)
	if err != nil {
		return nil, fmt.Errorf("retention schedule: days: %w", err)
	}
	for rows.Next() {
		var d DueDay
		if err := rows.Scan(&d.Day, &d.Recordings, &d.Held); err != nil {
			rows.Close()
			return nil, fmt.Errorf("retention schedule: days: %w", err)
		}
		sc.Days = append(sc.Days, d)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("retention schedule: days: %w", err)
	}
	rows, err = s.db.QueryContext(ctx, due+` SELECT id, extension, start_time, retention_class, due_at, held
FROM due ORDER BY due_at, id LIMIT $5`, names, secs, sc.Now, sc.Until, o.Limit)
	if err != nil {
		return nil, fmt.Errorf("retention schedule: next: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d DueRecording
		if err := rows.Scan(&d.ID, &d.Extension, &d.Start, &d.Class, &d.DueAt, &d.Held); err != nil {
			return nil, fmt.Errorf("retention schedule: next: %w", err)
		}
		sc.Next = append(sc.Next, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("retention schedule: next: %w", err)
	}
	err = s.db.QueryRowContext(ctx, `WITH `+classesCTE+` SELECT count(*) FROM training_copies t JOIN cls rc ON rc.name = t.retention_class
WHERE t.created_at + make_interval(secs => rc.secs) <= $3`, names, secs, sc.Until).Scan(&sc.TrainingDue)
	if err != nil {
		return nil, fmt.Errorf("retention schedule: training copies: %w", err)
	}
	return sc, nil
}

// HoldOn is a hold covering a recording, and whether it keeps it now (a
// released hold keeps what it covers for its class's duration).
type HoldOn struct {
	Hold
	InForce bool `json:"in_force"`
}

// RecordingHolds returns the holds that cover recording id (by the
// recording, its call, or its extension over its time), those in force
// first.
func (s *Store) RecordingHolds(ctx context.Context, id int64, cl Classes, now time.Time) ([]HoldOn, error) {
	names, secs := cl.args()
	rows, err := s.db.QueryContext(ctx, `WITH `+classesCTE+` SELECT `+holdColumns+`, `+holdInForce+` AS in_force
FROM holds h JOIN recordings r ON r.id = $4
WHERE (h.kind = 'recording' AND h.recording_id = r.id)
   OR (h.kind = 'linkedid' AND h.linkedid <> '' AND h.linkedid = r.linkedid)
   OR (h.kind = 'extension' AND h.extension = r.extension AND r.start_time < h.until AND COALESCE(r.end_time, r.start_time) >= h.since)
ORDER BY in_force DESC, h.id DESC`, names, secs, now.UTC(), id)
	if err != nil {
		return nil, fmt.Errorf("holds of recording %d: %w", id, err)
	}
	defer rows.Close()
	out := []HoldOn{}
	for rows.Next() {
		var h HoldOn
		var err error
		if h.Hold, err = scanHold(rows, &h.InForce); err != nil {
			return nil, fmt.Errorf("holds of recording %d: %w", id, err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("holds of recording %d: %w", id, err)
	}
	return out, nil
}
