// Package report reads, for a window of time (a month), the facts the
// compliance report is built from: the call records, the recordings, the
// rules versions in force, holds, destructions, the register's requests
// and the access log. It only reads; it decides nothing (internal/report
// recomputes coverage from these facts with the rules).
package report

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/villedemercier/recpolicy/archive"
)

// Store reads the report's facts. It is safe for concurrent use.
type Store struct{ db *sql.DB }

// NewStore returns the report side of the archive's database.
func NewStore(s *archive.Store) *Store { return &Store{db: s.DB()} }

// Leg is one call record (a CDR).
type Leg struct {
	ID          int64
	LinkedID    string
	UniqueID    string
	Sequence    int64
	Start       time.Time
	Answer      *time.Time
	End         time.Time
	Source      string // as Asterisk sent it
	Destination string
	Channel     string
	DestChannel string
	Billable    int
	Disposition string
}

// Recording is one archived recording.
type Recording struct {
	ID        int64
	LinkedID  string
	Extension string
	Direction string
	Greeting  string
	RulesSHA  string
	Start     time.Time
	Duration  float64
	Size      int64
	Class     string // retention class
	Rule      string // the decision's rule (instruction: an exceptional instruction decided it)
}

// RulesVersion is a rules file the daemon loaded.
type RulesVersion struct {
	SHA256   string
	LoadedAt time.Time
	Trigger  string
	Source   string
	Content  string
}

// HoldEvent is a hold opened or released in the window.
type HoldEvent struct {
	ID       int64
	Kind     string
	Case     string
	Opened   time.Time
	By       string
	Released *time.Time
}

// Count is a number of rows by a few labels.
type Count struct {
	Labels []string
	N      int64
}

// Request is a written request's dates.
type Request struct {
	ID           int64
	Purpose      string
	ReceivedOn   time.Time
	RegisteredAt time.Time
	DecidedAt    *time.Time
	Status       string
	FirstSent    *time.Time
	ClosedAt     *time.Time
}

// IntegrityRun is an integrity check of the window.
type IntegrityRun struct {
	Started, Finished time.Time
	Actor             string
	Checked           int
	Problems          map[string]int
	ChainOK           *bool
	ChainRows         *int64
}

// Month is every fact of the window [From, To).
type Month struct {
	From, To      time.Time
	Legs          []Leg
	Recordings    []Recording
	RulesVersions []RulesVersion // the one in force at From, then those loaded before To
	Holds         []HoldEvent
	Destructions  []Count // kind, state, actor kind
	Requests      []Request
	Accesses      []Count // login, role, purpose, outcome
	Integrity     []IntegrityRun
}

// Month reads the facts of [from, to).
func (s *Store) Month(ctx context.Context, from, to time.Time) (*Month, error) {
	m := &Month{From: from.UTC(), To: to.UTC()}
	q := func(what, query string, scan func(*sql.Rows) error, args ...any) error {
		rows, err := s.db.QueryContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("report: %s: %w", what, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return fmt.Errorf("report: %s: %w", what, err)
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("report: %s: %w", what, err)
		}
		return nil
	}
	err := q("call records", `SELECT id, linkedid, uniqueid, sequence, start_time, answer_time, end_time, source_raw, destination_raw,
  channel, destination_channel, billable_seconds, disposition FROM calls WHERE start_time >= $1 AND start_time < $2 ORDER BY start_time, id`,
		func(r *sql.Rows) error {
			var l Leg
			err := r.Scan(&l.ID, &l.LinkedID, &l.UniqueID, &l.Sequence, &l.Start, &l.Answer, &l.End, &l.Source, &l.Destination, &l.Channel, &l.DestChannel, &l.Billable, &l.Disposition)
			m.Legs = append(m.Legs, l)
			return err
		}, m.From, m.To)
	if err != nil {
		return nil, err
	}
	// Recordings of the window's calls: a day either side catches a call
	// that began before midnight.
	err = q("recordings", `SELECT id, linkedid, extension, direction, greeting, rules_sha256, start_time, duration, size, retention_class, decision_rule
FROM recordings WHERE start_time >= $1::timestamptz - interval '1 day' AND start_time < $2::timestamptz + interval '1 day' ORDER BY start_time, id`,
		func(r *sql.Rows) error {
			var x Recording
			err := r.Scan(&x.ID, &x.LinkedID, &x.Extension, &x.Direction, &x.Greeting, &x.RulesSHA, &x.Start, &x.Duration, &x.Size, &x.Class, &x.Rule)
			m.Recordings = append(m.Recordings, x)
			return err
		}, m.From, m.To)
	if err != nil {
		return nil, err
	}
	err = q("rules versions", `SELECT sha256, loaded_at, trigger, source, content FROM rules_versions
WHERE loaded_at < $2 AND loaded_at >= COALESCE((SELECT max(loaded_at) FROM rules_versions WHERE loaded_at <= $1), '-infinity')
ORDER BY loaded_at, id`,
		func(r *sql.Rows) error {
			var v RulesVersion
			err := r.Scan(&v.SHA256, &v.LoadedAt, &v.Trigger, &v.Source, &v.Content)
			m.RulesVersions = append(m.RulesVersions, v)
			return err
		}, m.From, m.To)
	if err != nil {
		return nil, err
	}
	err = q("holds", `SELECT id, kind, case_ref, created_at, created_by, released_at FROM holds
WHERE (created_at >= $1 AND created_at < $2) OR (released_at >= $1 AND released_at < $2) ORDER BY id`,
		func(r *sql.Rows) error {
			var h HoldEvent
			err := r.Scan(&h.ID, &h.Kind, &h.Case, &h.Opened, &h.By, &h.Released)
			m.Holds = append(m.Holds, h)
			return err
		}, m.From, m.To)
	if err != nil {
		return nil, err
	}
	count := func(what, query string, dst *[]Count, labels int) error {
		return q(what, query, func(r *sql.Rows) error {
			c := Count{Labels: make([]string, labels)}
			dest := make([]any, 0, labels+1)
			for i := range c.Labels {
				dest = append(dest, &c.Labels[i])
			}
			err := r.Scan(append(dest, &c.N)...)
			*dst = append(*dst, c)
			return err
		}, m.From, m.To)
	}
	if err := count("destructions", `SELECT kind, state, actor_kind, count(*) FROM destruction_log
WHERE requested_at >= $1 AND requested_at < $2 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, &m.Destructions, 3); err != nil {
		return nil, err
	}
	if err := count("accesses", `SELECT login, role, purpose, outcome, count(*) FROM access_log
WHERE at >= $1 AND at < $2 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`, &m.Accesses, 4); err != nil {
		return nil, err
	}
	err = q("integrity runs", `SELECT started_at, finished_at, actor, checked, problems, chain_ok, chain_rows FROM integrity_runs
WHERE started_at >= $1 AND started_at < $2 ORDER BY started_at, id`,
		func(r *sql.Rows) error {
			var x IntegrityRun
			var problems []byte
			if err := r.Scan(&x.Started, &x.Finished, &x.Actor, &x.Checked, &problems, &x.ChainOK, &x.ChainRows); err != nil {
				return err
			}
			if err := json.Unmarshal(problems, &x.Problems); err != nil {
				return fmt.Errorf("integrity run of %s: problems: %w", x.Started, err)
			}
			m.Integrity = append(m.Integrity, x)
			return nil
		}, m.From, m.To)
	if err != nil {
		return nil, err
	}
	err = q("requests", `SELECT r.id, r.purpose, r.received_on, r.registered_at, r.decided_at, r.status,
  (SELECT min(t.created_at) FROM transmissions t WHERE t.request_id = r.id), r.closed_at
FROM access_requests r
WHERE (r.registered_at >= $1 AND r.registered_at < $2) OR (r.decided_at >= $1 AND r.decided_at < $2)
   OR (r.closed_at >= $1 AND r.closed_at < $2)
   OR EXISTS (SELECT 1 FROM transmissions t WHERE t.request_id = r.id AND t.created_at >= $1 AND t.created_at < $2)
ORDER BY r.id`,
		func(r *sql.Rows) error {
			var x Request
			err := r.Scan(&x.ID, &x.Purpose, &x.ReceivedOn, &x.RegisteredAt, &x.DecidedAt, &x.Status, &x.FirstSent, &x.ClosedAt)
			m.Requests = append(m.Requests, x)
			return err
		}, m.From, m.To)
	if err != nil {
		return nil, err
	}
	return m, nil
}
