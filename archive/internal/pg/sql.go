// Package pg holds the SQL pieces the archive's packages share: a WHERE
// builder with numbered parameters, "does this call involve extension X",
// the columns and scan of a stored recording, and which database errors
// are worth retrying.
package pg

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"
	"github.com/villedemercier/recpolicy/archive"
)

// Querier builds a WHERE clause with numbered parameters.
type Querier struct {
	Where []string
	Args  []any
}

// Arg adds a parameter and returns its placeholder ($1, $2…).
func (q *Querier) Arg(v any) string {
	q.Args = append(q.Args, v)
	return "$" + strconv.Itoa(len(q.Args))
}

// Add adds a condition, joined to the others with AND.
func (q *Querier) Add(cond string) { q.Where = append(q.Where, cond) }

// SQL returns the WHERE clause, or "" when there is no condition.
func (q *Querier) SQL() string {
	if len(q.Where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(q.Where, " AND ")
}

// EndpointSQL extracts the endpoint of a channel name column.
func EndpointSQL(col string) string {
	return `regexp_replace(` + col + `, '^(PJSIP|SIP|IAX2)/(.+)-[^-]+$', '\2')`
}

// NumberConds adds the condition "the call's calling or called number is
// number" (as dialled, or in its usable form) on the given columns.
func NumberConds(q *Querier, number, srcCol, dstCol, srcRaw, dstRaw string) {
	n, _ := archive.ClassifyNumber(number)
	p1, p2 := q.Arg(number), q.Arg(n)
	q.Add(fmt.Sprintf("(%s = %s OR %s = %s OR %s = %s OR %s = %s)", srcRaw, p1, dstRaw, p1, srcCol, p2, dstCol, p2))
}

// InvolvesSQL is a condition on a calls row aliased a: it involves one of
// the numbers nums or endpoints eps (array parameters or expressions).
// This, with InvolvesOneSQL, is the one place that says what "this call
// involves extension X" means: X's number calls or is called, or X's
// endpoint is one of the call's two channels.
func InvolvesSQL(a, nums, eps string) string {
	return involves(a, "= ANY("+nums+")", "= ANY("+eps+")")
}

// InvolvesOneSQL is InvolvesSQL for one number and one endpoint (scalar
// parameters or expressions, e.g. a hold's h.extension and h.endpoint).
func InvolvesOneSQL(a, num, ep string) string {
	return involves(a, "= "+num, "= "+ep)
}

func involves(a, numCmp, epCmp string) string {
	return fmt.Sprintf("(%[1]s.source %[2]s OR %[1]s.destination %[2]s OR %[3]s %[5]s OR %[4]s %[5]s)",
		a, numCmp, EndpointSQL(a+".channel"), EndpointSQL(a+".destination_channel"), epCmp)
}

// StoredColumns are the columns ScanStored reads, of recordings aliased r.
const StoredColumns = `r.id, r.path, r.sha256, r.size, r.duration, r.extension, r.departments, r.direction,
  r.start_time, r.end_time, r.uniqueid, r.linkedid, r.retention_class, r.repaired,
  r.decision_rule, r.decision_reason, r.parties, r.call_confidential, r.rules_sha256, r.greeting`

// ScanStored reads a row of StoredColumns.
func ScanStored(row interface{ Scan(...any) error }) (archive.StoredRecording, error) {
	var r archive.StoredRecording
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
	r.Departments = NonNil(r.Departments)
	return r, nil
}

func NonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// FindRecording returns the recording a reference names: its row id
// (digits) or its filed path.
func FindRecording(ctx context.Context, db *sql.DB, ref string) (archive.StoredRecording, error) {
	ref = strings.TrimSpace(ref)
	var where string
	var arg any
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil && id > 0 {
		where, arg = "r.id = $1", id
	} else if filepath.IsAbs(ref) {
		where, arg = "r.path = $1", filepath.Clean(ref)
	} else {
		return archive.StoredRecording{}, fmt.Errorf("find recording %q: give its id (digits) or its absolute path", ref)
	}
	r, err := ScanStored(db.QueryRowContext(ctx, `SELECT `+StoredColumns+` FROM recordings r WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("find recording %q: %w (recpolicy recordings list shows what is archived)", ref, archive.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("find recording %q: %w", ref, err)
	}
	return r, nil
}
