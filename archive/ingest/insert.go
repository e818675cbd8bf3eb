package ingest

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lib/pq"
	"github.com/villedemercier/recpolicy/archive"
)

// Store writes call records, recordings' metadata and rules versions to
// the database, idempotently. It is safe for concurrent use.
type Store struct{ db *sql.DB }

// NewStore returns the ingest side of the archive's database.
func NewStore(s *archive.Store) *Store { return &Store{db: s.DB()} }

// Inserted counts the rows a batch added; rows already there are skipped.
type Inserted struct {
	Calls, Recordings int64
}

// insertCalls adds call records in one statement: the columns travel as
// arrays and unnest back into rows, so the statement has a fixed number
// of parameters whatever the batch size.
const insertCalls = `
INSERT INTO calls (uniqueid, sequence, start_time, answer_time, end_time, linkedid, account_code,
  source, source_flag, source_raw, destination, destination_flag, destination_raw,
  destination_context, callerid, channel, destination_channel, last_application, last_data,
  duration, billable_seconds, disposition, ama_flags, user_field, system_name, extra)
SELECT u.uniqueid, u.sequence, u.start_time::timestamptz, NULLIF(u.answer_time, '')::timestamptz,
  u.end_time::timestamptz, u.linkedid, u.account_code,
  NULLIF(u.source, ''), u.source_flag, u.source_raw, NULLIF(u.destination, ''), u.destination_flag, u.destination_raw,
  u.destination_context, u.callerid, u.channel, u.destination_channel, u.last_application, u.last_data,
  u.duration, u.billable_seconds, u.disposition, u.ama_flags, u.user_field, u.system_name, NULLIF(u.extra, '')::jsonb
FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
  $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
  $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[],
  $20::bigint[], $21::bigint[], $22::text[], $23::text[], $24::text[], $25::text[], $26::text[])
  AS u(uniqueid, sequence, start_time, answer_time, end_time, linkedid, account_code,
  source, source_flag, source_raw, destination, destination_flag, destination_raw,
  destination_context, callerid, channel, destination_channel, last_application, last_data,
  duration, billable_seconds, disposition, ama_flags, user_field, system_name, extra)
ON CONFLICT ON CONSTRAINT calls_key DO NOTHING`

// insertRecordings adds recordings; one whose linkedid is unknown (found
// after a crash in a spool file named before linkedids were) takes it from
// its channel's call record when that is archived already.
const insertRecordings = `
INSERT INTO recordings (path, sha256, size, duration, extension, departments, direction,
  start_time, end_time, uniqueid, linkedid, retention_class, repaired,
  decision_rule, decision_reason, parties, call_confidential, rules_sha256, greeting)
SELECT u.path, u.sha256, u.size, u.duration, u.extension,
  ARRAY(SELECT jsonb_array_elements_text(u.departments::jsonb)), u.direction,
  u.start_time::timestamptz, NULLIF(u.end_time, '')::timestamptz, u.uniqueid,
  COALESCE(NULLIF(u.linkedid, ''), (SELECT c.linkedid FROM calls c WHERE u.uniqueid <> '' AND c.uniqueid = u.uniqueid AND c.linkedid <> '' LIMIT 1), ''),
  u.retention_class, u.repaired,
  u.decision_rule, u.decision_reason, COALESCE(NULLIF(u.parties, ''), '[]')::jsonb, u.call_confidential, u.rules_sha256, u.greeting
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::float8[], $5::text[], $6::text[], $7::text[],
  $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bool[],
  $14::text[], $15::text[], $16::text[], $17::bool[], $18::text[], $19::text[])
  AS u(path, sha256, size, duration, extension, departments, direction,
  start_time, end_time, uniqueid, linkedid, retention_class, repaired,
  decision_rule, decision_reason, parties, call_confidential, rules_sha256, greeting)
ON CONFLICT ON CONSTRAINT recordings_path_key DO NOTHING`

// fillLinkedids gives recordings archived without a linkedid the one of
// their channel's call record, once that record is archived.
const fillLinkedids = `
UPDATE recordings r SET linkedid = c.linkedid
FROM calls c
WHERE r.linkedid = '' AND r.uniqueid <> '' AND c.uniqueid = r.uniqueid AND c.linkedid <> ''`

// insertRulesVersions keeps each load of the rules file.
const insertRulesVersions = `
INSERT INTO rules_versions (sha256, loaded_at, trigger, source, content)
SELECT u.sha256, u.loaded_at::timestamptz, u.trigger, u.source, u.content
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
  AS u(sha256, loaded_at, trigger, source, content)
ON CONFLICT ON CONSTRAINT rules_versions_key DO NOTHING`

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// callColumns turns CDRs into the column arrays of insertCalls.
func callColumns(cdrs []*CDR) ([]any, error) {
	n := len(cdrs)
	text := func() []string { return make([]string, 0, n) }
	uniq, start, answer, end, linked, acct := text(), text(), text(), text(), text(), text()
	src, srcFlag, srcRaw, dst, dstFlag, dstRaw := text(), text(), text(), text(), text(), text()
	dctx, clid, ch, dch, app, data := text(), text(), text(), text(), text(), text()
	disp, ama, uf, sys, extra := text(), text(), text(), text(), text()
	seq, dur, bill := make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n)
	for _, c := range cdrs {
		sn, sf := archive.ClassifyNumber(c.Source)
		dn, df := archive.ClassifyNumber(c.Destination)
		ex := ""
		if len(c.Extra) > 0 {
			b, err := json.Marshal(c.Extra)
			if err != nil {
				return nil, fmt.Errorf("encode cdr extra fields: %w", err)
			}
			ex = string(b)
		}
		uniq = append(uniq, c.UniqueID)
		seq = append(seq, c.Sequence)
		start = append(start, timeText(c.StartTime))
		answer = append(answer, timeText(c.AnswerTime))
		end = append(end, timeText(c.EndTime))
		linked = append(linked, c.LinkedID)
		acct = append(acct, c.AccountCode)
		src, srcFlag, srcRaw = append(src, sn), append(srcFlag, sf), append(srcRaw, c.Source)
		dst, dstFlag, dstRaw = append(dst, dn), append(dstFlag, df), append(dstRaw, c.Destination)
		dctx = append(dctx, c.DestinationContext)
		clid = append(clid, c.CallerID)
		ch = append(ch, c.Channel)
		dch = append(dch, c.DestinationChannel)
		app = append(app, c.LastApplication)
		data = append(data, c.LastData)
		dur = append(dur, c.Duration)
		bill = append(bill, c.BillableSeconds)
		disp = append(disp, c.Disposition)
		ama = append(ama, c.AMAFlags)
		uf = append(uf, c.UserField)
		sys = append(sys, c.SystemName)
		extra = append(extra, ex)
	}
	return []any{pq.Array(uniq), pq.Array(seq), pq.Array(start), pq.Array(answer), pq.Array(end),
		pq.Array(linked), pq.Array(acct), pq.Array(src), pq.Array(srcFlag), pq.Array(srcRaw),
		pq.Array(dst), pq.Array(dstFlag), pq.Array(dstRaw), pq.Array(dctx), pq.Array(clid),
		pq.Array(ch), pq.Array(dch), pq.Array(app), pq.Array(data), pq.Array(dur), pq.Array(bill),
		pq.Array(disp), pq.Array(ama), pq.Array(uf), pq.Array(sys), pq.Array(extra)}, nil
}

// recordingColumns turns recordings into the column arrays of
// insertRecordings.
func recordingColumns(recs []*archive.Recording) ([]any, error) {
	n := len(recs)
	text := func() []string { return make([]string, 0, n) }
	path, sum, ext, depts, dir, start, end, uniq, linked, ret := text(), text(), text(), text(), text(), text(), text(), text(), text(), text()
	size, dur, rep := make([]int64, 0, n), make([]float64, 0, n), make([]bool, 0, n)
	rule, reason, parties, sums, greet, conf := text(), text(), text(), text(), text(), make([]bool, 0, n)
	for _, r := range recs {
		rule, reason, parties = append(rule, r.DecisionRule), append(reason, r.DecisionReason), append(parties, string(r.Parties))
		sums, greet, conf = append(sums, r.RulesSHA256), append(greet, r.Greeting), append(conf, r.CallConfidential)
		d := r.Departments
		if d == nil {
			d = []string{}
		}
		b, err := json.Marshal(d)
		if err != nil {
			return nil, fmt.Errorf("encode recording departments: %w", err)
		}
		class := r.RetentionClass
		if class == "" {
			class = archive.DefaultRetention
		}
		path, sum, ext = append(path, r.Path), append(sum, r.SHA256), append(ext, r.Extension)
		depts, dir = append(depts, string(b)), append(dir, r.Direction)
		start, end = append(start, timeText(r.Start)), append(end, timeText(r.End))
		uniq, linked, ret = append(uniq, r.UniqueID), append(linked, r.LinkedID), append(ret, class)
		size, dur, rep = append(size, r.Size), append(dur, r.Duration), append(rep, r.Repaired)
	}
	return []any{pq.Array(path), pq.Array(sum), pq.Array(size), pq.Array(dur), pq.Array(ext),
		pq.Array(depts), pq.Array(dir), pq.Array(start), pq.Array(end), pq.Array(uniq),
		pq.Array(linked), pq.Array(ret), pq.Array(rep), pq.Array(rule), pq.Array(reason), pq.Array(parties),
		pq.Array(conf), pq.Array(sums), pq.Array(greet)}, nil
}

// rulesColumns turns rules versions into the column arrays of
// insertRulesVersions.
func rulesColumns(vs []*archive.RulesVersion) []any {
	var sum, at, trig, src, text []string
	for _, v := range vs {
		sum, at, trig = append(sum, v.SHA256), append(at, timeText(v.LoadedAt)), append(trig, v.Trigger)
		src, text = append(src, v.Source), append(text, v.Content)
	}
	return []any{pq.Array(sum), pq.Array(at), pq.Array(trig), pq.Array(src), pq.Array(text)}
}

// InsertBatch writes CDRs, recordings and rules versions in one
// transaction; rows already archived are skipped, so a batch may be
// written any number of times.
func (s *Store) InsertBatch(ctx context.Context, cdrs []*CDR, recs []*archive.Recording, versions ...*archive.RulesVersion) (Inserted, error) {
	var ins Inserted
	var callArgs, recArgs []any
	var err error
	if len(cdrs) > 0 {
		if callArgs, err = callColumns(cdrs); err != nil {
			return ins, err
		}
	}
	if len(recs) > 0 {
		if recArgs, err = recordingColumns(recs); err != nil {
			return ins, err
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return ins, fmt.Errorf("insert batch: begin: %w", err)
	}
	defer tx.Rollback()
	exec := func(q string, args []any) (int64, error) {
		if args == nil {
			return 0, nil
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	if ins.Calls, err = exec(insertCalls, callArgs); err != nil {
		return Inserted{}, fmt.Errorf("insert calls: %w", err)
	}
	if ins.Recordings, err = exec(insertRecordings, recArgs); err != nil {
		return Inserted{}, fmt.Errorf("insert recordings: %w", err)
	}
	if callArgs != nil {
		if _, err := tx.ExecContext(ctx, fillLinkedids); err != nil {
			return Inserted{}, fmt.Errorf("fill recordings' linkedids: %w", err)
		}
	}
	if len(versions) > 0 {
		if _, err = exec(insertRulesVersions, rulesColumns(versions)); err != nil {
			return Inserted{}, fmt.Errorf("insert rules versions: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return Inserted{}, fmt.Errorf("insert batch: commit: %w", err)
	}
	return ins, nil
}
