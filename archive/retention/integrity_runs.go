package retention

import (
	"context"
	"encoding/json"
	"fmt"
)

// IntegrityRun is one integrity check as the integrity_runs log keeps it.
type IntegrityRun struct {
	Report    *IntegrityReport
	Actor     string // the job, or the person who ran the check
	ChainOK   *bool  // the access log's chain held (nil: not walked)
	ChainRows int64
}

// LogIntegrityRun appends a finished integrity check to the integrity_runs
// log (append-only; the compliance report lists the month's).
func (s *Store) LogIntegrityRun(ctx context.Context, run IntegrityRun) error {
	if run.Report == nil || run.Actor == "" {
		return fmt.Errorf("log integrity run: no report or no actor")
	}
	counts := map[string]int{}
	for _, p := range run.Report.Problems {
		counts[p.Kind]++
	}
	b, err := json.Marshal(counts)
	if err != nil {
		return fmt.Errorf("log integrity run: %w", err)
	}
	var rows any
	if run.ChainOK != nil {
		rows = run.ChainRows
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO integrity_runs (started_at, finished_at, actor, checked, problems, chain_ok, chain_rows)
VALUES ($1, $2, $3, $4, $5, $6, $7)`, run.Report.Started.UTC(), run.Report.Finished.UTC(), run.Actor, run.Report.Checked, string(b), run.ChainOK, rows)
	if err != nil {
		return fmt.Errorf("log integrity run: %w", err)
	}
	return nil
}
