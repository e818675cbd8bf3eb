package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/villedemercier/recpolicy/internal/report"
)

// JobReport writes the previous month's compliance report.
const JobReport = "report"

// reportOnce writes last month's report now, unless one is being written.
func (j *Jobs) reportOnce(ctx context.Context) error {
	if !j.reporting.TryLock() {
		j.log.Warn().Str("job", JobReport).Msg("report still being written; this run is skipped")
		return nil
	}
	defer j.reporting.Unlock()
	_, err := j.Report(ctx, time.Now())
	return err
}

// Report writes the compliance report of the month before now's, as HTML
// and CSV, into the reports folder (files 0640; a month already written is
// left as it is). It returns the files written.
func (j *Jobs) Report(ctx context.Context, now time.Time) ([]string, error) {
	log := j.log.With().Str("job", JobReport).Logger()
	fail := func(err error) ([]string, error) {
		j.runs.WithLabelValues(JobReport, "error").Inc()
		log.Error().Err(err).Msg("monthly report not written")
		return nil, err
	}
	if j.opts.ReportsDir == "" || j.opts.Archive == nil {
		return fail(errors.New("no reports folder or archive: set archive.reports_dir"))
	}
	r := j.rules()
	month := report.PreviousMonth(now, r.Location())
	if err := os.MkdirAll(j.opts.ReportsDir, 0o750); err != nil {
		return fail(fmt.Errorf("reports folder: %w", err))
	}
	rep, err := report.Make(ctx, j.opts.Archive, r, j.opts.RulesFile, j.opts.PBXCDRCSV, month, "", now)
	if err != nil {
		return fail(err)
	}
	var written []string
	for _, format := range []string{report.FormatHTML, report.FormatCSV} {
		p := filepath.Join(j.opts.ReportsDir, report.FileName(month, "", format))
		if _, err := os.Lstat(p); err == nil {
			continue // written before: a report, once out, is not rewritten
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fail(err)
		}
		tmp, err := os.CreateTemp(j.opts.ReportsDir, ".rapport-*")
		if err != nil {
			return fail(err)
		}
		if format == report.FormatHTML {
			err = rep.HTML(tmp, report.Page{Loc: r.Location()})
		} else {
			err = rep.CSV(tmp, r.Location())
		}
		if err == nil {
			err = tmp.Chmod(0o640)
		}
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Link(tmp.Name(), p) // never over a file
		}
		os.Remove(tmp.Name())
		if err != nil {
			return fail(fmt.Errorf("write %s: %w", p, err))
		}
		written = append(written, p)
	}
	outcome := "ok"
	if len(rep.Missing) > 0 {
		outcome = "problems"
		log.Error().Str("month", month).Int("missing", len(rep.Missing)).Msg("the monthly report lists external calls without a recording")
	}
	j.runs.WithLabelValues(JobReport, outcome).Inc()
	j.lastSuccess.WithLabelValues(JobReport).SetToCurrentTime()
	log.Info().Str("month", month).Int("external", rep.Total.External).Int("recorded", rep.Total.Recorded).
		Int("missing", len(rep.Missing)).Strs("files", written).Msg("monthly report written")
	return written, nil
}
