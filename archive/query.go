package archive

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"
)

// Directions of a call or a recording.
const (
	DirectionInbound  = "inbound"
	DirectionOutbound = "outbound"
	DirectionOther    = "other"
)

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
	// Hidden hides the recordings of calls that involve confidential extensions.
	Hidden Confidential
	Limit  int
}

// querier builds a WHERE clause with numbered parameters.
type querier struct {
	where []string
	args  []any
}

func (q *querier) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

func (q *querier) add(cond string) { q.where = append(q.where, cond) }

func (q *querier) sql() string {
	if len(q.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(q.where, " AND ")
}

// endpointSQL extracts the endpoint of a channel name column.
func endpointSQL(col string) string {
	return `regexp_replace(` + col + `, '^(PJSIP|SIP|IAX2)/(.+)-[^-]+$', '\2')`
}

func numberConds(q *querier, number, srcCol, dstCol, srcRaw, dstRaw string) {
	n, _ := ClassifyNumber(number)
	p1, p2 := q.arg(number), q.arg(n)
	q.add(fmt.Sprintf("(%s = %s OR %s = %s OR %s = %s OR %s = %s)", srcRaw, p1, dstRaw, p1, srcCol, p2, dstCol, p2))
}

// ListCalls returns call records, newest first.
func (s *Store) ListCalls(ctx context.Context, f CallFilter) ([]Call, error) {
	var q querier
	if !f.Since.IsZero() {
		q.add("c.start_time >= " + q.arg(f.Since.UTC()))
	}
	if !f.Until.IsZero() {
		q.add("c.start_time < " + q.arg(f.Until.UTC()))
	}
	if f.ByExtension || len(f.Numbers) > 0 || len(f.Endpoints) > 0 {
		nums, eps := q.arg(pq.Array(nonNil(f.Numbers))), q.arg(pq.Array(nonNil(f.Endpoints)))
		q.add(involvesSQL("c", nums, eps))
	}
	if f.Direction != "" {
		tr := q.arg(pq.Array(nonNil(f.Trunks)))
		in := fmt.Sprintf("%s = ANY(%s)", endpointSQL("c.channel"), tr)
		out := fmt.Sprintf("%s = ANY(%s)", endpointSQL("c.destination_channel"), tr)
		switch f.Direction {
		case DirectionInbound:
			q.add(in)
		case DirectionOutbound:
			q.add(fmt.Sprintf("NOT (%s) AND %s", in, out))
		case DirectionOther:
			q.add(fmt.Sprintf("NOT (%s) AND NOT (%s)", in, out))
		default:
			return nil, fmt.Errorf("list calls: direction %q is unknown; use inbound, outbound or other", f.Direction)
		}
	}
	if f.Number != "" {
		numberConds(&q, f.Number, "c.source", "c.destination", "c.source_raw", "c.destination_raw")
	}
	f.Hidden.hideCalls(&q)
	query := `SELECT c.start_time, c.answer_time, c.end_time, c.source, c.source_flag, c.source_raw,
  c.destination, c.destination_flag, c.destination_raw, c.callerid, c.channel, c.destination_channel,
  c.destination_context, c.disposition, c.duration, c.billable_seconds, c.uniqueid, c.linkedid, c.sequence,
  ARRAY(SELECT r.path FROM recordings r WHERE r.linkedid = c.linkedid AND c.linkedid <> '' ORDER BY r.start_time, r.id)
FROM calls c` + q.sql() + ` ORDER BY c.start_time DESC, c.id DESC`
	if f.Limit > 0 {
		query += " LIMIT " + q.arg(f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, query, q.args...)
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
		c.Recordings = nonNil(recs)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list calls: %w", err)
	}
	return out, nil
}

// ListRecordings returns recordings, newest first.
func (s *Store) ListRecordings(ctx context.Context, f RecordingFilter) ([]StoredRecording, error) {
	var q querier
	if !f.Since.IsZero() {
		q.add("r.start_time >= " + q.arg(f.Since.UTC()))
	}
	if !f.Until.IsZero() {
		q.add("r.start_time < " + q.arg(f.Until.UTC()))
	}
	if f.ByExtension || len(f.Extensions) > 0 {
		q.add("r.extension = ANY(" + q.arg(pq.Array(nonNil(f.Extensions))) + ")")
	}
	if f.Direction != "" {
		q.add("r.direction = " + q.arg(f.Direction))
	}
	if f.Number != "" {
		var sub querier
		sub.args = q.args
		numberConds(&sub, f.Number, "c.source", "c.destination", "c.source_raw", "c.destination_raw")
		q.args = sub.args
		q.add("EXISTS (SELECT 1 FROM calls c WHERE c.linkedid = r.linkedid AND r.linkedid <> '' AND " + sub.where[0] + ")")
	}
	f.Hidden.hideRecordings(&q)
	query := `SELECT ` + storedColumns + `
FROM recordings r` + q.sql() + ` ORDER BY r.start_time DESC, r.id DESC`
	if f.Limit > 0 {
		query += " LIMIT " + q.arg(f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, query, q.args...)
	if err != nil {
		return nil, fmt.Errorf("list recordings: %w", err)
	}
	defer rows.Close()
	var out []StoredRecording
	for rows.Next() {
		r, err := scanStored(rows)
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

// storedColumns are the columns scanStored reads, of recordings aliased r.
const storedColumns = `r.id, r.path, r.sha256, r.size, r.duration, r.extension, r.departments, r.direction,
  r.start_time, r.end_time, r.uniqueid, r.linkedid, r.retention_class, r.repaired,
  r.decision_rule, r.decision_reason, r.parties, r.call_confidential, r.rules_sha256, r.greeting`

// scanStored reads a row of storedColumns.
func scanStored(row interface{ Scan(...any) error }) (StoredRecording, error) {
	var r StoredRecording
	var end *time.Time
	var parties []byte
	if err := row.Scan(&r.ID, &r.Path, &r.SHA256, &r.Size, &r.Duration, &r.Extension, pq.Array(&r.Departments),
		&r.Direction, &r.Start, &end, &r.UniqueID, &r.LinkedID, &r.RetentionClass, &r.Repaired,
		&r.DecisionRule, &r.DecisionReason, &parties, &r.CallConfidential, &r.RulesSHA256, &r.Greeting); err != nil {
		return r, err
	}
	if end != nil {
		r.End = *end
	}
	if len(parties) > 0 && string(parties) != "[]" {
		r.Parties = parties
	}
	r.Departments = nonNil(r.Departments)
	return r, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
