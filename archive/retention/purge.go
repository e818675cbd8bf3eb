package retention

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
	"github.com/villedemercier/recpolicy/archive"
)

// Purge defaults.
const (
	// DefaultMaxShare: the purge refuses to run when more than this share
	// of the recordings or of the call records is due at once.
	DefaultMaxShare = 0.20
	// DefaultClockSkew: times this far in the future, or a database clock
	// this far from the local one, make the purge refuse.
	DefaultClockSkew = 10 * time.Minute
	// DefaultMaxPerRun caps the recordings and training copies one purge
	// destroys, whatever the share: the rest waits for the next run.
	DefaultMaxPerRun = 2000
	// gapMargin is added to twice the schedule's period before a gap since
	// the last purge counts as unexplained.
	gapMargin = time.Hour
)

// PurgeOptions configure Store.Purge.
type PurgeOptions struct {
	// Classes are the rules' retention classes (rules.Retention()).
	Classes Classes
	// ArchiveDir: a recording is destroyed only when its file lies under it.
	ArchiveDir string
	// TrainingDir: the area of training copies; empty skips them.
	TrainingDir string
	// MaxShare (0 < MaxShare <= 1; DefaultMaxShare when 0) and ClockSkew
	// (DefaultClockSkew when 0) are the purge's sanity limits.
	MaxShare  float64
	ClockSkew time.Duration
	// MaxPerRun caps the files destroyed by one run (DefaultMaxPerRun when
	// 0); the rest waits for the next run.
	MaxPerRun int
	// Period is the retention schedule's longest gap between runs: a purge
	// that last ran more than twice that ago (plus an hour) refuses, as the
	// clock probably jumped; 0 skips the check. AcceptGap lets a purge run
	// by hand after a known long stop.
	Period    time.Duration
	AcceptGap bool
	DryRun    bool
	Actor     Actor
	Reason    string    // "retention period over" when empty
	Now       time.Time // zero: time.Now()
	// Progress, when set, is called after each file with the files done
	// and the files due.
	Progress func(done, total int)
	// CallBatch caps the call records deleted per transaction (default 5000).
	CallBatch int
}

// PurgeReport says what a purge destroyed, or would have with DryRun.
type PurgeReport struct {
	DryRun     bool        `json:"dry_run"`
	Now        time.Time   `json:"now"`
	Recordings []Destroyed `json:"recordings"`
	Training   []Destroyed `json:"training"`
	Calls      int64       `json:"calls"`              // call records destroyed (or due, with DryRun)
	Held       int         `json:"held"`               // recordings past their retention kept by a hold
	Capped     int         `json:"capped"`             // files due but left for the next run (MaxPerRun)
	LastRun    *time.Time  `json:"last_run,omitempty"` // the previous purge (not a dry run)
	Resumed    int         `json:"resumed"`            // destructions of an earlier run completed
	Problems   []Problem   `json:"problems"`           // files not destroyed: missing, altered, outside the area, unknown class
	// Totals and dues of the sanity check.
	TotalRecordings int64 `json:"total_recordings"`
	TotalCalls      int64 `json:"total_calls"`
	DueRecordings   int64 `json:"due_recordings"`
	DueCalls        int64 `json:"due_calls"`
}

func (o *PurgeOptions) check() error {
	if err := o.Classes.check(); err != nil {
		return err
	}
	if err := o.Actor.check(); err != nil {
		return err
	}
	if o.ArchiveDir == "" {
		return errors.New("no archive directory: set archive.dir in the configuration")
	}
	if o.MaxShare == 0 {
		o.MaxShare = DefaultMaxShare
	}
	if o.MaxShare < 0 || o.MaxShare > 1 {
		return fmt.Errorf("max share %g is out of range: give a fraction in (0, 1], e.g. 0.2", o.MaxShare)
	}
	if o.ClockSkew <= 0 {
		o.ClockSkew = DefaultClockSkew
	}
	if o.Reason == "" {
		o.Reason = "retention period over"
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.CallBatch <= 0 {
		o.CallBatch = 5000
	}
	if o.MaxPerRun <= 0 {
		o.MaxPerRun = DefaultMaxPerRun
	}
	return nil
}

// Purge destroys the recordings, training copies and call records whose
// retention has run out and that no hold keeps, each leaving a row in the
// destruction log (which no purge ever deletes). It first checks the clock
// and the data, and returns a *RefusedError without destroying anything
// when times lie in the future, when the database's clock and this
// machine's disagree, or when more than MaxShare of the recordings or of
// the call records would go at once. A file that is missing, altered or
// outside its area is reported in Problems and kept, with its row.
func (s *Store) Purge(ctx context.Context, o PurgeOptions) (*PurgeReport, error) {
	if err := o.check(); err != nil {
		return nil, fmt.Errorf("purge: %w", err)
	}
	rep := &PurgeReport{DryRun: o.DryRun, Now: o.Now.UTC(), Recordings: []Destroyed{}, Training: []Destroyed{}, Problems: []Problem{}}
	if err := s.checkClock(ctx, o); err != nil {
		return rep, err
	}
	if err := s.checkLastRun(ctx, o, rep); err != nil {
		return rep, err
	}
	recs, err := s.dueFiles(ctx, KindRecording, o)
	if err != nil {
		return rep, err
	}
	var due []dueFile
	for _, r := range recs {
		if r.held {
			rep.Held++
			continue
		}
		due = append(due, r)
	}
	unknown, err := s.unknownClasses(ctx, o.Classes)
	if err != nil {
		return rep, err
	}
	rep.Problems = append(rep.Problems, unknown...)
	if err := s.checkShare(ctx, o, rep, int64(len(due))); err != nil {
		return rep, err
	}
	var training []dueFile
	if o.TrainingDir != "" {
		if _, ok := o.Classes[TrainingRetention]; ok {
			if training, err = s.dueFiles(ctx, KindTraining, o); err != nil {
				return rep, err
			}
		}
	}
	if !o.DryRun {
		areas := map[string]string{KindRecording: o.ArchiveDir, KindTraining: o.TrainingDir}
		if rep.Resumed, err = s.resumePending(ctx, areas, o.Classes, o.Now); err != nil {
			return rep, err
		}
	}
	if n := len(due) + len(training); n > o.MaxPerRun {
		rep.Capped = n - o.MaxPerRun
		if len(due) > o.MaxPerRun {
			due, training = due[:o.MaxPerRun], nil
		} else {
			training = training[:o.MaxPerRun-len(due)]
		}
	}
	total, done := len(due)+len(training), 0
	for _, list := range []struct {
		files []dueFile
		area  string
		out   *[]Destroyed
	}{{due, o.ArchiveDir, &rep.Recordings}, {training, o.TrainingDir, &rep.Training}} {
		for _, f := range list.files {
			if err := ctx.Err(); err != nil {
				return rep, fmt.Errorf("purge: stopped after %d of %d files: %w", done, total, err)
			}
			d, err := s.destroy(ctx, f.kind, f.id, list.area, o.Classes, o.Now, o.Actor, o.Reason,
				destroyMode{requireDue: true, dryRun: o.DryRun})
			done++
			if o.Progress != nil {
				o.Progress(done, total)
			}
			var ie *archive.IntegrityError
			switch {
			case err == nil:
				*list.out = append(*list.out, d)
			case errors.As(err, &ie):
				rep.Problems = append(rep.Problems, Problem{Kind: ie.Problem, Area: areaName(f.kind), ID: f.id, Path: f.path, Detail: ie.Detail})
			case errors.Is(err, archive.ErrOutsideArea):
				rep.Problems = append(rep.Problems, Problem{Kind: archive.ProblemOutside, Area: areaName(f.kind), ID: f.id, Path: f.path, Detail: err.Error()})
			case errors.Is(err, ErrHeld), errors.Is(err, ErrRetentionNotOver), errors.Is(err, archive.ErrNotFound):
				// A hold or a change since the listing: kept.
			default:
				return rep, fmt.Errorf("purge: %w", err)
			}
		}
	}
	if err := s.purgeCalls(ctx, o, rep); err != nil {
		return rep, err
	}
	if !o.DryRun {
		if _, err := s.db.ExecContext(ctx, `INSERT INTO purge_runs (ran_at, actor, dry_run, destroyed) VALUES ($1, $2, false, $3)`,
			o.Now.UTC(), o.Actor.Name, len(rep.Recordings)+len(rep.Training)); err != nil {
			return rep, fmt.Errorf("purge: note the run: %w", err)
		}
	}
	return rep, nil
}

// checkLastRun refuses when the clock moved since the last purge further
// than the schedule explains: back before it, or forward more than twice
// the schedule's period (and an hour) without AcceptGap.
func (s *Store) checkLastRun(ctx context.Context, o PurgeOptions, rep *PurgeReport) error {
	var last time.Time
	err := s.db.QueryRowContext(ctx, `SELECT ran_at FROM purge_runs WHERE NOT dry_run ORDER BY ran_at DESC, id DESC LIMIT 1`).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // the first purge
	}
	if err != nil {
		return fmt.Errorf("purge: read the last run: %w", err)
	}
	rep.LastRun = &last
	gap := o.Now.Sub(last)
	if gap < -o.ClockSkew {
		return &RefusedError{
			Reason: fmt.Sprintf("the last purge ran at %s, after now (%s): the clock moved back",
				last.UTC().Format(time.RFC3339), o.Now.UTC().Format(time.RFC3339)),
			Hint: "fix the clock (NTP), then run the purge again",
		}
	}
	if o.Period > 0 && !o.AcceptGap && gap > 2*o.Period+gapMargin {
		return &RefusedError{
			Reason: fmt.Sprintf("the last purge ran at %s, %s ago, while the schedule runs it every %s: the clock may have jumped forward",
				last.UTC().Format(time.RFC3339), gap.Round(time.Minute), o.Period),
			Hint: "check the clock (NTP); if the purge really did not run for that long (the daemon was stopped), run it by hand once with --accept-gap",
		}
	}
	return nil
}

// dueFile is a recording or training copy past its retention.
type dueFile struct {
	kind, path string
	id         int64
	held       bool
}

func (s *Store) dueFiles(ctx context.Context, kind string, o PurgeOptions) ([]dueFile, error) {
	q := `WITH ` + classesCTE + ` SELECT r.id, r.path, ` + recordingHeld + `
FROM recordings r JOIN cls rc ON rc.name = r.retention_class
WHERE ` + recordingDue + ` ORDER BY ` + recordingEnd + `, r.id`
	if kind == KindTraining {
		q = `WITH ` + classesCTE + ` SELECT t.id, t.path, false
FROM training_copies t JOIN cls rc ON rc.name = t.retention_class
WHERE t.created_at + make_interval(secs => rc.secs) <= $3 ORDER BY t.created_at, t.id`
	}
	names, secs := o.Classes.args()
	rows, err := s.db.QueryContext(ctx, q, names, secs, o.Now.UTC())
	if err != nil {
		return nil, fmt.Errorf("purge: list due %ss: %w", kind, err)
	}
	defer rows.Close()
	var out []dueFile
	for rows.Next() {
		f := dueFile{kind: kind}
		if err := rows.Scan(&f.id, &f.path, &f.held); err != nil {
			return nil, fmt.Errorf("purge: list due %ss: %w", kind, err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("purge: list due %ss: %w", kind, err)
	}
	return out, nil
}

// unknownClasses reports recordings whose class the rules do not define:
// they are never destroyed.
func (s *Store) unknownClasses(ctx context.Context, cl Classes) ([]Problem, error) {
	names, _ := cl.args()
	rows, err := s.db.QueryContext(ctx, `SELECT r.id, r.path, r.retention_class FROM recordings r
WHERE NOT r.retention_class = ANY($1::text[]) ORDER BY r.id LIMIT 1000`, names)
	if err != nil {
		return nil, fmt.Errorf("purge: list unknown classes: %w", err)
	}
	defer rows.Close()
	var out []Problem
	for rows.Next() {
		p := Problem{Kind: archive.ProblemUnknownClass, Area: "archive"}
		var class string
		if err := rows.Scan(&p.ID, &p.Path, &class); err != nil {
			return nil, fmt.Errorf("purge: list unknown classes: %w", err)
		}
		p.Detail = fmt.Sprintf("retention class %q is not in the rules file; kept", class)
		out = append(out, p)
	}
	return out, rows.Err()
}

// checkClock refuses when the data or the clocks look wrong: times in the
// future, or the database's clock far from this machine's.
func (s *Store) checkClock(ctx context.Context, o PurgeOptions) error {
	limit := o.Now.Add(o.ClockSkew).UTC()
	var futureRecs, futureCalls int64
	var latest *time.Time
	var dbNow time.Time
	err := s.db.QueryRowContext(ctx, `SELECT
  (SELECT count(*) FROM recordings WHERE start_time > $1 OR end_time > $1 OR archived_at > $1),
  (SELECT count(*) FROM calls WHERE start_time > $1 OR end_time > $1 OR archived_at > $1),
  GREATEST((SELECT max(GREATEST(start_time, end_time, archived_at)) FROM recordings),
           (SELECT max(GREATEST(start_time, end_time, archived_at)) FROM calls)),
  now()`, limit).Scan(&futureRecs, &futureCalls, &latest, &dbNow)
	if err != nil {
		return fmt.Errorf("purge: check clock: %w", err)
	}
	if diff := dbNow.Sub(o.Now).Abs(); diff > o.ClockSkew {
		return &RefusedError{
			Reason: fmt.Sprintf("the database's clock (%s) and this machine's (%s) differ by %s",
				dbNow.UTC().Format(time.RFC3339), o.Now.UTC().Format(time.RFC3339), diff.Round(time.Second)),
			Hint: "fix NTP on both hosts, then run the purge again",
		}
	}
	if futureRecs > 0 || futureCalls > 0 {
		return &RefusedError{
			Reason: fmt.Sprintf("%d recordings and %d call records are dated after now (%s); the latest at %s",
				futureRecs, futureCalls, o.Now.UTC().Format(time.RFC3339), latest.UTC().Format(time.RFC3339)),
			Hint: "this machine's clock is probably behind: check NTP and the PBX's time zone (archive.pbx_timezone) before purging",
		}
	}
	return nil
}

// checkShare refuses when too much would go at once.
func (s *Store) checkShare(ctx context.Context, o PurgeOptions, rep *PurgeReport, dueRecs int64) error {
	names, secs := o.Classes.args()
	std := o.Classes[archive.DefaultRetention].Seconds()
	err := s.db.QueryRowContext(ctx, `WITH `+classesCTE+` SELECT
  (SELECT count(*) FROM recordings),
  (SELECT count(*) FROM calls),
  (SELECT count(*) FROM calls c WHERE c.end_time + make_interval(secs => $4) <= $3 AND NOT `+callHeld+`)`,
		names, secs, o.Now.UTC(), std).Scan(&rep.TotalRecordings, &rep.TotalCalls, &rep.DueCalls)
	if err != nil {
		return fmt.Errorf("purge: count: %w", err)
	}
	rep.DueRecordings = dueRecs
	for _, c := range []struct {
		what       string
		due, total int64
	}{{"recordings", dueRecs, rep.TotalRecordings}, {"call records", rep.DueCalls, rep.TotalCalls}} {
		if c.total > 0 && float64(c.due) > o.MaxShare*float64(c.total) {
			return &RefusedError{
				Reason: fmt.Sprintf("%d of %d %s (%.0f%%) are due at once, more than the limit of %.0f%%",
					c.due, c.total, c.what, 100*float64(c.due)/float64(c.total), 100*o.MaxShare),
				Hint: "check the clock and the rules' retention classes; if this is expected (a first purge, a long stop), run it by hand with a higher --max-share",
			}
		}
	}
	return nil
}

// purgeCalls deletes the call records past the standard retention, in
// batches, each with its destruction log rows in the same transaction.
func (s *Store) purgeCalls(ctx context.Context, o PurgeOptions, rep *PurgeReport) error {
	names, secs := o.Classes.args()
	std := o.Classes[archive.DefaultRetention].Seconds()
	if o.DryRun {
		gone := make([]int64, len(rep.Recordings))
		for i, d := range rep.Recordings {
			gone[i] = d.ID
		}
		err := s.db.QueryRowContext(ctx, `WITH `+classesCTE+` SELECT count(*) FROM calls c WHERE `+callDue("$5")+` AND NOT `+callHeld,
			names, secs, o.Now.UTC(), std, pq.Array(gone)).Scan(&rep.Calls)
		if err != nil {
			return fmt.Errorf("purge: count due call records: %w", err)
		}
		return nil
	}
	q := `WITH ` + classesCTE + `,
due AS (SELECT c.id, c.uniqueid, c.sequence, c.linkedid, c.start_time, c.end_time FROM calls c
        WHERE ` + callDue("$10") + ` AND NOT ` + callHeld + ` ORDER BY c.id LIMIT $5 FOR UPDATE OF c SKIP LOCKED),
logged AS (INSERT INTO destruction_log (kind, object_id, retention_class, ended_at, detail, reason, actor, actor_kind, state, destroyed_at)
        SELECT 'call', id, $6, end_time,
          jsonb_build_object('uniqueid', uniqueid, 'sequence', sequence, 'linkedid', linkedid, 'start', start_time),
          $7, $8, $9, 'done', now() FROM due)
DELETE FROM calls WHERE id IN (SELECT id FROM due)`
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("purge: call records: %w", err)
		}
		n, err := s.purgeCallBatch(ctx, q, names, secs, o, std)
		if err != nil {
			return err
		}
		rep.Calls += n
		if n < int64(o.CallBatch) {
			return nil
		}
	}
}

func (s *Store) purgeCallBatch(ctx context.Context, q string, names, secs any, o PurgeOptions, std float64) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("purge: call records: begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, holdsLockKey); err != nil {
		return 0, fmt.Errorf("purge: call records: lock holds: %w", err)
	}
	res, err := tx.ExecContext(ctx, q, names, secs, o.Now.UTC(), std, o.CallBatch,
		archive.DefaultRetention, o.Reason, o.Actor.Name, o.Actor.kind(), pq.Array([]int64{}))
	if err != nil {
		return 0, fmt.Errorf("purge: call records: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("purge: call records: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("purge: call records: commit: %w", err)
	}
	return n, nil
}

func areaName(kind string) string {
	if kind == KindTraining {
		return "training"
	}
	return "archive"
}
