package query

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/lib/pq"
	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/archive/internal/pg"
)

// Store answers the archive's read-only questions: which calls, which
// recordings, is this one hidden from a director. It is safe for
// concurrent use.
type Store struct{ db *sql.DB }

// NewStore returns the query side of the archive's database.
func NewStore(s *archive.Store) *Store { return &Store{db: s.DB()} }

// FindRecording returns the recording a reference names: its row id
// (digits) or its filed path.
func (s *Store) FindRecording(ctx context.Context, ref string) (archive.StoredRecording, error) {
	return pg.FindRecording(ctx, s.db, ref)
}

// CallFilter selects call records; zero fields select everything.
type CallFilter struct {
	Since, Until time.Time // start time in [Since, Until)
	// Numbers and Endpoints select calls of some extensions: a call
	// matches when its calling or called number is one of Numbers, or its
	// channel or destination channel is one of Endpoints (PJSIP/<endpoint>-…).
	// With both empty, no extension filter applies; ByExtension set with
	// both empty selects nothing (a department without extensions).
	Numbers, Endpoints []string
	ByExtension        bool
	// Direction selects inbound (from a trunk), outbound (to a trunk) or
	// other calls; Trunks names the trunks' endpoints.
	Direction string
	Trunks    []string
	// Number matches the calling or called number (raw or usable form).
	Number string
	// LinkedID selects the records of one call.
	LinkedID string
	// Hidden hides the calls that involve confidential extensions.
	Hidden Confidential
	Limit  int // 0: no limit
}

// Call is one call record as the CLI shows it.
type Call struct {
	Start           time.Time  `json:"start"`
	Answer          *time.Time `json:"answer,omitempty"`
	End             time.Time  `json:"end"`
	Source          *string    `json:"source"`
	SourceFlag      string     `json:"source_flag"`
	SourceRaw       string     `json:"source_raw"`
	Destination     *string    `json:"destination"`
	DestinationFlag string     `json:"destination_flag"`
	DestinationRaw  string     `json:"destination_raw"`
	CallerID        string     `json:"callerid"`
	Channel         string     `json:"channel"`
	DestChannel     string     `json:"destination_channel"`
	Context         string     `json:"destination_context"`
	Disposition     string     `json:"disposition"`
	Duration        int64      `json:"duration"`
	BillableSeconds int64      `json:"billable_seconds"`
	UniqueID        string     `json:"uniqueid"`
	LinkedID        string     `json:"linkedid"`
	Sequence        int64      `json:"sequence"`
	Recordings      []string   `json:"recordings"`
}

// RecordingFilter selects recordings; zero fields select everything.
type RecordingFilter struct {
	Since, Until time.Time // start time in [Since, Until)
	// Extensions selects recordings of these extensions; ByExtension set
	// with Extensions empty selects nothing.
	Extensions  []string
	ByExtension bool
	Direction   string
	Number      string // a number of a call linked to the recording
	// MinDuration keeps recordings at least this many seconds long.
	MinDuration float64
	// After pages: only recordings older than this one (its start and id),
	// in the newest-first order of the list; zero for the first page.
	After Cursor
	// Hidden hides the recordings of calls that involve confidential extensions.
	Hidden Confidential
	Limit  int
}

// Cursor is a place in a newest-first list of recordings.
type Cursor struct {
	Start time.Time
	ID    int64
}

// ListCalls returns call records, newest first.
func (s *Store) ListCalls(ctx context.Context, f CallFilter) ([]Call, error) {
	var q pg.Querier
	if !f.Since.IsZero() {
		q.Add("c.start_time >= " + q.Arg(f.Since.UTC()))
	}
	if !f.Until.IsZero() {
		q.Add("c.start_time < " + q.Arg(f.Until.UTC()))
	}
	if f.LinkedID != "" {
		q.Add("c.linkedid = " + q.Arg(f.LinkedID))
	}
	if f.ByExtension || len(f.Numbers) > 0 || len(f.Endpoints) > 0 {
		nums, eps := q.Arg(pq.Array(pg.NonNil(f.Numbers))), q.Arg(pq.Array(pg.NonNil(f.Endpoints)))
		q.Add(pg.InvolvesSQL("c", nums, eps))
	}
	if f.Direction != "" {
		tr := q.Arg(pq.Array(pg.NonNil(f.Trunks)))
		in := fmt.Sprintf("%s = ANY(%s)", pg.EndpointSQL("c.channel"), tr)
		out := fmt.Sprintf("%s = ANY(%s)", pg.EndpointSQL("c.destination_channel"), tr)
		switch f.Direction {
		case archive.DirectionInbound:
			q.Add(in)
		case archive.DirectionOutbound:
			q.Add(fmt.Sprintf("NOT (%s) AND %s", in, out))
		case archive.DirectionOther:
			q.Add(fmt.Sprintf("NOT (%s) AND NOT (%s)", in, out))
		default:
			return nil, fmt.Errorf("list calls: direction %q is unknown; use inbound, outbound or other", f.Direction)
		}
	}
	if f.Number != "" {
		pg.NumberConds(&q, f.Number, "c.source", "c.destination", "c.source_raw", "c.destination_raw")
	}
	f.Hidden.hideCalls(&q)
	query := `SELECT c.start_time, c.answer_time, c.end_time, c.source, c.source_flag, c.source_raw,
  c.destination, c.destination_flag, c.destination_raw, c.callerid, c.channel, c.destination_channel,
  c.destination_context, c.disposition, c.duration, c.billable_seconds, c.uniqueid, c.linkedid, c.sequence,
  ARRAY(SELECT r.path FROM recordings r WHERE r.linkedid = c.linkedid AND c.linkedid <> '' ORDER BY r.start_time, r.id)
FROM calls c` + q.SQL() + ` ORDER BY c.start_time DESC, c.id DESC`
	if f.Limit > 0 {
		query += " LIMIT " + q.Arg(f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, query, q.Args...)
	if err != nil {
		return nil, fmt.Errorf("list calls: %w", err)
	}
	defer rows.Close()
	var out []Call
	for rows.Next() {
		var c Call
		var recs []string
		if err := rows.Scan(&c.Start, &c.Answer, &c.End, &c.Source, &c.SourceFlag, &c.SourceRaw,
			&c.Destination, &c.DestinationFlag, &c.DestinationRaw, &c.CallerID, &c.Channel, &c.DestChannel,
			&c.Context, &c.Disposition, &c.Duration, &c.BillableSeconds, &c.UniqueID, &c.LinkedID, &c.Sequence,
			pq.Array(&recs)); err != nil {
			return nil, fmt.Errorf("list calls: %w", err)
		}
		c.Recordings = pg.NonNil(recs)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list calls: %w", err)
	}
	return out, nil
}

// ListRecordings returns recordings, newest first.
func (s *Store) ListRecordings(ctx context.Context, f RecordingFilter) ([]archive.StoredRecording, error) {
	var q pg.Querier
	if !f.Since.IsZero() {
		q.Add("r.start_time >= " + q.Arg(f.Since.UTC()))
	}
	if f.MinDuration > 0 {
		q.Add("r.duration >= " + q.Arg(f.MinDuration))
	}
	if f.After.ID > 0 {
		q.Add("(r.start_time, r.id) < (" + q.Arg(f.After.Start.UTC()) + ", " + q.Arg(f.After.ID) + ")")
	}
	if !f.Until.IsZero() {
		q.Add("r.start_time < " + q.Arg(f.Until.UTC()))
	}
	if f.ByExtension || len(f.Extensions) > 0 {
		q.Add("r.extension = ANY(" + q.Arg(pq.Array(pg.NonNil(f.Extensions))) + ")")
	}
	if f.Direction != "" {
		q.Add("r.direction = " + q.Arg(f.Direction))
	}
	if f.Number != "" {
		var sub pg.Querier
		sub.Args = q.Args
		pg.NumberConds(&sub, f.Number, "c.source", "c.destination", "c.source_raw", "c.destination_raw")
		q.Args = sub.Args
		q.Add("EXISTS (SELECT 1 FROM calls c WHERE c.linkedid = r.linkedid AND r.linkedid <> '' AND " + sub.Where[0] + ")")
	}
	f.Hidden.hideRecordings(&q)
	query := `SELECT ` + pg.StoredColumns + `
FROM recordings r` + q.SQL() + ` ORDER BY r.start_time DESC, r.id DESC`
	if f.Limit > 0 {
		query += " LIMIT " + q.Arg(f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, query, q.Args...)
	if err != nil {
		return nil, fmt.Errorf("list recordings: %w", err)
	}
	defer rows.Close()
	var out []archive.StoredRecording
	for rows.Next() {
		r, err := pg.ScanStored(rows)
		if err != nil {
			return nil, fmt.Errorf("list recordings: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list recordings: %w", err)
	}
	return out, nil
}
